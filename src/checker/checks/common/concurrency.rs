//! Concurrency, decided by the order of events the check observes, each bounded by a timeout —
//! never by sleeping to see whether something happened. Client 1 is being served (its echo came
//! back) and stays connected; client 2 sends. A concurrent server echoes client 2 while client 1
//! is still connected; an iterative one (lesson 02) only after client 1 closes.
//! [`second_client`] runs that scenario and says which happened, so one function shows both 02
//! waiting and 04 serving.

use std::time::Duration;

use super::conn::{Conn, with_evidence};
use crate::checker::evidence::{Failure, Outcome};
use crate::checker::harness::{IO_TIMEOUT, Server, Target, scaled};

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
