//! Checks for lesson 04, a thread per connection: `lessons/04_threaded.md#the-contract`.
//!
//! The wire contract is lesson 02's, so its echo and client checks are reused as they are. What
//! is new is *concurrency*, and it is decided by the order of events the check observes, each
//! bounded by a timeout — never by sleeping to see whether something happened:
//!
//! - client 1 is being served (its echo came back) and stays connected; client 2 sends. A
//!   concurrent server echoes client 2 while client 1 is still connected; an iterative one (lesson
//!   02) only after client 1 closes. [`second_client`] runs that scenario and says which
//!   happened, so one function shows both 02 waiting and 04 serving.
//! - idle clients (connected, sending nothing) delay nobody; 200 clients connected at once each
//!   get their own echo; `--exit-after K` waits for its clients before exiting.
//!
//! Proving that something does *not* happen (a waiting client gets no echo, a server does not
//! exit) takes a bounded wait in which nothing arrives: [`WATCH`], kept short and rare.
//!
//! [`Conn`] and the helpers here are public: lesson 05's checks use them too.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::common::{
    demo_exits_zero, privileged_port, tcp_client_refused as client_connection_refused,
    tcp_server_port_in_use as server_port_in_use, usage_errors_exit_2,
};
use super::{Failure, Outcome, common, l02_echo as echo};
use crate::checker::harness::{IO_TIMEOUT, Process, Server, Target, connect, read_to_end, scaled};
use echo::{
    client_large_message, client_prints_each_echo, client_reads_stdin_lines,
    server_echoes_as_data_arrives, server_echoes_bytes, server_echoes_large_message, server_ipv6,
    server_prints_only_listening_on, server_serves_clients_one_after_another, server_upper,
};

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
        server_echoes_bytes {
            title: "server echoes every byte value unchanged, then closes after the client's shutdown",
            points: 2,
            section: "the-contract",
            hint: "each thread runs lesson 02's echo loop: send back what recv returned; close when it returns 0",
        },
        server_echoes_as_data_arrives {
            title: "server echoes each piece as it arrives, without waiting for the end",
            points: 1,
            section: "the-contract",
            hint: "echo what each recv() returned at once",
        },
        server_echoes_large_message {
            title: "server echoes a 1 MiB message completely",
            points: 2,
            section: "the-contract",
            hint: "loop on recv() until it returns 0; use sendall()/write_all()",
        },
        server_serves_clients_one_after_another {
            title: "server serves three clients one after another",
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
        server_prints_only_listening_on {
            title: "server's stdout holds only the `listening on ADDR` line",
            points: 1,
            section: "the-contract",
            hint: "narration (thread names, counts) belongs on stderr",
        },
        server_ipv6 {
            title: "server echoes over IPv6 loopback with --host ::1",
            points: 1,
            section: "the-contract",
            hint: "resolve the host and bind an AF_INET6 socket for ::1",
        },
        server_upper {
            title: "server --upper upper-cases ASCII letters and leaves other bytes alone",
            points: 1,
            section: "the-contract",
            hint: "upper-case byte by byte, as in lesson 02",
        },
        client_prints_each_echo {
            title: "client sends each MESSAGE with `\\n` and prints each whole echo, however it is split",
            points: 2,
            section: "the-contract",
            hint: "the client is lesson 02's: read until you have as many bytes as you sent",
        },
        client_reads_stdin_lines {
            title: "client with no MESSAGE sends each line of stdin",
            points: 1,
            section: "the-contract",
            hint: "one message per stdin line; a last line without `\\n` gets one",
        },
        client_large_message {
            title: "client echoes a 1 MiB line from stdin without deadlock or loss",
            points: 2,
            section: "the-contract",
            hint: "send on one thread while reading on another, as in lesson 02",
        },
    ],
    usage_errors_exit_2: {
        title: "bad flags and out-of-range ports exit 2",
        points: 1,
        section: "the-contract",
        hint: "usage errors exit 2",
    },
}

/// How long a check watches for something that must *not* happen: a waiting client being
/// served, a server exiting while clients are connected. It is a bounded wait in which nothing
/// may arrive, not a sleep that something else relies on; a correct program always spends it
/// in full, so it is short and used sparingly.
pub const WATCH: Duration = Duration::from_secs(1);

/// One connection a check holds open, named for the evidence (`client 2`, `idle client 4`).
/// Every read is bounded: by [`IO_TIMEOUT`], or by the time given to [`Conn::wait_for`].
pub struct Conn {
    name: String,
    stream: TcpStream,
}

impl Conn {
    /// Connect to `addr` (timeouts on connect, read and write).
    pub fn open(addr: SocketAddr, name: impl Into<String>) -> Result<Conn, Failure> {
        let name = name.into();
        let stream = connect(addr).map_err(|f| f.context(&name))?;
        Ok(Conn { name, stream })
    }

    /// The name given at [`Conn::open`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A message that names its client, so a mix-up between clients shows in the evidence.
    pub fn message(&self, n: usize) -> Vec<u8> {
        format!("{}, message {n}\n", self.name).into_bytes()
    }

    /// Send all of `data`.
    pub fn send(&mut self, data: &[u8]) -> Outcome {
        self.stream.write_all(data).map_err(|e| {
            Failure::new(format!("{}: sending failed: {e}", self.name)).sent(data.to_vec())
        })
    }

    /// Wait at most `within` for `len` bytes. `Ok(None)`: not one byte arrived in that time.
    /// Fails if the connection ends first, or if only part arrived.
    pub fn wait_for(&mut self, len: usize, within: Duration) -> Result<Option<Vec<u8>>, Failure> {
        // Every wait, for an echo or for nothing to arrive, grows on a slow machine.
        let within = scaled(within);
        let deadline = Instant::now() + within;
        let mut got = Vec::with_capacity(len);
        let mut buf = [0u8; 16 * 1024];
        let result = loop {
            if got.len() >= len {
                break Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Ok(());
            }
            if let Err(e) = self.stream.set_read_timeout(Some(left)) {
                break Err(format!("setting a read timeout: {e}"));
            }
            let want = (len - got.len()).min(buf.len());
            match self.stream.read(&mut buf[..want]) {
                Ok(0) => {
                    break Err(format!(
                        "the server closed the connection after {} of {len} bytes",
                        got.len()
                    ));
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break Ok(());
                }
                Err(e) => break Err(format!("after {} of {len} bytes: {e}", got.len())),
            }
        };
        let _ = self.stream.set_read_timeout(Some(scaled(IO_TIMEOUT)));
        let fail = |reason: String, got: Vec<u8>| {
            Err(Failure::new(format!("{}: {reason}", self.name)).received(got))
        };
        match result {
            Err(reason) => fail(reason, got),
            Ok(()) if got.is_empty() => Ok(None),
            Ok(()) if got.len() < len => fail(
                format!(
                    "only {} of {len} bytes came back within {} ms",
                    got.len(),
                    within.as_millis()
                ),
                got,
            ),
            Ok(()) => Ok(Some(got)),
        }
    }

    /// The echo of `sent` must arrive within `within`; `when` completes the sentence of the
    /// failure ("while client 1 is still connected").
    pub fn expect_echo(&mut self, sent: &[u8], within: Duration, when: &str) -> Outcome {
        match self.wait_for(sent.len(), within)? {
            Some(got) if got == sent => Ok(()),
            Some(got) => Err(Failure::new(format!("{}: a wrong echo {when}", self.name))
                .sent(sent.to_vec())
                .expected("the same bytes back")
                .received(got)),
            None => Err(Failure::new(format!(
                "{}: timed out after {} s: no echo {when}",
                self.name,
                scaled(within).as_secs_f32()
            ))
            .sent(sent.to_vec())
            .expected("the echo")),
        }
    }

    /// Send `data` and expect its echo within [`IO_TIMEOUT`].
    pub fn echo(&mut self, data: &[u8], when: &str) -> Outcome {
        self.send(data)?;
        self.expect_echo(data, IO_TIMEOUT, when)
    }

    /// Nothing may arrive for `within` (after we sent something): this client must be waiting.
    pub fn expect_no_echo(&mut self, within: Duration, why: &str) -> Outcome {
        match self.wait_for(1, within)? {
            None => Ok(()),
            Some(got) => Err(Failure::new(format!("{}: {why}", self.name)).received(got)),
        }
    }

    /// The server must close this connection (end of stream, or a reset) within `within`,
    /// sending nothing; `why` says why it must ("after 500 ms of silence").
    pub fn expect_closed(&mut self, within: Duration, why: &str) -> Outcome {
        let mut buf = [0u8; 1024];
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::new(format!(
                    "{}: still open {} ms later",
                    self.name,
                    within.as_millis()
                ))
                .expected(format!("the server closes the connection {why}")));
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| Failure::new(format!("setting a read timeout: {e}")))?;
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    return Err(Failure::new(format!(
                        "{}: bytes nobody asked for, {why}",
                        self.name
                    ))
                    .received(buf[..n].to_vec()));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                // A reset is a close too: the server may close with our bytes unread.
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(Failure::new(format!("{}: {e}", self.name))),
            }
        }
    }

    /// shutdown(SHUT_WR), then the server must close without sending anything more.
    pub fn close(mut self) -> Outcome {
        self.stream
            .shutdown(Shutdown::Write)
            .map_err(|e| Failure::new(format!("{}: shutdown failed: {e}", self.name)))?;
        let rest = read_to_end(&mut self.stream, 64 * 1024)
            .map_err(|f| f.context(format!("{}, after shutdown(SHUT_WR)", self.name)))?;
        if rest.is_empty() {
            Ok(())
        } else {
            Err(Failure::new(format!(
                "{}: bytes nobody asked for after shutdown(SHUT_WR)",
                self.name
            ))
            .received(rest))
        }
    }
}

/// Add the server's command line and stderr to a failure.
pub fn with_evidence(server: &Server, failure: Failure) -> Failure {
    failure
        .command(server.process.command_line())
        .stderr(server.stderr())
}

/// The server must still be running after [`WATCH`]: `while` says why it must ("while 2
/// clients are still connected").
pub fn still_running(process: &mut Process, while_: &str) -> Outcome {
    match process.wait_timeout(scaled(WATCH)) {
        None => Ok(()),
        Some(status) => Err(
            Failure::new(format!("the server exited ({status}) {while_}"))
                .expected("the server keeps serving the clients it has accepted"),
        ),
    }
}

/// The server must exit with status 0 within [`IO_TIMEOUT`]; `after` says after what.
pub fn exits_zero(process: &mut Process, after: &str) -> Outcome {
    match process.wait_timeout(scaled(IO_TIMEOUT)) {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(
            Failure::new(format!("the server exited ({status}) {after}")).expected("exit status 0"),
        ),
        None => Err(Failure::new(format!(
            "timed out after {} s: the server was still running {after}",
            scaled(IO_TIMEOUT).as_secs_f64()
        ))
        .expected("the server exits with status 0")),
    }
}

/// What [`second_client`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondClient {
    /// Client 2 was echoed while client 1 was still connected: a concurrent server.
    ServedAtOnce,
    /// Client 2 was echoed only after client 1 closed: an iterative server (lesson 02).
    ServedAfterFirstClosed,
}

/// Start `server --port 0 -q EXTRA…`. Client 1 connects and is served (its echo comes back),
/// then stays connected, sending nothing more. Client 2 connects and sends. If client 2's echo
/// arrives within `patience`, the server serves both at once; if not, client 1 closes and
/// client 2's echo must then arrive (within [`IO_TIMEOUT`]): one client at a time. Anything
/// else (no echo at all, a wrong one) is a failure.
pub fn second_client(
    target: &Target,
    extra: &[&str],
    patience: Duration,
) -> Result<SecondClient, Failure> {
    let server = Server::start_quiet(target, extra)?;
    let scenario = || -> Result<SecondClient, Failure> {
        let mut first = Conn::open(server.addr, "client 1")?;
        first.echo(&first.message(1), "(the first client of a fresh server)")?;
        let mut second = Conn::open(server.addr, "client 2")?;
        let hello = second.message(1);
        second.send(&hello)?;
        match second.wait_for(hello.len(), patience)? {
            Some(got) if got == hello => {
                first.echo(&first.message(2), "after client 2 was served")?;
                second.close()?;
                first.close()?;
                Ok(SecondClient::ServedAtOnce)
            }
            Some(got) => Err(Failure::new("client 2: a wrong echo")
                .sent(hello)
                .received(got)),
            None => {
                first.close()?;
                second.expect_echo(&hello, IO_TIMEOUT, "even after client 1 closed")?;
                second.close()?;
                Ok(SecondClient::ServedAfterFirstClosed)
            }
        }
    };
    scenario().map_err(|f| with_evidence(&server, f))
}

/// Client 2 must be echoed while client 1 is still connected.
pub fn server_serves_two_clients_at_once(target: &Target) -> Outcome {
    match second_client(target, &[], IO_TIMEOUT)? {
        SecondClient::ServedAtOnce => Ok(()),
        SecondClient::ServedAfterFirstClosed => Err(Failure::new(format!(
            "client 2's echo came only after client 1 disconnected ({} s later): the server \
             serves one client at a time",
            scaled(IO_TIMEOUT).as_secs_f64()
        ))
        .command(&target.display(&["server", "--port", "0", "-q"]))
        .expected("client 2's echo while client 1 is still connected")),
    }
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
