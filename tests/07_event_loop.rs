//! Lesson 07, the event loop: `cargo test --test 07_event_loop`.
//!
//! Every check of lesson 06 — the same contract — and 07's own two (defined in
//! `workbook::checker::checks::l07_event_loop`), against the built binary or against
//! `WORKBOOK_TARGET_07_EVENT_LOOP` when set. Then our binary's own promises (the narrated loop),
//! and the wrong programs that prove the checks fail.

mod common;

use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
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
        .timeout(Duration::from_secs(30))
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
    assert!(stderr.contains("nc 127.0.0.1 7007"), "{stderr}");
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

#[test]
fn help_documents_the_defaults() {
    cargo_bin_cmd!("07_event_loop")
        .args(["server", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("[default: 7007]")
                .and(predicate::str::contains("--stall-timeout-ms"))
                .and(predicate::str::contains("[default: 5000]"))
                .and(predicate::str::contains("--max-clients"))
                .and(predicate::str::contains("[default: 100]")),
        );
}

#[test]
fn zero_clients_or_zero_timeout_are_usage_errors() {
    for flag in ["--max-clients", "--stall-timeout-ms", "--exit-after"] {
        cargo_bin_cmd!("07_event_loop")
            .args(["server", flag, "0"])
            .timeout(Duration::from_secs(10))
            .assert()
            .code(2);
    }
}

// The checks can fail: each wrong program fails exactly the checks written for its mistake.
// `examples/python/07_event_loop.py` is a correct version with `selectors`: it passes everything.
//
// Each of these runs the 27 checks of one program, one check with 1,000 clients: one program at
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
    common::expect_failures(&LESSON, &wrong, &["server_survives_stalled_reader"]);
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
            "server_rejects_long_lines",
            "server_survives_stalled_reader",
            "server_fifty_clients",
            "server_silent_client_delays_nobody",
        ],
    );
}
