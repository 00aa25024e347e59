//! Checks for lesson 07, the event loop: `lessons/07_event_loop.md#the-contract`.
//!
//! Lesson 07 is lesson 06's group chat served by one thread, so its contract is 06's, word for
//! word: **every check of lesson 06 runs against 07 unchanged** (their hints point at 06's page,
//! where that contract is written). Two checks of its own say what one thread must achieve:
//!
//! - 1,000 clients connected at once are all welcomed, all hear a line, and the server's
//!   process never has more than 2 threads (one for the connections, and room for a thread that
//!   only waits for signals);
//! - a client that connects and sends nothing — or half a line — never delays the others.
//!
//! The first needs file descriptors: ~2,000 in the checking process (each client's socket and
//! its clone) and ~1,010 in the server. The check raises the soft `RLIMIT_NOFILE` of the
//! checking process (within its hard limit) before it starts the server, which inherits it.

use std::time::{Duration, Instant};

use super::l06_group_chat::{Peer, room};
use super::{Failure, Outcome, ensure};
use crate::checker::harness::{Server, Target, scaled};

lesson! {
    /// Lesson 07's checks: lesson 06's, unchanged, then its own.
    name: "07_event_loop",
    tests: l07_event_loop_tests,
    inherits: [l06_group_chat, l06_group_chat_tests],
    checks: [
        server_thousand_clients_one_thread {
            title: "1,000 clients at once: all welcomed, all hear a line; at most 2 threads in the server's process",
            points: 5,
            section: "the-contract",
            hint: "non-blocking sockets and one poller (selectors, epoll, mio); no thread per client",
        },
        server_silent_client_delays_nobody {
            title: "a client that sends nothing, or half a line, never delays the others",
            points: 3,
            section: "the-loop",
            hint: "recv only what the poller says is ready; keep an incomplete line in that client's buffer",
        },
        server_idle_uses_no_cpu {
            title: "an idle server, three clients connected and silent, uses at most 5% of a CPU",
            points: 2,
            section: "the-contract",
            hint: "ask the poller for writability only while a client's write buffer holds something; with nothing to do, block in poll with no timeout (or the next deadline)",
        },
    ],
}

/// How many clients the load check connects.
pub const CLIENTS: usize = 1000;
/// The most threads any process of the server may have: one for the connections, and one that
/// waits for signals (the Rust version's; Python's `selectors` version has one).
pub const MAX_THREADS: usize = 2;
/// The most processes the server may be (a wrapper script, the server; never one per client).
const MAX_PROCESSES: usize = 3;
/// The whole load check must be over within this.
const LOAD_DEADLINE: Duration = Duration::from_secs(90);
/// Descriptors the checking process needs: two per client (the socket and its clone), and room.
const CHECKER_FDS: u64 = 2 * CLIENTS as u64 + 1024;

/// Raise the soft limit on open descriptors to at least `want` (at most the hard limit).
/// Children inherit it: the server started next may hold 1,000 connections. (Also used by the
/// `bench` tool, which holds 5,000.)
pub fn raise_descriptor_limit(want: u64) -> Outcome {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass; it has no other preconditions.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(Failure::new("getrlimit(RLIMIT_NOFILE) failed"));
    }
    if limit.rlim_cur >= want {
        return Ok(());
    }
    if limit.rlim_max < want {
        return Err(Failure::new(format!(
            "this check needs {want} open files, and the hard limit is {} (raise it: `ulimit -Hn {want}` as root)",
            limit.rlim_max
        )));
    }
    limit.rlim_cur = want;
    // SAFETY: setrlimit reads the struct we pass; raising the soft limit up to the hard one is
    // always allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(Failure::new(format!(
            "setrlimit(RLIMIT_NOFILE, {want}) failed"
        )));
    }
    Ok(())
}

/// The processes of the server's process group (the harness starts each program as the leader
/// of its own group) and how many threads each has, from `/proc`.
fn threads_per_process(group: u32) -> Vec<(u32, usize)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue; // gone meanwhile
        };
        // `pid (comm) state ppid pgrp …`: comm may hold spaces and parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) != Some(group) {
            continue;
        }
        let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| tasks.count())
            .unwrap_or(0);
        found.push((pid, threads));
    }
    found
}

/// At most [`MAX_THREADS`] threads in every process of the server, and not a process per client.
fn expect_few_threads(server: &Server, when: &str) -> Outcome {
    let processes = threads_per_process(server.process.pid());
    let busiest = processes.iter().map(|&(_, t)| t).max().unwrap_or(0);
    ensure(busiest > 0, || {
        server.failure("could not read the server's threads in /proc (not Linux?)")
    })?;
    let shown = processes
        .iter()
        .map(|(pid, t)| format!("pid {pid}: {t} thread(s)"))
        .collect::<Vec<_>>()
        .join(", ");
    ensure(
        busiest <= MAX_THREADS && processes.len() <= MAX_PROCESSES,
        || {
            server
                .failure(format!(
                    "{when}, the server ran {} process(es), the busiest with {busiest} threads ({shown})",
                    processes.len()
                ))
                .expected(format!(
                    "at most {MAX_THREADS} threads per process and at most {MAX_PROCESSES} processes, however many clients"
                ))
        },
    )
}

pub fn server_thousand_clients_one_thread(target: &Target) -> Outcome {
    raise_descriptor_limit(CHECKER_FDS)?;
    let limit = CLIENTS.to_string();
    let server = Server::start_quiet(target, &["--max-clients", &limit])?;
    let load_deadline = scaled(LOAD_DEADLINE);
    let deadline = Instant::now() + load_deadline;
    let mut peers: Vec<Peer> = Vec::with_capacity(CLIENTS);
    for k in 0..CLIENTS {
        if Instant::now() >= deadline {
            return Err(server.failure(format!(
                "only {k} of {CLIENTS} clients were welcomed within {} s",
                load_deadline.as_secs()
            )));
        }
        let mut peer = Peer::connect(&server, format!("client {}", k + 1), None)?;
        peer.expect(
            &server,
            &format!("* welcome {}, {} online", peer.name, k + 1),
        )
        .map_err(|f| f.context(format!("{k} clients already connected")))?;
        peers.push(peer);
    }
    expect_few_threads(&server, &format!("with {CLIENTS} clients connected"))?;
    // The last to arrive speaks; everyone hears it after the `joined` notices of those who
    // came after them.
    let speaker = CLIENTS - 1;
    let name = peers[speaker].name.clone();
    peers[speaker].say(&server, "hello, a thousand")?;
    let want = format!("[{name}] hello, a thousand");
    for (k, peer) in peers.iter_mut().enumerate() {
        for _ in 0..CLIENTS {
            if Instant::now() >= deadline {
                return Err(peer.failure(
                    &server,
                    &format!(
                        "the line had not reached everyone within {} s",
                        load_deadline.as_secs()
                    ),
                ));
            }
            let Some(line) = peer.next_line(&server)? else {
                return Err(
                    peer.failure(&server, "disconnected while 1,000 clients were connected")
                );
            };
            if line == want.as_bytes() {
                break;
            }
            if !(line.starts_with(b"* ") && line.ends_with(b" joined")) {
                return Err(peer
                    .mismatch(
                        &server,
                        &format!("client {} got an unexpected line", k + 1),
                        line,
                    )
                    .expected(want.clone()));
            }
        }
    }
    expect_few_threads(&server, "after a line to 1,000 clients")
}

pub fn server_silent_client_delays_nobody(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b] = room::<2>(&server)?;
    // Silent: connects, and neither sends nor reads a thing.
    let silent = Peer::connect(&server, "client S (silent)", None)?;
    let joined = format!("* {} joined", silent.name);
    a.expect(&server, &joined)?;
    b.expect(&server, &joined)?;
    // Half a line: sends `hel`, and nothing more for now.
    let mut half = Peer::connect(&server, "client H (half a line)", None)?;
    half.expect(&server, &format!("* welcome {}, 4 online", half.name))?;
    let joined = format!("* {} joined", half.name);
    a.expect(&server, &joined)?;
    b.expect(&server, &joined)?;
    half.send(&server, b"hel")?;
    // Now A and B talk. A loop that waits for either of them would make these reads time out;
    // 3 s is generous for a line over loopback.
    for peer in [&a, &b, &half] {
        peer.read_timeout(Duration::from_secs(3))?;
    }
    let (a_name, b_name) = (a.name.clone(), b.name.clone());
    for n in 1..=10 {
        let (from, text) = if n % 2 == 1 {
            (&a_name, format!("ping {n}"))
        } else {
            (&b_name, format!("pong {n}"))
        };
        let speaker = if n % 2 == 1 { &mut a } else { &mut b };
        speaker.say(&server, &text)?;
        let want = format!("[{from}] {text}");
        for peer in [&mut a, &mut b, &mut half] {
            peer.expect(&server, &want).map_err(|f| {
                f.context(format!(
                    "with a silent client and a half-sent line in the room, message {n} of 10"
                ))
            })?;
        }
    }
    // The half line, completed, is one line.
    half.send(&server, b"lo\n")?;
    let name = half.name.clone();
    for peer in [&mut a, &mut b, &mut half] {
        peer.expect(&server, &format!("[{name}] hello"))?;
    }
    drop(silent); // kept connected, and silent, to the end
    Ok(())
}

/// The most CPU time an idle server may use, as a share of the time watched.
const IDLE_CPU_SHARE: f64 = 0.05;

/// CPU time (user and system, all threads) used so far by the processes of `group`, from
/// `/proc/PID/stat`; `None` where there is no `/proc`.
fn cpu_time_of_group(group: u32) -> Option<Duration> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks <= 0 {
        return None;
    }
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp … utime stime …`: fields 14 and 15, 3 and 4 after `state`.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) != Some(group) {
            continue;
        }
        let field = |n: usize| fields.get(n).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        total += field(11) + field(12);
    }
    Some(Duration::from_secs_f64(total as f64 / ticks as f64))
}

/// Three clients join and say nothing; over two seconds the server's processes may use at most
/// 5% of that in CPU time. CPU time, not wall time: a loaded machine gives a spinning loop less
/// CPU, but never an idle one more.
pub fn server_idle_uses_no_cpu(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let peers = room::<3>(&server)?;
    let group = server.process.pid();
    let watched = scaled(Duration::from_secs(2));
    let Some(before) = cpu_time_of_group(group) else {
        return Ok(()); // no /proc: nothing to measure
    };
    let started = Instant::now();
    // Nothing happens here on purpose: the check watches the server doing nothing.
    std::thread::sleep(watched);
    let elapsed = started.elapsed();
    let used = cpu_time_of_group(group).unwrap_or(before).saturating_sub(before);
    drop(peers);
    let share = used.as_secs_f64() / elapsed.as_secs_f64();
    ensure(share <= IDLE_CPU_SHARE, || {
        server
            .failure(format!(
                "with 3 silent clients connected, the server used {} ms of CPU in {} ms ({:.0}%)",
                used.as_millis(),
                elapsed.as_millis(),
                share * 100.0
            ))
            .expected(format!(
                "at most {:.0}%: an idle event loop sleeps in its poller; one that always asks for writability wakes at once, forever",
                IDLE_CPU_SHARE * 100.0
            ))
    })
}
