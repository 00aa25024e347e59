//! # bench — load for the lesson servers, measured honestly
//!
//! A tool, not a lesson: it measures what each way of serving clients costs. Every mode is a
//! closed loop (each client keeps one request in flight), bounded in count and in time, and
//! talks only to the address it is given.
//!
//! ```text
//! cargo run --release --bin bench -- echo 127.0.0.1:7004 --clients 50 --size 512 --duration 5
//! cargo run --release --bin bench -- connect 127.0.0.1:7001 --clients 4 --count 20000
//! cargo run --release --bin bench -- udp 127.0.0.1:7003 --size 64 --duration 5
//! cargo run --release --bin bench -- chat 127.0.0.1:7006 --clients 100 --lines 2000 --stalled 1
//! cargo run --release --bin bench -- suite                # every lesson server, side by side
//! cargo run --release --bin bench -- charts               # the book's charts, from results.txt
//! cargo run --release --bin bench -- idle --clients 1000,5000   # threads and memory per idle client
//! ```
//!
//! Each mode prints a report (throughput, latency percentiles, errors, mismatches) on stdout,
//! or JSON with `--json`. A progress bar shows on a terminal only.

mod charts;
mod chat;
mod connect;
mod echo;
// The whole comparison and the idle measurement start lesson servers through the grader's harness
// and read /proc: Linux only. The four load modes run everywhere.
#[cfg(target_os = "linux")]
mod idle;
mod report;
#[cfg(target_os = "linux")]
mod suite;
mod udp;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use report::Report;

/// The most clients one run may start: each is a thread (two for echo and chat).
const MAX_CLIENTS: usize = 5_000;
/// The longest run.
const MAX_DURATION_S: f64 = 600.0;
/// The largest echo message or datagram payload.
const MAX_SIZE: usize = 16 << 20;
/// Connect and read timeouts: a server that stops answering costs an error, never a hang.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Load for the lesson servers: echo, connect, udp and chat, or the whole suite",
    after_help = "Every loop is bounded in count and time, and targets only the address given."
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
    /// Print the report as JSON (one object) instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Mode {
    /// Echo round trips: each client sends SIZE bytes, reads them back, checks every byte.
    Echo {
        /// The server, as HOST:PORT (127.0.0.1:7002, [::1]:7004, localhost:7005).
        addr: String,
        /// Concurrent clients, each with one message in flight.
        #[arg(long, default_value_t = 1, value_parser = clients)]
        clients: usize,
        /// Bytes per message.
        #[arg(long, default_value_t = 64, value_parser = size)]
        size: usize,
        /// How long to measure, in seconds (after a short warm-up).
        #[arg(long, default_value_t = 5.0, value_parser = seconds)]
        duration: f64,
        /// Set TCP_NODELAY on the client sockets (the server's own setting is the server's).
        #[arg(long)]
        nodelay: bool,
    },
    /// Connection rate: connect, read until the server closes, close — COUNT times in all.
    Connect {
        /// The server, as HOST:PORT.
        addr: String,
        /// Concurrent clients.
        #[arg(long, default_value_t = 1, value_parser = clients)]
        clients: usize,
        /// Connections in all.
        #[arg(long, default_value_t = 1000, value_parser = count)]
        count: u64,
    },
    /// UDP round trips: one datagram in flight, a lost one counted after --timeout-ms.
    Udp {
        /// The server, as HOST:PORT.
        addr: String,
        /// Payload bytes per datagram (at least 8: the sequence number).
        #[arg(long, default_value_t = 64, value_parser = size)]
        size: usize,
        /// How long to measure, in seconds.
        #[arg(long, default_value_t = 5.0, value_parser = seconds)]
        duration: f64,
        /// How long to wait for each reply before counting the datagram lost.
        #[arg(long, default_value_t = 200)]
        timeout_ms: u64,
    },
    /// Chat fan-out: one member sends LINES lines; every reading member must get every line.
    Chat {
        /// The server, as HOST:PORT.
        addr: String,
        /// Members in the room, the sender and the stalled ones included.
        #[arg(long, default_value_t = 10, value_parser = clients)]
        clients: usize,
        /// Lines the sender sends.
        #[arg(long, default_value_t = 100, value_parser = count)]
        lines: u64,
        /// Members that join and then never read (a slow reader the server must not wait for).
        #[arg(long, default_value_t = 0)]
        stalled: usize,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60.0, value_parser = seconds)]
        deadline: f64,
    },
    /// Start every lesson server and the peers, measure them side by side, write a Markdown
    /// table and SVG charts.
    #[cfg(target_os = "linux")]
    Suite(suite::Args),
    /// Draw the book's echo charts again from a recorded results.txt (no new measurement).
    Charts(charts::Args),
    /// Threads and resident memory of lesson servers holding N idle clients (lesson 07).
    #[cfg(target_os = "linux")]
    Idle(idle::Args),
    /// A minimal std thread-per-connection echo server: the suite's baseline. Prints
    /// `listening on ADDR`.
    #[command(hide = true)]
    BaselineEcho {
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// A minimal std RFC 868 time server: the suite's baseline for lesson 01.
    #[cfg(target_os = "linux")]
    #[command(hide = true)]
    BaselineTime,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    workbook::kit::errors::main("bench", || run(cli))
}

fn run(cli: Cli) -> Result<()> {
    let report: Report = match cli.mode {
        Mode::Echo {
            addr,
            clients,
            size,
            duration,
            nodelay,
        } => echo::run(&echo::Settings {
            addr: target(&addr)?,
            clients,
            size,
            duration: Duration::from_secs_f64(duration),
            nodelay,
        })?,
        Mode::Connect {
            addr,
            clients,
            count,
        } => connect::run(target(&addr)?, clients, count)?,
        Mode::Udp {
            addr,
            size,
            duration,
            timeout_ms,
        } => {
            if size < 8 {
                bail!("--size must be at least 8 bytes for UDP: the sequence number");
            }
            udp::run(
                target(&addr)?,
                size,
                Duration::from_secs_f64(duration),
                Duration::from_millis(timeout_ms.clamp(1, 10_000)),
            )?
        }
        Mode::Chat {
            addr,
            clients,
            lines,
            stalled,
            deadline,
        } => {
            if stalled >= clients {
                bail!("--stalled must leave at least one reading member (the sender)");
            }
            chat::run(&chat::Settings {
                addr: target(&addr)?,
                clients,
                lines,
                stalled,
                deadline: Duration::from_secs_f64(deadline),
            })?
        }
        #[cfg(target_os = "linux")]
        Mode::Suite(args) => return suite::run(&args),
        Mode::Charts(args) => return charts::run(&args),
        #[cfg(target_os = "linux")]
        Mode::Idle(args) => return idle::run(&args),
        Mode::BaselineEcho { port } => return echo::baseline_server(port),
        #[cfg(target_os = "linux")]
        Mode::BaselineTime => return suite::baseline_time_server(),
    };
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    Ok(())
}

/// The one address a run targets: the first that HOST:PORT resolves to.
pub fn target(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| {
            format!("cannot resolve {addr} (write it as HOST:PORT, e.g. 127.0.0.1:7002)")
        })?
        .next()
        .with_context(|| format!("{addr} resolves to no address"))
}

fn clients(text: &str) -> Result<usize, String> {
    bounded(text, 1, MAX_CLIENTS as u64).map(|n| n as usize)
}

fn size(text: &str) -> Result<usize, String> {
    bounded(text, 1, MAX_SIZE as u64).map(|n| n as usize)
}

fn count(text: &str) -> Result<u64, String> {
    bounded(text, 1, 100_000_000)
}

fn bounded(text: &str, low: u64, high: u64) -> Result<u64, String> {
    let n: u64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number"))?;
    if !(low..=high).contains(&n) {
        return Err(format!("must be from {low} to {high}"));
    }
    Ok(n)
}

fn seconds(text: &str) -> Result<f64, String> {
    let s: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(s > 0.0 && s <= MAX_DURATION_S) {
        return Err(format!(
            "must be more than 0 and at most {MAX_DURATION_S} seconds"
        ));
    }
    Ok(s)
}
