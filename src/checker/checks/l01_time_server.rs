//! Checks for lesson 01, the time server: `lessons/01_time_server.md#the-contract`.
//!
//! Server: per connection, the current UTC time as RFC 3339 (`Z`, at least milliseconds) and
//! `\n`, then close; one client after another. `--rfc868`: 4 bytes, big-endian seconds since 1900.
//! Client: reads to end of stream and prints the time line (`--rfc868`: decoded as RFC 3339).

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::common::{
    demo_exits_zero, privileged_port, tcp_client_refused as client_connection_refused,
    tcp_server_port_in_use as server_port_in_use, usage_errors_exit_2,
};
use super::{Failure, Outcome, common, ensure};
use crate::checker::harness::{RUN_TIMEOUT, Server, Target, TcpStub, connect, read_to_end, run};

tcp_lesson! {
    /// Lesson 01's checks.
    name: "01_time_server",
    tests: l01_time_server_tests,
    checks: [
        demo_exits_zero {
            title: "with no arguments, the demo runs and exits 0",
            points: 1,
            section: "run-it",
            hint: "the demo must finish by itself; does your server thread stop after the demo's clients?",
        },
        server_sends_time_and_closes {
            title: "server sends the current UTC time as RFC 3339 with milliseconds and `\\n`, then closes",
            points: 3,
            section: "the-contract",
            hint: "e.g. `2026-11-25T09:41:07.123Z\\n`, then close the connection",
        },
        server_serves_clients_one_after_another {
            title: "server serves three clients one after another",
            points: 2,
            section: "the-calls-in-order",
            hint: "go back to accept() after closing each connection",
        },
        server_prints_only_listening_on {
            title: "server's stdout holds only the `listening on ADDR` line",
            points: 1,
            section: "the-contract",
            hint: "narration belongs on stderr; stdout is the contract",
        },
        server_exit_after {
            title: "--exit-after 2: serves two connections, then exits 0",
            points: 1,
            section: "the-contract",
            hint: "count the connections you accept; after the K-th is served, leave the accept loop and return from main",
        },
        server_ipv6 {
            title: "server listens on IPv6 loopback with --host ::1",
            points: 1,
            section: "the-calls-in-order",
            hint: "choose AF_INET6 for an IPv6 address; print `listening on [::1]:PORT`",
        },
        server_rfc868 {
            title: "server --rfc868 sends 4 bytes: big-endian seconds since 1900",
            points: 2,
            section: "rfc-868",
            hint: "add 2208988800 to Unix time and send it as 4 big-endian bytes",
        },
        client_prints_time {
            title: "client reads to the end of the stream and prints the time line",
            points: 2,
            section: "the-contract",
            hint: "one recv() may return part of the reply; read until recv returns no bytes",
        },
        client_rfc868 {
            title: "client --rfc868 decodes 4 bytes and prints RFC 3339",
            points: 2,
            section: "rfc-868",
            hint: "subtract 2208988800 from the big-endian number to get Unix time",
        },
    ],
    usage_errors_exit_2: {
        title: "bad flags and out-of-range ports exit 2",
        points: 1,
        section: "the-contract",
        hint: "usage errors exit 2 (clap and argparse both do)",
    },
}

/// Seconds from 1900 to 1970: RFC 868's epoch versus Unix's.
const SECONDS_1900_TO_1970: u64 = 2_208_988_800;

/// How far the server's clock may be from ours: same machine, so only the time to connect.
const CLOCK_SLACK: Duration = Duration::from_secs(30);

/// Parse one reply as the contract's time line and check it is close to now.
fn check_time_line(reply: &[u8], server: &Server) -> Outcome {
    let expected = "one line: the current UTC time as RFC 3339 with a `Z` and at least milliseconds, e.g. `2026-11-25T09:41:07.123Z\\n`";
    let fail = |why: &str| {
        server
            .failure(why.to_string())
            .expected(expected)
            .received(reply.to_vec())
    };
    let text = std::str::from_utf8(reply).map_err(|_| fail("the reply is not UTF-8 text"))?;
    let line = text
        .strip_suffix('\n')
        .ok_or_else(|| fail("the reply does not end with `\\n`"))?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    ensure(!line.contains('\n'), || {
        fail("the reply has more than one line")
    })?;
    ensure(line.ends_with('Z'), || {
        fail("the time does not end with `Z` (UTC)")
    })?;
    let fraction = line.rsplit_once('.').map(|(_, f)| f.trim_end_matches('Z'));
    ensure(
        fraction.is_some_and(|f| f.len() >= 3 && f.bytes().all(|b| b.is_ascii_digit())),
        || fail("the time has no fraction of at least 3 digits (milliseconds)"),
    )?;
    let when = humantime::parse_rfc3339(line).map_err(|e| fail(&format!("not RFC 3339: {e}")))?;
    ensure(close_to_now(when), || {
        fail("the time is not the current time (more than 30 s off)")
    })
}

fn close_to_now(when: SystemTime) -> bool {
    let now = SystemTime::now();
    let diff = now
        .duration_since(when)
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap_or_default();
    diff <= CLOCK_SLACK
}

/// Connect to the server and read its whole reply.
fn fetch(server: &Server) -> Result<Vec<u8>, Failure> {
    let mut stream = connect(server.addr).map_err(|f| f.command(server.process.command_line()))?;
    read_to_end(&mut stream, 4096).map_err(|f| {
        f.command(server.process.command_line())
            .stderr(server.stderr())
    })
}

/// One connection: a time line, then the server closes.
pub fn server_sends_time_and_closes(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    check_time_line(&fetch(&server)?, &server)
}

/// Three connections in a row each get a time line: the server goes back to accept().
pub fn server_serves_clients_one_after_another(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    for n in 1..=3 {
        let reply = fetch(&server).map_err(|f| f.context(format!("client {n}")))?;
        check_time_line(&reply, &server).map_err(|f| f.context(format!("client {n}")))?;
    }
    Ok(())
}

/// After serving clients, the server has printed nothing on stdout but `listening on`.
pub fn server_prints_only_listening_on(target: &Target) -> Outcome {
    common::stdout_only_listening_on(target, &[], |server| {
        for _ in 0..2 {
            fetch(server)?;
        }
        Ok(())
    })
}

/// `--exit-after 2`: two time lines, one after the other, then the server exits with status 0.
pub fn server_exit_after(target: &Target) -> Outcome {
    let mut server = Server::start_quiet(target, &["--exit-after", "2"])?;
    for n in 1..=2 {
        let reply = fetch(&server).map_err(|f| f.context(format!("client {n}")))?;
        check_time_line(&reply, &server).map_err(|f| f.context(format!("client {n}")))?;
    }
    common::exits_zero(
        &mut server.process,
        "after serving its 2 connections (--exit-after 2)",
    )
    .map_err(|f| common::with_evidence(&server, f))
}

/// `--host ::1`: an IPv6 listening address, and the time over IPv6.
pub fn server_ipv6(target: &Target) -> Outcome {
    let server = common::ipv6_server(target, &[])?;
    check_time_line(&fetch(&server)?, &server)
}

/// `--rfc868`: exactly 4 bytes, big-endian seconds since 1900, close to now.
pub fn server_rfc868(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &["--rfc868"])?;
    let reply = fetch(&server)?;
    let expected = "exactly 4 bytes: big-endian seconds since 1900-01-01T00:00:00Z";
    let Ok(bytes) = <[u8; 4]>::try_from(reply.as_slice()) else {
        return Err(server
            .failure(format!("{} bytes instead of 4", reply.len()))
            .expected(expected)
            .received(reply));
    };
    let unix = u64::from(u32::from_be_bytes(bytes)).saturating_sub(SECONDS_1900_TO_1970);
    ensure(close_to_now(UNIX_EPOCH + Duration::from_secs(unix)), || {
        server
            .failure("those 4 bytes are not the current time")
            .expected(expected)
            .received(reply.clone())
    })
}

/// A stub server sends a known time line in two parts; the client prints exactly that line.
pub fn client_prints_time(target: &Target) -> Outcome {
    const LINE: &[u8] = b"2001-02-03T04:05:06.789Z\n";
    let stub = TcpStub::start("127.0.0.1:0", |stream| {
        // Two writes with a pause between them: a client that calls recv() once and prints
        // what it got prints half a line. (The pause shapes the data; nothing waits on it.)
        stream.set_nodelay(true).ok();
        stream
            .write_all(&LINE[..10])
            .map_err(Failure::io("sending the first part"))?;
        std::thread::sleep(Duration::from_millis(200));
        stream
            .write_all(&LINE[10..])
            .map_err(Failure::io("sending the second part"))?;
        Ok(Vec::new())
    })?;
    let port = stub.addr.port().to_string();
    let finished = run(target, &["client", "--port", &port, "-q"], b"", RUN_TIMEOUT)?;
    stub.finish()?;
    finished.expect_code(0)?;
    ensure(finished.stdout == LINE, || {
        finished
            .failure("the client did not print the time line it was sent")
            .sent(LINE)
            .expected("exactly the line the server sent")
    })
}

/// A stub server sends RFC 868 bytes for 2000-01-01T00:00:00Z; the client prints that instant.
pub fn client_rfc868(target: &Target) -> Outcome {
    // 2000-01-01T00:00:00Z is 946 684 800 s after 1970, so 3 155 673 600 s after 1900.
    let bytes = ((946_684_800 + SECONDS_1900_TO_1970) as u32).to_be_bytes();
    let stub = TcpStub::start("127.0.0.1:0", move |stream| {
        stream
            .write_all(&bytes)
            .map_err(Failure::io("sending RFC 868 time"))?;
        Ok(Vec::new())
    })?;
    let port = stub.addr.port().to_string();
    let finished = run(
        target,
        &["client", "--port", &port, "--rfc868", "-q"],
        b"",
        RUN_TIMEOUT,
    )?;
    stub.finish()?;
    finished.expect_code(0)?;
    let expected = "one line, RFC 3339 for 2000-01-01T00:00:00Z (e.g. `2000-01-01T00:00:00Z`)";
    let text = finished.stdout_text();
    let parsed = humantime::parse_rfc3339_weak(text.trim_end().trim_end_matches('Z'))
        .or_else(|_| humantime::parse_rfc3339(text.trim_end()));
    ensure(
        text.lines().count() == 1
            && parsed.ok() == Some(UNIX_EPOCH + Duration::from_secs(946_684_800)),
        || {
            finished
                .failure("the client did not print the decoded time")
                .sent(bytes.to_vec())
                .expected(expected)
        },
    )
}

fn unknown_host(target: &Target) -> Outcome {
    common::unknown_host(target, "client", &[])
}
