//! The room of lesson 06 — names, `/nick`, `/who`, broadcasts, the 4096-byte limit — kept by
//! one thread. What 06's threads held on their stacks is now data in each [`Conn`].
//!
//! This file holds that data — each connection's [`Conn`], the [`Room`] around them — and the
//! first things the loop does with it: how long to wait, and admitting a new client. Then, in the
//! order of one turn of the loop: `reading.rs` (a fair turn of `recv` each), `lines.rs` (lines
//! out of the read buffer), `commands.rs` (what a line does: a message, `/nick`, `/who`),
//! `sending.rs` (broadcasts into write buffers, and the flush), `leaving.rs` (a client that left
//! or stopped reading, and shutting down).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Registry, Token};
use socket2::SockRef;

use crate::kit::narrate::{Chatter, Narrator, narrate, result_text};

mod commands;
mod leaving;
mod lines;
mod reading;
mod sending;

/// The listening socket's token: the poller names each ready socket by the token we gave it
/// (`serve` registers the listener and the waker; the room numbers connections after them).
pub const LISTENER: Token = Token(0);
/// The waker's token: another thread (the signal handler's, or the demo's) ends a `poll`.
pub const WAKER: Token = Token(1);
/// Connections are numbered from here, in order of arrival.
const FIRST_CLIENT: usize = 2;

/// The longest line a client may send, in bytes, without its `\n` (or `\r\n`), as in 06.
pub const MAX_LINE: usize = 4096;

/// A client's write buffer is *full* past this many bytes. While any buffer is full the loop
/// reads nobody's input — every sender waits, as 06's broadcaster waited for room — and a
/// buffer that stays full for the stall timeout belongs to a client that has stopped reading.
pub const WRITE_LIMIT: usize = 64 * 1024;

/// The kernel's send buffer for each client, as in 06: small, so that a client that stops
/// reading shows up in our write buffer soon. (Linux doubles it: `getsockopt` reads 128 KiB.)
const SEND_BUFFER: usize = 64 * 1024;

// What the server is told on its command line: lesson 06's settings, as its flags are 06's.
pub use crate::lessons::l06_group_chat::room::Settings;

// ANCHOR: conn
/// One connection, and everything the loop must remember about it between two wake-ups.
pub struct Conn {
    stream: TcpStream,
    /// Its name in the room: the peer address, until `/nick`.
    name: String,
    /// In the room (false once it has left and only its last lines are being sent).
    member: bool,
    /// Bytes received that do not yet make a whole line.
    inbox: Vec<u8>,
    /// Throwing away the rest of a line longer than [`MAX_LINE`].
    skipping: bool,
    /// The poller said readable and we have not yet read until WouldBlock.
    readable: bool,
    /// Bytes to send: `outbox[sent..]`.
    outbox: Vec<u8>,
    sent: usize,
    /// Since when the write buffer has held more than [`WRITE_LIMIT`] bytes.
    full_since: Option<Instant>,
    /// Whether we asked the poller about writability (only while there is something to send).
    wants_writable: bool,
    /// For a connection that has left: close it once its outbox is sent, or at this moment.
    close_by: Option<Instant>,
}
// ANCHOR_END: conn

impl Conn {
    fn pending(&self) -> usize {
        self.outbox.len() - self.sent
    }

    /// Queue `line`; true when this makes the write buffer full.
    fn push(&mut self, line: &[u8], now: Instant) -> bool {
        if self.sent > 0 && self.sent == self.outbox.len() {
            self.outbox.clear();
            self.sent = 0;
        }
        self.outbox.extend_from_slice(line);
        let filled = self.full_since.is_none() && self.pending() > WRITE_LIMIT;
        if filled {
            self.full_since = Some(now);
        }
        filled
    }
}

/// Everyone connected, and the loop's bookkeeping.
pub struct Room<'a> {
    conns: BTreeMap<usize, Conn>,
    next_id: usize,
    members: usize,
    /// Connections with input the loop has not read yet, in turn order.
    queue: VecDeque<usize>,
    /// Connections with something new to send since the last flush.
    dirty: BTreeSet<usize>,
    /// Connections whose write buffer is full: while there is one, no input is read.
    full: BTreeSet<usize>,
    settings: &'a Settings,
    pub say: &'a Narrator,
    /// The story of each wake-up, throttled.
    pub chatter: Chatter<'a>,
    broadcasts: Chatter<'a>,
    interest: Chatter<'a>,
}

impl<'a> Room<'a> {
    pub fn new(settings: &'a Settings, say: &'a Narrator) -> Room<'a> {
        Room {
            conns: BTreeMap::new(),
            next_id: FIRST_CLIENT,
            members: 0,
            queue: VecDeque::new(),
            dirty: BTreeSet::new(),
            full: BTreeSet::new(),
            settings,
            say,
            chatter: Chatter::new(say, "wake-ups"),
            broadcasts: Chatter::new(say, "broadcasts"),
            interest: Chatter::new(say, "changes of interest"),
        }
    }

    /// No connection left, not even a leaving one whose last lines are still being sent.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// While a client's write buffer is full, nobody's input is read: backpressure.
    fn paused(&self) -> bool {
        !self.full.is_empty()
    }

    // ANCHOR: timeout
    /// How long the next `poll` may wait: not at all while input is waiting for its turn; until
    /// the nearest stall deadline if a buffer is full or a leaving client is still being sent
    /// to; otherwise for ever — only a socket (or the waker) can give the loop work.
    pub fn next_timeout(&self) -> Option<Duration> {
        if !self.queue.is_empty() && !self.paused() {
            return Some(Duration::ZERO);
        }
        let stall = self.settings.stall;
        let nearest = self
            .conns
            .values()
            .filter_map(|c| c.close_by.or(c.full_since.map(|t| t + stall)))
            .min()?;
        // One more millisecond: epoll_wait counts in whole milliseconds, rounding down.
        Some(nearest.saturating_duration_since(Instant::now()) + Duration::from_millis(1))
    }
    // ANCHOR_END: timeout

    /// The story of one wake-up: how many sockets were ready, and for what. Narrated through
    /// the room's chatter (`narrate!(room.chatter, note(|| Room::wake_up_text(…)))`), so it is
    /// worked out only for the wake-ups that are told.
    pub fn wake_up_text(events: &Events, timeout: Option<Duration>) -> String {
        let (mut readable, mut writable, mut listener) = (0, 0, false);
        for event in events.iter() {
            match event.token() {
                LISTENER => listener = true,
                WAKER => {}
                _ => {
                    readable += usize::from(event.is_readable() || event.is_read_closed());
                    writable += usize::from(event.is_writable());
                }
            }
        }
        let count = events.iter().count();
        let mut text =
            format!("epoll_wait() → {count} ready: {readable} readable, {writable} writable");
        if listener {
            text += " (and the listener: someone is connecting)";
        }
        if count == 0 && timeout == Some(Duration::ZERO) {
            text = "epoll_wait(timeout 0) → 0 ready: input is still waiting its turn".into();
        } else if count == 0 {
            text = "epoll_wait() → 0 ready: a deadline of ours came".to_string();
        }
        text
    }

    // ANCHOR: admit
    /// Set up a new connection and add it to the room, or turn it away when the room is full.
    pub fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr, registry: &Registry) {
        let say = self.say;
        // Our loop batches lines itself, so Nagle's algorithm would only add delay.
        let nodelay = stream.set_nodelay(true);
        let sndbuf = SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER);
        narrate!(
            say,
            call(
                format!("setsockopt(TCP_NODELAY, 1) + setsockopt(SO_SNDBUF, {SEND_BUFFER})"),
                result_text(&nodelay.and(sndbuf)),
            )
        );
        let name = peer.to_string();
        if self.members >= self.settings.max_clients {
            narrate!(
                say,
                note(format!(
                    "{name}: the room is full ({} clients): turning it away",
                    self.settings.max_clients
                ))
            );
            // A new socket's send buffer is empty: this short write cannot be partial.
            let _ = stream.write(b"! server full\n");
            let _ = stream.shutdown(Shutdown::Both);
            narrate!(say, call("send(\"! server full\") + close()", "ok"));
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        // Accepted sockets are non-blocking already (mio's accept4 sets O_NONBLOCK).
        if let Err(e) = registry.register(&mut stream, Token(id), Interest::READABLE) {
            narrate!(say, warn(format!("epoll_ctl(ADD, {name}) failed: {e}")));
            return;
        }
        narrate!(say, call(format!("epoll_ctl(ADD, {name}, readable)"), "ok"));
        let online = self.members + 1;
        let mut conn = Conn {
            stream,
            name: name.clone(),
            member: true,
            inbox: Vec::new(),
            skipping: false,
            readable: false,
            outbox: Vec::new(),
            sent: 0,
            full_since: None,
            wants_writable: false,
            close_by: None,
        };
        // The welcome first, then the others hear about the newcomer. (A new buffer has room.)
        conn.push(
            format!("* welcome {name}, {online} online\n").as_bytes(),
            Instant::now(),
        );
        self.broadcast(&format!("* {name} joined"));
        self.conns.insert(id, conn);
        self.dirty.insert(id);
        self.members = online;
        narrate!(say, note(format!("{name} joined ({online} online)")));
    }
    // ANCHOR_END: admit

    /// The poller says connection `id` is readable and/or writable.
    pub fn ready(&mut self, id: usize, readable: bool, writable: bool) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return; // closed earlier in this same wake-up
        };
        if readable && !conn.readable {
            conn.readable = true;
            self.queue.push_back(id);
        }
        if writable {
            self.dirty.insert(id);
        }
    }
}
