//! Lesson 08's client: one request per `ACTION VALUE`, each response printed — JSON
//! pretty-printed, binary content as a summary with its CRC-32.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::kit::narrate::{Narrator, narrate, show_bytes};

use super::framing::{MAX_CONTENT, Message, crc32, read_message, write_message};
use super::wire::Stream;

/// The client gives up when the server sends nothing for this long.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// One request: an action and its value.
pub struct Request {
    action: String,
    value: Option<String>,
}

impl Request {
    /// `client ACTION [VALUE]`.
    pub fn new(action: String, value: Option<String>) -> Request {
        Request { action, value }
    }

    /// A line of stdin, `ACTION VALUE…` (the value is the rest of the line); `None` if blank.
    fn parse(line: &str) -> Option<Request> {
        let line = line.trim_end_matches(['\n', '\r']);
        let (action, value) = match line.split_once(' ') {
            Some((action, value)) => (action, Some(value.to_string())),
            None => (line, None),
        };
        (!action.is_empty()).then(|| Request::new(action.to_string(), value))
    }

    // ANCHOR: request
    /// `echo` sends its value as binary content; every other action is a JSON request.
    pub fn message(&self) -> Message {
        match (self.action.as_str(), &self.value) {
            ("echo", Some(value)) => Message::binary(value.clone().into_bytes()),
            (action, Some(value)) => Message::json(&json!({"action": action, "value": value})),
            (action, None) => Message::json(&json!({ "action": action })),
        }
    }
    // ANCHOR_END: request
}

/// Send the request given, or one per line of stdin; print each response; then close.
pub fn run(stream: Stream, request: Option<Request>, say: &Narrator) -> Result<()> {
    match request {
        Some(request) => talk(stream, [Ok(request)], say),
        None => talk(stream, stdin_requests(), say),
    }
}

/// Each line of stdin as a request, blank lines skipped; bounded like everything else.
fn stdin_requests() -> impl Iterator<Item = Result<Request>> {
    let mut stdin = std::io::stdin().lock();
    std::iter::from_fn(move || {
        loop {
            let mut line = Vec::new();
            let n = match (&mut stdin)
                .take(MAX_CONTENT + 2)
                .read_until(b'\n', &mut line)
            {
                Ok(n) => n,
                Err(e) => return Some(Err(anyhow!(e).context("failed to read stdin"))),
            };
            if n == 0 {
                return None;
            }
            if line.len() as u64 > MAX_CONTENT + 1 {
                return Some(Err(anyhow!(
                    "a line of stdin is longer than {MAX_CONTENT} bytes"
                )));
            }
            let Ok(text) = String::from_utf8(line) else {
                return Some(Err(anyhow!("a line of stdin is not UTF-8")));
            };
            if let Some(request) = Request::parse(&text) {
                return Some(Ok(request));
            }
        }
    })
}

/// Send each request and print each response, in order, on one connection; then shut down our
/// side and wait for the server to close.
pub fn talk(
    stream: Stream,
    requests: impl IntoIterator<Item = Result<Request>>,
    say: &Narrator,
) -> Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone().context("failed to clone the socket")?);
    let mut writer = stream;
    let mut stdout = std::io::stdout().lock();
    for request in requests {
        exchange(&mut reader, &mut writer, &request?, &mut stdout, say)?;
    }
    writer
        .shutdown(Shutdown::Write)
        .context("shutdown() failed")?;
    narrate!(say, call("shutdown(SHUT_WR)", "ok: no more requests"));
    match read_message(&mut reader) {
        Ok(None) => narrate!(
            say,
            call("recv() → 0 bytes, close()", "the server closed; so do we")
        ),
        Ok(Some(extra)) => bail!(
            "the server sent a frame we did not ask for: {}",
            show_bytes(&extra.content, 40)
        ),
        Err(e) => return Err(e).context("failed waiting for the server to close"),
    }
    Ok(())
}

// ANCHOR: exchange
/// One request out, one response in, printed.
fn exchange(
    reader: &mut impl std::io::Read,
    writer: &mut Stream,
    request: &Request,
    out: &mut impl Write,
    say: &Narrator,
) -> Result<()> {
    let message = request.message();
    write_message(writer, &message).context("failed to send the request")?;
    narrate!(
        say,
        call(
            "sendall(frame)",
            format!(
                "{} bytes of {}",
                message.content.len(),
                message.header.content_type
            ),
        )
    );
    let response = read_message(reader)
        .context("failed to read the response")?
        .ok_or_else(|| anyhow!("the server closed the connection without answering"))?;
    narrate!(
        say,
        call(
            "read_message()",
            format!(
                "{} bytes of {}",
                response.content.len(),
                response.header.content_type
            ),
        )
    );
    if !response.is_json() {
        let (length, crc) = (response.content.len(), crc32(&response.content));
        writeln!(out, "binary: {length} bytes, crc32 {crc:08x}")?;
        out.flush()?;
        return Ok(());
    }
    let value: Value =
        serde_json::from_slice(&response.content).context("the response is not valid JSON")?;
    writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    out.flush()?;
    if let Some(error) = value.get("error") {
        let error = error
            .as_str()
            .map_or_else(|| error.to_string(), str::to_string);
        bail!("the server refused the request: {error}");
    }
    Ok(())
}
// ANCHOR_END: exchange

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_lines_are_action_and_value() {
        let r = Request::parse("search big endian\n").unwrap();
        assert_eq!(
            (r.action.as_str(), r.value.as_deref()),
            ("search", Some("big endian"))
        );
        let r = Request::parse("time\n").unwrap();
        assert_eq!((r.action.as_str(), r.value), ("time", None));
        assert!(Request::parse("\n").is_none());
    }
}
