//! Lesson 05's server: a fixed pool of workers, in two designs — every worker in `accept()`
//! ([`accept_model`]) or one accepting thread and a queue ([`queue_model`]), as `--model` picks
//! ([`serve`]) — and how both stop ([`stop_on_signals`]). Each worker serves a client with
//! lesson 02's loop (`l02_echo::server::echo_until_closed`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::ValueEnum;

use super::pool::ThreadPool;
use crate::kit::narrate::{Narrator, narrate};
use crate::kit::net;
use crate::kit::shutdown::Stop;
use crate::lessons::l02_echo::server::{IdleTimeout, Transform, echo_until_closed};

// ANCHOR: accept_model
/// The course's design: N workers, each blocked in `accept()` on its own handle to the one
/// listening socket; the kernel gives each new connection to one of them. While all N serve a
/// client nobody is in `accept()`, so new clients wait in the listen backlog.
pub fn accept_model(
    listener: TcpListener,
    settings: &Settings,
    stop: &Stop,
    say: &Narrator,
) -> Result<()> {
    let shared = Shared {
        settings,
        stop,
        busy: AtomicUsize::new(0),
    };
    thread::scope(|scope| -> Result<()> {
        let mut workers = Vec::with_capacity(settings.workers);
        // dup(): a second descriptor for the same listening socket, one per worker — all of them
        // before any worker starts, so that running out of descriptors fails here, with no
        // worker blocked in accept() that we would need yet another descriptor to wake.
        let handles = (0..settings.workers)
            .map(|_| listener.try_clone())
            .collect::<std::io::Result<Vec<_>>>()
            .context("failed to clone the listening socket")?;
        for (id, own) in (1..).zip(handles) {
            let name = format!("worker-{id}");
            let _story = narrate!(say, hold()); // the spawn is told before the thread speaks
            let spawned = thread::Builder::new()
                .name(name.clone())
                .spawn_scoped(scope, {
                    let shared = &shared;
                    move || accept_worker(own, shared, say)
                })
                .with_context(|| format!("failed to start {name}"));
            match spawned {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    stop.stop(); // the workers already started must not wait in accept() forever
                    return Err(e);
                }
            }
            narrate!(
                say,
                call(
                    format!("dup(listener) + spawn({name})"),
                    "it calls accept() itself",
                )
            );
        }
        // Only the workers' handles keep the socket listening from here on.
        drop(listener);
        // Each worker narrates its own last line as it stops; here we only collect them.
        let mut first_error = None;
        for worker in workers {
            match worker.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => first_error = first_error.or(Some(e)),
                Err(_) => first_error = first_error.or(Some(anyhow::anyhow!("a worker panicked"))),
            }
        }
        narrate!(
            say,
            note(format!("joined all {} workers; exiting", settings.workers))
        );
        first_error.map_or(Ok(()), Err)
    })
}

// ANCHOR_END: accept_model

// ANCHOR: accept_worker
/// What the accept model's workers share.
struct Shared<'a> {
    settings: &'a Settings,
    /// Says when to stop, and counts the connections accepted by all workers.
    stop: &'a Stop,
    /// Workers serving a client right now.
    busy: AtomicUsize,
}

/// One worker of the accept model: accept, serve that client to the end, accept again.
fn accept_worker(listener: TcpListener, shared: &Shared, server: &Narrator) -> Result<()> {
    let say = server.for_this_thread();
    let (workers, stop) = (shared.settings.workers, shared.stop);
    let (mut served, mut outcome) = (0, Ok(()));
    while !stop.is_stopped() {
        narrate!(
            say,
            note("in accept(): takes the oldest client waiting in the backlog, or blocks")
        );
        // Out of descriptors is waited out, not fatal (`net::accept_retrying`); `None`: asked to
        // stop while waiting.
        let (stream, peer) = match net::accept_retrying(&listener, stop, &say) {
            Ok(Some(accepted)) => accepted,
            Ok(None) => break,
            Err(e) => {
                stop.stop(); // a broken listener stops the whole server, not one worker
                outcome = Err(anyhow::Error::new(e).context("accept() failed"));
                break;
            }
        };
        // Woken by Stop's own connection, or a client who came as we stopped: not served.
        if stop.is_stopped() {
            break;
        }
        // Counted by `stop`: with `--exit-after K`, the K-th connection stops every worker.
        let n = stop.accepted();
        let busy = shared.busy.fetch_add(1, Ordering::SeqCst) + 1;
        narrate!(
            say,
            call(
                "accept()",
                format!("connection {n} from {peer}; {busy} of {workers} workers busy"),
            )
        );
        if stop.is_stopped() {
            narrate!(
                say,
                note("that was the last connection (--exit-after): no more accept() for anyone")
            );
        } else if busy == workers {
            narrate!(
                say,
                note(
                    "every worker is busy: new clients wait in the listen backlog until one of us is back in accept()"
                )
            );
        }
        serve_client(&stream, peer, shared.settings, &say);
        shared.busy.fetch_sub(1, Ordering::SeqCst);
        served += 1;
    }
    narrate!(say, note(format!("stops after serving {served} client(s)")));
    outcome
}
// ANCHOR_END: accept_worker

/// How many accepted connections the `queue` model holds for busy workers. When it is full,
/// the accepting thread waits too, and new clients wait in the kernel's listen backlog.
const QUEUE: usize = 16;

// ANCHOR: queue_model
/// The Rust Book's design: only this thread accepts; each connection becomes a job on the
/// pool's bounded queue, and the first free worker takes it. While every worker is busy,
/// clients wait in the queue; when the queue is full too, `execute` blocks, nobody accepts, and
/// new clients wait in the listen backlog.
pub fn queue_model(
    listener: TcpListener,
    settings: &Settings,
    stop: &Stop,
    say: &Narrator,
) -> Result<()> {
    let pool = ThreadPool::new(settings.workers, QUEUE).context("failed to start the workers")?;
    narrate!(
        say,
        call(
            format!("spawn {} workers", pool.size()),
            format!("each waits for a job on a queue of at most {QUEUE} connections"),
        )
    );
    while !stop.is_stopped() {
        narrate!(say, note("in accept(): only this thread accepts"));
        // Out of descriptors is waited out, not fatal (`net::accept_retrying`).
        let accepted = net::accept_retrying(&listener, stop, say);
        let Some((stream, peer)) = accepted.context("accept() failed")? else {
            break; // asked to stop while waiting (an error: dropping the pool joins it)
        };
        if stop.is_stopped() {
            break; // Stop's wake-up connection, or a client who came as we stopped
        }
        // Counted by `stop`: with `--exit-after K`, the K-th connection is the last one.
        let accepted = stop.accepted();
        narrate!(
            say,
            call("accept()", format!("connection {accepted} from {peer}"))
        );
        if pool.busy() + pool.waiting() >= pool.size() {
            narrate!(
                say,
                note(format!(
                    "every worker is busy: connection {accepted} waits in the queue ({} ahead of it)",
                    pool.waiting()
                ))
            );
        }
        if pool.waiting() >= QUEUE {
            narrate!(
                say,
                note("the queue is full: execute() blocks, and new clients wait in the backlog")
            );
        }
        let (settings, queued) = (settings.clone(), Instant::now());
        let worker = say.for_role("worker");
        pool.execute(move || {
            // This runs on whichever worker took the job; it narrates under that worker's name.
            let say = worker.for_this_thread();
            narrate!(
                say,
                note(format!(
                    "picked up connection {accepted} from {peer} after {} ms in the queue",
                    queued.elapsed().as_millis()
                ))
            );
            serve_client(&stream, peer, &settings, &say);
        })
        .context("the pool's workers have stopped")?;
    }
    // Closing the listening socket: clients still in the backlog are refused, not left hanging.
    drop(listener);
    narrate!(
        say,
        note("no more accept(); the workers finish the clients already accepted")
    );
    let stopped = pool.join_with(|worker| {
        narrate!(
            say,
            call(
                format!("join({})", worker.name),
                format!("stopped after serving {} client(s)", worker.jobs),
            )
        );
    });
    narrate!(
        say,
        note(format!("joined all {} workers; exiting", stopped.len()))
    );
    Ok(())
}
// ANCHOR_END: queue_model

/// Serve one client to the end with lesson 02's loop, then close — or close it sooner when
/// it sends nothing for `--idle-timeout-ms`: a silent client must not hold a worker forever.
fn serve_client(stream: &TcpStream, peer: SocketAddr, settings: &Settings, say: &Narrator) {
    match settings
        .idle
        .apply(stream)
        .and_then(|()| echo_until_closed(stream, settings.transform, say))
    {
        Ok((bytes, reads)) => narrate!(
            say,
            call(
                "recv() → 0 bytes, close()",
                format!("{peer} done after {bytes} bytes in {reads} reads"),
            )
        ),
        Err(e) if IdleTimeout::is_expiry(&e) => narrate!(
            say,
            call(
                "recv()/send()",
                format!(
                    "nothing for {} ms (--idle-timeout-ms): closing {peer}; the worker is free",
                    settings.idle.ms
                ),
            )
        ),
        // A reset or vanished client ends this connection, never the worker.
        Err(e) => narrate!(
            say,
            call("recv()/send()", format!("failed: {e}; dropping {peer}"))
        ),
    }
}

// ANCHOR: shutdown
/// Ctrl-C, SIGTERM and `--exit-after` all stop the server the same way: a flag says "stop",
/// and because a thread blocked in `accept()` cannot see a flag, [`Stop`] then connects to our
/// own listening socket once for each thread that may be blocked there. Each such thread
/// wakes, sees the flag and returns; a worker serving a client first finishes that client.
/// Then the workers are joined, each saying so as it stops, and `main` returns: exit status 0.
pub fn stop_on_signals(
    stop: &Stop,
    listener: &TcpListener,
    model: Model,
    workers: usize,
) -> Result<()> {
    stop.on_signals()?; // SIGINT or SIGTERM → stop.stop(); a second one exits at once
    wake_on_stop(stop, listener, model, workers)
}

/// On stop, wake every thread that may be blocked in `accept()` on `listener`.
pub fn wake_on_stop(
    stop: &Stop,
    listener: &TcpListener,
    model: Model,
    workers: usize,
) -> Result<()> {
    if stop.is_stopped() {
        return Ok(()); // `--exit-after 0`: no thread will ever wait in accept()
    }
    let in_accept = match model {
        Model::Accept => workers, // every worker may be in accept()
        Model::Queue => 1,        // only the accepting thread
    };
    stop.wake_listener(listener.local_addr()?, in_accept);
    Ok(())
}
// ANCHOR_END: shutdown

/// What both models need to know.
#[derive(Clone)]
pub struct Settings {
    pub workers: usize,
    pub transform: Transform,
    pub idle: IdleTimeout,
}

/// Run the chosen design until `stop` says stop.
pub fn serve(
    listener: TcpListener,
    model: Model,
    settings: &Settings,
    stop: &Stop,
    say: &Narrator,
) -> Result<()> {
    match model {
        Model::Accept => accept_model(listener, settings, stop, say),
        Model::Queue => queue_model(listener, settings, stop, say),
    }
}

/// The two designs of a fixed pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Model {
    /// Every worker calls accept() on its own handle to the listening socket (the course's).
    Accept,
    /// One thread accepts and queues each connection for the workers (the Rust Book's).
    Queue,
}
