//! Scorecards: the reference binaries pass, the wrong programs fail exactly their checks, a
//! student folder, a Python program of one's own.

use workbook::checker::checks::{l01_time_server as time_server, l02_echo as echo};

use std::time::Duration;

use crate::support::*;

#[test]
fn reference_binaries_pass_every_check() {
    for (lesson, built) in [
        (&time_server::LESSON, env!("CARGO_BIN_EXE_01_time_server")),
        (&echo::LESSON, env!("CARGO_BIN_EXE_02_echo")),
    ] {
        let (code, stdout, stderr) = run(&[lesson.name, "--", built]);
        let got = marks(&stdout);
        let want: Vec<(String, String)> = lesson
            .checks
            .iter()
            .map(|c| ("✓".to_string(), c.id.to_string()))
            .collect();
        assert_eq!(got, want, "{}:\n{stdout}\n{stderr}", lesson.name);
        let possible: u32 = lesson.checks.iter().map(|c| c.points).sum();
        let n = lesson.checks.len();
        assert!(
            stdout.contains(&format!(
                "total: {possible}/{possible} points, {n} of {n} checks passed"
            )),
            "{stdout}"
        );
        assert_eq!(code, 0, "{stdout}");
        assert!(
            !stdout.contains('\x1b'),
            "no colour when stdout is not a terminal"
        );
    }
}

#[test]
fn wrong_programs_fail_exactly_their_checks_with_evidence_and_hints() {
    // Most of the time goes on waiting for answers that never come: more jobs than cores.
    let (code, stdout, _) = run(&[
        "--lesson",
        "all",
        "--student",
        "examples/students/ben",
        "--jobs",
        "6",
    ]);
    assert_eq!(code, 1, "{stdout}");
    let failing = failing_by_lesson(&stdout);
    assert_eq!(
        failing["01_time_server"],
        [
            "server_serves_clients_one_after_another",
            "server_prints_only_listening_on"
        ],
        "{stdout}"
    );
    assert_eq!(
        failing["02_echo"],
        [
            "server_echoes_bytes",
            "server_echoes_as_data_arrives",
            "server_echoes_large_message",
            "server_exit_after"
        ],
        "{stdout}"
    );
    for part in [
        "02_echo — ben",
        "  program: python3 tests/fixtures/02_first_1024.py",
        "      echo: 1024 bytes back for 1030 expected; first difference at byte 1024",
        "      command:  python3 tests/fixtures/02_first_1024.py server --port 0 -q",
        "      sent:     b\"\\x00\\x01",
        "      received: b\"",
        "(1024 bytes)",
        "      hint: lessons/02_echo.md#",
        "  total: 22/31 points, 14 of 18 checks passed",
    ] {
        assert!(stdout.contains(part), "`{part}` missing from:\n{stdout}");
    }
    // Lessons still gaining checks: each wrong program must at least fail something.
    for (lesson, failing) in &failing {
        assert!(
            !failing.is_empty(),
            "ben's {lesson} passes every check:\n{stdout}"
        );
    }
}

#[test]
fn a_correct_student_folder_passes_every_lesson_it_has() {
    // One job at a time: the Python pool server (05) has been seen, rarely and only with other
    // checks running beside it, to miss a SIGTERM; see the closing note of the session.
    // Five lessons, 109 checks one after another: about 50 s on a quiet machine, so the hang
    // guard is longer than grade()'s (a bound, not a timing: a loaded machine only takes longer).
    let output = grade()
        .args(["all", "--student", "examples/students/ana", "--jobs", "1"])
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(400)))
        .output()
        .expect("grade runs");
    let code = output.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for lesson in [
        "01_time_server — ana",
        "02_echo — ana",
        "05_thread_pool — ana",
    ] {
        assert!(stdout.contains(lesson), "{lesson} missing:\n{stdout}");
    }
    // On failure, show the whole scorecard: the evidence sits under the ✗ line.
    assert!(
        code == 0 && !stdout.contains('✗'),
        "exit {code}\n{stdout}\n{stderr}"
    );
}

#[test]
fn a_python_program_of_its_own_gets_a_mixed_scorecard() {
    // Eve's echo.py sits in her folder: `python3 echo.py` is relative to it.
    let (code, stdout, _) = run(&["02", "--student", "examples/students/eve"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("program: python3 examples/students/eve/echo.py"),
        "{stdout}"
    );
    let failing = &failing_by_lesson(&stdout)["02_echo"];
    for id in [
        "demo_exits_zero",
        "client_prints_each_echo",
        "server_port_in_use",
    ] {
        assert!(failing.contains(&id.to_string()), "{id}: {stdout}");
    }
    for id in ["server_echoes_bytes", "server_upper", "server_ipv6"] {
        assert!(!failing.contains(&id.to_string()), "{id}: {stdout}");
    }
    assert!(
        stdout.contains("| Traceback (most recent call last):"),
        "{stdout}"
    );
}
