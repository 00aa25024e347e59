//! Lesson 02's command line: `demo` (the default), `server`, `client`.

use clap::{Parser, Subcommand};
use workbook::kit::cli::{Endpoint, ExitAfter, ports};
use workbook::kit::echo::IdleTimeout;

use crate::LESSON;

#[derive(Parser)]
#[command(
    name = LESSON,
    about = "Lesson 02: a TCP echo server and client",
    after_help = "With no subcommand, runs the demo. Page: lessons/02_echo.md"
)]
pub struct Cli {
    #[command(subcommand)]
    pub mode: Option<Mode>,
}

#[derive(Subcommand)]
pub enum Mode {
    /// Server and two clients in one process on a free port, every call narrated (the default).
    Demo,
    /// Echo every byte back until the client stops sending; one client at a time, forever.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::ECHO }>,
        /// Send back ASCII letters upper-cased (the course's variation); other bytes unchanged.
        #[arg(long)]
        upper: bool,
        /// `--exit-after K`: serve K connections, then stop (lessons/grading.md).
        #[command(flatten)]
        exit: ExitAfter<0>,
        #[command(flatten)]
        idle: IdleTimeout,
    },
    /// Send each MESSAGE (or each line of stdin) followed by a newline; print each echo.
    Client {
        #[command(flatten)]
        at: Endpoint<{ ports::ECHO }>,
        /// The messages to send; with none, each line of stdin is one message.
        messages: Vec<String>,
    },
}
