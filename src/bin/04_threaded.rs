//! # Lesson 04 — a thread per connection
//!
//! Lesson 02's echo server serves one client at a time: while it echoes one, the next waits in
//! the listen queue, and a client that connects and types nothing blocks everybody. Here the
//! main thread does nothing but `accept()`; every connection it accepts is handed to a new
//! thread of its own, which runs lesson 02's echo loop. The main thread is back in `accept()`
//! at once, so a second client is served while the first is still connected.
//!
//! The narration names the thread serving each client and counts the live threads, because the
//! price of this design is right there: one thread — with its own stack — for every connected
//! client, busy or idle. Lesson 05 puts a bound on that.
//!
//! The wire contract (echo, `--upper`, the client) is lesson 02's; the code they share is in
//! `src/kit/echo.rs`.
//!
//! Run it:
//!
//! ```text
//! cargo run --bin 04_threaded                               # demo: two clients served at once
//! cargo run --bin 04_threaded -- server                     # terminal 1
//! nc -N 127.0.0.1 7004                                      # terminal 2: stays connected…
//! cargo run --bin 04_threaded -- client "Hello, world"      # terminal 3: …and this is served anyway
//! ```
//!
//! The page: `lessons/04_threaded.md`. The lesson comes first in this file — the accept loop, then
//! one client's thread — and the command line and the demo come last.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use workbook::kit::cli::{Endpoint, ExitAfter, ports, resolve, resolve_one};
use workbook::kit::echo::{self, IdleTimeout, Transform};
use workbook::kit::narrate::{Narrator, show_bytes, try_next};
use workbook::kit::net;
use workbook::kit::shutdown::Stop;

const LESSON: &str = "04_threaded";

// ANCHOR: accept_loop
/// The main thread only accepts: each connection goes to a new thread, and the main thread is
/// back in `accept()` straight away — until `stop` says otherwise (`--exit-after K`).
fn serve(
    listener: &TcpListener,
    transform: Transform,
    idle: IdleTimeout,
    stop: &Stop,
    say: &Narrator,
) -> Result<()> {
    // How many client threads are alive right now: the cost of this design, made visible.
    let live = AtomicUsize::new(0);
    // A *scoped* thread may borrow from this function (the narrator, the counter), and the
    // scope does not end until every thread spawned in it has finished: leaving it is how a
    // stopped server waits for the clients still being served.
    thread::scope(|scope| -> Result<()> {
        while !stop.is_stopped() {
            say.note("main thread waits in accept(); the client threads keep serving meanwhile");
            // Out of descriptors (a thread per client uses one each) is waited out, not fatal:
            // see `net::accept_retrying`. `None`: asked to stop while waiting.
            let accepted = net::accept_retrying(listener, stop, say).context("accept() failed")?;
            let Some((stream, peer)) = accepted else {
                break;
            };
            // Counted by `stop`: with `--exit-after K`, the K-th connection is the last one.
            let n = stop.accepted();
            say.call("accept()", format!("connection {n} from {peer}"));
            let name = format!("thread-{n}");
            let now_live = live.fetch_add(1, Ordering::SeqCst) + 1;
            // Only the narration needs this: stderr stays ours until the spawn is told, so the
            // new thread's first words come after it (the lock is reentrant: we can still speak).
            let story = std::io::stderr().lock();
            let spawned = thread::Builder::new()
                .name(name.clone())
                .spawn_scoped(scope, {
                    let live = &live;
                    move || handle(stream, peer, transform, idle, live, say)
                });
            match spawned {
                Ok(_) => say.call(
                    format!("spawn({name})"),
                    format!(
                        "{now_live} client thread(s) alive, plus main; main goes back to accept()"
                    ),
                ),
                // Out of threads (or memory for their stacks): this client is dropped — the
                // closure and the socket in it are freed — and the server goes on.
                Err(e) => {
                    live.fetch_sub(1, Ordering::SeqCst);
                    say.call(
                        format!("spawn({name})"),
                        format!("failed: {e}; closing {peer}"),
                    );
                }
            }
            drop(story);
        }
        say.note(format!(
            "accepted {} connection(s): no more accept(); waiting for {} client thread(s)",
            stop.accepted_so_far(),
            live.load(Ordering::SeqCst)
        ));
        Ok(())
    })?;
    say.note("every client thread has finished; exiting");
    Ok(())
}
// ANCHOR_END: accept_loop

// ANCHOR: handle
/// One client's whole life, on its own thread: lesson 02's echo loop, then close.
fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    transform: Transform,
    idle: IdleTimeout,
    live: &AtomicUsize,
    server: &Narrator,
) {
    // The thread's name (given by the accept loop) labels everything it says.
    let me = thread::current();
    let say = server.for_role(me.name().unwrap_or("thread"));
    say.note(format!("serving {peer}; recv() blocks this thread only"));
    // A client that sends nothing would hold this thread (and a descriptor) forever.
    let served = idle
        .apply(&stream)
        .and_then(|()| echo::echo_until_closed(&stream, transform, &say));
    match served {
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
        // A reset or vanished client ends this thread, not the server.
        Err(e) => say.call("recv()/send()", format!("failed: {e}; dropping {peer}")),
    }
    drop(stream);
    let left = live.fetch_sub(1, Ordering::SeqCst) - 1;
    say.call(
        "close()",
        format!("done with {peer}; this thread ends, {left} client thread(s) still alive"),
    );
}
// ANCHOR_END: handle

// Everything below is the command line and the demo around the lesson.

#[derive(Parser)]
#[command(
    name = LESSON,
    about = "Lesson 04: an echo server with one thread per connection",
    after_help = "With no subcommand, runs the demo. Page: lessons/04_threaded.md"
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// Server and two clients in one process on a free port, every call narrated (the default).
    Demo,
    /// Echo every byte back until the client stops sending; every client on its own thread.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::THREADED }>,
        /// Send back ASCII letters upper-cased (the course's variation); other bytes unchanged.
        #[arg(long)]
        upper: bool,
        /// `--exit-after K`: serve K connections, then stop (lessons/grading.md).
        #[command(flatten)]
        exit: ExitAfter<0>,
        #[command(flatten)]
        idle: IdleTimeout,
    },
    /// Send each MESSAGE (or each line of stdin) followed by a newline; print each echo.
    Client {
        #[command(flatten)]
        at: Endpoint<{ ports::THREADED }>,
        /// The messages to send; with none, each line of stdin is one message.
        messages: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    workbook::kit::errors::main(LESSON, || match cli.mode.unwrap_or(Mode::Demo) {
        Mode::Demo => demo(),
        Mode::Server {
            at,
            upper,
            exit,
            idle,
        } => {
            let say = Narrator::new("server", at.quiet);
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

/// Client 1 is served and stays connected, idle; client 2 is served all the same — the moment
/// lesson 02 cannot get past. Then both finish and the server (`--exit-after 2`) exits.
fn demo() -> Result<()> {
    let server = Narrator::new("server", false);
    let listener = net::listen("127.0.0.1:0".parse()?, &server)?;
    let addr = listener.local_addr()?;
    let stop = Stop::new().after(Some(2));
    thread::scope(|scope| -> Result<()> {
        let serving = scope.spawn(|| {
            let idle = IdleTimeout::default();
            serve(&listener, Transform::Echo, idle, &stop, &server)
        });
        let talked = talk(addr);
        if talked.is_err() {
            // Stop the server and wake it from accept(), so that the demo cannot hang.
            stop.wake_listener(addr, 1);
            stop.stop();
        }
        let served = serving
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
        talked.and(served)
    })?;
    try_next(&[
        format!("cargo run --bin {LESSON} -- server                  # terminal 1"),
        format!(
            "nc -N 127.0.0.1 {}                                   # terminal 2: connect, stay idle (-N: Ctrl-D leaves)",
            ports::THREADED
        ),
        format!(
            "cargo run --bin {LESSON} -- client \"Hello, world\"   # terminal 3: served anyway"
        ),
        "cargo run --bin 02_echo -- server                      # compare: lesson 02 on port 7002"
            .to_string(),
    ]);
    Ok(())
}

/// The demo's two clients.
fn talk(addr: SocketAddr) -> Result<()> {
    let one = Narrator::new("client 1", false);
    let first = net::connect(&[addr], &one)?;
    // Every read in the demo has a limit: a client waits for its echo, never for ever.
    first.set_read_timeout(Some(echo::CLIENT_TIMEOUT))?;
    println!(
        "{}",
        show_bytes(&echo::echo_one(&first, b"Hello from client 1\n", &one)?, 40)
    );
    one.note("stays connected and sends nothing: lesson 02's server would now be stuck with me");

    let two = Narrator::new("client 2", false);
    let second = net::connect(&[addr], &two)?;
    second.set_read_timeout(Some(echo::CLIENT_TIMEOUT))?;
    println!(
        "{}",
        show_bytes(
            &echo::echo_one(&second, b"Hello from client 2\n", &two)?,
            40
        )
    );
    two.note("echoed while client 1 is still connected: each client has a thread of its own");

    println!(
        "{}",
        show_bytes(&echo::echo_one(&first, b"client 1 again\n", &one)?, 40)
    );
    echo::finish(second, &two)?;
    echo::finish(first, &one)
}
