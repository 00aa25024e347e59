//! `bench suite`: every lesson server and its peers, measured side by side in one run, written
//! as a Markdown table and SVG charts that the book includes.
//!
//! Absolute numbers depend on the machine and its load; the figures that mean something are the
//! ratios to the peers measured in the same run (a plain std server, socat).

use std::fmt::Write as _;
use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use workbook::checker::harness::{Server, Target};

use crate::charts::human_size;
use crate::report::Report;
use crate::{charts, chat, connect, echo, udp};

#[derive(clap::Args)]
pub struct Args {
    /// Where to write results.txt (a Markdown fragment) and the charts.
    #[arg(long, default_value = "book/src/bench")]
    out: PathBuf,
    /// Seconds per echo and UDP measurement.
    #[arg(long, default_value_t = 2.0)]
    duration: f64,
    /// A short run (0.5 s each, 1 and 50 clients): to try the suite, not to publish it.
    #[arg(long)]
    quick: bool,
}

/// One server in the comparison: a lesson binary, or a peer.
struct Contender {
    name: &'static str,
    /// Words after the program (`server --port 0 -q …`), or a peer's own command line.
    start: Start,
    /// The most concurrent clients it can serve (02 is iterative: one).
    max_clients: usize,
}

enum Start {
    /// A lesson binary or bench itself, with these arguments; it prints `listening on ADDR`.
    Ours(&'static str, Vec<String>),
    /// socat with a port we choose.
    Socat,
}

pub fn run(args: &Args) -> Result<()> {
    let dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .context("where is bench?")?;
    let duration = Duration::from_secs_f64(if args.quick { 0.5 } else { args.duration });
    let client_counts: &[usize] = if args.quick { &[1, 50] } else { &[1, 50, 500] };
    let sizes = [64usize, 512, 65536];
    let has_socat = Command::new("socat").arg("-V").output().is_ok();
    let has_07 = dir.join("07_event_loop").exists();

    let mut echo_rows: Vec<(String, usize, usize, Report)> = Vec::new();
    let mut contenders = vec![
        ours("02_echo", "02_echo", &[], 1),
        ours("04_threaded", "04_threaded", &[], usize::MAX),
        // A pool sized for the load: a closed-loop client never leaves, so with fewer workers
        // than clients the rest would wait for the whole run.
        ours(
            "05 accept",
            "05_thread_pool",
            &["--model", "accept"],
            usize::MAX,
        ),
        ours(
            "05 queue",
            "05_thread_pool",
            &["--model", "queue"],
            usize::MAX,
        ),
        Contender {
            name: "std baseline",
            start: Start::Ours("bench", vec!["baseline-echo".into()]),
            max_clients: usize::MAX,
        },
    ];
    if has_socat {
        contenders.push(Contender {
            name: "socat",
            start: Start::Socat,
            max_clients: usize::MAX,
        });
    }
    for contender in &contenders {
        for &clients in client_counts
            .iter()
            .filter(|&&c| c <= contender.max_clients)
        {
            let running = launch(&dir, contender, clients)?;
            for &size in &sizes {
                eprintln!("echo: {} × {clients} clients × {size} B", contender.name);
                let report = echo::run(&echo::Settings {
                    addr: running.addr,
                    clients,
                    size,
                    duration,
                    nodelay: false,
                })?;
                echo_rows.push((contender.name.to_string(), clients, size, report));
            }
        }
    }

    eprintln!("connect: 01 and the std RFC 868 baseline");
    let count = if args.quick { 2_000 } else { 20_000 };
    let mut connect_rows = Vec::new();
    for (name, words) in [
        ("01 RFC 3339", vec!["01_time_server", "server"]),
        (
            "01 `--rfc868`",
            vec!["01_time_server", "server", "--rfc868"],
        ),
        ("std RFC 868 baseline", vec!["bench", "baseline-time"]),
    ] {
        let server = start_ours(&dir, words[0], &words[1..])?;
        connect_rows.push((name, connect::run(server.addr, 4, count)?));
    }

    eprintln!("udp: 03");
    let udp_server = start_ours(&dir, "03_udp", &["server"])?;
    let udp_report = udp::run(udp_server.addr, 64, duration, Duration::from_millis(200))?;
    drop(udp_server);

    let mut chat_rows = Vec::new();
    let mut chat_servers = vec!["06_group_chat"];
    if has_07 {
        chat_servers.push("07_event_loop");
    }
    let lines = if args.quick { 200 } else { 2_000 };
    for name in chat_servers {
        for stalled in [0, 1] {
            eprintln!("chat: {name}, 100 clients × {lines} lines, {stalled} stalled");
            let server = start_ours(&dir, name, &["server", "--max-clients", "200"])?;
            let report = chat::run(&chat::Settings {
                addr: server.addr,
                clients: 100,
                lines,
                stalled,
                deadline: Duration::from_secs(60),
            })?;
            chat_rows.push((name, stalled, report));
        }
    }

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("failed to create {}", args.out.display()))?;
    let markdown = table(&echo_rows, &connect_rows, &udp_report, &chat_rows, duration);
    std::fs::write(args.out.join("results.txt"), &markdown)?;
    let points: Vec<charts::Point> = echo_rows
        .iter()
        .map(|(server, clients, size, r)| charts::Point {
            server: server.clone(),
            clients: *clients,
            size: *size,
            per_second: r.per_second,
        })
        .collect();
    charts::draw_all(&points, &args.out)?;
    print!("{markdown}");
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

fn ours(name: &'static str, bin: &'static str, extra: &[&str], max_clients: usize) -> Contender {
    let mut words = vec!["server".to_string()];
    words.extend(extra.iter().map(|w| w.to_string()));
    Contender {
        name,
        start: Start::Ours(bin, words),
        max_clients,
    }
}

/// A started server; dropping it stops the process.
struct Running {
    addr: SocketAddr,
    _server: Option<Server>,
    _socat: Option<Peer>,
}

/// A peer server we started ourselves (socat); killed when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn launch(dir: &Path, contender: &Contender, clients: usize) -> Result<Running> {
    match &contender.start {
        Start::Ours(bin, words) => {
            let mut words: Vec<&str> = words.iter().map(String::as_str).collect();
            let workers = clients.to_string();
            if *bin == "05_thread_pool" {
                words.extend(["--workers", &workers]);
            }
            let server = start_ours(dir, bin, &words)?;
            Ok(Running {
                addr: server.addr,
                _server: Some(server),
                _socat: None,
            })
        }
        Start::Socat => {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let listen = format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork");
            let child = Command::new("socat")
                .args([listen.as_str(), "PIPE"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .context("failed to start socat")?;
            let process = Peer(child);
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            wait_until_accepting(addr)?;
            Ok(Running {
                addr,
                _server: None,
                _socat: Some(process),
            })
        }
    }
}

fn start_ours(dir: &Path, bin: &str, words: &[&str]) -> Result<Server> {
    let program = dir.join(bin);
    if !program.exists() {
        bail!(
            "{} is missing: build every binary first (cargo build --release --bins)",
            program.display()
        );
    }
    let target = Target::new([program.display().to_string()]);
    let mut args: Vec<&str> = words.to_vec();
    if bin != "bench" {
        args.extend(["--port", "0", "-q"]);
    }
    Server::start(&target, &args).map_err(|f| anyhow!("{bin}: {f}"))
}

/// socat prints nothing when ready: try to connect, a bounded number of times.
fn wait_until_accepting(addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = s.shutdown(Shutdown::Both);
            return Ok(());
        }
        thread::sleep(Duration::from_millis(20));
    }
    bail!("socat did not accept on {addr} within 10 s")
}

/// The baseline for lesson 01: the plainest RFC 868 time server (4 bytes, then close).
pub fn baseline_time_server() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").context("failed to bind")?;
    println!("listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + 2_208_988_800;
        let _ = std::io::Write::write_all(&mut stream, &(secs as u32).to_be_bytes());
        // Read to the client's close? No: a time server closes first, like lesson 01.
        let _ = stream.shutdown(Shutdown::Both);
        let _ = stream.read(&mut [0u8; 1]);
    }
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), Linux {kernel}, loopback")
}

fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

type EchoRow = (String, usize, usize, Report);

fn table(
    echo_rows: &[EchoRow],
    connect_rows: &[(&str, Report)],
    udp_report: &Report,
    chat_rows: &[(&str, usize, Report)],
    duration: Duration,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "Measured on {} by `bench/run`, {}.", today(), machine());
    let _ = writeln!(
        md,
        "Each echo figure is a closed loop of {:.1} s after a warm-up; ratios to the peers in the same run are what carry over to another machine.\n",
        duration.as_secs_f64()
    );
    let _ = writeln!(md, "### Echo\n");
    let _ = writeln!(
        md,
        "| server | clients | size | req/s | MB/s | p50 ms | p99 ms | errors |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, clients, size, r) in echo_rows {
        let _ = writeln!(
            md,
            "| {name} | {clients} | {} | {:.0} | {:.1} | {:.3} | {:.3} | {} |",
            human_size(*size),
            r.per_second,
            r.mb_per_second,
            r.latency_ms.p50,
            r.latency_ms.p99,
            r.errors + r.mismatches
        );
    }
    let _ = writeln!(md, "\n### Connections (lesson 01)\n");
    let _ = writeln!(md, "| server | connections/s | p50 ms | p99 ms | errors |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    for (name, r) in connect_rows {
        let _ = writeln!(
            md,
            "| {name} | {:.0} | {:.3} | {:.3} | {} |",
            r.per_second, r.latency_ms.p50, r.latency_ms.p99, r.errors
        );
    }
    let _ = writeln!(md, "\n### UDP round trips (lesson 03, 64 B)\n");
    let lost = udp_report
        .extra
        .iter()
        .find(|(k, _)| k == "lost")
        .map_or("?", |(_, v)| v.as_str());
    let _ = writeln!(md, "| round trips/s | p50 ms | p99 ms | lost |");
    let _ = writeln!(md, "|---:|---:|---:|---:|");
    let _ = writeln!(
        md,
        "| {:.0} | {:.3} | {:.3} | {lost} |",
        udp_report.per_second, udp_report.latency_ms.p50, udp_report.latency_ms.p99
    );
    let _ = writeln!(md, "\n### Chat fan-out (100 members)\n");
    let _ = writeln!(
        md,
        "| server | stalled | deliveries/s | delivered | complete readers | p99 ms | took s |"
    );
    let _ = writeln!(md, "|---|---:|---:|---|---|---:|---:|");
    for (name, stalled, r) in chat_rows {
        let get = |k: &str| {
            r.extra
                .iter()
                .find(|(n, _)| n == k)
                .map_or("?", |(_, v)| v.as_str())
                .to_string()
        };
        let _ = writeln!(
            md,
            "| {name} | {stalled} | {:.0} | {} | {} | {:.1} | {:.2} |",
            r.per_second,
            get("delivered"),
            get("complete"),
            r.latency_ms.p99,
            r.seconds
        );
    }
    md
}
