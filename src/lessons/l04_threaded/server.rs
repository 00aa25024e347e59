//! Lesson 04's server: the main thread only accepts ([`serve`]); each connection gets a thread
//! of its own (`handle`), which runs lesson 02's loop (`l02_echo::server::echo_until_closed`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use anyhow::{Context, Result};

use crate::kit::narrate::{Narrator, narrate};
use crate::kit::net;
use crate::kit::shutdown::Stop;
use crate::lessons::l02_echo::server::{IdleTimeout, Transform, echo_until_closed};

use super::threads::{self, STACK_SIZE};

// ANCHOR: accept_loop
/// The main thread only accepts: each connection goes to a new thread, and the main thread is
/// back in `accept()` straight away — until `stop` says otherwise (`--exit-after K`).
pub fn serve(
    listener: &TcpListener,
    transform: Transform,
    idle: IdleTimeout,
    stop: &Stop,
    say: &Narrator,
) -> Result<()> {
    // How many client threads are alive right now: the cost of this design, made visible.
    let live = AtomicUsize::new(0);
    // Under `ulimit -v`, how many threads the address space holds (see `threads.rs`): a thread
    // started beyond that could kill the whole process on its way in, so the loop refuses first.
    let most = threads::budget(say);
    // A *scoped* thread may borrow from this function (the narrator, the counter); leaving the
    // scope waits for every thread spawned in it: how a stopped server lets its clients finish.
    thread::scope(|scope| -> Result<()> {
        while !stop.is_stopped() {
            narrate!(say, note("main thread waits in accept(); client threads keep serving"));
            // Out of descriptors (a thread per client uses one each) is waited out, not fatal:
            // see `net::accept_retrying`. `None`: asked to stop while waiting.
            let accepted = net::accept_retrying(listener, stop, say).context("accept() failed")?;
            let Some((stream, peer)) = accepted else {
                break;
            };
            // Counted by `stop`: with `--exit-after K`, the K-th connection is the last one.
            let n = stop.accepted();
            narrate!(say, call("accept()", format!("connection {n} from {peer}")));
            let name = format!("thread-{n}");
            let now_live = live.fetch_add(1, Ordering::SeqCst) + 1;
            let _story = narrate!(say, hold()); // the spawn is told before the thread speaks
            let spawned = match most {
                // As full as the address space allows: refused exactly as if `spawn` had failed.
                Some(most) if now_live > most => Err(std::io::Error::other(format!(
                    "{most} client threads fill the address space (ulimit -v)"
                ))),
                // A stack of a known size, so that `most_threads` can count them.
                _ => thread::Builder::new()
                    .name(name.clone())
                    .stack_size(STACK_SIZE)
                    .spawn_scoped(scope, {
                        let live = &live;
                        move || handle(stream, peer, transform, idle, live, say)
                    }),
            };
            match spawned {
                Ok(_) => narrate!(
                    say,
                    call(
                        format!("spawn({name})"),
                        format!(
                            "{now_live} client thread(s) alive, plus main; main goes back to accept()"
                        ),
                    )
                ),
                // Out of threads (or address space for their stacks): this client is dropped —
                // its socket, unused or in the closure that never ran, is closed — and the
                // server goes on.
                Err(e) => {
                    live.fetch_sub(1, Ordering::SeqCst);
                    narrate!(
                        say,
                        call(
                            format!("spawn({name})"),
                            format!("failed: {e}; closing {peer}"),
                        )
                    );
                }
            }
        }
        narrate!(
            say,
            note(format!(
                "accepted {} connection(s): no more accept(); waiting for {} client thread(s)",
                stop.accepted_so_far(),
                live.load(Ordering::SeqCst)
            ))
        );
        Ok(())
    })?;
    narrate!(say, note("every client thread has finished; exiting"));
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
    let say = server.for_this_thread();
    narrate!(
        say,
        note(format!("serving {peer}; recv() blocks this thread only"))
    );
    // A client that sends nothing would hold this thread (and a descriptor) forever.
    match idle
        .apply(&stream)
        .and_then(|()| echo_until_closed(&stream, transform, &say))
    {
        Ok((bytes, reads)) => narrate!(
            say,
            call(
                "recv()",
                format!("0 bytes: {peer} closed its side after {bytes} bytes in {reads} reads"),
            )
        ),
        Err(e) if IdleTimeout::is_expiry(&e) => narrate!(
            say,
            call(
                "recv()/send()",
                format!(
                    "nothing for {} ms (--idle-timeout-ms): closing {peer}",
                    idle.ms
                ),
            )
        ),
        // A reset or vanished client ends this thread, not the server.
        Err(e) => narrate!(
            say,
            call("recv()/send()", format!("failed: {e}; dropping {peer}"))
        ),
    }
    drop(stream);
    let left = live.fetch_sub(1, Ordering::SeqCst) - 1;
    narrate!(
        say,
        call(
            "close()",
            format!("done with {peer}; this thread ends, {left} client thread(s) still alive"),
        )
    );
}
// ANCHOR_END: handle
