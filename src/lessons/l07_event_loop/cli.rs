//! Lesson 06's command line: `demo`, `server`, `client`, and the server's listener. The
//! server's flags are lesson 06's own, from one copy: `kit::cli::Endpoint` (`--host`, `--port`,
//! `-q`, as in every lesson) and `l06_group_chat::cli::ChatServerFlags` (`--max-clients`,
//! `--stall-timeout-ms`, `--exit-after`); the client's, `l06_group_chat::cli::ChatClientFlags`.

use std::process::ExitCode;

use clap::Subcommand;

use super::server::serve;
use super::{NAME, PORT};
use crate::kit::cli::{Endpoint, resolve, resolve_one};
use crate::kit::narrate::Narrator;
use crate::kit::net::{announce, listen};
use crate::kit::shutdown::Stop;
use crate::lessons::l06_group_chat::cli::{ChatClientFlags, ChatQueue, ChatServerFlags};

/// What `--help` says the lesson is, on its first line.
const ABOUT: &str = "Lesson 07: lesson 06's group chat, served by one thread and a readiness loop";

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
        at: Endpoint<{ PORT }>,
        #[command(flatten)]
        room: ChatServerFlags<WriteBuffer>,
    },
    /// Join the room: send each line of stdin, print each line from the server.
    Client(ChatClientFlags<{ PORT }>),
}

pub fn main() -> ExitCode {
    let mode = crate::kit::cli::lesson_mode(NAME, ABOUT);
    crate::kit::errors::main(NAME, || match mode.unwrap_or(Mode::Demo) {
        Mode::Demo => super::demo::run(),
        Mode::Server { at, room } => {
            let say = Narrator::new("server", at.quiet);
            let listener = listen(resolve_one(&at.host, at.port)?, &say)?;
            announce(&listener)?;
            // Ctrl-C and SIGTERM set the stop flag (on the kit's signal thread, the only other
            // thread); the loop's waker ends its wait.
            let stop = Stop::new().after(room.exit.exit_after);
            stop.on_signals()?;
            serve(listener, &room.settings(), &stop, &say)
        }
        Mode::Client(ChatClientFlags { at, name }) => {
            let say = Narrator::new("client", at.quiet);
            super::client::run(&resolve(&at.host, at.port)?, name.as_deref(), &say)
        }
    })
}
