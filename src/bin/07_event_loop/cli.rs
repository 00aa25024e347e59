//! Lesson 06's command line, word for word: `demo`, `server`, `client`.
//!
//! Written out again on purpose, not shared: the command line is part of the contract each
//! lesson states on its page, and a learner reads it next to the lesson's own `main.rs`. The
//! shared part — `--host`, `--port`, `-q` — is `kit::cli::Endpoint`, as in every lesson.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use workbook::kit::cli::{Endpoint, ports, resolve, resolve_one};
use workbook::kit::narrate::Narrator;
use workbook::kit::net::{announce, listen};
use workbook::kit::shutdown::Stop;

use crate::room::Settings;
use crate::{DEFAULT_STALL_MS, LESSON};

#[derive(Parser)]
#[command(
    name = LESSON,
    about = "Lesson 07: lesson 06's group chat, served by one thread and a readiness loop",
    after_help = "With no subcommand, runs the demo. Page: lessons/07_event_loop.md"
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// Server and clients in one process on a free port, every wake-up narrated (the default).
    Demo,
    /// Run the chat room on one thread: every line a client sends goes to every client.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::EVENT_LOOP }>,
        /// Turn away connections beyond this many clients with `! server full`.
        #[arg(long, value_name = "N", default_value_t = 100,
              value_parser = clap::value_parser!(u64).range(1..))]
        max_clients: u64,
        /// Disconnect a client whose write buffer stays full this long, in milliseconds (too slow).
        #[arg(long, value_name = "MS", default_value_t = DEFAULT_STALL_MS,
              value_parser = clap::value_parser!(u64).range(1..))]
        stall_timeout_ms: u64,
        /// Shut down (telling every client) once this many connections have been accepted.
        #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
        exit_after: Option<u64>,
    },
    /// Join the room: send each line of stdin, print each line from the server.
    Client {
        #[command(flatten)]
        at: Endpoint<{ ports::EVENT_LOOP }>,
        /// Choose a name (sends `/nick NAME` first).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    workbook::kit::errors::main(LESSON, || match cli.mode.unwrap_or(Mode::Demo) {
        Mode::Demo => crate::demo::demo(),
        Mode::Server {
            at,
            max_clients,
            stall_timeout_ms,
            exit_after,
        } => {
            let say = Narrator::new("server", at.quiet);
            let listener = listen(resolve_one(&at.host, at.port)?, &say)?;
            announce(&listener)?;
            // Ctrl-C and SIGTERM set the stop flag (on the kit's signal thread, the only other
            // thread); the loop's waker ends its wait.
            let stop = Stop::new().after(exit_after);
            stop.on_signals()?;
            let settings = Settings {
                max_clients: usize::try_from(max_clients).unwrap_or(usize::MAX),
                stall: Duration::from_millis(stall_timeout_ms),
            };
            crate::serve(listener, &settings, &stop, &say)
        }
        Mode::Client { at, name } => {
            let say = Narrator::new("client", at.quiet);
            crate::client::client(&resolve(&at.host, at.port)?, name.as_deref(), &say)
        }
    })
}
