//! Reading: each connection with input waiting gets a fair turn of `recv` per wake-up.

use std::io::{self, Read};

use mio::Registry;

use super::commands::Act;
use super::leaving::Reason;
use super::lines::{Got, next_line};
use super::{Conn, MAX_LINE, Room};

/// How much one `recv` asks for.
const READ_CHUNK: usize = 16 * 1024;

/// How many lines one client may have acted on in one turn before the next client's turn: a
/// client that sends a flood does not keep the others waiting.
const LINES_PER_TURN: usize = 64;

/// The last line a client that sent `/quit` (or `quit`) receives, before the server closes.
const BYE: &str = "* bye";

/// What one turn found for a connection.
pub(super) enum Turn {
    /// More may be waiting (a full turn, or the room paused): keep it in the queue.
    More,
    /// Read until WouldBlock: wait for the poller.
    Drained,
    /// The connection is gone.
    Gone,
}

impl Room<'_> {
    // ANCHOR: read_input
    /// Give each connection with input waiting one turn, in order, once around. A turn ends
    /// at WouldBlock, after [`LINES_PER_TURN`] lines, or when a write buffer fills up.
    pub fn read_input(&mut self, registry: &Registry) {
        for _ in 0..self.queue.len() {
            if self.paused() {
                return; // the queue keeps its order: reading resumes where it stopped
            }
            let Some(id) = self.queue.pop_front() else {
                return;
            };
            match self.turn(id, registry) {
                Turn::More => self.queue.push_back(id),
                Turn::Drained => {
                    if let Some(conn) = self.conns.get_mut(&id) {
                        conn.readable = false;
                    }
                }
                Turn::Gone => {}
            }
        }
    }

    // ANCHOR_END: read_input

    // ANCHOR: turn
    /// One turn of connection `id`: act on the whole lines it has sent; when none is left, one
    /// `recv`, and act on the lines that completes.
    fn turn(&mut self, id: usize, registry: &Registry) -> Turn {
        let mut lines = 0;
        let mut received = false;
        loop {
            if self.paused() || lines >= LINES_PER_TURN {
                return Turn::More;
            }
            let Some(conn) = self.conns.get_mut(&id) else {
                return Turn::Gone;
            };
            if !conn.member {
                // It has left; whatever it still sends is read and thrown away, so that
                // closing the socket later sends a FIN, not a reset.
                return discard_input(conn);
            }
            match next_line(conn) {
                Some(Got::Line(bytes)) => {
                    lines += 1;
                    // Invalid UTF-8 becomes U+FFFD (�): a bad byte never ends a session.
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    if self.act_on(id, &text) == Act::Quit {
                        // Its last line, after what is already queued for it; `leave` lets
                        // the loop send it all before closing.
                        self.tell(id, BYE);
                        self.leave(id, Reason::Left, registry);
                        return Turn::Gone;
                    }
                    continue;
                }
                Some(Got::TooLong) => {
                    lines += 1;
                    self.tell(id, &format!("! line too long (max {MAX_LINE} bytes)"));
                    continue;
                }
                None if received => return Turn::More, // one recv per turn
                None => {}
            }
            // ANCHOR_END: turn

            // ANCHOR: recv_turn
            let mut chunk = [0u8; READ_CHUNK];
            match conn.stream.read(&mut chunk) {
                Ok(0) => {
                    // The client closed its side. A last line without `\n` still counts.
                    let last = (!conn.skipping && !conn.inbox.is_empty())
                        .then(|| std::mem::take(&mut conn.inbox));
                    if let Some(bytes) = last {
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        if self.act_on(id, &text) == Act::Quit {
                            self.tell(id, BYE);
                        }
                    }
                    self.leave(id, Reason::Left, registry);
                    return Turn::Gone;
                }
                Ok(n) => {
                    received = true;
                    conn.inbox.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Turn::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // A reset: the client has gone.
                    self.leave(id, Reason::Left, registry);
                    return Turn::Gone;
                }
            }
        }
    }
    // ANCHOR_END: recv_turn
}

/// Read and throw away whatever a leaving client still sends, until WouldBlock.
pub(super) fn discard_input(conn: &mut Conn) -> Turn {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        match conn.stream.read(&mut chunk) {
            Ok(0) => return Turn::Drained,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Turn::Drained,
        }
    }
}
