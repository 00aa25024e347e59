//! Lesson 08's command line: `demo`, `server`, `client`, each over TCP or `--unix PATH`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::kit::cli::{Endpoint, ExitAfter, resolve, resolve_one};
use crate::kit::narrate::Narrator;
use crate::kit::shutdown::Stop;

use super::deadline::FrameDeadline;
use super::wire::{self, Listener, Stream};
use super::{NAME, PORT};

/// What `--help` says the lesson is, on its first line.
const ABOUT: &str = "Lesson 08: a request/response protocol — length, JSON header, content";

#[derive(Subcommand)]
enum Mode {
    /// Server and client in one process, over TCP and then a Unix socket, narrated (the default).
    Demo,
    /// Answer framed requests (search, echo, time), several per connection, a thread each.
    Server {
        #[command(flatten)]
        at: Endpoint<PORT>,
        /// Listen on a Unix domain socket at PATH instead of TCP.
        #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
        unix: Option<PathBuf>,
        #[command(flatten)]
        exit: ExitAfter<0>,
        #[command(flatten)]
        frame_deadline: FrameDeadline,
    },
    /// Send ACTION VALUE (or one `ACTION VALUE` per line of stdin) and print each response.
    Client {
        #[command(flatten)]
        at: Endpoint<PORT>,
        /// Connect to a Unix domain socket at PATH instead of TCP.
        #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
        unix: Option<PathBuf>,
        /// search, echo or time; with none, each line of stdin is `ACTION VALUE`.
        action: Option<String>,
        /// The word to search, the text to echo (sent as binary content); time needs none.
        value: Option<String>,
    },
}

/// Parse the command line and run the mode it names.
pub fn main() -> ExitCode {
    let mode = crate::kit::cli::lesson_mode(NAME, ABOUT);
    crate::kit::errors::main(NAME, || match mode.unwrap_or(Mode::Demo) {
        Mode::Demo => super::demo::run(),
        Mode::Server {
            at,
            unix,
            exit,
            frame_deadline,
        } => {
            let say = Narrator::new("server", at.quiet);
            let listener = match unix {
                Some(path) => wire::listen_unix(&path, &say)?,
                None => wire::listen_tcp(resolve_one(&at.host, at.port)?, &say)?,
            };
            run_server(&listener, exit.exit_after, frame_deadline, &say)
        }
        Mode::Client {
            at,
            unix,
            action,
            value,
        } => {
            let say = Narrator::new("client", at.quiet);
            let stream = match unix {
                Some(path) => wire::connect_unix(&path, &say)?,
                None => Stream::Tcp(crate::kit::net::connect(
                    &resolve(&at.host, at.port)?,
                    &say,
                )?),
            };
            let request = action.map(|a| super::client::Request::new(a, value));
            super::client::run(stream, request, &say)
        }
    })
}

/// Announce, stop on SIGINT/SIGTERM (or after `exit_after` connections), serve.
fn run_server(
    listener: &Listener,
    exit_after: Option<u64>,
    frame_deadline: FrameDeadline,
    say: &Narrator,
) -> Result<()> {
    let stop = Stop::new().after(exit_after);
    stop.on_signals()?;
    listener.wake_on(&stop)?;
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", listener.address()?)?;
        stdout.flush()?;
    }
    super::server::serve(listener, &stop, frame_deadline, say)
}
