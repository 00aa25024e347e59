//! # Lesson 01 — a TCP time server
//!
//! The course's first program: an *iterative* server. It takes one connection at a time, sends
//! the current time, closes, and only then accepts the next client. Every socket call is made
//! separately with `socket2`, a thin layer over the operating system's calls (std's
//! `TcpListener::bind` folds socket, bind and listen into one; later lessons use it), and
//! narrated on stderr as it happens.
//!
//! ```text
//! cargo run --bin 01_time_server                      # demo: server and two clients, narrated
//! cargo run --bin 01_time_server -- server            # terminal 1
//! cargo run --bin 01_time_server -- client            # terminal 2 (or: nc -d 127.0.0.1 7001)
//! cargo run --bin 01_time_server -- server --rfc868   # RFC 868, for: rdate -p -o 7001 127.0.0.1
//! ```
//!
//! Read top to bottom: the server's calls (`listen`, `serve`), then the client's (`fetch_time`).
//! The command line is in `cli.rs`, the time formats in `format.rs`, the demo in `demo.rs`.
//! The page: `lessons/01_time_server.md`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use socket2::{Domain, Protocol, Socket, Type};
use workbook::kit::cli::unspecified_warning;
use workbook::kit::narrate::{Narrator, show_bytes};
use workbook::kit::shutdown::Stop;

use format::Format;

/// How many finished handshakes the kernel may queue for us while we are busy with a client.
/// An iterative server is busy often, so the queue matters; Linux caps it at
/// `/proc/sys/net/core/somaxconn`.
const BACKLOG: i32 = 16;

// ANCHOR: listen
/// socket → setsockopt → bind → listen: make a listening TCP socket, one call at a time.
fn listen(addr: SocketAddr, say: &Narrator) -> Result<TcpListener> {
    // 1. socket(): ask the kernel for a new endpoint. The family follows the address we will
    //    bind (AF_INET for IPv4, AF_INET6 for IPv6); SOCK_STREAM + TCP means a reliable byte stream.
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .context("socket() failed")?;
    say.call(
        format!("socket({}, SOCK_STREAM, IPPROTO_TCP)", family(addr)),
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
    // The very socket std's TcpListener::bind would have made; as one, its accept() hands back
    // std's TcpStream and the client's address.
    Ok(socket.into())
}
// ANCHOR_END: listen

// ANCHOR: serve
/// accept → send → close, one client after another: an iterative server.
fn serve(listener: &TcpListener, format: Format, stop: &Stop, say: &Narrator) -> Result<()> {
    // `stop` is the test hook `--exit-after K`: it is set once the K-th client is accepted.
    while !stop.is_stopped() {
        say.note("waiting in accept() for the next client…");
        // 5. accept(): blocks until a handshake is queued, then returns a NEW socket for that
        //    one client. The listening socket stays open and keeps listening.
        let (conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // The client gave up between the handshake and our accept(): not our problem.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accept() failed"),
        };
        stop.accepted();
        say.call(
            "accept()",
            format!("fd {} for client {peer}", conn.as_raw_fd()),
        );

        // 6. send(): one send() may take fewer bytes than we offer; write_all() calls it until
        //    every byte is queued — this is Python's sendall().
        let reply = format.now();
        // A client that vanished must not stop the server: note the failure, move on.
        let sent = (&conn).write_all(&reply);
        match sent {
            Ok(()) => say.call(
                format!("send({})", show_bytes(&reply, 40)),
                format!("{} bytes", reply.len()),
            ),
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
    say.note(format!(
        "served {} connection(s); exiting",
        stop.accepted_so_far()
    ));
    Ok(())
}
// ANCHOR_END: serve

/// A client gives up on a server that sends nothing for this long (Python's `settimeout`).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A time reply is a few dozen bytes; anything longer is not a time server talking.
const MAX_REPLY: usize = 1024;

// ANCHOR: client
/// socket → connect → recv until end of stream → close.
fn fetch_time(addrs: &[SocketAddr], say: &Narrator) -> Result<Vec<u8>> {
    // A name such as `localhost` may have several addresses; like Python's create_connection we
    // try each until one accepts.
    let mut last_error = None;
    for &addr in addrs {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .context("socket() failed")?;
        say.call(
            format!("socket({}, SOCK_STREAM, IPPROTO_TCP)", family(addr)),
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

/// The address family socket() is asked for, as the C constant is named.
fn family(addr: SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    }
}

/// getsockname(): the address the socket really has (the port the kernel chose for port 0).
fn local_addr(socket: &Socket) -> Result<SocketAddr> {
    let addr = socket.local_addr().context("getsockname() failed")?;
    addr.as_socket().context("not an internet socket")
}

// ---------------------------------------------------------------------------------------------
// Not the lesson: the command line, the time formats, the demo.

mod cli;
mod demo;
mod format;

const LESSON: &str = "01_time_server";

fn main() -> std::process::ExitCode {
    use clap::Parser;
    use cli::{Cli, Mode};
    use workbook::kit::cli::{resolve, resolve_one};

    let cli = Cli::parse();
    workbook::kit::errors::main(LESSON, || match cli.mode.unwrap_or(Mode::Demo) {
        Mode::Demo => demo::demo(),
        Mode::Server { at, rfc868, exit } => {
            let say = Narrator::new("server", at.quiet);
            let listener = listen(resolve_one(&at.host, at.port)?, &say)?;
            workbook::kit::net::announce(&listener)?;
            let stop = Stop::new().after(exit.exit_after);
            serve(&listener, Format::from_flag(rfc868), &stop, &say)
        }
        Mode::Client { at, rfc868 } => {
            let say = Narrator::new("client", at.quiet);
            let reply = fetch_time(&resolve(&at.host, at.port)?, &say)?;
            format::print_time(&reply, Format::from_flag(rfc868))
        }
    })
}
