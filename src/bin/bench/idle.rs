//! `bench idle` — what an idle client costs a server: threads and resident memory.
//!
//! Lesson 07's page compares three designs on the same machine: a thread per connection (04),
//! two threads per client (06) and one thread for everyone (07). This mode makes the figures:
//! for each server and each number of clients it starts the server (`server --port 0 -q`),
//! connects N clients that then stay idle, waits until the server has served every one (an
//! echo for 04; for the chats, the welcome and every `joined` notice), and reads the server's
//! `Threads` and `VmRSS` from `/proc/PID/status`.
//!
//! ```text
//! cargo build --release --bins
//! target/release/bench idle --clients 1000,5000 04_threaded 06_group_chat 07_event_loop
//! ```
//!
//! The servers are the lesson binaries next to this one (same build profile). Everything runs
//! on loopback, is bounded (a deadline per measurement), and the servers are killed at the end.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use workbook::checker::checks::l07_event_loop::raise_descriptor_limit;
use workbook::checker::harness::{Server, Target};

/// `bench idle`'s flags.
#[derive(clap::Args)]
pub struct Args {
    /// How many idle clients, e.g. 1000,5000.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    clients: Vec<usize>,
    /// Give up on one measurement after this many seconds.
    #[arg(long, default_value_t = 300)]
    deadline_s: u64,
    /// The lesson servers to measure (binaries next to this one).
    #[arg(default_values_t = ["04_threaded".to_string(), "06_group_chat".to_string(), "07_event_loop".to_string()])]
    lessons: Vec<String>,
}

/// How many connections may be opened but not yet served: the listen backlog is 128.
const IN_FLIGHT: usize = 64;

/// Measure each lesson server with each number of idle clients; print a Markdown table.
pub fn run(cli: &Args) -> Result<()> {
    let most = cli.clients.iter().copied().max().unwrap_or(0) as u64;
    // The clients' sockets here, and the server's (which inherits this limit), and room.
    raise_descriptor_limit(most + 1024).map_err(|f| anyhow::anyhow!("{}", f.reason))?;
    let here = std::env::current_exe()?;
    let dir = here.parent().context("no directory for this binary")?;
    println!(
        "| server | idle clients | threads | resident memory (VmRSS) | KiB per client | time to serve all |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for lesson in &cli.lessons {
        for &n in &cli.clients {
            let path: PathBuf = dir.join(lesson);
            let figures = measure(&path, lesson, n, Duration::from_secs(cli.deadline_s))
                .with_context(|| format!("{lesson} with {n} clients"))?;
            println!(
                "| {lesson} | {n} | {} | {:.1} MiB | {:.1} | {:.1} s |",
                figures.threads,
                figures.rss_kib as f64 / 1024.0,
                (figures.rss_kib.saturating_sub(figures.base_kib)) as f64 / n as f64,
                figures.took.as_secs_f64()
            );
        }
    }
    Ok(())
}

struct Figures {
    threads: u64,
    rss_kib: u64,
    base_kib: u64,
    took: Duration,
}

/// Whether a lesson's server speaks the chat contract (06, 07) or echo (04, 05).
fn is_chat(lesson: &str) -> bool {
    lesson.starts_with("06") || lesson.starts_with("07")
}

fn measure(path: &std::path::Path, lesson: &str, n: usize, deadline: Duration) -> Result<Figures> {
    let target = Target::new([path.display().to_string()]);
    let count = n.to_string();
    let mut args = vec!["server", "--port", "0", "-q"];
    if is_chat(lesson) {
        // Idle clients are never too slow, however long it takes to tell them all.
        args.extend(["--max-clients", &count, "--stall-timeout-ms", "600000"]);
    }
    let server = Server::start(&target, &args).map_err(|f| anyhow::anyhow!("{f}"))?;
    let pid = server.process.pid();
    let base_kib = status_field(pid, "VmRSS:")?;
    let started = Instant::now();
    let clients = serve_idle_clients(server.addr, n, is_chat(lesson), started + deadline)?;
    let took = started.elapsed();
    let figures = Figures {
        threads: status_field(pid, "Threads:")?,
        rss_kib: status_field(pid, "VmRSS:")?,
        base_kib,
        took,
    };
    drop(clients); // measured while they were all connected
    drop(server); // killed
    Ok(figures)
}

/// One number from `/proc/PID/status` (`VmRSS:  1234 kB` → 1234).
fn status_field(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// One client of the bench.
struct Client {
    stream: TcpStream,
    /// Echo: the probe sent. Chat: nothing to send.
    probed: bool,
    /// Bytes (echo) or lines (chat) received.
    received: usize,
}

/// Connect `n` clients (at most [`IN_FLIGHT`] not yet served at a time) and read until the
/// server has served each: echo servers send back a 2-byte probe; chat servers send a welcome
/// and, to each client, a `joined` line for everyone after it — n(n+1)/2 lines in all.
fn serve_idle_clients(
    addr: SocketAddr,
    n: usize,
    chat: bool,
    deadline: Instant,
) -> Result<Vec<Client>> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut clients: HashMap<usize, Client> = HashMap::with_capacity(n);
    let (mut opened, mut served, mut total) = (0usize, 0usize, 0usize);
    let want_total = if chat { n * (n + 1) / 2 } else { 2 * n };
    let mut chunk = vec![0u8; 64 * 1024];
    while served < n || total < want_total {
        if Instant::now() >= deadline {
            bail!(
                "only {served} of {n} clients served ({total} of {want_total}) before the deadline"
            );
        }
        while opened < n && opened - served < IN_FLIGHT {
            let mut stream = TcpStream::connect(addr)?;
            poll.registry().register(
                &mut stream,
                Token(opened),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            clients.insert(
                opened,
                Client {
                    stream,
                    probed: chat,
                    received: 0,
                },
            );
            opened += 1;
        }
        poll.poll(&mut events, Some(Duration::from_millis(500)))?;
        for event in events.iter() {
            let Some(client) = clients.get_mut(&event.token().0) else {
                continue;
            };
            if event.is_writable() && !client.probed && client.stream.peer_addr().is_ok() {
                // Connected: the echo probe (2 bytes fit in any send buffer).
                client.stream.write_all(b"x\n")?;
                client.probed = true;
            }
            if event.is_readable() {
                loop {
                    match client.stream.read(&mut chunk) {
                        Ok(0) => bail!("the server closed a connection"),
                        Ok(got) => {
                            let before = client.received;
                            let counted = if chat {
                                chunk[..got].iter().filter(|&&b| b == b'\n').count()
                            } else {
                                got
                            };
                            client.received += counted;
                            total += counted;
                            let enough = if chat { 1 } else { 2 };
                            if before < enough && client.received >= enough {
                                served += 1;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e).context("recv() failed"),
                    }
                }
            }
        }
    }
    // Still connected: the caller measures, then drops them.
    Ok(clients.into_values().collect())
}
