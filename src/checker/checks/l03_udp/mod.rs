//! Checks for lesson 03, UDP: `lessons/03_udp.md#the-contract`.
//!
//! Server: every datagram goes back, unchanged and whole, to the address it came from; one
//! datagram in, one datagram out; `--drop RATE` (with `--seed N`) throws that fraction away.
//! Client: one datagram per message, waits `--timeout-ms`, resends up to `--retries` times,
//! prints each echo on its own line, ignores strangers and stale replies; no reply at all is
//! `error: no reply …`, exit 1. Ping: numbered probes, a line per probe, then
//! `N transmitted, M received, X% loss` and `rtt min/avg/max = A/B/C ms`.
//!
//! The client and ping are checked against [`UdpStub`], a UDP server the check controls, so
//! loss happens exactly when the check wants it. Every read has a timeout and the stub's thread
//! ends by itself, so no check can hang.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::common::{
    demo_exits_zero, privileged_port, udp_server_port_in_use as server_port_in_use,
};
use super::{Failure, Outcome, common, ensure};
use crate::checker::harness::{Finished, RUN_TIMEOUT, Server, Target, run, udp_socket};
use crate::kit::narrate::show_bytes;

use client::{
    client_ignores_strangers_and_stale_replies, client_message_too_large, client_no_reply,
    client_prints_replies, client_reads_stdin, client_retries,
};
use ping::{ping_counts_loss, ping_ignores_late_replies, ping_reports_rtt, ping_shows_drop};

lesson! {
    /// Lesson 03's checks.
    name: "03_udp",
    tests: l03_udp_tests,
    checks: [
        demo_exits_zero {
            title: "with no arguments, the demo runs and exits 0",
            points: 1,
            section: "run-it",
            hint: "the demo must end by itself, even though a UDP server never learns that its last client has gone",
        },
        server_echoes_datagram {
            title: "server sends a datagram back unchanged, to its sender, from its own address",
            points: 3,
            section: "the-calls-in-order",
            hint: "recvfrom() gives the data and the sender's address; sendto() the same bytes to that address",
        },
        server_keeps_datagram_boundaries {
            title: "server answers each datagram with exactly one datagram (three sent back to back, one empty)",
            points: 3,
            section: "datagrams-keep-their-boundaries",
            hint: "one recvfrom() is one whole datagram; echo it as it is, newlines and empty datagrams included",
        },
        server_echoes_large_datagram {
            title: "server echoes a 60000-byte datagram intact",
            points: 2,
            section: "datagrams-keep-their-boundaries",
            hint: "recvfrom(1024) cuts a datagram to 1024 bytes and the rest is lost; use a 65535-byte buffer",
        },
        server_serves_several_senders {
            title: "server answers two senders whose datagrams interleave, each with its own echoes",
            points: 2,
            section: "the-calls-in-order",
            hint: "reply to the address each recvfrom() returned, not to the first client you saw",
        },
        server_ipv6 {
            title: "server echoes over IPv6 loopback with --host ::1",
            points: 1,
            section: "the-calls-in-order",
            hint: "resolve the host and make an AF_INET6 socket for ::1; print `listening on [::1]:PORT`",
        },
        server_prints_only_listening_on {
            title: "server's stdout holds only the `listening on ADDR` line",
            points: 1,
            section: "the-contract",
            hint: "narrate each datagram on stderr; stdout is the contract",
        },
        server_exit_after {
            title: "--exit-after 3: echoes three datagrams, then exits 0",
            points: 1,
            section: "the-contract",
            hint: "count the datagrams you receive; after the K-th is answered, leave the loop and return from main",
        },
        server_drop_all {
            title: "server --drop 1.0 answers nothing",
            points: 2,
            section: "loss-retries-and-ping",
            hint: "draw a number in [0, 1) for each datagram and drop it when the number is below RATE",
        },
        client_prints_replies {
            title: "client sends each MESSAGE as one datagram, as is, and prints each echo on its own line",
            points: 3,
            section: "the-contract",
            hint: "one sendto() per message, no `\\n` added; print the reply followed by `\\n`",
        },
        client_reads_stdin {
            title: "client with no MESSAGE sends each line of stdin as one datagram",
            points: 1,
            section: "the-contract",
            hint: "each stdin line, without its line ending, is one message",
        },
        client_retries {
            title: "client resends when the first datagram gets no answer, and prints the echo of the second",
            points: 3,
            section: "loss-retries-and-ping",
            hint: "wait --timeout-ms with a socket timeout, then sendto() again, up to --retries times",
        },
        client_ignores_strangers_and_stale_replies {
            title: "client ignores datagrams from other addresses and stale echoes of an earlier message",
            points: 2,
            section: "loss-retries-and-ping",
            hint: "anyone can send to your port; keep only a datagram from the server's address that is the echo of this message",
        },
        client_no_reply {
            title: "client with no answer: 1 + --retries tries, then `error: no reply …`, exit 1",
            points: 2,
            section: "when-things-go-wrong",
            hint: "after the last timeout print `error: no reply from ADDR after N tries` and exit 1",
        },
        client_message_too_large {
            title: "client given a message over 65507 bytes: `error:` naming the limit, exit 1, nothing sent",
            points: 1,
            section: "when-things-go-wrong",
            hint: "check the size before sendto(): at most 65507 bytes over IPv4, 65527 over IPv6",
        },
        ping_reports_rtt {
            title: "ping against the server: a reply line with time= per probe, 0% loss and an rtt line",
            points: 2,
            section: "the-contract",
            hint: "`reply from ADDR: seq=N time=T ms`, then `N transmitted, M received, X% loss` and `rtt min/avg/max = A/B/C ms`",
        },
        ping_counts_loss {
            title: "ping against a server answering every other probe: `10 transmitted, 5 received, 50% loss`",
            points: 3,
            section: "loss-retries-and-ping",
            hint: "a probe with no echo within --timeout-ms is a `seq=N timeout` line and counts as lost",
        },
        ping_ignores_late_replies {
            title: "ping matches echoes by sequence number: a late echo of an earlier probe is not the current one's",
            points: 2,
            section: "loss-retries-and-ping",
            hint: "put the sequence number in the probe and compare it in the echo",
        },
        ping_shows_drop {
            title: "ping against server --drop 0.5 --seed 1: some loss, but not all",
            points: 2,
            section: "loss-retries-and-ping",
            hint: "the server drops about half; ping must count the timeouts",
        },
        server_port_in_use {
            title: "server on a UDP port already in use: `error: …in use`, exit 1",
            points: 1,
            section: "when-things-go-wrong",
            hint: "catch the bind error and print one `error:` line",
        },
        unknown_host {
            title: "an unknown host name (server, client, ping): `error:` naming the host, exit 1",
            points: 1,
            section: "when-things-go-wrong",
            hint: "report the host you could not resolve",
        },
        privileged_port {
            title: "binding port 1 without privilege: `error: …permission denied`, exit 1",
            points: 1,
            section: "when-things-go-wrong",
            hint: "ports below 1024 need privilege, for UDP too; report the bind error",
        },
        usage_errors_exit_2 {
            title: "bad flags, out-of-range ports and a --drop outside 0.0–1.0 exit 2",
            points: 1,
            section: "the-contract",
            hint: "usage errors exit 2; validate --drop as part of parsing the command line",
        },
    ],
}

/// Room for any datagram.
const BUFFER: usize = 65_536;

/// How long a check watches for a datagram that must not come. Observing "nothing" always
/// takes a timeout; this one is short because on loopback an echo takes well under a millisecond.
const QUIET_WAIT: Duration = Duration::from_millis(300);

/// The client's and ping's --timeout-ms where a timeout is *expected* (the stub stays silent on
/// purpose): short, to keep the suite quick.
const SHORT_TIMEOUT_MS: &str = "200";

/// Their --timeout-ms where an answered probe must not time out: long enough for a program
/// starved of CPU by a busy test run, though every silent probe costs this much.
const SAFE_TIMEOUT_MS: &str = "500";

// --- Sending to a server under test -------------------------------------------------------

/// Send one datagram to the server.
fn send(socket: &UdpSocket, server: &Server, data: &[u8]) -> Outcome {
    socket.send_to(data, server.addr).map(|_| ()).map_err(|e| {
        server
            .failure(format!("could not send a datagram to {}: {e}", server.addr))
            .sent(data.to_vec())
    })
}

/// Receive one datagram (within the socket's timeout); it must come from the server's address.
fn receive(socket: &UdpSocket, server: &Server, sent: &[u8]) -> Result<Vec<u8>, Failure> {
    let mut buf = vec![0u8; BUFFER];
    let (n, from) = socket.recv_from(&mut buf).map_err(|e| {
        let why = if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
            "no datagram came back within the timeout".to_string()
        } else {
            format!("waiting for the echo: {e}")
        };
        server.failure(why).sent(sent.to_vec())
    })?;
    buf.truncate(n);
    ensure(same_endpoint(from, server.addr), || {
        server
            .failure(format!(
                "the echo came from {from}, not from the server's address {}",
                server.addr
            ))
            .sent(sent.to_vec())
            .received(buf.clone())
    })?;
    Ok(buf)
}

fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    a.ip() == b.ip() && a.port() == b.port()
}

/// Fail with evidence unless the echo `got` is exactly `sent`.
fn same(server: &Server, sent: &[u8], got: &[u8], what: &str) -> Outcome {
    if got == sent {
        return Ok(());
    }
    Err(server
        .failure(format!(
            "{what}: {} bytes came back for {} sent",
            got.len(),
            sent.len()
        ))
        .sent(sent.to_vec())
        .expected(format!("the same {} bytes, in one datagram", sent.len()))
        .received(got.to_vec()))
}

/// Letters that do not repeat in a short cycle, so that a lost or shifted piece shows.
fn pattern(len: usize) -> Vec<u8> {
    super::common::scrambled(len, 0x9e37_79b9)
}

/// Every byte value and some text: an echo server must not treat a datagram as text.
pub fn server_echoes_datagram(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let socket = udp_socket(server.addr)?;
    let data: Vec<u8> = (0..=255u8).chain(*b"Hello, UDP").collect();
    send(&socket, &server, &data)?;
    let got = receive(&socket, &server, &data)?;
    same(&server, &data, &got, "echo")
}

/// `--exit-after 3`: three datagrams, one at a time, each echoed; then the server exits 0.
pub fn server_exit_after(target: &Target) -> Outcome {
    let mut server = Server::start_quiet(target, &["--exit-after", "3"])?;
    let socket = udp_socket(server.addr)?;
    for n in 1..=3 {
        let data = format!("datagram {n} of --exit-after 3").into_bytes();
        send(&socket, &server, &data)?;
        let got = receive(&socket, &server, &data)?;
        same(&server, &data, &got, &format!("echo {n}"))?;
    }
    common::exits_zero(
        &mut server.process,
        "after echoing its 3 datagrams (--exit-after 3)",
    )
    .map_err(|f| common::with_evidence(&server, f))
}

/// Three datagrams sent back to back — one holding a newline, one empty — come back as three
/// datagrams, each exactly one of those sent, and nothing more.
pub fn server_keeps_datagram_boundaries(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let socket = udp_socket(server.addr)?;
    let sent: [&[u8]; 3] = [b"one\ntwo", b"", b"three"];
    for data in sent {
        send(&socket, &server, data)?;
    }
    let all_sent = sent.concat();
    let expected =
        "three datagrams back: b\"one\\ntwo\", b\"\" (empty) and b\"three\", each on its own";
    let mut got = Vec::new();
    for n in 1..=sent.len() {
        let reply = receive(&socket, &server, &all_sent).map_err(|f| {
            f.context(format!("echo {n} of 3"))
                .expected(expected)
                .received(show_datagrams(&got))
        })?;
        got.push(reply);
    }
    // Loopback keeps the order, but nothing in UDP promises it, so compare as sets.
    let mut sorted_got = got.clone();
    sorted_got.sort();
    let mut sorted_sent: Vec<Vec<u8>> = sent.iter().map(|d| d.to_vec()).collect();
    sorted_sent.sort();
    ensure(sorted_got == sorted_sent, || {
        server
            .failure("the echoes are not the datagrams that were sent, one for one")
            .sent(all_sent.clone())
            .expected(expected)
            .received(show_datagrams(&got))
    })?;
    socket
        .set_read_timeout(Some(QUIET_WAIT))
        .map_err(Failure::io("setting a timeout"))?;
    let mut buf = vec![0u8; BUFFER];
    match socket.recv_from(&mut buf) {
        Ok((n, _)) => Err(server
            .failure("a fourth datagram came back for three sent")
            .sent(all_sent)
            .expected(expected)
            .received(buf[..n].to_vec())),
        Err(_) => Ok(()),
    }
}

/// Datagrams as evidence: `b"one" | b"" | b"three"`.
fn show_datagrams(datagrams: &[Vec<u8>]) -> Vec<u8> {
    let shown: Vec<String> = datagrams.iter().map(|d| show_bytes(d, 40)).collect();
    shown.join(" | ").into_bytes()
}

/// 60 000 bytes in one datagram: a `recvfrom(1024)` server cuts it.
pub fn server_echoes_large_datagram(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let socket = udp_socket(server.addr)?;
    let data = pattern(60_000);
    send(&socket, &server, &data)?;
    let got = receive(&socket, &server, &data)?;
    same(&server, &data, &got, "60000-byte datagram")
}

/// Two sockets, datagrams interleaved A1 B1 A2 B2: each gets back its own two.
pub fn server_serves_several_senders(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let a = udp_socket(server.addr)?;
    let b = udp_socket(server.addr)?;
    for n in 1..=2 {
        send(&a, &server, format!("sender A, datagram {n}").as_bytes())?;
        send(&b, &server, format!("sender B, datagram {n}").as_bytes())?;
    }
    for (socket, name) in [(&a, "A"), (&b, "B")] {
        for n in 1..=2 {
            let want = format!("sender {name}, datagram {n}").into_bytes();
            let got =
                receive(socket, &server, &want).map_err(|f| f.context(format!("sender {name}")))?;
            same(&server, &want, &got, &format!("sender {name}"))?;
        }
    }
    Ok(())
}

/// `--host ::1`: an IPv6 address, and echoes over IPv6.
pub fn server_ipv6(target: &Target) -> Outcome {
    let server = common::ipv6_server(target, &[])?;
    let socket = udp_socket(server.addr)?;
    let data = b"over IPv6";
    send(&socket, &server, data)?;
    let got = receive(&socket, &server, data)?;
    same(&server, data, &got, "echo over IPv6")
}

/// Narration on, two datagrams echoed: stdout still holds only `listening on`.
pub fn server_prints_only_listening_on(target: &Target) -> Outcome {
    common::stdout_only_listening_on(target, &[], |server| {
        let socket = udp_socket(server.addr)?;
        for data in [&b"first"[..], b"second"] {
            send(&socket, server, data)?;
            let got = receive(&socket, server, data)?;
            same(server, data, &got, "echo")?;
        }
        Ok(())
    })
}

/// `--drop 1.0`: three datagrams, no echo within [`QUIET_WAIT`].
pub fn server_drop_all(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &["--drop", "1.0", "--seed", "1"])?;
    let socket = udp_socket(server.addr)?;
    for n in 1..=3 {
        send(&socket, &server, format!("drop me {n}").as_bytes())?;
    }
    socket
        .set_read_timeout(Some(QUIET_WAIT))
        .map_err(Failure::io("setting a timeout"))?;
    let mut buf = vec![0u8; BUFFER];
    match socket.recv_from(&mut buf) {
        Ok((n, _)) => Err(server
            .failure("with --drop 1.0 the server still answered")
            .expected("no datagram back: RATE 1.0 drops every datagram")
            .received(buf[..n].to_vec())),
        Err(_) => Ok(()),
    }
}

fn unknown_host(target: &Target) -> Outcome {
    common::unknown_host(target, "server", &[])?;
    common::unknown_host(
        target,
        "client",
        &["--timeout-ms", SHORT_TIMEOUT_MS, "--retries", "0", "hello"],
    )?;
    common::unknown_host(
        target,
        "ping",
        &["--count", "1", "--timeout-ms", SHORT_TIMEOUT_MS],
    )
}

/// The shared usage errors, and `--drop` outside 0.0–1.0 or not a number.
fn usage_errors_exit_2(target: &Target) -> Outcome {
    common::usage_errors_exit_2(target)?;
    for args in [
        &["server", "--port", "0", "--drop", "1.5"][..],
        &["server", "--port", "0", "--drop=-0.1"],
        &["server", "--port", "0", "--drop", "lots"],
    ] {
        run(target, args, b"", Duration::from_secs(10))?.expect_code(2)?;
    }
    Ok(())
}

mod client;
mod ping;
