//! Sending: a broadcast appends to write buffers; the flush sends each changed buffer once per
//! wake-up, and asks the poller about writability only while something is left to send.

use std::io::{self, Write};
use std::time::Instant;

use mio::{Interest, Registry, Token};

use crate::kit::narrate::{narrate, result_text};

use super::leaving::Reason;
use super::{Room, WRITE_LIMIT};

impl Room<'_> {
    // ANCHOR: broadcast
    /// Append `text` to the write buffer of every member, the sender's too. Nothing is sent
    /// here: [`Room::flush`] sends each buffer once per wake-up, however many lines it holds.
    pub(super) fn broadcast(&mut self, text: &str) {
        let line = format!("{text}\n");
        let now = Instant::now();
        for (&id, conn) in self.conns.iter_mut().filter(|(_, c)| c.member) {
            if conn.push(line.as_bytes(), now) {
                self.full.insert(id);
            }
            self.dirty.insert(id);
        }
    }

    /// Append `text` to member `id`'s write buffer only (replies to commands, errors).
    pub(super) fn tell(&mut self, id: usize, text: &str) {
        if let Some(conn) = self.conns.get_mut(&id) {
            if conn.push(format!("{text}\n").as_bytes(), Instant::now()) {
                self.full.insert(id);
            }
            self.dirty.insert(id);
        }
    }
    // ANCHOR_END: broadcast

    // ANCHOR: flush
    /// Send what each changed connection has queued, until it is sent or the socket says
    /// WouldBlock (its send buffer is full: a *partial write*, the rest waits). Ask the poller
    /// about writability exactly while something is left to send.
    pub fn flush(&mut self, registry: &Registry) {
        while let Some(id) = self.dirty.pop_first() {
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            let mut failed = false;
            while conn.pending() > 0 {
                match conn.stream.write(&conn.outbox[conn.sent..]) {
                    Ok(n) => conn.sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        failed = true; // EPIPE or a reset: the client has gone
                        break;
                    }
                }
            }
            if conn.pending() == 0 {
                conn.outbox.clear();
                conn.sent = 0;
            } else if conn.sent >= WRITE_LIMIT {
                // Keep the buffer from growing at the front: move the unsent bytes down.
                conn.outbox.drain(..conn.sent);
                conn.sent = 0;
            }
            if conn.pending() <= WRITE_LIMIT && conn.full_since.take().is_some() {
                self.full.remove(&id);
                narrate!(
                    self.say,
                    note(format!(
                        "{}'s write buffer has room again: reading resumes",
                        conn.name
                    ))
                );
            }
            let want = conn.pending() > 0 && !failed;
            if want != conn.wants_writable {
                let interest = if want {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                let changed = registry.reregister(&mut conn.stream, Token(id), interest);
                conn.wants_writable = want;
                let name = conn.name.clone();
                let left = conn.pending();
                narrate!(
                    self.interest,
                    note(|| {
                        let what = if want {
                            format!("readable + writable: {left} bytes wait for room")
                        } else {
                            "readable only: all sent".to_string()
                        };
                        format!("epoll_ctl(MOD, {name}, {what}) → {}", result_text(&changed))
                    })
                );
            }
            let conn_done = failed || (!conn.member && conn.pending() == 0);
            if failed && conn.member {
                self.leave(id, Reason::Left, registry);
            }
            if conn_done {
                self.close(id, registry);
            }
        }
    }
    // ANCHOR_END: flush
}
