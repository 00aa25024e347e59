//! Misbehaving programs: bounded, a clear reason, nothing left running; Ctrl-C; timeouts that
//! scale.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use workbook::checker::checks::l02_echo as echo;

use crate::support::*;

/// Grade `grade_misbehaves.py MODE` on one server check; return stdout after checking that the
/// verdict is `pass` and nothing with the test's marker is still running.
fn misbehaving(mode: &str, pass: bool) -> String {
    let marker = marker(mode);
    let program = fixture("grade_misbehaves.py");
    let (code, stdout, stderr) = run(&[
        "02_echo",
        "--check",
        "server_echoes_bytes",
        "--",
        "python3",
        &program,
        mode,
        &marker,
    ]);
    assert_eq!(code, if pass { 0 } else { 1 }, "{stdout}\n{stderr}");
    let mark = if pass { "✓" } else { "✗" };
    assert_eq!(
        marks(&stdout),
        [(mark.to_string(), "server_echoes_bytes".to_string())],
        "{stdout}"
    );
    let left = leftovers(&marker);
    assert!(
        left.is_empty(),
        "{mode}: still running after grade exited: {left:#?}"
    );
    stdout
}

#[test]
fn a_program_that_sleeps_forever_costs_a_timeout_and_its_forks_die() {
    let stdout = misbehaving("sleeps", false);
    let waited = workbook::checker::harness::scaled(Duration::from_secs(10));
    let reason = format!(
        "timed out after {} s: no `listening on ADDR` line",
        waited.as_secs_f64()
    );
    assert!(stdout.contains(&reason), "{stdout}");
}

#[test]
fn a_program_that_never_binds_is_refused() {
    let stdout = misbehaving("never_binds", false);
    assert!(
        stdout.contains("could not connect to 127.0.0.1:1"),
        "{stdout}"
    );
}

#[test]
fn a_program_that_exits_at_once_is_reported() {
    let stdout = misbehaving("exits", false);
    assert!(
        stdout.contains("the server exited (exit status: 0) without printing `listening on ADDR`"),
        "{stdout}"
    );
}

#[test]
fn a_program_that_crashes_whatever_its_arguments_did_not_start() {
    // It dies of the same traceback on every command line: it never got to read its arguments.
    let program = fixture("grade_misbehaves.py");
    let (code, stdout, stderr) = run(&["02_echo", "--", "python3", &program, "crashes", "m"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("exits at once whatever its arguments (exit status: 1): RuntimeError: the student's program crashed"),
        "{stdout}"
    );
}

// Nothing handed in: a missing file, a command not found, a syntax error, a run.toml that names
// a missing file. Each scores 0 with one line, at once, without running a check.

/// Grade `args` and check the scorecard says `did not start` (and `why`) within 2 s (times
/// `WORKBOOK_TIMEOUT_SCALE`), with every check not run and 0 points.
fn did_not_start(args: &[&str], why: &str) {
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = run(args);
    let took = started.elapsed();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let problem: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("did not start"))
        .collect();
    assert_eq!(problem.len(), 1, "one clear line:\n{stdout}");
    assert!(problem[0].contains(why), "{why} missing:\n{stdout}");
    let possible: u32 = echo::LESSON.checks.iter().map(|c| c.points).sum();
    let n = echo::LESSON.checks.len();
    assert!(
        stdout.contains(&format!(
            "total: 0/{possible} points, 0 of {n} checks passed"
        )),
        "{stdout}"
    );
    let bound = workbook::checker::harness::scaled(Duration::from_secs(2));
    assert!(
        took < bound,
        "took {took:?}, more than {bound:?}:\n{stdout}"
    );
}

#[test]
fn nothing_handed_in_scores_zero_at_once() {
    did_not_start(
        &["02_echo", "--", "python3", "no_such_echo.py"],
        "can't open file",
    );
    did_not_start(
        &["02_echo", "--", "no-such-interpreter", "echo.py"],
        "`no-such-interpreter` was not found: no such file, nor a command on PATH",
    );
    let dir = temp_dir("syntax-error");
    std::fs::write(dir.join("echo.py"), "def main(:\n    pass\n").unwrap();
    let program = dir.join("echo.py").display().to_string();
    did_not_start(&["02_echo", "--", "python3", &program], "SyntaxError");
    std::fs::write(dir.join("run.toml"), "02_echo = \"python3 missing.py\"\n").unwrap();
    let folder = dir.display().to_string();
    did_not_start(&["02_echo", "--student", &folder], "missing.py");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_program_that_prints_garbage_shows_what_it_printed() {
    let stdout = misbehaving("garbage", false);
    assert!(
        stdout.contains("the first line on stdout is not `listening on ADDR`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("received: b\"Server is up and running!\\n\""),
        "{stdout}"
    );
}

#[test]
fn a_program_that_floods_its_output_is_cut_short() {
    let stdout = misbehaving("floods", false);
    assert!(
        stdout.contains("the first line on stdout is not `listening on ADDR`"),
        "{stdout}"
    );
    assert!(stdout.contains("…\" (4096 bytes)"), "{stdout}");
    assert!(
        stdout.lines().all(|l| l.chars().count() < 600),
        "evidence is truncated"
    );
}

#[test]
fn a_program_that_forks_and_daemonizes_passes_and_leaves_nothing() {
    misbehaving("forks", true);
}

#[test]
fn ctrl_c_stops_grade_and_every_program_it_started() {
    let dir = temp_dir("ctrl-c");
    let fifo = dir.join("started");
    mkfifo(&fifo);
    let fifo_text = fifo.display().to_string();
    let program = fixture("grade_misbehaves.py");
    let child = Command::new(env!("CARGO_BIN_EXE_grade"))
        .args(["02_echo", "--check", "server_echoes_bytes", "--", "python3"])
        .args([&program, "sleeps", &fifo_text])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("grade starts");
    // Wait for the event "the program and its children are running" (bounded: the open blocks
    // until the fixture opens the FIFO for writing).
    let (started, got) = mpsc::channel();
    let reader = fifo.clone();
    std::thread::spawn(move || {
        let mut text = String::new();
        let read = std::fs::File::open(reader).and_then(|mut f| f.read_to_string(&mut text));
        let _ = started.send(read.map(|_| text));
    });
    let line = got.recv_timeout(Duration::from_secs(30));
    assert!(
        matches!(&line, Ok(Ok(text)) if text == "started\n"),
        "{line:?}"
    );
    assert!(
        !leftovers(&fifo_text).is_empty(),
        "the program should be running now"
    );

    // SAFETY: kill(2) on our own child, which we have not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("grade exits soon after Ctrl-C")
        .expect("grade's output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("stopped by signal 2"), "{stderr}");
    let left = leftovers(&fifo_text);
    assert!(left.is_empty(), "still running after Ctrl-C: {left:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn timeouts_scale_with_workbook_timeout_scale() {
    // A server that echoes only at the end of the stream: the check's 5 s read timeout, twice.
    let output = grade()
        .env("WORKBOOK_TIMEOUT_SCALE", "2")
        .args(["02_echo", "--check", "server_echoes_as_data_arrives", "--"])
        .args(["python3", &fixture("02_waits_for_eof.py")])
        .output()
        .expect("grade runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("timed out after 10 s: nothing arrived"),
        "{stdout}"
    );
}
