//! Lesson 03, UDP: `cargo test --test 03_udp`.
//!
//! The checks (defined in `workbook::checker::checks::l03_udp`) run against the built binary, or against
//! `WORKBOOK_TARGET_03_UDP` when set. The fixture tests at the bottom prove the checks can fail.

mod common;

use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use workbook::checker::checks::l03_udp::LESSON;

const BUILT: &str = env!("CARGO_BIN_EXE_03_udp");

// One `#[test]` per check of the lesson, generated from its declaration.
workbook::l03_udp_tests!(BUILT);

// The reference binary's own promises beyond the contract: narration, the demo's closing
// commands, the help text. A student's version may narrate differently, so these always test
// our binary.

#[test]
fn demo_narrates_the_calls_in_order_and_ends_with_commands() {
    let assert = cargo_bin_cmd!("03_udp")
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(30)))
        .assert()
        .success();
    let output = assert.get_output();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let order = [
        "socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP)",
        "bind(127.0.0.1:0)",
        "no listen(), no accept()",
        "sendto(",
        "recvfrom(65536)",
        "sendto(",
        "dropped on purpose",
        "timed out",
        "close()",
    ];
    common::assert_in_order(&stderr, &order);
    for command in [
        "cargo run --bin 03_udp -- server",
        "nc -u -q 1 127.0.0.1 7003",
    ] {
        assert!(
            stderr.contains(command),
            "{command} missing from:\n{stderr}"
        );
    }
    // The demo's seed is fixed, so on an idle machine it always loses the same datagrams; on a
    // busy one a slow echo may count as lost too, so only the shape of the output is checked.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("Hello, UDP\none datagram, one message\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\n8 transmitted, "), "{stdout}");
}

#[test]
fn client_and_server_work_together_over_stdin() {
    let server = workbook::checker::harness::Server::start(
        &workbook::checker::harness::Target::new([BUILT]),
        &["server", "--port", "0", "-q"],
    )
    .expect("server starts");
    cargo_bin_cmd!("03_udp")
        .args(["client", "-q", "--port", &server.addr.port().to_string()])
        .write_stdin("one\n\nthree\r\n")
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(30)))
        .assert()
        .success()
        .stdout("one\n\nthree\n")
        .stderr(predicate::str::is_empty());
}

#[test]
fn quiet_client_with_no_server_says_only_the_error_and_its_hint() {
    // A bound socket that never answers: a port merely found free could be taken meanwhile by
    // another test's echo server (tests run in parallel), which would answer.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("a loopback UDP socket");
    let port = silent.local_addr().expect("its address").port().to_string();
    cargo_bin_cmd!("03_udp")
        .args(["client", "-q", "--port", &port, "--timeout-ms", "100"])
        .args(["--retries", "2", "hello"])
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(10)))
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::starts_with(format!(
            "error: no reply from 127.0.0.1:{port} after 3 tries\nhint: UDP promises nothing"
        )));
}

#[test]
fn help_documents_the_default_port_and_the_flags() {
    cargo_bin_cmd!("03_udp")
        .args(["server", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("[default: 7003]")
                .and(predicate::str::contains("--drop <RATE>"))
                .and(predicate::str::contains("--seed <N>")),
        );
    cargo_bin_cmd!("03_udp")
        .args(["client", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("[default: 1000]")
                .and(predicate::str::contains("[default: 3]")),
        );
}

// The checks can fail: each wrong program fails exactly the checks written for its mistake.
// `examples/python/03_udp.py` is a correct version in Python — it passes everything, which
// also shows the contract does not depend on Rust.

#[test]
fn python_version_passes_every_check() {
    common::expect_failures(&LESSON, &common::python("examples/python/03_udp.py"), &[]);
}

#[test]
fn fixture_with_recvfrom_1024_fails() {
    let wrong = common::python("tests/fixtures/03_recvfrom_1024.py");
    common::expect_failures(&LESSON, &wrong, &["server_echoes_large_datagram"]);
}

#[test]
fn fixture_echoing_line_by_line_fails() {
    let wrong = common::python("tests/fixtures/03_line_by_line.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "server_echoes_datagram",
            "server_keeps_datagram_boundaries",
            "server_exit_after",
        ],
    );
}

#[test]
fn fixture_client_that_never_retries_fails() {
    let wrong = common::python("tests/fixtures/03_never_retries.py");
    // The demo fails too: its lossy server drops the first try of the second message.
    common::expect_failures(
        &LESSON,
        &wrong,
        &["demo_exits_zero", "client_retries", "client_no_reply"],
    );
}

#[test]
fn fixture_client_taking_any_datagram_fails() {
    let wrong = common::python("tests/fixtures/03_any_datagram.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "client_ignores_strangers_and_stale_replies",
            "ping_ignores_late_replies",
        ],
    );
}

#[test]
fn fixture_not_checking_the_size_fails() {
    let wrong = common::python("tests/fixtures/03_unchecked_size.py");
    common::expect_failures(&LESSON, &wrong, &["client_message_too_large"]);
}

#[test]
fn fixture_ignoring_exit_after_fails() {
    let wrong = common::python("tests/fixtures/03_ignores_exit_after.py");
    common::expect_failures(&LESSON, &wrong, &["server_exit_after"]);
}
