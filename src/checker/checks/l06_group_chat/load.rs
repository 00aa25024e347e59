//! The load checks of lesson 06: a 50,000-line burst with a stalled reader, fifty clients,
//! and shutting a full room down.

use super::*;
use crate::checker::checks::common::{still_running, with_evidence};
use crate::checker::harness::scaled;

/// The 50,000 lines of the burst: numbered, and long enough (~10 MB in all) that no sensible
/// amount of buffering — the kernel's (Linux grows a send buffer to at most 4 MiB) plus a
/// bounded queue — can hold them for a client that does not read.
pub(super) const BURST: usize = 50_000;
pub(super) const BURST_TEXT: &str = "of a burst: a client that reads gets every line, in order, and a client that does not read is dropped without stalling anybody else, however the lines are split into reads";

pub(super) fn burst_line(n: usize) -> String {
    format!("{n:05} {BURST_TEXT}")
}

/// The check's stall timeout, and how long the pausing client stops reading: long enough
/// for the room to fill its queue, well short of the stall timeout.
pub(super) const STALL_MS: u64 = 3000;
pub(super) const PAUSE: Duration = Duration::from_secs(1);
/// The pausing client resumes at the latest when the sender has seen this many lines — by then
/// ~8 MB have been sent, more than the pausing client's buffers can hold.
pub(super) const RESUME_AT: usize = 40_000;
/// The whole burst must be over within this.
pub(super) const BURST_DEADLINE: Duration = Duration::from_secs(40);

/// How far the sender's own copy of the burst has got, and when it last moved.
pub(super) struct Progress {
    state: Mutex<(usize, Instant)>,
    moved: Condvar,
}

impl Progress {
    fn advance(&self, count: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = (count, Instant::now());
        if count == RESUME_AT {
            self.moved.notify_all();
        }
    }

    /// Wait until the sender has seen `RESUME_AT` lines or nothing has moved for `PAUSE` (the
    /// room is waiting for a full queue): the moment a paused reader should resume.
    fn wait_for_stall(&self, deadline: Instant) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let (count, last) = *state;
            if count >= RESUME_AT || last.elapsed() >= PAUSE || Instant::now() >= deadline {
                return;
            }
            // Wake at the latest when the quiet period would be over, to look again.
            let wait = PAUSE.saturating_sub(last.elapsed()) + Duration::from_millis(10);
            state = self
                .moved
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Read the whole burst from `sender_name` and the notice that `stalled_name` left as too
/// slow, in any interleaving; anything else, a gap or a reordering fails.
pub(super) fn read_burst(
    server: &Server,
    peer: &mut Peer,
    sender_name: &str,
    stalled_name: &str,
    progress: Option<&Progress>,
    deadline: Instant,
) -> Outcome {
    let notice = format!("* {stalled_name} left (too slow)");
    let prefix = format!("[{sender_name}] ");
    let (mut got, mut noticed) = (0, false);
    while got < BURST || !noticed {
        if Instant::now() >= deadline {
            return Err(peer.failure(
                server,
                &format!(
                    "the burst was not over within {} s: {got} of {BURST} lines{}",
                    BURST_DEADLINE.as_secs(),
                    if noticed {
                        ""
                    } else {
                        ", and no `left (too slow)` notice"
                    }
                ),
            ));
        }
        let Some(line) = peer.next_line(server).map_err(|f| {
            f.context(format!("after {got} of {BURST} lines of the burst"))
                .expected(format!(
                    "{BURST} lines `{prefix}NNNNN …`, in order, and `{notice}`"
                ))
        })?
        else {
            return Err(peer.failure(
                server,
                &format!(
                    "disconnected after {got} of {BURST} lines of the burst: a client that reads must never be dropped"
                ),
            ));
        };
        if line == notice.as_bytes() && !noticed {
            noticed = true;
            continue;
        }
        if line.ends_with(b" left (too slow)") {
            return Err(peer.mismatch(
                server,
                &format!(
                    "after {got} lines, a client that was reading was dropped as too slow: a \
                     queue that is full for a moment (a burst) must make the sender wait, not \
                     drop the client"
                ),
                line,
            ));
        }
        let want = format!("{prefix}{}", burst_line(got + 1));
        if line != want.as_bytes() {
            return Err(peer
                .mismatch(
                    server,
                    &format!(
                        "line {} of the burst is wrong (lost, reordered or split?)",
                        got + 1
                    ),
                    line,
                )
                .expected(short(&want)));
        }
        got += 1;
        if let Some(progress) = progress {
            progress.advance(got);
        }
    }
    Ok(())
}

/// The heart of the lesson. Four clients: S sends 50,000 lines in one burst; R reads all the
/// time; P stops reading until the room has had to wait for it (a burst it falls behind on,
/// but recovers from); Z has a tiny receive buffer and never reads. S, R and P must each get
/// every line in order and the notice `* Z left (too slow)`; Z must be dropped.
pub fn server_survives_stalled_reader(target: &Target) -> Outcome {
    let stall = STALL_MS.to_string();
    let server = Server::start_quiet(target, &["--stall-timeout-ms", &stall])?;
    let [mut s, mut r] = room::<2>(&server)?;
    // P keeps the default receive buffer: on loopback, whose segments are up to 64 KiB, a
    // tiny buffer makes the kernel drop segments and wait for retransmission timers, and a
    // client that reads would crawl for reasons that have nothing to do with the server.
    let mut p = Peer::connect(&server, "client P (pauses)", None)?;
    p.expect(&server, &format!("* welcome {}, 3 online", p.name))?;
    for peer in [&mut s, &mut r] {
        peer.expect(&server, &format!("* {} joined", p.name))?;
    }
    let mut z = Peer::connect(&server, "client Z (never reads)", Some(4096))?;
    z.expect(&server, &format!("* welcome {}, 4 online", z.name))?;
    for peer in [&mut s, &mut r, &mut p] {
        peer.expect(&server, &format!("* {} joined", z.name))?;
    }
    // Reads may wait out a stall timeout (the room waiting for Z), with a margin.
    let patience = scaled(Duration::from_millis(STALL_MS) + Duration::from_secs(3));
    for peer in [&s, &r, &p] {
        peer.read_timeout(patience)?;
    }
    s.stream
        .set_write_timeout(Some(patience))
        .map_err(Failure::io("setting a write timeout"))?;

    let burst: Vec<u8> = (1..=BURST)
        .flat_map(|n| format!("{}\n", burst_line(n)).into_bytes())
        .collect();
    let (s_name, z_name) = (s.name.clone(), z.name.clone());
    let deadline = Instant::now() + BURST_DEADLINE;
    let progress = Progress {
        state: Mutex::new((0, Instant::now())),
        moved: Condvar::new(),
    };
    let mut writer = s.stream.try_clone().map_err(Failure::io("cloning"))?;
    let stopper = s.stream.try_clone().map_err(Failure::io("cloning"))?;
    let server = &server;
    let (s_name, z_name, progress) = (&s_name, &z_name, &progress);
    let results = std::thread::scope(|scope| {
        let sending = scope.spawn(move || writer.write_all(&burst));
        // The threads borrow the clients: none is dropped (and seen leaving) before all are done.
        let readers = [
            scope.spawn(|| read_burst(server, &mut s, s_name, z_name, Some(progress), deadline)),
            scope.spawn(|| read_burst(server, &mut r, s_name, z_name, None, deadline)),
            scope.spawn(|| {
                // Falls behind on purpose, then catches up before the stall timeout.
                progress.wait_for_stall(deadline);
                read_burst(server, &mut p, s_name, z_name, None, deadline)
            }),
        ];
        let mut results: Vec<Outcome> = Vec::new();
        for reader in readers {
            let result = reader
                .join()
                .unwrap_or_else(|_| Err(Failure::new("a reading thread panicked")));
            if result.is_err() {
                // Unblock the sender at once: the check has failed anyway.
                let _ = stopper.shutdown(Shutdown::Both);
            }
            results.push(result);
        }
        let sent = sending
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the sending thread panicked")));
        (results, sent)
    });
    let (results, sent) = results;
    for result in results {
        result?;
    }
    sent.map_err(|e| {
        server.failure(format!(
            "the sender could not send its burst: {e} (a server that reads nothing for {} s)",
            patience.as_secs()
        ))
    })?;
    drop((s, r, p, z));
    Ok(())
}

/// How many clients the load check opens, and how many lines each sends.
pub(super) const CLIENTS: usize = 50;
pub(super) const LINES: usize = 100;

/// 50 clients join; each sends 100 numbered lines at once; each must receive all 5,000, and
/// every sender's lines in the order it sent them.
pub fn server_fifty_clients(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let mut peers = Vec::with_capacity(CLIENTS);
    for k in 0..CLIENTS {
        let mut peer = Peer::connect(&server, format!("client {}", k + 1), None)?;
        peer.expect(
            &server,
            &format!("* welcome {}, {} online", peer.name, k + 1),
        )?;
        peers.push(peer);
    }
    // Every client has been welcomed, so every client is in the room: now all talk at once.
    let names: Vec<String> = peers.iter().map(|p| p.name.clone()).collect();
    let deadline = Instant::now() + scaled(Duration::from_secs(40));
    let (server, names) = (&server, &names);
    std::thread::scope(|scope| {
        let running: Vec<_> = peers
            .into_iter()
            .map(|mut peer| {
                // The thread hands its client back, so that a client done early stays in the
                // room (and the others do not see it leave) until every client is done.
                scope.spawn(move || (receive_all(server, &mut peer, names, deadline), peer))
            })
            .collect();
        // Join them all before any client is dropped (a dropped client leaves the room).
        let finished: Vec<(Outcome, Option<Peer>)> = running
            .into_iter()
            .map(|h| match h.join() {
                Ok((outcome, peer)) => (outcome, Some(peer)),
                Err(_) => (Err(Failure::new("a client thread panicked")), None),
            })
            .collect();
        let outcomes: Vec<Outcome> = finished.into_iter().map(|(outcome, _)| outcome).collect();
        outcomes.into_iter().collect()
    })
}

/// One of the fifty: send its 100 lines, then read until it has everyone's.
pub(super) fn receive_all(
    server: &Server,
    peer: &mut Peer,
    names: &[String],
    deadline: Instant,
) -> Outcome {
    let lines: String = (0..LINES).map(|n| format!("message {n:03}\n")).collect();
    peer.send(server, lines.as_bytes())?;
    let mut next = vec![0usize; CLIENTS];
    let mut total = 0;
    while total < CLIENTS * LINES {
        if Instant::now() >= deadline {
            return Err(peer.failure(server, &format!("only {total} of 5000 lines after 40 s")));
        }
        let Some(line) = peer.next_line(server)? else {
            return Err(peer.failure(server, &format!("disconnected after {total} of 5000 lines")));
        };
        let text = String::from_utf8_lossy(&line);
        if text.starts_with("* ") && text.ends_with(" joined") {
            continue; // the clients who joined after this one
        }
        let sender = text
            .strip_prefix('[')
            .and_then(|t| t.split_once("] "))
            .and_then(|(name, rest)| names.iter().position(|n| n == name).map(|i| (i, rest)));
        let Some((from, rest)) = sender else {
            return Err(peer.mismatch(server, "unexpected line", line));
        };
        let want = format!("message {:03}", next[from]);
        if rest != want {
            let reason = format!(
                "from {}: expected `{want}` (lost or out of order)",
                names[from]
            );
            return Err(peer.mismatch(server, &reason, line));
        }
        next[from] += 1;
        total += 1;
    }
    Ok(())
}

/// After a shutdown, each client's last line is the notice and then the connection closes.
pub(super) fn expect_shutdown_notice(server: &Server, peers: &mut [Peer]) -> Outcome {
    for peer in peers.iter_mut() {
        let lines = peer.until_closed(server, 100)?;
        ensure(
            lines.last().map(String::as_str) == Some(SHUTTING_DOWN),
            || {
                peer.failure(
                    server,
                    "the last line before the server closed was not the notice",
                )
                .expected(SHUTTING_DOWN)
            },
        )?;
    }
    Ok(())
}

/// The server must exit with status 0 soon after it closed the connections.
pub(super) fn expect_exit_zero(server: &mut Server) -> Outcome {
    let within = scaled(Duration::from_secs(10));
    match server.process.wait_timeout(within) {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(server.failure(format!("the server exited with {status}, not 0"))),
        None => Err(server.failure(format!(
            "the server did not exit within {} s of shutting down",
            within.as_secs()
        ))),
    }
}

pub fn server_shutdown_on_sigterm(target: &Target) -> Outcome {
    let mut server = Server::start_quiet(target, &[])?;
    let mut peers = room::<3>(&server)?;
    server.process.signal(libc::SIGTERM);
    expect_shutdown_notice(&server, &mut peers)?;
    expect_exit_zero(&mut server)
}

/// `--exit-after 2`: "serve K connections, then stop", as in lessons 04 and 05. The room goes
/// on after the 2nd connection; the server exits 0 once both clients have left — not before.
pub fn server_exit_after(target: &Target) -> Outcome {
    let mut server = Server::start_quiet(target, &["--exit-after", "2"])?;
    let [mut a, mut b] = room::<2>(&server)?;
    let name = a.name.clone();
    a.say(&server, "after the 2nd connection")?;
    hear(&server, &name, "after the 2nd connection", &mut [&mut b])?;
    let b_name = b.name.clone();
    drop(b);
    a.expect_besides_own(&server, &format!("* {b_name} left"))?;
    still_running(
        &mut server.process,
        "while one of its --exit-after 2 clients was still in the room",
    )
    .map_err(|f| with_evidence(&server, f))?;
    drop(a);
    expect_exit_zero(&mut server)
}
