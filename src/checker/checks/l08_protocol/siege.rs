//! Lesson 08 under siege: a flood of connections that send nothing must not silence the server.
//! Refusing a connection (`busy`) must never make the accept loop wait on the refused peer.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::frames::{encode, read_frame};
use super::peer::search;
use super::{Failure, Outcome, ensure};
use crate::checker::harness::{Server, Target, scaled};

/// How many silent connections the flood opens (fewer when the descriptor limit is lower).
const FLOOD: usize = 2000;
/// The longest the check spends opening the flood.
const FLOOD_TIME: Duration = Duration::from_secs(5);
/// How soon a newcomer must be answered, or told `busy`, during the flood.
const PROMPTLY: Duration = Duration::from_secs(1);

/// Descriptors this process may still open: the soft limit, less room for everything else.
fn descriptors_to_spare() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass; it has no other preconditions.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 256;
    }
    usize::try_from(limit.rlim_cur)
        .unwrap_or(usize::MAX)
        .saturating_sub(256)
}

/// Open up to `n` connections that will never send a byte. A connect that times out (the
/// server's backlog is full: it does not accept) is flood enough; after a few in a row, or
/// [`FLOOD_TIME`], stop.
fn silent_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut flood = Vec::with_capacity(n);
    let deadline = Instant::now() + scaled(FLOOD_TIME);
    let mut failed_in_a_row = 0;
    while flood.len() < n && failed_in_a_row < 3 && Instant::now() < deadline {
        match TcpStream::connect_timeout(&addr, scaled(PROMPTLY)) {
            Ok(stream) => {
                flood.push(stream);
                failed_in_a_row = 0;
            }
            Err(_) => failed_in_a_row += 1,
        }
    }
    flood
}

/// One newcomer: connect, send `search socket`, and read one frame — all within `within`.
/// Returns the frame's JSON and how long it took.
fn newcomer(addr: SocketAddr, within: Duration) -> Result<(Value, Duration), Failure> {
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, within)
        .map_err(|e| Failure::new(format!("the newcomer could not connect: {e}")))?;
    let left = within.saturating_sub(started.elapsed());
    stream
        .set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .map_err(Failure::io("setting a read timeout"))?;
    stream
        .write_all(&encode(&search("socket")))
        .map_err(|e| Failure::new(format!("the newcomer could not send: {e}")))?;
    let frame = read_frame(&mut stream)
        .map_err(|e| Failure::new(format!("no answer to the newcomer: {e}")))?
        .ok_or_else(|| Failure::new("the server closed the newcomer's connection without a frame"))?;
    let value: Value = serde_json::from_slice(&frame.content)
        .map_err(|e| Failure::new(format!("the answer is not JSON: {e}")))?;
    Ok((value, started.elapsed()))
}

/// Whether `value` is an error frame that says `busy`.
fn is_busy(value: &Value) -> bool {
    value
        .get("error")
        .and_then(Value::as_str)
        .is_some_and(|e| e.contains("busy"))
}

/// Up to 2,000 connections (bounded by the descriptor limit and 5 s) connect and send nothing; then a
/// newcomer sends `search socket` and must get, within 1 s, either the answer or an error
/// frame saying `busy`.
pub fn server_flood_of_silent_connections(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let n = FLOOD.min(descriptors_to_spare());
    let flood = silent_connections(server.addr, n);
    let opened = flood.len();
    let outcome = newcomer(server.addr, scaled(PROMPTLY));
    drop(flood);
    let (value, took) = outcome.map_err(|f| {
        f.context(format!("with {opened} silent connections open"))
            .command(server.process.command_line())
            .stderr(server.stderr())
            .expected(format!(
                "within {} ms, the answer to `search socket` or an error frame saying `busy`: refusing a connection must not wait on the refused peer",
                scaled(PROMPTLY).as_millis()
            ))
    })?;
    let answered = value.get("result").is_some();
    ensure((answered || is_busy(&value)) && took <= scaled(PROMPTLY), || {
        server
            .failure(format!(
                "with {opened} silent connections open, the newcomer got `{value}` after {} ms",
                took.as_millis()
            ))
            .expected("the answer to `search socket`, or an error frame saying `busy`, within 1 s")
    })
}

// ANCHOR: slowloris
/// The server's slot limit (the contract's 64): the trickle takes every slot.
const SLOTS: usize = 64;
/// The `--frame-deadline-ms` this check gives the server (scaled): short, so the check is.
const FRAME_DEADLINE: Duration = Duration::from_millis(1000);
/// What cutting a late connection may take on top of its deadline: the error frame, then a
/// drain the contract bounds at 1 s as a whole.
const CUT: Duration = Duration::from_secs(1);
/// How often a newcomer told `busy` tries again.
const RETRY: Duration = Duration::from_millis(100);

/// Slowloris: 64 connections each trickle a valid `search` frame, one byte a second, so none
/// ever looks idle. A newcomer (told `busy`, trying again every 100 ms) must be answered within
/// the frame deadline + 1 s (the cut) + 1 s of the last one's opening: a whole-frame deadline frees
/// the slots, where a per-read idle limit is renewed by each byte for ever.
pub fn server_slowloris_trickle(target: &Target) -> Outcome {
    let deadline = scaled(FRAME_DEADLINE);
    let deadline_ms = deadline.as_millis().to_string();
    let server = Server::start_quiet(target, &["--frame-deadline-ms", &deadline_ms])?;
    let frame = encode(&search("socket"));
    let mut trickle = Vec::with_capacity(SLOTS);
    for n in 1..=SLOTS {
        // 5 s to connect: a listen backlog of 16 (Python's) overflows, and a dropped SYN is
        // sent again after a second.
        let stream = TcpStream::connect_timeout(&server.addr, scaled(FLOOD_TIME))
            .and_then(|mut s| s.write_all(&frame[..1]).map(|()| s))
            .map_err(|e| server.failure(format!("trickling connection {n} failed: {e}")))?;
        trickle.push(stream);
    }
    // The clock starts once all are open: by then every deadline has started, so by the bound
    // every trickling connection has been cut (connecting may take seconds when the listen
    // backlog overflows and SYNs are retried: the first ones may be cut already, freeing slots).
    let started = Instant::now();
    let bound = deadline + scaled(CUT) + scaled(PROMPTLY);
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let outcome = std::thread::scope(|scope| {
        let (trickle, frame) = (&trickle, &frame);
        // The attack's pace, not a wait: one more byte on every connection each second, until
        // the newcomer is done (the channel). A connection the server cut just fails to send.
        scope.spawn(move || {
            for byte in &frame[1..] {
                if stopped.recv_timeout(Duration::from_secs(1)).is_ok() {
                    return;
                }
                for mut stream in trickle {
                    let _ = stream.write_all(std::slice::from_ref(byte));
                }
            }
        });
        let (mut busy, mut last) = (0, Value::Null);
        let result = loop {
            let left = bound.saturating_sub(started.elapsed());
            if left.is_zero() {
                break Ok((last, busy));
            }
            match newcomer(server.addr, left.min(scaled(PROMPTLY))) {
                Ok((value, _)) if is_busy(&value) => (busy, last) = (busy + 1, value),
                Ok((value, _)) => break Ok((value, busy)),
                Err(f) => break Err(f),
            }
            // A bounded poll: `busy` carries no promise of when a slot frees, so the newcomer
            // asks again, as a client would, until the bound.
            std::thread::sleep(RETRY);
        };
        let _ = stop.send(());
        result.map(|r| (r, started.elapsed()))
    });
    drop(trickle);
    let context = format!(
        "with {SLOTS} connections trickling a valid frame at one byte a second (--frame-deadline-ms {deadline_ms})"
    );
    let ((value, busy), took) = outcome.map_err(|f| {
        f.context(&context)
            .command(server.process.command_line())
            .stderr(server.stderr())
    })?;
    ensure(value.get("result").is_some() && took <= bound, || {
        server
            .failure(format!(
                "{context}, the newcomer got `{value}` after {} ms (told `busy` {busy} time(s) before)",
                took.as_millis()
            ))
            .expected(format!(
                "the answer to `search socket` within {} ms: a frame must arrive whole within its deadline from its first byte, and at the minimum rate; a per-read idle limit is renewed by every byte",
                bound.as_millis()
            ))
    })
}
// ANCHOR_END: slowloris
