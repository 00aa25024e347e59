//! Errors a beginner can act on: one `error: …` line, then a `hint: …` line for the errno values
//! every socket programmer meets (address in use, connection refused, permission denied, …).
//!
//! Lesson binaries return `anyhow::Result` with context that names the value
//! (`failed to bind 127.0.0.1:7002`); [`main`] prints the whole chain on one line, adds the hint,
//! and exits 1. Usage errors never get here: clap prints them and exits 2.

use std::io::{self, ErrorKind};
use std::process::ExitCode;

use crate::kit::cli::UnknownHost;

/// Run a lesson's `run` function the way every lesson binary does.
///
/// Sets up colour, runs, and on error prints `error: <chain>` and `hint: …` on stderr and exits
/// with status 1. `lesson` is the binary's name, used in hints (`cargo run --bin 02_echo -- server`).
pub fn main(lesson: &str, run: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    crate::kit::narrate::init_colour();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(lesson, &err);
            ExitCode::FAILURE
        }
    }
}

/// Print `err` as one `error:` line plus, when we know one, a `hint:` line.
pub fn report(lesson: &str, err: &anyhow::Error) {
    use colored::Colorize;
    eprintln!("{} {}", "error:".red().bold(), one_line(err));
    if let Some(hint) = hint(lesson, err) {
        eprintln!("{} {hint}", "hint:".yellow().bold());
    }
}

/// The error's chain of causes on one line, as `{err:#}` prints it — except that a read or write
/// that timed out says so, instead of the operating system's "Resource temporarily unavailable"
/// (EAGAIN is how a socket timeout set with `set_read_timeout` is reported).
pub fn one_line(err: &anyhow::Error) -> String {
    let causes: Vec<String> = err
        .chain()
        .map(|cause| match cause.downcast_ref::<io::Error>() {
            Some(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                "timed out: nothing arrived in time".to_string()
            }
            _ => cause.to_string(),
        })
        .collect();
    causes.join(": ")
}

/// An error that carries its own advice, for problems a lesson can explain better than the
/// errno hints can (lesson 03: "no reply — UDP promises nothing").
#[derive(Debug)]
pub struct Advice {
    /// The `error:` line.
    pub error: String,
    /// The `hint:` line.
    pub hint: String,
}

impl std::fmt::Display for Advice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)
    }
}

impl std::error::Error for Advice {}

/// The advice for the first cause in `err`'s chain that we recognise.
pub fn hint(lesson: &str, err: &anyhow::Error) -> Option<String> {
    if let Some(advice) = err.chain().find_map(|cause| cause.downcast_ref::<Advice>()) {
        return Some(advice.hint.clone());
    }
    // A context added with `.context(UnknownHost(…))` is found by anyhow's downcast, not in
    // the chain of sources.
    if let Some(host) = err.downcast_ref::<UnknownHost>() {
        return Some(format!(
            "`{}` is not a known host name: check the spelling, or use an address such as \
             127.0.0.1 or ::1",
            host.0
        ));
    }
    for cause in err.chain() {
        if let Some(hint) = cause
            .downcast_ref::<io::Error>()
            .and_then(|e| io_hint(lesson, e))
        {
            return Some(hint);
        }
    }
    None
}

/// Advice for one I/O error, by kind (which Rust derives from the errno value).
pub fn io_hint(lesson: &str, err: &io::Error) -> Option<String> {
    let text = match err.kind() {
        ErrorKind::AddrInUse => "another program (perhaps an earlier server still running) already \
             uses this port: choose another with --port N, or --port 0 to let the OS pick a free one"
            .to_string(),
        ErrorKind::ConnectionRefused => format!(
            "nothing is listening there: start the server first, in another terminal: \
             cargo run --bin {lesson} -- server (and use the same --host and --port)"
        ),
        ErrorKind::PermissionDenied => "ports below 1024 are reserved for the administrator: \
             choose a port from 1024 to 65535, or --port 0"
            .to_string(),
        ErrorKind::AddrNotAvailable => "that address does not belong to this machine: bind \
             127.0.0.1 (this machine only), ::1, or 0.0.0.0 (every interface)"
            .to_string(),
        ErrorKind::ConnectionReset => "the other side closed the connection abruptly (it may \
             have crashed or been stopped)"
            .to_string(),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => "no answer in time: the server may be busy \
             (an iterative server serves one client at a time) or stuck; check too that --host \
             and --port name the server you meant"
            .to_string(),
        ErrorKind::BrokenPipe => "the other side closed the connection before we finished \
             writing"
            .to_string(),
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn hint_for(kind: ErrorKind) -> String {
        let err = Err::<(), _>(io::Error::from(kind))
            .context("failed to do it")
            .unwrap_err();
        hint("02_echo", &err).unwrap_or_default()
    }

    #[test]
    fn common_errno_values_have_hints() {
        assert!(hint_for(ErrorKind::AddrInUse).contains("--port 0"));
        assert!(
            hint_for(ErrorKind::ConnectionRefused).contains("cargo run --bin 02_echo -- server")
        );
        assert!(hint_for(ErrorKind::PermissionDenied).contains("1024"));
        assert!(hint_for(ErrorKind::ConnectionReset).contains("abruptly"));
        assert!(hint_for(ErrorKind::WouldBlock).contains("busy"));
    }

    #[test]
    fn unknown_hosts_have_hints() {
        let err = crate::kit::cli::resolve("no-such-host.invalid", 1).unwrap_err();
        assert!(
            hint("01_time_server", &err)
                .unwrap()
                .contains("no-such-host.invalid")
        );
    }

    #[test]
    fn advice_brings_its_own_hint() {
        let err = anyhow::Error::new(Advice {
            error: "no reply".into(),
            hint: "UDP promises nothing".into(),
        })
        .context("while pinging");
        assert_eq!(
            hint("03_udp", &err).as_deref(),
            Some("UDP promises nothing")
        );
    }

    #[test]
    fn a_timeout_says_so() {
        let err = Err::<(), _>(io::Error::from_raw_os_error(libc::EAGAIN))
            .context("failed to read from 127.0.0.1:7001")
            .unwrap_err();
        assert_eq!(
            one_line(&err),
            "failed to read from 127.0.0.1:7001: timed out: nothing arrived in time"
        );
        let refused = Err::<(), _>(io::Error::from(ErrorKind::ConnectionRefused))
            .context("failed to connect")
            .unwrap_err();
        assert_eq!(one_line(&refused), format!("{refused:#}"));
    }

    #[test]
    fn other_errors_have_none() {
        assert_eq!(hint_for(ErrorKind::InvalidData), "");
    }
}
