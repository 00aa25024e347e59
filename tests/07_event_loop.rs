//! Lesson 07, the event loop: `cargo test --test 07_event_loop`.
//!
//! Every check of lesson 06 — the same contract — and 07's own two (defined in
//! `workbook::checker::checks::l07_event_loop`), against the built binary or against
//! `WORKBOOK_TARGET_07_EVENT_LOOP` when set. Then our binary's own promises (the narrated loop),
//! and the wrong programs that prove the checks fail.

mod common;

use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use workbook::checker::checks::l07_event_loop::LESSON;

const BUILT: &str = env!("CARGO_BIN_EXE_07_event_loop");

// One `#[test]` per check — lesson 06's, then 07's own — generated from its declaration.
workbook::l07_event_loop_tests!(BUILT);

#[test]
fn lesson_06s_checks_are_all_here_first() {
    let six = workbook::checker::checks::l06_group_chat::LESSON.checks;
    let ids: Vec<&str> = LESSON.checks.iter().map(|c| c.id).collect();
    let want: Vec<&str> = six.iter().map(|c| c.id).collect();
    assert_eq!(
        &ids[..six.len()],
        &want[..],
        "07 runs 06's checks, unchanged, first"
    );
}

// Our binary's own promises beyond the contract: the loop narrated, help, the one thread.

#[test]
fn demo_narrates_the_loop_and_ends_with_commands() {
    let assert = cargo_bin_cmd!("07_event_loop")
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(30)))
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    let order = [
        "listen(backlog=128)",
        "fcntl(listener, F_SETFL, O_NONBLOCK)",
        "epoll_create1()",
        "epoll_ctl(ADD, listener, readable)",
        "epoll_wait() → 1 ready",
        "accept() → connection 1",
        "epoll_ctl(ADD, 127.0.0.1:",
        "joined (1 online)",
        "accept() → WouldBlock",
        "is now ana",
        "sends half a line",
        "→ everyone",
        "readable + writable",
        "stayed full for 500 ms",
        "* zed left (too slow)",
        "* ben left",
        "close(listener)",
        "shutting down",
        "every client told; exiting",
    ];
    common::assert_in_order(&stderr, &order);
    assert!(stderr.contains("more broadcasts not shown"), "{stderr}");
    assert!(
        stderr.contains("cargo run --bin 07_event_loop -- server"),
        "{stderr}"
    );
    assert!(stderr.contains("nc -N 127.0.0.1 7007"), "{stderr}");
    for line in [
        "ana ← [ana] hello, room",
        "sil ← * ben left",
        "sil ← 5000 lines from ana, every one, in order",
        "ben ← * zed left (too slow)",
        "ana ← * server shutting down",
    ] {
        assert!(stdout.contains(line), "`{line}` missing from:\n{stdout}");
    }
}

/// The flags of `server --help` and their defaults, in order (`--port`, `[default: 7007]`, …).
fn flags_and_defaults(binary: &str) -> Vec<String> {
    let help = std::process::Command::new(binary)
        .args(["server", "--help"])
        .output()
        .expect("--help runs");
    let text = String::from_utf8_lossy(&help.stdout).into_owned();
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with("--") || w.starts_with("[default:") || w.ends_with(']'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_server_takes_lesson_06s_flags_and_defaults_but_port_7007() {
    let six = flags_and_defaults(env!("CARGO_BIN_EXE_06_group_chat"));
    let seven = flags_and_defaults(BUILT);
    assert!(
        seven.contains(&"--stall-timeout-ms".to_string()),
        "{seven:?}"
    );
    let six: Vec<String> = six.iter().map(|w| w.replace("7006", "7007")).collect();
    assert_eq!(seven, six, "07's server flags must be 06's");
    // Zero clients, a zero stall timeout, `--exit-after 0`: usage errors, as in 06.
    for flag in ["--max-clients", "--stall-timeout-ms", "--exit-after"] {
        let zero = std::process::Command::new(BUILT)
            .args(["server", flag, "0"])
            .output()
            .expect("runs");
        assert_eq!(zero.status.code(), Some(2), "{flag} 0");
        // The range in words, as in 06 (not clap's `0 is not in 1..18446744073709551615`).
        let said = String::from_utf8_lossy(&zero.stderr);
        assert!(
            said.contains("must be a whole number, at least 1"),
            "{flag} 0: {said}"
        );
    }
}

// The checks can fail: each wrong program fails exactly the checks written for its mistake.
// `examples/python/07_event_loop.py` is a correct version with `selectors`: it passes everything.
//
// Each of these runs every check of one program, one check with 1,000 clients: one program at
// a time, so that three such checks do not share 2 cores (a check's timeouts are about the
// program, not about a starved machine).
static ONE_PROGRAM_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_program_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_PROGRAM_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn python_version_passes_every_check() {
    let _turn = one_program_at_a_time();
    common::expect_failures(
        &LESSON,
        &common::python("examples/python/07_event_loop.py"),
        &[],
    );
}

#[test]
fn fixture_sending_with_a_blocking_send_inside_the_loop_fails() {
    let _turn = one_program_at_a_time();
    let wrong = common::python("tests/fixtures/07_blocking_send_in_loop.py");
    // A blocking send stalls the whole loop, so the stall timeout cannot act in time either.
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "server_survives_stalled_reader",
            "server_honours_stall_timeout",
        ],
    );
}

#[test]
fn fixture_taking_one_recv_for_a_line_fails() {
    let _turn = one_program_at_a_time();
    let wrong = common::python("tests/fixtures/07_one_recv_is_a_line.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "server_keeps_lines_whole",
            "server_delivers_to_a_leaving_client",
            "server_rejects_long_lines",
            "server_survives_stalled_reader",
            "server_honours_stall_timeout",
            "server_fifty_clients",
            "server_silent_client_delays_nobody",
        ],
    );
}

#[test]
fn fixture_always_asking_for_writability_fails() {
    let _turn = one_program_at_a_time();
    let wrong = common::python("tests/fixtures/07_always_asks_for_writability.py");
    // Spinning also shows while it is out of descriptors (that check samples how busy it is).
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "server_survives_running_out_of_descriptors",
            "server_idle_uses_no_cpu",
        ],
    );
}

#[test]
fn fixture_with_a_hard_coded_stall_timeout_fails() {
    let _turn = one_program_at_a_time();
    let wrong = common::python("tests/fixtures/07_hard_coded_stall.py");
    common::expect_failures(&LESSON, &wrong, &["server_honours_stall_timeout"]);
}

// A server that sends a line that never ends: the client caps its buffer before it reads
// (as 06's does), so its memory stays small however much arrives.
#[test]
fn client_memory_stays_small_on_a_line_that_never_ends() {
    const TOTAL: usize = 256 << 20;
    const MOST: u64 = 10 << 20;
    let rss = common::client_rss_on_a_line_that_never_ends(BUILT, TOTAL);
    assert!(
        rss < MOST,
        "07's client reached {} MB on a {} MiB line without `\\n` (at most {} MB)",
        rss >> 20,
        TOTAL >> 20,
        MOST >> 20
    );
}
