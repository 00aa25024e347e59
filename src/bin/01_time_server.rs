//! # Lesson 01 — a TCP time server
//!
//! The course's first program: an *iterative* server. It takes one connection at a time, sends
//! the current time, closes, and only then accepts the next client. Every socket call is made
//! separately (socket, bind, listen, accept, send, close) and narrated on stderr as it happens.
//!
//! Why `socket2` and not `std::net::TcpListener::bind`? Because `TcpListener::bind` folds three
//! calls — `socket()`, `bind()` and `listen()` — into one, and picks the backlog for you. Here we
//! want to see each call, so we make them one by one with `socket2`, which is a thin layer over
//! the operating system's calls. Later lessons use the std shortcut.
//!
//! Run it:
//!
//! ```text
//! cargo run --bin 01_time_server                      # demo: server and two clients, narrated
//! cargo run --bin 01_time_server -- server            # terminal 1
//! cargo run --bin 01_time_server -- client            # terminal 2 (or: nc 127.0.0.1 7001)
//! cargo run --bin 01_time_server -- server --rfc868   # RFC 868, for: rdate -p -o 7001 127.0.0.1
//! ```
//!
//! The page: `lessons/01_time_server.md`.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use socket2::{Domain, Protocol, Socket, Type};
use workbook::kit::cli::{Endpoint, ports, resolve, resolve_one, unspecified_warning};
use workbook::kit::narrate::{Narrator, show_bytes, try_next};

const LESSON: &str = "01_time_server";

/// How many finished handshakes the kernel may queue for us while we are busy with a client.
/// An iterative server is busy often, so the queue matters; Linux caps it at
/// `/proc/sys/net/core/somaxconn`.
const BACKLOG: i32 = 16;

/// RFC 868 counts seconds from 1900-01-01T00:00:00Z; Unix time counts from 1970. The gap is 70
/// years including 17 leap days: (70 × 365 + 17) × 86 400 seconds.
const SECONDS_1900_TO_1970: u64 = 2_208_988_800;

/// A client gives up on a server that sends nothing for this long (Python's `settimeout`).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A time reply is a few dozen bytes; anything longer is not a time server talking.
const MAX_REPLY: usize = 1024;

#[derive(Parser)]
#[command(
    name = LESSON,
    about = "Lesson 01: an iterative TCP server that sends the time and closes",
    after_help = "With no subcommand, runs the demo. Page: lessons/01_time_server.md"
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// Server and two clients in one process on a free port, every call narrated (the default).
    Demo,
    /// Send the current time to each client, one client after another, forever.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::TIME_SERVER }>,
        /// Send RFC 868 time (4 bytes, big-endian seconds since 1900) instead of RFC 3339 text.
        #[arg(long)]
        rfc868: bool,
        /// Stop after serving this many connections (default: serve forever).
        #[arg(long, value_name = "K")]
        exit_after: Option<u64>,
    },
    /// Connect, read the time to the end of the stream, print it.
    Client {
        #[command(flatten)]
        at: Endpoint<{ ports::TIME_SERVER }>,
        /// Expect RFC 868 (4 bytes) and print it as RFC 3339.
        #[arg(long)]
        rfc868: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    workbook::kit::errors::main(LESSON, || match cli.mode.unwrap_or(Mode::Demo) {
        Mode::Demo => demo(),
        Mode::Server {
            at,
            rfc868,
            exit_after,
        } => {
            let say = Narrator::new("server", at.quiet);
            let listener = listen(resolve_one(&at.host, at.port)?, &say)?;
            announce(&listener)?;
            serve(&listener, Format::from_flag(rfc868), exit_after, &say)
        }
        Mode::Client { at, rfc868 } => {
            let say = Narrator::new("client", at.quiet);
            let reply = fetch_time(&resolve(&at.host, at.port)?, &say)?;
            print_time(&reply, Format::from_flag(rfc868))
        }
    })
}

/// What the server sends: the course's human-readable time, or the Internet's RFC 868 time.
#[derive(Clone, Copy)]
enum Format {
    Rfc3339,
    Rfc868,
}

impl Format {
    fn from_flag(rfc868: bool) -> Format {
        if rfc868 {
            Format::Rfc868
        } else {
            Format::Rfc3339
        }
    }

    /// The bytes to send for the current time.
    fn now(self) -> Vec<u8> {
        let now = SystemTime::now();
        match self {
            // e.g. `2026-11-25T09:41:07.123Z` — UTC (`Z`), so every client reads the same instant.
            Format::Rfc3339 => format!("{}\n", humantime::format_rfc3339_millis(now)).into_bytes(),
            Format::Rfc868 => {
                let unix = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                // 32 bits of seconds since 1900 run out in February 2036: RFC 868 wraps then.
                let since_1900 = (unix + SECONDS_1900_TO_1970) as u32;
                // Network byte order is big-endian: the most significant byte goes first.
                since_1900.to_be_bytes().to_vec()
            }
        }
    }
}

// ANCHOR: listen
/// socket → setsockopt → bind → listen: make a listening TCP socket, one call at a time.
fn listen(addr: SocketAddr, say: &Narrator) -> Result<Socket> {
    // 1. socket(): ask the kernel for a new endpoint. The family follows the address we will
    //    bind (AF_INET for IPv4, AF_INET6 for IPv6); SOCK_STREAM + TCP means a reliable byte stream.
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .context("socket() failed")?;
    let family = if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    };
    say.call(
        format!("socket({family}, SOCK_STREAM, IPPROTO_TCP)"),
        format!("fd {}", socket.as_raw_fd()),
    );

    // 2. setsockopt(SO_REUSEADDR): without it, restarting the server right after stopping it
    //    fails with "address already in use" while old connections sit in TIME_WAIT.
    socket
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR) failed")?;
    say.call("setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)", "ok");

    // 3. bind(): claim the address and port. Port 0 asks the kernel to choose a free port, so we
    //    ask the socket afterwards which one it got (getsockname).
    socket
        .bind(&addr.into())
        .with_context(|| format!("failed to bind {addr}"))?;
    let bound = local_addr(&socket)?;
    say.call(format!("bind({addr})"), format!("bound to {bound}"));
    if let Some(warning) = unspecified_warning(bound) {
        say.warn(warning);
    }

    // 4. listen(): turn the socket into a listening one. From now on the kernel completes TCP
    //    handshakes by itself and queues up to BACKLOG of them until we call accept().
    socket
        .listen(BACKLOG)
        .with_context(|| format!("failed to listen on {bound}"))?;
    say.call(
        format!("listen(backlog={BACKLOG})"),
        "ok: the kernel now queues new connections",
    );
    Ok(socket)
}
// ANCHOR_END: listen

/// getsockname(): the address the socket really has (the port the kernel chose for port 0).
fn local_addr(socket: &Socket) -> Result<SocketAddr> {
    let addr = socket.local_addr().context("getsockname() failed")?;
    addr.as_socket().context("not an internet socket")
}

/// The one line of the server contract on stdout: `listening on ADDR`, flushed at once so that
/// whoever started us (a test, a script, a teacher's grader) can connect.
fn announce(listener: &Socket) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", local_addr(listener)?)?;
    stdout.flush().context("failed to write to stdout")
}

// ANCHOR: serve
/// accept → send → close, one client after another: an iterative server.
fn serve(listener: &Socket, format: Format, exit_after: Option<u64>, say: &Narrator) -> Result<()> {
    let mut served = 0;
    while exit_after.is_none_or(|limit| served < limit) {
        say.note("waiting in accept() for the next client…");
        // 5. accept(): blocks until a handshake is queued, then returns a NEW socket for that
        //    one client. The listening socket stays open and keeps listening.
        let (conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // The client gave up between the handshake and our accept(): not our problem.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accept() failed"),
        };
        served += 1;
        let peer = peer
            .as_socket()
            .map_or_else(|| "?".to_string(), |p| p.to_string());
        say.call(
            "accept()",
            format!("fd {} for client {peer}", conn.as_raw_fd()),
        );

        // 6. send(): one send() may take fewer bytes than we offer; write_all() calls it until
        //    every byte is queued — this is Python's sendall().
        let reply = format.now();
        match (&conn).write_all(&reply) {
            Ok(()) => say.call(
                format!("send({})", show_bytes(&reply, 40)),
                format!("{} bytes", reply.len()),
            ),
            // A client that vanished must not stop the server: note it, move on.
            Err(e) => say.call(
                format!("send({})", show_bytes(&reply, 40)),
                format!("failed: {e}"),
            ),
        }

        // 7. close(): dropping the socket closes it; the client reads end-of-stream and knows the
        //    whole reply has arrived. Only now do we go back to accept() — the next client waited.
        drop(conn);
        say.call("close()", format!("done with {peer}"));
    }
    say.note(format!("served {served} connection(s); exiting"));
    Ok(())
}
// ANCHOR_END: serve

// ANCHOR: client
/// socket → connect → recv until end of stream → close.
fn fetch_time(addrs: &[SocketAddr], say: &Narrator) -> Result<Vec<u8>> {
    // A name such as `localhost` may have several addresses; like Python's create_connection we
    // try each until one accepts.
    let mut last_error = None;
    for &addr in addrs {
        let family = if addr.is_ipv4() {
            "AF_INET"
        } else {
            "AF_INET6"
        };
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .context("socket() failed")?;
        say.call(
            format!("socket({family}, SOCK_STREAM, IPPROTO_TCP)"),
            format!("fd {}", socket.as_raw_fd()),
        );
        // connect(): the three-way handshake with the server. Fails at once with "connection
        // refused" when nothing listens on that port.
        if let Err(e) = socket.connect(&addr.into()) {
            say.call(format!("connect({addr})"), format!("failed: {e}"));
            last_error =
                Some(anyhow::Error::new(e).context(format!("failed to connect to {addr}")));
            continue;
        }
        say.call(
            format!("connect({addr})"),
            format!("connected from {}", local_addr(&socket)?),
        );
        // settimeout(): a server that accepts but never sends must not hang us forever.
        socket.set_read_timeout(Some(CLIENT_TIMEOUT))?;

        // recv() until it returns 0 bytes — end of stream, the server closed. One recv() may
        // return only part of what was sent, so we keep reading into one buffer.
        let mut reply = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            let n = (&socket)
                .read(&mut chunk)
                .with_context(|| format!("failed to read from {addr}"))?;
            say.call(
                "recv(1024)",
                if n == 0 {
                    "0 bytes: end of stream".to_string()
                } else {
                    format!("{n} bytes")
                },
            );
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&chunk[..n]);
            if reply.len() > MAX_REPLY {
                bail!("{addr} sent more than {MAX_REPLY} bytes: that is not a time server");
            }
        }
        drop(socket);
        say.call("close()", "ok");
        return Ok(reply);
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no address to connect to")))
}
// ANCHOR_END: client

/// The client's contract on stdout: the time, one line.
fn print_time(reply: &[u8], format: Format) -> Result<()> {
    let line = match format {
        Format::Rfc3339 => String::from_utf8_lossy(reply).trim_end().to_string(),
        Format::Rfc868 => {
            let Ok(bytes) = <[u8; 4]>::try_from(reply) else {
                bail!(
                    "expected 4 bytes of RFC 868 time, got {} ({}): is the server running with --rfc868?",
                    reply.len(),
                    show_bytes(reply, 40)
                );
            };
            let since_1900 = u64::from(u32::from_be_bytes(bytes));
            let unix = since_1900
                .checked_sub(SECONDS_1900_TO_1970)
                .context("RFC 868 time before 1970")?;
            humantime::format_rfc3339(UNIX_EPOCH + Duration::from_secs(unix)).to_string()
        }
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").context("failed to write to stdout")
}

/// Server and two clients in one process: the second client shows the server is iterative —
/// it is accepted only after the first one has been served and closed.
fn demo() -> Result<()> {
    let server = Narrator::new("server", false);
    let listener = listen("127.0.0.1:0".parse()?, &server)?;
    let addr = local_addr(&listener)?;
    std::thread::scope(|scope| -> Result<()> {
        let serving = scope.spawn(|| serve(&listener, Format::Rfc3339, Some(2), &server));
        for name in ["client 1", "client 2"] {
            let reply = fetch_time(&[addr], &Narrator::new(name, false))?;
            print_time(&reply, Format::Rfc3339)?;
        }
        serving
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread panicked"))?
    })?;
    try_next(&[
        format!("cargo run --bin {LESSON} -- server                 # terminal 1"),
        format!("cargo run --bin {LESSON} -- client                 # terminal 2"),
        format!(
            "nc 127.0.0.1 {}                                  # any TCP client works",
            ports::TIME_SERVER
        ),
        format!(
            "cargo run --bin {LESSON} -- server --rfc868 ; rdate -p -o {} 127.0.0.1",
            ports::TIME_SERVER
        ),
    ]);
    Ok(())
}
