//! Evidence: what a check returns. At the bottom of the checker, importing nothing from it, so
//! the harness (which builds failures) and the checks (which return them) both stand on it.

use std::fmt;

use crate::kit::narrate::show_bytes;

/// The result of one check.
pub type Outcome = Result<(), Failure>;

/// Why a check failed, with the evidence a student needs to see what went wrong.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong, in one sentence.
    pub reason: String,
    /// The command line that was run.
    pub command: Option<String>,
    /// What the check sent.
    pub sent: Option<Vec<u8>>,
    /// What the check expected, described.
    pub expected: Option<String>,
    /// What came back.
    pub received: Option<Vec<u8>>,
    /// For a client check: what the test's own server received from the client.
    pub server_saw: Option<Vec<u8>>,
    /// The program's stderr (its narration and errors).
    pub stderr: Option<Vec<u8>>,
}

impl Failure {
    /// A failure with only a reason; add evidence with the builder methods.
    pub fn new(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            ..Failure::default()
        }
    }

    /// For `map_err`: an I/O error while doing `what` (`reading the reply`).
    pub fn io(what: &'static str) -> impl Fn(std::io::Error) -> Failure {
        move |e| Failure::new(format!("{what}: {e}"))
    }

    /// The command line that was run (kept if already set).
    pub fn command(mut self, command: &str) -> Failure {
        self.command.get_or_insert_with(|| command.to_string());
        self
    }

    /// What the check sent.
    pub fn sent(mut self, sent: impl Into<Vec<u8>>) -> Failure {
        self.sent = Some(sent.into());
        self
    }

    /// What the check expected.
    pub fn expected(mut self, expected: impl Into<String>) -> Failure {
        self.expected = Some(expected.into());
        self
    }

    /// What came back (kept if already set: the first evidence is the most specific).
    pub fn received(mut self, received: impl Into<Vec<u8>>) -> Failure {
        self.received.get_or_insert_with(|| received.into());
        self
    }

    /// For a client check: what the test's server received from the client (kept if already
    /// set).
    pub fn server_saw(mut self, bytes: impl Into<Vec<u8>>) -> Failure {
        self.server_saw.get_or_insert_with(|| bytes.into());
        self
    }

    /// The program's stderr (kept if already set).
    pub fn stderr(mut self, stderr: impl Into<Vec<u8>>) -> Failure {
        self.stderr.get_or_insert_with(|| stderr.into());
        self
    }

    /// Put `context` in front of the reason: `client 2: connection closed after 0 of 5 bytes`.
    pub fn context(mut self, context: impl fmt::Display) -> Failure {
        self.reason = format!("{context}: {}", self.reason);
        self
    }

    /// Add `suffix` to the reason.
    pub fn with_reason_suffix(mut self, suffix: impl fmt::Display) -> Failure {
        self.reason = format!("{}{suffix}", self.reason);
        self
    }
}

/// How many bytes of sent/received data a failure shows.
const SHOW_BYTES: usize = 160;
/// How many characters of a text field (reason, command, expected) a failure shows.
pub const SHOW_TEXT_CHARS: usize = 400;
/// How many characters of one line of a program's output a report shows (a scorecard's stderr
/// lines, the line a program that did not start printed).
pub const SHOW_LINE_CHARS: usize = 200;

/// `text` cut at `max` characters, with its full length shown when cut: no evidence field can
/// flood a terminal (an `expected` built from a 1 MiB message, say).
pub fn cap_text(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… ({total} characters)")
}
/// How many of the program's last stderr lines a failure shows.
const SHOW_STDERR_LINES: usize = 8;

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", cap_text(&self.reason, SHOW_TEXT_CHARS))?;
        if let Some(command) = &self.command {
            write!(f, "\n  command:  {}", cap_text(command, SHOW_TEXT_CHARS))?;
        }
        if let Some(sent) = &self.sent {
            write!(f, "\n  sent:     {}", show_bytes(sent, SHOW_BYTES))?;
        }
        if let Some(expected) = &self.expected {
            write!(f, "\n  expected: {}", cap_text(expected, SHOW_TEXT_CHARS))?;
        }
        if let Some(received) = &self.received {
            write!(f, "\n  received: {}", show_bytes(received, SHOW_BYTES))?;
        }
        if let Some(saw) = &self.server_saw {
            write!(f, "\n  server saw: {}", show_bytes(saw, SHOW_BYTES))?;
        }
        if let Some(stderr) = self.stderr.as_ref().filter(|s| !s.is_empty()) {
            let text = String::from_utf8_lossy(stderr);
            let lines: Vec<&str> = text.lines().collect();
            let skipped = lines.len().saturating_sub(SHOW_STDERR_LINES);
            write!(f, "\n  stderr:")?;
            if skipped > 0 {
                write!(f, " (last {SHOW_STDERR_LINES} of {} lines)", lines.len())?;
            }
            for line in &lines[skipped..] {
                let line: String = line.chars().take(200).collect();
                write!(f, "\n    | {line}")?;
            }
        }
        Ok(())
    }
}

/// Shown by `cargo test` when a test returns `Err(failure)`: the same as `Display`.
impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failure {}

/// Fail the check with `failure` unless `condition` holds.
pub fn ensure(condition: bool, failure: impl FnOnce() -> Failure) -> Outcome {
    if condition { Ok(()) } else { Err(failure()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_show_their_evidence() {
        let text = Failure::new("wrong echo")
            .command("prog server")
            .sent(b"hi".to_vec())
            .expected("b\"hi\"")
            .received(b"h".to_vec())
            .stderr(b"line 1\nline 2\n".to_vec())
            .to_string();
        for part in [
            "wrong echo",
            "command:  prog server",
            "sent:     b\"hi\"",
            "received: b\"h\"",
            "| line 2",
        ] {
            assert!(text.contains(part), "{part} missing from:\n{text}");
        }
    }

    #[test]
    fn no_field_floods() {
        let huge = "x".repeat(1 << 20);
        let text = Failure::new(huge.clone())
            .command(&huge)
            .expected(huge.clone())
            .received(huge.clone().into_bytes())
            .server_saw(huge.into_bytes())
            .to_string();
        assert!(text.len() < 4000, "{} bytes", text.len());
        assert!(text.contains("… (1048576 characters)"), "{text}");
        assert!(text.contains("server saw: "), "{text}");
    }
}
