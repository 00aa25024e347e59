//! Lesson 05's command line: the demo, the server (with its two designs) and the client.

use clap::{Parser, Subcommand, ValueEnum};
use workbook::kit::cli::{Endpoint, ExitAfter, ports, whole_number};
use workbook::kit::echo::IdleTimeout;

use crate::LESSON;

#[derive(Parser)]
#[command(
    name = LESSON,
    about = "Lesson 05: an echo server with a fixed pool of worker threads",
    after_help = "With no subcommand, runs the demo. Page: lessons/05_thread_pool.md"
)]
pub struct Cli {
    #[command(subcommand)]
    pub mode: Option<Mode>,
}

/// The two designs of a fixed pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Model {
    /// Every worker calls accept() on its own handle to the listening socket (the course's).
    Accept,
    /// One thread accepts and queues each connection for the workers (the Rust Book's).
    Queue,
}

#[derive(Subcommand)]
pub enum Mode {
    /// Two workers, three clients: watch the third wait (the default).
    Demo {
        /// Which design of pool to show.
        #[arg(long, value_enum, default_value_t = Model::Accept)]
        model: Model,
    },
    /// Echo every byte back until the client stops sending; at most N clients at once.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::THREAD_POOL }>,
        /// Send back ASCII letters upper-cased (the course's variation); other bytes unchanged.
        #[arg(long)]
        upper: bool,
        /// `--exit-after K`: serve K connections, then stop (lessons/grading.md).
        #[command(flatten)]
        exit: ExitAfter<0>,
        /// How many worker threads, so how many clients are served at once.
        #[arg(long, value_name = "N", default_value_t = 4,
              value_parser = whole_number::<u16>(1, 1024), allow_hyphen_values = true)]
        workers: u16,
        /// Which design of pool.
        #[arg(long, value_enum, default_value_t = Model::Accept)]
        model: Model,
        #[command(flatten)]
        idle: IdleTimeout,
    },
    /// Send each MESSAGE (or each line of stdin) followed by a newline; print each echo.
    Client {
        #[command(flatten)]
        at: Endpoint<{ ports::THREAD_POOL }>,
        /// The messages to send; with none, each line of stdin is one message.
        messages: Vec<String>,
    },
}
