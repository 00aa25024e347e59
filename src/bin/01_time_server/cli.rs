//! Lesson 01's command line: `demo` (the default), `server`, `client`.

use clap::{Parser, Subcommand};
use workbook::kit::cli::{Endpoint, ExitAfter, ports};

use crate::LESSON;

#[derive(Parser)]
#[command(
    name = LESSON,
    about = "Lesson 01: an iterative TCP server that sends the time and closes",
    after_help = "With no subcommand, runs the demo. Page: lessons/01_time_server.md"
)]
pub struct Cli {
    #[command(subcommand)]
    pub mode: Option<Mode>,
}

#[derive(Subcommand)]
pub enum Mode {
    /// Server and two clients in one process on a free port, every call narrated (the default).
    Demo,
    /// Send the current time to each client, one client after another, forever.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::TIME_SERVER }>,
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
        at: Endpoint<{ ports::TIME_SERVER }>,
        /// Expect RFC 868 (4 bytes) and print it as RFC 3339.
        #[arg(long)]
        rfc868: bool,
    },
}
