//! The room's bookkeeping, which the reader and writer threads in `server.rs` share: each
//! client's outbox (a bounded queue of lines), the room (who is connected, under which name),
//! broadcasting, and shutdown.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::text;
use crate::kit::narrate::{Chatter, Narrator, narrate, result_text};

/// What the server is told on its command line (`--max-clients`, `--stall-timeout-ms`).
pub struct Settings {
    pub max_clients: usize,
    pub stall: Duration,
}

/// How many lines wait in one client's outbox before a broadcaster has to wait for room. With
/// the batch its writer is sending, a client holds at most 2 × 256 lines of our memory.
const QUEUE_LINES: usize = 256;

/// The kernel's send buffer for each client (`SO_SNDBUF`). Left alone, Linux grows it up to
/// 4 MiB per connection (`net.ipv4.tcp_wmem`); a chat needs far less, and a small buffer makes
/// a stalled reader show up as a full outbox sooner. Linux doubles what we ask for (room for
/// its own bookkeeping): `getsockopt(SO_SNDBUF)` reads back 128 KiB.
const SEND_BUFFER: usize = 64 * 1024;

/// The line every client receives when the server stops.
const SHUTTING_DOWN: &str = "* server shutting down";

/// The last line a client that sent `/quit` (or `quit`) receives, before the server closes.
pub const BYE: &str = "* bye";

/// The line a client gets when the server cannot start a thread for it.
const SERVER_BUSY: &str = "! server busy";

/// `lock()` that survives a panicked thread: the data is still consistent here (every update
/// is a single insert, remove or push), so a poisoned lock is not a reason to stop the room.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One connected client, as the accept loop hands it to its two threads.
#[derive(Clone)]
pub struct Client {
    pub id: u64,
    pub name: String,
    pub conn: Arc<TcpStream>,
    pub outbox: Arc<Outbox>,
    /// Who was in the room when it arrived: they, and only they, hear `* NAME joined`.
    pub present: Recipients,
}

/// A snapshot of some members' outboxes, taken under the lock and used after releasing it.
pub type Recipients = Arc<[(u64, Arc<Outbox>)]>;

/// A line ready to send, `\n` included. Shared: a broadcast puts the same bytes in every outbox.
pub type Line = Arc<[u8]>;

fn line(text: &str) -> Line {
    format!("{text}\n").into_bytes().into()
}

// ANCHOR: outbox
/// A bounded queue of lines for one client: broadcasters push, the client's writer takes.
///
/// std's `sync_channel` is bounded too, but it cannot wait *with a time limit* for room, and
/// that time limit is how we tell a burst (room appears soon) from a stalled reader (it does
/// not). So: a `VecDeque` behind a `Mutex`, and a `Condvar` to sleep on until it changes.
pub struct Outbox {
    queue: Mutex<Queue>,
    changed: Condvar,
}

struct Queue {
    lines: VecDeque<Line>,
    open: bool,
}

/// What happened to a pushed line.
enum Pushed {
    /// In the queue; `waited` if the queue was full and we had to wait for room.
    Queued { waited: bool },
    /// The client has left; the line is dropped.
    Closed,
    /// The queue stayed full for the whole stall timeout: the client has stopped reading.
    Stalled,
}

impl Outbox {
    fn new() -> Outbox {
        Outbox {
            queue: Mutex::new(Queue {
                lines: VecDeque::with_capacity(QUEUE_LINES),
                open: true,
            }),
            changed: Condvar::new(),
        }
    }

    // ANCHOR_END: outbox

    // ANCHOR: outbox_push
    /// Add `line`, waiting at most `patience` for room if the queue is full.
    fn push(&self, line: Line, patience: Duration) -> Pushed {
        let deadline = Instant::now() + patience;
        let mut queue = lock(&self.queue);
        let mut waited = false;
        while queue.open && queue.lines.len() >= QUEUE_LINES {
            waited = true;
            let now = Instant::now();
            if now >= deadline {
                return Pushed::Stalled;
            }
            queue = self
                .changed
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if !queue.open {
            return Pushed::Closed;
        }
        queue.lines.push_back(line);
        self.changed.notify_all();
        Pushed::Queued { waited }
    }

    /// Wait until there are lines (or the queue is closed) and move them all into `batch`.
    /// `false` when the queue is closed and empty: the writer's work is done.
    pub fn take_all(&self, batch: &mut Vec<Line>) -> bool {
        let mut queue = lock(&self.queue);
        while queue.open && queue.lines.is_empty() {
            queue = self
                .changed
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        batch.extend(queue.lines.drain(..));
        self.changed.notify_all(); // room for waiting broadcasters
        !batch.is_empty()
    }

    /// No more lines will come: the writer sends what is queued (and `last`, if any), then stops.
    fn close(&self, last: Option<Line>) {
        let mut queue = lock(&self.queue);
        if queue.open {
            queue.lines.extend(last);
            queue.open = false;
        }
        self.changed.notify_all();
    }

    /// Close and throw away what is queued: for a client we have given up on.
    fn abandon(&self) {
        let mut queue = lock(&self.queue);
        queue.lines.clear();
        queue.open = false;
        self.changed.notify_all();
    }
}
// ANCHOR_END: outbox_push

// ANCHOR: room
/// Who is in the room. One lock for the whole table, held only to read or change it — never
/// while sending, so one slow client cannot hold up the others by holding the lock.
pub struct Room<'a> {
    members: Mutex<BTreeMap<u64, Member>>,
    /// Connections whose writer is still running (members, and clients that left but whose
    /// last lines are still being sent): what shutdown waits for.
    writing: Mutex<BTreeMap<u64, Arc<TcpStream>>>,
    writers_done: Condvar,
    next_id: Mutex<u64>,
    settings: &'a Settings,
    pub say: &'a Narrator,
    /// The narration of broadcasts, which a busy room would flood.
    pub broadcasts: Chatter<'a>,
    waits: Chatter<'a>,
}

struct Member {
    name: String,
    outbox: Arc<Outbox>,
    conn: Arc<TcpStream>,
}

/// Why a client is no longer in the room.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reason {
    /// `/quit`, `quit`, closing the socket, or a reset.
    Left,
    /// Its outbox stayed full past the stall timeout, or a send made no progress that long.
    TooSlow,
}

impl<'a> Room<'a> {
    pub fn new(settings: &'a Settings, say: &'a Narrator) -> Room<'a> {
        Room {
            members: Mutex::new(BTreeMap::new()),
            writing: Mutex::new(BTreeMap::new()),
            writers_done: Condvar::new(),
            next_id: Mutex::new(0),
            settings,
            say,
            broadcasts: Chatter::new(say, "broadcasts"),
            waits: Chatter::new(say, "waits for a full outbox"),
        }
    }

    // ANCHOR_END: room

    // ANCHOR: admit
    /// Set up a new connection and add it to the room, or turn it away when the room is full.
    pub fn admit(&self, conn: TcpStream, peer: SocketAddr) -> Option<Client> {
        let say = self.say;
        // Our writer batches lines itself, so Nagle's algorithm would only add delay.
        let nodelay = conn.set_nodelay(true);
        narrate!(
            say,
            call("setsockopt(TCP_NODELAY, 1)", result_text(&nodelay))
        );
        let sent = SockRef::from(&conn).set_send_buffer_size(SEND_BUFFER);
        narrate!(
            say,
            call(
                format!("setsockopt(SO_SNDBUF, {SEND_BUFFER})"),
                result_text(&sent),
            )
        );
        // A send that makes no progress for this long fails with a timeout: the writer then
        // knows its client has stopped reading, even when nobody is broadcasting.
        let timed = conn.set_write_timeout(Some(self.settings.stall));
        narrate!(
            say,
            call(
                format!(
                    "setsockopt(SO_SNDTIMEO, {} ms)",
                    self.settings.stall.as_millis()
                ),
                result_text(&timed),
            )
        );

        let name = peer.to_string();
        let conn = Arc::new(conn);
        let outbox = Arc::new(Outbox::new());
        let id = {
            let mut next = lock(&self.next_id);
            *next += 1;
            *next
        };
        let mut members = lock(&self.members);
        if members.len() >= self.settings.max_clients {
            drop(members);
            narrate!(
                say,
                note(format!(
                    "{name}: the room is full ({} clients): turning it away",
                    self.settings.max_clients
                ))
            );
            let _ = (&*conn).write_all(b"! server full\n");
            let _ = conn.shutdown(Shutdown::Both);
            narrate!(say, call("send(\"! server full\") + close()", "ok"));
            return None;
        }
        // The welcome goes into the outbox *before* the newcomer is visible to broadcasters, so
        // it is always the first line the newcomer receives. A new outbox has room: no wait.
        let online = members.len() + 1;
        let present: Recipients = members
            .iter()
            .map(|(id, m)| (*id, m.outbox.clone()))
            .collect();
        outbox.push(
            line(&format!("* welcome {name}, {online} online")),
            Duration::ZERO,
        );
        members.insert(
            id,
            Member {
                name: name.clone(),
                outbox: outbox.clone(),
                conn: conn.clone(),
            },
        );
        drop(members);
        lock(&self.writing).insert(id, conn.clone());
        narrate!(
            say,
            note(format!(
                "{name} joined ({online} online): starting its reader and writer threads"
            ))
        );
        Some(Client {
            id,
            name,
            conn,
            outbox,
            present,
        })
    }

    // ANCHOR_END: admit

    // ANCHOR: rename
    /// The current name of member `id`, if it is still in the room.
    pub fn name_of(&self, id: u64) -> Option<String> {
        lock(&self.members).get(&id).map(|m| m.name.clone())
    }

    /// Every member's outbox: a snapshot, so the lock is released before anyone waits on a
    /// full outbox.
    fn outboxes(&self) -> Recipients {
        lock(&self.members)
            .iter()
            .map(|(id, m)| (*id, m.outbox.clone()))
            .collect()
    }

    /// `/nick NEW`: rename member `id`, unless the name is taken or not a valid name.
    /// The name must follow the grammar (`text::check_name`: ASCII, a letter first), and
    /// look like no current name — address names included, case and `I`/`l`/`1`, `O`/`0` aside.
    pub fn rename(&self, id: u64, new: &str) -> Result<String, String> {
        text::check_name(new)?;
        let key = text::look_alike_key(new);
        let mut members = lock(&self.members);
        if members
            .values()
            .any(|m| text::look_alike_key(&m.name) == key)
        {
            return Err(format!("! the name {new} is already in use"));
        }
        let member = members
            .get_mut(&id)
            .ok_or_else(|| "! you are not in the room".to_string())?;
        Ok(std::mem::replace(&mut member.name, new.to_string()))
    }

    /// A client whose threads could not start: out of the room without a word to the others
    /// (they never heard it join), told `! server busy`, closed. `writing`: whether its writer
    /// thread started; `e`: why a spawn failed.
    pub fn refuse(&self, id: u64, writing: bool, e: &std::io::Error) {
        let Some(member) = lock(&self.members).remove(&id) else {
            return;
        };
        narrate!(
            self.say,
            warn(format!(
                "{}: could not start a thread for it ({e}): `{SERVER_BUSY}`",
                member.name
            ))
        );
        if writing {
            // Its writer sends this last, then closes the connection.
            member.outbox.close(Some(line(SERVER_BUSY)));
            return;
        }
        let _ = (&*member.conn).write_all(&line(SERVER_BUSY));
        let _ = member.conn.shutdown(Shutdown::Both);
        self.writer_done(id);
    }

    // ANCHOR_END: rename

    // ANCHOR: leave
    /// `/who`: the names, in order of arrival.
    pub fn who(&self) -> String {
        let members = lock(&self.members);
        let names: Vec<&str> = members.values().map(|m| m.name.as_str()).collect();
        format!("* online: {}", names.join(", "))
    }

    /// Take member `id` out of the room. Whoever removes it (its reader, its writer, a
    /// broadcaster that gave up on it, or shutdown) tells the others — exactly once.
    pub fn leave(&self, id: u64, reason: Reason) {
        let Some(member) = lock(&self.members).remove(&id) else {
            return; // already gone: someone else has told the room
        };
        let notice = match reason {
            Reason::Left => {
                // Let its writer send what is queued (the client may still be reading).
                member.outbox.close(None);
                format!("* {} left", member.name)
            }
            Reason::TooSlow => {
                member.outbox.abandon();
                // Wakes its writer if it is blocked in send(), and its reader in recv().
                let _ = member.conn.shutdown(Shutdown::Both);
                narrate!(
                    self.say,
                    call(
                        format!("shutdown({}, SHUT_RDWR)", member.name),
                        "ok: given up on it",
                    )
                );
                format!("* {} left (too slow)", member.name)
            }
        };
        narrate!(self.broadcasts, flush());
        narrate!(self.waits, flush());
        narrate!(self.say, note(&notice));
        self.broadcast(&notice);
    }
}
// ANCHOR_END: leave

// ANCHOR: broadcast
impl Room<'_> {
    /// Put `text` in the outbox of every member, the sender's too, in the order they joined.
    ///
    /// A full outbox makes us wait (up to the stall timeout) — and while this thread waits it
    /// is not reading its own client's socket, so that client's sends slow down: backpressure
    /// all the way back to the sender, and no line is lost. An outbox that stays full that
    /// long belongs to a client that has stopped reading: it is removed, and the room goes on.
    pub fn broadcast(&self, text: &str) {
        self.deliver(&self.outboxes(), text);
    }

    /// Put `text` in each of these outboxes, in order.
    pub fn deliver(&self, recipients: &[(u64, Arc<Outbox>)], text: &str) {
        let bytes = line(text);
        for &(id, ref outbox) in recipients {
            let started = Instant::now();
            match outbox.push(bytes.clone(), self.settings.stall) {
                Pushed::Queued { waited: false } | Pushed::Closed => {}
                Pushed::Queued { waited: true } => narrate!(
                    self.waits,
                    note(|| {
                        let name = self.name_of(id).unwrap_or_default();
                        format!(
                            "{name}'s outbox was full: waited {:?} for room (backpressure)",
                            started.elapsed()
                        )
                    })
                ),
                Pushed::Stalled => {
                    let name = self.name_of(id).unwrap_or_default();
                    narrate!(
                        self.say,
                        warn(format!(
                            "{name}'s outbox stayed full for {} ms: it has stopped reading",
                            self.settings.stall.as_millis()
                        ))
                    );
                    self.leave(id, Reason::TooSlow);
                }
            }
        }
    }

    /// Send `text` to member `id` only (replies to commands, errors).
    pub fn tell(&self, id: u64, text: &str) {
        let outbox = lock(&self.members).get(&id).map(|m| m.outbox.clone());
        let pushed = outbox.map(|outbox| outbox.push(line(text), self.settings.stall));
        if let Some(Pushed::Stalled) = pushed {
            self.leave(id, Reason::TooSlow);
        }
    }
}
// ANCHOR_END: broadcast

// ANCHOR: shutdown
impl Room<'_> {
    /// Shutdown: every member gets `* server shutting down` as its last line; wait (bounded)
    /// for the writers to send it, then close whatever is left.
    pub fn close(&self) {
        let members = std::mem::take(&mut *lock(&self.members));
        narrate!(self.broadcasts, flush());
        narrate!(self.waits, flush());
        narrate!(
            self.say,
            note(format!(
                "shutting down: telling {} client(s)",
                members.len()
            ))
        );
        let last = line(SHUTTING_DOWN);
        for member in members.values() {
            member.outbox.close(Some(last.clone()));
        }
        // A writer stuck on a client that does not read gives up after the stall timeout.
        let deadline = Instant::now() + self.settings.stall + Duration::from_secs(1);
        let mut writing = lock(&self.writing);
        while !writing.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            writing = self
                .writers_done
                .wait_timeout(writing, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        for conn in writing.values() {
            let _ = conn.shutdown(Shutdown::Both);
        }
        narrate!(self.say, note("every client told; exiting"));
    }

    /// A writer has sent its last line and closed its socket: shutdown no longer waits for it.
    pub fn writer_done(&self, id: u64) {
        lock(&self.writing).remove(&id);
        self.writers_done.notify_all();
    }
}
// ANCHOR_END: shutdown
