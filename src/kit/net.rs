//! The calls every TCP lesson after 01 makes the same way, written once: `listen`, `connect`,
//! and `accept_retrying`, which waits out running out of descriptors; `announce` prints the
//! contract's `listening on ADDR`.
//!
//! Lesson 01 shows `socket()`, `bind()` and `listen()` one by one; from lesson 02 on, std's
//! [`TcpListener::bind`] makes all three and [`TcpStream::connect`] makes `socket()` +
//! `connect()`. These helpers add the narration and the error context a beginner needs.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::kit::backoff::Backoff;
use crate::kit::cli::unspecified_warning;
use crate::kit::narrate::{Narrator, narrate};
use crate::kit::shutdown::Stop;

/// The number the system knows a socket by, for the narration: on Unix a file descriptor (a
/// small index into the process's table of open files: 3, 4, … since 0–2 are stdin, stdout and
/// stderr); on Windows a `SOCKET` handle (an opaque number, often in the hundreds, and not a file:
/// Winsock sockets are not read and written as files).
#[cfg(unix)]
pub fn socket_number(socket: &impl std::os::fd::AsRawFd) -> i64 {
    i64::from(socket.as_raw_fd())
}

/// See the Unix version above: on Windows, the `SOCKET` handle.
#[cfg(windows)]
pub fn socket_number(socket: &impl std::os::windows::io::AsRawSocket) -> i64 {
    socket.as_raw_socket() as i64
}

/// The backlog std's `TcpListener::bind` passes to `listen()` on Unix.
pub const STD_BACKLOG: u32 = 128;

// ANCHOR: listen
/// socket + bind + listen in one call; warns when the address is every interface.
pub fn listen(addr: SocketAddr, say: &Narrator) -> Result<TcpListener> {
    let listener = bind_listener(addr).with_context(|| format!("failed to bind {addr}"))?;
    let bound = listener.local_addr().context("getsockname() failed")?;
    narrate!(
        say,
        call(
            format!("socket() + bind({addr}) + listen(backlog={STD_BACKLOG})"),
            format!("listening on {bound}"),
        )
    );
    if let Some(warning) = unspecified_warning(bound) {
        narrate!(say, warn(warning));
    }
    Ok(listener)
}

/// On Unix, std sets `SO_REUSEADDR` before `bind()`: a restarted server may bind its port at once
/// while connections of its previous run wait in TIME_WAIT, and no other process can take a port
/// that is being listened on.
#[cfg(not(windows))]
fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// On Windows, `SO_REUSEADDR` means something else: it lets *another* socket bind a port already
/// in use, so a second program could steal this server's connections. Windows's answer is
/// `SO_EXCLUSIVEADDRUSE`: nobody else may bind this address while we hold it. (Without it, a
/// restart still binds at once: TIME_WAIT does not block `bind()` on Windows.) socket2 has no
/// setter for it, so we call `setsockopt` ourselves, then `bind()` and `listen()`.
#[cfg(windows)]
fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    exclusive_address_use(&socket)?;
    socket.bind(&addr.into())?;
    socket.listen(STD_BACKLOG as i32)?;
    Ok(socket.into())
}

/// `setsockopt(SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1)`: Windows only (see [`bind_listener`]).
#[cfg(windows)]
pub fn exclusive_address_use(socket: &socket2::Socket) -> io::Result<()> {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{SO_EXCLUSIVEADDRUSE, SOL_SOCKET, setsockopt};
    let on: i32 = 1;
    // SAFETY: a valid socket, and a pointer to an int with its size, as setsockopt expects.
    let rc = unsafe {
        setsockopt(
            socket.as_raw_socket() as usize,
            SOL_SOCKET,
            SO_EXCLUSIVEADDRUSE,
            (&on as *const i32).cast(),
            size_of::<i32>() as i32,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}
// ANCHOR_END: listen

/// Print the server's one line of stdout, `listening on ADDR`, and flush it: the contract's
/// signal that the server is ready.
pub fn announce(listener: &TcpListener) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", listener.local_addr()?)?;
    stdout.flush()?;
    Ok(())
}

// ANCHOR: accept_errors
/// What a failed `accept()` means for the server that called it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptError {
    /// Out of a resource that comes back when clients leave — file descriptors (EMFILE for this
    /// process, ENFILE for the whole system) or kernel memory (ENOBUFS, ENOMEM): wait, then try
    /// again. The connection stays in the listen backlog meanwhile.
    Shortage,
    /// That one connection failed before we took it (ECONNABORTED: the client gave up; Linux
    /// also reports a new connection's network errors here): try the next one at once.
    ThisConnection,
    /// The listening socket itself is broken (EBADF, EINVAL, …): retrying cannot help.
    Fatal,
}

impl AcceptError {
    /// Classify an `accept()` error (`accept(2)`, "Error handling": Linux passes a new
    /// connection's pending network errors to `accept()`, to be treated like EAGAIN).
    pub fn of(err: &io::Error) -> AcceptError {
        match err.raw_os_error() {
            Some(code) if SHORTAGE.contains(&code) => AcceptError::Shortage,
            Some(code) if THIS_CONNECTION.contains(&code) => AcceptError::ThisConnection,
            _ => AcceptError::Fatal,
        }
    }
}
// ANCHOR_END: accept_errors

// The error numbers differ by system: Unix has errno (`libc::EMFILE` …), Windows's Winsock its
// own codes (`WSAEMFILE` = 10024 …), and `io::Error::raw_os_error` gives whichever the system
// returned.
#[cfg(unix)]
const SHORTAGE: &[i32] = &[libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
#[cfg(unix)]
const THIS_CONNECTION: &[i32] = &[
    libc::ECONNABORTED,
    libc::EINTR,
    libc::EPROTO,
    libc::EPERM,
    libc::ENETDOWN,
    libc::ENOPROTOOPT,
    libc::EHOSTDOWN,
    libc::EHOSTUNREACH,
    libc::EOPNOTSUPP,
    libc::ENETUNREACH,
    // ENONET ("machine is not on the network") exists only on Linux.
    #[cfg(target_os = "linux")]
    libc::ENONET,
];
// Winsock: out of sockets or buffer space; a connection reset or aborted before we took it
// (Windows reports a client that gave up as WSAECONNRESET), a call interrupted, the network down.
#[cfg(windows)]
const SHORTAGE: &[i32] = {
    use windows_sys::Win32::Networking::WinSock::{WSAEMFILE, WSAENOBUFS};
    &[WSAEMFILE, WSAENOBUFS]
};
#[cfg(windows)]
const THIS_CONNECTION: &[i32] = {
    use windows_sys::Win32::Networking::WinSock as ws;
    &[
        ws::WSAECONNABORTED,
        ws::WSAECONNRESET,
        ws::WSAEINTR,
        ws::WSAENETDOWN,
        ws::WSAEHOSTUNREACH,
        ws::WSAENETUNREACH,
    ]
};

// ANCHOR: accept
/// `accept()` that survives what a busy server meets: a connection that failed before we took it
/// is skipped, and a shortage of descriptors or memory is waited out with a [`Backoff`]
/// (10 ms doubling to 1 s) — narrated, never fatal, never a busy loop. Returns `Ok(None)` when
/// `stop` was asked for while we waited; only a broken listening socket is an error.
pub fn accept_retrying(
    listener: &TcpListener,
    stop: &Stop,
    say: &Narrator,
) -> io::Result<Option<(TcpStream, SocketAddr)>> {
    let mut backoff = Backoff::new();
    loop {
        let err = match listener.accept() {
            Ok(accepted) => return Ok(Some(accepted)),
            Err(err) => err,
        };
        match AcceptError::of(&err) {
            AcceptError::Fatal => return Err(err),
            AcceptError::ThisConnection => {
                narrate!(
                    say,
                    call(
                        "accept()",
                        format!("failed: {err}; that client is gone, next one"),
                    )
                );
            }
            AcceptError::Shortage => {
                let wait = backoff.next_delay();
                narrate!(
                    say,
                    call(
                        "accept()",
                        format!(
                            "failed: {err}; temporary: serving on, accept() again in {} ms",
                            wait.as_millis()
                        ),
                    )
                );
                std::thread::sleep(wait);
            }
        }
        if stop.is_stopped() {
            return Ok(None);
        }
    }
}
// ANCHOR_END: accept

/// How long a client waits for `connect()` to complete: a server that drops our SYNs (a
/// firewall, a host that is down) would otherwise keep us waiting for the kernel's two minutes
/// of retransmissions.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

// ANCHOR: connect
/// socket + connect: std's `TcpStream::connect` makes both calls; we try each address in turn
/// (a name like `localhost` may resolve to `::1` and `127.0.0.1`), each for at most
/// [`CONNECT_TIMEOUT`], and report the last failure.
pub fn connect(addrs: &[SocketAddr], say: &Narrator) -> Result<TcpStream> {
    let mut last_error = None;
    for &addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                narrate!(
                    say,
                    call(
                        format!("socket() + connect({addr})"),
                        format!("connected from {}", stream.local_addr()?),
                    )
                );
                return Ok(stream);
            }
            Err(e) => {
                narrate!(
                    say,
                    call(
                        format!("socket() + connect({addr})"),
                        format!("failed: {e}"),
                    )
                );
                // Say how long we waited rather than the errno text; the kind stays, for the hint.
                let e = if e.kind() == io::ErrorKind::TimedOut {
                    let waited = format!("timed out after {} s", CONNECT_TIMEOUT.as_secs());
                    io::Error::new(io::ErrorKind::TimedOut, waited)
                } else {
                    e
                };
                last_error = Some(anyhow!(e).context(format!("failed to connect to {addr}")));
            }
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow!("no address to connect to")))
}
// ANCHOR_END: connect

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn accept_errors_are_sorted_by_what_helps() {
        let of = |errno| AcceptError::of(&io::Error::from_raw_os_error(errno));
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert_eq!(of(errno), AcceptError::Shortage, "errno {errno}");
        }
        for errno in [libc::ECONNABORTED, libc::EPROTO, libc::ENETUNREACH] {
            assert_eq!(of(errno), AcceptError::ThisConnection, "errno {errno}");
        }
        for errno in [libc::EBADF, libc::EINVAL, libc::ENOTSOCK] {
            assert_eq!(of(errno), AcceptError::Fatal, "errno {errno}");
        }
    }
}
