//! Checks for lesson 06, the group chat: `lessons/06_group_chat.md#the-contract`.
//!
//! Server: text lines; a newcomer gets `* welcome NAME, N online` and the others
//! `* NAME joined`; a line is sent to everyone, the sender included, as `[NAME] TEXT`; `/nick`,
//! `/who`, `/quit` and `quit`; `* NAME left` however a client goes; lines over 4096 bytes are
//! refused and discarded; invalid UTF-8 is replaced; `--max-clients`; a client that stops
//! reading is dropped (`* NAME left (too slow)`) while a burst costs nobody anything; `/quit`
//! ends with `* bye`, and a leaving client still gets what was queued for it;
//! `* server shutting down` on SIGTERM; `--exit-after K` serves K clients, then exits. What the room
//! lets through (`hostile.rs`): no control character relayed or printed raw, an ASCII name
//! grammar, names unique however they are written; running out of descriptors ends nothing.
//! Client: `client [--name NAME]` sends `/nick NAME`, then each stdin line, then `/quit`, and
//! prints every line the server sends; it exits 0 when the server closes.
//!
//! Every check opens its own clients ([`Peer`]) and synchronises on the lines they receive —
//! never on time. Every read has a timeout; the two load checks have an overall deadline too.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::common::{
    demo_exits_zero, privileged_port, tcp_client_refused as client_connection_refused,
    tcp_server_port_in_use as server_port_in_use, usage_errors_exit_2,
};
use super::{Failure, Outcome, common, ensure};
use crate::checker::harness::{
    IO_TIMEOUT, Input, RUN_TIMEOUT, Server, Target, TcpStub, run, run_with,
};

tcp_lesson! {
    /// Lesson 06's checks.
    name: "06_group_chat",
    tests: l06_group_chat_tests,
    checks: [
        demo_exits_zero {
            title: "with no arguments, the demo runs and exits 0",
            points: 1,
            section: "run-it",
            hint: "the demo must end by itself: stop the server after the demo's clients",
        },
        server_welcomes_and_announces_joins {
            title: "a newcomer gets `* welcome NAME, N online`; the others get `* NAME joined`",
            points: 2,
            section: "the-contract",
            hint: "NAME is the peer address accept() returned, e.g. 127.0.0.1:50312",
        },
        server_broadcasts_to_everyone {
            title: "a line reaches every client, the sender included, as `[NAME] TEXT`",
            points: 3,
            section: "the-contract",
            hint: "put the line in every client's queue, the sender's too; drop the `\\r` of `\\r\\n`",
        },
        server_keeps_lines_whole {
            title: "a line split over two sends is one message; three lines in one send are three",
            points: 3,
            section: "what-the-courses-version-gets-wrong",
            hint: "a message is a line, not what one recv() returned",
        },
        server_nick {
            title: "`/nick NEW` renames for everyone; a taken or invalid name gets `! …` to the sender only",
            points: 2,
            section: "the-contract",
            hint: "a name is 1 to 32 ASCII letters, digits, `-`, `_` or `.`, a letter first, unique in the room",
        },
        server_who {
            title: "`/who` sends the sender alone `* online: NAME, NAME, …`",
            points: 1,
            section: "the-contract",
            hint: "one line, the names separated by `, `",
        },
        server_unknown_command {
            title: "any other `/word` gets `! unknown command /word` to the sender only",
            points: 1,
            section: "the-contract",
            hint: "a line starting with `/` is a command, never a message",
        },
        server_quit_commands {
            title: "`/quit` and `quit` close the sender's connection; the others get `* NAME left`",
            points: 2,
            section: "the-contract",
            hint: "remove the client from the room, tell the others, close its socket",
        },
        server_quit_says_bye {
            title: "`/quit` and `quit` get `* bye` as the sender's last line, then the close",
            points: 1,
            section: "the-contract",
            hint: "queue `* bye` for the sender alone after what is already queued for it, then close",
        },
        server_delivers_to_a_leaving_client {
            title: "a client that quits, or shuts down its sending side, still gets the lines queued for it before the close",
            points: 1,
            section: "the-contract",
            hint: "leaving closes the client's queue, not its socket: send what is queued, then close (recv() returning 0 means it stopped sending, not reading)",
        },
        server_notices_close_and_reset {
            title: "a client that closes its socket, or resets it, also produces `* NAME left`",
            points: 2,
            section: "when-things-go-wrong",
            hint: "recv() returning 0 bytes and recv() failing with ECONNRESET both mean the client has gone",
        },
        server_rejects_long_lines {
            title: "a line over 4096 bytes gets `! line too long (max 4096 bytes)` and the rest of it is discarded",
            points: 2,
            section: "the-contract",
            hint: "read at most 4096 bytes (+ `\\r\\n`) of a line; then skip to the next `\\n`",
        },
        server_replaces_invalid_utf8 {
            title: "invalid UTF-8 is replaced with U+FFFD, and the client stays connected",
            points: 1,
            section: "the-contract",
            hint: "decode with replacement (`String::from_utf8_lossy`, `bytes.decode('utf-8', 'replace')`)",
        },
        server_full {
            title: "`--max-clients N`: connection N+1 gets `! server full` and is closed; a place that frees up is reused",
            points: 2,
            section: "the-contract",
            hint: "count the clients in the room when accept() returns",
        },
        server_relays_no_control_characters {
            title: "control characters, escape sequences and bidi overrides in a line reach no one raw; the rest of the line does",
            points: 3,
            section: "what-the-room-lets-through",
            hint: "replace every control character (C0 but `\\n`, DEL, C1) and bidi control visibly (`^[`, U+FFFD) before relaying",
        },
        server_refuses_look_alike_names {
            title: "`/nick` with an invisible, a bidi, a Cyrillic or an ASCII look-alike of a taken name (`bIll`, `b1ll` for `bill`) is refused",
            points: 2,
            section: "what-the-room-lets-through",
            hint: "a name grammar: ASCII letters, digits, `-`, `_`, `.`, a letter first; and compare names with case ignored and `i`, `l`, `1` (and `o`, `0`) taken as one letter",
        },
        server_names_cannot_squat {
            title: "`/nick` cannot take a member's address name, a future address name, or a taken name in other case",
            points: 2,
            section: "what-the-room-lets-through",
            hint: "compare names ignoring case against every member, address names included; no `:` in a name",
        },
        server_survives_running_out_of_descriptors {
            title: "70 clients under `ulimit -n 64`: EMFILE is waited out, the room stays open, every client is welcomed",
            points: 3,
            section: "running-out",
            hint: "treat EMFILE/ENFILE/ENOBUFS/ENOMEM from accept() as temporary: wait (10 ms doubling to 1 s) and accept again",
        },
        server_survives_running_out_of_threads {
            title: "under `ulimit -v`, a client the server cannot start a thread for gets `! server busy` and is closed; the room goes on",
            points: 2,
            section: "running-out",
            hint: "spawn with thread::Builder (Python: catch RuntimeError from Thread.start()); refuse that one client, keep serving",
        },
        server_survives_stalled_reader {
            title: "50,000 lines in one burst: every reading client gets all, in order; the client that never reads is dropped as too slow",
            points: 5,
            section: "slow-readers-and-backpressure",
            hint: "a bounded queue per client; wait for room at most --stall-timeout-ms, then drop that client",
        },
        server_honours_stall_timeout {
            title: "`--stall-timeout-ms` is honoured: with 100 ms the room waits at most 1 s for a client that never reads before dropping it; with a long value a client that pauses 3 s is kept",
            points: 2,
            section: "slow-readers-and-backpressure",
            hint: "use the flag's value for the wait on a full queue; never a constant",
        },
        server_fifty_clients {
            title: "50 clients each send 100 lines: every client receives all 5,000, each sender's in order",
            points: 3,
            section: "the-design",
            hint: "one lock for the room, never held while sending; each sender's lines queued in order",
        },
        server_shutdown_on_sigterm {
            title: "on SIGTERM every client gets `* server shutting down`, then the server exits 0",
            points: 2,
            section: "the-contract",
            hint: "catch SIGTERM and SIGINT, queue the notice for every client, wait for the writers, exit 0",
        },
        server_exit_after {
            title: "`--exit-after K`: the K clients chat on, no more are accepted, and the server exits 0 once the last of them has left",
            points: 1,
            section: "the-contract",
            hint: "count accepted connections; after the K-th accept no more, and exit when the room is empty",
        },
        server_prints_only_listening_on {
            title: "server's stdout holds only the `listening on ADDR` line",
            points: 1,
            section: "the-contract",
            hint: "narration (joins, broadcasts) belongs on stderr",
        },
        server_ipv6 {
            title: "server chats over IPv6 loopback with --host ::1; names look like [::1]:PORT",
            points: 1,
            section: "the-contract",
            hint: "bind an AF_INET6 socket for ::1; write the name as Rust's SocketAddr prints it",
        },
        client_chats_through_stdin {
            title: "client sends `/nick NAME`, each stdin line and `/quit`; prints every server line; exits 0 when the server closes",
            points: 3,
            section: "the-contract",
            hint: "at the end of stdin send `/quit`, then keep printing until the server closes",
        },
        client_prints_no_control_characters {
            title: "client prints no control character or bidi override a server sent, raw",
            points: 2,
            section: "what-the-room-lets-through",
            hint: "a client cannot trust its server: replace controls visibly before printing",
        },
        client_exits_when_server_closes {
            title: "client exits 0 when the server closes first, even while stdin is still open",
            points: 2,
            section: "the-contract",
            hint: "read from the server on its own thread; when it sees the end, the program ends",
        },
    ],
    usage_errors_exit_2: {
        title: "bad flags and out-of-range ports exit 2",
        points: 1,
        section: "the-contract",
        hint: "usage errors exit 2",
    },
}

/// The longest line the contract allows, in bytes, without its `\n`.
pub const MAX_LINE: usize = 4096;

/// The notices of the contract, for the checks and the tests.
pub const SHUTTING_DOWN: &str = "* server shutting down";
/// The last line a client that sent `/quit` (or `quit`) receives.
pub const BYE: &str = "* bye";
/// The reply to a line over [`MAX_LINE`] bytes.
pub const TOO_LONG: &str = "! line too long (max 4096 bytes)";
/// The reply to a connection beyond `--max-clients`.
pub const FULL: &str = "! server full";

/// The longest line a check accepts from a server: a name and 4096 bytes, with room to spare.
const READ_LIMIT: u64 = 64 * 1024;

/// How much of what a client received a failure shows.
const KEEP_SEEN: usize = 2048;

mod client;
mod hostile;
mod load;
mod peer;
mod spawn;
mod stall;

pub use peer::{Peer, room};

use client::{client_chats_through_stdin, client_exits_when_server_closes};
pub use hostile::terminal_danger;
use hostile::{
    client_prints_no_control_characters, server_names_cannot_squat,
    server_refuses_look_alike_names, server_relays_no_control_characters,
    server_survives_running_out_of_descriptors,
};
use stall::server_honours_stall_timeout;
use load::{
    server_exit_after, server_fifty_clients, server_shutdown_on_sigterm,
    server_survives_stalled_reader,
};
use peer::*;
use spawn::server_survives_running_out_of_threads;

pub fn server_welcomes_and_announces_joins(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [_a, _b, _c] = room::<3>(&server)?;
    Ok(())
}

pub fn server_broadcasts_to_everyone(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b, mut c] = room::<3>(&server)?;
    b.say(&server, "hello everyone")?;
    let name = b.name.clone();
    hear(
        &server,
        &name,
        "hello everyone",
        &mut [&mut a, &mut b, &mut c],
    )?;
    // `\r\n` (what telnet and Windows send) ends a line too; the `\r` is not part of the text.
    c.send(&server, b"with crlf\r\n")?;
    let name = c.name.clone();
    hear(&server, &name, "with crlf", &mut [&mut a, &mut b, &mut c])?;
    a.say(&server, "and a third, with   spaces  ")?;
    let name = a.name.clone();
    hear(
        &server,
        &name,
        "and a third, with   spaces  ",
        &mut [&mut a, &mut b, &mut c],
    )
}

// From here on, a client that sent a line is not read again unless the check is about what it
// receives: that the sender gets its own lines is `server_broadcasts_to_everyone`'s to check,
// and each other check fails only for its own reason.

pub fn server_keeps_lines_whole(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b, mut c] = room::<3>(&server)?;
    let name = a.name.clone();
    // "hel", then "lo\n" once the server has read "hel": two reads, as from a slow typist.
    a.send_in_pieces(&server, &[b"hel", b"lo\n"])?;
    hear(&server, &name, "hello", &mut [&mut b, &mut c])?;
    a.send(&server, b"one\ntwo\nthree\n")?;
    for text in ["one", "two", "three"] {
        hear(&server, &name, text, &mut [&mut b, &mut c])?;
    }
    Ok(())
}

pub fn server_nick(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b, mut c] = room::<3>(&server)?;
    let (a_old, b_old) = (a.name.clone(), b.name.clone());
    a.say(&server, "/nick ana")?;
    for peer in [&mut a, &mut b, &mut c] {
        peer.expect(&server, &format!("* {a_old} is now ana"))?;
    }
    // Refusals go to the sender alone.
    for refused in [
        "/nick ana",
        "/nick",
        "/nick two words",
        "/nick 123456789012345678901234567890123",
    ] {
        b.say(&server, refused)?;
        b.expect_prefix(&server, "! ")
            .map_err(|f| f.context(format!("after `{refused}`")))?;
    }
    // 32 characters is allowed; letters, digits, `-`, `_` and `.` after a first letter.
    let long = "b2-_.".repeat(7)[..32].to_string();
    b.say(&server, &format!("/nick {long}"))?;
    for peer in [&mut a, &mut b, &mut c] {
        peer.expect(&server, &format!("* {b_old} is now {long}"))?;
    }
    // The new names are used: and C, who saw no refusal, sees this next.
    a.say(&server, "hi, I am ana")?;
    hear(&server, "ana", "hi, I am ana", &mut [&mut c, &mut b])
}

pub fn server_who(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b, mut c] = room::<3>(&server)?;
    c.say(&server, "/who")?;
    let line = c.expect_prefix(&server, "* online: ")?;
    let mut got: Vec<&str> = line["* online: ".len()..].split(", ").collect();
    let mut want = vec![a.name.as_str(), b.name.as_str(), c.name.as_str()];
    got.sort_unstable();
    want.sort_unstable();
    ensure(got == want, || {
        c.failure(&server, "`/who` did not list exactly the three clients")
            .expected(format!("* online: {}", want.join(", ")))
    })?;
    // Only the sender got the list: the others' next line is the next message.
    b.say(&server, "sync")?;
    let name = b.name.clone();
    hear(&server, &name, "sync", &mut [&mut a, &mut c])
}

pub fn server_unknown_command(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b] = room::<2>(&server)?;
    a.say(&server, "/dance now")?;
    a.expect(&server, "! unknown command /dance")?;
    b.say(&server, "sync")?;
    let name = b.name.clone();
    hear(&server, &name, "sync", &mut [&mut a])
}

pub fn server_quit_commands(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b, mut c] = room::<3>(&server)?;
    b.say(&server, "/quit")?;
    b.until_closed(&server, 10)?;
    let left = format!("* {} left", b.name);
    a.expect(&server, &left)?;
    c.expect(&server, &left)?;
    c.say(&server, "quit")?;
    c.until_closed(&server, 10)?;
    a.expect(&server, &format!("* {} left", c.name))
}

/// `/quit` (then `quit`, from another client): `* bye` is the next line, and the last.
pub fn server_quit_says_bye(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b, mut c] = room::<3>(&server)?;
    says_bye(&server, &mut b, "/quit")?;
    for other in [&mut a, &mut c] {
        other.expect(&server, &format!("* {} left", b.name))?;
    }
    says_bye(&server, &mut c, "quit")?;
    a.expect(&server, &format!("* {} left", c.name))
}

/// `leaver` sends `command`: `* bye` must be its next line, then the close.
fn says_bye(server: &Server, leaver: &mut Peer, command: &str) -> Outcome {
    leaver.say(server, command)?;
    leaver
        .expect(server, BYE)
        .map_err(|f| f.context(format!("after `{command}`")))?;
    let after = leaver.until_closed(server, 10)?;
    ensure(after.is_empty(), || {
        leaver
            .failure(server, &format!("lines after `{BYE}`: it must be the last"))
            .expected("the server closes the connection")
    })
}

/// A client sends a last message and `/quit` in one go: the echo of its message was queued
/// before the `/quit` was read, so it still arrives before the close (`* bye` is
/// `server_quit_says_bye`'s to check). Then `shutdown(SHUT_WR)` after a last message, what
/// `nc -N` does at the end of its input: the client stopped sending, not reading.
pub fn server_delivers_to_a_leaving_client(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b, mut c] = room::<3>(&server)?;
    b.send(&server, b"last words\n/quit\n")?;
    let name = b.name.clone();
    hear(&server, &name, "last words", &mut [&mut b, &mut a, &mut c])?;
    b.until_closed(&server, 10)
        .map_err(|f| f.context("after `last words` and `/quit`"))?;
    a.expect(&server, &format!("* {name} left"))?;
    c.expect(&server, &format!("* {name} left"))?;

    c.say(&server, "last words")?;
    c.stream
        .shutdown(Shutdown::Write)
        .map_err(Failure::io("shutdown(SHUT_WR)"))?;
    let name = c.name.clone();
    hear(&server, &name, "last words", &mut [&mut c, &mut a])?;
    let after = c.until_closed(&server, 10)?;
    ensure(after.is_empty(), || {
        c.failure(&server, "lines after the last message, before the close")
            .expected("the server closes the connection")
    })?;
    a.expect(&server, &format!("* {name} left"))
}

pub fn server_notices_close_and_reset(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, b, c] = room::<3>(&server)?;
    let (b_name, c_name) = (b.name.clone(), c.name.clone());
    drop(b); // close(): the server's recv() returns 0 bytes
    a.expect(&server, &format!("* {b_name} left"))?;
    c.reset()?; // RST: the server's recv() fails
    a.expect(&server, &format!("* {c_name} left"))
}

pub fn server_rejects_long_lines(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b] = room::<2>(&server)?;
    let name = a.name.clone();
    // Exactly 4096 bytes is allowed.
    let longest = "x".repeat(MAX_LINE);
    a.say(&server, &longest)?;
    hear(&server, &name, &longest, &mut [&mut b])?;
    // 4097 bytes is refused, and so is a 100 000-byte line; what follows the line is not lost.
    for length in [MAX_LINE + 1, 100_000] {
        let mut data = "y".repeat(length).into_bytes();
        data.extend_from_slice(b"\nafter\n");
        let mut writer = a.stream.try_clone().map_err(Failure::io("cloning"))?;
        // On a thread: a server that reads nothing while it answers must not block the check.
        let sending = std::thread::spawn(move || writer.write_all(&data));
        a.expect_besides_own(&server, TOO_LONG)
            .map_err(|f| f.context(format!("after a line of {length} bytes")))?;
        hear(&server, &name, "after", &mut [&mut b])
            .map_err(|f| f.context(format!("the line after a line of {length} bytes")))?;
        let sent = sending
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the sending thread panicked")));
        sent.map_err(|e| server.failure(format!("sending the long line: {e}")))?;
    }
    Ok(())
}

pub fn server_replaces_invalid_utf8(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let [mut a, mut b] = room::<2>(&server)?;
    a.send(&server, b"caf\xff!\n")?;
    let name = a.name.clone();
    hear(&server, &name, "caf\u{FFFD}!", &mut [&mut b])?;
    a.say(&server, "still here")?;
    hear(&server, &name, "still here", &mut [&mut b])
}

pub fn server_full(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &["--max-clients", "2"])?;
    let [mut a, mut b] = room::<2>(&server)?;
    let mut c = Peer::connect(&server, "client C", None)?;
    c.expect(&server, FULL)?;
    let after = c.until_closed(&server, 10)?;
    ensure(after.is_empty(), || {
        c.failure(&server, "the connection stayed open after `! server full`")
    })?;
    b.say(&server, "/quit")?;
    b.until_closed(&server, 10)?;
    a.expect(&server, &format!("* {} left", b.name))?;
    // Now there is room again.
    let mut d = Peer::connect(&server, "client D", None)?;
    d.expect(&server, &format!("* welcome {}, 2 online", d.name))?;
    a.expect(&server, &format!("* {} joined", d.name))
}

pub fn server_prints_only_listening_on(target: &Target) -> Outcome {
    common::stdout_only_listening_on(target, &[], |server| {
        let [mut a, mut b] = room::<2>(server)?;
        a.say(server, "/nick ana")?;
        a.expect_prefix(server, "* ")?;
        b.expect_prefix(server, "* ")?;
        a.say(server, "hello")?;
        hear(server, "ana", "hello", &mut [&mut b])
    })
}

pub fn server_ipv6(target: &Target) -> Outcome {
    let server = common::ipv6_server(target, &[])?;
    let [mut a, mut b] = room::<2>(&server)?;
    ensure(a.name.starts_with("[::1]:"), || {
        a.failure(&server, "the client's name is not an IPv6 address")
    })?;
    a.say(&server, "over IPv6")?;
    let name = a.name.clone();
    hear(&server, &name, "over IPv6", &mut [&mut b])
}

fn unknown_host(target: &Target) -> Outcome {
    common::unknown_host(target, "client", &[])
}
