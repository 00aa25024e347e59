//! What lesson 02 taught, packaged for the lessons that build on it (04, 05).
//!
//! Lesson 02's binary (`src/bin/02_echo.rs`) is where the echo is *taught*, call by call. Lessons
//! 04 and 05 keep the same wire contract and change only *who* serves each connection (a thread
//! per client, a pool of workers), so the parts they share with 02 live here and their binaries
//! show only what is new:
//!
//! - [`echo_until_closed`] — the server's recv → send loop for one connection;
//! - [`client`] — lesson 02's client: send each message (or each stdin line), print each whole
//!   echo, then `shutdown(SHUT_WR)` and wait for the server to close.
//!
//! Everything narrates through the [`Narrator`] it is given, so a thread can pass its own.

use std::io::{BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::kit::narrate::{Narrator, show_bytes};
use crate::kit::net::connect;

/// The course's buffer size: one read returns at most this many bytes, often fewer.
pub const READ_SIZE: usize = 1024;

/// Per connection, narrate this many reads; after that only the total (a 1 MiB echo takes a
/// thousand reads).
const NARRATED_READS: usize = 3;

/// The client gives up when the server sends nothing for this long. A busy server may keep a
/// client waiting (iterative in 02, every worker busy in 05), so this is generous.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest stdin line the client accepts as one message: every buffer has a limit.
const MAX_LINE: usize = 64 << 20;

/// What the server does to the bytes before sending them back: `--upper` or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// Send every byte back unchanged.
    Echo,
    /// Upper-case ASCII letters, byte by byte; every other byte unchanged.
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

    /// Apply to one read's worth of bytes in place. Byte by byte, so it does not matter where
    /// the stream was split; bytes of UTF-8's multi-byte characters are not ASCII and stay.
    pub fn apply(self, data: &mut [u8]) {
        if self == Transform::Upper {
            data.make_ascii_uppercase();
        }
    }
}

/// Echo one connection: recv → transform → sendall, until recv returns 0 (the client shut
/// down its sending side). Returns the bytes echoed and the number of reads.
pub fn echo_until_closed(
    mut stream: &TcpStream,
    transform: Transform,
    say: &Narrator,
) -> std::io::Result<(u64, usize)> {
    let mut buf = [0u8; READ_SIZE];
    let (mut bytes, mut reads) = (0u64, 0usize);
    loop {
        // Whatever has arrived, 1 to READ_SIZE bytes: a read is not a message.
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok((bytes, reads));
        }
        let data = &mut buf[..n];
        transform.apply(data);
        stream.write_all(data)?;
        reads += 1;
        bytes += n as u64;
        if reads <= NARRATED_READS {
            say.call(
                format!("recv({READ_SIZE}) + sendall"),
                format!("{n} bytes {}", show_bytes(data, 24)),
            );
        } else if reads == NARRATED_READS + 1 {
            say.note("… more reads; only the total is shown from here on");
        }
    }
}

/// Lesson 02's client, whole: connect, echo each message (each stdin line when `messages` is
/// empty) and print it on stdout, then finish. The `client` subcommand of 02, 04 and 05.
pub fn client(addrs: &[SocketAddr], messages: &[String], say: &Narrator) -> Result<()> {
    let stream = connect(addrs, say)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    let mut stdout = std::io::stdout().lock();
    let mut print = |echo: Vec<u8>| -> Result<()> {
        stdout.write_all(&echo)?;
        stdout.flush()?;
        Ok(())
    };
    if messages.is_empty() {
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

/// Send `message` and read back exactly as many bytes. The sending happens on a second thread:
/// sending everything before reading deadlocks once the echo fills the socket buffers.
pub fn echo_one(stream: &TcpStream, message: &[u8], say: &Narrator) -> Result<Vec<u8>> {
    let mut writer = stream.try_clone().context("failed to clone the socket")?;
    std::thread::scope(|scope| {
        let sending = scope.spawn(move || writer.write_all(message));
        let mut echo = vec![0u8; message.len()];
        let (mut filled, mut reads) = (0, 0);
        while filled < echo.len() {
            let n = (&*stream)
                .read(&mut echo[filled..])
                .context("failed to read the echo")?;
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
            format!("echo back in {reads} read(s): {}", show_bytes(&echo, 24)),
        );
        Ok(echo)
    })
}

/// shutdown(SHUT_WR), then read until the server closes (it must send nothing more), close.
pub fn finish(stream: TcpStream, say: &Narrator) -> Result<()> {
    stream
        .shutdown(Shutdown::Write)
        .context("shutdown() failed")?;
    say.call("shutdown(SHUT_WR)", "ok: we will send nothing more");
    let mut rest = Vec::new();
    (&stream)
        .take(READ_SIZE as u64)
        .read_to_end(&mut rest)
        .context("failed waiting for the server to close")?;
    if !rest.is_empty() {
        bail!(
            "the server sent {} bytes we did not ask for: {}",
            rest.len(),
            show_bytes(&rest, 40)
        );
    }
    drop(stream);
    say.call("recv() → 0 bytes, close()", "the server closed; so do we");
    Ok(())
}

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
}
