//! Lesson 02's echo — the server's per-connection loop and the whole client — in one copy.
//!
//! Lesson 02 teaches this code (its page shows it from here); its binary,
//! `src/bin/02_echo/main.rs`, keeps only what is 02's alone: the iterative accept loop. Lessons 04
//! and 05 keep the same wire contract and change only *who* serves each connection (a thread per
//! client, a pool of workers), so they call the same functions:
//!
//! - [`echo_until_closed`] — the server's recv → sendall loop for one connection;
//! - [`client`] — the client: connect, send each message (or each stdin line), print each whole
//!   echo, then `shutdown(SHUT_WR)` and wait for the server to close ([`echo_one`], [`finish`]).
//!
//! Everything narrates through the [`Narrator`] it is given, so a thread can pass its own.

use std::io::{BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::kit::narrate::{Narrator, show_bytes};
use crate::kit::net::connect;

/// The course's buffer size. A read returns *at most* this many bytes — often fewer.
pub const READ_SIZE: usize = 1024;

/// Narrate this many reads per connection, then only a summary: a 1 MiB message takes a
/// thousand reads, and the point is made after a few.
const NARRATED_READS: usize = 4;

/// The client gives up when the server sends nothing for this long. A busy server may keep a
/// client waiting (iterative in 02, every worker busy in 05), so this is generous.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

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

/// The longest stdin line the client accepts as one message: every buffer has a limit.
const MAX_LINE: usize = 64 << 20;

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
    say.call("setsockopt(TCP_NODELAY, 1)", "each write is sent at once");
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
            say.call(
                format!("recv({READ_SIZE})"),
                format!("{n} bytes {}", show_bytes(data, 24)),
            );
        }
        // sendall(): write_all loops until the kernel has taken every byte.
        stream.write_all(data)?;
        if narrated {
            say.call(format!("sendall({n} bytes)"), "ok");
        } else if reads == NARRATED_READS + 1 {
            say.note("… more reads; only the total is shown from here on");
        }
    }
}
// ANCHOR_END: echo_loop

// ANCHOR: client
/// The client, whole: connect, echo each message (each line of stdin when `messages` is empty)
/// and print the echo on stdout, then finish. The `client` subcommand of 02, 04 and 05.
pub fn client(addrs: &[SocketAddr], messages: &[String], say: &Narrator) -> Result<()> {
    // socket() + connect(): `net::connect`, shown with lesson 02's listen.
    let stream = connect(addrs, say)?;
    // settimeout(): a server that accepts and then says nothing must not hang us forever.
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    let mut stdout = std::io::stdout().lock();
    let mut print = |echo: Vec<u8>| -> Result<()> {
        stdout.write_all(&echo)?;
        stdout.flush()?;
        Ok(())
    };
    if messages.is_empty() {
        // Interactive (or piped): one message per line of stdin, echoed as it comes back.
        let mut stdin = std::io::stdin().lock();
        while let Some(line) = read_line(&mut stdin)? {
            print(echo_one(&stream, &line, say)?)?;
        }
    } else {
        for message in messages {
            print(echo_one(&stream, format!("{message}\n").as_bytes(), say)?)?;
        }
    }
    finish(stream, say)
}

/// Send one message and read back exactly as many bytes as were sent.
pub fn echo_one(stream: &TcpStream, message: &[u8], say: &Narrator) -> Result<Vec<u8>> {
    // Send on one thread while reading on this one. Sending everything first and reading
    // afterwards deadlocks on a large message: the server blocks sending an echo we are not
    // reading yet, so it stops reading, so our send blocks too.
    let mut writer = stream.try_clone().context("failed to clone the socket")?;
    std::thread::scope(|scope| {
        let sending = scope.spawn(move || writer.write_all(message));
        // The echo of our message is exactly message.len() bytes: read until we have them all,
        // however the stream happens to split them.
        let mut echo = vec![0u8; message.len()];
        let (mut filled, mut reads) = (0, 0);
        while filled < echo.len() {
            let n = (&*stream)
                .read(&mut echo[filled..])
                .map_err(|e| read_failed(e, "failed to read the echo", "waiting for the echo"))?;
            if n == 0 {
                bail!(
                    "the server closed the connection after echoing {filled} of {} bytes",
                    message.len()
                );
            }
            filled += n;
            reads += 1;
        }
        sending
            .join()
            .map_err(|_| anyhow::anyhow!("the sending thread panicked"))?
            .context("failed to send")?;
        say.call(
            format!("sendall({})", show_bytes(message, 24)),
            format!("{} bytes", message.len()),
        );
        say.call(
            "recv() until the whole echo is in",
            format!("{} bytes in {reads} read(s)", echo.len()),
        );
        Ok(echo)
    })
}

/// A failed read, in words: a timeout (`settimeout` above) says how long we waited and why a
/// server may be that slow, not the operating system's "Resource temporarily unavailable".
fn read_failed(e: std::io::Error, context: &str, waiting_for: &str) -> anyhow::Error {
    use std::io::ErrorKind;
    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
        return anyhow::Error::new(crate::kit::errors::Advice {
            error: format!(
                "timed out after {} s {waiting_for}: the server sent nothing",
                CLIENT_TIMEOUT.as_secs()
            ),
            hint: "the server accepted the connection but does not answer: an iterative server \
                   (lesson 02) serves one client at a time and may be busy with another client, \
                   every worker of a pool (lesson 05) may be busy; try again when it is free"
                .to_string(),
        });
    }
    anyhow::Error::new(e).context(context.to_string())
}

/// shutdown(SHUT_WR): "I will send nothing more". The server's read returns 0, it closes, and
/// our read returns 0 too: both sides agree the conversation is over.
pub fn finish(stream: TcpStream, say: &Narrator) -> Result<()> {
    match stream.shutdown(Shutdown::Write) {
        Ok(()) => say.call("shutdown(SHUT_WR)", "ok: no more data from us"),
        // The server closed first (is it an echo server?): what it sent is read below.
        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => say.call(
            "shutdown(SHUT_WR)",
            "the server had already closed the connection",
        ),
        Err(e) => return Err(e).context("shutdown() failed"),
    }
    let mut rest = Vec::new();
    (&stream)
        .take(READ_SIZE as u64)
        .read_to_end(&mut rest)
        .map_err(|e| {
            read_failed(
                e,
                "failed waiting for the server to close",
                "waiting for the server to close",
            )
        })?;
    if !rest.is_empty() {
        bail!(
            "the server sent {} bytes we did not ask for: {}",
            rest.len(),
            show_bytes(&rest, 40)
        );
    }
    say.call("recv()", "0 bytes: the server closed");
    drop(stream);
    say.call("close()", "ok");
    Ok(())
}
// ANCHOR_END: client

/// One line of stdin with its `\n` (added to a last line without one); `None` at the end.
fn read_line(input: &mut impl BufRead) -> Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = input
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)
        .context("failed to read stdin")?;
    if n == 0 {
        return Ok(None);
    }
    if line.len() > MAX_LINE {
        bail!("a line of stdin is longer than {MAX_LINE} bytes");
    }
    if !line.ends_with(b"\n") {
        line.push(b'\n');
    }
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn stdin_lines_get_their_newline() {
        let mut input = &b"one\ntwo"[..];
        assert_eq!(read_line(&mut input).unwrap().unwrap(), b"one\n");
        assert_eq!(read_line(&mut input).unwrap().unwrap(), b"two\n");
        assert_eq!(read_line(&mut input).unwrap(), None);
    }

    #[test]
    fn a_read_timeout_says_how_long_and_why() {
        let err = read_failed(
            std::io::Error::from(std::io::ErrorKind::WouldBlock),
            "failed to read the echo",
            "waiting for the echo",
        );
        assert_eq!(
            format!("{err:#}"),
            "timed out after 30 s waiting for the echo: the server sent nothing"
        );
        let hint = crate::kit::errors::hint("02_echo", &err).unwrap_or_default();
        assert!(hint.contains("busy with another client"), "{hint}");
    }
}
