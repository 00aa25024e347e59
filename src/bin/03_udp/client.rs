//! The `client` mode around the lesson's calls (`open`, `exchange` in `main.rs`): where the
//! messages come from, where the echoes go, and the two errors a UDP client must explain.

use std::ffi::OsString;
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use anyhow::{Context, Result};
use workbook::kit::errors::Advice;
use workbook::kit::narrate::Narrator;

use crate::{BUFFER, LESSON, Patience, exchange};

/// The most one datagram can carry over IPv4: 65 535 bytes (the IP packet's 16-bit length)
/// minus the 20-byte IPv4 header and the 8-byte UDP header.
const MAX_PAYLOAD_V4: usize = 65_507;

/// The most one datagram can carry over IPv6: IPv6's length field does not count its own
/// 40-byte header, so only the 8-byte UDP header comes off 65 535.
const MAX_PAYLOAD_V6: usize = 65_527;

/// Echo each message (each line of stdin when there are none), print each echo, then close.
pub fn run(
    socket: UdpSocket,
    server: SocketAddr,
    timeout: Duration,
    retries: u32,
    messages: &[OsString],
    say: &Narrator,
) -> Result<()> {
    let patience = Patience { timeout, retries };
    let mut stdout = std::io::stdout().lock();
    let mut echo = |message: &[u8]| -> Result<()> {
        let reply = exchange(&socket, server, message, patience, say)?;
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
        for message in messages {
            echo(message.as_bytes())?;
        }
    }
    drop(socket);
    say.call("close()", "ok");
    Ok(())
}

/// A message that cannot fit in one datagram is an error before anything is sent: UDP does not
/// split a message for you, and the kernel would refuse it (EMSGSIZE, "message too long").
pub fn check_size(message: &[u8], server: SocketAddr) -> Result<()> {
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
pub fn no_reply(server: SocketAddr, tries: u64) -> anyhow::Error {
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
