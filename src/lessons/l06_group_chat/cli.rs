//! The command line: `demo` (the default), `server`, `client` — the shape every lesson shares —
//! and the server's listener. The chat server's own flags (`--max-clients`,
//! `--stall-timeout-ms`, `--exit-after`) are [`ChatServerFlags`], and the client's
//! [`ChatClientFlags`], defined here and shared with lesson 07, whose contract is this lesson's.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use super::room::Settings;
use super::server::serve;
use super::{NAME, PORT};
use crate::kit::cli::{Endpoint, ExitAfter, resolve, resolve_one, whole_number};
use crate::kit::narrate::Narrator;
use crate::kit::net;
use crate::kit::shutdown::Stop;

/// What `--help` says the lesson is, on its first line.
const ABOUT: &str = "Lesson 06: a group chat that a stalled client cannot stall";

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
        at: Endpoint<{ PORT }>,
        #[command(flatten)]
        room: ChatServerFlags<Outbox>,
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
            server(
                resolve_one(&at.host, at.port)?,
                &room.settings(),
                room.exit.exit_after,
                &say,
            )
        }
        Mode::Client(ChatClientFlags { at, name }) => {
            let say = Narrator::new("client", at.quiet);
            super::client::run(&resolve(&at.host, at.port)?, name.as_deref(), &say)
        }
    })
}

// ANCHOR: listen
/// The server: socket + bind + listen (`net::listen`, as in lessons 02–05), the one line on
/// stdout, then the room — until Ctrl-C or SIGTERM, or until `--exit-after K`'s clients have
/// all left.
fn server(
    addr: SocketAddr,
    settings: &Settings,
    exit_after: Option<u64>,
    say: &Narrator,
) -> Result<()> {
    let listener = net::listen(addr, say)?;
    net::announce(&listener)?;
    // Ctrl-C and SIGTERM set the stop flag; a connection to ourselves wakes accept().
    let stop = Stop::new().after(exit_after);
    stop.on_signals()?;
    stop.wake_listener(listener.local_addr()?, 1);
    serve(&listener, settings, &stop, say)
}
// ANCHOR_END: listen

/// How a chat lesson names a client's queue of outgoing lines in its `--help`: lesson 06 gives
/// each client an outbox, lesson 07 a write buffer. The flags are the same.
pub trait ChatQueue {
    /// The help of `--stall-timeout-ms`.
    const STALL_HELP: &'static str;
}

/// The chat server's own flags, shared by lessons 06 and 07 (one contract, two designs), each
/// number said in words when it is out of range (`--max-clients 0`).
#[derive(clap::Args)]
pub struct ChatServerFlags<Q: ChatQueue + Send + Sync + 'static> {
    /// Turn away connections beyond this many clients with `! server full`.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = whole_number::<u64>(1, u64::MAX), allow_hyphen_values = true)]
    pub max_clients: u64,
    #[arg(long, value_name = "MS", default_value_t = CHAT_STALL_MS, help = Q::STALL_HELP,
          value_parser = whole_number::<u64>(1, u64::MAX), allow_hyphen_values = true)]
    pub stall_timeout_ms: u64,
    #[command(flatten)]
    pub exit: ExitAfter<1>,
    #[arg(skip)]
    pub queue: std::marker::PhantomData<Q>,
}

/// How long a chat client's outgoing queue may stay full before it is dropped as too slow, in
/// milliseconds, when `--stall-timeout-ms` is not given.
pub const CHAT_STALL_MS: u64 = 5000;

impl<Q: ChatQueue + Send + Sync + 'static> ChatServerFlags<Q> {
    /// `--max-clients` as a count of clients.
    pub fn max_clients(&self) -> usize {
        usize::try_from(self.max_clients).unwrap_or(usize::MAX)
    }

    /// `--stall-timeout-ms` as a duration.
    pub fn stall(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.stall_timeout_ms)
    }

    /// The room's settings, as these flags give them (lesson 07's room takes the same).
    pub fn settings(&self) -> Settings {
        Settings {
            max_clients: self.max_clients(),
            stall: self.stall(),
        }
    }
}

// Where the server is (`--host`, `--port`, `-q`) and `--name`: the chat client's flags, shared
// by lessons 06 and 07, each with its own default port. (A `//` comment: a doc comment here
// would become the `client` subcommand's `--help` text.)
#[derive(clap::Args)]
pub struct ChatClientFlags<const PORT: u16> {
    #[command(flatten)]
    pub at: Endpoint<PORT>,
    /// Choose a name (sends `/nick NAME` first).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_flags_have_defaults_and_say_their_range_in_words() {
        use clap::Parser;
        struct Queue;
        impl ChatQueue for Queue {
            const STALL_HELP: &'static str = "how long a queue may stay full";
        }
        #[derive(Parser)]
        struct Server {
            #[command(flatten)]
            room: ChatServerFlags<Queue>,
        }
        let room = Server::try_parse_from(["server"]).unwrap().room;
        assert_eq!((room.max_clients(), room.stall_timeout_ms), (100, 5000));
        assert_eq!(room.exit.exit_after, None);
        for flag in ["--max-clients", "--stall-timeout-ms", "--exit-after"] {
            let Err(err) = Server::try_parse_from(["server", flag, "0"]) else {
                panic!("{flag} 0 was accepted");
            };
            assert!(
                err.to_string()
                    .contains("must be a whole number, at least 1"),
                "{err}"
            );
        }
    }
}
