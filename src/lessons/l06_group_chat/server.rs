//! Lesson 06's server, a function of a bound listener (`cli.rs` makes it): accept, then a
//! reader thread and a writer thread for every client. What they share is `room.rs`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener};

use anyhow::{Context, Result};

use super::room::{BYE, Client, Reason, Room, Settings};
use super::text;
use crate::kit::narrate::{Narrator, narrate};
use crate::kit::net;
use crate::kit::shutdown::Stop;

// ANCHOR: accept
/// accept() one client after another: set up its socket, admit it to the room (or turn it
/// away), start its two threads — until a stop is asked for or `--exit-after` is reached.
fn accept_loop<'scope>(
    listener: &TcpListener,
    stop: &Stop,
    room: &'scope Room,
    scope: &'scope std::thread::Scope<'scope, '_>,
) -> Result<()> {
    let say = room.say;
    while !stop.is_stopped() {
        // Out of descriptors (every client costs one) is waited out, never the end of the room:
        // see `net::accept_retrying`. `None`: asked to stop while waiting.
        let accepted_one = net::accept_retrying(listener, stop, say).context("accept() failed")?;
        let Some((conn, peer)) = accepted_one else {
            break;
        };
        if stop.is_stopped() {
            break; // the wake-up connection from Stop, or a client arriving as we stop
        }
        // Counted by `stop`: with `--exit-after K`, the K-th connection (turned away or not)
        // is the last one accepted.
        stop.accepted();
        narrate!(say, call("accept()", format!("connection from {peer}")));
        if let Some(client) = room.admit(conn, peer) {
            start_threads(room, client, scope);
        }
    }
    Ok(())
}

// ANCHOR_END: accept

// ANCHOR: serve
/// Accept clients until told to stop; each client gets a reader thread and a writer thread.
/// Then tell every client the server is shutting down, and wait for the threads to finish —
/// except after `--exit-after K`: then the K are served until they leave, as any client.
pub fn serve(
    listener: &TcpListener,
    settings: &Settings,
    stop: &Stop,
    say: &Narrator,
) -> Result<()> {
    let room = Room::new(settings, say);
    // A scope: every thread spawned in it may borrow `room`, and all of them have finished
    // when the scope ends — no thread outlives the server.
    std::thread::scope(|scope| -> Result<()> {
        let accepting = accept_loop(listener, stop, &room, scope);
        if accepting.is_ok() && stop.limit_reached() {
            // Serve K connections, then stop: the room stays open for those in it, and the
            // scope ends when the last of them has left.
            narrate!(
                say,
                note(format!(
                    "accepted {} connection(s) (--exit-after): no more accept(); the room goes on until its last client leaves",
                    stop.accepted_so_far()
                ))
            );
            return accepting;
        }
        // However the loop ended, tell every client before the scope waits for their threads.
        room.close();
        accepting
    })?;
    if stop.limit_reached() {
        narrate!(say, note("the last client has left; exiting"));
    }
    Ok(())
}

// ANCHOR_END: serve

// ANCHOR: start_threads
/// Start a client's writer, then its reader. A thread that cannot start (out of memory for its
/// stack, or `ulimit -u`) costs that one client `! server busy`, never the room.
fn start_threads<'scope>(
    room: &'scope Room,
    client: Client,
    scope: &'scope std::thread::Scope<'scope, '_>,
) {
    let (id, for_writer) = (client.id, client.clone());
    let writer =
        std::thread::Builder::new().spawn_scoped(scope, move || write_loop(room, &for_writer));
    let writing = writer.is_ok();
    let started = writer.and_then(|_| {
        std::thread::Builder::new().spawn_scoped(scope, move || read_loop(room, &client))
    });
    if let Err(e) = started {
        room.refuse(id, writing, &e);
    }
}
// ANCHOR_END: start_threads

/// The longest line a client may send, in bytes, not counting its `\n` (or `\r\n`). Every
/// buffer has a limit; without one, a client that never sends `\n` would fill our memory.
const MAX_LINE: usize = 4096;

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
                    // The sender's last line, queued after whatever is already waiting for it:
                    // the writer sends it all, then closes, so a netcat user sees the answer.
                    room.tell(id, BYE);
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

// ANCHOR_END: reader

// ANCHOR: commands
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
        // Text, never instructions: no control character reaches a terminal (ours included).
        let text = text::visible(text);
        narrate!(
            room.broadcasts,
            note(|| format!("[{name}] {text} → everyone"))
        );
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
                narrate!(room.say, note(&notice));
                room.broadcast(&notice);
            }
            Err(error) => room.tell(id, &error),
        },
        _ => room.tell(id, &format!("! unknown command /{}", text::visible(word))),
    }
    Act::Continue
}

// ANCHOR_END: commands

// ANCHOR: read_line
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
// ANCHOR_END: read_line

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
    room.writer_done(client.id);
}
// ANCHOR_END: writer
