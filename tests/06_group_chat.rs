//! Lesson 06, the group chat: `cargo test --test 06_group_chat`.
//!
//! The checks (defined in `workbook::checker::checks::l06_group_chat`) run against the built binary, or
//! against `WORKBOOK_TARGET_06_GROUP_CHAT` when set. Then: plain `nc` as a chat client, our
//! binary's own promises beyond the contract, and the wrong programs that prove the checks fail.

mod common;

use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use workbook::checker::checks::l06_group_chat::{LESSON, room};
use workbook::checker::harness::{Server, Target, run};

const BUILT: &str = env!("CARGO_BIN_EXE_06_group_chat");

// One `#[test]` per check of the lesson, generated from its declaration.
workbook::l06_group_chat_tests!(BUILT);

// Plain netcat is a chat client: the contract is lines of text, nothing more.

/// Whether `nc` is Debian's netcat-openbsd (the one with `-N`). Missing is a failure on CI,
/// where `.ci/run` installs it, and a skip elsewhere.
fn openbsd_nc() -> bool {
    let help = std::process::Command::new("nc").arg("-h").output();
    let found = help.is_ok_and(|out| {
        let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
        text.contains("OpenBSD netcat") || text.contains("-N")
    });
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but netcat-openbsd is not installed (apt-get install -y netcat-openbsd)"
        );
        eprintln!("skipped: netcat-openbsd (`nc` with -N) is not installed");
    }
    found
}

#[test]
fn nc_is_a_chat_client() -> Result<(), workbook::checker::checks::Failure> {
    if !openbsd_nc() {
        return Ok(());
    }
    // Our binary only: not a check, so it must not judge WORKBOOK_TARGET_… (`grade` never runs
    // it). What it relies on is in the contract: lines queued for a client that half-closes.
    let server = Server::start_quiet(&Target::new([BUILT]), &[])?;
    let [mut ana] = room::<1>(&server)?;
    ana.say(&server, "/nick ana")?;
    ana.expect_prefix(&server, "* ")?;
    // -N: at the end of its input, nc shuts down its sending side, and the server sees the
    // client leave; nc then prints what is left and exits when the server closes.
    let nc = Target::new(["nc", "-N", "127.0.0.1"]);
    let port = server.addr.port().to_string();
    let finished = run(
        &nc,
        &[&port],
        b"/nick netcat\nhello from nc\n",
        Duration::from_secs(15),
    )?;
    let joined = ana.expect_prefix(&server, "* ")?;
    let nc_name = joined
        .strip_prefix("* ")
        .and_then(|l| l.strip_suffix(" joined"))
        .unwrap_or_default()
        .to_string();
    ana.expect(&server, &format!("* {nc_name} is now netcat"))?;
    ana.expect(&server, "[netcat] hello from nc")?;
    ana.expect(&server, "* netcat left")?;
    finished.expect_code(0)?;
    let want = format!(
        "* welcome {nc_name}, 2 online\n* {nc_name} is now netcat\n[netcat] hello from nc\n"
    );
    assert_eq!(finished.stdout_text(), want, "what nc printed");
    Ok(())
}

// Our binary's own promises beyond the contract: narration, help, the client's goodbye.

#[test]
fn demo_narrates_the_room_and_ends_with_commands() {
    let assert = cargo_bin_cmd!("06_group_chat")
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(30)))
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    let order = [
        "listen(backlog=128)",
        "accept()",
        "setsockopt(SO_SNDBUF",
        "joined (1 online)",
        "is now ana",
        "→ everyone",
        "stayed full for 500 ms",
        "* zed left (too slow)",
        "* cy left",
        "shutting down",
    ];
    common::assert_in_order(&stderr, &order);
    assert!(stderr.contains("more broadcasts not shown"), "{stderr}");
    assert!(
        stderr.contains("cargo run --bin 06_group_chat -- server"),
        "{stderr}"
    );
    assert!(stderr.contains("nc -N 127.0.0.1 7006"), "{stderr}");
    for line in [
        "ben ← ! the name ana is already in use",
        "cy ← * online: ana, ben, cy",
        "ben ← 5000 lines from ana, every one, in order",
        "ana ← * server shutting down",
    ] {
        assert!(stdout.contains(line), "`{line}` missing from:\n{stdout}");
    }
}

#[test]
fn help_documents_the_defaults() {
    cargo_bin_cmd!("06_group_chat")
        .args(["server", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("[default: 7006]")
                .and(predicate::str::contains("--stall-timeout-ms"))
                .and(predicate::str::contains("[default: 5000]"))
                .and(predicate::str::contains("--max-clients"))
                .and(predicate::str::contains("[default: 100]")),
        );
}

#[test]
fn zero_clients_or_zero_timeout_are_usage_errors() {
    // The range in words (the kit's `whole_number`), not clap's `0 is not in 1..18446744073709551615`.
    for flag in ["--max-clients", "--stall-timeout-ms", "--exit-after"] {
        for bad in ["0", "-1", "many"] {
            cargo_bin_cmd!("06_group_chat")
                .args(["server", flag, bad])
                .timeout(workbook::checker::harness::scaled(Duration::from_secs(10)))
                .assert()
                .code(2)
                .stderr(
                    predicate::str::contains("must be a whole number, at least 1")
                        .and(predicate::str::contains("18446744073709551615").not()),
                );
        }
    }
}

#[test]
fn our_client_and_server_chat_and_the_client_says_when_the_server_leaves() {
    let server =
        Server::start(&Target::new([BUILT]), &["server", "--port", "0", "-q"]).expect("starts");
    let port = server.addr.port().to_string();
    let [mut ben] = room::<1>(&server).expect("ben joins");
    let chat = cargo_bin_cmd!("06_group_chat")
        .args(["client", "-q", "--port", &port, "--name", "ana"])
        .write_stdin("hi ben\n")
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(30)))
        .assert()
        .success();
    let out = String::from_utf8_lossy(&chat.get_output().stdout).to_string();
    assert!(out.contains("[ana] hi ben\n"), "{out}");
    let joined = ben.expect_prefix(&server, "* ").expect("ana joined");
    assert!(joined.ends_with(" joined"), "{joined}");
    ben.expect_prefix(&server, "* ").expect("ana's new name");
    ben.expect(&server, "[ana] hi ben").expect("ana's line");
    ben.expect(&server, "* ana left").expect("ana left");

    // Now the server stops while a client waits for input: it says so and exits 0.
    let mut waiting = std::process::Command::new(BUILT)
        .args(["client", "-q", "--port", &port])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("client starts");
    ben.expect_prefix(&server, "* ")
        .expect("the waiting client joined");
    server.process.signal(libc::SIGTERM);
    let deadline =
        std::time::Instant::now() + workbook::checker::harness::scaled(Duration::from_secs(15));
    let status = loop {
        if let Some(status) = waiting.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the client did not exit"
        );
        // A bounded poll for the exit status (std has no wait with a timeout).
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = waiting.wait_with_output().expect("output");
    assert!(status.success(), "{status}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.ends_with("* server shutting down\n"), "{stdout}");
    assert!(
        stderr.contains("the server closed the connection"),
        "{stderr}"
    );
}

// The checks can fail: each wrong program fails exactly the checks written for its mistake.
// `examples/python/06_group_chat.py` is a correct version in Python: it passes everything.

#[test]
fn python_version_passes_every_check() {
    common::expect_failures(
        &LESSON,
        &common::python("examples/python/06_group_chat.py"),
        &[],
    );
}

#[test]
fn fixture_not_echoing_to_the_sender_fails() {
    let wrong = common::python("tests/fixtures/06_no_echo_to_sender.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "server_broadcasts_to_everyone",
            "server_delivers_to_a_leaving_client",
            "server_survives_stalled_reader",
            "server_honours_stall_timeout",
            "server_fifty_clients",
        ],
    );
}

#[test]
fn fixture_blocking_on_a_stalled_reader_fails() {
    let wrong = common::python("tests/fixtures/06_blocks_on_stalled_reader.py");
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
fn fixture_dropping_a_client_as_soon_as_its_queue_is_full_fails() {
    let wrong = common::python("tests/fixtures/06_drops_when_full.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        // A client that only pauses fills the queue too, and is dropped at once.
        &[
            "server_survives_stalled_reader",
            "server_honours_stall_timeout",
        ],
    );
}

#[test]
fn fixture_taking_one_recv_for_a_message_fails() {
    let wrong = common::python("tests/fixtures/06_one_recv_is_a_message.py");
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
        ],
    );
}

#[test]
fn fixture_quitting_without_bye_fails() {
    let wrong = common::python("tests/fixtures/06_quits_without_bye.py");
    common::expect_failures(&LESSON, &wrong, &["server_quit_says_bye"]);
}

#[test]
fn fixture_client_quitting_without_waiting_fails() {
    let wrong = common::python("tests/fixtures/06_client_quits_without_waiting.py");
    common::expect_failures(&LESSON, &wrong, &["client_chats_through_stdin"]);
}

#[test]
fn fixture_client_ignoring_the_server_closing_fails() {
    let wrong = common::python("tests/fixtures/06_client_ignores_server_close.py");
    common::expect_failures(&LESSON, &wrong, &["client_exits_when_server_closes"]);
}

#[test]
fn fixture_relaying_control_characters_fails() {
    let wrong = common::python("tests/fixtures/06_relays_control_characters.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "server_relays_no_control_characters",
            "client_prints_no_control_characters",
        ],
    );
}

#[test]
fn fixture_accepting_any_printable_name_fails() {
    let wrong = common::python("tests/fixtures/06_any_printable_name.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "server_refuses_look_alike_names",
            "server_names_cannot_squat",
        ],
    );
}

#[test]
fn fixture_dying_when_out_of_descriptors_fails() {
    let wrong = common::python("tests/fixtures/06_dies_out_of_descriptors.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &["server_survives_running_out_of_descriptors"],
    );
}

#[test]
fn fixture_dying_when_no_thread_can_start_fails() {
    let wrong = common::python("tests/fixtures/06_dies_when_no_thread.py");
    common::expect_failures(&LESSON, &wrong, &["server_survives_running_out_of_threads"]);
}

#[test]
fn fixture_with_a_hard_coded_stall_timeout_fails() {
    let wrong = common::python("tests/fixtures/06_hard_coded_stall.py");
    common::expect_failures(&LESSON, &wrong, &["server_honours_stall_timeout"]);
}

#[test]
fn fixture_with_a_look_alike_rule_that_leaves_lowercase_i_fails() {
    let wrong = common::python("tests/fixtures/06_lowercase_i_look_alike.py");
    common::expect_failures(&LESSON, &wrong, &["server_refuses_look_alike_names"]);
}
