//! `bench echo`: closed-loop echo round trips, every byte checked; and the baseline server.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::IO_TIMEOUT;
use crate::report::{Recorder, Report, progress};

/// Round trips in the first moments are not recorded: connections are new, caches are cold.
pub const WARMUP: Duration = Duration::from_millis(300);
/// Messages up to this size are written and then read by one thread: the socket buffers hold
/// them whole. Larger ones are written by a second thread, or a server that echoes while it
/// reads would block on our full receive buffer while we block on its full one.
const INLINE_MAX: usize = 64 << 10;

pub struct Settings {
    pub addr: SocketAddr,
    pub clients: usize,
    pub size: usize,
    pub duration: Duration,
    pub nodelay: bool,
}

pub fn run(s: &Settings) -> Result<Report> {
    let start = Barrier::new(s.clients + 1);
    let done = AtomicUsize::new(0);
    let bar = progress(s.duration.as_millis() as u64, "echo");
    let mut total = Recorder::new();
    let measured = thread::scope(|scope| {
        let workers: Vec<_> = (0..s.clients)
            .map(|id| {
                let (start, done) = (&start, &done);
                scope.spawn(move || {
                    let rec = client(s, id, start);
                    done.fetch_add(1, Ordering::SeqCst);
                    rec
                })
            })
            .collect();
        start.wait();
        let began = Instant::now() + WARMUP;
        while done.load(Ordering::SeqCst) < s.clients {
            bar.set_position(began.elapsed().as_millis().min(s.duration.as_millis()) as u64);
            thread::sleep(Duration::from_millis(100).min(s.duration));
        }
        bar.finish_and_clear();
        for worker in workers {
            match worker.join() {
                Ok(rec) => total.merge(rec),
                Err(_) => total.error("a client thread panicked"),
            }
        }
        began.elapsed()
    });
    let mut report = total.report(
        "echo",
        s.addr.to_string(),
        measured.min(s.duration + IO_TIMEOUT),
    );
    report.seconds = s.duration.as_secs_f64();
    report.per_second = report.ok as f64 / report.seconds;
    report.mb_per_second = (report.ok * s.size as u64) as f64 / report.seconds / 1e6;
    report.clients = s.clients;
    report.size = s.size;
    Ok(report)
}

/// The bytes of message `seq` of client `id`: different for every message and every client,
/// so an echo from the wrong message or the wrong connection is caught.
fn fill(buf: &mut [u8], id: usize, seq: u64) {
    let base = (seq as usize)
        .wrapping_mul(13)
        .wrapping_add(id.wrapping_mul(101));
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (base.wrapping_add(i.wrapping_mul(7)) % 251) as u8;
    }
}

fn client(s: &Settings, id: usize, start: &Barrier) -> Recorder {
    let mut rec = Recorder::new();
    let stream = match connect(s.addr, s.nodelay) {
        Ok(stream) => stream,
        Err(e) => {
            rec.error(format!("{e:#}"));
            start.wait();
            return rec;
        }
    };
    start.wait();
    let warm_until = Instant::now() + WARMUP;
    let deadline = warm_until + s.duration;
    let mut sent = vec![0u8; s.size];
    let mut got = vec![0u8; s.size];
    // A writer thread for large messages; small ones are written inline.
    let (to_writer, jobs) = sync_channel::<u64>(1);
    let writer = if s.size > INLINE_MAX {
        let mut out = match stream.try_clone() {
            Ok(out) => out,
            Err(e) => {
                rec.error(format!("client {id}: {e}"));
                return rec;
            }
        };
        let size = s.size;
        Some(thread::spawn(move || -> std::io::Result<()> {
            let mut buf = vec![0u8; size];
            for seq in jobs {
                fill(&mut buf, id, seq);
                out.write_all(&buf)?;
            }
            Ok(())
        }))
    } else {
        None
    };
    let mut seq = 0u64;
    while Instant::now() < deadline {
        let began = Instant::now();
        let wrote = if writer.is_some() {
            to_writer
                .send(seq)
                .map_err(|_| std::io::Error::other("the writer stopped"))
        } else {
            fill(&mut sent, id, seq);
            (&stream).write_all(&sent)
        };
        if let Err(e) = wrote.and_then(|()| (&stream).read_exact(&mut got)) {
            rec.error(format!("client {id}, message {seq}: {e}"));
            break;
        }
        let took = began.elapsed();
        if writer.is_some() {
            fill(&mut sent, id, seq);
        }
        if got != sent {
            rec.mismatches += 1;
        }
        if began >= warm_until {
            rec.record(took, s.size as u64);
        }
        seq += 1;
    }
    drop(to_writer);
    let _ = stream.shutdown(Shutdown::Write);
    if let Some(writer) = writer {
        match writer.join() {
            Ok(Err(e)) if rec.errors == 0 => rec.error(format!("client {id} writing: {e}")),
            Err(_) => rec.error("a writer thread panicked"),
            _ => {}
        }
    }
    rec
}

/// connect with a timeout; reads and writes time out too, so a stuck server is an error.
pub fn connect(addr: SocketAddr, nodelay: bool) -> Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .with_context(|| format!("failed to connect to {addr}"))?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(nodelay)?;
    Ok(stream)
}

/// The baseline: the plainest std echo server, one thread per connection, default socket
/// options. What a lesson server is compared with in the suite.
pub fn baseline_server(port: u16) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).context("failed to bind")?;
    println!("listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        thread::spawn(move || {
            let mut buf = [0u8; 64 << 10];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 || stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}
