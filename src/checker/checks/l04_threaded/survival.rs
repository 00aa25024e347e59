//! Lesson 04's part in the survival scenarios of
//! [`common::survival`](crate::checker::checks::common::survival): its descriptor and idle
//! checks, and how an echo client tells served from refused when the server cannot start a
//! thread.

use std::io::{ErrorKind, Read, Write};

use crate::checker::checks::common::{
    Conn, FD_CLIENTS, ThreadPerClient, after_exit, idle_clients_are_closed, newcomer, running,
    survives_running_out_of_descriptors, survives_running_out_of_threads, with_evidence,
};
use crate::checker::evidence::{Failure, Outcome};
use crate::checker::harness::{IO_TIMEOUT, Server, Target, scaled};


/// 04 with 70 clients under `ulimit -n 64`.
pub fn server_survives_running_out_of_descriptors(target: &Target) -> Outcome {
    survives_running_out_of_descriptors(target, &[], FD_CLIENTS)
}

/// One silent client is closed after `--idle-timeout-ms`.
pub fn server_closes_idle_clients(target: &Target) -> Outcome {
    idle_clients_are_closed(target, &[], 1)
}

/// Lesson 04's part in [`survives_running_out_of_threads`]: a client is served when its message
/// comes back, refused when the server closes its connection at once, echoing nothing.
struct Echoes;

impl ThreadPerClient for Echoes {
    // As a learner's shell runs it: nothing starts a thread before the first client, and the
    // server must survive glibc's per-thread arenas itself (lesson 04's `threads.rs`).
    const ONE_MALLOC_ARENA: bool = false;
    type Client = Conn;

    fn admit(&self, server: &Server, label: &str) -> Result<Option<Conn>, Failure> {
        match send_first(server, label)? {
            Some(conn) => first_echo(server, conn, label),
            None => Ok(None),
        }
    }

    fn leave(&self, server: &Server, _stays: &mut Conn, leaving: Vec<Conn>) -> Outcome {
        // Each closes its sending side and waits for the server to close: its thread is ending.
        for conn in leaving {
            conn.close().map_err(|f| with_evidence(server, f))?;
        }
        Ok(())
    }

    fn still_served(&self, server: &Server, stays: &mut Conn, newcomer: &mut Conn) -> Outcome {
        for conn in [stays, newcomer] {
            let message = conn.message(2);
            conn.echo(&message, "from a client the server went on serving")
                .map_err(|f| with_evidence(server, f))?;
        }
        Ok(())
    }
}

/// Under `ulimit -v`, a client the server cannot start a thread for is closed at once; the
/// server goes on serving the others, and newcomers once threads end.
pub fn server_survives_running_out_of_threads(target: &Target) -> Outcome {
    survives_running_out_of_threads(target, &["server", "--port", "0", "-q"], &Echoes)
}

/// Issue 22's repro, as a learner's shell runs it: the server starts under `ulimit -v`
/// (`limit` bytes of address space, set before it runs; no `MALLOC_ARENA_MAX`), and `clients`
/// clients connect and send at once, all staying connected: threads start while others are
/// starting, which is when a thread can die on its way in. Each client must be echoed or
/// closed with nothing sent, and the server must stay up; once they have left, a newcomer must
/// be echoed. Returns how many were served and how many refused.
pub fn survives_a_burst_under_ulimit_v(
    target: &Target,
    limit: u64,
    clients: usize,
) -> Result<(usize, usize), Failure> {
    let args = ["server", "--port", "0", "-q"];
    let mut server = Server::start_with_address_space(target, &args, limit)?;
    let under = format!("under `ulimit -v {}`, {clients} clients at once", limit / 1024);
    let mut sent = Vec::with_capacity(clients);
    for n in 1..=clients {
        match send_first(&server, &format!("client {n}")) {
            Ok(conn) => sent.push((n, conn)),
            Err(failure) => return Err(after_exit(&mut server, failure.context(&under))),
        }
    }
    let mut served = Vec::new();
    for (n, conn) in sent {
        let Some(conn) = conn else { continue };
        match first_echo(&server, conn, &format!("client {n}")) {
            Ok(Some(conn)) => served.push(conn),
            Ok(None) => {}
            Err(failure) => return Err(after_exit(&mut server, failure.context(&under))),
        }
    }
    running(&mut server, &under)?;
    let counts = (served.len(), clients - served.len());
    for conn in served {
        let left = conn.close().map_err(|f| with_evidence(&server, f));
        left.map_err(|f| after_exit(&mut server, f.context(&under)))?;
    }
    let after = format!("{under}, after {} were served and all left", counts.0);
    newcomer(&Echoes, &mut server, &after)?;
    running(&mut server, &under)?;
    Ok(counts)
}

/// A refused client may find its connection closed before, while or after it sends: a failed
/// send or a reset is that close too.
fn closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
    )
}

/// Connect as `label` and send its first message: `None` if the server closed the connection
/// already.
fn send_first(server: &Server, label: &str) -> Result<Option<Conn>, Failure> {
    let mut conn = Conn::open(server.addr, label)?;
    let message = conn.message(1);
    match conn.stream().write_all(&message) {
        Err(e) if closed(&e) => Ok(None),
        sent => {
            sent.map_err(|e| with_evidence(server, Failure::new(format!("{label}: {e}"))))?;
            Ok(Some(conn))
        }
    }
}

/// Read the echo of `conn`'s first message: `Some` if it comes back, `None` if the server
/// closes the connection with nothing sent (refused).
fn first_echo(server: &Server, mut conn: Conn, label: &str) -> Result<Option<Conn>, Failure> {
    let message = conn.message(1);
    let (mut got, mut buf) = (Vec::new(), [0u8; 1024]);
    while got.len() < message.len() {
        match conn.stream().read(&mut buf) {
            Ok(0) if got.is_empty() => return Ok(None),
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if closed(&e) && got.is_empty() => return Ok(None),
            Err(e) => {
                let why = match e.kind() {
                    ErrorKind::WouldBlock | ErrorKind::TimedOut => format!(
                        "no echo within {} s, and the connection still open",
                        scaled(IO_TIMEOUT).as_secs_f64()
                    ),
                    _ => format!("no echo: {e}"),
                };
                return Err(with_evidence(
                    server,
                    Failure::new(format!("{label}: {why}"))
                        .sent(message)
                        .expected(
                            "the echo, or — for a client the server cannot start a thread \
                             for — the connection closed at once",
                        ),
                ));
            }
        }
    }
    if got == message {
        Ok(Some(conn))
    } else {
        Err(with_evidence(
            server,
            Failure::new(format!("{label}: a wrong echo"))
                .sent(message)
                .received(got),
        ))
    }
}
