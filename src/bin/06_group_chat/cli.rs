//! The command line: `demo` (the default), `server`, `client` — the shape every lesson shares —
//! and the server's own flags.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use workbook::kit::cli::{Endpoint, ports, resolve, resolve_one};
use workbook::kit::narrate::Narrator;

pub const LESSON: &str = "06_group_chat";

/// How long an outbox may stay full before its client is declared too slow.
const DEFAULT_STALL_MS: u64 = 5000;

#[derive(Parser)]
#[command(
    name = LESSON,
    about = "Lesson 06: a group chat that a stalled client cannot stall",
    after_help = "With no subcommand, runs the demo. Page: lessons/06_group_chat.md"
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// Server and four clients in one process on a free port, every decision narrated (the default).
    Demo,
    /// Run the chat room: every line a client sends goes to every client.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::GROUP_CHAT }>,
        /// Turn away connections beyond this many clients with `! server full`.
        #[arg(long, value_name = "N", default_value_t = 100,
              value_parser = clap::value_parser!(u64).range(1..))]
        max_clients: u64,
        /// Disconnect a client whose outbox stays full this long, in milliseconds (too slow).
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
        at: Endpoint<{ ports::GROUP_CHAT }>,
        /// Choose a name (sends `/nick NAME` first).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
}

/// What the server is told on its command line.
pub struct Settings {
    pub max_clients: usize,
    pub stall: Duration,
    pub exit_after: Option<u64>,
}

impl Settings {
    /// The test hook `--exit-after K`: whether `accepted` connections (turned-away ones count
    /// too) are enough. The accept loop then stops as it does on Ctrl-C: every client is told.
    pub fn exit_after_reached(&self, accepted: u64, say: &Narrator) -> bool {
        let reached = self.exit_after.is_some_and(|k| accepted >= k);
        if reached {
            say.note(format!(
                "{accepted} connections accepted (--exit-after): stopping"
            ));
        }
        reached
    }
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
            let settings = Settings {
                max_clients: usize::try_from(max_clients).unwrap_or(usize::MAX),
                stall: Duration::from_millis(stall_timeout_ms),
                exit_after,
            };
            crate::server(resolve_one(&at.host, at.port)?, &settings, &say)
        }
        Mode::Client { at, name } => {
            let say = Narrator::new("client", at.quiet);
            crate::client::client(&resolve(&at.host, at.port)?, name.as_deref(), &say)
        }
    })
}
