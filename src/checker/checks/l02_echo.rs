//! Checks for lesson 02, the echo server and client: `lessons/02_echo.md#the-contract`.
//!
//! Server: echo every byte back unchanged, as it arrives, until the client shuts down its
//! sending side; then close; clients one after another. `--upper`: ASCII upper-case.
//! Client: `client [MESSAGE…]` sends each message (or stdin line) followed by `\n` and prints the
//! echo, whatever number of reads it arrives in; then shuts down its side and exits 0.
//!
//! The server and client checks are written for any echo server and client: lessons 04 and 05,
//! which serve this contract, take them from this declaration (`… from l02_echo { points }`).

use std::io::{Read, Write};
use std::net::Shutdown;

use super::common::{
    demo_exits_zero, pattern, privileged_port, tcp_client_refused as client_connection_refused,
    tcp_server_port_in_use as server_port_in_use, usage_errors_exit_2,
};
use super::{Failure, Outcome, common, ensure};
use crate::checker::harness::{
    RESET, RUN_TIMEOUT, Server, Target, TcpStub, connect, describe_io, io_failure, read_exact,
    read_to_end, run, send_in_pieces,
};
use crate::kit::narrate::show_bytes;

/// How many bytes of a message an `expected:` line shows.
const SHOW_BYTES: usize = 80;

tcp_lesson! {
    /// Lesson 02's checks.
    name: "02_echo",
    tests: l02_echo_tests,
    checks: [
        demo_exits_zero {
            title: "with no arguments, the demo runs and exits 0",
            points: 1,
            section: "run-it",
            hint: "the demo must end by itself; stop the server thread after the demo's clients",
        },
        server_echoes_bytes {
            title: "server echoes every byte value unchanged, then closes after the client's shutdown",
            points: 3,
            section: "the-contract",
            hint: "send back exactly what recv returned; close when recv returns 0 bytes",
        },
        server_echoes_as_data_arrives {
            title: "server echoes each piece as it arrives, without waiting for the end",
            points: 2,
            section: "a-read-is-not-a-message",
            hint: "echo what each recv() returned at once; do not wait for end of stream",
        },
        server_echoes_large_message {
            title: "server echoes a 1 MiB message completely",
            points: 3,
            section: "a-read-is-not-a-message",
            hint: "loop on recv() until it returns 0; use sendall()/write_all()",
        },
        server_serves_clients_one_after_another {
            title: "server serves three clients one after another",
            points: 2,
            section: "the-calls-in-order",
            hint: "after closing a client, go back to accept()",
        },
        server_prints_only_listening_on {
            title: "server's stdout holds only the `listening on ADDR` line",
            points: 1,
            section: "the-contract",
            hint: "narration (like `Connected by …`) belongs on stderr",
        },
        server_exit_after {
            title: "--exit-after 2: serves two clients, never exits while the 2nd is connected, then exits 0",
            points: 1,
            section: "the-contract",
            hint: "count the connections you accept; after the K-th has closed, leave the accept loop and return from main",
        },
        server_ipv6 {
            title: "server echoes over IPv6 loopback with --host ::1",
            points: 1,
            section: "the-contract",
            hint: "resolve the host and bind an AF_INET6 socket for ::1",
        },
        server_upper {
            title: "server --upper upper-cases ASCII letters and leaves other bytes alone",
            points: 2,
            section: "the-contract",
            hint: "upper-case byte by byte (bytes.upper() in Python), not by decoding text",
        },
        server_closes_idle_clients {
            title: "--idle-timeout-ms 500: a client silent for 500 ms is closed, and the next client is served",
            points: 2,
            section: "the-contract",
            hint: "set a read (and write) timeout on each accepted socket; when recv() times out, close the connection and accept the next",
        },
        client_prints_each_echo {
            title: "client sends each MESSAGE with `\\n` and prints each whole echo, however it is split",
            points: 3,
            section: "a-read-is-not-a-message",
            hint: "read until you have as many bytes as you sent",
        },
        client_reads_stdin_lines {
            title: "client with no MESSAGE sends each line of stdin",
            points: 2,
            section: "the-contract",
            hint: "send each stdin line with its `\\n` (a last line without one gets one), then read until the whole echo is back: one recv() may return half of it",
        },
        client_large_message {
            title: "client echoes a 1 MiB line from stdin without deadlock or loss",
            points: 3,
            section: "a-read-is-not-a-message",
            hint: "send and receive at the same time (a thread), and read until all bytes are back",
        },
    ],
    usage_errors_exit_2: {
        title: "bad flags and out-of-range ports exit 2",
        points: 1,
        section: "the-contract",
        hint: "usage errors exit 2",
    },
}

/// A 1 MiB message: far more than one read, more than the socket buffers.
const LARGE: usize = 1 << 20;

/// Fail with evidence unless `got == want`.
fn same(server: &Server, sent: &[u8], want: &[u8], got: &[u8], what: &str) -> Outcome {
    if got == want {
        return Ok(());
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    Err(server
        .failure(format!(
            "{what}: {} bytes back for {} expected; first difference at byte {at}",
            got.len(),
            want.len()
        ))
        .sent(sent.to_vec())
        .expected(format!("the same {} bytes back", want.len()))
        .received(got.to_vec()))
}

/// Send `data` and shut down our sending side (on a thread, so a large echo can flow back at
/// the same time), and read everything until the server closes.
fn echo_and_close(server: &Server, data: &[u8]) -> Result<Vec<u8>, Failure> {
    let with_evidence = |f: Failure| {
        // A reset: say how many of our bytes had not come back when the server closed.
        let f = if f.reason.contains(RESET) {
            let back = f.received.as_ref().map_or(0, Vec::len);
            Failure {
                reason: format!(
                    "{RESET}: your server closed the connection with {} of our {} bytes not \
                     echoed; closing a socket with unread data sends a reset (RST), not a \
                     normal close",
                    data.len().saturating_sub(back),
                    data.len()
                ),
                ..f
            }
        } else {
            f
        };
        f.command(server.process.command_line())
            .sent(data.to_vec())
            .expected(format!(
                "the same {} bytes back, then the server's close",
                data.len()
            ))
            .stderr(server.stderr())
    };
    let mut stream = connect(server.addr).map_err(with_evidence)?;
    let mut writer = stream
        .try_clone()
        .map_err(Failure::io("cloning the socket"))?;
    std::thread::scope(|scope| {
        let sending = scope.spawn(move || {
            writer
                .write_all(data)
                .and_then(|()| writer.shutdown(Shutdown::Write))
        });
        let got = read_to_end(&mut stream, data.len() + 64 * 1024).map_err(|f| {
            with_evidence(
                f.context("after our shutdown(SHUT_WR) the server must echo everything and close"),
            )
        });
        let sent = sending
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the sending thread panicked")));
        match (got, sent) {
            (Ok(got), Ok(())) => Ok(got),
            (Err(f), _) => Err(f),
            (Ok(got), Err(e)) => Err(with_evidence(
                Failure::new(format!("sending failed: {e}")).received(got),
            )),
        }
    })
}

/// Every byte value, a few times over: an echo server must not treat the data as text.
pub fn server_echoes_bytes(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let data: Vec<u8> = (0..=255u8)
        .cycle()
        .take(256 * 4)
        .chain(*b"hello\n")
        .collect();
    let got = echo_and_close(&server, &data)?;
    same(&server, &data, &data, &got, "echo")
}

/// Send a piece, wait for its echo, then send the next: a server that collects everything until
/// end of stream before echoing never answers the first piece.
pub fn server_echoes_as_data_arrives(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let mut stream = connect(server.addr)?;
    for piece in [&b"hel"[..], b"lo, ", b"world\n"] {
        stream
            .write_all(piece)
            .map_err(io_failure("sending a piece"))?;
        let got = read_exact(&mut stream, piece.len()).map_err(|f| {
            server
                .failure(format!(
                    "no echo of the piece {:?} before the connection ended: {}",
                    String::from_utf8_lossy(piece),
                    f.reason
                ))
                .sent(piece.to_vec())
                .expected("the piece echoed at once, while the connection stays open")
        })?;
        same(&server, piece, piece, &got, "echo of one piece")?;
    }
    Ok(())
}

/// 1 MiB, sent and received at the same time.
pub fn server_echoes_large_message(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let data = pattern(LARGE);
    let got = echo_and_close(&server, &data)?;
    same(&server, &data, &data, &got, "1 MiB echo")
}

/// Three clients in a row, each with its own message.
pub fn server_serves_clients_one_after_another(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    for n in 1..=3 {
        let data = format!("client {n} says hello\n").into_bytes();
        let got = echo_and_close(&server, &data).map_err(|f| f.context(format!("client {n}")))?;
        same(&server, &data, &data, &got, &format!("client {n}"))?;
    }
    Ok(())
}

/// Nothing on stdout but `listening on`, even after serving clients.
pub fn server_prints_only_listening_on(target: &Target) -> Outcome {
    common::stdout_only_listening_on(target, &[], |server| {
        for _ in 0..2 {
            echo_and_close(server, b"ping\n")?;
        }
        Ok(())
    })
}

/// `--host ::1`.
pub fn server_ipv6(target: &Target) -> Outcome {
    let server = common::ipv6_server(target, &[])?;
    let data = b"over IPv6\n";
    same(&server, data, data, &echo_and_close(&server, data)?, "echo")
}

/// `--upper`: letters up, everything else (digits, punctuation, UTF-8 bytes) unchanged.
pub fn server_upper(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &["--upper"])?;
    let data = "Hello, World! 123 café\n".as_bytes();
    let want = "HELLO, WORLD! 123 CAFé\n".as_bytes();
    same(
        &server,
        data,
        want,
        &echo_and_close(&server, data)?,
        "--upper",
    )
}

/// An echo stub that sends each echo back in two parts, the second once the client has read the
/// first, so a client that prints what one read returned prints half a message. Returns what the client sent.
fn splitting_echo_stub() -> Result<TcpStub, Failure> {
    TcpStub::start("127.0.0.1:0", |stream| {
        stream.set_nodelay(true).ok();
        let mut received = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = stream.read(&mut buf).map_err(|e| {
                Failure::new(format!(
                    "the client did not shut down or close its side: {}",
                    describe_io(&e)
                ))
                .server_saw(received.clone())
            })?;
            if n == 0 {
                return Ok(received);
            }
            received.extend_from_slice(&buf[..n]);
            let (first, second) = buf[..n].split_at(n.div_ceil(2));
            let echoing = |e: std::io::Error| {
                Failure::new(format!(
                    "while the test's server was echoing, the client left: {}",
                    describe_io(&e)
                ))
                .server_saw(received.clone())
            };
            // The second half leaves only once the client has read the first.
            send_in_pieces(stream, &[first, second]).map_err(echoing)?;
        }
    })
}

/// Run the client against the splitting stub; check what it sent and what it printed. The
/// evidence is the client's: its command line, stdout and stderr, and what the test's server saw.
fn client_against_stub(target: &Target, messages: &[&str], stdin: &[u8], want: &[u8]) -> Outcome {
    let stub = splitting_echo_stub()?;
    let port = stub.addr.port().to_string();
    let mut args = vec!["client", "--port", &port, "-q"];
    args.extend_from_slice(messages);
    let finished = run(target, &args, stdin, RUN_TIMEOUT)?;
    let sent = stub.finish().map_err(|f| {
        let saw = f.server_saw.clone().unwrap_or_default();
        finished
            .failure(f.reason)
            .expected(format!(
                "the client to send {} bytes, read every echo, then shut down its side",
                want.len()
            ))
            .server_saw(saw)
    })?;
    finished
        .expect_code(0)
        .map_err(|f| f.server_saw(sent.clone()))?;
    ensure(sent == want, || {
        finished
            .failure("the client did not send each message followed by `\\n`")
            .expected(format!(
                "the test's server to receive: {}",
                show_bytes(want, SHOW_BYTES)
            ))
            .server_saw(sent.clone())
    })?;
    ensure(finished.stdout == want, || {
        finished
            .failure(
                "the client did not print each whole echo (the test's server sends each echo in \
                 two parts, 50 ms apart: a client that prints what one recv() returned prints \
                 half of it)",
            )
            .sent(sent.clone())
            .expected(format!(
                "stdout exactly as sent: {}",
                show_bytes(want, SHOW_BYTES)
            ))
            .server_saw(sent.clone())
    })
}

/// `client hello world` prints `hello\nworld\n` though each echo arrives in two parts.
pub fn client_prints_each_echo(target: &Target) -> Outcome {
    client_against_stub(target, &["hello", "world"], b"", b"hello\nworld\n")
}

/// Stdin lines are the messages; the last line gets its missing `\n`.
pub fn client_reads_stdin_lines(target: &Target) -> Outcome {
    client_against_stub(target, &[], b"one\ntwo\nthree", b"one\ntwo\nthree\n")
}

/// One 1 MiB line through the client.
pub fn client_large_message(target: &Target) -> Outcome {
    let data = pattern(LARGE);
    client_against_stub(target, &[], &data, &data)
}

fn unknown_host(target: &Target) -> Outcome {
    common::unknown_host(target, "client", &["hello"])
}

/// An iterative server closes a silent client the way a threaded one does: the idle scenario is
/// written for both (the next client is served once the silent one is closed, within its
/// timeout).
pub fn server_closes_idle_clients(target: &Target) -> Outcome {
    common::idle_clients_are_closed(target, &[], 1)
}

/// `--exit-after 2`: client 1 is echoed and leaves; client 2 is echoed, and the server does
/// not exit while it is connected; once it closes, the server exits with status 0.
pub fn server_exit_after(target: &Target) -> Outcome {
    let mut server = Server::start_quiet(target, &["--exit-after", "2"])?;
    let addr = server.addr;
    let process = &mut server.process;
    let mut scenario = || -> Outcome {
        let mut one = common::Conn::open(addr, "client 1")?;
        one.echo(&one.message(1), "")?;
        one.close()?;
        let mut two = common::Conn::open(addr, "client 2")?;
        two.echo(&two.message(1), "")?;
        common::still_running(process, "while client 2 of --exit-after 2 is still connected")?;
        two.echo(&two.message(2), "")?;
        two.close()?;
        common::exits_zero(process, "after both of its --exit-after 2 clients closed")
    };
    let outcome = scenario();
    outcome.map_err(|f| common::with_evidence(&server, f))
}
