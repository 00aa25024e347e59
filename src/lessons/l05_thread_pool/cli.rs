//! Lesson 05's command line: the demo, the server (with its two designs) and the client.

use std::process::ExitCode;

use clap::Subcommand;

use super::server::{self, Model, Settings, stop_on_signals};
use super::{NAME, PORT, client, demo};
use crate::kit::cli::{Endpoint, ExitAfter, resolve, resolve_one, whole_number};
use crate::kit::narrate::Narrator;
use crate::kit::net;
use crate::kit::shutdown::Stop;
use crate::lessons::l02_echo::cli::ClientArgs;
use crate::lessons::l02_echo::server::{IdleTimeout, Transform};

/// What `--help` says the lesson is, on its first line.
const ABOUT: &str = "Lesson 05: an echo server with a fixed pool of worker threads";

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
        at: Endpoint<{ PORT }>,
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
    Client(ClientArgs<PORT>),
}

/// `cargo run --bin 05_thread_pool -- …`: parse the command line, run the mode.
pub fn main() -> ExitCode {
    let mode = crate::kit::cli::lesson_mode(NAME, ABOUT);
    let mode = mode.unwrap_or(Mode::Demo {
        model: Model::Accept,
    });
    crate::kit::errors::main(NAME, || match mode {
        Mode::Demo { model } => demo::run_model(model),
        Mode::Server {
            at,
            upper,
            exit,
            workers,
            model,
            idle,
        } => {
            let say = Narrator::new("server", at.quiet);
            let listener = net::listen(resolve_one(&at.host, at.port)?, &say)?;
            let settings = Settings {
                workers: usize::from(workers),
                transform: Transform::from_flag(upper),
                idle,
            };
            let stop = Stop::new().after(exit.exit_after);
            stop_on_signals(&stop, &listener, model, settings.workers)?;
            net::announce(&listener)?;
            server::serve(listener, model, &settings, &stop, &say)
        }
        Mode::Client(ClientArgs { at, messages }) => {
            let say = Narrator::new("client", at.quiet);
            client::run(&resolve(&at.host, at.port)?, &messages, &say)
        }
    })
}
