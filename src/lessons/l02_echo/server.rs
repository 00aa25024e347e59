//! Lesson 02's server: accept one client, echo until it is done, close, accept the next
//! ([`serve`]); the echo itself is [`echo_until_closed`], recv → sendall until the client shuts
//! down its side. Lessons 04 and 05 serve each connection with this very loop, by this name
//! (`lessons::l02_echo::server::echo_until_closed`), with the same [`IdleTimeout`] and
//! [`Transform`]. `listen` is `kit::net::listen` (std's `TcpListener::bind`, narrated), called by
//! `cli.rs`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::kit::narrate::{Narrator, narrate, show_bytes};
use crate::kit::shutdown::Stop;

// ANCHOR: serve
/// accept one client, echo until it is done, close, accept the next: an iterative server.
pub fn serve(
    listener: &TcpListener,
    transform: Transform,
    idle: IdleTimeout,
    stop: &Stop,
    say: &Narrator,
) -> Result<()> {
    // `stop` is the test hook `--exit-after K`: it is set once the K-th client is accepted.
    while !stop.is_stopped() {
        narrate!(
            say,
            note("waiting in accept(); any other client waits in the listen queue meanwhile")
        );
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accept() failed"),
        };
        stop.accepted();
        narrate!(say, call("accept()", format!("connection from {peer}")));
        // recv → sendall until the client is done: lesson 02's echo loop, below
        // (lessons 04 and 05 reuse it). One client's failure (a reset, a vanished peer)
        // ends that connection, not the server. A client that sends nothing would hold the
        // server — and everyone queued behind it — forever: hence `--idle-timeout-ms`.
        match idle
            .apply(&stream)
            .and_then(|()| echo_until_closed(&stream, transform, say))
        {
            Ok((bytes, reads)) => narrate!(
                say,
                call(
                    "recv()",
                    format!("0 bytes: {peer} closed its side after {bytes} bytes in {reads} reads"),
                )
            ),
            Err(e) if IdleTimeout::is_expiry(&e) => narrate!(
                say,
                call(
                    "recv()/send()",
                    format!(
                        "nothing for {} ms (--idle-timeout-ms): closing {peer}",
                        idle.ms
                    ),
                )
            ),
            Err(e) => narrate!(
                say,
                call("recv()/send()", format!("failed: {e}; dropping {peer}"))
            ),
        }
        // close(): dropping the stream closes it; the client's last read returns 0 bytes.
        drop(stream);
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

// ANCHOR: echo_loop
/// recv → send, until recv returns 0 bytes (the client shut down its sending side).
/// Returns how many bytes were echoed and in how many reads.
pub fn echo_until_closed(
    mut stream: &TcpStream,
    transform: Transform,
    say: &Narrator,
) -> std::io::Result<(u64, usize)> {
    // TCP_NODELAY: send each echo the moment we write it. Without it, Nagle's algorithm holds
    // a small last segment back until the client ACKs what is in flight, and the client delays
    // that ACK by up to 40 ms: a 64 KiB echo, written 1024 bytes at a time, then crawls at
    // 1.5 MB/s. An echo server's writes are replies, with nothing to gain from waiting.
    stream.set_nodelay(true)?;
    narrate!(
        say,
        call("setsockopt(TCP_NODELAY, 1)", "each write is sent at once")
    );
    let mut buf = [0u8; READ_SIZE];
    let (mut total, mut reads) = (0u64, 0usize);
    loop {
        // recv(1024) returns whatever has arrived, 1 to 1024 bytes — not "a message". It blocks
        // while nothing has arrived; 0 means the client will send nothing more.
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            // EINTR: a signal (Ctrl-C, SIGTERM) landed on this thread. The kernel restarts most
            // calls after a signal handler, but never a recv() with a timeout (--idle-timeout-ms
            // sets SO_RCVTIMEO; see signal(7)): try again, the client is still being served.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok((total, reads));
        }
        reads += 1;
        total += n as u64;
        let data = &mut buf[..n];
        transform.apply(data);
        // Narrated before the send, so that the read is told before the client can see its echo.
        let narrated = reads <= NARRATED_READS;
        if narrated {
            narrate!(
                say,
                call(
                    format!("recv({READ_SIZE})"),
                    format!("{n} bytes {}", show_bytes(data, 24)),
                )
            );
        }
        // sendall(): write_all loops until the kernel has taken every byte.
        stream.write_all(data)?;
        if narrated {
            narrate!(say, call(format!("sendall({n} bytes)"), "ok"));
        } else if reads == NARRATED_READS + 1 {
            narrate!(
                say,
                note("… more reads; only the total is shown from here on")
            );
        }
    }
}
// ANCHOR_END: echo_loop

/// The course's buffer size. A read returns *at most* this many bytes — often fewer.
pub const READ_SIZE: usize = 1024;

/// Narrate this many reads per connection, then only a summary: a 1 MiB message takes a
/// thousand reads, and the point is made after a few.
const NARRATED_READS: usize = 4;

/// `--idle-timeout-ms`'s default: a minute. Long enough that someone typing into `nc` who stops
/// to think is not cut off; short enough that silent connections hold the server (02), a thread
/// (04) or a worker (05) for a minute, not forever. Apache's `Timeout` has the same default.
pub const IDLE_TIMEOUT_MS: u64 = 60_000;

// ANCHOR: idle
/// `--idle-timeout-ms MS`, the servers' bound on a client that sends nothing (02, 04 and 05).
#[derive(clap::Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleTimeout {
    /// Close a connection that sends nothing (or reads none of its echo) for this long; 0: never.
    #[arg(long = "idle-timeout-ms", value_name = "MS", default_value_t = IDLE_TIMEOUT_MS)]
    pub ms: u64,
}

impl Default for IdleTimeout {
    fn default() -> Self {
        IdleTimeout {
            ms: IDLE_TIMEOUT_MS,
        }
    }
}

impl IdleTimeout {
    /// The limit, `None` for "never" (0).
    pub fn limit(self) -> Option<Duration> {
        (self.ms > 0).then(|| Duration::from_millis(self.ms))
    }

    /// Set the limit on `stream`: a recv() that waits longer, or a send() the client does not
    /// make room for in time, fails with a timeout ([`IdleTimeout::is_expiry`]).
    pub fn apply(self, stream: &TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(self.limit())?;
        stream.set_write_timeout(self.limit())
    }

    /// Whether `err` is this limit expiring (a socket timeout shows as EAGAIN on Unix).
    pub fn is_expiry(err: &std::io::Error) -> bool {
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )
    }
}
// ANCHOR_END: idle

/// What the server does to the bytes before sending them back: `--upper` or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// Send every byte back unchanged.
    Echo,
    /// Upper-case ASCII letters, byte by byte; every other byte unchanged (the course's variation).
    Upper,
}

impl Transform {
    /// `--upper` → [`Transform::Upper`].
    pub fn from_flag(upper: bool) -> Transform {
        if upper {
            Transform::Upper
        } else {
            Transform::Echo
        }
    }

    /// Apply to one read's worth of bytes in place. Byte by byte, so it works however the stream
    /// was split into reads; bytes that are not ASCII letters (including every byte of UTF-8's
    /// multi-byte characters) stay.
    pub fn apply(self, data: &mut [u8]) {
        if self == Transform::Upper {
            data.make_ascii_uppercase();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::net::connect;
    use crate::lessons::l02_echo::client::{echo_one, finish};

    #[test]
    fn upper_changes_ascii_letters_only() {
        let mut data = "abc é 1\n".as_bytes().to_vec();
        Transform::Upper.apply(&mut data);
        assert_eq!(data, "ABC é 1\n".as_bytes());
        Transform::Echo.apply(&mut data);
        assert_eq!(data, "ABC é 1\n".as_bytes());
    }

    #[test]
    fn server_loop_and_client_agree() {
        let quiet = Narrator::new("test", true);
        let listener = crate::kit::net::listen("127.0.0.1:0".parse().unwrap(), &quiet).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::scope(|scope| {
            let serving = scope.spawn(|| {
                let (stream, _) = listener.accept().unwrap();
                echo_until_closed(&stream, Transform::Upper, &quiet).unwrap()
            });
            let stream = connect(&[addr], &quiet).unwrap();
            let big = vec![b'x'; 300_000];
            assert_eq!(echo_one(&stream, b"hi\n", &quiet).unwrap(), b"HI\n");
            assert_eq!(
                echo_one(&stream, &big, &quiet).unwrap(),
                vec![b'X'; 300_000]
            );
            finish(stream, &quiet).unwrap();
            assert_eq!(serving.join().unwrap().0, 300_003);
        });
    }
}
