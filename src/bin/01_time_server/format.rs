//! What lesson 01's server sends and its client prints: the time, in one of two formats.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use workbook::kit::narrate::show_bytes;

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
            Format::Rfc868 => {
                let unix = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                // 32 bits of seconds since 1900 run out in February 2036: RFC 868 wraps then.
                let since_1900 = (unix + SECONDS_1900_TO_1970) as u32;
                // Network byte order is big-endian: the most significant byte goes first.
                since_1900.to_be_bytes().to_vec()
            }
        }
    }
}

/// The client's contract on stdout: the time, one line.
pub fn print_time(reply: &[u8], format: Format) -> Result<()> {
    let line = match format {
        Format::Rfc3339 => String::from_utf8_lossy(reply).trim_end().to_string(),
        Format::Rfc868 => {
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
            humantime::format_rfc3339(UNIX_EPOCH + Duration::from_secs(unix)).to_string()
        }
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").context("failed to write to stdout")
}
