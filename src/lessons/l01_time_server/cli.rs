//! Lesson 01's command line: `demo` (the default), `server`, `client`.

use std::process::ExitCode;

use clap::Subcommand;

use super::format::Format;
use super::{NAME, PORT, client, demo, server};
use crate::kit::cli::{Endpoint, ExitAfter, resolve, resolve_one};
use crate::kit::narrate::Narrator;
use crate::kit::net;
use crate::kit::shutdown::Stop;

/// What `--help` says the lesson is, on its first line.
const ABOUT: &str = "Lesson 01: an iterative TCP server that sends the time and closes";

#[derive(Subcommand)]
pub enum Mode {
    /// Server and two clients in one process on a free port, every call narrated (the default).
    Demo,
    /// Send the current time to each client, one client after another, forever.
    Server {
        #[command(flatten)]
        at: Endpoint<{ PORT }>,
        /// Send RFC 868 time (4 bytes, big-endian seconds since 1900) instead of RFC 3339 text.
        #[arg(long)]
        rfc868: bool,
        /// `--exit-after K`: serve K connections, then stop (lessons/grading.md).
        #[command(flatten)]
        exit: ExitAfter<0>,
    },
    /// Connect, read the time to the end of the stream, print it.
    Client {
        #[command(flatten)]
        at: Endpoint<{ PORT }>,
        /// Expect RFC 868 (4 bytes) and print it as RFC 3339.
        #[arg(long)]
        rfc868: bool,
    },
}

/// `cargo run --bin 01_time_server -- …`: parse the command line, run the mode.
pub fn main() -> ExitCode {
    let mode = crate::kit::cli::lesson_mode(NAME, ABOUT);
    crate::kit::errors::main(NAME, || match mode.unwrap_or(Mode::Demo) {
        Mode::Demo => demo::run(),
        Mode::Server { at, rfc868, exit } => {
            let say = Narrator::new("server", at.quiet);
            let listener = server::listen(resolve_one(&at.host, at.port)?, &say)?;
            net::announce(&listener)?;
            let stop = Stop::new().after(exit.exit_after);
            server::serve(&listener, Format::from_flag(rfc868), &stop, &say)
        }
        Mode::Client { at, rfc868 } => {
            let say = Narrator::new("client", at.quiet);
            client::run(
                &resolve(&at.host, at.port)?,
                Format::from_flag(rfc868),
                &say,
            )
        }
    })
}
