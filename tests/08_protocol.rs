//! Lesson 08, the protocol: `cargo test --test 08_protocol`.
//!
//! The checks (defined in `workbook::checker::checks::l08_protocol`) run against the built
//! binary, or against `WORKBOOK_TARGET_08_PROTOCOL` when set. The fixture tests at the bottom
//! prove the checks can fail.

mod common;

use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use workbook::checker::checks::l08_protocol::LESSON;

const BUILT: &str = env!("CARGO_BIN_EXE_08_protocol");

// One `#[test]` per check of the lesson, generated from its declaration.
workbook::l08_protocol_tests!(BUILT);

// The reference binary's own promises beyond the contract.

#[test]
fn demo_narrates_both_transports_and_shows_the_bytes() {
    let assert = cargo_bin_cmd!("08_protocol")
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(30)))
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    common::assert_in_order(
        &stderr,
        &[
            "bind(127.0.0.1:0) + listen(backlog=128)",
            "connect(",
            "the request frame, byte by byte:",
            "header length: 0x",
            "read_message()",
            "sendall(frame)",
            "shutdown(SHUT_WR)",
            "socket(AF_UNIX) + bind(",
            "socket(AF_UNIX) + connect(",
            "on its way out",
        ],
    );
    assert!(
        stderr.contains("cargo run --bin 08_protocol -- server"),
        "{stderr}"
    );
}

#[test]
fn client_and_server_work_together_over_stdin() {
    // Our binary only: a test that talks to WORKBOOK_TARGET_… but is not a check would give
    // `cargo test` a verdict `grade` never sees.
    let server = workbook::checker::harness::Server::start(
        &workbook::checker::harness::Target::new([BUILT]),
        &["server", "--port", "0", "-q"],
    )
    .expect("server starts");
    let output = cargo_bin_cmd!("08_protocol")
        .args(["client", "-q", "--port", &server.addr.port().to_string()])
        .write_stdin("search frame\necho hello\n")
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(30)))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(output).expect("UTF-8");
    assert!(
        text.contains("\"result\": \"one message on a byte stream: length, header, content\""),
        "{text}"
    );
    assert!(
        text.ends_with("binary: 5 bytes, crc32 3610a686\n"),
        "{text}"
    );
}

/// The captured exchange on the lesson page is what the built server really sends: regenerate it
/// with `WORKBOOK_BLESS=1 cargo test --test 08_protocol the_page_shows_the_real_bytes`.
#[test]
fn the_page_shows_the_real_bytes() {
    use std::io::{Read, Write};
    use workbook::lessons::l08_protocol::framing::{Message, annotate, encode, read_message};

    /// Keeps every byte read through it: the response exactly as it came off the socket.
    struct Tee<'a>(&'a mut std::net::TcpStream, Vec<u8>);
    impl Read for Tee<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1.extend_from_slice(&buf[..n]);
            Ok(n)
        }
    }

    // The built binary, whatever WORKBOOK_TARGET_08_PROTOCOL says: the page shows ours.
    let ours = workbook::checker::harness::Target::new([BUILT]);
    let server = workbook::checker::harness::Server::start_quiet(&ours, &[]).expect("server");
    let mut stream = workbook::checker::harness::connect(server.addr).expect("connect");
    let request = Message::json(&serde_json::json!({"action": "search", "value": "socket"}));
    let sent = encode(&request).unwrap();
    stream.write_all(&sent).unwrap();
    let mut tee = Tee(&mut stream, Vec::new());
    read_message(&mut tee).unwrap().expect("a response");
    let exchange = format!(
        "request:\n{}\nresponse:\n{}",
        annotate(&sent),
        annotate(&tee.1)
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/08_protocol.md");
    let page = std::fs::read_to_string(&path).expect("the lesson page");
    let (begin, end) = (
        "<!-- exchange: begin -->\n```text\n",
        "```\n<!-- exchange: end -->",
    );
    let start = page.find(begin).expect("the page marks its exchange") + begin.len();
    let stop = page[start..].find(end).expect("the exchange ends") + start;
    if std::env::var_os("WORKBOOK_BLESS").is_some() {
        let updated = format!("{}{exchange}{}", &page[..start], &page[stop..]);
        std::fs::write(&path, updated).expect("write the page");
        return;
    }
    assert_eq!(
        page[start..stop],
        exchange,
        "the page's exchange is stale: WORKBOOK_BLESS=1 cargo test --test 08_protocol the_page_shows_the_real_bytes"
    );
}

// The checks can fail: each wrong program fails exactly the checks written for its mistake.

#[test]
fn python_version_passes_every_check() {
    common::expect_failures(
        &LESSON,
        &common::python("examples/python/08_protocol.py"),
        &[],
    );
}

#[test]
fn fixture_taking_one_recv_for_a_frame_fails() {
    let wrong = common::python("tests/fixtures/08_one_recv_is_a_frame.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "server_echoes_binary",
            "server_answers_in_order",
            "server_reads_split_frames",
            "server_answers_truncated_frame",
            "client_prints_json_response",
            "client_prints_binary_summary",
            "client_reads_stdin_lines",
            "client_error_response_exits_1",
            "unix_client",
        ],
    );
}

#[test]
fn fixture_writing_the_length_little_endian_fails() {
    // Every check that reads one of its frames fails; only those that read none pass.
    let reads_no_frame = [
        "unix_socket_file_is_private",
        "unix_live_socket_not_stolen",
        "unix_other_file_not_replaced",
        "server_port_in_use",
        "client_connection_refused",
        "unknown_host",
        "privileged_port",
        "usage_errors_exit_2",
    ];
    let failing: Vec<&str> = LESSON
        .checks
        .iter()
        .map(|c| c.id)
        .filter(|id| !reads_no_frame.contains(id))
        .collect();
    let wrong = common::python("tests/fixtures/08_little_endian_length.py");
    common::expect_failures(&LESSON, &wrong, &failing);
}

#[test]
fn fixture_trusting_content_length_fails() {
    let wrong = common::python("tests/fixtures/08_trusts_content_length.py");
    common::expect_failures(&LESSON, &wrong, &["server_refuses_content_over_limit"]);
}

#[test]
fn fixture_careless_with_its_socket_file_fails() {
    let wrong = common::python("tests/fixtures/08_careless_unix_socket.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "unix_socket_file_is_private",
            "unix_socket_removed_on_exit",
            "unix_live_socket_not_stolen",
            "unix_other_file_not_replaced",
        ],
    );
}

#[test]
fn fixture_refusing_on_the_accept_loop_fails() {
    let wrong = common::python("tests/fixtures/08_refuses_on_the_accept_loop.py");
    common::expect_failures(&LESSON, &wrong, &["server_flood_of_silent_connections"]);
}

#[test]
fn fixture_with_only_a_per_read_timeout_fails() {
    let wrong = common::python("tests/fixtures/08_per_read_timeout_only.py");
    common::expect_failures(&LESSON, &wrong, &["server_slowloris_trickle"]);
}
