//! What lesson 01's server sends and its client prints: the time, in one of two formats.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::kit::errors::Advice;
use crate::kit::narrate::show_bytes;
use anyhow::{Context, Result, bail};

/// RFC 868 counts seconds from 1900-01-01T00:00:00Z; Unix time counts from 1970. The gap is 70
/// years including 17 leap days: (70 × 365 + 17) × 86 400 seconds.
const SECONDS_1900_TO_1970: u64 = 2_208_988_800;

/// What the server sends: the course's human-readable time, or the Internet's RFC 868 time.
#[derive(Clone, Copy)]
pub enum Format {
    Rfc3339,
    Rfc868,
}

impl Format {
    pub fn from_flag(rfc868: bool) -> Format {
        if rfc868 {
            Format::Rfc868
        } else {
            Format::Rfc3339
        }
    }

    /// The bytes to send for the current time.
    pub fn now(self) -> Vec<u8> {
        let now = SystemTime::now();
        match self {
            // e.g. `2026-11-25T09:41:07.123Z` — UTC (`Z`), so every client reads the same instant.
            Format::Rfc3339 => format!("{}\n", humantime::format_rfc3339_millis(now)).into_bytes(),
            // ANCHOR: byte_order
            Format::Rfc868 => {
                let unix = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                // 32 bits of seconds since 1900 run out in February 2036: RFC 868 wraps then.
                let since_1900 = (unix + SECONDS_1900_TO_1970) as u32;
                // Network byte order is big-endian: the most significant byte goes first.
                since_1900.to_be_bytes().to_vec()
            } // ANCHOR_END: byte_order
        }
    }
}

/// The client's contract on stdout: the time, one line.
pub fn print_time(reply: &[u8], format: Format) -> Result<()> {
    let line = match format {
        // 4 bytes and no newline is not a time line: it is what a `--rfc868` server sends.
        Format::Rfc3339 if reply.len() == 4 && !reply.ends_with(b"\n") => {
            let as_rfc868 = rfc868_time(reply).unwrap_or_else(|e| e.to_string());
            return Err(Advice {
                error: format!(
                    "the reply is 4 bytes ({}), not a line of text: RFC 868 time ({as_rfc868})",
                    show_bytes(reply, 40)
                ),
                hint: "the server runs with --rfc868: run the client with --rfc868 too".into(),
            }
            .into());
        }
        Format::Rfc3339 => String::from_utf8_lossy(reply).trim_end().to_string(),
        Format::Rfc868 => rfc868_time(reply)?,
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").context("failed to write to stdout")
}

/// 4 bytes of RFC 868 (big-endian seconds since 1900) as an RFC 3339 instant.
fn rfc868_time(reply: &[u8]) -> Result<String> {
    let Ok(bytes) = <[u8; 4]>::try_from(reply) else {
        bail!(
            "expected 4 bytes of RFC 868 time, got {} ({}): is the server running with --rfc868?",
            reply.len(),
            show_bytes(reply, 40)
        );
    };
    let since_1900 = u64::from(u32::from_be_bytes(bytes));
    let unix = since_1900
        .checked_sub(SECONDS_1900_TO_1970)
        .context("RFC 868 time before 1970")?;
    Ok(humantime::format_rfc3339(UNIX_EPOCH + Duration::from_secs(unix)).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_line_client_recognises_rfc868_and_says_so() {
        // 2026-11-25T09:41:07Z in RFC 868, as a `--rfc868` server sends it.
        let err = print_time(&[0xEE, 0xB1, 0x2B, 0xB3], Format::Rfc3339).unwrap_err();
        let advice = err.downcast_ref::<Advice>().expect("an error with a hint");
        assert!(
            advice.error.contains("2026-11-25T09:41:07Z"),
            "{}",
            advice.error
        );
        assert!(advice.hint.contains("--rfc868"), "{}", advice.hint);
    }

    #[test]
    fn rfc868_bytes_are_big_endian_seconds_since_1900() {
        let time = rfc868_time(&[0xEE, 0xB1, 0x2B, 0xB3]).unwrap();
        assert_eq!(time, "2026-11-25T09:41:07Z");
        assert!(rfc868_time(b"2026\n").is_err());
    }
}
