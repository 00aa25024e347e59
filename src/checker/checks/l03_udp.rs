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

/// Bytes that are the same on every run but do not repeat in a short cycle, so that a lost or
/// shifted piece shows.
fn pattern(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            b'a' + (state % 26) as u8
        })
        .collect()
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

// --- A UDP server the check controls -------------------------------------------------------

/// What a [`UdpStub`] sends back for a datagram.
enum Answer {
    /// This datagram, from the stub's own address: what a server's echo looks like.
    Back(Vec<u8>),
    /// This datagram, from another address: a stranger writing to the client's port.
    Stranger(Vec<u8>),
}

/// How often the stub's thread looks at its stop flag between datagrams.
const STUB_POLL: Duration = Duration::from_millis(20);
/// The stub stops after this many datagrams, whatever the program under test does.
const STUB_MAX_DATAGRAMS: usize = 1000;

/// A UDP server on 127.0.0.1 that answers as a check decides: `answer(n, datagram)` is called
/// for the n-th datagram (from 1) and returns what to send back to its sender. Its thread ends
/// when [`UdpStub::finish`] is called or the stub is dropped, so it can never be left blocked.
struct UdpStub {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Vec<Vec<u8>>, Failure>>>,
}

impl UdpStub {
    fn start<F>(mut answer: F) -> Result<UdpStub, Failure>
    where
        F: FnMut(usize, &[u8]) -> Vec<Answer> + Send + 'static,
    {
        let socket =
            UdpSocket::bind("127.0.0.1:0").map_err(Failure::io("binding the test's server"))?;
        let stranger =
            UdpSocket::bind("127.0.0.1:0").map_err(Failure::io("binding the test's stranger"))?;
        socket
            .set_read_timeout(Some(STUB_POLL))
            .map_err(Failure::io("setting a timeout"))?;
        let addr = socket.local_addr().map_err(Failure::io("getsockname"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut received: Vec<Vec<u8>> = Vec::new();
            let mut buf = vec![0u8; BUFFER];
            while !stopped.load(Ordering::SeqCst) && received.len() < STUB_MAX_DATAGRAMS {
                let (n, peer) = match socket.recv_from(&mut buf) {
                    Ok(got) => got,
                    // The poll timeout, or an ICMP error about an earlier answer: keep going.
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::WouldBlock
                                | ErrorKind::TimedOut
                                | ErrorKind::Interrupted
                                | ErrorKind::ConnectionRefused
                                | ErrorKind::ConnectionReset
                        ) =>
                    {
                        continue;
                    }
                    Err(e) => return Err(Failure::new(format!("the test's UDP server: {e}"))),
                };
                received.push(buf[..n].to_vec());
                for reply in answer(received.len(), &buf[..n]) {
                    let (from, data) = match &reply {
                        Answer::Back(data) => (&socket, data),
                        Answer::Stranger(data) => (&stranger, data),
                    };
                    from.send_to(data, peer)
                        .map_err(Failure::io("the test's UDP server answering"))?;
                }
            }
            Ok(received)
        });
        Ok(UdpStub {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Stop the stub and return every datagram it received, in order.
    fn finish(mut self) -> Result<Vec<Vec<u8>>, Failure> {
        self.join()
    }

    fn join(&mut self) -> Result<Vec<Vec<u8>>, Failure> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(Failure::new("the test's UDP server panicked"))),
            None => Ok(Vec::new()),
        }
    }

    fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

impl Drop for UdpStub {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// An echo: the datagram back, from the stub's address.
fn echo(data: &[u8]) -> Vec<Answer> {
    vec![Answer::Back(data.to_vec())]
}

/// Datagrams as a list a student can read: `[b"hello", b"world"]`.
fn list(datagrams: &[Vec<u8>]) -> String {
    let shown: Vec<String> = datagrams.iter().map(|d| show_bytes(d, 40)).collect();
    format!("[{}]", shown.join(", "))
}

/// Run `client` against `stub`, then check what the stub received and what the client printed.
fn client_against(
    target: &Target,
    stub: UdpStub,
    args: &[&str],
    stdin: &[u8],
    want_sent: &[&[u8]],
    want_stdout: &[u8],
) -> Outcome {
    let port = stub.port();
    let mut all = vec!["client", "--port", &port, "-q"];
    all.extend_from_slice(args);
    let finished = run(target, &all, stdin, RUN_TIMEOUT)?;
    let received = stub.finish()?;
    finished.expect_code(0)?;
    let want: Vec<Vec<u8>> = want_sent.iter().map(|d| d.to_vec()).collect();
    ensure(received == want, || {
        finished
            .failure(format!("the client sent the datagrams {}", list(&received)))
            .expected(format!(
                "one datagram per message, exactly its bytes: {}",
                list(&want)
            ))
    })?;
    ensure(finished.stdout == want_stdout, || {
        finished
            .failure("the client did not print each echo on its own line")
            .expected(format!("stdout {}", show_bytes(want_stdout, 80)))
    })
}

/// Two messages, echoed at once by the stub.
pub fn client_prints_replies(target: &Target) -> Outcome {
    let stub = UdpStub::start(|_, data| echo(data))?;
    client_against(
        target,
        stub,
        &["--timeout-ms", "2000", "hello", "two words"],
        b"",
        &[b"hello", b"two words"],
        b"hello\ntwo words\n",
    )
}

/// No MESSAGE: each line of stdin, the last one without `\n`.
pub fn client_reads_stdin(target: &Target) -> Outcome {
    let stub = UdpStub::start(|_, data| echo(data))?;
    client_against(
        target,
        stub,
        &["--timeout-ms", "2000"],
        b"alpha\nbeta\ngamma",
        &[b"alpha", b"beta", b"gamma"],
        b"alpha\nbeta\ngamma\n",
    )
}

/// The stub ignores the first datagram and echoes the second: the client must have resent.
pub fn client_retries(target: &Target) -> Outcome {
    let stub = UdpStub::start(|n, data| if n == 1 { Vec::new() } else { echo(data) })?;
    client_against(
        target,
        stub,
        &["--timeout-ms", SAFE_TIMEOUT_MS, "--retries", "3", "hello"],
        b"",
        &[b"hello", b"hello"],
        b"hello\n",
    )
}

/// Before the echo of the second message the client gets a datagram from a stranger and a
/// stale second echo of the first message; it must print only the two real echoes.
pub fn client_ignores_strangers_and_stale_replies(target: &Target) -> Outcome {
    let stub = UdpStub::start(|n, data| match n {
        2 => vec![
            Answer::Stranger(b"intruder".to_vec()),
            Answer::Back(b"first".to_vec()),
            Answer::Back(data.to_vec()),
        ],
        _ => echo(data),
    })?;
    client_against(
        target,
        stub,
        &["--timeout-ms", "2000", "first", "second"],
        b"",
        &[b"first", b"second"],
        b"first\nsecond\n",
    )
}

/// A stub that never answers: two tries (`--retries 1`), then the error.
pub fn client_no_reply(target: &Target) -> Outcome {
    let stub = UdpStub::start(|_, _| Vec::new())?;
    let port = stub.port();
    let args = [
        "client",
        "--port",
        &port,
        "-q",
        "--timeout-ms",
        SHORT_TIMEOUT_MS,
        "--retries",
        "1",
        "hello",
    ];
    let finished = run(target, &args, b"", RUN_TIMEOUT)?;
    let received = stub.finish()?;
    common::expect_error(&finished, &["no reply"])?;
    ensure(received.len() == 2, || {
        finished
            .failure(format!(
                "the server received {} datagram(s): {}",
                received.len(),
                list(&received)
            ))
            .expected("2 tries with --retries 1: the first datagram and one resend")
    })
}

/// 70 000 bytes cannot be one IPv4 datagram: an error naming the limit, and nothing sent.
pub fn client_message_too_large(target: &Target) -> Outcome {
    let stub = UdpStub::start(|_, _| Vec::new())?;
    let port = stub.port();
    let message = "x".repeat(70_000);
    let args = [
        "client",
        "--port",
        &port,
        "-q",
        "--timeout-ms",
        SHORT_TIMEOUT_MS,
        "--retries",
        "0",
        &message,
    ];
    let finished = run(target, &args, b"", RUN_TIMEOUT)?;
    let received = stub.finish()?;
    common::expect_error(&finished, &["65507"])?;
    ensure(received.is_empty(), || {
        finished
            .failure(format!(
                "the client still sent {} datagram(s)",
                received.len()
            ))
            .expected("nothing sent: the size is checked before sendto()")
    })
}

// --- Ping ------------------------------------------------------------------------------------

/// What one probe's line said.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Probe {
    Reply,
    Timeout,
}

/// ping's stdout, read.
#[derive(Debug, Default)]
struct PingReport {
    /// Each line's sequence number and verdict, in order.
    probes: Vec<(u64, Probe)>,
    /// `N transmitted, M received, X% loss`
    summary: Option<(u64, u64, f64)>,
    /// `rtt min/avg/max = A/B/C ms`
    rtt: Option<(f64, f64, f64)>,
}

/// Read ping's stdout line by line; any line that is not part of the contract is an error.
fn parse_ping(stdout: &str) -> Result<PingReport, String> {
    let mut report = PingReport::default();
    for line in stdout.lines() {
        if line.contains(" transmitted") {
            let summary = parse_summary(line)
                .ok_or_else(|| format!("not `N transmitted, M received, X% loss`: {line:?}"))?;
            if report.summary.replace(summary).is_some() {
                return Err("two summary lines".to_string());
            }
        } else if let Some(rest) = line.strip_prefix("rtt min/avg/max = ") {
            let numbers: Vec<f64> = rest
                .strip_suffix(" ms")
                .unwrap_or("")
                .split('/')
                .filter_map(|n| n.trim().parse().ok())
                .collect();
            let [min, avg, max] = numbers[..] else {
                return Err(format!("not `rtt min/avg/max = A/B/C ms`: {line:?}"));
            };
            report.rtt = Some((min, avg, max));
        } else {
            let seq = line
                .split_whitespace()
                .find_map(|word| word.strip_prefix("seq="))
                .and_then(|n| n.trim_end_matches([':', ',']).parse::<u64>().ok())
                .ok_or_else(|| format!("a line that is not part of ping's output: {line:?}"))?;
            let verdict = if line.contains("timeout") {
                Probe::Timeout
            } else if line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("time="))
                .and_then(|t| t.trim_end_matches("ms").parse::<f64>().ok())
                .is_some_and(|t| t >= 0.0)
            {
                Probe::Reply
            } else {
                return Err(format!(
                    "a probe line with neither `time=T` nor `timeout`: {line:?}"
                ));
            };
            report.probes.push((seq, verdict));
        }
    }
    Ok(report)
}

/// `10 transmitted, 5 received, 50% loss` → (10, 5, 50.0).
fn parse_summary(line: &str) -> Option<(u64, u64, f64)> {
    let mut parts = line.split(',').map(str::trim);
    let sent = parts.next()?.strip_suffix(" transmitted")?.parse().ok()?;
    let received = parts.next()?.strip_suffix(" received")?.parse().ok()?;
    let loss = parts.next()?.strip_suffix("% loss")?.parse().ok()?;
    parts.next().is_none().then_some((sent, received, loss))
}

/// Run ping and check its output: one line per probe with the verdicts in `want` (`None`: any
/// verdict), a summary consistent with them, and an rtt line when there were replies. Returns
/// the summary's received count.
fn check_ping(
    target: &Target,
    port: &str,
    count: u64,
    timeout_ms: &str,
    want: &dyn Fn(u64) -> Option<Probe>,
    expected: &str,
) -> Result<(Finished, u64), Failure> {
    let count_text = count.to_string();
    let args = [
        "ping",
        "--port",
        port,
        "-q",
        "--count",
        &count_text,
        "--interval-ms",
        "0",
        "--timeout-ms",
        timeout_ms,
    ];
    let finished = run(target, &args, b"", RUN_TIMEOUT)?;
    finished.expect_code(0)?;
    let fail = |why: String| Err(finished.failure(why).expected(expected));
    let report = match parse_ping(&finished.stdout_text()) {
        Ok(report) => report,
        Err(why) => return fail(why),
    };
    let seqs: Vec<u64> = report.probes.iter().map(|(seq, _)| *seq).collect();
    if seqs != (1..=count).collect::<Vec<_>>() {
        return fail(format!(
            "the probe lines are for seq {seqs:?}, not one line for each of 1 to {count}"
        ));
    }
    for &(seq, verdict) in &report.probes {
        if want(seq).is_some_and(|w| w != verdict) {
            return fail(format!("probe seq={seq} is reported as {verdict:?}"));
        }
    }
    let replies = report
        .probes
        .iter()
        .filter(|(_, v)| *v == Probe::Reply)
        .count() as u64;
    let Some((sent, received, loss)) = report.summary else {
        return fail("no summary line `N transmitted, M received, X% loss`".to_string());
    };
    let exact = 100.0 * (sent.saturating_sub(received)) as f64 / sent.max(1) as f64;
    if sent != count || received != replies || (loss - exact).abs() >= 1.0 {
        return fail(format!(
            "the summary says {sent} transmitted, {received} received, {loss}% loss, but there \
             were {count} probes and {replies} reply lines"
        ));
    }
    match report.rtt {
        Some((min, avg, max)) if replies > 0 && min <= avg && avg <= max && min >= 0.0 => {}
        None if replies == 0 => {}
        _ => {
            return fail(
                "the line `rtt min/avg/max = A/B/C ms` is missing or wrong (it must have min ≤ avg ≤ max)"
                    .to_string(),
            );
        }
    }
    Ok((finished, received))
}

/// Three probes to the real server: three replies.
pub fn ping_reports_rtt(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let port = server.addr.port().to_string();
    check_ping(
        target,
        &port,
        3,
        "2000",
        &|_| Some(Probe::Reply),
        "3 reply lines (seq=1..3 with time=T ms), `3 transmitted, 3 received, 0% loss`, an rtt line",
    )
    .map_err(|f| f.stderr(server.stderr()))?;
    Ok(())
}

/// The stub answers probes 2, 4, 6, 8, 10 only.
pub fn ping_counts_loss(target: &Target) -> Outcome {
    let stub = UdpStub::start(|n, data| if n % 2 == 0 { echo(data) } else { Vec::new() })?;
    let (finished, received) = check_ping(
        target,
        &stub.port(),
        10,
        SAFE_TIMEOUT_MS,
        &|seq| {
            Some(if seq % 2 == 0 {
                Probe::Reply
            } else {
                Probe::Timeout
            })
        },
        "odd probes `seq=N timeout`, even ones replies, then `10 transmitted, 5 received, 50% loss`",
    )?;
    ensure(received == 5, || {
        finished.failure(format!("{received} received instead of 5"))
    })
}

/// The stub holds the echo of probe 1 and sends it just before the echo of probe 2, and never
/// answers probe 3: only probe 2 is a reply.
pub fn ping_ignores_late_replies(target: &Target) -> Outcome {
    let mut held = Vec::new();
    let stub = UdpStub::start(move |n, data| match n {
        1 => {
            held = data.to_vec();
            Vec::new()
        }
        2 => vec![Answer::Back(held.clone()), Answer::Back(data.to_vec())],
        _ => Vec::new(),
    })?;
    let (finished, received) = check_ping(
        target,
        &stub.port(),
        3,
        SAFE_TIMEOUT_MS,
        &|seq| {
            Some(if seq == 2 {
                Probe::Reply
            } else {
                Probe::Timeout
            })
        },
        "`seq=1 timeout`, a reply for seq=2, `seq=3 timeout` (the late echo of probe 1 is not probe \
         3's), then `3 transmitted, 1 received, 66.7% loss`",
    )?;
    ensure(received == 1, || {
        finished.failure(format!("{received} received instead of 1"))
    })
}

/// 20 probes through a server that drops half: loss strictly between 0% and 100%.
pub fn ping_shows_drop(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &["--drop", "0.5", "--seed", "1"])?;
    let port = server.addr.port().to_string();
    let (finished, received) = check_ping(
        target,
        &port,
        20,
        SHORT_TIMEOUT_MS,
        &|_| None,
        "20 probe lines, some replies and some timeouts, and the summary",
    )
    .map_err(|f| f.stderr(server.stderr()))?;
    ensure(0 < received && received < 20, || {
        finished
            .failure(format!(
                "{received} of 20 probes answered through a server that drops half"
            ))
            .expected("some loss but not all: between 1 and 19 received")
            .stderr(server.stderr())
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_output_is_parsed_strictly() {
        let out = "reply from 127.0.0.1:7003: seq=1 time=0.142 ms\nseq=2 timeout\n\
                   2 transmitted, 1 received, 50% loss\nrtt min/avg/max = 0.142/0.142/0.142 ms\n";
        let report = parse_ping(out).unwrap();
        assert_eq!(report.probes, [(1, Probe::Reply), (2, Probe::Timeout)]);
        assert_eq!(report.summary, Some((2, 1, 50.0)));
        assert!(report.rtt.is_some());
        assert_eq!(
            parse_summary("3 transmitted, 1 received, 66.7% loss"),
            Some((3, 1, 66.7))
        );
        assert!(parse_ping("PING 127.0.0.1\n").is_err());
        assert!(parse_ping("seq=1 lost\n").is_err());
    }
}
