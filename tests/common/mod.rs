//! The test harness every `tests/NN_*.rs` shares.
//!
//! Each lesson test file gets one `#[test]` per check from the macro its lesson's declaration
//! exports (`workbook::l02_echo_tests!(BUILT)`, so `cargo test --test 02_echo server_echoes_bytes`
//! runs one); the checks themselves live in `workbook::checker::checks`, defined once. This file
//! proves the checks can fail by running them against the wrong programs in `tests/fixtures/`.
//! Only those generated tests read `WORKBOOK_TARGET_<LESSON>`: any other test of a lesson runs
//! the built binary, so that `cargo test` with an override judges exactly what `grade` does
//! (`tests/parity.rs`).
#![allow(dead_code)] // each test crate uses its own subset

use std::path::PathBuf;

use workbook::checker::checks::{self, Failure, Lesson};
use workbook::checker::harness::{Target, preflight};

/// A program in `tests/fixtures/` or `examples/`, run with `python3`.
pub fn python(relative: &str) -> Target {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    assert!(path.exists(), "{} is missing", path.display());
    Target::new(["python3".to_string(), path.display().to_string()])
}

/// How many checks of one wrong program run at the same time.
const CHECKS_AT_ONCE: usize = 6;

/// Run every check of `lesson` against `target` and assert that exactly the checks in
/// `failing` fail. This is how a wrong program proves the checks can fail — and, since all
/// the other checks must pass, that each failure is the specific one it was written for.
pub fn expect_failures(lesson: &Lesson, target: &Target, failing: &[&str]) {
    for id in failing {
        assert!(
            lesson.check(id).is_some(),
            "{} has no check `{id}`",
            lesson.name
        );
    }
    // Through the harness's preflight first, as `grade` and the generated tests do with a
    // program of their own: a wrong program must still start.
    if let Err(problem) = preflight::starts(target) {
        panic!("{} against {}: {problem}", lesson.name, target.display(&[]));
    }
    // A few checks at a time, not all at once: a lesson has up to 40 checks, each starting a
    // Python program or two, and `cargo test` runs two such tests side by side. Forty
    // interpreters starting together on two cores can take longer than a check's startup
    // timeout, and then a correct check fails for the machine's sake.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, &str, Result<(), Failure>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CHECKS_AT_ONCE)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some(check) = lesson.checks.get(i) else {
                            break done;
                        };
                        done.push((i, check.id, checks::run(check, target)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("checks never panic"))
            .collect()
    });
    results.sort_by_key(|(i, ..)| *i);
    let results: Vec<(&str, Result<(), Failure>)> =
        results.into_iter().map(|(_, id, r)| (id, r)).collect();
    let mut report = String::new();
    for (id, result) in &results {
        let should_fail = failing.contains(id);
        match (result, should_fail) {
            (Ok(()), true) => report += &format!("\n`{id}` passed, but this program must fail it"),
            (Err(failure), false) => {
                report += &format!("\n`{id}` failed, but only {failing:?} should:\n{failure}")
            }
            _ => {}
        }
    }
    assert!(
        report.is_empty(),
        "{} against {}:{report}",
        lesson.name,
        target.display(&[])
    );
}

/// Fail unless every one of `items` appears in `text`, in this order (narration: the calls of a
/// lesson, numbered as they happen).
pub fn assert_in_order(text: &str, items: &[&str]) {
    let mut from = 0;
    for item in items {
        match text[from..].find(item) {
            Some(at) => from += at + item.len(),
            None => panic!("`{item}` missing or out of order in:\n{text}"),
        }
    }
}

/// A child process killed (and reaped) when dropped, so a failing test leaves none behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The resident memory of a process, from `/proc/PID/status` (`VmRSS`), in bytes.
pub fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Run `program client --port P -q` (stdin open, silent) against a server that sends `total`
/// bytes of `A` without a newline; return the largest resident size seen while it was sent.
pub fn client_rss_on_a_line_that_never_ends(program: &str, total: usize) -> u64 {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let child = std::process::Command::new(program)
        .args(["client", "--port", &port, "-q"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the client starts");
    let child = KillOnDrop(child);
    let pid = child.0.id();
    let (mut stream, _) = listener.accept().expect("the client connects");
    stream
        .set_write_timeout(Some(workbook::checker::harness::scaled(
            std::time::Duration::from_secs(10),
        )))
        .expect("write timeout");
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut most = 0;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let chunk = vec![b'A'; 1 << 20];
            for _ in 0..total / chunk.len() {
                if stream.write_all(&chunk).is_err() {
                    break; // the client closed, or stopped reading for 10 s: either way, done
                }
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            most = most.max(resident_bytes(pid).unwrap_or(0));
            // Not a wait: a sampling period. Memory has no event to wait on, so the peak is
            // read from /proc every 20 ms until the reader above is done (bounded by it).
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    most = most.max(resident_bytes(pid).unwrap_or(0));
    drop(child);
    most
}
