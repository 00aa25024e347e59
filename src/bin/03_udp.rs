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
//! cargo run --bin 03_udp -- client "Hello, UDP"            # terminal 2 (or: nc -u 127.0.0.1 7003)
//! cargo run --bin 03_udp -- server --drop 0.3 --seed 1     # terminal 1: lose 30% on purpose
//! cargo run --bin 03_udp -- ping --count 20                # terminal 2: watch the loss
//! ```
//!
//! The page: `lessons/03_udp.md`.

use std::ffi::OsString;
use std::io::{BufRead, ErrorKind, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use socket2::{Domain, Protocol, Socket, Type};
use workbook::kit::cli::{Endpoint, ports, resolve_one, unspecified_warning};
use workbook::kit::errors::Advice;
use workbook::kit::narrate::{Narrator, show_bytes, try_next};

const LESSON: &str = "03_udp";

/// recvfrom() must be given room for the whole datagram: whatever does not fit is cut off and
/// thrown away — UDP does not keep the rest for the next call, as TCP would. A UDP datagram's
/// length is a 16-bit field, so 65 536 bytes always suffice.
const BUFFER: usize = 65_536;

/// The most one datagram can carry over IPv4: 65 535 bytes (the IP packet's 16-bit length)
/// minus the 20-byte IPv4 header and the 8-byte UDP header.
const MAX_PAYLOAD_V4: usize = 65_507;

/// The most one datagram can carry over IPv6: IPv6's length field does not count its own
/// 40-byte header, so only the 8-byte UDP header comes off 65 535.
const MAX_PAYLOAD_V6: usize = 65_527;

/// The demo's server loses a quarter of the datagrams, with a seed that shows one retry in the
/// client part and some loss in the ping part.
const DEMO_DROP: f64 = 0.25;
const DEMO_SEED: u64 = 7;

/// The demo waits less than the default second: loopback answers in well under a millisecond.
const DEMO_TIMEOUT: Duration = Duration::from_millis(300);

#[derive(Parser)]
#[command(
    name = LESSON,
    about = "Lesson 03: a UDP echo server, a client that retries, and ping",
    after_help = "With no subcommand, runs the demo. Page: lessons/03_udp.md"
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// Server, client and a short lossy ping in one process on a free port, narrated (default).
    Demo,
    /// Send every datagram back to its sender, forever.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::UDP }>,
        /// Drop this fraction of incoming datagrams, 0.0 to 1.0, to make loss visible.
        #[arg(long = "drop", value_name = "RATE", default_value_t = 0.0, value_parser = parse_rate)]
        drop_rate: f64,
        /// Seed for --drop's choices: the same seed drops the same datagrams [default: from the
        /// clock]
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Stop after K datagrams (default: serve forever).
        #[arg(long, value_name = "K")]
        exit_after: Option<u64>,
    },
    /// Send each MESSAGE (or each line of stdin) as one datagram; print each echo.
    Client {
        #[command(flatten)]
        at: Endpoint<{ ports::UDP }>,
        /// How long to wait for each echo before sending the datagram again.
        #[arg(long, value_name = "MS", default_value_t = 1000,
              value_parser = clap::value_parser!(u64).range(1..))]
        timeout_ms: u64,
        /// How many times to send a datagram again when no echo comes back.
        #[arg(long, value_name = "N", default_value_t = 3)]
        retries: u32,
        /// The messages, one datagram each; with none, each line of stdin is one message.
        messages: Vec<OsString>,
    },
    /// Send numbered probes, print each round-trip time, then the loss.
    Ping {
        #[command(flatten)]
        at: Endpoint<{ ports::UDP }>,
        /// How many probes to send.
        #[arg(long, value_name = "N", default_value_t = 10,
              value_parser = clap::value_parser!(u64).range(1..))]
        count: u64,
        /// Pause between one probe's answer (or timeout) and the next probe.
        #[arg(long, value_name = "MS", default_value_t = 200)]
        interval_ms: u64,
        /// How long to wait for each probe's echo before counting it lost.
        #[arg(long, value_name = "MS", default_value_t = 1000,
              value_parser = clap::value_parser!(u64).range(1..))]
        timeout_ms: u64,
    },
}

/// `--drop RATE`: a fraction from 0.0 (drop nothing) to 1.0 (drop everything).
fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{text} is not between 0.0 and 1.0"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    workbook::kit::errors::main(LESSON, || run(cli.mode.unwrap_or(Mode::Demo)))
}

fn run(mode: Mode) -> Result<()> {
    match mode {
        Mode::Demo => demo(),
        Mode::Server {
            at,
            drop_rate,
            seed,
            exit_after,
        } => {
            let say = Narrator::new("server", at.quiet);
            let socket = bind(resolve_one(&at.host, at.port)?, &say)?;
            announce(&socket)?;
            let mut dropper = Dropper::new(drop_rate, seed.unwrap_or_else(clock_seed));
            serve(&socket, &mut dropper, exit_after, &say)
        }
        Mode::Client {
            at,
            timeout_ms,
            retries,
            messages,
        } => {
            let say = Narrator::new("client", at.quiet);
            let server = resolve_one(&at.host, at.port)?;
            let socket = open(server, &say)?;
            let patience = Patience {
                timeout: Duration::from_millis(timeout_ms),
                retries,
            };
            let mut stdout = std::io::stdout().lock();
            let mut echo = |message: &[u8]| -> Result<()> {
                let reply = exchange(&socket, server, message, patience, &say)?;
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
                for message in &messages {
                    echo(message.as_bytes())?;
                }
            }
            drop(socket);
            say.call("close()", "ok");
            Ok(())
        }
        Mode::Ping {
            at,
            count,
            interval_ms,
            timeout_ms,
        } => {
            let say = Narrator::new("ping", at.quiet);
            let server = resolve_one(&at.host, at.port)?;
            let socket = open(server, &say)?;
            let probes = Probes {
                count,
                interval: Duration::from_millis(interval_ms),
                timeout: Duration::from_millis(timeout_ms),
            };
            ping(&socket, server, probes, &say, &mut std::io::stdout().lock())
        }
    }
}

fn family(addr: SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    }
}

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

/// The one line of the server contract on stdout, flushed at once.
fn announce(socket: &UdpSocket) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", socket.local_addr()?)?;
    stdout.flush().context("failed to write to stdout")
}

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
        match socket.send_to(data, peer) {
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

// ANCHOR: drop
/// Which datagrams `--drop RATE` throws away: the k-th datagram is dropped when the k-th number
/// of a splitmix64 generator started at `--seed`, read as a fraction in [0, 1), is below RATE.
/// Same seed, same datagrams dropped — so a lossy run can be repeated, even in another language.
struct Dropper {
    rate: f64,
    state: u64,
}

impl Dropper {
    fn new(rate: f64, seed: u64) -> Dropper {
        Dropper { rate, state: seed }
    }

    /// splitmix64 (Steele, Lea and Flood, 2014): a counter stepped by the golden ratio, then
    /// scrambled. A few lines, no crate, and good enough to decide which postcards to lose.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Whether to drop the next datagram. One number per datagram, whatever the rate.
    fn drops(&mut self) -> bool {
        // The top 53 bits fill an f64's mantissa exactly: a fraction in [0, 1).
        let fraction = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        fraction < self.rate
    }
}
// ANCHOR_END: drop

/// A seed for when `--seed` is not given: different on every run.
fn clock_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    nanos ^ u64::from(std::process::id())
}

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
            say.note(
                "no echo in time: the datagram or its echo is lost, or nobody is there; resending",
            );
        }
    }
    Err(no_reply(server, tries))
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
                say.call(
                    format!("recvfrom({BUFFER})"),
                    format!("timed out after {} ms", timeout.as_millis()),
                );
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
        let data = &buf[..n];
        // Anyone can send to our port: only the server's address counts.
        if !same_endpoint(from, server) {
            say.call(
                format!("recvfrom({BUFFER})"),
                format!("{n} bytes from {from}, not from the server: ignored"),
            );
            continue;
        }
        // A late echo of an earlier message (its first try was slow, not lost) must not be
        // taken for this message's echo.
        if data != message {
            say.call(
                format!("recvfrom({BUFFER})"),
                format!(
                    "{n} bytes {}: not the echo of this message (a stale reply?): ignored",
                    show_bytes(data, 32)
                ),
            );
            continue;
        }
        say.call(
            format!("recvfrom({BUFFER})"),
            format!("{n} bytes from {from}: {}", show_bytes(data, 32)),
        );
        return Ok(Some(data.to_vec()));
    }
}
// ANCHOR_END: client

/// The same IP address and port (ignoring IPv6 flow labels and scope ids).
fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    a.ip() == b.ip() && a.port() == b.port()
}

/// A message that cannot fit in one datagram is an error before anything is sent: UDP does not
/// split a message for you, and the kernel would refuse it (EMSGSIZE, "message too long").
fn check_size(message: &[u8], server: SocketAddr) -> Result<()> {
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
fn no_reply(server: SocketAddr, tries: u64) -> anyhow::Error {
    Advice {
        error: format!("no reply from {server} after {tries} tries"),
        hint: format!(
            "UDP promises nothing: a datagram or its echo can be lost, and when nothing listens \
             on that port the sender is not told (the ICMP \"port unreachable\" is not reported \
             on an unconnected socket). Is the server running (cargo run --bin {LESSON} -- \
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

// ANCHOR: ping
/// What `ping` sends: how many probes, how far apart, and how long each may take.
#[derive(Clone, Copy)]
struct Probes {
    count: u64,
    interval: Duration,
    timeout: Duration,
}

/// The payload of probe `seq`. It carries its sequence number so that an echo arriving after
/// its probe was given up can be recognised as late, not mistaken for the current probe's.
fn probe(seq: u64) -> Vec<u8> {
    format!("ping seq={seq}").into_bytes()
}

/// The sequence number an echoed probe carries, if it is one of ours.
fn probe_seq(data: &[u8]) -> Option<u64> {
    std::str::from_utf8(data)
        .ok()?
        .strip_prefix("ping seq=")?
        .parse()
        .ok()
}

/// Send `count` numbered probes, one at a time; print a line per probe and a summary.
fn ping(
    socket: &UdpSocket,
    server: SocketAddr,
    probes: Probes,
    say: &Narrator,
    out: &mut impl Write,
) -> Result<()> {
    let mut rtts = Vec::new();
    for seq in 1..=probes.count {
        if seq > 1 {
            // Pacing, as ping does: this pause spaces the probes out; nothing waits on it.
            std::thread::sleep(probes.interval);
        }
        let payload = probe(seq);
        let sent_at = Instant::now();
        send(
            socket,
            server,
            &payload,
            &format!("probe {seq} of {}", probes.count),
            say,
        )?;
        match wait_for_probe(socket, server, seq, sent_at, probes.timeout, say)? {
            Some(rtt) => {
                rtts.push(rtt);
                writeln!(
                    out,
                    "reply from {server}: seq={seq} time={:.3} ms",
                    millis(rtt)
                )?;
            }
            None => writeln!(out, "seq={seq} timeout")?,
        }
        out.flush().context("failed to write to stdout")?;
    }

    // The summary: loss is the probes that got no echo in time, whatever became of them.
    let received = rtts.len() as u64;
    let loss = 100.0 * (probes.count - received) as f64 / probes.count as f64;
    writeln!(
        out,
        "{} transmitted, {received} received, {}% loss",
        probes.count,
        percent(loss)
    )?;
    if let (Some(min), Some(max)) = (rtts.iter().min(), rtts.iter().max()) {
        let avg = rtts.iter().sum::<Duration>() / rtts.len() as u32;
        writeln!(
            out,
            "rtt min/avg/max = {:.3}/{:.3}/{:.3} ms",
            millis(*min),
            millis(avg),
            millis(*max)
        )?;
    }
    out.flush().context("failed to write to stdout")
}

/// recvfrom() until probe `seq` comes back (its round-trip time) or `timeout` has passed.
fn wait_for_probe(
    socket: &UdpSocket,
    server: SocketAddr,
    seq: u64,
    sent_at: Instant,
    timeout: Duration,
    say: &Narrator,
) -> Result<Option<Duration>> {
    let deadline = sent_at + timeout;
    let mut buf = vec![0u8; BUFFER];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                say.call(
                    format!("recvfrom({BUFFER})"),
                    format!("timed out: seq={seq} counts as lost"),
                );
                return Ok(None);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
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
        let rtt = sent_at.elapsed();
        let data = &buf[..n];
        match probe_seq(data) {
            Some(got) if got == seq && same_endpoint(from, server) => {
                say.call(
                    format!("recvfrom({BUFFER})"),
                    format!(
                        "{n} bytes from {from}: seq={seq} after {:.3} ms",
                        millis(rtt)
                    ),
                );
                return Ok(Some(rtt));
            }
            Some(got) if got < seq && same_endpoint(from, server) => say.call(
                format!("recvfrom({BUFFER})"),
                format!("seq={got} arrives late (already counted as lost): ignored"),
            ),
            _ => say.call(
                format!("recvfrom({BUFFER})"),
                format!("{n} bytes from {from}, not an echo of seq={seq}: ignored"),
            ),
        }
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// 50 → `50`, 33.333… → `33.3`.
fn percent(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").unwrap_or(&text).to_string()
}
// ANCHOR_END: ping

/// Server, client and ping in one process. The server drops a quarter of the datagrams, so the
/// client has to retry once and ping shows some loss.
fn demo() -> Result<()> {
    let server_say = Narrator::new("server", false);
    let socket = bind("127.0.0.1:0".parse()?, &server_say)?;
    let addr = socket.local_addr()?;
    server_say.warn(format!(
        "this demo's server drops {}% of the datagrams on purpose (--drop {DEMO_DROP} --seed \
         {DEMO_SEED}): loopback itself never loses any",
        percent(DEMO_DROP * 100.0)
    ));
    let mut dropper = Dropper::new(DEMO_DROP, DEMO_SEED);
    // A UDP server cannot know that its last client has gone — there is no connection to end —
    // so it serves forever; the demo's server thread simply ends with the process.
    std::thread::spawn(move || {
        if let Err(e) = serve(&socket, &mut dropper, None, &server_say) {
            server_say.warn(format!("the server stopped: {e:#}"));
        }
    });

    let mut stdout = std::io::stdout().lock();
    let client_say = Narrator::new("client", false);
    let client = open(addr, &client_say)?;
    let patience = Patience {
        timeout: DEMO_TIMEOUT,
        retries: 3,
    };
    for message in [&b"Hello, UDP"[..], b"one datagram, one message"] {
        let reply = exchange(&client, addr, message, patience, &client_say)?;
        stdout.write_all(&reply)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    drop(client);
    client_say.call("close()", "ok");

    let ping_say = Narrator::new("ping", false);
    let pinger = open(addr, &ping_say)?;
    let probes = Probes {
        count: 8,
        interval: Duration::from_millis(50),
        timeout: DEMO_TIMEOUT,
    };
    ping(&pinger, addr, probes, &ping_say, &mut stdout)?;
    drop(stdout);

    try_next(&[
        format!("cargo run --bin {LESSON} -- server                       # terminal 1"),
        format!("cargo run --bin {LESSON} -- client \"Hello, UDP\"          # terminal 2"),
        format!(
            "nc -u 127.0.0.1 {}                                   # any UDP client: a line is a datagram",
            ports::UDP
        ),
        format!(
            "cargo run --bin {LESSON} -- server --drop 0.3 --seed 1   # terminal 1: a lossy server"
        ),
        format!(
            "cargo run --bin {LESSON} -- ping --count 20              # terminal 2: see the loss"
        ),
    ]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_values() {
        // The first outputs for seed 1234567, from the reference C implementation.
        let mut d = Dropper::new(0.5, 1_234_567);
        assert_eq!(d.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(d.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn rates_zero_and_one_are_exact() {
        let mut never = Dropper::new(0.0, 1);
        let mut always = Dropper::new(1.0, 1);
        assert!((0..1000).all(|_| !never.drops() && always.drops()));
    }

    #[test]
    fn probes_carry_their_sequence_number() {
        assert_eq!(probe_seq(&probe(42)), Some(42));
        assert_eq!(probe_seq(b"hello"), None);
    }

    #[test]
    fn percentages_drop_a_useless_decimal() {
        assert_eq!(percent(50.0), "50");
        assert_eq!(percent(100.0 / 3.0), "33.3");
        assert_eq!(percent(0.0), "0");
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        assert!(parse_rate("0.5").is_ok());
        assert!(parse_rate("1.5").is_err());
        assert!(parse_rate("-0.1").is_err());
        assert!(parse_rate("nan").is_err());
        assert!(parse_rate("half").is_err());
    }
}
