//! Lesson 01's server: socket → setsockopt → bind → listen ([`listen`]), then accept → send →
//! close, one client after another ([`serve`]). Each call is made on its own with `socket2`
//! and narrated on stderr as it happens.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};

use super::format::Format;
use crate::kit::cli::unspecified_warning;
use crate::kit::narrate::{Narrator, narrate, show_bytes};
use crate::kit::shutdown::Stop;

/// How many finished handshakes the kernel may queue for us while we are busy with a client.
/// An iterative server is busy often, so the queue matters; Linux caps it at
/// `/proc/sys/net/core/somaxconn`.
const BACKLOG: i32 = 16;

// ANCHOR: listen
/// socket → setsockopt → bind → listen: make a listening TCP socket, one call at a time.
pub fn listen(addr: SocketAddr, say: &Narrator) -> Result<TcpListener> {
    // 1. socket(): ask the kernel for a new endpoint. The family follows the address we will
    //    bind (AF_INET for IPv4, AF_INET6 for IPv6); SOCK_STREAM + TCP means a reliable byte stream.
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .context("socket() failed")?;
    narrate!(
        say,
        call(
            format!("socket({}, SOCK_STREAM, IPPROTO_TCP)", family(addr)),
            format!("fd {}", socket.as_raw_fd()),
        )
    );

    // 2. setsockopt(SO_REUSEADDR): without it, restarting the server right after stopping it
    //    fails with "address already in use" while old connections sit in TIME_WAIT.
    socket
        .set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR) failed")?;
    narrate!(say, call("setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)", "ok"));

    // 3. bind(): claim the address and port. Port 0 asks the kernel to choose a free port, so we
    //    ask the socket afterwards which one it got (getsockname).
    socket
        .bind(&addr.into())
        .with_context(|| format!("failed to bind {addr}"))?;
    let bound = local_addr(&socket)?;
    narrate!(
        say,
        call(format!("bind({addr})"), format!("bound to {bound}"))
    );
    if let Some(warning) = unspecified_warning(bound) {
        narrate!(say, warn(warning));
    }

    // 4. listen(): turn the socket into a listening one. From now on the kernel completes TCP
    //    handshakes by itself and queues up to BACKLOG of them until we call accept().
    socket
        .listen(BACKLOG)
        .with_context(|| format!("failed to listen on {bound}"))?;
    narrate!(
        say,
        call(
            format!("listen(backlog={BACKLOG})"),
            "ok: the kernel now queues new connections",
        )
    );
    // The very socket std's TcpListener::bind would have made; as one, its accept() hands back
    // std's TcpStream and the client's address.
    Ok(socket.into())
}
// ANCHOR_END: listen

// ANCHOR: serve
/// accept → send → close, one client after another: an iterative server.
pub fn serve(listener: &TcpListener, format: Format, stop: &Stop, say: &Narrator) -> Result<()> {
    // `stop` is the test hook `--exit-after K`: it is set once the K-th client is accepted.
    while !stop.is_stopped() {
        narrate!(say, note("waiting in accept() for the next client…"));
        // 5. accept(): blocks until a handshake is queued, then returns a NEW socket for that
        //    one client. The listening socket stays open and keeps listening.
        let (conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // The client gave up between the handshake and our accept(): not our problem.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accept() failed"),
        };
        stop.accepted();
        narrate!(
            say,
            call(
                "accept()",
                format!("fd {} for client {peer}", conn.as_raw_fd()),
            )
        );

        // 6. send(): one send() may take fewer bytes than we offer; write_all() calls it until
        //    every byte is queued — this is Python's sendall().
        let reply = format.now();
        // A client that vanished must not stop the server: note the failure, move on.
        match (&conn).write_all(&reply) {
            Ok(()) => narrate!(
                say,
                call(
                    format!("send({})", show_bytes(&reply, 40)),
                    format!("{} bytes", reply.len()),
                )
            ),
            Err(e) => narrate!(
                say,
                call(
                    format!("send({})", show_bytes(&reply, 40)),
                    format!("failed: {e}"),
                )
            ),
        }

        // 7. close(): dropping the socket closes it; the client reads end-of-stream and knows the
        //    whole reply has arrived. Only now do we go back to accept() — the next client waited.
        drop(conn);
        narrate!(say, call("close()", format!("done with {peer}")));
    }
    narrate!(
        say,
        note(format!(
            "served {} connection(s); exiting",
            stop.accepted_so_far()
        ))
    );
    Ok(())
}
// ANCHOR_END: serve

/// The address family socket() is asked for, as the C constant is named.
pub(crate) fn family(addr: SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    }
}

/// getsockname(): the address the socket really has (the port the kernel chose for port 0).
pub(crate) fn local_addr(socket: &Socket) -> Result<SocketAddr> {
    let addr = socket.local_addr().context("getsockname() failed")?;
    addr.as_socket().context("not an internet socket")
}
