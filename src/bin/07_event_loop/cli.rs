//! Lesson 06's command line: `demo`, `server`, `client`. The server's flags are lesson 06's
//! own, from one copy: `kit::cli::Endpoint` (`--host`, `--port`, `-q`, as in every lesson) and
//! `kit::cli::ChatServerFlags` (`--max-clients`, `--stall-timeout-ms`, `--exit-after`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use workbook::kit::cli::{ChatQueue, ChatServerFlags, Endpoint, ports, resolve, resolve_one};
use workbook::kit::narrate::Narrator;
use workbook::kit::net::{announce, listen};
use workbook::kit::shutdown::Stop;

use crate::LESSON;
use crate::room::Settings;

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

/// Each client's lines wait in its write buffer: what `--stall-timeout-ms` watches.
struct WriteBuffer;

impl ChatQueue for WriteBuffer {
    const STALL_HELP: &'static str =
        "Disconnect a client whose write buffer stays full this long, in milliseconds (too slow)";
}

#[derive(Subcommand)]
enum Mode {
    /// Server and clients in one process on a free port, every wake-up narrated (the default).
    Demo,
    /// Run the chat room on one thread: every line a client sends goes to every client.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::EVENT_LOOP }>,
        #[command(flatten)]
        room: ChatServerFlags<WriteBuffer>,
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
        Mode::Server { at, room } => {
            let say = Narrator::new("server", at.quiet);
            let listener = listen(resolve_one(&at.host, at.port)?, &say)?;
            announce(&listener)?;
            // Ctrl-C and SIGTERM set the stop flag (on the kit's signal thread, the only other
            // thread); the loop's waker ends its wait.
            let stop = Stop::new().after(room.exit.exit_after);
            stop.on_signals()?;
            let settings = Settings {
                max_clients: room.max_clients(),
                stall: room.stall(),
            };
            crate::serve(listener, &settings, &stop, &say)
        }
        Mode::Client { at, name } => {
            let say = Narrator::new("client", at.quiet);
            crate::client::client(&resolve(&at.host, at.port)?, name.as_deref(), &say)
        }
    })
}
