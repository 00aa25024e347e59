//! Checks for lesson 06, the group chat: `lessons/06_group_chat.md#the-contract`.
//!
//! Server: text lines; a newcomer gets `* welcome NAME, N online` and the others
//! `* NAME joined`; a line is sent to everyone, the sender included, as `[NAME] TEXT`; `/nick`,
//! `/who`, `/quit` and `quit`; `* NAME left` however a client goes; lines over 4096 bytes are
//! refused and discarded; invalid UTF-8 is replaced; `--max-clients`; a client that stops
//! reading is dropped (`* NAME left (too slow)`) while a burst costs nobody anything;
//! `* server shutting down` on SIGTERM and after `--exit-after K` connections.
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
            hint: "a name is 1 to 32 visible characters, unique in the room",
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
        server_survives_stalled_reader {
            title: "50,000 lines in one burst: every reading client gets all, in order; the client that never reads is dropped as too slow",
            points: 5,
            section: "slow-readers-and-backpressure",
            hint: "a bounded queue per client; wait for room at most --stall-timeout-ms, then drop that client",
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
            title: "`--exit-after K`: after the K-th connection every client gets `* server shutting down`; exit 0",
            points: 1,
            section: "the-contract",
            hint: "count accepted connections; at K, shut down as on SIGTERM",
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
/// The reply to a line over [`MAX_LINE`] bytes.
pub const TOO_LONG: &str = "! line too long (max 4096 bytes)";
/// The reply to a connection beyond `--max-clients`.
pub const FULL: &str = "! server full";

/// The longest line a check accepts from a server: a name and 4096 bytes, with room to spare.
const READ_LIMIT: u64 = 64 * 1024;

/// How much of what a client received a failure shows.
const KEEP_SEEN: usize = 2048;

/// A chat client opened by a check: its connection, and its name as the server sees it.
pub struct Peer {
    /// The client's name in the room: its address as the server's accept() saw it
    /// (`127.0.0.1:50312`, `[::1]:50312`), until it sends `/nick`.
    pub name: String,
    label: String,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    seen: Vec<u8>,
}

impl Peer {
    /// Connect to `server` (with [`IO_TIMEOUT`] on every read and write), not reading anything.
    /// `receive_buffer`: set `SO_RCVBUF` before connecting, as a client that reads slowly would.
    pub fn connect(
        server: &Server,
        label: impl Into<String>,
        receive_buffer: Option<usize>,
    ) -> Result<Peer, Failure> {
        let label = label.into();
        let stream = open(server.addr, receive_buffer)
            .map_err(|e| server.failure(format!("{label} could not connect: {e}")))?;
        let name = stream
            .local_addr()
            .map_err(Failure::io("getsockname"))?
            .to_string();
        let reader = BufReader::new(stream.try_clone().map_err(Failure::io("cloning"))?);
        Ok(Peer {
            name,
            label,
            stream,
            reader,
            seen: Vec::new(),
        })
    }

    /// Set how long each read may wait.
    pub fn read_timeout(&self, timeout: Duration) -> Outcome {
        self.stream
            .set_read_timeout(Some(timeout))
            .map_err(Failure::io("setting a read timeout"))
    }

    /// Send raw bytes.
    pub fn send(&mut self, server: &Server, data: &[u8]) -> Outcome {
        self.stream.write_all(data).map_err(|e| {
            server
                .failure(format!("{} could not send: {e}", self.label))
                .sent(data.to_vec())
        })
    }

    /// Send one line (`text` and `\n`).
    pub fn say(&mut self, server: &Server, text: &str) -> Outcome {
        self.send(server, format!("{text}\n").as_bytes())
    }

    /// The next line without its `\n`, or `None` when the server closed the connection
    /// (a reset after the server closed counts as closed).
    pub fn next_line(&mut self, server: &Server) -> Result<Option<Vec<u8>>, Failure> {
        let mut line = Vec::new();
        let got = (&mut self.reader)
            .take(READ_LIMIT)
            .read_until(b'\n', &mut line);
        self.remember(&line);
        match got {
            Ok(0) => Ok(None),
            Ok(_) if line.last() == Some(&b'\n') => {
                line.pop();
                Ok(Some(line))
            }
            Ok(_) if line.len() as u64 >= READ_LIMIT => {
                Err(self.failure(server, "a line of more than 64 KiB from the server"))
            }
            // The connection ended in the middle of a line.
            Ok(_) => Err(self.failure(
                server,
                "the connection ended in the middle of a line (no `\\n`)",
            )),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(None),
            Err(e) => Err(self.failure(server, &format!("no line from the server: {e}"))),
        }
    }

    /// The next line must be exactly `want`.
    pub fn expect(&mut self, server: &Server, want: &str) -> Outcome {
        match self.next_line(server)? {
            Some(line) if line == want.as_bytes() => Ok(()),
            Some(line) => Err(self
                .mismatch(server, &format!("expected `{}`", short(want)), line)
                .expected(short(want))),
            None => Err(self
                .failure(server, "the server closed the connection")
                .expected(short(want))),
        }
    }

    /// Like [`Peer::expect`], but first skip (a few of) this client's own lines `[NAME] …`:
    /// for checks about something else than whether the sender gets its own lines.
    pub fn expect_besides_own(&mut self, server: &Server, want: &str) -> Outcome {
        let own = format!("[{}] ", self.name);
        for _ in 0..10 {
            match self.next_line(server)? {
                Some(line) if line.starts_with(own.as_bytes()) => continue,
                Some(line) if line == want.as_bytes() => return Ok(()),
                Some(line) => {
                    return Err(self
                        .mismatch(server, &format!("expected `{}`", short(want)), line)
                        .expected(short(want)));
                }
                None => {
                    return Err(self
                        .failure(server, "the server closed the connection")
                        .expected(short(want)));
                }
            }
        }
        Err(self.failure(
            server,
            &format!("no `{}` among the next lines", short(want)),
        ))
    }

    /// The next line must start with `prefix`; returns it.
    pub fn expect_prefix(&mut self, server: &Server, prefix: &str) -> Result<String, Failure> {
        match self.next_line(server)? {
            Some(line) if line.starts_with(prefix.as_bytes()) => {
                Ok(String::from_utf8_lossy(&line).into_owned())
            }
            Some(line) => Err(self
                .mismatch(
                    server,
                    &format!("expected a line starting with `{prefix}`"),
                    line,
                )
                .expected(format!("`{prefix}…`"))),
            None => Err(self
                .failure(server, "the server closed the connection")
                .expected(format!("`{prefix}…`"))),
        }
    }

    /// Read until the server closes the connection (at most `max_lines` lines before that);
    /// returns the lines.
    pub fn until_closed(
        &mut self,
        server: &Server,
        max_lines: usize,
    ) -> Result<Vec<String>, Failure> {
        let mut lines = Vec::new();
        while let Some(line) = self.next_line(server)? {
            lines.push(String::from_utf8_lossy(&line).into_owned());
            if lines.len() > max_lines {
                return Err(self.failure(
                    server,
                    &format!("more than {max_lines} lines and the connection is still open"),
                ));
            }
        }
        Ok(lines)
    }

    /// A failure naming this client, with the server's evidence and what this client received.
    pub fn failure(&self, server: &Server, reason: &str) -> Failure {
        server
            .failure(format!("{} ({}): {reason}", self.label, self.name))
            .received(self.seen.clone())
    }

    /// A failure about one line this client received (shown as the evidence).
    pub fn mismatch(&self, server: &Server, reason: &str, line: Vec<u8>) -> Failure {
        server
            .failure(format!("{} ({}): {reason}", self.label, self.name))
            .received(line)
    }

    fn remember(&mut self, data: &[u8]) {
        self.seen.extend_from_slice(data);
        if self.seen.len() > KEEP_SEEN {
            let cut = self.seen.len() - KEEP_SEEN;
            self.seen.drain(..cut);
        }
    }

    /// Close abruptly with a reset (`SO_LINGER` 0 then close): the server's recv() fails with
    /// ECONNRESET instead of returning 0.
    pub fn reset(self) -> Outcome {
        socket2::SockRef::from(&self.stream)
            .set_linger(Some(Duration::ZERO))
            .map_err(Failure::io("setting SO_LINGER"))
    }
}

/// `text`, cut to a length a failure message can show.
fn short(text: &str) -> String {
    const SHOW: usize = 100;
    match text.char_indices().nth(SHOW) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
        None => text.to_string(),
    }
}

/// A TCP connection with timeouts, `TCP_NODELAY` (each line leaves at once), and optionally a
/// small receive buffer set before connecting (the window is agreed during the handshake).
fn open(addr: SocketAddr, receive_buffer: Option<usize>) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.connect_timeout(&addr.into(), IO_TIMEOUT)?;
    let stream: TcpStream = socket.into();
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// `N` clients joined one after another, each welcomed with the right count, each announced
/// to the ones already there — and every one of those lines read, so the room is in sync.
pub fn room<const N: usize>(server: &Server) -> Result<[Peer; N], Failure> {
    let mut peers: Vec<Peer> = Vec::with_capacity(N);
    for k in 0..N {
        let label = format!("client {}", char::from(b'A' + k as u8));
        let mut newcomer = Peer::connect(server, label, None)?;
        let welcome = format!("* welcome {}, {} online", newcomer.name, k + 1);
        newcomer.expect(server, &welcome)?;
        let joined = format!("* {} joined", newcomer.name);
        for peer in &mut peers {
            peer.expect(server, &joined)?;
        }
        peers.push(newcomer);
    }
    match peers.try_into() {
        Ok(peers) => Ok(peers),
        Err(_) => Err(Failure::new("the check built the wrong number of clients")),
    }
}

/// `from` says `text`; each of `hearers` must receive `[NAME] text` as its next line. This is
/// also how checks prove that nothing else was sent in between.
fn hear(server: &Server, from_name: &str, text: &str, hearers: &mut [&mut Peer]) -> Outcome {
    let want = format!("[{from_name}] {text}");
    for peer in hearers.iter_mut() {
        peer.expect(server, &want)?;
    }
    Ok(())
}

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
    a.send(&server, b"hel")?;
    // Shapes the data: "hel" and "lo" leave in two TCP segments, as a slow typist's would.
    // Nothing waits on this pause.
    std::thread::sleep(Duration::from_millis(100));
    a.send(&server, b"lo\n")?;
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
    // 32 characters is allowed, and characters are not bytes (é is 2 bytes in UTF-8).
    let long = "é".repeat(32);
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

/// The 50,000 lines of the burst: numbered, and long enough (~10 MB in all) that no sensible
/// amount of buffering — the kernel's (Linux grows a send buffer to at most 4 MiB) plus a
/// bounded queue — can hold them for a client that does not read.
const BURST: usize = 50_000;
const BURST_TEXT: &str = "of a burst: a client that reads gets every line, in order, and a client that does not read is dropped without stalling anybody else, however the lines are split into reads";

fn burst_line(n: usize) -> String {
    format!("{n:05} {BURST_TEXT}")
}

/// The check's stall timeout, and how long the pausing client stops reading: long enough
/// for the room to fill its queue, well short of the stall timeout.
const STALL_MS: u64 = 3000;
const PAUSE: Duration = Duration::from_secs(1);
/// The pausing client resumes at the latest when the sender has seen this many lines — by then
/// ~8 MB have been sent, more than the pausing client's buffers can hold.
const RESUME_AT: usize = 40_000;
/// The whole burst must be over within this.
const BURST_DEADLINE: Duration = Duration::from_secs(40);

/// How far the sender's own copy of the burst has got, and when it last moved.
struct Progress {
    state: Mutex<(usize, Instant)>,
    moved: Condvar,
}

impl Progress {
    fn advance(&self, count: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = (count, Instant::now());
        if count == RESUME_AT {
            self.moved.notify_all();
        }
    }

    /// Wait until the sender has seen `RESUME_AT` lines or nothing has moved for `PAUSE` (the
    /// room is waiting for a full queue): the moment a paused reader should resume.
    fn wait_for_stall(&self, deadline: Instant) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let (count, last) = *state;
            if count >= RESUME_AT || last.elapsed() >= PAUSE || Instant::now() >= deadline {
                return;
            }
            // Wake at the latest when the quiet period would be over, to look again.
            let wait = PAUSE.saturating_sub(last.elapsed()) + Duration::from_millis(10);
            state = self
                .moved
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Read the whole burst from `sender_name` and the notice that `stalled_name` left as too
/// slow, in any interleaving; anything else, a gap or a reordering fails.
fn read_burst(
    server: &Server,
    peer: &mut Peer,
    sender_name: &str,
    stalled_name: &str,
    progress: Option<&Progress>,
    deadline: Instant,
) -> Outcome {
    let notice = format!("* {stalled_name} left (too slow)");
    let prefix = format!("[{sender_name}] ");
    let (mut got, mut noticed) = (0, false);
    while got < BURST || !noticed {
        if Instant::now() >= deadline {
            return Err(peer.failure(
                server,
                &format!(
                    "the burst was not over within {} s: {got} of {BURST} lines{}",
                    BURST_DEADLINE.as_secs(),
                    if noticed {
                        ""
                    } else {
                        ", and no `left (too slow)` notice"
                    }
                ),
            ));
        }
        let Some(line) = peer.next_line(server).map_err(|f| {
            f.context(format!("after {got} of {BURST} lines of the burst"))
                .expected(format!(
                    "{BURST} lines `{prefix}NNNNN …`, in order, and `{notice}`"
                ))
        })?
        else {
            return Err(peer.failure(
                server,
                &format!(
                    "disconnected after {got} of {BURST} lines of the burst: a client that reads must never be dropped"
                ),
            ));
        };
        if line == notice.as_bytes() && !noticed {
            noticed = true;
            continue;
        }
        if line.ends_with(b" left (too slow)") {
            return Err(peer.mismatch(
                server,
                &format!(
                    "after {got} lines, a client that was reading was dropped as too slow: a \
                     queue that is full for a moment (a burst) must make the sender wait, not \
                     drop the client"
                ),
                line,
            ));
        }
        let want = format!("{prefix}{}", burst_line(got + 1));
        if line != want.as_bytes() {
            return Err(peer
                .mismatch(
                    server,
                    &format!(
                        "line {} of the burst is wrong (lost, reordered or split?)",
                        got + 1
                    ),
                    line,
                )
                .expected(short(&want)));
        }
        got += 1;
        if let Some(progress) = progress {
            progress.advance(got);
        }
    }
    Ok(())
}

/// The heart of the lesson. Four clients: S sends 50,000 lines in one burst; R reads all the
/// time; P stops reading until the room has had to wait for it (a burst it falls behind on,
/// but recovers from); Z has a tiny receive buffer and never reads. S, R and P must each get
/// every line in order and the notice `* Z left (too slow)`; Z must be dropped.
pub fn server_survives_stalled_reader(target: &Target) -> Outcome {
    let stall = STALL_MS.to_string();
    let server = Server::start_quiet(target, &["--stall-timeout-ms", &stall])?;
    let [mut s, mut r] = room::<2>(&server)?;
    // P keeps the default receive buffer: on loopback, whose segments are up to 64 KiB, a
    // tiny buffer makes the kernel drop segments and wait for retransmission timers, and a
    // client that reads would crawl for reasons that have nothing to do with the server.
    let mut p = Peer::connect(&server, "client P (pauses)", None)?;
    p.expect(&server, &format!("* welcome {}, 3 online", p.name))?;
    for peer in [&mut s, &mut r] {
        peer.expect(&server, &format!("* {} joined", p.name))?;
    }
    let mut z = Peer::connect(&server, "client Z (never reads)", Some(4096))?;
    z.expect(&server, &format!("* welcome {}, 4 online", z.name))?;
    for peer in [&mut s, &mut r, &mut p] {
        peer.expect(&server, &format!("* {} joined", z.name))?;
    }
    // Reads may wait out a stall timeout (the room waiting for Z), with a margin.
    let patience = Duration::from_millis(STALL_MS) + Duration::from_secs(3);
    for peer in [&s, &r, &p] {
        peer.read_timeout(patience)?;
    }
    s.stream
        .set_write_timeout(Some(patience))
        .map_err(Failure::io("setting a write timeout"))?;

    let burst: Vec<u8> = (1..=BURST)
        .flat_map(|n| format!("{}\n", burst_line(n)).into_bytes())
        .collect();
    let (s_name, z_name) = (s.name.clone(), z.name.clone());
    let deadline = Instant::now() + BURST_DEADLINE;
    let progress = Progress {
        state: Mutex::new((0, Instant::now())),
        moved: Condvar::new(),
    };
    let mut writer = s.stream.try_clone().map_err(Failure::io("cloning"))?;
    let stopper = s.stream.try_clone().map_err(Failure::io("cloning"))?;
    let server = &server;
    let (s_name, z_name, progress) = (&s_name, &z_name, &progress);
    let results = std::thread::scope(|scope| {
        let sending = scope.spawn(move || writer.write_all(&burst));
        // The threads borrow the clients: none is dropped (and seen leaving) before all are done.
        let readers = [
            scope.spawn(|| read_burst(server, &mut s, s_name, z_name, Some(progress), deadline)),
            scope.spawn(|| read_burst(server, &mut r, s_name, z_name, None, deadline)),
            scope.spawn(|| {
                // Falls behind on purpose, then catches up before the stall timeout.
                progress.wait_for_stall(deadline);
                read_burst(server, &mut p, s_name, z_name, None, deadline)
            }),
        ];
        let mut results: Vec<Outcome> = Vec::new();
        for reader in readers {
            let result = reader
                .join()
                .unwrap_or_else(|_| Err(Failure::new("a reading thread panicked")));
            if result.is_err() {
                // Unblock the sender at once: the check has failed anyway.
                let _ = stopper.shutdown(Shutdown::Both);
            }
            results.push(result);
        }
        let sent = sending
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the sending thread panicked")));
        (results, sent)
    });
    let (results, sent) = results;
    for result in results {
        result?;
    }
    sent.map_err(|e| {
        server.failure(format!(
            "the sender could not send its burst: {e} (a server that reads nothing for {} s)",
            patience.as_secs()
        ))
    })?;
    drop((s, r, p, z));
    Ok(())
}

/// How many clients the load check opens, and how many lines each sends.
const CLIENTS: usize = 50;
const LINES: usize = 100;

/// 50 clients join; each sends 100 numbered lines at once; each must receive all 5,000, and
/// every sender's lines in the order it sent them.
pub fn server_fifty_clients(target: &Target) -> Outcome {
    let server = Server::start_quiet(target, &[])?;
    let mut peers = Vec::with_capacity(CLIENTS);
    for k in 0..CLIENTS {
        let mut peer = Peer::connect(&server, format!("client {}", k + 1), None)?;
        peer.expect(
            &server,
            &format!("* welcome {}, {} online", peer.name, k + 1),
        )?;
        peers.push(peer);
    }
    // Every client has been welcomed, so every client is in the room: now all talk at once.
    let names: Vec<String> = peers.iter().map(|p| p.name.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(40);
    let (server, names) = (&server, &names);
    std::thread::scope(|scope| {
        let running: Vec<_> = peers
            .into_iter()
            .map(|mut peer| {
                // The thread hands its client back, so that a client done early stays in the
                // room (and the others do not see it leave) until every client is done.
                scope.spawn(move || (receive_all(server, &mut peer, names, deadline), peer))
            })
            .collect();
        // Join them all before any client is dropped (a dropped client leaves the room).
        let finished: Vec<(Outcome, Option<Peer>)> = running
            .into_iter()
            .map(|h| match h.join() {
                Ok((outcome, peer)) => (outcome, Some(peer)),
                Err(_) => (Err(Failure::new("a client thread panicked")), None),
            })
            .collect();
        let outcomes: Vec<Outcome> = finished.into_iter().map(|(outcome, _)| outcome).collect();
        outcomes.into_iter().collect()
    })
}

/// One of the fifty: send its 100 lines, then read until it has everyone's.
fn receive_all(server: &Server, peer: &mut Peer, names: &[String], deadline: Instant) -> Outcome {
    let lines: String = (0..LINES).map(|n| format!("message {n:03}\n")).collect();
    peer.send(server, lines.as_bytes())?;
    let mut next = vec![0usize; CLIENTS];
    let mut total = 0;
    while total < CLIENTS * LINES {
        if Instant::now() >= deadline {
            return Err(peer.failure(server, &format!("only {total} of 5000 lines after 40 s")));
        }
        let Some(line) = peer.next_line(server)? else {
            return Err(peer.failure(server, &format!("disconnected after {total} of 5000 lines")));
        };
        let text = String::from_utf8_lossy(&line);
        if text.starts_with("* ") && text.ends_with(" joined") {
            continue; // the clients who joined after this one
        }
        let sender = text
            .strip_prefix('[')
            .and_then(|t| t.split_once("] "))
            .and_then(|(name, rest)| names.iter().position(|n| n == name).map(|i| (i, rest)));
        let Some((from, rest)) = sender else {
            return Err(peer.mismatch(server, "unexpected line", line));
        };
        let want = format!("message {:03}", next[from]);
        if rest != want {
            let reason = format!(
                "from {}: expected `{want}` (lost or out of order)",
                names[from]
            );
            return Err(peer.mismatch(server, &reason, line));
        }
        next[from] += 1;
        total += 1;
    }
    Ok(())
}

/// After a shutdown, each client's last line is the notice and then the connection closes.
fn expect_shutdown_notice(server: &Server, peers: &mut [Peer]) -> Outcome {
    for peer in peers.iter_mut() {
        let lines = peer.until_closed(server, 100)?;
        ensure(
            lines.last().map(String::as_str) == Some(SHUTTING_DOWN),
            || {
                peer.failure(
                    server,
                    "the last line before the server closed was not the notice",
                )
                .expected(SHUTTING_DOWN)
            },
        )?;
    }
    Ok(())
}

/// The server must exit with status 0 soon after it closed the connections.
fn expect_exit_zero(server: &mut Server) -> Outcome {
    match server.process.wait_timeout(Duration::from_secs(10)) {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(server.failure(format!("the server exited with {status}, not 0"))),
        None => Err(server.failure("the server did not exit within 10 s of shutting down")),
    }
}

pub fn server_shutdown_on_sigterm(target: &Target) -> Outcome {
    let mut server = Server::start_quiet(target, &[])?;
    let mut peers = room::<3>(&server)?;
    server.process.signal(libc::SIGTERM);
    expect_shutdown_notice(&server, &mut peers)?;
    expect_exit_zero(&mut server)
}

pub fn server_exit_after(target: &Target) -> Outcome {
    let mut server = Server::start_quiet(target, &["--exit-after", "3"])?;
    let mut peers = Vec::new();
    for k in 0..3 {
        let mut peer = Peer::connect(&server, format!("client {}", k + 1), None)?;
        peer.expect(
            &server,
            &format!("* welcome {}, {} online", peer.name, k + 1),
        )?;
        peers.push(peer);
    }
    expect_shutdown_notice(&server, &mut peers)?;
    expect_exit_zero(&mut server)
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

/// A stand-in server for the client checks: it welcomes the client, answers `/nick` and each
/// line as a real server would, and on `/quit` sends one more line and closes. Returns what the
/// client sent.
fn chat_stub() -> Result<TcpStub, Failure> {
    TcpStub::start("127.0.0.1:0", |stream| {
        let mut name = stream
            .peer_addr()
            .map_err(Failure::io("getpeername"))?
            .to_string();
        let mut reader = BufReader::new(stream.try_clone().map_err(Failure::io("cloning"))?);
        let mut received = Vec::new();
        let reply = |stream: &mut TcpStream, text: String| {
            stream
                .write_all(format!("{text}\n").as_bytes())
                .map_err(Failure::io("the test's server could not send"))
        };
        reply(stream, format!("* welcome {name}, 1 online"))?;
        loop {
            let mut line = Vec::new();
            let got = (&mut reader).take(READ_LIMIT).read_until(b'\n', &mut line);
            received.extend_from_slice(&line);
            match got {
                Ok(0) => {
                    return Err(
                        Failure::new("the client closed the connection without `/quit`")
                            .received(received),
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(
                        Failure::new(format!("the client sent no `/quit`: {e}")).received(received)
                    );
                }
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches('\n').trim_end_matches('\r');
            if text == "/quit" {
                // Shapes the exchange: the last line comes a little after `/quit`, as from a
                // busy server; a client that exits without waiting for the close misses it.
                std::thread::sleep(Duration::from_millis(200));
                reply(stream, "[ben] one more line, after your /quit".to_string())?;
                return Ok(received); // and the connection closes
            } else if let Some(new) = text.strip_prefix("/nick ") {
                reply(stream, format!("* {name} is now {new}"))?;
                name = new.to_string();
            } else {
                reply(stream, format!("[{name}] {text}"))?;
            }
        }
    })
}

pub fn client_chats_through_stdin(target: &Target) -> Outcome {
    let stub = chat_stub()?;
    let port = stub.addr.port().to_string();
    let args = ["client", "--port", &port, "--name", "ana", "-q"];
    // The last line has no `\n`: the client must still send it as a line.
    let finished = run(target, &args, b"hello\nsecond line", RUN_TIMEOUT)?;
    let sent = stub.finish().map_err(|f| {
        f.context("the test's server")
            .command(&target.display(&args))
    })?;
    finished.expect_code(0)?;
    let want_sent = b"/nick ana\nhello\nsecond line\n/quit\n";
    ensure(sent == want_sent, || {
        finished
            .failure("the client did not send `/nick ana`, each line of stdin, then `/quit`")
            .sent(sent.clone())
            .expected(String::from_utf8_lossy(want_sent).into_owned())
    })?;
    let want = "* welcome 127.0.0.1:PORT, 1 online\n* 127.0.0.1:PORT is now ana\n[ana] hello\n\
                [ana] second line\n[ben] one more line, after your /quit\n";
    // The stub named the client by its address, which only the client knows: compare the
    // shape with the port blanked out.
    let got = blank_ports(&finished.stdout_text());
    ensure(got == want, || {
        finished
            .failure("the client did not print exactly the lines the server sent (the last one arrives after `/quit`: wait for the server to close)")
            .expected(want.replace("PORT", "…"))
    })
}

/// `127.0.0.1:50312` → `127.0.0.1:PORT`.
fn blank_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..at + "127.0.0.1:".len()]);
        rest = rest[at + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push_str("PORT");
    }
    out.push_str(rest);
    out
}

pub fn client_exits_when_server_closes(target: &Target) -> Outcome {
    let stub = TcpStub::start("127.0.0.1:0", |stream| {
        stream
            .write_all(format!("* welcome someone, 1 online\n{SHUTTING_DOWN}\n").as_bytes())
            .map_err(Failure::io("the test's server could not send"))?;
        Ok(Vec::new()) // and the connection closes
    })?;
    let port = stub.addr.port().to_string();
    let finished = run_with(
        target,
        &["client", "--port", &port, "-q"],
        Input::KeptOpen,
        Duration::from_secs(5),
    )?;
    stub.finish()?;
    finished.expect_code(0).map_err(|f| {
        f.expected("exit status 0 soon after the server closed, though stdin is still open")
    })?;
    let want = format!("* welcome someone, 1 online\n{SHUTTING_DOWN}\n");
    ensure(finished.stdout_text() == want, || {
        finished
            .failure("the client did not print the server's lines")
            .expected(want.clone())
    })
}

fn unknown_host(target: &Target) -> Outcome {
    common::unknown_host(target, "client", &[])
}
