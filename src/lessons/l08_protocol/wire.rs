//! The two kinds of stream socket lesson 08 speaks over: TCP (an address and a port) and a Unix
//! domain socket (`AF_UNIX`, a path in the file system). The protocol does not care which: both
//! are byte streams, read and written the same way.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::fs::FileTypeExt;
#[cfg(unix)]
use std::os::unix::net::{UnixListener, UnixStream};
#[cfg(windows)]
use no_unix_sockets::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
#[cfg(unix)]
use anyhow::Context;

#[cfg(unix)]
use crate::kit::errors::Advice;
use crate::kit::narrate::Narrator;
#[cfg(unix)]
use crate::kit::narrate::narrate;
use crate::kit::shutdown::Stop;

/// A listening socket of either kind.
pub enum Listener {
    /// `AF_INET`/`AF_INET6`.
    Tcp(TcpListener),
    /// `AF_UNIX`, with the socket file it created (removed when the listener is dropped).
    Unix(UnixListener, SocketFile),
}

/// A connected stream socket of either kind.
pub enum Stream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix domain socket connection.
    Unix(UnixStream),
}

impl Listener {
    /// accept(): the next connection and who it is from.
    pub fn accept(&self) -> io::Result<(Stream, String)> {
        match self {
            Listener::Tcp(l) => l
                .accept()
                .map(|(s, peer)| (Stream::Tcp(s), peer.to_string())),
            // A Unix client is usually unnamed: it did not bind a path of its own.
            Listener::Unix(l, _) => l
                .accept()
                .map(|(s, _)| (Stream::Unix(s), "a local process".to_string())),
        }
    }

    /// What `listening on …` prints: `127.0.0.1:7008`, or the socket file's path.
    pub fn address(&self) -> Result<String> {
        Ok(match self {
            Listener::Tcp(l) => l.local_addr()?.to_string(),
            Listener::Unix(_, file) => file.0.display().to_string(),
        })
    }

    /// On a stop, connect once to ourselves so that `accept()` returns and sees the flag.
    pub fn wake_on(&self, stop: &Stop) -> Result<()> {
        match self {
            Listener::Tcp(l) => stop.wake_listener(l.local_addr()?, 1),
            Listener::Unix(_, file) => {
                let path = file.0.clone();
                stop.on_stop(move || {
                    let _ = UnixStream::connect(&path);
                });
            }
        }
        Ok(())
    }
}

impl Stream {
    /// A second handle on the same socket (one reads, one writes).
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    /// SO_RCVTIMEO: a read that waits longer fails with `WouldBlock`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            Stream::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    /// SO_SNDTIMEO: a write that makes no progress for longer fails with `WouldBlock`.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(timeout),
            Stream::Unix(s) => s.set_write_timeout(timeout),
        }
    }

    /// O_NONBLOCK: a read or write that would wait fails with `WouldBlock` at once.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(nonblocking),
            Stream::Unix(s) => s.set_nonblocking(nonblocking),
        }
    }

    /// shutdown(2): `Shutdown::Write` says "nothing more from me" and keeps reading open.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// Whether a read failed because its timeout passed (Linux says `EAGAIN`, others `ETIMEDOUT`).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// TCP: socket + bind + listen (lesson 02's way).
pub fn listen_tcp(addr: SocketAddr, say: &Narrator) -> Result<Listener> {
    crate::kit::net::listen(addr, say).map(Listener::Tcp)
}

/// The socket file of a Unix listener: removed when dropped, so a server that returns — after a
/// stop, or an error — leaves nothing behind. (A `kill -9` skips this: see [`listen_unix`].)
pub struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Windows 10 has AF_UNIX sockets, but Rust's std offers them on Unix only: here `--unix` says
/// so and exits 2, a usage error (TCP, the default, works the same everywhere).
#[cfg(windows)]
pub fn listen_unix(_path: &Path, _say: &Narrator) -> Result<Listener> {
    no_unix_sockets::refuse()
}

/// See [`listen_unix`]: no Unix domain sockets here.
#[cfg(windows)]
pub fn connect_unix(_path: &Path, _say: &Narrator) -> Result<Stream> {
    no_unix_sockets::refuse()
}

/// Stand-ins for std's Unix socket types where std has none: types with no values, so every
/// `match` above stays as it is and the `Unix` arms can never run.
#[cfg(windows)]
mod no_unix_sockets {
    use std::io;
    use std::net::Shutdown;
    use std::path::Path;
    use std::time::Duration;

    pub enum UnixListener {}
    pub enum UnixStream {}

    pub fn refuse<T>() -> anyhow::Result<T> {
        eprintln!("error: this system has no Unix domain sockets in Rust's standard library (--unix)");
        eprintln!("hint: leave out --unix: the same protocol runs over TCP");
        std::process::exit(2)
    }

    impl UnixListener {
        pub fn accept(&self) -> io::Result<(UnixStream, ())> {
            match *self {}
        }
    }

    impl UnixStream {
        pub fn connect(_path: &Path) -> io::Result<UnixStream> {
            Err(io::ErrorKind::Unsupported.into())
        }
        pub fn try_clone(&self) -> io::Result<UnixStream> {
            match *self {}
        }
        pub fn set_read_timeout(&self, _timeout: Option<Duration>) -> io::Result<()> {
            match *self {}
        }
        pub fn set_write_timeout(&self, _timeout: Option<Duration>) -> io::Result<()> {
            match *self {}
        }
        pub fn set_nonblocking(&self, _nonblocking: bool) -> io::Result<()> {
            match *self {}
        }
        pub fn shutdown(&self, _how: Shutdown) -> io::Result<()> {
            match *self {}
        }
    }

    impl io::Read for UnixStream {
        fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
            match *self {}
        }
    }

    impl io::Write for UnixStream {
        fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
            match *self {}
        }
        fn flush(&mut self) -> io::Result<()> {
            match *self {}
        }
    }
}

// ANCHOR: unix
/// AF_UNIX: socket + bind(PATH) + listen. bind creates the socket file and never replaces an
/// existing one, so a file already at PATH is looked at first:
/// - a socket someone answers on: another server's — refuse, and leave it alone;
/// - a socket nobody answers on (connect is refused): left by a server that crashed — remove it;
/// - anything else (a regular file, a directory): not ours to delete — refuse.
#[cfg(unix)]
pub fn listen_unix(path: &Path, say: &Narrator) -> Result<Listener> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(Advice {
                    error: format!("{shown} is in use: another server is listening on it"),
                    hint: "stop that server first, or choose another --unix PATH".into(),
                }
                .into());
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path)
                    .with_context(|| format!("failed to remove the stale socket {shown}"))?;
                narrate!(
                    say,
                    warn(format!(
                        "removed {shown}: a socket file nobody listens on, left by a server that \
                     did not clean up (a crash, or kill -9)"
                    ))
                );
            }
            Err(e) => return Err(e).with_context(|| format!("failed to probe {shown}")),
        },
        Ok(_) => {
            return Err(Advice {
                error: format!("{shown} exists and is not a socket"),
                hint: "refusing to replace a file that is not ours: choose another --unix PATH"
                    .into(),
            }
            .into());
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("failed to look at {shown}")),
    }
    // The file's permissions decide who may connect. umask 0177 creates it rw------- (only this
    // user), with no moment in which it is open to everyone; the old umask is restored at once.
    // SAFETY: umask(2) cannot fail and touches no memory.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener = bound.with_context(|| format!("failed to bind {shown}"))?;
    narrate!(
        say,
        call(
            format!("socket(AF_UNIX) + bind({shown}) + listen()"),
            "listening; the socket file is rw------- (owner only)",
        )
    );
    Ok(Listener::Unix(listener, SocketFile(path.to_path_buf())))
}
// ANCHOR_END: unix

/// AF_UNIX: socket + connect(PATH).
#[cfg(unix)]
pub fn connect_unix(path: &Path, say: &Narrator) -> Result<Stream> {
    let stream = UnixStream::connect(path)
        .with_context(|| format!("failed to connect to {}", path.display()))?;
    narrate!(
        say,
        call(
            format!("socket(AF_UNIX) + connect({})", path.display()),
            "connected",
        )
    );
    Ok(Stream::Unix(stream))
}
