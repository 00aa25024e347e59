//! Checks for lesson 05, a fixed pool of workers: `lessons/05_thread_pool.md#the-contract`.
//!
//! The wire contract is lesson 02's, so its echo and client checks are taken from lesson 02's
//! declaration (`from l02_echo`), each with 05's points. What is new is checked for each design (`--model accept` and `--model queue`) separately, so a scorecard
//! shows which one works:
//!
//! - **exactly N at once**: with `--workers 2`, clients 1 and 2 are both served (at least two at
//!   once), client 3 gets no echo while they stay (at most two), and is served once client 1
//!   leaves — decided by the order of events, with one bounded wait ([`WATCH`]) for the echo
//!   that must not come;
//! - 200 short clients, 8 at a time, each get their own echo;
//! - `--exit-after 3` serves exactly 3 connections, finishes them, and exits 0;
//! - SIGTERM while a client is connected: that client is still served, then the server exits 0.

use std::time::Duration;

use super::common::{
    self, Conn, FD_CLIENTS, WATCH, demo_exits_zero, exits_zero, idle_clients_are_closed,
    privileged_port, server_serves_two_clients_at_once, still_running,
    survives_running_out_of_descriptors, tcp_client_refused as client_connection_refused,
    tcp_server_port_in_use as server_port_in_use, with_evidence,
};
use super::{Failure, Outcome};
use crate::checker::harness::{IO_TIMEOUT, Server, Target, run, scaled};

tcp_lesson! {
    /// Lesson 05's checks.
    name: "05_thread_pool",
    tests: l05_thread_pool_tests,
    checks: [
        demo_exits_zero {
            title: "with no arguments, the demo runs and exits 0",
            points: 1,
            section: "run-it",
            hint: "the demo must end by itself: stop the pool after the demo's clients",
        },
        server_echoes_bytes from l02_echo { points: 2 },
        server_echoes_as_data_arrives from l02_echo { points: 1 },
        server_echoes_large_message from l02_echo { points: 2 },
        server_serves_clients_one_after_another from l02_echo {
            points: 1,
            section: "the-calls-in-order",
            hint: "a worker that finished a client goes back for the next one",
        },
        server_serves_two_clients_at_once {
            title: "with the default 4 workers, a second client is echoed while the first is connected",
            points: 2,
            section: "what-changes-from-lesson-02",
            hint: "start --workers N threads (default 4) before serving anyone",
        },
        accept_model_serves_exactly_n {
            title: "--model accept --workers 2: two clients are served at once, a third waits until one leaves",
            points: 4,
            section: "two-designs-for-a-pool",
            hint: "start exactly N workers, each looping accept() → serve → accept()",
        },
        queue_model_serves_exactly_n {
            title: "--model queue --workers 2: two clients are served at once, a third waits until one leaves",
            points: 4,
            section: "two-designs-for-a-pool",
            hint: "one thread accepts and queues; exactly N workers take connections from the queue",
        },
        accept_model_serves_200_short_clients {
            title: "--model accept: 200 short clients, 8 at a time, each get their own echo",
            points: 2,
            section: "when-every-worker-is-busy-the-backlog",
            hint: "a worker must go back to accept() after each client",
        },
        queue_model_serves_200_short_clients {
            title: "--model queue: 200 short clients, 8 at a time, each get their own echo",
            points: 2,
            section: "when-every-worker-is-busy-the-backlog",
            hint: "every queued connection must reach a worker",
        },
        accept_model_survives_running_out_of_descriptors {
            title: "--model accept --workers 30, 40 clients under `ulimit -n 64`: accept() failing with EMFILE is waited out, every client served",
            points: 2,
            section: "running-out-of-descriptors",
            hint: "a worker whose accept() fails with EMFILE/ENFILE/ENOBUFS/ENOMEM waits (10 ms doubling to 1 s) and accepts again; it does not stop the server",
        },
        queue_model_survives_running_out_of_descriptors {
            title: "--model queue --workers 100, 70 clients under `ulimit -n 64`: accept() failing with EMFILE is waited out, every client served",
            points: 2,
            section: "running-out-of-descriptors",
            hint: "the accepting thread treats EMFILE/ENFILE/ENOBUFS/ENOMEM as temporary: wait (10 ms doubling to 1 s) and accept again",
        },
        accept_model_closes_idle_clients {
            title: "--model accept --workers 2 --idle-timeout-ms 500: two silent clients are closed, and a third is served",
            points: 2,
            section: "idle-clients",
            hint: "set a read (and write) timeout on each accepted socket; when recv() times out, close it and free the worker",
        },
        queue_model_closes_idle_clients {
            title: "--model queue --workers 2 --idle-timeout-ms 500: two silent clients are closed, and a third is served",
            points: 2,
            section: "idle-clients",
            hint: "set a read (and write) timeout on each accepted socket; when recv() times out, close it and free the worker",
        },
        accept_model_exit_after {
            title: "--model accept --exit-after 3: serves exactly 3 connections, finishes them, exits 0",
            points: 3,
            section: "graceful-shutdown",
            hint: "count accepts across workers; at K, stop accepting, finish the clients, join every worker",
        },
        queue_model_exit_after {
            title: "--model queue --exit-after 3: serves exactly 3 connections, finishes them, exits 0",
            points: 3,
            section: "graceful-shutdown",
            hint: "after K accepts, close the queue and let the workers drain it before joining them",
        },
        accept_model_sigterm_lets_client_finish {
            title: "--model accept: after SIGTERM the connected client is still served, then the server exits 0",
            points: 3,
            section: "which-thread-gets-the-signal",
            hint: "on SIGTERM set a flag, wake the workers in accept() and finish the client (see #graceful-shutdown); missed now and then: the signal went to a worker thread, so wait for it in one thread (Python: set_wakeup_fd + select)",
        },
        queue_model_sigterm_lets_client_finish {
            title: "--model queue: after SIGTERM the connected client is still served, then the server exits 0",
            points: 3,
            section: "which-thread-gets-the-signal",
            hint: "on SIGTERM set a flag, wake the accepting thread and join the workers (see #graceful-shutdown); missed now and then: the signal went to a worker thread, so wait for it in one thread (Python: set_wakeup_fd + select)",
        },
        accept_model_sigterm_with_silent_clients {
            title: "--model accept --idle-timeout-ms 1000: SIGTERM with two silent clients connected, the server exits 0 within seconds",
            points: 2,
            section: "graceful-shutdown",
            hint: "graceful shutdown waits for the clients being served; the idle timeout is what bounds that wait",
        },
        queue_model_sigterm_with_silent_clients {
            title: "--model queue --idle-timeout-ms 1000: SIGTERM with two silent clients connected, the server exits 0 within seconds",
            points: 2,
            section: "graceful-shutdown",
            hint: "graceful shutdown waits for the clients being served; the idle timeout is what bounds that wait",
        },
        server_prints_only_listening_on from l02_echo { points: 1 },
        server_ipv6 from l02_echo { points: 1 },
        server_upper from l02_echo { points: 1 },
        client_prints_each_echo from l02_echo { points: 2 },
        client_reads_stdin_lines from l02_echo { points: 1 },
        client_large_message from l02_echo { points: 2 },
    ],
    usage_errors_exit_2: {
        title: "bad flags, out-of-range ports, --workers 0 and an unknown --model exit 2",
        points: 1,
        section: "the-contract",
        hint: "usage errors exit 2; --workers must be at least 1; --model is accept or queue",
    },
}

/// `--workers 2 --model MODEL`, plus `extra`.
fn pool_args<'a>(model: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--workers", "2", "--model", model];
    args.extend_from_slice(extra);
    args
}

/// With two workers: clients 1 and 2 are served while both are connected; client 3 sends and
/// gets nothing for [`WATCH`]; client 1 leaves, and client 3's echo must then arrive.
fn serves_exactly_n(target: &Target, model: &str) -> Outcome {
    let server = Server::start_quiet(target, &pool_args(model, &[]))?;
    let scenario = || -> Outcome {
        let mut one = Conn::open(server.addr, "client 1")?;
        one.echo(&one.message(1), "")?;
        let mut two = Conn::open(server.addr, "client 2")?;
        two.echo(
            &two.message(1),
            "while client 1 is connected: --workers 2 must serve two clients at once",
        )?;
        let mut three = Conn::open(server.addr, "client 3")?;
        let hello = three.message(1);
        three.send(&hello)?;
        three.expect_no_echo(
            WATCH,
            "echoed while clients 1 and 2 were still connected: --workers 2 must serve at most \
             two clients at once",
        )?;
        one.close()?;
        three.expect_echo(
            &hello,
            IO_TIMEOUT,
            "after client 1 left: the freed worker must take the waiting client",
        )?;
        two.echo(&two.message(2), "")?;
        three.echo(&three.message(2), "")?;
        two.close()?;
        three.close()
    };
    scenario().map_err(|f| with_evidence(&server, f))
}

/// `--model accept`: exactly two at once.
pub fn accept_model_serves_exactly_n(target: &Target) -> Outcome {
    serves_exactly_n(target, "accept")
}

/// `--model queue`: exactly two at once.
pub fn queue_model_serves_exactly_n(target: &Target) -> Outcome {
    serves_exactly_n(target, "queue")
}

/// How many short clients, and how many of them run at once (few enough to fit a small
/// backlog: the course's `listen(5)` plus four workers).
const SHORT_CLIENTS: usize = 200;
const AT_ONCE: usize = 8;

/// 200 clients, each connect → one message → close, 8 at a time from 8 threads.
fn serves_short_clients(target: &Target, model: &str) -> Outcome {
    let server = Server::start_quiet(target, &["--workers", "4", "--model", model])?;
    let outcome = std::thread::scope(|scope| {
        let runners: Vec<_> = (0..AT_ONCE)
            .map(|first| {
                let addr = server.addr;
                scope.spawn(move || -> Outcome {
                    for n in (first + 1..=SHORT_CLIENTS).step_by(AT_ONCE) {
                        let mut client = Conn::open(addr, format!("short client {n}"))?;
                        client.echo(&client.message(1), "(200 short clients, 8 at a time)")?;
                        client.close()?;
                    }
                    Ok(())
                })
            })
            .collect();
        runners.into_iter().try_for_each(|runner| {
            runner
                .join()
                .unwrap_or_else(|_| Err(Failure::new("a client thread of the check panicked")))
        })
    });
    outcome.map_err(|f| with_evidence(&server, f))
}

/// `--model accept`: 200 short clients.
pub fn accept_model_serves_200_short_clients(target: &Target) -> Outcome {
    serves_short_clients(target, "accept")
}

/// `--model queue`: 200 short clients.
pub fn queue_model_serves_200_short_clients(target: &Target) -> Outcome {
    serves_short_clients(target, "queue")
}

/// `--workers 2 --exit-after 3`: clients 1 and 2 are served; client 3 waits and is served when
/// client 1 leaves (so the server did not stop before its 3rd connection); the server keeps
/// running while clients 2 and 3 are connected; they are served to the end; then it exits 0
/// (so it did not wait for a 4th).
fn exit_after(target: &Target, model: &str) -> Outcome {
    let mut server = Server::start_quiet(target, &pool_args(model, &["--exit-after", "3"]))?;
    let addr = server.addr;
    let process = &mut server.process;
    let mut scenario = || -> Outcome {
        let mut one = Conn::open(addr, "client 1")?;
        one.echo(&one.message(1), "")?;
        let mut two = Conn::open(addr, "client 2")?;
        two.echo(&two.message(1), "while client 1 is connected")?;
        let mut three = Conn::open(addr, "client 3")?;
        let hello = three.message(1);
        three.send(&hello)?;
        one.close()?;
        three.expect_echo(
            &hello,
            IO_TIMEOUT,
            "after client 1 left: with --exit-after 3 the 3rd connection must still be served",
        )?;
        still_running(
            process,
            "after its 3rd connection, while clients 2 and 3 are connected",
        )?;
        two.echo(&two.message(2), "after the server's 3rd connection")?;
        three.echo(&three.message(2), "after the server's 3rd connection")?;
        two.close()?;
        three.close()?;
        exits_zero(
            process,
            "after its 3 connections (--exit-after 3) had closed",
        )
    };
    let outcome = scenario();
    outcome.map_err(|f| with_evidence(&server, f))
}

/// `--model accept --workers 30` under `ulimit -n 64`: each worker holds a descriptor for the
/// listening socket in some designs (a `dup()` per worker), so 30 workers leave room for about
/// 27 clients; 40 connect.
pub fn accept_model_survives_running_out_of_descriptors(target: &Target) -> Outcome {
    let args = ["--model", "accept", "--workers", "30"];
    survives_running_out_of_descriptors(target, &args, 40)
}

/// `--model queue --workers 100` under `ulimit -n 64`, 70 clients: more workers than
/// descriptors, so the accepting thread runs out first.
pub fn queue_model_survives_running_out_of_descriptors(target: &Target) -> Outcome {
    let args = ["--model", "queue", "--workers", "100"];
    survives_running_out_of_descriptors(target, &args, FD_CLIENTS)
}

/// `--model accept --workers 2`: two silent clients hold both workers until the idle timeout.
pub fn accept_model_closes_idle_clients(target: &Target) -> Outcome {
    idle_clients_are_closed(target, &pool_args("accept", &[]), 2)
}

/// `--model queue --workers 2`: the same.
pub fn queue_model_closes_idle_clients(target: &Target) -> Outcome {
    idle_clients_are_closed(target, &pool_args("queue", &[]), 2)
}

/// `--workers 2 --idle-timeout-ms 1000`: two clients are served once each, then fall silent;
/// SIGTERM; the server must exit 0 within the idle timeout plus [`IO_TIMEOUT`] — it may finish
/// the clients it serves, and the idle timeout is what bounds that — and both clients must see
/// their connection closed.
fn sigterm_with_silent_clients(target: &Target, model: &str) -> Outcome {
    let idle = ["--idle-timeout-ms", "1000"];
    let mut server = Server::start_quiet(target, &pool_args(model, &idle))?;
    let addr = server.addr;
    let process = &mut server.process;
    let mut scenario = || -> Outcome {
        let mut silent = Vec::new();
        for n in 1..=2 {
            let mut client = Conn::open(addr, format!("silent client {n}"))?;
            client.echo(&client.message(1), "(then it falls silent)")?;
            silent.push(client);
        }
        process.signal(libc::SIGTERM);
        let bound = scaled(Duration::from_secs(1) + IO_TIMEOUT);
        match process.wait_timeout(bound) {
            Some(status) if status.success() => {}
            Some(status) => {
                return Err(
                    Failure::new(format!("after SIGTERM the server exited ({status})"))
                        .expected("exit status 0"),
                );
            }
            None => {
                return Err(Failure::new(format!(
                    "after SIGTERM, with 2 silent clients connected, the server was still \
                     running {} s later",
                    bound.as_secs()
                ))
                .expected(
                    "the server closes the silent clients after --idle-timeout-ms 1000 and exits 0",
                ));
            }
        }
        for client in &mut silent {
            client.expect_closed(IO_TIMEOUT, "once the server has exited")?;
        }
        Ok(())
    };
    let outcome = scenario();
    outcome.map_err(|f| with_evidence(&server, f))
}

/// `--model accept`: SIGTERM with silent clients.
pub fn accept_model_sigterm_with_silent_clients(target: &Target) -> Outcome {
    sigterm_with_silent_clients(target, "accept")
}

/// `--model queue`: SIGTERM with silent clients.
pub fn queue_model_sigterm_with_silent_clients(target: &Target) -> Outcome {
    sigterm_with_silent_clients(target, "queue")
}

/// `--model accept --exit-after 3`.
pub fn accept_model_exit_after(target: &Target) -> Outcome {
    exit_after(target, "accept")
}

/// `--model queue --exit-after 3`.
pub fn queue_model_exit_after(target: &Target) -> Outcome {
    exit_after(target, "queue")
}

/// A client is served; then `signal` (SIGTERM, SIGINT); the server must not exit while the
/// client is connected, must still echo it, and must exit 0 once it closes.
pub fn signal_lets_client_finish(target: &Target, model: &str, signal: i32) -> Outcome {
    let name = match signal {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "the signal",
    };
    let mut server = Server::start_quiet(target, &pool_args(model, &[]))?;
    let addr = server.addr;
    let process = &mut server.process;
    let mut scenario = || -> Outcome {
        let mut client = Conn::open(addr, "client 1")?;
        client.echo(&client.message(1), "before SIGTERM")?;
        process.signal(signal);
        still_running(
            process,
            &format!("on {name}, with a client still connected"),
        )?;
        client.echo(
            &client.message(2),
            &format!("after {name}: the client being served must be served to the end"),
        )?;
        client.close()?;
        exits_zero(
            process,
            &format!("after {name}, once its last client had closed"),
        )
    };
    let outcome = scenario();
    outcome.map_err(|f| with_evidence(&server, f))
}

/// `--model accept`, SIGTERM mid-session.
pub fn accept_model_sigterm_lets_client_finish(target: &Target) -> Outcome {
    signal_lets_client_finish(target, "accept", libc::SIGTERM)
}

/// `--model queue`, SIGTERM mid-session.
pub fn queue_model_sigterm_lets_client_finish(target: &Target) -> Outcome {
    signal_lets_client_finish(target, "queue", libc::SIGTERM)
}

/// `client --host no-such-host.invalid hello`.
fn unknown_host(target: &Target) -> Outcome {
    common::unknown_host(target, "client", &["hello"])
}

/// The shared usage errors, plus the pool's own flags.
pub fn usage_errors_exit_2(target: &Target) -> Outcome {
    common::usage_errors_exit_2(target)?;
    for args in [
        &["server", "--port", "0", "--workers", "0"][..],
        &["server", "--port", "0", "--workers", "many"],
        &["server", "--port", "0", "--model", "forking"],
    ] {
        run(target, args, b"", Duration::from_secs(10))?.expect_code(2)?;
    }
    Ok(())
}
