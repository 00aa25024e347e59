//! `bench chat`: fan-out in lesson 06's room — one member sends, every reading member must get
//! every line, and members that stop reading must not hold the others back.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use socket2::{Domain, Socket, Type};

use crate::IO_TIMEOUT;
use crate::report::{Recorder, Report, progress};

/// A stalled member's receive buffer: small, so that the server really meets a full socket
/// instead of the kernel quietly buffering megabytes for it.
const STALLED_RCVBUF: usize = 4 << 10;
/// The longest line we read from the room (the contract's limit plus a name).
const MAX_LINE: u64 = 8 << 10;

pub struct Settings {
    pub addr: SocketAddr,
    pub clients: usize,
    pub lines: u64,
    pub stalled: usize,
    pub deadline: Duration,
}

pub fn run(s: &Settings) -> Result<Report> {
    let began = Instant::now();
    let deadline = began + s.deadline;
    // Everyone joins first (and has read the welcome) so that every reader is in the room
    // before the first line is sent.
    let mut readers = Vec::new();
    let mut stalled = Vec::new();
    for i in 0..s.clients {
        if i >= s.clients - s.stalled {
            stalled.push(join_stalled(s.addr)?);
        } else {
            readers.push(join(s.addr, deadline).with_context(|| format!("member {i}"))?);
        }
    }
    let sender = readers[0]
        .get_ref()
        .try_clone()
        .context("failed to clone the sender's socket")?;
    let t0 = Instant::now();
    let delivered = AtomicU64::new(0);
    let expected = s.lines * readers.len() as u64;
    let bar = progress(expected, "chat");
    let mut total = Recorder::new();
    let mut complete = 0usize;
    let sent = thread::scope(|scope| -> Result<u64> {
        let workers: Vec<_> = readers
            .into_iter()
            .map(|reader| {
                let (delivered, bar) = (&delivered, &bar);
                scope.spawn(move || read_lines(reader, s.lines, t0, deadline, delivered, bar))
            })
            .collect();
        let sent = send_lines(sender, s.lines, t0, deadline);
        for worker in workers {
            match worker.join() {
                Ok((rec, all)) => {
                    complete += usize::from(all);
                    total.merge(rec);
                }
                Err(_) => total.error("a reader thread panicked"),
            }
        }
        sent
    })?;
    bar.finish_and_clear();
    drop(stalled);
    let readers = s.clients - s.stalled;
    let mut report = total.report("chat", s.addr.to_string(), t0.elapsed());
    report.clients = s.clients;
    report.extra = vec![
        ("lines sent".into(), sent.to_string()),
        ("delivered".into(), format!("{} of {expected}", report.ok)),
        (
            "complete".into(),
            format!("{complete} of {readers} readers got every line"),
        ),
        ("stalled".into(), s.stalled.to_string()),
    ];
    Ok(report)
}

/// Connect and read the welcome line.
fn join(addr: SocketAddr, deadline: Instant) -> Result<BufReader<TcpStream>> {
    let stream = crate::echo::connect(addr, true)?;
    stream.set_read_timeout(Some(
        deadline
            .saturating_duration_since(Instant::now())
            .max(IO_TIMEOUT),
    ))?;
    let mut reader = BufReader::new(stream);
    let mut welcome = String::new();
    (&mut reader)
        .take(MAX_LINE)
        .read_line(&mut welcome)
        .context("no welcome line")?;
    if !welcome.starts_with("* welcome") {
        bail!("expected `* welcome …` first, got {welcome:?}");
    }
    Ok(reader)
}

/// A member that joins and never reads, with a small receive buffer.
fn join_stalled(addr: SocketAddr) -> Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_recv_buffer_size(STALLED_RCVBUF)?;
    socket
        .connect_timeout(&addr.into(), IO_TIMEOUT)
        .with_context(|| format!("failed to connect to {addr}"))?;
    Ok(socket)
}

/// The sender's lines: `bench SEQ MICROS`, MICROS since the shared start, for the latency.
fn send_lines(stream: TcpStream, lines: u64, t0: Instant, deadline: Instant) -> Result<u64> {
    // The room may slow the sender down (a full queue waits up to the stall timeout).
    stream.set_write_timeout(Some(
        deadline
            .saturating_duration_since(Instant::now())
            .max(IO_TIMEOUT),
    ))?;
    let mut out = BufWriter::new(stream);
    let mut sent = 0;
    for seq in 0..lines {
        if Instant::now() >= deadline {
            break;
        }
        writeln!(out, "bench {seq} {}", t0.elapsed().as_micros()).context("sending")?;
        sent += 1;
    }
    out.flush().context("sending")?;
    Ok(sent)
}

/// Read the room until every line arrived (or the deadline): the recorder, and whether all did.
fn read_lines(
    mut reader: BufReader<TcpStream>,
    lines: u64,
    t0: Instant,
    deadline: Instant,
    delivered: &AtomicU64,
    bar: &indicatif::ProgressBar,
) -> (Recorder, bool) {
    let mut rec = Recorder::new();
    let mut next = 0u64;
    let mut line = String::new();
    while next < lines && Instant::now() < deadline {
        line.clear();
        match (&mut reader).take(MAX_LINE).read_line(&mut line) {
            Ok(0) => {
                rec.error("the server closed the connection");
                break;
            }
            Ok(_) => {}
            Err(e) => {
                rec.error(format!("reading: {e}"));
                break;
            }
        }
        let Some((_, rest)) = line.trim_end().split_once("] bench ") else {
            continue; // joins, leaves: not ours
        };
        let mut parts = rest.split(' ').map(str::parse::<u64>);
        let (Some(Ok(seq)), Some(Ok(micros))) = (parts.next(), parts.next()) else {
            rec.mismatches += 1;
            continue;
        };
        if seq != next {
            rec.mismatches += 1; // out of order or lost: the room promises neither
        }
        next = seq + 1;
        let now = t0.elapsed().as_micros() as u64;
        rec.record(
            Duration::from_micros(now.saturating_sub(micros)),
            line.len() as u64,
        );
        delivered.fetch_add(1, Ordering::Relaxed);
        bar.inc(1);
    }
    let all = next == lines && rec.mismatches == 0;
    (rec, all)
}
