//! Checks for lesson 08, the protocol: `lessons/08_protocol.md#the-contract`.
//!
//! Frame: a 2-byte big-endian header length, a UTF-8 JSON header with `byteorder`,
//! `content-type`, `content-encoding` and `content-length`, then exactly `content-length` bytes.
//! Limits: a header of at most 8 KiB, content of at most 1 MiB.
//! Server: JSON requests `{"action": "search"|"echo"|"time", "value": …}` get JSON responses
//! `{"action", "value", "result"}`; binary content is echoed as binary content; several requests
//! per connection, answered in order; connections served at the same time. A broken frame or
//! request gets an error frame `{"error": "…"}` and the connection is closed — at once, never
//! after waiting for (or allocating) content the peer only claimed. Time: refusing never waits
//! on the refused peer, and a frame must arrive whole within `--frame-deadline-ms` of its first
//! byte (plus the minimum rate), so 64 trickling peers cannot hold every slot (slowloris).
//! Client: `client ACTION VALUE` (or one `ACTION VALUE` per stdin line) prints each response:
//! JSON pretty-printed, binary as `binary: N bytes, crc32 XXXXXXXX`; an error response → exit 1.
//! `--unix PATH` for both: the same over `AF_UNIX`, the socket file private to its owner,
//! removed on exit, a stale one replaced, a live one or a non-socket never touched.
//!
//! Frames are written and read with [`frames`], the checker's own encoder and decoder, written
//! from the contract: never with the lesson's `framing.rs`, so that the judge cannot share a bug
//! with the program it judges.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::common::{
    demo_exits_zero, pattern, privileged_port, tcp_client_refused as client_connection_refused,
    tcp_server_port_in_use as server_port_in_use, usage_errors_exit_2,
};
use super::{Failure, Outcome, common, ensure};
use crate::checker::harness::{
    Delivery, IO_TIMEOUT, RUN_TIMEOUT, Server, Target, TcpStub, UnixServer, connect, run,
    send_in_pieces,
};

mod client;
pub mod frames;
mod peer;
mod siege;
mod unix;

use frames::{
    BINARY, Frame, FrameError, JSON, MAX_CONTENT, MAX_HEADER, RAW, UTF8, crc32, encode,
    header_json, raw_frame, read_frame,
};

use client::{
    client_error_response_exits_1, client_prints_binary_summary, client_prints_json_response,
    client_reads_stdin_lines,
};
use peer::{Recorded, expect_first, expect_search, json_of, search, tcp_peer};
use siege::{server_flood_of_silent_connections, server_slowloris_trickle};
use unix::{
    unix_client, unix_live_socket_not_stolen, unix_other_file_not_replaced, unix_server_answers,
    unix_socket_file_is_private, unix_socket_removed_on_exit, unix_stale_socket_replaced,
};

tcp_lesson! {
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
        server_flood_of_silent_connections {
            title: "a flood of connections that send nothing (up to 2,000, as many as connect within 5 s): a newcomer is still answered, or told `busy`, within 1 s",
            points: 2,
            section: "slow-and-silent-peers",
            hint: "refusing must never wait on the refused peer: send the short `busy` frame without blocking and close at once (or refuse from a short-lived thread)",
        },
        server_slowloris_trickle {
            title: "slowloris: while 64 connections trickle a frame at one byte a second, a newcomer is answered within --frame-deadline-ms + 2 s",
            points: 2,
            section: "slow-and-silent-peers",
            hint: "give each frame a deadline from its first byte (extended at the minimum rate) on top of the per-read idle limit, and bound the drain after an error frame as a whole",
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
    ],
    usage_errors_exit_2: {
        title: "bad flags and out-of-range ports exit 2",
        points: 1,
        section: "the-contract",
        hint: "usage errors exit 2",
    },
}

/// The dictionary entries the checks look up (the whole dictionary is on the lesson page).
const SOCKET: &str = "an endpoint of a conversation between two programs";
const FERRIS: &str = "Ferris, the Rust crab";

fn unknown_host(target: &Target) -> Outcome {
    common::unknown_host(target, "client", &["time"])
}

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
    peer.request(&Frame::json(&json!({"action": "time"})))?;
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
        peer.request(&Frame::binary(data.clone()))?;
        let got = peer.response(&format!("the echo of {} bytes", data.len()))?;
        ensure(
            got.content_type == BINARY && got.content_encoding == RAW,
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
        Frame::binary(bytes.clone()),
        Frame::json(&json!({"action": "time"})),
    ] {
        all.extend(encode(&message));
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

fn server_reads_split_frames(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let mut peer = tcp_peer(&server)?;
    peer.stream.inner.set_nodelay(true).ok();
    let frame = encode(&search("socket"));
    // One byte of the length, the other with half the header, then the rest: three sends,
    // each once the server has read the one before.
    let cut = 2 + (frame.len() - 2) / 2;
    peer.send_in_pieces(&[&frame[..1], &frame[1..cut], &frame[cut..]])?;
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
    let claim = raw_frame(&header_json("big", BINARY, RAW, MAX_CONTENT + 1), b"");
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
    let frame = raw_frame(&header_json("big", JSON, UTF8, body.len() as u64), body);
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
    let frame = raw_frame(&header_json("big", JSON, UTF8, body.len() as u64), body);
    expect_refused(&server, &frame, false, "a request without action")
}

fn server_refuses_unknown_action(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let frame = encode(&Frame::json(&json!({"action": "dance", "value": "tango"})));
    expect_refused(&server, &frame, false, "the action `dance`")
}

fn server_answers_truncated_frame(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let frame = encode(&Frame::binary(b"0123456789".to_vec()));
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
