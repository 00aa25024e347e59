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

/// Up to 2,000 connections (bounded by the descriptor limit and 5 s) connect and send nothing; then a
/// newcomer sends `search socket` and must get, within 1 s, either the answer or an error
/// frame saying `busy`.
pub fn server_flood_of_silent_connections(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let n = FLOOD.min(descriptors_to_spare());
    let flood = silent_connections(server.addr, n);
    let opened = flood.len();
    let newcomer = || -> Result<(Value, Duration), Failure> {
        let started = Instant::now();
        let mut stream = TcpStream::connect_timeout(&server.addr, scaled(PROMPTLY))
            .map_err(|e| Failure::new(format!("the newcomer could not connect: {e}")))?;
        let left = scaled(PROMPTLY).saturating_sub(started.elapsed());
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
    };
    let outcome = newcomer();
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
    let busy = value
        .get("error")
        .and_then(Value::as_str)
        .is_some_and(|e| e.contains("busy"));
    ensure((answered || busy) && took <= scaled(PROMPTLY), || {
        server
            .failure(format!(
                "with {opened} silent connections open, the newcomer got `{value}` after {} ms",
                took.as_millis()
            ))
            .expected("the answer to `search socket`, or an error frame saying `busy`, within 1 s")
    })
}
