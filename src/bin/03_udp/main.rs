//! # Lesson 03 — UDP: datagrams, echo and ping
//!
//! TCP (lessons 01 and 02) is a phone call: dial, talk over a reliable stream, hang up. UDP is a
//! stack of postcards: each datagram is a separate message with its destination written on it,
//! delivered whole or not at all, perhaps never, and nobody tells the sender which. This lesson
//! makes that visible:
//!
//! - `server` sends every datagram back to whoever sent it. There is no listen() and no accept():
//!   one socket receives from everybody. `--drop RATE` throws a fraction of the datagrams away
//!   on purpose, so that loss can be seen on loopback, where nothing is ever really lost.
//! - `client` sends one datagram per message and waits for its echo; when none comes in time it
//!   sends again, because with UDP, retrying is the sender's job.
//! - `ping` sends numbered probes and reports each round-trip time, and the loss.
//!
//! As in lesson 01, each call is made on its own with `socket2` (`std::net::UdpSocket::bind`
//! folds socket() and bind() into one), then the socket is handed to `std::net::UdpSocket`,
//! whose `recv_from`/`send_to` are the same system calls with a friendlier signature.
//!
//! Run it:
//!
//! ```text
//! cargo run --bin 03_udp                                   # demo: server, client, lossy ping
//! cargo run --bin 03_udp -- server                         # terminal 1
//! cargo run --bin 03_udp -- client "Hello, UDP"            # terminal 2 (or: nc -u -q 1 127.0.0.1 7003)
//! cargo run --bin 03_udp -- server --drop 0.3 --seed 1     # terminal 1: lose 30% on purpose
//! cargo run --bin 03_udp -- ping --count 20                # terminal 2: watch the loss
//! ```
//!
//! The page: `lessons/03_udp.md`. This file is the lesson: the server's calls, then the client's.
//! Beside it: `ping.rs` (ping), `dropper.rs` (`--drop`), `client.rs` (the client's stdin, limits
//! and errors), `cli.rs` (the command line) and `demo.rs`.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use socket2::{Domain, Protocol, Socket, Type};
use workbook::kit::cli::unspecified_warning;
use workbook::kit::narrate::{Narrator, show_bytes};

use dropper::Dropper;

const LESSON: &str = "03_udp";

/// recvfrom() must be given room for the whole datagram: whatever does not fit is cut off and
/// thrown away — UDP does not keep the rest for the next call, as TCP would. A UDP datagram's
/// length is a 16-bit field, so 65 536 bytes always suffice.
const BUFFER: usize = 65_536;

// ANCHOR: bind
/// socket → bind: everything a UDP server needs before it can receive.
fn bind(addr: SocketAddr, say: &Narrator) -> Result<UdpSocket> {
    // 1. socket(): SOCK_DGRAM + UDP asks for datagrams — separate messages, each delivered whole
    //    or not at all — instead of TCP's SOCK_STREAM byte stream.
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .context("socket() failed")?;
    say.call(
        format!("socket({}, SOCK_DGRAM, IPPROTO_UDP)", family(addr)),
        format!("fd {}", socket.as_raw_fd()),
    );
    // No setsockopt(SO_REUSEADDR) as in lesson 01: UDP has no TIME_WAIT to wait out, and on
    // Linux the option would let a second server bind the same port and steal datagrams.

    // 2. bind(): claim the address and port; datagrams sent there now queue up for us. Port 0
    //    lets the kernel choose, so we ask it afterwards which port we got (getsockname).
    socket
        .bind(&addr.into())
        .with_context(|| format!("failed to bind {addr}"))?;
    let socket = UdpSocket::from(socket);
    let bound = socket.local_addr().context("getsockname() failed")?;
    say.call(format!("bind({addr})"), format!("bound to {bound}"));
    if let Some(warning) = unspecified_warning(bound) {
        say.warn(warning);
    }

    // And that is all. No listen(): there are no connections to queue. No accept(): there is no
    // per-client socket. Every datagram, from anyone, arrives on this one socket, labelled with
    // its sender's address, and the reply is addressed by hand.
    say.note("no listen(), no accept(): UDP has no connections, only datagrams with a sender");
    Ok(socket)
}
// ANCHOR_END: bind

// ANCHOR: serve
/// recvfrom → sendto, for ever: one datagram in, the same datagram back to whoever sent it.
fn serve(
    socket: &UdpSocket,
    dropper: &mut Dropper,
    exit_after: Option<u64>,
    say: &Narrator,
) -> Result<()> {
    // Room for the largest datagram: a smaller buffer (the course's 1024) silently truncates.
    let mut buf = vec![0u8; BUFFER];
    let mut received = 0u64;
    while exit_after.is_none_or(|limit| received < limit) {
        if received == 0 {
            say.note("waiting in recvfrom() for a datagram, from anyone…");
        }
        // 3. recvfrom(): blocks until a datagram arrives, then returns exactly one — however many
        //    were sent back to back — and the address of its sender. 0 bytes is an empty
        //    datagram, not the end of a stream: UDP has no stream to end.
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // Some systems report an ICMP error for an earlier sendto() here; it concerns that
            // earlier peer, not the server, so it must not stop the server.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
                ) =>
            {
                say.call(
                    "recvfrom()",
                    format!("error for an earlier datagram, ignored: {e}"),
                );
                continue;
            }
            Err(e) => return Err(e).context("recvfrom() failed"),
        };
        received += 1;
        let data = &buf[..n];
        say.call(
            format!("recvfrom({BUFFER})"),
            format!("{n} bytes from {peer}: {}", show_bytes(data, 32)),
        );

        if dropper.drops() {
            say.note(format!(
                "✗ dropped on purpose (--drop {}): no reply; to {peer} this looks exactly like a \
                 datagram lost on the way",
                dropper.rate
            ));
            continue;
        }

        // 4. sendto(): the reply goes to the address recvfrom() gave us. A UDP socket has no
        //    "other end", so every datagram it sends names its destination.
        let sent = socket.send_to(data, peer);
        match sent {
            Ok(sent) => say.call(
                format!("sendto({peer}, {n} bytes)"),
                format!("{sent} bytes"),
            ),
            // One unreachable peer must not stop the server for everybody else.
            Err(e) => say.call(format!("sendto({peer}, {n} bytes)"), format!("failed: {e}")),
        }
    }
    say.note(format!("received {received} datagram(s); exiting"));
    Ok(())
}
// ANCHOR_END: serve

// ANCHOR: client
/// socket(), and nothing else: a UDP client needs neither bind() nor connect().
fn open(server: SocketAddr, say: &Narrator) -> Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(server),
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .context("socket() failed")?;
    say.call(
        format!("socket({}, SOCK_DGRAM, IPPROTO_UDP)", family(server)),
        format!("fd {}", socket.as_raw_fd()),
    );
    // The first sendto() binds the socket to a free port by itself (an implicit bind), and
    // every sendto() names its destination, so there is nothing to connect.
    say.note("no bind(), no connect(): the first sendto() picks our port, each names its target");
    Ok(socket.into())
}

/// How long to wait for an echo, and how many times to send again when none comes.
#[derive(Clone, Copy)]
struct Patience {
    timeout: Duration,
    retries: u32,
}

/// sendto → recvfrom (with a timeout), again and again until the echo comes back.
fn exchange(
    socket: &UdpSocket,
    server: SocketAddr,
    message: &[u8],
    patience: Patience,
    say: &Narrator,
) -> Result<Vec<u8>> {
    client::check_size(message, server)?;
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
            say.note(
                "no echo in time: the datagram or its echo is lost, or nobody is there; resending",
            );
        }
    }
    Err(client::no_reply(server, tries))
}

/// sendto(), narrated. On a socket's first sendto() the kernel binds it to a free port (an
/// implicit bind), which the narration points out.
fn send(
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
    say.call(
        format!("sendto({server}, {})", show_bytes(data, 32)),
        format!("{sent} bytes ({which}){bound}"),
    );
    Ok(())
}

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

/// What a waiting client makes of one datagram, with the words its recvfrom() is narrated with.
enum Heard<T> {
    /// The reply it is waiting for.
    Reply(T, String),
    /// Anything else — a stranger, a late reply — which it ignores, and waits on.
    Ignored(String),
}

/// recvfrom() until `judge` takes a datagram as the reply, or `deadline` passes (`None`, after
/// narrating `timed_out`). The client waiting for an echo and ping waiting for a probe both wait
/// this way; only what counts as the reply differs.
fn recv_until<T>(
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
                say.call(format!("recvfrom({BUFFER})"), timed_out);
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
                say.call(format!("recvfrom({BUFFER})"), format!("error: {e}"));
                continue;
            }
            Err(e) => return Err(e).context("recvfrom() failed"),
        };
        match judge(&buf[..n], from) {
            Heard::Reply(reply, said) => {
                say.call(format!("recvfrom({BUFFER})"), said);
                return Ok(Some(reply));
            }
            Heard::Ignored(said) => say.call(format!("recvfrom({BUFFER})"), said),
        }
    }
}
// ANCHOR_END: client

/// The same IP address and port (ignoring IPv6 flow labels and scope ids).
fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    a.ip() == b.ip() && a.port() == b.port()
}

fn family(addr: SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    }
}

// Everything that is not the lesson's socket calls, beside this file.
mod cli;
mod client;
mod demo;
mod dropper;
mod ping;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    workbook::kit::errors::main(LESSON, || cli::run(cli.mode.unwrap_or(cli::Mode::Demo)))
}
