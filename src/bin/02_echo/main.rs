//! # Lesson 02 — a TCP echo server and client
//!
//! The server sends back every byte it receives, unchanged (or upper-cased with `--upper`, the
//! course's variation), until the client closes its sending side; then it closes and accepts the
//! next client. It is *iterative*: while it serves one client, the next one waits in the listen
//! queue (lesson 04 changes that). The client's lesson is the course's open question "how do I
//! know all the data has arrived?": one `recv(1024)` is not a message, so it reads until it has
//! as many bytes as it sent.
//!
//! ```text
//! cargo run --bin 02_echo                                 # demo: server and two clients, narrated
//! cargo run --bin 02_echo -- server                       # terminal 1
//! cargo run --bin 02_echo -- client "Hello, world"        # terminal 2 (or: nc -N 127.0.0.1 7002)
//! cargo run --bin 02_echo -- client < some-file.txt       # one message per line of stdin
//! ```
//!
//! Where the calls are, in the course's order: `listen` is `src/kit/net.rs` (std's
//! `TcpListener::bind`, narrated); the accept loop, `serve`, is below; the per-connection echo
//! loop and the client are `src/kit/echo.rs` — lesson 02's code, kept there in one copy because
//! lessons 04 and 05 serve connections with the very same loop and client. The command line is
//! in `cli.rs`, the demo in `demo.rs`. The page: `lessons/02_echo.md`.

use std::net::TcpListener;

use anyhow::{Context, Result};
use workbook::kit::echo::{self, IdleTimeout, Transform};
use workbook::kit::narrate::Narrator;
use workbook::kit::shutdown::Stop;

// ANCHOR: serve
/// accept one client, echo until it is done, close, accept the next: an iterative server.
fn serve(
    listener: &TcpListener,
    transform: Transform,
    idle: IdleTimeout,
    stop: &Stop,
    say: &Narrator,
) -> Result<()> {
    // `stop` is the test hook `--exit-after K`: it is set once the K-th client is accepted.
    while !stop.is_stopped() {
        say.note("waiting in accept(); any other client waits in the listen queue meanwhile");
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accept() failed"),
        };
        stop.accepted();
        say.call("accept()", format!("connection from {peer}"));
        // recv → sendall until the client is done: lesson 02's echo loop, in src/kit/echo.rs
        // because lessons 04 and 05 reuse it. One client's failure (a reset, a vanished peer)
        // ends that connection, not the server. A client that sends nothing would hold the
        // server — and everyone queued behind it — forever: hence `--idle-timeout-ms`.
        let echoed = idle
            .apply(&stream)
            .and_then(|()| echo::echo_until_closed(&stream, transform, say));
        match echoed {
            Ok((bytes, reads)) => say.call(
                "recv()",
                format!("0 bytes: {peer} closed its side after {bytes} bytes in {reads} reads"),
            ),
            Err(e) if IdleTimeout::is_expiry(&e) => say.call(
                "recv()/send()",
                format!(
                    "nothing for {} ms (--idle-timeout-ms): closing {peer}",
                    idle.ms
                ),
            ),
            Err(e) => say.call("recv()/send()", format!("failed: {e}; dropping {peer}")),
        }
        // close(): dropping the stream closes it; the client's last read returns 0 bytes.
        drop(stream);
        say.call("close()", format!("done with {peer}"));
    }
    say.note(format!(
        "served {} connection(s); exiting",
        stop.accepted_so_far()
    ));
    Ok(())
}
// ANCHOR_END: serve

// ---------------------------------------------------------------------------------------------
// Not the lesson: the command line and the demo.

mod cli;
mod demo;

const LESSON: &str = "02_echo";

fn main() -> std::process::ExitCode {
    use clap::Parser;
    use cli::{Cli, Mode};
    use workbook::kit::cli::{resolve, resolve_one};
    use workbook::kit::net;

    let cli = Cli::parse();
    workbook::kit::errors::main(LESSON, || match cli.mode.unwrap_or(Mode::Demo) {
        Mode::Demo => demo::demo(),
        Mode::Server {
            at,
            upper,
            exit,
            idle,
        } => {
            let say = Narrator::new("server", at.quiet);
            // socket() + bind() + listen(), in one call since lesson 01 showed them one by one.
            let listener = net::listen(resolve_one(&at.host, at.port)?, &say)?;
            net::announce(&listener)?;
            let stop = Stop::new().after(exit.exit_after);
            serve(&listener, Transform::from_flag(upper), idle, &stop, &say)
        }
        Mode::Client { at, messages } => {
            let say = Narrator::new("client", at.quiet);
            echo::client(&resolve(&at.host, at.port)?, &messages, &say)
        }
    })
}
