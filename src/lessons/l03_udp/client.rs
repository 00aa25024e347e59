//! Lesson 03's client: socket() and nothing else ([`open`]), then sendto → recvfrom with a timeout,
//! again until the echo comes back ([`exchange`]); the `client` mode around it ([`run`]): where
//! the messages come from, where the echoes go, and the two errors a UDP client must explain.

use std::ffi::OsString;
use std::io::{BufRead, ErrorKind, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};

use super::NAME;
use super::server::{BUFFER, family};
use crate::kit::net::socket_number;
use crate::kit::errors::Advice;
use crate::kit::narrate::{Narrator, narrate, show_bytes};

// ANCHOR: client
/// socket(), and nothing else: a UDP client needs neither bind() nor connect().
pub fn open(server: SocketAddr, say: &Narrator) -> Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(server),
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .context("socket() failed")?;
    narrate!(
        say,
        call(
            format!("socket({}, SOCK_DGRAM, IPPROTO_UDP)", family(server)),
            format!("fd {}", socket_number(&socket)),
        )
    );
    // The first sendto() binds the socket to a free port by itself (an implicit bind), and
    // every sendto() names its destination, so there is nothing to connect.
    narrate!(
        say,
        note("no bind(), no connect(): the first sendto() picks our port, each names its target")
    );
    Ok(socket.into())
}

/// How long to wait for an echo, and how many times to send again when none comes.
#[derive(Clone, Copy)]
pub struct Patience {
    pub timeout: Duration,
    pub retries: u32,
}

/// sendto → recvfrom (with a timeout), again and again until the echo comes back.
pub fn exchange(
    socket: &UdpSocket,
    server: SocketAddr,
    message: &[u8],
    patience: Patience,
    say: &Narrator,
) -> Result<Vec<u8>> {
    check_size(message, server)?;
    let tries = u64::from(patience.retries) + 1;
    for attempt in 1..=tries {
        // sendto(): succeeds as soon as the datagram is handed to the kernel. It says nothing
        // about whether anybody received it: UDP never sends an acknowledgement.
        send(
            socket,
            server,
            message,
            &format!("try {attempt} of {tries}"),
            say,
        )?;
        if let Some(reply) = wait_for_echo(socket, server, message, patience.timeout, say)? {
            return Ok(reply);
        }
        if attempt < tries {
            narrate!(
                say,
                note(
                    "no echo in time: the datagram or its echo is lost, or nobody is there; resending",
                )
            );
        }
    }
    Err(no_reply(server, tries))
}
// ANCHOR_END: client

// ANCHOR: send
/// sendto(), narrated. On a socket's first sendto() the kernel binds it to a free port (an
/// implicit bind), which the narration points out.
pub(crate) fn send(
    socket: &UdpSocket,
    server: SocketAddr,
    data: &[u8],
    which: &str,
    say: &Narrator,
) -> Result<()> {
    let unbound = socket.local_addr().map_or(true, |a| a.port() == 0);
    let sent = socket
        .send_to(data, server)
        .with_context(|| format!("failed to send to {server}"))?;
    let port = socket.local_addr().context("getsockname() failed")?.port();
    let bound = if unbound {
        format!("; the kernel bound us to port {port} on the way")
    } else {
        String::new()
    };
    narrate!(
        say,
        call(
            format!("sendto({server}, {})", show_bytes(data, 32)),
            format!("{sent} bytes ({which}){bound}"),
        )
    );
    Ok(())
}
// ANCHOR_END: send

// ANCHOR: wait_for_echo
/// recvfrom() until the echo of `message` arrives from `server`, or `timeout` has passed.
fn wait_for_echo(
    socket: &UdpSocket,
    server: SocketAddr,
    message: &[u8],
    timeout: Duration,
    say: &Narrator,
) -> Result<Option<Vec<u8>>> {
    let deadline = Instant::now() + timeout;
    let timed_out = format!("timed out after {} ms", timeout.as_millis());
    recv_until(socket, deadline, &timed_out, say, |data, from| {
        let n = data.len();
        // Anyone can send to our port: only the server's address counts.
        if !same_endpoint(from, server) {
            return Heard::Ignored(format!(
                "{n} bytes from {from}, not from the server: ignored"
            ));
        }
        // A late echo of an earlier message (its first try was slow, not lost) must not be
        // taken for this message's echo.
        if data != message {
            return Heard::Ignored(format!(
                "{n} bytes {}: not the echo of this message (a stale reply?): ignored",
                show_bytes(data, 32)
            ));
        }
        Heard::Reply(
            data.to_vec(),
            format!("{n} bytes from {from}: {}", show_bytes(data, 32)),
        )
    })
}
// ANCHOR_END: wait_for_echo

// ANCHOR: recv_until
/// What a waiting client makes of one datagram, with the words its recvfrom() is narrated with.
pub(crate) enum Heard<T> {
    /// The reply it is waiting for.
    Reply(T, String),
    /// Anything else — a stranger, a late reply — which it ignores, and waits on.
    Ignored(String),
}

/// recvfrom() until `judge` takes a datagram as the reply, or `deadline` passes (`None`, after
/// narrating `timed_out`). The client waiting for an echo and ping waiting for a probe both wait
/// this way; only what counts as the reply differs.
pub(crate) fn recv_until<T>(
    socket: &UdpSocket,
    deadline: Instant,
    timed_out: &str,
    say: &Narrator,
    mut judge: impl FnMut(&[u8], SocketAddr) -> Heard<T>,
) -> Result<Option<T>> {
    let mut buf = vec![0u8; BUFFER];
    loop {
        // settimeout() for what is left of our patience: recvfrom() alone would wait forever
        // for a datagram that was lost.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                narrate!(say, call(format!("recvfrom({BUFFER})"), timed_out));
                return Ok(None);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // Linux reports ICMP "port unreachable" only on a *connected* UDP socket; other
            // systems may report it here. Either way it is one more reason to wait and retry.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
                ) =>
            {
                narrate!(
                    say,
                    call(format!("recvfrom({BUFFER})"), format!("error: {e}"))
                );
                continue;
            }
            Err(e) => return Err(e).context("recvfrom() failed"),
        };
        match judge(&buf[..n], from) {
            Heard::Reply(reply, said) => {
                narrate!(say, call(format!("recvfrom({BUFFER})"), said));
                return Ok(Some(reply));
            }
            Heard::Ignored(said) => narrate!(say, call(format!("recvfrom({BUFFER})"), said)),
        }
    }
}
// ANCHOR_END: recv_until

/// Echo each message (each line of stdin when there are none), print each echo, then close.
pub fn run(
    socket: UdpSocket,
    server: SocketAddr,
    timeout: Duration,
    retries: u32,
    messages: &[OsString],
    say: &Narrator,
) -> Result<()> {
    let patience = Patience { timeout, retries };
    let mut stdout = std::io::stdout().lock();
    let mut echo = |message: &[u8]| -> Result<()> {
        let reply = exchange(&socket, server, message, patience, say)?;
        stdout.write_all(&reply)?;
        stdout.write_all(b"\n")?;
        stdout.flush().context("failed to write to stdout")
    };
    if messages.is_empty() {
        // Interactive (or piped): each line of stdin is one datagram, sent as it is read.
        let mut stdin = std::io::stdin().lock();
        while let Some(line) = read_line(&mut stdin)? {
            echo(&line)?;
        }
    } else {
        for message in messages {
            // A message is sent as the bytes it was given. Unix passes arguments as bytes; Windows
            // passes UTF-16, which becomes bytes through its encoding (WTF-8, for UTF-8 text).
            echo(message.as_encoded_bytes())?;
        }
    }
    drop(socket);
    narrate!(say, call("close()", "ok"));
    Ok(())
}

/// The most one datagram can carry over IPv4: 65 535 bytes (the IP packet's 16-bit length)
/// minus the 20-byte IPv4 header and the 8-byte UDP header.
const MAX_PAYLOAD_V4: usize = 65_507;

/// The most one datagram can carry over IPv6: IPv6's length field does not count its own
/// 40-byte header, so only the 8-byte UDP header comes off 65 535.
const MAX_PAYLOAD_V6: usize = 65_527;

/// A message that cannot fit in one datagram is an error before anything is sent: UDP does not
/// split a message for you, and the kernel would refuse it (EMSGSIZE, "message too long").
pub fn check_size(message: &[u8], server: SocketAddr) -> Result<()> {
    let (max, ip) = if server.is_ipv4() {
        (MAX_PAYLOAD_V4, "IPv4")
    } else {
        (MAX_PAYLOAD_V6, "IPv6")
    };
    if message.len() <= max {
        return Ok(());
    }
    Err(Advice {
        error: format!(
            "a message of {} bytes does not fit in one UDP datagram: over {ip} the most is {max} bytes",
            message.len()
        ),
        hint: "a datagram is one message, delivered whole or not at all, and UDP will not split \
               it for you: send smaller messages (real protocols stay near 1400 bytes, below a \
               network's MTU), or use TCP (lesson 02), a byte stream with no such limit"
            .to_string(),
    }
    .into())
}

/// The client's error when every try went unanswered.
pub fn no_reply(server: SocketAddr, tries: u64) -> anyhow::Error {
    Advice {
        error: format!("no reply from {server} after {tries} tries"),
        hint: format!(
            "UDP promises nothing: a datagram or its echo can be lost, and when nothing listens \
             on that port the sender is not told (the ICMP \"port unreachable\" is not reported \
             on an unconnected socket). Is the server running (cargo run --bin {NAME} -- \
             server) with the same --host and --port? On a slow or lossy network, raise \
             --timeout-ms or --retries."
        ),
    }
    .into()
}

/// One line of stdin without its line ending, `None` at end of input. An empty line is a
/// message too: UDP can carry an empty datagram.
fn read_line(input: &mut impl BufRead) -> Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    // Read at most a little more than any datagram can hold: a longer line is refused by
    // check_size anyway, and every buffer needs a limit.
    let n = input
        .take(BUFFER as u64 + 2)
        .read_until(b'\n', &mut line)
        .context("failed to read stdin")?;
    if n == 0 {
        return Ok(None);
    }
    if line.ends_with(b"\n") {
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
    }
    Ok(Some(line))
}

/// The same IP address and port (ignoring IPv6 flow labels and scope ids).
pub(crate) fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    a.ip() == b.ip() && a.port() == b.port()
}
