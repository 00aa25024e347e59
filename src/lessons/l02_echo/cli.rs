//! Lesson 02's command line: `demo` (the default), `server`, `client`.

use std::process::ExitCode;

use clap::Subcommand;

use super::server::{IdleTimeout, Transform};
use super::{NAME, PORT, client, demo, server};
use crate::kit::cli::{Endpoint, ExitAfter, resolve, resolve_one};
use crate::kit::narrate::Narrator;
use crate::kit::net;
use crate::kit::shutdown::Stop;

/// What `--help` says the lesson is, on its first line.
const ABOUT: &str = "Lesson 02: a TCP echo server and client";

#[derive(Subcommand)]
pub enum Mode {
    /// Server and two clients in one process on a free port, every call narrated (the default).
    Demo,
    /// Echo every byte back until the client stops sending; one client at a time, forever.
    Server(ServerFlags<PORT>),
    /// Send each MESSAGE (or each line of stdin) followed by a newline; print each echo.
    Client(ClientArgs<PORT>),
}

/// The echo server's flags: this lesson's contract, which lesson 04 keeps whole.
#[derive(clap::Args)]
pub struct ServerFlags<const PORT: u16> {
    #[command(flatten)]
    pub at: Endpoint<PORT>,
    /// Send back ASCII letters upper-cased (the course's variation); other bytes unchanged.
    #[arg(long)]
    pub upper: bool,
    /// `--exit-after K`: serve K connections, then stop (lessons/grading.md).
    #[command(flatten)]
    pub exit: ExitAfter<0>,
    #[command(flatten)]
    pub idle: IdleTimeout,
}

/// The echo client's arguments (lessons 04 and 05 take them too).
#[derive(clap::Args)]
pub struct ClientArgs<const PORT: u16> {
    #[command(flatten)]
    pub at: Endpoint<PORT>,
    /// The messages to send; with none, each line of stdin is one message.
    pub messages: Vec<String>,
}

/// `cargo run --bin 02_echo -- …`: parse the command line, run the mode.
pub fn main() -> ExitCode {
    let mode = crate::kit::cli::lesson_mode(NAME, ABOUT);
    crate::kit::errors::main(NAME, || match mode.unwrap_or(Mode::Demo) {
        Mode::Demo => demo::run(),
        Mode::Server(ServerFlags {
            at,
            upper,
            exit,
            idle,
        }) => {
            let say = Narrator::new("server", at.quiet);
            // socket() + bind() + listen(), in one call since lesson 01 showed them one by one.
            let listener = net::listen(resolve_one(&at.host, at.port)?, &say)?;
            net::announce(&listener)?;
            let stop = Stop::new().after(exit.exit_after);
            server::serve(&listener, Transform::from_flag(upper), idle, &stop, &say)
        }
        Mode::Client(ClientArgs { at, messages }) => {
            let say = Narrator::new("client", at.quiet);
            client::run(&resolve(&at.host, at.port)?, &messages, &say)
        }
    })
}
