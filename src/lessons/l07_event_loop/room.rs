//! The room of lesson 06 — names, `/nick`, `/who`, broadcasts, the 4096-byte limit — kept by
//! one thread. What 06's threads held on their stacks is now data in each [`Conn`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Result;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};
use socket2::SockRef;

use crate::kit::narrate::{Chatter, Narrator, narrate, result_text};
use crate::lessons::l06_group_chat::text;

mod lines;
use lines::{Got, next_line};

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

/// How much one `recv` asks for.
const READ_CHUNK: usize = 16 * 1024;

/// How many lines one client may have acted on in one turn before the next client's turn: a
/// client that sends a flood does not keep the others waiting.
const LINES_PER_TURN: usize = 64;

/// The line every client receives when the server stops.
const SHUTTING_DOWN: &str = "* server shutting down";

/// The last line a client that sent `/quit` (or `quit`) receives, before the server closes.
const BYE: &str = "* bye";

/// How long `shut_down` waits past the stall timeout for the last lines to leave.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// What the server is told on its command line.
pub struct Settings {
    pub max_clients: usize,
    pub stall: Duration,
}

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

/// Why a client is no longer in the room.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reason {
    /// `/quit`, `quit`, closing the socket, or a reset.
    Left,
    /// Its write buffer stayed full past the stall timeout.
    TooSlow,
}

/// What one turn found for a connection.
enum Turn {
    /// More may be waiting (a full turn, or the room paused): keep it in the queue.
    More,
    /// Read until WouldBlock: wait for the poller.
    Drained,
    /// The connection is gone.
    Gone,
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

    /// One line from member `id`: a command, or a message for everyone.
    fn act_on(&mut self, id: usize, text: &str) -> Act {
        if text == "quit" {
            return Act::Quit; // the course's command, kept so its clients still work
        }
        let Some(command) = text.strip_prefix('/') else {
            let name = self.name_of(id);
            // Lesson 06's rule: text, never instructions for anyone's terminal.
            let text = text::visible(text);
            narrate!(
                self.broadcasts,
                note(|| format!("[{name}] {text} → everyone"))
            );
            self.broadcast(&format!("[{name}] {text}"));
            return Act::Continue;
        };
        let (word, argument) = command.split_once(' ').unwrap_or((command, ""));
        match word {
            "quit" => return Act::Quit,
            "who" => {
                let names: Vec<&str> = self
                    .conns
                    .values()
                    .filter(|c| c.member)
                    .map(|c| c.name.as_str())
                    .collect();
                let list = format!("* online: {}", names.join(", "));
                self.tell(id, &list);
            }
            "nick" => match self.rename(id, argument.trim()) {
                Ok(old) => {
                    let notice = format!("* {old} is now {}", argument.trim());
                    narrate!(self.say, note(&notice));
                    self.broadcast(&notice);
                }
                Err(error) => self.tell(id, &error),
            },
            _ => self.tell(id, &format!("! unknown command /{}", text::visible(word))),
        }
        Act::Continue
    }

    fn name_of(&self, id: usize) -> String {
        self.conns
            .get(&id)
            .map(|c| c.name.clone())
            .unwrap_or_default()
    }

    /// `/nick NEW`: rename member `id`, unless the name is taken or not a valid name.
    /// Lesson 06's rules: the name grammar, and no name that looks like a member's.
    fn rename(&mut self, id: usize, new: &str) -> Result<String, String> {
        text::check_name(new)?;
        let key = text::look_alike_key(new);
        if self
            .conns
            .values()
            .any(|c| c.member && text::look_alike_key(&c.name) == key)
        {
            return Err(format!("! the name {new} is already in use"));
        }
        let conn = self
            .conns
            .get_mut(&id)
            .ok_or_else(|| "! you are not in the room".to_string())?;
        Ok(std::mem::replace(&mut conn.name, new.to_string()))
    }

    // ANCHOR: broadcast
    /// Append `text` to the write buffer of every member, the sender's too. Nothing is sent
    /// here: [`Room::flush`] sends each buffer once per wake-up, however many lines it holds.
    fn broadcast(&mut self, text: &str) {
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
    fn tell(&mut self, id: usize, text: &str) {
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
    fn leave(&mut self, id: usize, reason: Reason, registry: &Registry) {
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
    fn close(&mut self, id: usize, registry: &Registry) {
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

/// What the reader does next.
#[derive(PartialEq, Eq)]
enum Act {
    Continue,
    Quit,
}

/// Read and throw away whatever a leaving client still sends, until WouldBlock.
fn discard_input(conn: &mut Conn) -> Turn {
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
