//! Lesson 04's command line: `demo` (the default), `server`, `client`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::{NAME, PORT, client, demo, server, threads};
use crate::kit::cli::{resolve, resolve_one};
use crate::kit::narrate::Narrator;
use crate::kit::net;
use crate::kit::shutdown::Stop;
use crate::lessons::l02_echo::cli::{ClientArgs, ServerFlags};
use crate::lessons::l02_echo::server::Transform;

#[derive(Parser)]
#[command(
    name = NAME,
    about = "Lesson 04: an echo server with one thread per connection",
    after_help = "With no subcommand, runs the demo. Page: lessons/04_threaded.md"
)]
pub struct Cli {
    #[command(subcommand)]
    pub mode: Option<Mode>,
}

#[derive(Subcommand)]
pub enum Mode {
    /// Server and two clients in one process on a free port, every call narrated (the default).
    Demo,
    /// Echo every byte back until the client stops sending; every client on its own thread.
    Server(ServerFlags<PORT>),
    /// Send each MESSAGE (or each line of stdin) followed by a newline; print each echo.
    Client(ClientArgs<PORT>),
}

/// `cargo run --bin 04_threaded -- …`: parse the command line, run the mode.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::kit::errors::main(NAME, || match cli.mode.unwrap_or(Mode::Demo) {
        Mode::Demo => demo::run(),
        Mode::Server(ServerFlags {
            at,
            upper,
            exit,
            idle,
        }) => {
            // Before any thread starts: one malloc arena for all (see `threads.rs`).
            threads::share_one_malloc_arena();
            let say = Narrator::new("server", at.quiet);
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
