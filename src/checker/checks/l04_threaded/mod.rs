//! Checks for lesson 04, a thread per connection: `lessons/04_threaded.md#the-contract`.
//!
//! The wire contract is lesson 02's, so its echo and client checks are taken from lesson 02's
//! declaration (`from l02_echo`), each with 04's points. What is new is *concurrency*, and it is
//! decided by the order of events the check observes, each bounded by a timeout — never by
//! sleeping to see whether something happened
//! ([`common::concurrency`](super::common::concurrency)):
//!
//! - client 1 is being served (its echo came back) and stays connected; client 2 sends. A
//!   concurrent server echoes client 2 while client 1 is still connected; an iterative one (lesson
//!   02) only after client 1 closes.
//! - idle clients (connected, sending nothing) delay nobody; 200 clients connected at once each
//!   get their own echo; `--exit-after K` waits for its clients before exiting.
//!
//! Proving that something does *not* happen (a waiting client gets no echo, a server does not
//! exit) takes a bounded wait in which nothing arrives: [`WATCH`](super::common::WATCH), kept short
//! and rare.

use super::common::{
    Conn, demo_exits_zero, exits_zero, privileged_port, server_serves_two_clients_at_once,
    still_running, tcp_client_refused as client_connection_refused,
    tcp_server_port_in_use as server_port_in_use, usage_errors_exit_2, with_evidence,
};
use super::{Outcome, common};
use crate::checker::harness::{IO_TIMEOUT, Server, Target};

tcp_lesson! {
    /// Lesson 04's checks.
    name: "04_threaded",
    tests: l04_threaded_tests,
    checks: [
        demo_exits_zero {
            title: "with no arguments, the demo runs and exits 0",
            points: 1,
            section: "run-it",
            hint: "the demo must end by itself: after its clients, wait for the server's threads",
        },
        server_echoes_bytes from l02_echo { points: 2 },
        server_echoes_as_data_arrives from l02_echo { points: 1 },
        server_echoes_large_message from l02_echo { points: 2 },
        server_serves_clients_one_after_another from l02_echo {
            points: 1,
            section: "the-calls-in-order",
            hint: "after handing a client to its thread, go straight back to accept()",
        },
        server_serves_two_clients_at_once {
            title: "a second client is echoed while the first is still connected",
            points: 4,
            section: "what-changes-from-lesson-02",
            hint: "serve each accepted connection on a new thread, and do not wait for that thread before the next accept()",
        },
        server_idle_clients_do_not_delay_others {
            title: "five connected clients that send nothing delay no other client",
            points: 3,
            section: "what-changes-from-lesson-02",
            hint: "a thread blocked in recv() on an idle client must not keep the accept loop from the next client",
        },
        server_serves_200_concurrent_clients {
            title: "200 clients connected at once are each echoed, and get only their own echo",
            points: 3,
            section: "what-a-thread-costs",
            hint: "one thread per connection, each with its own socket; never share one buffer between threads",
        },
        server_survives_running_out_of_descriptors {
            title: "70 clients under `ulimit -n 64`: accept() failing with EMFILE is waited out, and every client is served",
            points: 3,
            section: "running-out-of-descriptors",
            hint: "treat EMFILE/ENFILE/ENOBUFS/ENOMEM from accept() as temporary: wait (10 ms doubling to 1 s) and accept again",
        },
        server_survives_running_out_of_threads {
            title: "under `ulimit -v`, a client the server cannot start a thread for is closed at once; the others and newcomers are served",
            points: 2,
            section: "running-out-of-threads",
            hint: "spawn with thread::Builder and handle its error (Python: catch RuntimeError from Thread.start()): close that one connection, keep accepting",
        },
        server_closes_idle_clients {
            title: "--idle-timeout-ms 500: a client silent for 500 ms is closed, others are served",
            points: 2,
            section: "idle-clients",
            hint: "set a read (and write) timeout on each accepted socket; when recv() times out, close the connection",
        },
        server_exit_after_waits_for_its_clients {
            title: "--exit-after 2 stops accepting after 2 connections, finishes both, exits 0",
            points: 2,
            section: "the-contract",
            hint: "after K accepts, leave the accept loop, then join every client thread before exiting",
        },
        server_prints_only_listening_on from l02_echo { points: 1 },
        server_ipv6 from l02_echo { points: 1 },
        server_upper from l02_echo { points: 1 },
        client_prints_each_echo from l02_echo { points: 2 },
        client_reads_stdin_lines from l02_echo { points: 1 },
        client_large_message from l02_echo { points: 2 },
    ],
    usage_errors_exit_2: {
        title: "bad flags and out-of-range ports exit 2",
        points: 1,
        section: "the-contract",
        hint: "usage errors exit 2",
    },
}

/// Five clients connect and send nothing; three others, one after another, must each be
/// echoed at once; then the idle five are served too.
pub fn server_idle_clients_do_not_delay_others(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let scenario = || -> Outcome {
        let idle = (1..=5)
            .map(|n| Conn::open(server.addr, format!("idle client {n}")))
            .collect::<Result<Vec<_>, _>>()?;
        for n in 1..=3 {
            let mut busy = Conn::open(server.addr, format!("client {n}"))?;
            busy.echo(&busy.message(1), "while 5 idle clients are connected")?;
            busy.close()?;
        }
        for mut waiting in idle {
            waiting.echo(&waiting.message(1), "(it was idle until now)")?;
            waiting.close()?;
        }
        Ok(())
    };
    scenario().map_err(|f| with_evidence(&server, f))
}

/// How many clients [`server_serves_200_concurrent_clients`] holds connected at once.
const MANY: usize = 200;

/// 200 clients connect one by one, each echoed while all those before it stay connected; then
/// each sends a second message and must get exactly that back; then all close.
pub fn server_serves_200_concurrent_clients(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let scenario = || -> Outcome {
        let mut clients = Vec::with_capacity(MANY);
        for n in 1..=MANY {
            // Each client is served before the next connects. (Connecting all 200 in one burst
            // would also test the server's listen backlog: a burst larger than the backlog makes
            // the kernel drop handshakes, which clients retry only after a second.)
            let mut client = Conn::open(server.addr, format!("client {n}"))?;
            let when = format!("while {} other clients are connected", n - 1);
            client.echo(&client.message(1), &when)?;
            clients.push(client);
        }
        // Every message is small enough to sit in the socket buffers, so one thread can send
        // all of them first and then read every echo.
        for client in &mut clients {
            client.send(&client.message(2))?;
        }
        for client in &mut clients {
            let again = client.message(2);
            client.expect_echo(&again, IO_TIMEOUT, "while 200 clients are connected")?;
        }
        for client in clients {
            client.close()?;
        }
        Ok(())
    };
    scenario().map_err(|f| with_evidence(&server, f))
}

/// `--exit-after 2`: both clients are served at once, the server does not exit while they are
/// connected, and exits 0 once both have closed.
pub fn server_exit_after_waits_for_its_clients(target: &Target) -> Outcome {
    let mut server = Server::start_quiet(target, &["--exit-after", "2"])?;
    let addr = server.addr;
    let process = &mut server.process;
    let mut scenario = || -> Outcome {
        let mut one = Conn::open(addr, "client 1")?;
        one.echo(&one.message(1), "")?;
        let mut two = Conn::open(addr, "client 2")?;
        two.echo(&two.message(1), "while client 1 is still connected")?;
        still_running(
            process,
            "after its 2nd accept, while both clients are connected",
        )?;
        one.echo(&one.message(2), "after the server's 2nd accept")?;
        two.echo(&two.message(2), "after the server's 2nd accept")?;
        one.close()?;
        two.close()?;
        exits_zero(process, "after both of its --exit-after 2 clients closed")
    };
    let outcome = scenario();
    outcome.map_err(|f| with_evidence(&server, f))
}

/// `client --host no-such-host.invalid hello`.
pub fn unknown_host(target: &Target) -> Outcome {
    common::unknown_host(target, "client", &["hello"])
}

mod survival;
pub use survival::*;
