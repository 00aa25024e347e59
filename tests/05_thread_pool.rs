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
use workbook::checker::checks::common::{Conn, SecondClient, WATCH, exits_zero, second_client};
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

/// The worker thread of `pid` blocked in `recvfrom()`, waiting for its client's next bytes (the
/// signal thread waits in `recvfrom()` too, on its own pipe: hence the name), read from
/// `/proc/PID/task/*/{comm,syscall}`; polled, bounded (the kernel has no event for "a thread is
/// now blocked").
fn worker_in_recv(pid: u32) -> Option<i32> {
    let deadline = std::time::Instant::now() + workbook::checker::harness::scaled(IO_TIMEOUT);
    while std::time::Instant::now() < deadline {
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
        {
            let read = |file: &str| std::fs::read_to_string(task.path().join(file));
            let name = read("comm").unwrap_or_default();
            let syscall = read("syscall").unwrap_or_default();
            let number = syscall.split_whitespace().next().unwrap_or_default();
            // Asleep in it (`State: S`), not merely on its way in.
            let asleep = read("status").unwrap_or_default().contains("State:\tS");
            if name.starts_with("worker") && number == libc::SYS_recvfrom.to_string() && asleep {
                return task.file_name().to_str()?.parse().ok();
            }
        }
        // Not a wait for readiness: /proc has no event for "a thread now sleeps"; bounded above.
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Ctrl-C delivered to the very worker that is serving a client, in its `recv()`: with
/// `--idle-timeout-ms` that `recv()` has a timeout, so the kernel does not restart it after the
/// signal handler and it fails with EINTR. The worker must retry, not drop the client that a
/// graceful stop promises to finish. (Which thread a process-wide signal lands on is the
/// kernel's choice; `tgkill` makes it this one, every time.)
#[test]
fn a_signal_landing_on_the_serving_worker_does_not_drop_its_client() -> Result<(), Failure> {
    for model in ["accept", "queue"] {
        let mut server = Server::start(
            &Target::new([BUILT]),
            &[
                "server",
                "--port",
                "0",
                "-q",
                "--model",
                model,
                "--workers",
                "2",
            ],
        )?;
        let mut client = Conn::open(server.addr, "client 1")?;
        client.echo(&client.message(1), "before the signal")?;
        let pid = server.process.pid();
        let worker = worker_in_recv(pid).expect("a worker blocked in recvfrom()");
        // SAFETY: tgkill takes plain integers; it signals one thread of our own child.
        let sent =
            unsafe { libc::syscall(libc::SYS_tgkill, pid as libc::pid_t, worker, libc::SIGINT) };
        assert_eq!(sent, 0, "tgkill");
        // Only once the worker has taken the signal does the client send again: bytes already
        // waiting would let that recv() return them instead of failing (a bounded poll).
        let pending = format!("/proc/{pid}/task/{worker}/status");
        let deadline = std::time::Instant::now() + workbook::checker::harness::scaled(IO_TIMEOUT);
        while std::fs::read_to_string(&pending)
            .is_ok_and(|status| !status.contains("SigPnd:\t0000000000000000"))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the signal stayed pending"
            );
            // A bounded poll of the signal mask: no event says "the handler ran".
            std::thread::sleep(Duration::from_millis(1));
        }
        client.echo(
            &client.message(2),
            &format!("--model {model}: after SIGINT landed on the thread serving this client"),
        )?;
        client.close()?;
        exits_zero(
            &mut server.process,
            "after SIGINT, once its client had closed",
        )?;
    }
    Ok(())
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
