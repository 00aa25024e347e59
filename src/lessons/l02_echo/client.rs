//! Lesson 02's client, whole ([`run`]): connect, send each message (or each stdin line), read
//! back each whole echo ([`echo_one`]) and print it, then `shutdown(SHUT_WR)` and wait for the
//! server to close ([`finish`]). It is the `client` of lessons 04 and 05 too.

use std::io::{BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::server::READ_SIZE;
use crate::kit::narrate::{Narrator, narrate, show_bytes};
use crate::kit::net::connect;

// ANCHOR: client
/// The client, whole: connect, echo each message (each line of stdin when `messages` is empty)
/// and print the echo on stdout, then finish. The `client` subcommand of 02, 04 and 05.
pub fn run(addrs: &[SocketAddr], messages: &[String], say: &Narrator) -> Result<()> {
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
// ANCHOR_END: client

// ANCHOR: echo_one
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
        narrate!(
            say,
            call(
                format!("sendall({})", show_bytes(message, 24)),
                format!("{} bytes", message.len()),
            )
        );
        narrate!(
            say,
            call(
                "recv() until the whole echo is in",
                format!("{} bytes in {reads} read(s)", echo.len()),
            )
        );
        Ok(echo)
    })
}
// ANCHOR_END: echo_one

// ANCHOR: timeout
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
// ANCHOR_END: timeout

// ANCHOR: finish
/// shutdown(SHUT_WR): "I will send nothing more". The server's read returns 0, it closes, and
/// our read returns 0 too: both sides agree the conversation is over.
pub fn finish(stream: TcpStream, say: &Narrator) -> Result<()> {
    match stream.shutdown(Shutdown::Write) {
        Ok(()) => narrate!(say, call("shutdown(SHUT_WR)", "ok: no more data from us")),
        // The server closed first (is it an echo server?): what it sent is read below.
        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => narrate!(
            say,
            call(
                "shutdown(SHUT_WR)",
                "the server had already closed the connection",
            )
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
    narrate!(say, call("recv()", "0 bytes: the server closed"));
    drop(stream);
    narrate!(say, call("close()", "ok"));
    Ok(())
}
// ANCHOR_END: finish

/// The client gives up when the server sends nothing for this long. A busy server may keep a
/// client waiting (iterative in 02, every worker busy in 05), so this is generous.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest stdin line the client accepts as one message: every buffer has a limit.
const MAX_LINE: usize = 64 << 20;

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
