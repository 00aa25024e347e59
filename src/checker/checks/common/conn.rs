//! The connections a check holds open, and the bounded waits around them: [`Conn`], a named
//! client whose every read has a deadline; [`WATCH`], the one bounded wait in which something
//! must *not* happen; and the server's exit, watched the same way.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::checker::evidence::{Failure, Outcome};
use crate::checker::harness::{IO_TIMEOUT, Process, Server, connect, read_to_end, scaled};

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

    /// The connection itself, for a check that reads and writes on its own terms (its reads
    /// are still bounded, by [`IO_TIMEOUT`]).
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
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
