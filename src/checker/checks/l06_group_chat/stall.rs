//! `--stall-timeout-ms` is honoured: a short value drops a client that does not read soon, a
//! long one keeps a client that pauses for longer than a hard-coded guess would allow.
//!
//! Together the two bound any program that ignores the flag: a fixed timeout above
//! [`SHORT_DROP_WITHIN`] fails the first, a fixed timeout below [`LONG_PAUSE`] fails the second.

use super::*;
use crate::checker::harness::scaled;

/// The short stall timeout, and the longest the room may then stand still (the sender hearing
/// nothing) before the client that never reads is dropped.
const SHORT_STALL_MS: u64 = 100;
const SHORT_PAUSE_AT_MOST: Duration = Duration::from_millis(1000);
/// How long the pausing client stops reading under the long stall timeout: longer than the
/// guesses a program might hard-code (1 or 2 s), shorter than the default (5 s) — a program
/// with the default and no flag fails the short half instead.
const LONG_PAUSE: Duration = Duration::from_secs(3);
/// The long stall timeout: the pause and a margin for a slow machine.
fn long_stall() -> Duration {
    LONG_PAUSE + scaled(Duration::from_secs(5))
}
/// Lines in each burst (~10 MB): more than the kernel's buffers (a send buffer grows to 4 MiB)
/// and a bounded queue hold for a client that does not read, so the room must wait for it.
const LINES: usize = super::load::BURST;

fn burst_line(n: usize) -> String {
    super::load::burst_line(n)
}

/// The sender's burst, written on its own thread (the sender reads at the same time).
fn burst() -> Vec<u8> {
    (1..=LINES)
        .flat_map(|n| format!("{}\n", burst_line(n)).into_bytes())
        .collect()
}

/// `--stall-timeout-ms 100`, then a long value: see the module's comment.
pub fn server_honours_stall_timeout(target: &Target) -> Outcome {
    short_stall(target).map_err(|f| f.context("--stall-timeout-ms 100"))?;
    let long = long_stall().as_millis();
    long_pause(target).map_err(|f| f.context(format!("--stall-timeout-ms {long}")))
}

/// Read `peer`'s lines until `done` says so, or the deadline; returns when it ended.
fn read_until(
    server: &Server,
    peer: &mut Peer,
    deadline: Instant,
    mut done: impl FnMut(&[u8]) -> Result<bool, Failure>,
) -> Result<Instant, Failure> {
    loop {
        if Instant::now() >= deadline {
            return Err(peer.failure(server, "the burst was not over in time"));
        }
        let Some(line) = peer.next_line(server)? else {
            return Err(peer.failure(server, "the server closed the connection"));
        };
        if done(&line)? {
            return Ok(Instant::now());
        }
    }
}

/// With a stall timeout of 100 ms, Z (never reads) must be gone soon after a burst starts.
fn short_stall(target: &Target) -> Outcome {
    let stall = SHORT_STALL_MS.to_string();
    let server = Server::start_quiet(target, &["--stall-timeout-ms", &stall])?;
    let [mut s] = room::<1>(&server)?;
    let mut z = Peer::connect(&server, "client Z (never reads)", Some(4096))?;
    z.expect(&server, &format!("* welcome {}, 2 online", z.name))?;
    s.expect(&server, &format!("* {} joined", z.name))?;
    s.read_timeout(Duration::from_secs(10))?;
    let notice = format!("* {} left (too slow)", z.name);
    let mut writer = s.stream.try_clone().map_err(Failure::io("cloning"))?;
    let stopper = s.stream.try_clone().map_err(Failure::io("cloning"))?;
    let data = burst();
    let deadline = Instant::now() + scaled(Duration::from_secs(40));
    let server = &server;
    let mut last_line = Instant::now();
    let noticed = std::thread::scope(|scope| {
        scope.spawn(move || writer.write_all(&data));
        let noticed = read_until(server, &mut s, deadline, |line| {
            if line == notice.as_bytes() {
                return Ok(true);
            }
            last_line = Instant::now();
            Ok(false)
        });
        // Stop the writer whatever happened (it may be blocked on a room that waits).
        let _ = stopper.shutdown(Shutdown::Both);
        noticed
    })?;
    let stood_still = noticed - last_line;
    let at_most = scaled(SHORT_PAUSE_AT_MOST);
    ensure(stood_still <= at_most, || {
        server
            .failure(format!(
                "the room stood still for {} ms before `{notice}`",
                stood_still.as_millis()
            ))
            .expected(format!(
                "with --stall-timeout-ms {SHORT_STALL_MS}, the room waits about {SHORT_STALL_MS} ms for a full queue (at most {} ms here), then drops that client: is the flag ignored, or the timeout hard-coded?",
                at_most.as_millis()
            ))
    })?;
    drop(z);
    Ok(())
}

/// With a long stall timeout, P stops reading for 3 s during a burst, then reads: it is not
/// dropped, and it and the sender get every line.
fn long_pause(target: &Target) -> Outcome {
    let stall = long_stall().as_millis().to_string();
    let server = Server::start_quiet(target, &["--stall-timeout-ms", &stall])?;
    let [mut s, mut p] = room::<2>(&server)?;
    let patience = long_stall() + scaled(Duration::from_secs(5));
    s.read_timeout(patience)?;
    p.read_timeout(patience)?;
    let mut writer = s.stream.try_clone().map_err(Failure::io("cloning"))?;
    let stopper = s.stream.try_clone().map_err(Failure::io("cloning"))?;
    let data = burst();
    let deadline = Instant::now() + LONG_PAUSE + scaled(Duration::from_secs(30));
    let (s_name, p_name) = (s.name.clone(), p.name.clone());
    let server = &server;
    let every_line = |name: &str| {
        let prefix = format!("[{s_name}] ");
        let name = name.to_string();
        let mut got = 0;
        move |line: &[u8]| -> Result<bool, Failure> {
            if line.ends_with(b" left (too slow)") {
                return Err(Failure::new(format!(
                    "{name}: after {got} of {LINES} lines, a client was dropped as too slow though it paused for only {} s, less than the stall timeout",
                    LONG_PAUSE.as_secs()
                ))
                .received(line.to_vec()));
            }
            let want = format!("{prefix}{}", burst_line(got + 1));
            if line != want.as_bytes() {
                return Err(Failure::new(format!(
                    "{name}: line {} of the burst is wrong (lost, reordered or split?)",
                    got + 1
                ))
                .expected(want)
                .received(line.to_vec()));
            }
            got += 1;
            Ok(got == LINES)
        }
    };
    let results = std::thread::scope(|scope| {
        scope.spawn(move || writer.write_all(&data));
        let sender = scope.spawn(|| read_until(server, &mut s, deadline, every_line("client A")));
        let paused = scope.spawn(|| {
            std::thread::sleep(LONG_PAUSE); // the pause is the test: P does not read
            read_until(server, &mut p, deadline, every_line(&p_name))
        });
        let results = [sender.join(), paused.join()];
        let _ = stopper.shutdown(Shutdown::Both);
        results
    });
    for result in results {
        result
            .unwrap_or_else(|_| Err(Failure::new("a reading thread panicked")))
            .map_err(|f| crate::checker::checks::common::with_evidence(server, f))?;
    }
    Ok(())
}
