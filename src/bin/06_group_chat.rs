//! # Lesson 06 — a group chat
//!
//! The course ends with a chat room: every line a client sends reaches every connected client.
//! The course's own version calls itself "only for demonstration", and it is right: a client
//! that stops reading blocks everyone, the table of clients is shared between threads without a
//! lock, and a message is whatever one `recv(1024)` happened to return. This version fixes all
//! three, and the fixes are the lesson:
//!
//! - **One reader thread per client** reads *lines* (`\n`-terminated, at most 4096 bytes), not
//!   reads: TCP is a byte stream, so a line may arrive in pieces or several lines in one read.
//! - **One writer thread per client**, fed by a **bounded queue** (its *outbox*). Broadcasting a
//!   line means putting it in every outbox; only that client's writer ever blocks on its socket.
//!   When an outbox is full the broadcaster waits — that is backpressure: the sender's own TCP
//!   connection fills up and its `send` slows down, and no line is lost. But if the outbox stays
//!   full for the stall timeout, that client has stopped reading: it is disconnected
//!   (`* NAME left (too slow)`) and the room goes on.
//! - **The room** (who is connected, under which name) is one `Mutex`, held only to look or to
//!   change — never while sending.
//!
//! Run it:
//!
//! ```text
//! cargo run --bin 06_group_chat                               # demo: four clients, narrated
//! cargo run --bin 06_group_chat -- server                     # terminal 1
//! cargo run --bin 06_group_chat -- client --name ana          # terminal 2
//! cargo run --bin 06_group_chat -- client --name ben          # terminal 3
//! nc 127.0.0.1 7006                                           # terminal 4: plain netcat joins too
//! ```
//!
//! The page: `lessons/06_group_chat.md`.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use socket2::SockRef;
use workbook::kit::cli::{Endpoint, ports, resolve, resolve_one, unspecified_warning};
use workbook::kit::narrate::{Narrator, role_colour, try_next};
use workbook::kit::shutdown::Stop;

const LESSON: &str = "06_group_chat";

/// The longest line a client may send, in bytes, not counting its `\n` (or `\r\n`). Every
/// buffer has a limit; without one, a client that never sends `\n` would fill our memory.
const MAX_LINE: usize = 4096;

/// A name is 1 to this many visible characters.
const MAX_NAME: usize = 32;

/// How many lines wait in one client's outbox before a broadcaster has to wait for room. With
/// the batch its writer is sending, a client holds at most 2 × 256 lines of our memory.
const QUEUE_LINES: usize = 256;

/// The kernel's send buffer for each client (`SO_SNDBUF`). Left alone, Linux grows it up to
/// 4 MiB per connection (`net.ipv4.tcp_wmem`); a chat needs far less, and a small buffer makes
/// a stalled reader show up as a full outbox sooner.
const SEND_BUFFER: usize = 64 * 1024;

/// How long an outbox may stay full before its client is declared too slow.
const DEFAULT_STALL_MS: u64 = 5000;

/// The line every client receives when the server stops.
const SHUTTING_DOWN: &str = "* server shutting down";

/// A client gives up on a server that has not closed this long after our `/quit`.
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Parser)]
#[command(
    name = LESSON,
    about = "Lesson 06: a group chat that a stalled client cannot stall",
    after_help = "With no subcommand, runs the demo. Page: lessons/06_group_chat.md"
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// Server and four clients in one process on a free port, every decision narrated (the default).
    Demo,
    /// Run the chat room: every line a client sends goes to every client.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::GROUP_CHAT }>,
        /// Turn away connections beyond this many clients with `! server full`.
        #[arg(long, value_name = "N", default_value_t = 100,
              value_parser = clap::value_parser!(u64).range(1..))]
        max_clients: u64,
        /// Disconnect a client whose outbox stays full this long, in milliseconds (too slow).
        #[arg(long, value_name = "MS", default_value_t = DEFAULT_STALL_MS,
              value_parser = clap::value_parser!(u64).range(1..))]
        stall_timeout_ms: u64,
        /// Shut down (telling every client) once this many connections have been accepted.
        #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
        exit_after: Option<u64>,
    },
    /// Join the room: send each line of stdin, print each line from the server.
    Client {
        #[command(flatten)]
        at: Endpoint<{ ports::GROUP_CHAT }>,
        /// Choose a name (sends `/nick NAME` first).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
}

/// What the server is told on its command line.
struct Settings {
    max_clients: usize,
    stall: Duration,
    exit_after: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    workbook::kit::errors::main(LESSON, || match cli.mode.unwrap_or(Mode::Demo) {
        Mode::Demo => demo(),
        Mode::Server {
            at,
            max_clients,
            stall_timeout_ms,
            exit_after,
        } => {
            let say = Narrator::new("server", at.quiet);
            let listener = listen(resolve_one(&at.host, at.port)?, &say)?;
            let addr = listener.local_addr()?;
            let mut stdout = io::stdout().lock();
            writeln!(stdout, "listening on {addr}")?;
            stdout.flush()?;
            // Ctrl-C and SIGTERM set the stop flag; a connection to ourselves wakes accept().
            let stop = Stop::new();
            stop.on_signals()?;
            stop.wake_listener(addr, 1);
            let settings = Settings {
                max_clients: usize::try_from(max_clients).unwrap_or(usize::MAX),
                stall: Duration::from_millis(stall_timeout_ms),
                exit_after,
            };
            serve(&listener, &settings, &stop, &say)
        }
        Mode::Client { at, name } => {
            let say = Narrator::new("client", at.quiet);
            client(&resolve(&at.host, at.port)?, name.as_deref(), &say)
        }
    })
}

/// `lock()` that survives a panicked thread: the data is still consistent here (every update
/// is a single insert, remove or push), so a poisoned lock is not a reason to stop the room.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ANCHOR: listen
/// socket + bind + listen in one call, as in lessons 02–05.
fn listen(addr: SocketAddr, say: &Narrator) -> Result<TcpListener> {
    let listener = TcpListener::bind(addr).with_context(|| format!("failed to bind {addr}"))?;
    let bound = listener.local_addr().context("getsockname() failed")?;
    say.call(
        format!("socket() + bind({addr}) + listen(backlog=128)"),
        format!("listening on {bound}"),
    );
    if let Some(warning) = unspecified_warning(bound) {
        say.warn(warning);
    }
    Ok(listener)
}
// ANCHOR_END: listen

// ANCHOR: accept
/// Accept clients until told to stop; each client gets a reader thread and a writer thread.
/// Then tell every client the server is shutting down, and wait for the threads to finish.
fn serve(listener: &TcpListener, settings: &Settings, stop: &Stop, say: &Narrator) -> Result<()> {
    let room = Room::new(settings, say);
    // A scope: every thread spawned in it may borrow `room`, and all of them have finished
    // when the scope ends — no thread outlives the server.
    std::thread::scope(|scope| -> Result<()> {
        let accepting = accept_loop(listener, settings, stop, &room, scope);
        // However the loop ended, tell every client before the scope waits for their threads.
        room.close();
        accepting
    })
}

/// accept() one client after another: set up its socket, admit it to the room (or turn it
/// away), start its two threads — until a stop is asked for or `--exit-after` is reached.
fn accept_loop<'scope>(
    listener: &TcpListener,
    settings: &Settings,
    stop: &Stop,
    room: &'scope Room,
    scope: &'scope std::thread::Scope<'scope, '_>,
) -> Result<()> {
    let say = room.say;
    let mut accepted = 0u64;
    while !stop.is_stopped() {
        let (conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // The client gave up between the handshake and our accept(): not our problem.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accept() failed"),
        };
        if stop.is_stopped() {
            break; // the wake-up connection from Stop, or a client arriving as we stop
        }
        accepted += 1;
        say.call("accept()", format!("connection from {peer}"));
        if let Some(client) = room.admit(conn, peer) {
            let for_writer = client.clone();
            scope.spawn(move || write_loop(room, &for_writer));
            scope.spawn(move || read_loop(room, &client));
        }
        if settings.exit_after.is_some_and(|k| accepted >= k) {
            say.note(format!(
                "{accepted} connections accepted (--exit-after): stopping"
            ));
            break;
        }
    }
    Ok(())
}
// ANCHOR_END: accept

/// One connected client, as the accept loop hands it to its two threads.
#[derive(Clone)]
struct Client {
    id: u64,
    name: String,
    conn: Arc<TcpStream>,
    outbox: Arc<Outbox>,
    /// Who was in the room when it arrived: they, and only they, hear `* NAME joined`.
    present: Recipients,
}

/// A snapshot of some members' outboxes, taken under the lock and used after releasing it.
type Recipients = Arc<[(u64, Arc<Outbox>)]>;

/// A line ready to send, `\n` included. Shared: a broadcast puts the same bytes in every outbox.
type Line = Arc<[u8]>;

fn line(text: &str) -> Line {
    format!("{text}\n").into_bytes().into()
}

// ANCHOR: outbox
/// A bounded queue of lines for one client: broadcasters push, the client's writer takes.
///
/// std's `sync_channel` is bounded too, but it cannot wait *with a time limit* for room, and
/// that time limit is how we tell a burst (room appears soon) from a stalled reader (it does
/// not). So: a `VecDeque` behind a `Mutex`, and a `Condvar` to sleep on until it changes.
struct Outbox {
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
    fn take_all(&self, batch: &mut Vec<Line>) -> bool {
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
// ANCHOR_END: outbox

// ANCHOR: room
/// Who is in the room. One lock for the whole table, held only to read or change it — never
/// while sending, so one slow client cannot hold up the others by holding the lock.
struct Room<'a> {
    members: Mutex<BTreeMap<u64, Member>>,
    /// Connections whose writer is still running (members, and clients that left but whose
    /// last lines are still being sent): what shutdown waits for.
    writing: Mutex<BTreeMap<u64, Arc<TcpStream>>>,
    writers_done: Condvar,
    next_id: Mutex<u64>,
    settings: &'a Settings,
    say: &'a Narrator,
    broadcasts: Chatter<'a>,
    waits: Chatter<'a>,
}

struct Member {
    name: String,
    outbox: Arc<Outbox>,
    conn: Arc<TcpStream>,
}

/// Why a client is no longer in the room.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reason {
    /// `/quit`, `quit`, closing the socket, or a reset.
    Left,
    /// Its outbox stayed full past the stall timeout, or a send made no progress that long.
    TooSlow,
}

impl<'a> Room<'a> {
    fn new(settings: &'a Settings, say: &'a Narrator) -> Room<'a> {
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

    /// Set up a new connection and add it to the room, or turn it away when the room is full.
    fn admit(&self, conn: TcpStream, peer: SocketAddr) -> Option<Client> {
        let say = self.say;
        // Our writer batches lines itself, so Nagle's algorithm would only add delay.
        let nodelay = conn.set_nodelay(true);
        say.call("setsockopt(TCP_NODELAY, 1)", result_text(&nodelay));
        let sent = SockRef::from(&conn).set_send_buffer_size(SEND_BUFFER);
        say.call(
            format!("setsockopt(SO_SNDBUF, {SEND_BUFFER})"),
            result_text(&sent),
        );
        // A send that makes no progress for this long fails with a timeout: the writer then
        // knows its client has stopped reading, even when nobody is broadcasting.
        let timed = conn.set_write_timeout(Some(self.settings.stall));
        say.call(
            format!(
                "setsockopt(SO_SNDTIMEO, {} ms)",
                self.settings.stall.as_millis()
            ),
            result_text(&timed),
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
            say.note(format!(
                "{name}: the room is full ({} clients): turning it away",
                self.settings.max_clients
            ));
            let _ = (&*conn).write_all(b"! server full\n");
            let _ = conn.shutdown(Shutdown::Both);
            say.call("send(\"! server full\") + close()", "ok");
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
        say.note(format!(
            "{name} joined ({online} online): starting its reader and writer threads"
        ));
        Some(Client {
            id,
            name,
            conn,
            outbox,
            present,
        })
    }

    /// The current name of member `id`, if it is still in the room.
    fn name_of(&self, id: u64) -> Option<String> {
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
    fn rename(&self, id: u64, new: &str) -> Result<String, String> {
        let length = new.chars().count();
        if !(1..=MAX_NAME).contains(&length)
            || new.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "! a name is 1 to {MAX_NAME} visible characters, without spaces"
            ));
        }
        let mut members = lock(&self.members);
        if members.values().any(|m| m.name == new) {
            return Err(format!("! the name {new} is already in use"));
        }
        let member = members
            .get_mut(&id)
            .ok_or_else(|| "! you are not in the room".to_string())?;
        Ok(std::mem::replace(&mut member.name, new.to_string()))
    }

    /// `/who`: the names, in order of arrival.
    fn who(&self) -> String {
        let members = lock(&self.members);
        let names: Vec<&str> = members.values().map(|m| m.name.as_str()).collect();
        format!("* online: {}", names.join(", "))
    }

    /// Take member `id` out of the room. Whoever removes it (its reader, its writer, a
    /// broadcaster that gave up on it, or shutdown) tells the others — exactly once.
    fn leave(&self, id: u64, reason: Reason) {
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
                self.say.call(
                    format!("shutdown({}, SHUT_RDWR)", member.name),
                    "ok: given up on it",
                );
                format!("* {} left (too slow)", member.name)
            }
        };
        self.broadcasts.flush();
        self.waits.flush();
        self.say.note(&notice);
        self.broadcast(&notice);
    }
}
// ANCHOR_END: room

// ANCHOR: broadcast
impl Room<'_> {
    /// Put `text` in the outbox of every member, the sender's too, in the order they joined.
    ///
    /// A full outbox makes us wait (up to the stall timeout) — and while this thread waits it
    /// is not reading its own client's socket, so that client's sends slow down: backpressure
    /// all the way back to the sender, and no line is lost. An outbox that stays full that
    /// long belongs to a client that has stopped reading: it is removed, and the room goes on.
    fn broadcast(&self, text: &str) {
        self.deliver(&self.outboxes(), text);
    }

    /// Put `text` in each of these outboxes, in order.
    fn deliver(&self, recipients: &[(u64, Arc<Outbox>)], text: &str) {
        let bytes = line(text);
        for &(id, ref outbox) in recipients {
            let started = Instant::now();
            match outbox.push(bytes.clone(), self.settings.stall) {
                Pushed::Queued { waited: false } | Pushed::Closed => {}
                Pushed::Queued { waited: true } => self.waits.tell(|| {
                    let name = self.name_of(id).unwrap_or_default();
                    format!(
                        "{name}'s outbox was full: waited {:?} for room (backpressure)",
                        started.elapsed()
                    )
                }),
                Pushed::Stalled => {
                    let name = self.name_of(id).unwrap_or_default();
                    self.say.warn(format!(
                        "{name}'s outbox stayed full for {} ms: it has stopped reading",
                        self.settings.stall.as_millis()
                    ));
                    self.leave(id, Reason::TooSlow);
                }
            }
        }
    }

    /// Send `text` to member `id` only (replies to commands, errors).
    fn tell(&self, id: u64, text: &str) {
        let outbox = lock(&self.members).get(&id).map(|m| m.outbox.clone());
        let pushed = outbox.map(|outbox| outbox.push(line(text), self.settings.stall));
        if let Some(Pushed::Stalled) = pushed {
            self.leave(id, Reason::TooSlow);
        }
    }
}
// ANCHOR_END: broadcast

// ANCHOR: reader
/// The reader thread of one client: read a line, act on it, repeat — until the client leaves.
fn read_loop(room: &Room, client: &Client) {
    let id = client.id;
    // Those who were there when it arrived hear about the newcomer from this thread, so the
    // notice is queued before any line the newcomer sends: they see `* NAME joined` first.
    room.deliver(&client.present, &format!("* {} joined", client.name));
    let mut input = BufReader::new(&*client.conn);
    let mut bytes = Vec::new();
    loop {
        match read_line(&mut input, &mut bytes) {
            Ok(Got::Line) => {
                // Invalid UTF-8 becomes U+FFFD (�): a client's bad byte never ends its session.
                let text = String::from_utf8_lossy(&bytes);
                if let Act::Quit = act_on(room, id, &text) {
                    break;
                }
            }
            Ok(Got::TooLong { rest_follows }) => {
                room.tell(id, &format!("! line too long (max {MAX_LINE} bytes)"));
                if rest_follows && skip_line(&mut input).is_err() {
                    break;
                }
            }
            Ok(Got::End) => break,
            // A reset, or shutdown() by a broadcaster that gave up on this client.
            Err(_) => break,
        }
    }
    room.leave(id, Reason::Left);
}

/// What the reader does next.
enum Act {
    Continue,
    Quit,
}

/// One line from client `id`: a command, or a message for everyone.
fn act_on(room: &Room, id: u64, text: &str) -> Act {
    if text == "quit" {
        return Act::Quit; // the course's command, kept so its clients still work
    }
    let Some(command) = text.strip_prefix('/') else {
        let Some(name) = room.name_of(id) else {
            return Act::Quit;
        };
        room.broadcasts
            .tell(|| format!("[{name}] {text} → everyone"));
        room.broadcast(&format!("[{name}] {text}"));
        return Act::Continue;
    };
    let (word, argument) = command.split_once(' ').unwrap_or((command, ""));
    match word {
        "quit" => return Act::Quit,
        "who" => room.tell(id, &room.who()),
        "nick" => match room.rename(id, argument.trim()) {
            Ok(old) => {
                let notice = format!("* {old} is now {}", argument.trim());
                room.say.note(&notice);
                room.broadcast(&notice);
            }
            Err(error) => room.tell(id, &error),
        },
        _ => room.tell(id, &format!("! unknown command /{word}")),
    }
    Act::Continue
}

/// What one call of [`read_line`] found.
enum Got {
    /// A line, now in the buffer without its `\n` or `\r\n`.
    Line,
    /// More than [`MAX_LINE`] bytes; `rest_follows` if the end of the line is still unread.
    TooLong { rest_follows: bool },
    /// The client closed its side: recv() returned 0 bytes.
    End,
}

/// Read one line into `line`, reading no more than `MAX_LINE + 2` bytes (`\r\n`) of it.
///
/// This is the course's "a message is whatever recv returned" fixed: `BufReader` keeps what
/// one recv() returned beyond the `\n` for the next line, and asks for more when a line is
/// still incomplete — however TCP split or merged what the client sent.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Got> {
    line.clear();
    let n = input.take(MAX_LINE as u64 + 2).read_until(b'\n', line)?;
    if n == 0 {
        return Ok(Got::End);
    }
    let ended = line.last() == Some(&b'\n');
    if ended {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    if line.len() > MAX_LINE {
        return Ok(Got::TooLong {
            rest_follows: !ended,
        });
    }
    // A last line without `\n` before the client closed still counts as a line.
    Ok(Got::Line)
}

/// Throw away the rest of an overlong line, in buffer-sized pieces: bounded memory.
fn skip_line(input: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        if let Some(at) = buffer.iter().position(|&b| b == b'\n') {
            input.consume(at + 1);
            return Ok(());
        }
        let all = buffer.len();
        input.consume(all);
    }
}
// ANCHOR_END: reader

// ANCHOR: writer
/// The writer thread of one client: take what is in its outbox, send it, repeat. It is the
/// only thread that ever blocks on this client's socket.
fn write_loop(room: &Room, client: &Client) {
    let mut batch = Vec::new();
    let mut bytes = Vec::new();
    let mut failed = None;
    while client.outbox.take_all(&mut batch) {
        // One send for the whole batch: a busy room costs one system call per batch, not per line.
        bytes.clear();
        for line in batch.drain(..) {
            bytes.extend_from_slice(&line);
        }
        if let Err(e) = (&*client.conn).write_all(&bytes) {
            failed = Some(e);
            break;
        }
    }
    if let Some(e) = failed {
        // SO_SNDTIMEO expired: no progress for the whole stall timeout.
        let stalled = matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        );
        let reason = if stalled {
            Reason::TooSlow
        } else {
            Reason::Left
        };
        room.leave(client.id, reason);
    }
    // Done: close both directions (this also wakes the reader if it is still in recv()).
    let _ = client.conn.shutdown(Shutdown::Both);
    lock(&room.writing).remove(&client.id);
    room.writers_done.notify_all();
}
// ANCHOR_END: writer

// ANCHOR: shutdown
impl Room<'_> {
    /// Shutdown: every member gets `* server shutting down` as its last line; wait (bounded)
    /// for the writers to send it, then close whatever is left.
    fn close(&self) {
        let members = std::mem::take(&mut *lock(&self.members));
        self.broadcasts.flush();
        self.waits.flush();
        self.say.note(format!(
            "shutting down: telling {} client(s)",
            members.len()
        ));
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
        self.say.note("every client told; exiting");
    }
}
// ANCHOR_END: shutdown

/// Narration that stays readable when the room is busy: the first few events of a kind in
/// each second are told, the rest only counted (`… 4,996 more broadcasts`).
struct Chatter<'a> {
    say: &'a Narrator,
    what: &'static str,
    window: Mutex<(Instant, u32, u64)>,
}

/// How many events of one kind are told in full each second.
const TOLD_PER_SECOND: u32 = 5;

impl<'a> Chatter<'a> {
    fn new(say: &'a Narrator, what: &'static str) -> Chatter<'a> {
        Chatter {
            say,
            what,
            window: Mutex::new((Instant::now(), 0, 0)),
        }
    }

    /// Say how many events went untold, and start counting afresh.
    fn flush(&self) {
        let mut window = lock(&self.window);
        self.restart(&mut window);
    }

    fn restart(&self, window: &mut (Instant, u32, u64)) {
        if window.2 > 0 {
            self.say
                .note(format!("… {} more {} not shown", window.2, self.what));
        }
        *window = (Instant::now(), 0, 0);
    }

    fn tell(&self, text: impl FnOnce() -> String) {
        if self.say.is_quiet() {
            return;
        }
        let mut window = lock(&self.window);
        if window.0.elapsed() >= Duration::from_secs(1) {
            self.restart(&mut window);
        }
        if window.1 < TOLD_PER_SECOND {
            window.1 += 1;
            self.say.note(text());
        } else {
            window.2 += 1;
        }
    }
}

fn result_text(result: &io::Result<()>) -> String {
    match result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    }
}

// ANCHOR: client
/// socket + connect: std's TcpStream::connect makes both calls, trying each address in turn.
fn connect(addrs: &[SocketAddr], say: &Narrator) -> Result<TcpStream> {
    let mut last_error = None;
    for &addr in addrs {
        match TcpStream::connect(addr) {
            Ok(stream) => {
                say.call(
                    format!("socket() + connect({addr})"),
                    format!("connected from {}", stream.local_addr()?),
                );
                return Ok(stream);
            }
            Err(e) => {
                say.call(
                    format!("socket() + connect({addr})"),
                    format!("failed: {e}"),
                );
                last_error = Some(anyhow!(e).context(format!("failed to connect to {addr}")));
            }
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow!("no address to connect to")))
}

/// The chat client: one thread prints what the server sends, this one sends what we type.
fn client(addrs: &[SocketAddr], name: Option<&str>, say: &Narrator) -> Result<()> {
    let conn = Arc::new(connect(addrs, say)?);
    let _ = conn.set_nodelay(true);
    let quitting = Arc::new(AtomicBool::new(false));
    let colour = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let printer = {
        let (conn, quitting) = (conn.clone(), quitting.clone());
        std::thread::spawn(move || print_lines(&conn, colour, &quitting))
    };
    // Returns whether the last byte sent ended a line.
    let sending = || -> io::Result<bool> {
        if let Some(name) = name {
            (&*conn).write_all(format!("/nick {name}\n").as_bytes())?;
        }
        // Each line of stdin, as it comes (bounded pieces: a huge line is passed on in parts,
        // and the server answers `! line too long`).
        let mut stdin = io::stdin().lock();
        let mut ended = true;
        loop {
            let piece = stdin.fill_buf()?;
            let Some(&last) = piece.last() else {
                return Ok(ended);
            };
            ended = last == b'\n';
            let n = piece.len();
            (&*conn).write_all(piece)?;
            stdin.consume(n);
        }
    };
    // End of stdin: say goodbye, then wait for the server to close. (If sending failed, the
    // server has gone: the printing thread sees the end and says so.)
    if let Ok(ended) = sending() {
        quitting.store(true, Ordering::SeqCst);
        let goodbye: &[u8] = if ended { b"/quit\n" } else { b"\n/quit\n" };
        let sent = (&*conn).write_all(goodbye);
        say.call("send(\"/quit\")", result_text(&sent));
    }
    conn.set_read_timeout(Some(QUIT_TIMEOUT))?;
    let printed = printer
        .join()
        .map_err(|_| anyhow!("the printing thread panicked"))?;
    match printed {
        Ok(()) => {
            say.call("recv()", "0 bytes: the server closed the connection");
            Ok(())
        }
        Err(e) => Err(anyhow!(e).context("lost the connection to the server")),
    }
}

/// Print each line from the server; a server closing first ends the whole program.
fn print_lines(conn: &TcpStream, colour: bool, quitting: &AtomicBool) -> io::Result<()> {
    let mut input = BufReader::new(conn);
    let mut line = Vec::new();
    loop {
        line.clear();
        // The server's lines are at most a name and 4096 bytes; 64 KiB is plenty.
        let n = (&mut input).take(64 * 1024).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{}", paint(text, colour))?;
        stdout.flush()?;
    }
    if !quitting.load(Ordering::SeqCst) {
        // Not our goodbye: the server left first. Nothing more to send, so exit here (the main
        // thread may be blocked reading stdin, which no one will end).
        eprintln!("the server closed the connection");
        std::process::exit(0);
    }
    Ok(())
}

/// On a terminal: `[NAME]` in the name's own colour (the same in every run), notices dimmed,
/// errors red. Piped: the line exactly as received.
fn paint(text: &str, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    let named = text
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("] "));
    if let Some((name, message)) = named {
        let fg = role_colour(name).to_fg_str();
        return format!("\x1b[{fg}m[{name}]\x1b[0m {message}");
    }
    match text.as_bytes().first() {
        Some(b'*') => format!("\x1b[2m{text}\x1b[0m"),
        Some(b'!') => format!("\x1b[31m{text}\x1b[0m"),
        _ => text.to_string(),
    }
}
// ANCHOR_END: client

// ANCHOR: demo
/// A client of the demo: connected in this process, printing what it receives on stdout.
struct DemoClient {
    who: &'static str,
    conn: TcpStream,
    input: BufReader<TcpStream>,
    say: Narrator,
}

impl DemoClient {
    /// Connect; `receive_buffer` sets SO_RCVBUF before connecting (for the client that stalls).
    fn join(addr: SocketAddr, who: &'static str, receive_buffer: Option<usize>) -> Result<Self> {
        let say = Narrator::new(who, false);
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        if let Some(size) = receive_buffer {
            socket.set_recv_buffer_size(size)?;
            say.call(format!("setsockopt(SO_RCVBUF, {size})"), "ok");
        }
        socket.connect(&addr.into())?;
        let conn: TcpStream = socket.into();
        say.call(
            format!("socket() + connect({addr})"),
            format!("connected from {}", conn.local_addr()?),
        );
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        conn.set_nodelay(true)?;
        let input = BufReader::new(conn.try_clone()?);
        Ok(DemoClient {
            who,
            conn,
            input,
            say,
        })
    }

    fn send(&mut self, text: &str) -> Result<()> {
        self.conn.write_all(format!("{text}\n").as_bytes())?;
        self.say.call(format!("send({text:?})"), "ok");
        Ok(())
    }

    /// Read one line; `None` when the server closed the connection.
    fn next_line(&mut self) -> Result<Option<String>> {
        let mut line = String::new();
        let n = (&mut self.input)
            .take(64 * 1024)
            .read_line(&mut line)
            .with_context(|| format!("{}: no line from the server", self.who))?;
        Ok((n > 0).then(|| line.trim_end_matches('\n').to_string()))
    }

    /// Read and print the next `n` lines.
    fn expect(&mut self, n: usize) -> Result<()> {
        for _ in 0..n {
            match self.next_line()? {
                Some(line) => println!("{:>4} ← {line}", self.who),
                None => bail!("{}: the server closed the connection too soon", self.who),
            }
        }
        Ok(())
    }

    /// Read until the server closes the connection.
    fn expect_end(&mut self) -> Result<()> {
        while let Some(line) = self.next_line()? {
            println!("{:>4} ← {line}", self.who);
        }
        self.say
            .call("recv()", "0 bytes: the server closed the connection");
        Ok(())
    }

    /// Read a burst of `count` lines from `from`, and the notice `also`, in any interleaving.
    fn expect_burst(&mut self, from: &str, count: usize, also: &str) -> Result<()> {
        let (mut got, mut seen_also) = (0, false);
        let prefix = format!("[{from}] ");
        while got < count || !seen_also {
            match self.next_line()? {
                Some(line) if line.starts_with(&prefix) => {
                    got += 1;
                    // The lines are numbered: check none is missing or out of order.
                    if !line.contains(&format!("line {got:05} ")) {
                        bail!("{}: line {got} of the burst is missing: {line}", self.who);
                    }
                }
                Some(line) if line == also => {
                    seen_also = true;
                    println!("{:>4} ← {line}", self.who);
                }
                Some(line) => bail!("{}: unexpected line during the burst: {line}", self.who),
                None => bail!("{}: disconnected during the burst", self.who),
            }
        }
        println!(
            "{:>4} ← {count} lines from {from}, every one, in order",
            self.who
        );
        Ok(())
    }
}

/// Four clients in one process: names, messages, commands, a client that stops reading during
/// a burst (and is dropped, while the others get every line), `/quit`, and shutdown.
fn demo() -> Result<()> {
    let server = Narrator::new("server", false);
    let listener = listen("127.0.0.1:0".parse()?, &server)?;
    let addr = listener.local_addr()?;
    let stop = Stop::new();
    stop.wake_listener(addr, 1);
    // A short stall timeout so the demo does not keep you waiting; the server's default is 5 s.
    let settings = Settings {
        max_clients: 10,
        stall: Duration::from_millis(500),
        exit_after: None,
    };
    std::thread::scope(|scope| -> Result<()> {
        let serving = scope.spawn(|| serve(&listener, &settings, &stop, &server));
        let conversation =
            || -> Result<()> {
                let mut ana = DemoClient::join(addr, "ana", None)?;
                ana.expect(1)?;
                let mut ben = DemoClient::join(addr, "ben", None)?;
                ben.expect(1)?;
                ana.expect(1)?;
                ana.send("/nick ana")?;
                ana.expect(1)?;
                ben.expect(1)?;
                ben.send("/nick ben")?;
                ana.expect(1)?;
                ben.expect(1)?;
                let mut cy = DemoClient::join(addr, "cy", None)?;
                cy.expect(1)?;
                ana.expect(1)?;
                ben.expect(1)?;
                cy.send("/nick cy")?;
                for client in [&mut ana, &mut ben, &mut cy] {
                    client.expect(1)?;
                }
                ana.send("hello, room")?;
                for client in [&mut ana, &mut ben, &mut cy] {
                    client.expect(1)?;
                }
                ben.send("/nick ana")?; // taken: only ben hears about it
                ben.expect(1)?;
                cy.send("/who")?;
                cy.expect(1)?;

                // zed joins with a tiny receive buffer and never reads a line.
                let mut zed = DemoClient::join(addr, "zed", Some(4096))?;
                zed.send("/nick zed")?;
                for client in [&mut ana, &mut ben, &mut cy] {
                    client.expect(2)?; // `* … joined` and `* … is now zed`
                }
                zed.say
                    .note("stops reading: its buffers and its outbox will fill up");
                const BURST: usize = 5000;
                ana.say.note(format!("sends {BURST} lines in one go"));
                let burst: String = (1..=BURST)
                    .map(|n| format!("line {n:05} of a burst, to show that nobody misses a line\n"))
                    .collect();
                let mut writer = ana.conn.try_clone()?;
                std::thread::scope(|readers| -> Result<()> {
                    let sending = readers.spawn(move || writer.write_all(burst.as_bytes()));
                    let mut reading = Vec::new();
                    for client in [&mut ana, &mut ben, &mut cy] {
                        reading.push(readers.spawn(move || {
                            client.expect_burst("ana", BURST, "* zed left (too slow)")
                        }));
                    }
                    for handle in reading {
                        handle
                            .join()
                            .map_err(|_| anyhow!("a reading thread panicked"))??;
                    }
                    sending
                        .join()
                        .map_err(|_| anyhow!("the sending thread panicked"))??;
                    Ok(())
                })?;
                drop(zed);

                cy.send("/quit")?;
                cy.expect_end()?;
                ana.expect(1)?;
                ben.expect(1)?;
                server.note("the demo is over: stopping the server as Ctrl-C would");
                stop.stop();
                ana.expect_end()?;
                ben.expect_end()
            };
        let talked = conversation();
        stop.stop(); // also when the conversation failed, so that the server thread ends
        let served = serving
            .join()
            .map_err(|_| anyhow!("the server thread panicked"))?;
        talked.and(served)
    })?;
    try_next(&[
        format!("cargo run --bin {LESSON} -- server                   # terminal 1"),
        format!("cargo run --bin {LESSON} -- client --name ana        # terminal 2"),
        format!("cargo run --bin {LESSON} -- client --name ben        # terminal 3"),
        format!(
            "nc 127.0.0.1 {}                                    # terminal 4: plain netcat, type lines",
            ports::GROUP_CHAT
        ),
    ]);
    Ok(())
}
// ANCHOR_END: demo
