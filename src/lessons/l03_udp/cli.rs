//! Lesson 03's command line: the three modes and their flags, and how each mode puts the
//! lesson's calls (in `server.rs` and `client.rs`) together.

use std::ffi::OsString;
use std::io::Write;
use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::client::{self, open};
use super::dropper::{Dropper, clock_seed};
use super::ping::{Probes, ping};
use super::server::{bind, serve};
use super::{NAME, PORT, demo};
use crate::kit::cli::{Endpoint, resolve_one, whole_number};
use crate::kit::narrate::Narrator;

/// What `--help` says the lesson is, on its first line.
const ABOUT: &str = "Lesson 03: a UDP echo server, a client that retries, and ping";

#[derive(Subcommand)]
pub enum Mode {
    /// Server, client and a short lossy ping in one process on a free port, narrated (default).
    Demo,
    /// Send every datagram back to its sender, forever.
    Server {
        #[command(flatten)]
        at: Endpoint<{ PORT }>,
        /// Drop this fraction of incoming datagrams, 0.0 to 1.0, to make loss visible.
        #[arg(long = "drop", value_name = "RATE", default_value_t = 0.0, value_parser = parse_rate)]
        drop_rate: f64,
        /// Seed for --drop's choices: the same seed drops the same datagrams [default: from the
        /// clock]
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Stop after K datagrams (default: serve forever).
        #[arg(long, value_name = "K", value_parser = whole_number::<u64>(0, u64::MAX),
              allow_hyphen_values = true)]
        exit_after: Option<u64>,
    },
    /// Send each MESSAGE (or each line of stdin) as one datagram; print each echo.
    Client {
        #[command(flatten)]
        at: Endpoint<{ PORT }>,
        /// How long to wait for each echo before sending the datagram again.
        #[arg(long, value_name = "MS", default_value_t = 1000,
              value_parser = whole_number::<u64>(1, u64::MAX), allow_hyphen_values = true)]
        timeout_ms: u64,
        /// How many times to send a datagram again when no echo comes back.
        #[arg(long, value_name = "N", default_value_t = 3,
              value_parser = whole_number::<u32>(0, u64::MAX), allow_hyphen_values = true)]
        retries: u32,
        /// The messages, one datagram each; with none, each line of stdin is one message.
        messages: Vec<OsString>,
    },
    /// Send numbered probes, print each round-trip time, then the loss.
    Ping {
        #[command(flatten)]
        at: Endpoint<{ PORT }>,
        /// How many probes to send.
        #[arg(long, value_name = "N", default_value_t = 10,
              value_parser = whole_number::<u64>(1, u64::MAX), allow_hyphen_values = true)]
        count: u64,
        /// Pause between one probe's answer (or timeout) and the next probe.
        #[arg(long, value_name = "MS", default_value_t = 200,
              value_parser = whole_number::<u64>(0, u64::MAX), allow_hyphen_values = true)]
        interval_ms: u64,
        /// How long to wait for each probe's echo before counting it lost.
        #[arg(long, value_name = "MS", default_value_t = 1000,
              value_parser = whole_number::<u64>(1, u64::MAX), allow_hyphen_values = true)]
        timeout_ms: u64,
    },
}

/// `--drop RATE`: a fraction from 0.0 (drop nothing) to 1.0 (drop everything).
fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{text} is not between 0.0 and 1.0"))
    }
}

/// `cargo run --bin 03_udp -- …`: parse the command line, run the mode.
pub fn main() -> ExitCode {
    let mode = crate::kit::cli::lesson_mode(NAME, ABOUT);
    crate::kit::errors::main(NAME, || run(mode.unwrap_or(Mode::Demo)))
}

/// Run one mode.
fn run(mode: Mode) -> Result<()> {
    match mode {
        Mode::Demo => demo::run(),
        Mode::Server {
            at,
            drop_rate,
            seed,
            exit_after,
        } => {
            let say = Narrator::new("server", at.quiet);
            let socket = bind(resolve_one(&at.host, at.port)?, &say)?;
            announce(&socket)?;
            let mut dropper = Dropper::new(drop_rate, seed.unwrap_or_else(clock_seed));
            serve(&socket, &mut dropper, exit_after, &say)
        }
        Mode::Client {
            at,
            timeout_ms,
            retries,
            messages,
        } => {
            let say = Narrator::new("client", at.quiet);
            let server = resolve_one(&at.host, at.port)?;
            let socket = open(server, &say)?;
            client::run(
                socket,
                server,
                Duration::from_millis(timeout_ms),
                retries,
                &messages,
                &say,
            )
        }
        Mode::Ping {
            at,
            count,
            interval_ms,
            timeout_ms,
        } => {
            let say = Narrator::new("ping", at.quiet);
            let server = resolve_one(&at.host, at.port)?;
            let socket = open(server, &say)?;
            let probes = Probes {
                count,
                interval: Duration::from_millis(interval_ms),
                timeout: Duration::from_millis(timeout_ms),
            };
            ping(&socket, server, probes, &say, &mut std::io::stdout().lock())
        }
    }
}

/// The one line of the server contract on stdout, flushed at once.
fn announce(socket: &UdpSocket) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", socket.local_addr()?)?;
    stdout.flush().context("failed to write to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        assert!(parse_rate("0.5").is_ok());
        assert!(parse_rate("1.5").is_err());
        assert!(parse_rate("-0.1").is_err());
        assert!(parse_rate("nan").is_err());
        assert!(parse_rate("half").is_err());
    }
}
