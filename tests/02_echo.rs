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
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(30)))
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
    // Our binary only: a test that talks to WORKBOOK_TARGET_… but is not a check would give
    // `cargo test` a verdict `grade` never sees.
    let server = workbook::checker::harness::Server::start(
        &workbook::checker::harness::Target::new([BUILT]),
        &["server", "--port", "0", "--upper"],
    )
    .expect("server starts");
    cargo_bin_cmd!("02_echo")
        .args(["client", "-q", "--port", &server.addr.port().to_string()])
        .write_stdin("one\ntwo\n")
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(30)))
        .assert()
        .success()
        .stdout("ONE\nTWO\n")
        .stderr(predicate::str::is_empty());
}

#[test]
fn a_client_refused_gets_the_command_that_starts_the_server() {
    // A port that refuses, reserved while the test runs (no other test's server can take it).
    let refusing = workbook::checker::harness::refusing_port().expect("a loopback port");
    let port = refusing.port().to_string();
    cargo_bin_cmd!("02_echo")
        .args(["client", "--port", &port, "hi"])
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(10)))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("hint: nothing is listening there"))
        .stderr(predicate::str::contains(
            "cargo run --bin 02_echo -- server",
        ));
}

#[test]
fn numeric_flags_say_their_range_in_words_and_exit_2() {
    for (args, words) in [
        (
            &["server", "--port", "-1"][..],
            "a port must be a whole number from 0 to 65535",
        ),
        (
            &["server", "--port", "70000"],
            "a port must be a whole number from 0 to 65535",
        ),
        (
            &["server", "--exit-after", "-3"],
            "must be a whole number, at least 0",
        ),
    ] {
        cargo_bin_cmd!("02_echo")
            .args(args)
            .timeout(workbook::checker::harness::scaled(Duration::from_secs(10)))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(words));
    }
}

#[test]
fn a_client_that_waits_too_long_says_the_server_may_be_busy() {
    // A server that accepts (the backlog does) but never answers: the client times out after
    // its 30 s, and says so in words. Only the built binary: the contract leaves this text free.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    cargo_bin_cmd!("02_echo")
        .args(["client", "--port", &port, "-q", "hello"])
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(60)))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: timed out after 30 s waiting for the echo",
        ))
        .stderr(predicate::str::contains("busy with another client"));
    drop(listener);
}

#[test]
fn a_server_closing_with_unread_data_is_named_a_reset() {
    // The course's first server: one recv(1024), its echo, close. The check sends 1030 bytes,
    // so at least 6 are unread when it closes: the kernel sends a reset, and the evidence says
    // why, with `expected:` — not a bare "Connection reset by peer".
    let dir = std::env::temp_dir().join(format!("workbook-02-reset-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let program = dir.join("one_recv.py");
    std::fs::write(
        &program,
        "import socket\n\
         s = socket.socket()\n\
         s.bind(('127.0.0.1', 0))\n\
         s.listen()\n\
         print(f'listening on 127.0.0.1:{s.getsockname()[1]}', flush=True)\n\
         while True:\n\
         \x20   c, _ = s.accept()\n\
         \x20   c.sendall(c.recv(1024))\n\
         \x20   c.close()\n",
    )
    .expect("write the program");
    let target = workbook::checker::harness::Target::new([
        "python3".to_string(),
        program.display().to_string(),
    ]);
    let check = LESSON.check("server_echoes_bytes").expect("the check");
    let failure = workbook::checker::checks::run(check, &target).expect_err("must fail");
    let _ = std::fs::remove_dir_all(&dir);
    let text = failure.to_string();
    assert!(
        text.contains("the connection was reset: your server closed the connection with")
            && text.contains("bytes not echoed; closing a socket with unread data sends a reset"),
        "{text}"
    );
    assert!(
        text.contains("expected: the same 1030 bytes back"),
        "{text}"
    );
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
            "server_exit_after",
        ],
    );
}

#[test]
fn fixture_waiting_for_the_end_before_echoing_fails() {
    let wrong = common::python("tests/fixtures/02_waits_for_eof.py");
    // The idle check's silent client waits for one echo before falling silent: it never comes.
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "server_echoes_as_data_arrives",
            "server_closes_idle_clients",
            "server_exit_after",
        ],
    );
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

#[test]
fn fixture_never_timing_out_fails() {
    let wrong = common::python("tests/fixtures/02_never_times_out.py");
    common::expect_failures(&LESSON, &wrong, &["server_closes_idle_clients"]);
}

/// Nagle's algorithm and the client's delayed ACK: without TCP_NODELAY on the server's side, the
/// last small segment of each 64 KiB echo waits for an ACK the client delays by at least 40 ms,
/// so *every* round trip takes 40 ms or more. With it, a round trip takes well under a
/// millisecond on loopback. The fastest of ten round trips decides, so that a busy machine
/// (which slows some round trips) cannot fail the test, while the stall (which slows every
/// one) cannot pass it. Our binary only: the contract leaves socket options to the student.
#[test]
fn a_64_kib_echo_is_not_held_back_by_nagle() -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{Read, Write};
    use std::time::Instant;
    use workbook::checker::harness::{IO_TIMEOUT, Server, Target};

    let server = Server::start_quiet(&Target::new([BUILT]), &[])?;
    let mut stream = std::net::TcpStream::connect(server.addr)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    const WARM_UP: usize = 5;
    let message = vec![b'n'; 64 << 10];
    let mut echo = vec![0u8; message.len()];
    let mut fastest = Duration::MAX;
    for round in 0..WARM_UP + 10 {
        let started = Instant::now();
        stream.write_all(&message)?;
        stream.read_exact(&mut echo)?;
        assert!(echo == message, "the echo differs from what was sent");
        // A new connection starts in "quick ACK" mode (Linux ACKs at once for the first few
        // segments), so the first round trips are fast either way: only the later ones tell.
        if round >= WARM_UP {
            fastest = fastest.min(started.elapsed());
        }
    }

    assert!(
        fastest < Duration::from_millis(30),
        "the fastest of 10 round trips of 64 KiB (after {WARM_UP}) took {fastest:?}: each one waits for a \
         delayed ACK (Nagle's algorithm) — set TCP_NODELAY on the accepted socket"
    );
    Ok(())
}

#[test]
fn fixture_ignoring_exit_after_fails() {
    let wrong = common::python("tests/fixtures/02_ignores_exit_after.py");
    common::expect_failures(&LESSON, &wrong, &["server_exit_after"]);
}
