//! Lesson 08's server: `accept()` in a loop, a thread per connection; on each, frames in
//! (`read_message`), answers out (`sendall(frame)`), and an error frame then a close for a peer
//! that breaks the protocol. The frame is in `framing.rs`, TCP and `AF_UNIX` in `wire.rs`, the
//! time limits on reading (idle, a deadline per frame, a minimum rate) in `deadline.rs`.

use std::io::{BufReader, Read};
use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use serde_json::{Value, json};

use crate::kit::narrate::{Narrator, narrate, show_bytes};
use crate::kit::shutdown::Stop;

use super::deadline::{FrameClock, FrameDeadline};
use super::framing::{BINARY, FrameError, JSON, Message, RAW, UTF8, read_message, write_message};
use super::wire::{self, Listener, Stream};

/// How long one write may make no progress (the peer not reading) before the server gives up
/// on that connection: nginx's `send_timeout` (60 s by default) is the same idea.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many connections at once: one thread each, and every resource has a limit.
const MAX_CONNECTIONS: usize = 64;

// ANCHOR: serve
/// accept → a thread per connection (lesson 04), until a stop. Returns when every connection
/// thread has finished.
pub fn serve(
    listener: &Listener,
    stop: &Stop,
    frame_deadline: FrameDeadline,
    say: &Narrator,
) -> Result<()> {
    let active = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        while !stop.is_stopped() {
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) => {
                    narrate!(
                        say,
                        call("accept()", format!("failed: {e}; accepting the next"))
                    );
                    continue;
                }
            };
            if stop.is_stopped() {
                break; // the wake-up connection of a stop, not a client
            }
            let n = stop.accepted();
            narrate!(say, call("accept()", format!("connection {n} from {peer}")));
            if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                active.fetch_sub(1, Ordering::SeqCst);
                // On the accept loop itself: never wait on this peer (see refuse_at_once).
                refuse_at_once(
                    stream,
                    &format!("busy: {MAX_CONNECTIONS} connections already"),
                    say,
                );
                continue;
            }
            let active = &active;
            let say = say.for_role(format!("conn {n}"));
            scope.spawn(move || {
                serve_connection(stream, frame_deadline, &say);
                active.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    narrate!(
        say,
        note(format!(
            "served {} connection(s); exiting",
            stop.accepted_so_far()
        ))
    );
    Ok(())
}
// ANCHOR_END: serve

// ANCHOR: connection
/// Requests in, responses out, in order, until the peer closes or breaks the protocol.
fn serve_connection(stream: Stream, frame_deadline: FrameDeadline, say: &Narrator) {
    // Every write is bounded too: a peer that never reads cannot hold this thread in send().
    if let Err(e) = stream.set_write_timeout(Some(WRITE_TIMEOUT)) {
        narrate!(say, call("setsockopt(SO_SNDTIMEO)", format!("failed: {e}")));
        return;
    }
    // Reads go through a buffer (fewer recv calls); read_message still takes exactly one frame.
    // Under the buffer, the clock: each recv waits at most until the idle limit or the frame's
    // deadline, whichever is sooner — a peer that trickles bytes cannot hold this thread.
    let mut reader = match stream.try_clone() {
        Ok(clone) => BufReader::new(FrameClock::new(clone, frame_deadline)),
        Err(e) => {
            narrate!(say, call("dup()", format!("failed: {e}")));
            return;
        }
    };
    let mut writer = stream;
    loop {
        let request = match read_message(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) => {
                narrate!(
                    say,
                    call(
                        "recv()",
                        "0 bytes between frames: the peer is done; close()",
                    )
                );
                return;
            }
            // Silent too long, or a frame slower than its deadline: say which, then close.
            Err(FrameError::Io(e)) if wire::is_timeout(&e) => {
                return refuse(writer, &e.to_string(), say);
            }
            // The socket itself failed (a reset): nobody to answer.
            Err(FrameError::Io(e)) => {
                narrate!(say, call("recv()", format!("failed: {e}; close()")));
                return;
            }
            // A broken frame: say what was wrong with it, then close.
            Err(e) => return refuse(writer, &e.to_string(), say),
        };
        let next_started = !reader.buffer().is_empty();
        reader.get_mut().frame_done(next_started);
        narrate!(say, call("read_message()", describe(&request)));
        let response = match respond(&request) {
            Ok(response) => response,
            Err(why) => return refuse(writer, &why, say),
        };
        match write_message(&mut writer, &response) {
            Ok(()) => narrate!(say, call("sendall(frame)", describe(&response))),
            Err(e) => {
                narrate!(say, call("sendall(frame)", format!("failed: {e}; close()")));
                return;
            }
        }
    }
}
// ANCHOR_END: connection

// ANCHOR: respond
/// The application: what each request means. `Err` is a refusal, sent as an error frame.
fn respond(request: &Message) -> Result<Message, String> {
    let header = &request.header;
    match (
        header.content_type.as_str(),
        header.content_encoding.as_str(),
    ) {
        // Binary content is an echo: the same bytes back.
        (BINARY, RAW) => return Ok(Message::binary(request.content.clone())),
        (JSON, UTF8) => {}
        (kind, encoding) => {
            return Err(format!(
                "unsupported content: content-type `{kind}` with content-encoding `{encoding}` \
                 (this server knows {JSON} in {UTF8}, and {BINARY} as {RAW})"
            ));
        }
    }
    let body: Value = serde_json::from_slice(&request.content)
        .map_err(|e| format!("the content is not valid JSON: {e}"))?;
    let field = |name: &str| {
        body.get(name)
            .ok_or_else(|| format!("missing field `{name}` in the request"))
    };
    let action = field("action")?
        .as_str()
        .ok_or("`action` must be a string")?;
    let result = match action {
        "search" => {
            let word = field("value")?.as_str().ok_or("`value` must be a string")?;
            search(word).map_or(Value::Null, Value::from)
        }
        "echo" => field("value")?.clone(),
        "time" => Value::from(humantime::format_rfc3339_millis(SystemTime::now()).to_string()),
        other => {
            return Err(format!(
                "unknown action `{other}`: the actions are search, echo and time"
            ));
        }
    };
    let mut response = json!({ "action": action, "result": result });
    if let Some(value) = body.get("value") {
        response["value"] = value.clone();
    }
    Ok(Message::json(&response))
}

// ANCHOR_END: respond

// ANCHOR: dictionary
/// The built-in dictionary `search` looks words up in.
const DICTIONARY: &[(&str, &str)] = &[
    (
        "socket",
        "an endpoint of a conversation between two programs",
    ),
    ("port", "a 16-bit number that picks one program on a host"),
    (
        "frame",
        "one message on a byte stream: length, header, content",
    ),
    (
        "endian",
        "the order of a number's bytes; big-endian puts the most significant first",
    ),
    ("🦀", "Ferris, the Rust crab"),
];

fn search(word: &str) -> Option<&'static str> {
    DICTIONARY.iter().find(|(w, _)| *w == word).map(|(_, m)| *m)
}
// ANCHOR_END: dictionary

// ANCHOR: refuse
/// Answer an error frame, then close gracefully: shutdown(SHUT_WR) sends our FIN after the
/// frame, and a short, bounded read drains what the peer was still sending — closing with
/// unread data would send a reset, which can destroy the error frame before the peer reads it.
/// The drain is bounded as a whole (1 s, 1 MiB), not per read: a peer trickling a byte a
/// second would renew a per-read limit for ever.
fn refuse(mut stream: Stream, why: &str, say: &Narrator) {
    let error = Message::json(&json!({ "error": why }));
    match write_message(&mut stream, &error) {
        Ok(()) => narrate!(say, call("sendall(error frame)", why)),
        Err(e) => narrate!(say, call("sendall(error frame)", format!("failed: {e}"))),
    }
    let _ = stream.shutdown(Shutdown::Write);
    let until = Instant::now() + Duration::from_secs(1);
    let mut chunk = [0u8; 16 * 1024];
    let mut drained = 0;
    while drained < 1 << 20 {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    narrate!(
        say,
        call(
            "shutdown(SHUT_WR) + close()",
            "connection closed after the error",
        )
    );
}

/// Refuse from the accept loop: the error frame is short and the new socket's send buffer is
/// empty, so a non-blocking send takes it whole (or fails at once); then close. No drain: the
/// loop must not wait on a peer it refuses — `refuse`'s one-second drain, paid on the accept
/// loop, let 2,000 silent connections hold it for half an hour. The price: a peer that already
/// sent a request may get a reset after the frame instead of a clean FIN.
fn refuse_at_once(mut stream: Stream, why: &str, say: &Narrator) {
    let error = Message::json(&json!({ "error": why }));
    let sent = stream
        .set_nonblocking(true)
        .map_err(FrameError::Io)
        .and_then(|()| write_message(&mut stream, &error));
    match sent {
        Ok(()) => narrate!(say, call("send(error frame, non-blocking)", why)),
        Err(e) => narrate!(say, call("send(error frame, non-blocking)", format!("failed: {e}"))),
    }
    let _ = stream.shutdown(Shutdown::Write);
    narrate!(say, call("close()", "refused without waiting"));
}
// ANCHOR_END: refuse

/// A frame in one line, for the narration: type, length, and the start of the content.
fn describe(message: &Message) -> String {
    format!(
        "{} bytes of {}: {}",
        message.content.len(),
        message.header.content_type,
        show_bytes(&message.content, 48)
    )
}
