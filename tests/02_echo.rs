//! Lesson 02, the echo server and client: `cargo test --test 02_echo`.
//!
//! The checks (defined in `workbook::checker::checks::l02_echo`) run against the built binary, or against
//! `WORKBOOK_TARGET_02_ECHO` when set. The fixture tests at the bottom prove the checks can fail.

mod common;

use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use workbook::checker::checks::l02_echo::LESSON;

const BUILT: &str = env!("CARGO_BIN_EXE_02_echo");

// One `#[test]` per check of the lesson, generated from its declaration.
workbook::l02_echo_tests!(BUILT);

// The reference binary's own promises beyond the contract.

#[test]
fn demo_narrates_the_calls_and_ends_with_commands() {
    let assert = cargo_bin_cmd!("02_echo")
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    let order = [
        "bind(127.0.0.1:0) + listen(backlog=128)",
        "connect(",
        "accept()",
        "recv(1024)",
        "sendall(",
        "shutdown(SHUT_WR)",
        "close()",
    ];
    common::assert_in_order(&stderr, &order);
    assert!(
        stderr.contains("cargo run --bin 02_echo -- server"),
        "{stderr}"
    );
}

#[test]
fn client_and_server_work_together_over_stdin() {
    let server = workbook::checker::harness::Server::start(
        &common::target(&LESSON, BUILT),
        &["server", "--port", "0", "--upper"],
    )
    .expect("server starts");
    cargo_bin_cmd!("02_echo")
        .args(["client", "-q", "--port", &server.addr.port().to_string()])
        .write_stdin("one\ntwo\n")
        .timeout(Duration::from_secs(30))
        .assert()
        .success()
        .stdout("ONE\nTWO\n")
        .stderr(predicate::str::is_empty());
}

#[test]
fn a_client_refused_gets_the_command_that_starts_the_server() {
    let port = workbook::checker::harness::unused_port()
        .expect("a free port")
        .to_string();
    cargo_bin_cmd!("02_echo")
        .args(["client", "--port", &port, "hi"])
        .timeout(Duration::from_secs(10))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("hint: nothing is listening there"))
        .stderr(predicate::str::contains(
            "cargo run --bin 02_echo -- server",
        ));
}

// The checks can fail: each wrong program fails exactly the checks written for its mistake.

#[test]
fn python_version_passes_every_check() {
    common::expect_failures(&LESSON, &common::python("examples/python/02_echo.py"), &[]);
}

#[test]
fn fixture_echoing_only_the_first_1024_bytes_fails() {
    let wrong = common::python("tests/fixtures/02_first_1024.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "server_echoes_bytes",
            "server_echoes_as_data_arrives",
            "server_echoes_large_message",
        ],
    );
}

#[test]
fn fixture_waiting_for_the_end_before_echoing_fails() {
    let wrong = common::python("tests/fixtures/02_waits_for_eof.py");
    common::expect_failures(&LESSON, &wrong, &["server_echoes_as_data_arrives"]);
}

#[test]
fn fixture_client_with_one_recv_fails() {
    let wrong = common::python("tests/fixtures/02_one_recv_client.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "client_prints_each_echo",
            "client_reads_stdin_lines",
            "client_large_message",
        ],
    );
}

#[test]
fn fixture_upper_casing_text_not_bytes_fails() {
    let wrong = common::python("tests/fixtures/02_upper_unicode.py");
    common::expect_failures(&LESSON, &wrong, &["server_upper"]);
}
