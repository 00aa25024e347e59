//! Lesson 04's part in the survival scenarios of
//! [`common::survival`](crate::checker::checks::common::survival): its descriptor and idle
//! checks, and how an echo client tells served from refused when the server cannot start a
//! thread.

use std::io::{ErrorKind, Read, Write};

use crate::checker::checks::common::{
    Conn, FD_CLIENTS, ThreadPerClient, idle_clients_are_closed, survives_running_out_of_descriptors,
    survives_running_out_of_threads, with_evidence,
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
    type Client = Conn;

    fn admit(&self, server: &Server, label: &str) -> Result<Option<Conn>, Failure> {
        let mut conn = Conn::open(server.addr, label)?;
        let message = conn.message(1);
        let (mut got, mut buf) = (Vec::new(), [0u8; 1024]);
        // A refused client may find its connection closed before, while or after it sends: a
        // failed send or a reset is that close too.
        let closed = |e: &std::io::Error| {
            matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
            )
        };
        match conn.stream().write_all(&message) {
            Err(e) if closed(&e) => return Ok(None),
            sent => {
                sent.map_err(|e| with_evidence(server, Failure::new(format!("{label}: {e}"))))?
            }
        }
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
