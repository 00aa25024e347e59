//! Lesson 07's server, a function of a bound listener (`cli.rs` makes it): one thread, one
//! loop around the poller's wait. What the loop keeps per connection is `room.rs`.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use mio::{Events, Interest, Poll, Token, Waker};

use super::room::{LISTENER, Room, Settings, WAKER};
use crate::kit::backoff::Backoff;
use crate::kit::narrate::{Narrator, narrate};
use crate::kit::net::AcceptError;
use crate::kit::shutdown::Stop;

/// How many readiness events one `poll` can hand back; more wait for the next call.
const EVENTS_PER_POLL: usize = 1024;

// ANCHOR: serve
/// The whole server: one thread, one loop. Returns when `stop` is set (Ctrl-C, SIGTERM),
/// after telling every client and sending what is left (bounded) — or, after `--exit-after K`,
/// once the last client has left: the K are served like any others.
pub fn serve(
    listener: TcpListener,
    settings: &Settings,
    stop: &Stop,
    say: &Narrator,
) -> Result<()> {
    // 1. A non-blocking listener: accept() says WouldBlock when no connection is waiting.
    listener
        .set_nonblocking(true)
        .context("fcntl(O_NONBLOCK) failed")?;
    narrate!(
        say,
        call(
            "fcntl(listener, F_SETFL, O_NONBLOCK)",
            "ok: no call on it will wait",
        )
    );
    let mut listener = mio::net::TcpListener::from_std(listener);

    // 2. The poller: an epoll instance, and the sockets it watches, each with a token.
    let mut poll = Poll::new().context("epoll_create() failed")?;
    narrate!(say, call("epoll_create1()", "ok: the poller (mio::Poll)"));
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .context("epoll_ctl(ADD, listener) failed")?;
    narrate!(say, call("epoll_ctl(ADD, listener, readable)", "ok"));
    // A stop asked for by another thread must end our wait: the waker is one more source.
    // The loop keeps its own handle: the eventfd closes when the last one is dropped, and a
    // wake-up written just before that close would be lost.
    let waker = Arc::new(Waker::new(poll.registry(), WAKER).context("eventfd() failed")?);
    let waking = waker.clone();
    stop.on_stop(move || {
        let _ = waking.wake();
    });

    let mut room = Room::new(settings, say);
    let mut events = Events::with_capacity(EVENTS_PER_POLL);
    // Out of descriptors, the listener gets no new readiness event for the clients still
    // waiting: we come back to it ourselves, after a backoff (10 ms doubling to 1 s).
    let (mut backoff, mut accept_again) = (Backoff::new(), None::<Instant>);
    // ANCHOR_END: serve

    // ANCHOR: event_loop
    // `--exit-after K`: after the K-th accept the loop goes on, accepting no more, until the
    // room is empty (the last leaver's lines sent too).
    let serving = |room: &Room| !stop.is_stopped() || (stop.limit_reached() && !room.is_empty());
    while serving(&room) {
        // 3. Wait until a socket is ready — or a deadline of ours comes (a stall timeout, or
        // trying accept() again).
        let retry = accept_again.map(|at| at.saturating_duration_since(Instant::now()));
        let timeout = match (room.next_timeout(), retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue; // a signal arrived during the wait: look at the flag, wait again
            }
            return Err(e).context("epoll_wait() failed");
        }
        narrate!(room.chatter, note(|| Room::wake_up_text(&events, timeout)));
        // 4. Do what each ready socket allows, without waiting.
        let mut accept_now = accept_again.is_some_and(|at| Instant::now() >= at);
        for event in events.iter() {
            match event.token() {
                LISTENER => accept_now = true,
                WAKER => {} // the stop flag is looked at by the loop
                Token(id) => room.ready(
                    id,
                    event.is_readable() || event.is_read_closed() || event.is_error(),
                    event.is_writable() || event.is_write_closed(),
                ),
            }
        }
        if accept_now {
            accept_again = if accept_all(&listener, &mut room, stop, poll.registry())? {
                backoff.reset();
                None
            } else {
                Some(Instant::now() + backoff.next_delay())
            };
        }
        // 5. Read what the ready sockets hold, a fair turn each; then send what is queued.
        room.read_input(poll.registry());
        room.flush(poll.registry());
        room.drop_stalled(poll.registry());
    }
    // Stop accepting (close the listener), tell everyone, send what is left.
    drop((listener, waker));
    narrate!(say, call("close(listener)", "ok: no new connections"));
    if stop.limit_reached() {
        narrate!(
            say,
            note("the last client has left (--exit-after); exiting")
        );
        return Ok(());
    }
    room.shut_down(&mut poll, &mut events)
}
// ANCHOR_END: event_loop

// ANCHOR: accept
/// accept() until it says WouldBlock. The poller reports a readiness *change* once (mio is
/// edge-triggered), so every connection waiting must be taken now, not one per wake-up.
/// `false`: out of descriptors (or memory) with clients still waiting — try again later.
fn accept_all(
    listener: &mio::net::TcpListener,
    room: &mut Room,
    stop: &Stop,
    registry: &mio::Registry,
) -> Result<bool> {
    while !stop.is_stopped() {
        match listener.accept() {
            Ok((conn, peer)) => {
                let n = stop.accepted(); // `--exit-after K`: the K-th is the last one accepted
                narrate!(
                    room.say,
                    call("accept()", format!("connection {n} from {peer}"))
                );
                room.admit(conn, peer, registry);
                if stop.limit_reached() {
                    narrate!(
                        room.say,
                        note(format!(
                            "{n} connection(s) accepted (--exit-after): no more accept(); the room goes on until its last client leaves"
                        ))
                    );
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                narrate!(
                    room.chatter,
                    note(|| "accept() → WouldBlock: nobody else is waiting".to_string())
                );
                return Ok(true);
            }
            Err(e) => match AcceptError::of(&e) {
                // The client gave up between the handshake and our accept(): not our problem.
                AcceptError::ThisConnection => continue,
                // Out of descriptors (EMFILE) or memory: the waiting client stays in the
                // backlog, and the loop tries again after a backoff.
                AcceptError::Shortage => {
                    narrate!(
                        room.say,
                        warn(format!(
                            "accept() failed: {e}; temporary: trying again soon"
                        ))
                    );
                    return Ok(false);
                }
                AcceptError::Fatal => return Err(e).context("accept() failed"),
            },
        }
    }
    Ok(true)
}
// ANCHOR_END: accept
