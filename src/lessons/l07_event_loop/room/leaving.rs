//! Leaving: a client that left or stopped reading is taken out of the room, its socket closed
//! once its last lines are sent; and the server's own shutdown, which tells every client.

use std::io;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use anyhow::Result;
use mio::{Events, Poll, Registry, Token};

use crate::kit::narrate::narrate;

use super::Room;
use super::reading::discard_input;

/// The line every client receives when the server stops.
const SHUTTING_DOWN: &str = "* server shutting down";

/// How long `shut_down` waits past the stall timeout for the last lines to leave.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Why a client is no longer in the room.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Reason {
    /// `/quit`, `quit`, closing the socket, or a reset.
    Left,
    /// Its write buffer stayed full past the stall timeout.
    TooSlow,
}

impl Room<'_> {
    // ANCHOR: stalled
    /// Drop every client whose write buffer has stayed full for the stall timeout, and close
    /// every leaving client whose last lines could not be sent in time.
    pub fn drop_stalled(&mut self, registry: &Registry) {
        let now = Instant::now();
        let stall = self.settings.stall;
        let stalled: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.member && c.full_since.is_some_and(|t| now >= t + stall))
            .map(|(&id, _)| id)
            .collect();
        for id in stalled {
            let name = self.name_of(id);
            narrate!(
                self.say,
                warn(format!(
                    "{name}'s write buffer stayed full for {} ms: it has stopped reading",
                    stall.as_millis()
                ))
            );
            self.leave(id, Reason::TooSlow, registry);
        }
        let late: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.member && c.close_by.is_some_and(|t| now >= t))
            .map(|(&id, _)| id)
            .collect();
        for id in late {
            self.close(id, registry);
        }
    }
    // ANCHOR_END: stalled

    /// Take member `id` out of the room and tell the others — exactly once.
    pub(super) fn leave(&mut self, id: usize, reason: Reason, registry: &Registry) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if !conn.member {
            return; // already gone: the room has been told
        }
        conn.member = false;
        conn.full_since = None;
        self.full.remove(&id);
        self.members -= 1;
        let notice = match reason {
            Reason::Left => {
                // Its last lines are still sent, then the socket is closed (see `flush`).
                conn.close_by = Some(Instant::now() + self.settings.stall);
                self.dirty.insert(id);
                format!("* {} left", conn.name)
            }
            Reason::TooSlow => {
                let notice = format!("* {} left (too slow)", conn.name);
                narrate!(
                    self.say,
                    call(
                        format!("shutdown({}, SHUT_RDWR) + close()", conn.name),
                        "ok: given up on it",
                    )
                );
                self.close(id, registry);
                notice
            }
        };
        narrate!(self.chatter, flush());
        narrate!(self.broadcasts, flush());
        narrate!(self.interest, flush());
        narrate!(self.say, note(&notice));
        self.broadcast(&notice);
    }

    /// Forget connection `id`: take it off the poller and close the socket.
    pub(super) fn close(&mut self, id: usize, registry: &Registry) {
        self.full.remove(&id);
        if let Some(mut conn) = self.conns.remove(&id) {
            let _ = registry.deregister(&mut conn.stream);
            let _ = conn.stream.shutdown(Shutdown::Both);
            // Dropping the stream closes the descriptor.
        }
    }

    // ANCHOR: shut_down
    /// Shutdown: every member gets `* server shutting down` as its last line; keep looping —
    /// sending only — until every buffer is sent or the stall timeout (and a second) has
    /// passed, then close what is left.
    pub fn shut_down(mut self, poll: &mut Poll, events: &mut Events) -> Result<()> {
        narrate!(self.chatter, flush());
        narrate!(self.broadcasts, flush());
        narrate!(
            self.say,
            note(format!("shutting down: telling {} client(s)", self.members))
        );
        self.broadcast(SHUTTING_DOWN);
        let deadline = Instant::now() + self.settings.stall + SHUTDOWN_GRACE;
        for conn in self.conns.values_mut() {
            conn.member = false;
            conn.full_since = None;
            conn.close_by = Some(deadline);
        }
        self.full.clear();
        self.members = 0;
        self.flush(poll.registry());
        while !self.conns.is_empty() && Instant::now() < deadline {
            let wait = deadline.saturating_duration_since(Instant::now());
            match poll.poll(events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
            for event in events.iter() {
                let Token(id) = event.token();
                let Some(conn) = self.conns.get_mut(&id) else {
                    continue;
                };
                if event.is_readable() || event.is_read_closed() {
                    let _ = discard_input(conn);
                }
                self.dirty.insert(id);
            }
            self.flush(poll.registry());
        }
        let ids: Vec<usize> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id, poll.registry());
        }
        narrate!(self.say, note("every client told; exiting"));
        Ok(())
    }
    // ANCHOR_END: shut_down
}
