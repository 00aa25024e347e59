//! `bench connect`: connections per second — connect, read until the server closes, close.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::echo::connect;
use crate::report::{Recorder, Report, progress};

/// The most a server may send on one connection (a time server sends a few dozen bytes).
const MAX_REPLY: u64 = 64 << 10;
/// The whole run gives up after this long, however many connections are left.
const DEADLINE: Duration = Duration::from_secs(300);

pub fn run(addr: SocketAddr, clients: usize, count: u64) -> Result<Report> {
    let next = AtomicU64::new(0);
    let bar = progress(count, "connect");
    let began = Instant::now();
    let deadline = began + DEADLINE;
    let mut total = Recorder::new();
    thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                let (next, bar) = (&next, &bar);
                scope.spawn(move || {
                    let mut rec = Recorder::new();
                    // Each worker takes the next connection number until COUNT are taken.
                    while next.fetch_add(1, Ordering::Relaxed) < count && Instant::now() < deadline
                    {
                        let started = Instant::now();
                        match once(addr) {
                            Ok(bytes) => rec.record(started.elapsed(), bytes),
                            Err(e) => rec.error(e),
                        }
                        bar.inc(1);
                    }
                    rec
                })
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok(rec) => total.merge(rec),
                Err(_) => total.error("a client thread panicked"),
            }
        }
    });
    bar.finish_and_clear();
    let mut report = total.report("connect", addr.to_string(), began.elapsed());
    report.clients = clients;
    Ok(report)
}

/// One connection: the bytes the server sent before closing.
fn once(addr: SocketAddr) -> Result<u64, String> {
    let stream = connect(addr, false).map_err(|e| format!("{e:#}"))?;
    let mut reply = Vec::new();
    stream
        .take(MAX_REPLY)
        .read_to_end(&mut reply)
        .map_err(|e| format!("reading from {addr}: {e}"))?;
    if reply.is_empty() {
        return Err(format!("{addr} closed without sending anything"));
    }
    Ok(reply.len() as u64)
}
