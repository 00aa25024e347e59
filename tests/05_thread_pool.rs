//! Lesson 05, a fixed pool of workers: `cargo test --test 05_thread_pool`.
//!
//! The checks (defined in `workbook::checker::checks::l05_thread_pool`) run against the built binary, or
//! against `WORKBOOK_TARGET_05_THREAD_POOL` when set. Below them: lesson 04's scenario showing
//! that a pool of one is iterative and a pool of two is not; our binary's narration and its
//! stop on Ctrl-C; and the wrong programs that prove the checks can fail.

mod common;

use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use workbook::checker::checks::Failure;
use workbook::checker::checks::l04_threaded::{
    Conn, SecondClient, WATCH, exits_zero, second_client,
};
use workbook::checker::checks::l05_thread_pool::{LESSON, signal_lets_client_finish};
use workbook::checker::harness::{IO_TIMEOUT, Server, Target};

const BUILT: &str = env!("CARGO_BIN_EXE_05_thread_pool");

// One `#[test]` per check of the lesson, generated from its declaration.
workbook::l05_thread_pool_tests!(BUILT);

/// Lesson 04's scenario (client 1 served and connected, client 2 sends) against pools of one
/// and of two workers, in both designs: one worker keeps client 2 waiting as lesson 02 does
/// (given `WATCH` to answer early, and it must not); two serve both at once.
#[test]
fn one_worker_keeps_the_second_client_waiting_two_do_not() -> Result<(), Failure> {
    let pool = Target::new([BUILT]);
    for model in ["accept", "queue"] {
        let one = ["--model", model, "--workers", "1"];
        assert_eq!(
            second_client(&pool, &one, WATCH)?,
            SecondClient::ServedAfterFirstClosed,
            "--model {model} --workers 1"
        );
        let two = ["--model", model, "--workers", "2"];
        assert_eq!(
            second_client(&pool, &two, IO_TIMEOUT)?,
            SecondClient::ServedAtOnce,
            "--model {model} --workers 2"
        );
    }
    Ok(())
}

// The reference binary's own promises beyond the contract: narration, and Ctrl-C.

/// Fail unless each of `steps` appears in `text`, in order.
fn in_order(text: &str, steps: &[&str]) {
    common::assert_in_order(text, steps);
}

#[test]
fn accept_demo_shows_the_third_client_waiting_and_each_worker_stopping() {
    let assert = cargo_bin_cmd!("05_thread_pool")
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(30)))
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    in_order(
        &stderr,
        &[
            "dup(listener) + spawn(worker-1)",
            "dup(listener) + spawn(worker-2)",
            "2 of 2 workers busy",
            "every worker is busy: new clients wait in the listen backlog",
            "client 3 │",
            "accept() → connection 3",
            "joined all 2 workers",
            "cargo run --bin 05_thread_pool -- server",
        ],
    );
    assert_eq!(stderr.matches("stops after serving").count(), 2, "{stderr}");
}

#[test]
fn queue_demo_shows_the_third_client_queued_and_picked_up() {
    let assert = cargo_bin_cmd!("05_thread_pool")
        .args(["demo", "--model", "queue"])
        .timeout(workbook::checker::harness::scaled(Duration::from_secs(30)))
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    in_order(
        &stderr,
        &[
            "spawn 2 workers",
            "accept() → connection 3",
            "connection 3 waits in the queue",
            "picked up connection 3",
            "joined all 2 workers",
        ],
    );
    for worker in ["join(worker-1) → stopped", "join(worker-2) → stopped"] {
        assert!(stderr.contains(worker), "{worker} missing in:\n{stderr}");
    }
}

/// `--exit-after 1` with three workers: one line per worker as it stops, in both designs.
#[test]
fn exit_after_says_one_line_per_worker() -> Result<(), Failure> {
    for (model, line) in [
        ("accept", "stops after serving"),
        ("queue", "→ stopped after serving"),
    ] {
        let args = [
            "server",
            "--port",
            "0",
            "--model",
            model,
            "--workers",
            "3",
            "--exit-after",
            "1",
        ];
        let mut server = Server::start(&Target::new([BUILT]), &args)?;
        let mut client = Conn::open(server.addr, "client 1")?;
        client.echo(&client.message(1), "")?;
        client.close()?;
        exits_zero(&mut server.process, "after its one connection")?;
        let stderr = String::from_utf8_lossy(&server.stderr()).to_string();
        assert_eq!(
            stderr.matches(line).count(),
            3,
            "--model {model}:\n{stderr}"
        );
    }
    Ok(())
}

/// Ctrl-C (SIGINT) stops the server as gracefully as SIGTERM.
#[test]
fn ctrl_c_lets_the_client_finish_too() -> Result<(), Failure> {
    let ours = Target::new([BUILT]);
    signal_lets_client_finish(&ours, "accept", libc::SIGINT)?;
    signal_lets_client_finish(&ours, "queue", libc::SIGINT)
}

// The checks can fail: each wrong program fails exactly the checks written for its mistake.

#[test]
fn python_version_passes_every_check() {
    common::expect_failures(
        &LESSON,
        &common::python("examples/python/05_thread_pool.py"),
        &[],
    );
}

#[test]
fn fixture_serving_more_than_n_at_once_fails() {
    let wrong = common::python("tests/fixtures/05_unbounded.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "accept_model_serves_exactly_n",
            "queue_model_serves_exactly_n",
            // Ten workers where the check asks for 30 or 100: the clients it does not serve
            // overflow Python's listen backlog of 16.
            "accept_model_survives_running_out_of_descriptors",
            "queue_model_survives_running_out_of_descriptors",
        ],
    );
}

#[test]
fn fixture_exiting_without_joining_its_workers_fails() {
    let wrong = common::python("tests/fixtures/05_no_join.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "accept_model_exit_after",
            "queue_model_exit_after",
            "accept_model_sigterm_lets_client_finish",
            "queue_model_sigterm_lets_client_finish",
        ],
    );
}

#[test]
fn fixture_dying_on_sigterm_fails() {
    let wrong = common::python("tests/fixtures/05_dies_on_sigterm.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "accept_model_sigterm_lets_client_finish",
            "queue_model_sigterm_lets_client_finish",
            "accept_model_sigterm_with_silent_clients",
            "queue_model_sigterm_with_silent_clients",
        ],
    );
}

#[test]
fn fixture_whose_workers_serve_one_client_each_fails() {
    let wrong = common::python("tests/fixtures/05_one_client_per_worker.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "accept_model_serves_exactly_n",
            "queue_model_serves_exactly_n",
            "accept_model_serves_200_short_clients",
            "queue_model_serves_200_short_clients",
            "accept_model_survives_running_out_of_descriptors",
            "accept_model_closes_idle_clients",
            "queue_model_closes_idle_clients",
            "accept_model_exit_after",
            "queue_model_exit_after",
        ],
    );
}

#[test]
fn fixture_accepting_zero_workers_fails() {
    let wrong = common::python("tests/fixtures/05_zero_workers.py");
    common::expect_failures(&LESSON, &wrong, &["usage_errors_exit_2"]);
}

#[test]
fn fixture_stopping_when_out_of_descriptors_fails() {
    let wrong = common::python("tests/fixtures/05_dies_out_of_descriptors.py");
    // Its accept model never runs out: Python's workers share one listening socket, no dup().
    common::expect_failures(
        &LESSON,
        &wrong,
        &["queue_model_survives_running_out_of_descriptors"],
    );
}

#[test]
fn fixture_never_closing_idle_clients_fails() {
    let wrong = common::python("tests/fixtures/05_never_times_out.py");
    common::expect_failures(
        &LESSON,
        &wrong,
        &[
            "accept_model_closes_idle_clients",
            "queue_model_closes_idle_clients",
            "accept_model_sigterm_with_silent_clients",
            "queue_model_sigterm_with_silent_clients",
        ],
    );
}
