//! Checks for lesson 08, the protocol: `lessons/08_protocol.md#the-contract`.
//!
//! Frame: a 2-byte big-endian header length, a UTF-8 JSON header with `byteorder`,
//! `content-type`, `content-encoding` and `content-length`, then exactly `content-length` bytes.
//! Limits: a header of at most 8 KiB, content of at most 1 MiB.
//! Server: JSON requests `{"action": "search"|"echo"|"time", "value": …}` get JSON responses
//! `{"action", "value", "result"}`; binary content is echoed as binary content; several requests
//! per connection, answered in order; connections served at the same time. A broken frame or
//! request gets an error frame `{"error": "…"}` and the connection is closed — at once, never
//! after waiting for (or allocating) content the peer only claimed.
//! Client: `client ACTION VALUE` (or one `ACTION VALUE` per stdin line) prints each response:
//! JSON pretty-printed, binary as `binary: N bytes, crc32 XXXXXXXX`; an error response → exit 1.
//! `--unix PATH` for both: the same over `AF_UNIX`, the socket file private to its owner,
//! removed on exit, a stale one replaced, a live one or a non-socket never touched.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::common::{
    demo_exits_zero, tcp_client_refused as client_connection_refused,
    tcp_server_port_in_use as server_port_in_use, usage_errors_exit_2,
};
use super::l02_echo::pattern;
use super::{Failure, Outcome, common, ensure};
use crate::checker::harness::{
    IO_TIMEOUT, RUN_TIMEOUT, Server, Target, TcpStub, UnixServer, connect, run,
};
use crate::kit::framing::{
    BINARY, FrameError, JSON, MAX_CONTENT, MAX_HEADER, Message, RAW, UTF8, crc32, encode,
    read_message,
};

lesson! {
    /// Lesson 08's checks.
    name: "08_protocol",
    tests: l08_protocol_tests,
    checks: [
        demo_exits_zero {
            title: "with no arguments, the demo runs and exits 0",
            points: 1,
            section: "run-it",
            hint: "the demo must end by itself: stop the server after the demo's client",
        },
        server_answers_search {
            title: "`search` answers from the dictionary in a well-formed JSON frame",
            points: 3,
            section: "the-contract",
            hint: "a 2-byte big-endian length, the JSON header with its four fields, then exactly content-length bytes",
        },
        server_answers_time {
            title: "`time` answers the time in UTC, RFC 3339",
            points: 1,
            section: "the-contract",
            hint: "e.g. 2026-11-30T07:12:55.123Z",
        },
        server_echoes_binary {
            title: "binary content (5 bytes, then 1 MiB) comes back unchanged as binary content",
            points: 3,
            section: "the-frame-byte-by-byte",
            hint: "read exactly content-length bytes, however many recv() calls that takes",
        },
        server_answers_in_order {
            title: "three requests in one send get three responses, in order",
            points: 2,
            section: "a-recv-is-not-a-frame",
            hint: "read frame after frame from the same stream; never assume one recv() is one frame",
        },
        server_reads_split_frames {
            title: "a request split across several sends, even inside its length, is read whole",
            points: 3,
            section: "a-recv-is-not-a-frame",
            hint: "read exactly 2 bytes, then exactly the header, then exactly the content",
        },
        server_refuses_content_over_limit {
            title: "a content-length over 1 MiB gets an error frame at once, before any content",
            points: 3,
            section: "limits",
            hint: "check each length the peer claims before reading or allocating anything for it",
        },
        server_refuses_header_over_limit {
            title: "a header length over 8 KiB gets an error frame at once",
            points: 2,
            section: "limits",
            hint: "check the header length before reading the header",
        },
        server_refuses_invalid_json {
            title: "a header or a request that is not JSON gets an error frame and a close",
            points: 2,
            section: "errors",
            hint: "parse, and answer {\"error\": …} when parsing fails; never crash the server",
        },
        server_refuses_missing_field {
            title: "a header without content-length, a request without action: an error frame",
            points: 2,
            section: "errors",
            hint: "each of the four header fields and the request's action are required",
        },
        server_refuses_unknown_action {
            title: "an unknown action gets an error frame and a close",
            points: 1,
            section: "errors",
            hint: "the actions are search, echo and time",
        },
        server_answers_truncated_frame {
            title: "a frame cut short by the peer's shutdown gets an error frame",
            points: 2,
            section: "errors",
            hint: "the stream ending inside a frame is an error, not a request",
        },
        server_keeps_serving_others {
            title: "a broken peer is closed; the other connections go on being served",
            points: 3,
            section: "errors",
            hint: "an error closes that connection only; serve each connection on its own thread",
        },
        server_prints_only_listening_on {
            title: "server's stdout holds only the `listening on ADDR` line",
            points: 1,
            section: "the-contract",
            hint: "narration belongs on stderr",
        },
        server_ipv6 {
            title: "server answers over IPv6 loopback with --host ::1",
            points: 1,
            section: "the-contract",
            hint: "resolve the host and bind an AF_INET6 socket for ::1",
        },
        client_prints_json_response {
            title: "client sends a well-formed request and pretty-prints the JSON response, however it is split",
            points: 3,
            section: "the-client",
            hint: "read the whole response frame; print the JSON indented",
        },
        client_prints_binary_summary {
            title: "`client echo TEXT` sends binary content and prints `binary: N bytes, crc32 X`",
            points: 2,
            section: "the-client",
            hint: "CRC-32 as zlib computes it, 8 lowercase hex digits",
        },
        client_reads_stdin_lines {
            title: "client with no ACTION sends one request per stdin line on one connection",
            points: 2,
            section: "the-client",
            hint: "each line is ACTION VALUE; blank lines are skipped",
        },
        client_error_response_exits_1 {
            title: "an error response is printed and the client exits 1 with `error:`",
            points: 1,
            section: "the-client",
            hint: "an error frame is the server refusing: report it",
        },
        unix_server_answers {
            title: "`server --unix PATH` prints `listening on PATH` and answers over AF_UNIX",
            points: 2,
            section: "unix-domain-sockets",
            hint: "bind an AF_UNIX socket to the path; the protocol is the same",
        },
        unix_socket_file_is_private {
            title: "the socket file is readable and writable by its owner only",
            points: 1,
            section: "unix-domain-sockets",
            hint: "set umask 0177 around bind(), so the file is never open to others",
        },
        unix_socket_removed_on_exit {
            title: "after SIGTERM the server exits and removes its socket file",
            points: 2,
            section: "unix-domain-sockets",
            hint: "remove the socket file when the server stops",
        },
        unix_stale_socket_replaced {
            title: "a stale socket file (nobody listening) is replaced",
            points: 2,
            section: "unix-domain-sockets",
            hint: "connect to it first: refused means stale, remove it and bind",
        },
        unix_live_socket_not_stolen {
            title: "a socket another server listens on is left alone: `error: … in use`, exit 1",
            points: 2,
            section: "unix-domain-sockets",
            hint: "never unlink a socket someone answers on",
        },
        unix_other_file_not_replaced {
            title: "a path holding a regular file is left alone: `error:`, exit 1",
            points: 1,
            section: "unix-domain-sockets",
            hint: "only a socket file may be replaced",
        },
        unix_client {
            title: "`client --unix PATH` talks the same protocol over AF_UNIX",
            points: 1,
            section: "unix-domain-sockets",
            hint: "connect an AF_UNIX socket to the path",
        },
        server_port_in_use {
            title: "server on a port already in use: `error: …in use`, exit 1",
            points: 1,
            section: "when-things-go-wrong",
            hint: "catch the bind error and print one `error:` line",
        },
        client_connection_refused {
            title: "client with no server: `error: …refused`, exit 1",
            points: 1,
            section: "when-things-go-wrong",
            hint: "catch the connect error and print one `error:` line",
        },
        unknown_host {
            title: "an unknown host name: `error:` naming the host, exit 1",
            points: 1,
            section: "when-things-go-wrong",
            hint: "report the host you could not resolve",
        },
        usage_errors_exit_2 {
            title: "bad flags and out-of-range ports exit 2",
            points: 1,
            section: "the-contract",
            hint: "usage errors exit 2",
        },
    ],
}

/// The dictionary entries the checks look up (the whole dictionary is on the lesson page).
const SOCKET: &str = "an endpoint of a conversation between two programs";
const FERRIS: &str = "Ferris, the Rust crab";

fn unknown_host(target: &Target) -> Outcome {
    common::unknown_host(target, "client", &["time"])
}

// ------------------------------------------------------------------------------------------
// Reading and writing frames, with evidence.

/// A reader that keeps (the first 4 KiB of) what it read, to show as evidence.
struct Recorded<R> {
    inner: R,
    seen: Vec<u8>,
}

impl<R: Read> Read for Recorded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let room = 4096usize.saturating_sub(self.seen.len()).min(n);
        self.seen.extend_from_slice(&buf[..room]);
        Ok(n)
    }
}

/// One end of a connection to the program: TCP or Unix, reads and writes bounded by
/// [`IO_TIMEOUT`], everything read kept for evidence.
struct Peer<S: Read + Write> {
    stream: Recorded<S>,
    sent: Vec<u8>,
    /// The program's command line and stderr, for evidence.
    evidence: Box<dyn Fn(Failure) -> Failure>,
}

impl<S: Read + Write> Peer<S> {
    fn new(stream: S, evidence: Box<dyn Fn(Failure) -> Failure>) -> Peer<S> {
        Peer {
            stream: Recorded {
                inner: stream,
                seen: Vec::new(),
            },
            sent: Vec::new(),
            evidence,
        }
    }

    fn fail(&self, reason: impl Into<String>) -> Failure {
        let failure = Failure::new(reason)
            .sent(self.sent.clone())
            .received(self.stream.seen.clone());
        (self.evidence)(failure)
    }

    fn send(&mut self, bytes: &[u8]) -> Outcome {
        self.sent.extend_from_slice(&bytes[..bytes.len().min(4096)]);
        self.stream
            .inner
            .write_all(bytes)
            .map_err(|e| self.fail(format!("sending: {e}")))
    }

    fn request(&mut self, message: &Message) -> Outcome {
        let frame = encode(message).map_err(|e| self.fail(e.to_string()))?;
        self.send(&frame)
    }

    /// The next frame; a clean end of stream is a failure here.
    fn response(&mut self, waiting_for: &str) -> Result<Message, Failure> {
        match read_message(&mut self.stream) {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(self.fail(format!(
                "the connection closed before {waiting_for} arrived"
            ))),
            Err(FrameError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(self.fail(format!(
                    "no complete frame ({waiting_for}) within {} s",
                    IO_TIMEOUT.as_secs()
                )))
            }
            Err(e) => Err(self.fail(format!("reading {waiting_for}: {e}"))),
        }
    }

    /// The next frame must be JSON; returns its value.
    fn json_response(&mut self, waiting_for: &str) -> Result<Value, Failure> {
        let message = self.response(waiting_for)?;
        json_of(&message).map_err(|why| self.fail(format!("{waiting_for}: {why}")))
    }

    /// The next frame must be an error frame, and then the connection must close.
    fn expect_refusal(&mut self, why: &str) -> Outcome {
        let value = self.json_response(&format!("an error frame ({why})"))?;
        ensure(value.get("error").is_some_and(Value::is_string), || {
            self.fail(format!("{why}: the answer is not an error frame"))
                .expected("a JSON response {\"error\": \"…\"}")
        })?;
        match read_message(&mut self.stream) {
            Ok(None) => Ok(()),
            Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
            Ok(Some(_)) => Err(self.fail(format!(
                "{why}: after the error frame, another frame instead of a close"
            ))),
            Err(e) => Err(self.fail(format!(
                "{why}: after the error frame the connection must close: {e}"
            ))),
        }
    }
}

/// A message's content as JSON, checking its header says so.
fn json_of(message: &Message) -> Result<Value, String> {
    let header = &message.header;
    if header.content_type != JSON || header.content_encoding != UTF8 {
        return Err(format!(
            "expected content-type {JSON} and content-encoding {UTF8}, got {} and {}",
            header.content_type, header.content_encoding
        ));
    }
    serde_json::from_slice(&message.content).map_err(|e| format!("the content is not JSON: {e}"))
}

fn tcp_peer(server: &Server) -> Result<Peer<TcpStream>, Failure> {
    let stream = connect(server.addr)?;
    let (command, stderr) = (server.process.command_line().to_string(), server.stderr());
    Ok(Peer::new(
        stream,
        Box::new(move |f| f.command(&command).stderr(stderr.clone())),
    ))
}

fn unix_peer(server: &UnixServer) -> Result<Peer<UnixStream>, Failure> {
    let stream = UnixStream::connect(&server.path)
        .map_err(|e| server.failure(format!("connecting to {}: {e}", server.path.display())))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(Failure::io("setting timeouts"))?;
    let command = server.process.command_line().to_string();
    let stderr = server.process.stderr();
    Ok(Peer::new(
        stream,
        Box::new(move |f| f.command(&command).stderr(stderr.clone())),
    ))
}

/// A frame made by hand, for the frames a correct sender never makes.
fn raw_frame(header: &str, content: &[u8]) -> Vec<u8> {
    let mut frame = (header.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(content);
    frame
}

fn header_json(content_type: &str, encoding: &str, length: u64) -> String {
    json!({
        "byteorder": "big",
        "content-type": content_type,
        "content-encoding": encoding,
        "content-length": length,
    })
    .to_string()
}

fn search(word: &str) -> Message {
    Message::json(&json!({"action": "search", "value": word}))
}

/// Send `search WORD` on `peer` and check the answer is `result`.
fn expect_search<S: Read + Write>(peer: &mut Peer<S>, word: &str, result: Value) -> Outcome {
    peer.request(&search(word))?;
    let got = peer.json_response(&format!("the answer to search {word:?}"))?;
    let want = json!({"action": "search", "value": word, "result": result});
    ensure(got == want, || {
        peer.fail(format!("the answer to search {word:?} is not right"))
            .expected(want.to_string())
    })
}

// ------------------------------------------------------------------------------------------
// The server.

fn server_answers_search(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let mut peer = tcp_peer(&server)?;
    expect_search(&mut peer, "socket", Value::from(SOCKET))?;
    expect_search(&mut peer, "🦀", Value::from(FERRIS))?;
    expect_search(&mut peer, "xyzzy", Value::Null)
}

fn server_answers_time(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let mut peer = tcp_peer(&server)?;
    peer.request(&Message::json(&json!({"action": "time"})))?;
    let got = peer.json_response("the answer to time")?;
    let text = got["result"].as_str().unwrap_or_default();
    let close = humantime::parse_rfc3339(text).is_ok_and(|when| {
        let now = SystemTime::now();
        let gap = now
            .duration_since(when)
            .or_else(|_| when.duration_since(now));
        gap.is_ok_and(|gap| gap < Duration::from_secs(60))
    });
    ensure(got["action"] == "time" && close, || {
        peer.fail("the answer to time is not the time now")
            .expected("{\"action\": \"time\", \"result\": \"2026-11-30T07:12:55.123Z\"} (UTC, now)")
    })
}

fn server_echoes_binary(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let mut peer = tcp_peer(&server)?;
    for data in [b"hello".to_vec(), pattern(MAX_CONTENT as usize)] {
        peer.request(&Message::binary(data.clone()))?;
        let got = peer.response(&format!("the echo of {} bytes", data.len()))?;
        let header = &got.header;
        ensure(
            header.content_type == BINARY && header.content_encoding == RAW,
            || {
                peer.fail("the echo of binary content is not binary content")
                    .expected(format!("content-type {BINARY}, content-encoding {RAW}"))
            },
        )?;
        ensure(got.content == data, || {
            peer.fail(format!(
                "{} bytes sent, {} bytes back, not the same",
                data.len(),
                got.content.len()
            ))
        })?;
    }
    Ok(())
}

fn server_answers_in_order(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let mut peer = tcp_peer(&server)?;
    let bytes: Vec<u8> = (0..=255u8).collect();
    let mut all = Vec::new();
    for message in [
        search("socket"),
        Message::binary(bytes.clone()),
        Message::json(&json!({"action": "time"})),
    ] {
        all.extend(encode(&message).map_err(|e| Failure::new(e.to_string()))?);
    }
    peer.send(&all)?;
    expect_first(&mut peer, "the first response (search)", |m| {
        json_of(m).is_ok_and(|v| v["result"] == SOCKET)
    })?;
    expect_first(&mut peer, "the second response (echo)", |m| {
        m.content == bytes
    })?;
    expect_first(&mut peer, "the third response (time)", |m| {
        json_of(m).is_ok_and(|v| v["action"] == "time")
    })
}

fn expect_first<S: Read + Write>(
    peer: &mut Peer<S>,
    what: &str,
    good: impl Fn(&Message) -> bool,
) -> Outcome {
    let got = peer.response(what)?;
    ensure(good(&got), || {
        peer.fail(format!(
            "{what} is not the answer to the request in that place"
        ))
        .expected("search, echo, time answered in the order they were sent")
    })
}

fn server_reads_split_frames(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let mut peer = tcp_peer(&server)?;
    peer.stream.inner.set_nodelay(true).ok();
    let frame = encode(&search("socket")).map_err(|e| Failure::new(e.to_string()))?;
    // One byte of the length, the other with half the header, then the rest: three sends.
    let cut = 2 + (frame.len() - 2) / 2;
    for piece in [&frame[..1], &frame[1..cut], &frame[cut..]] {
        peer.send(piece)?;
        // Shapes the data into separate segments; nothing waits on this pause.
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = peer.json_response("the answer to a request sent in three pieces")?;
    ensure(got["result"] == SOCKET, || {
        peer.fail("the answer to search \"socket\" is not right")
    })
}

/// Send `bytes` on a new connection (then shut down our side if `shut`) and expect an error
/// frame, then a close.
fn expect_refused(server: &Server, bytes: &[u8], shut: bool, why: &str) -> Outcome {
    let mut peer = tcp_peer(server)?;
    peer.send(bytes)?;
    if shut {
        peer.stream.inner.shutdown(Shutdown::Write).ok();
    }
    peer.expect_refusal(why)
}

fn server_refuses_content_over_limit(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    // The claim only: no content follows. The answer must come without waiting for any.
    let claim = raw_frame(&header_json(BINARY, RAW, MAX_CONTENT + 1), b"");
    expect_refused(
        &server,
        &claim,
        false,
        "content-length 1 MiB + 1, no content sent",
    )
}

fn server_refuses_header_over_limit(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let claim = ((MAX_HEADER + 1) as u16).to_be_bytes();
    expect_refused(&server, &claim, false, "header length 8193, no header sent")?;
    expect_refused(&server, &[0xff, 0xff], false, "header length 65535")
}

fn server_refuses_invalid_json(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    expect_refused(
        &server,
        &raw_frame("{not json", b""),
        false,
        "a header that is not JSON",
    )?;
    let body = b"{\"action\": \"search\", oops";
    let frame = raw_frame(&header_json(JSON, UTF8, body.len() as u64), body);
    expect_refused(
        &server,
        &frame,
        false,
        "a request whose content is not JSON",
    )
}

fn server_refuses_missing_field(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let header = json!({"byteorder": "big", "content-type": JSON, "content-encoding": UTF8});
    let frame = raw_frame(&header.to_string(), b"");
    expect_refused(&server, &frame, false, "a header without content-length")?;
    let body = br#"{"value": "socket"}"#;
    let frame = raw_frame(&header_json(JSON, UTF8, body.len() as u64), body);
    expect_refused(&server, &frame, false, "a request without action")
}

fn server_refuses_unknown_action(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let frame = encode(&Message::json(
        &json!({"action": "dance", "value": "tango"}),
    ))
    .map_err(|e| Failure::new(e.to_string()))?;
    expect_refused(&server, &frame, false, "the action `dance`")
}

fn server_answers_truncated_frame(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let frame = encode(&Message::binary(b"0123456789".to_vec()))
        .map_err(|e| Failure::new(e.to_string()))?;
    let in_header = &frame[..frame.len() / 2];
    expect_refused(
        &server,
        in_header,
        true,
        "the stream ends inside the header",
    )?;
    let in_content = &frame[..frame.len() - 4];
    expect_refused(
        &server,
        in_content,
        true,
        "the stream ends inside the content",
    )
}

fn server_keeps_serving_others(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let mut first = tcp_peer(&server)?;
    expect_search(&mut first, "socket", Value::from(SOCKET))?;
    expect_refused(&server, &[0xff, 0xff], false, "header length 65535")?;
    // A third connection is served while the first one is still open…
    let mut third = tcp_peer(&server)?;
    expect_search(&mut third, "🦀", Value::from(FERRIS))
        .map_err(|f| f.context("a new connection while another is open"))?;
    // …and the first one was not disturbed by the broken peer.
    expect_search(
        &mut first,
        "port",
        Value::from("a 16-bit number that picks one program on a host"),
    )
    .map_err(|f| f.context("the first connection, after another peer was refused"))
}

fn server_prints_only_listening_on(target: &Target) -> Outcome {
    common::stdout_only_listening_on(target, &[], |server| {
        let mut peer = tcp_peer(server)?;
        expect_search(&mut peer, "socket", Value::from(SOCKET))
    })
}

fn server_ipv6(target: &Target) -> Outcome {
    let server = common::ipv6_server(target, &[])?;
    let mut peer = tcp_peer(&server)?;
    expect_search(&mut peer, "socket", Value::from(SOCKET))
}

// ------------------------------------------------------------------------------------------
// The client, against a stub server.

/// Send `frame` in pieces — one byte, then the rest in two parts — so that a client that takes
/// one recv for one frame gets half of it.
fn send_in_pieces(stream: &mut impl Write, frame: &[u8]) -> Result<(), Failure> {
    let cut = 1 + (frame.len() - 1) / 2;
    for piece in [&frame[..1], &frame[1..cut], &frame[cut..]] {
        stream
            .write_all(piece)
            .and_then(|()| stream.flush())
            .map_err(Failure::io("answering the client"))?;
        // Shapes the data into separate segments; nothing waits on this pause.
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// What a stub expects of each request, and what it answers.
type Script = Vec<(fn(&Message) -> bool, &'static str, Message)>;

/// Play `script` on one connection: read each request, check it, answer it in pieces; then
/// expect the client to close. Returns the raw bytes the client sent (for evidence).
fn play(stream: &mut (impl Read + Write), script: Script) -> Result<Vec<u8>, Failure> {
    let mut reader = Recorded {
        inner: stream,
        seen: Vec::new(),
    };
    for (good, what, answer) in script {
        let request = match read_message(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) => {
                return Err(
                    Failure::new(format!("the client closed before sending {what}"))
                        .received(reader.seen),
                );
            }
            Err(e) => {
                return Err(Failure::new(format!("reading {what} from the client: {e}"))
                    .received(reader.seen));
            }
        };
        if !good(&request) {
            return Err(
                Failure::new(format!("the client's request is not {what}")).received(reader.seen)
            );
        }
        let frame = encode(&answer).map_err(|e| Failure::new(e.to_string()))?;
        send_in_pieces(reader.inner, &frame)?;
    }
    match read_message(&mut reader) {
        Ok(None) => Ok(reader.seen),
        _ => Err(
            Failure::new("after its last response, the client did not close (or sent more)")
                .received(reader.seen),
        ),
    }
}

fn is_search_socket(m: &Message) -> bool {
    json_of(m).is_ok_and(|v| v["action"] == "search" && v["value"] == "socket")
}

fn is_time(m: &Message) -> bool {
    json_of(m).is_ok_and(|v| v["action"] == "time")
}

fn is_binary_abc(m: &Message) -> bool {
    m.header.content_type == BINARY && m.header.content_encoding == RAW && m.content == b"abc"
}

fn is_binary_hello(m: &Message) -> bool {
    m.header.content_type == BINARY && m.content == b"hello"
}

/// Run `client ARGS` against a TCP stub playing `script`; return how it finished.
fn client_against(
    target: &Target,
    args: &[&str],
    stdin: &[u8],
    script: Script,
) -> Result<crate::checker::harness::Finished, Failure> {
    let stub = TcpStub::start("127.0.0.1:0", move |stream| play(stream, script))?;
    let port = stub.addr.port().to_string();
    let mut all = vec!["client", "--port", &port, "-q"];
    all.extend_from_slice(args);
    let finished = run(target, &all, stdin, RUN_TIMEOUT)?;
    let sent = stub.finish();
    sent.map_err(|f| {
        f.context("the test's server")
            .command(&finished.command)
            .stderr(finished.stderr.clone())
    })?;
    Ok(finished)
}

/// Every JSON document on stdout, in order.
fn json_documents(stdout: &[u8]) -> Result<Vec<Value>, String> {
    serde_json::Deserializer::from_slice(stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

fn client_prints_json_response(target: &Target) -> Outcome {
    let answer = json!({"action": "search", "value": "socket", "result": "from the test's server"});
    let script: Script = vec![(is_search_socket, "search socket", Message::json(&answer))];
    let finished = client_against(target, &["search", "socket"], b"", script)?;
    finished.expect_code(0)?;
    let docs = json_documents(&finished.stdout);
    ensure(docs.as_ref().is_ok_and(|d| *d == [answer.clone()]), || {
        finished
            .failure("stdout is not the response's JSON")
            .expected(answer.to_string())
    })?;
    ensure(finished.stdout_text().contains("\n  \""), || {
        finished
            .failure("the JSON is not pretty-printed")
            .expected("one key per line, indented")
    })
}

fn client_prints_binary_summary(target: &Target) -> Outcome {
    let data = pattern(200 * 1024);
    let want = format!("binary: {} bytes, crc32 {:08x}\n", data.len(), crc32(&data));
    let script: Script = vec![(
        is_binary_hello,
        "binary content `hello`",
        Message::binary(data),
    )];
    let finished = client_against(target, &["echo", "hello"], b"", script)?;
    finished.expect_code(0)?;
    ensure(finished.stdout_text() == want, || {
        finished
            .failure("the client did not print the binary summary")
            .expected(want.clone())
    })
}

fn client_reads_stdin_lines(target: &Target) -> Outcome {
    let script: Script = vec![
        (
            is_search_socket,
            "search socket (line 1)",
            Message::json(&json!({"n": 1})),
        ),
        (is_time, "time (line 3)", Message::json(&json!({"n": 2}))),
        (
            is_binary_abc,
            "binary content `abc` (line 4)",
            Message::json(&json!({"n": 3})),
        ),
    ];
    let stdin = b"search socket\n\ntime\necho abc\n";
    let finished = client_against(target, &[], stdin, script)?;
    finished.expect_code(0)?;
    let want = vec![json!({"n": 1}), json!({"n": 2}), json!({"n": 3})];
    ensure(
        json_documents(&finished.stdout).is_ok_and(|d| d == want),
        || {
            finished
                .failure("the client did not print the three responses in order")
                .sent(stdin.to_vec())
                .expected("{\"n\": 1} {\"n\": 2} {\"n\": 3}, pretty-printed")
        },
    )
}

fn client_error_response_exits_1(target: &Target) -> Outcome {
    let refusal = json!({"error": "nope, not today"});
    let script: Script = vec![(is_search_socket, "search socket", Message::json(&refusal))];
    let finished = client_against(target, &["search", "socket"], b"", script)?;
    common::expect_error(&finished, &["nope, not today"])
}

// ------------------------------------------------------------------------------------------
// Unix domain sockets.

/// A private temporary directory for socket files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, Failure> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("wb08-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).map_err(Failure::io("creating a temporary directory"))?;
        Ok(TempDir(dir))
    }

    fn socket(&self) -> PathBuf {
        self.0.join("08.sock")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unix_server_answers(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let server = UnixServer::start(target, &dir.socket(), &[])?;
    let mut peer = unix_peer(&server)?;
    expect_search(&mut peer, "socket", Value::from(SOCKET))?;
    peer.request(&Message::binary(b"over AF_UNIX".to_vec()))?;
    expect_first(&mut peer, "the echo", |m| m.content == b"over AF_UNIX")
}

fn unix_socket_file_is_private(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let server = UnixServer::start(target, &dir.socket(), &[])?;
    let mode = std::fs::symlink_metadata(&server.path)
        .map_err(|e| server.failure(format!("the socket file is missing: {e}")))?
        .permissions()
        .mode();
    ensure(mode & 0o077 == 0, || {
        server
            .failure(format!("the socket file's mode is {:o}", mode & 0o777))
            .expected("600: only the owner may connect (umask 0177 around bind)")
    })
}

fn unix_socket_removed_on_exit(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let mut server = UnixServer::start(target, &dir.socket(), &[])?;
    {
        let mut peer = unix_peer(&server)?;
        expect_search(&mut peer, "socket", Value::from(SOCKET))?;
        peer.stream.inner.shutdown(Shutdown::Write).ok();
        // Wait for the server to close this connection, so SIGTERM finds it idle.
        let _ = read_message(&mut peer.stream);
    }
    server.process.signal(libc::SIGTERM);
    let status = server.process.wait_timeout(Duration::from_secs(10));
    ensure(status.is_some(), || {
        server.failure("the server did not exit within 10 s of SIGTERM")
    })?;
    ensure(!server.path.exists(), || {
        server
            .failure("the server exited and left its socket file behind")
            .expected(format!("{} removed", server.path.display()))
    })
}

fn unix_stale_socket_replaced(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    // A socket file nobody listens on: what a crashed server leaves.
    drop(UnixListener::bind(dir.socket()).map_err(Failure::io("making a stale socket file"))?);
    let server = UnixServer::start(target, &dir.socket(), &[])
        .map_err(|f| f.context("over a stale socket file"))?;
    let mut peer = unix_peer(&server)?;
    expect_search(&mut peer, "socket", Value::from(SOCKET))
}

/// `server --unix PATH` must refuse to start: `error:` mentioning `words`, exit 1.
fn refused_unix_server(
    target: &Target,
    path: &std::path::Path,
    words: &[&str],
) -> Result<crate::checker::harness::Finished, Failure> {
    let shown = path.display().to_string();
    let args = ["server", "--unix", &shown, "-q"];
    let finished = run(target, &args, b"", Duration::from_secs(10))?;
    common::expect_error(&finished, words)?;
    Ok(finished)
}

fn unix_live_socket_not_stolen(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let path = dir.socket();
    let owner = UnixListener::bind(&path).map_err(Failure::io("binding the test's socket"))?;
    let finished = refused_unix_server(target, &path, &["in use"])?;
    // Still ours: a connection to the path reaches our listener.
    owner
        .set_nonblocking(true)
        .map_err(Failure::io("making the test's listener non-blocking"))?;
    let reached = UnixStream::connect(&path).is_ok() && owner.accept().is_ok();
    ensure(reached, || {
        finished
            .failure("the socket file of a live server was replaced")
            .expected("the file left alone, still reaching the server that owns it")
    })
}

fn unix_other_file_not_replaced(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let path = dir.socket();
    std::fs::write(&path, b"precious\n").map_err(Failure::io("writing a file"))?;
    let finished = refused_unix_server(target, &path, &[])?;
    let kept = std::fs::read(&path).is_ok_and(|c| c == b"precious\n");
    ensure(kept, || {
        finished
            .failure("a regular file at the path was removed or changed")
            .expected("the file left alone and an `error:` line")
    })
}

fn unix_client(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let path = dir.socket();
    let listener = UnixListener::bind(&path).map_err(Failure::io("binding the test's socket"))?;
    let answer = json!({"action": "search", "value": "socket", "result": "over AF_UNIX"});
    let reply = answer.clone();
    let stub = std::thread::spawn(move || -> Result<Vec<u8>, Failure> {
        let (mut stream, _) = listener.accept().map_err(Failure::io("accepting"))?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .map_err(Failure::io("setting a timeout"))?;
        let script: Script = vec![(is_search_socket, "search socket", Message::json(&reply))];
        play(&mut stream, script)
    });
    let shown = path.display().to_string();
    let finished = run(
        target,
        &["client", "--unix", &shown, "-q", "search", "socket"],
        b"",
        RUN_TIMEOUT,
    )?;
    if !stub.is_finished() {
        // The client never came: unblock the stub's accept.
        let _ = UnixStream::connect(&path);
    }
    stub.join()
        .unwrap_or_else(|_| Err(Failure::new("the test's server panicked")))
        .map_err(|f| f.context("the test's server").command(&finished.command))?;
    finished.expect_code(0)?;
    ensure(
        json_documents(&finished.stdout).is_ok_and(|d| d == [answer.clone()]),
        || {
            finished
                .failure("stdout is not the response's JSON")
                .expected(answer.to_string())
        },
    )
}
