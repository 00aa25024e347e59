//! The command line: `demo` (the default), `server`, `client` — the shape every lesson shares.
//! The chat server's own flags (`--max-clients`, `--stall-timeout-ms`, `--exit-after`) are
//! `kit::cli::ChatServerFlags`, shared with lesson 07, whose contract is this lesson's.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use workbook::kit::cli::{ChatQueue, ChatServerFlags, Endpoint, ports, resolve, resolve_one};
use workbook::kit::narrate::Narrator;

use crate::LESSON;
use crate::room::Settings;

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

/// Each client's lines wait in its outbox: what `--stall-timeout-ms` watches.
struct Outbox;

impl ChatQueue for Outbox {
    const STALL_HELP: &'static str =
        "Disconnect a client whose outbox stays full this long, in milliseconds (too slow)";
}

#[derive(Subcommand)]
enum Mode {
    /// Server and four clients in one process on a free port, every decision narrated (the default).
    Demo,
    /// Run the chat room: every line a client sends goes to every client.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::GROUP_CHAT }>,
        #[command(flatten)]
        room: ChatServerFlags<Outbox>,
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

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    workbook::kit::errors::main(LESSON, || match cli.mode.unwrap_or(Mode::Demo) {
        Mode::Demo => crate::demo::demo(),
        Mode::Server { at, room } => {
            let say = Narrator::new("server", at.quiet);
            let settings = Settings {
                max_clients: room.max_clients(),
                stall: room.stall(),
            };
            crate::server(
                resolve_one(&at.host, at.port)?,
                &settings,
                room.exit.exit_after,
                &say,
            )
        }
        Mode::Client { at, name } => {
            let say = Narrator::new("client", at.quiet);
            crate::client::client(&resolve(&at.host, at.port)?, name.as_deref(), &say)
        }
    })
}
