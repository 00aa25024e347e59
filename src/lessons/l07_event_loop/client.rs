//! The chat client, as a loop too: one thread watches two descriptors — stdin and the
//! connection — with `poll(2)`, the call the server's poller is a faster cousin of.
//!
//! Lesson 06's client needs two threads because `read(stdin)` and `recv(conn)` each block.
//! Here `poll` says which of them has something, so neither read ever waits. `poll` is
//! *level-triggered* (it reports a descriptor as long as it is ready, unlike the server's
//! edge-triggered epoll), which lets stdin stay a blocking descriptor: we read it only when
//! `poll` says a read will not wait — and it works for a file on stdin too, which epoll refuses.

// On Windows only `run` below is compiled in (lesson 06's client): the poll loop's helpers and
// imports are Unix's.
#![cfg_attr(windows, allow(unused_imports, dead_code))]

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::kit::narrate::{Narrator, narrate};
use crate::kit::net::connect;
use crate::lessons::l06_group_chat::text;

/// A client gives up on a server that has not closed this long after our `/quit`.
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's lines are at most a name and 4096 bytes; a longer piece is printed as it is.
const LONGEST_LINE: usize = 64 * 1024;

/// Stop reading stdin while this much is still waiting to be sent: bounded memory.
const SEND_AHEAD: usize = 64 * 1024;

/// On Windows, `poll` (WSAPoll) watches sockets only, never a console or a pipe: stdin cannot
/// join the loop. There this client is lesson 06's, one thread per direction; the server, the
/// lesson's subject, is the same loop on every system (mio uses IOCP on Windows).
#[cfg(windows)]
pub fn run(addrs: &[SocketAddr], name: Option<&str>, say: &Narrator) -> Result<()> {
    crate::lessons::l06_group_chat::client::run(addrs, name, say)
}

// ANCHOR: client
/// Join the room: send `/nick NAME`, each line of stdin and `/quit`; print every line the
/// server sends; end when the server closes the connection.
#[cfg(unix)]
pub fn run(addrs: &[SocketAddr], name: Option<&str>, say: &Narrator) -> Result<()> {
    let mut conn = connect(addrs, say)?;
    let _ = conn.set_nodelay(true);
    conn.set_nonblocking(true)
        .context("fcntl(O_NONBLOCK) failed")?;
    narrate!(say, call("fcntl(conn, F_SETFL, O_NONBLOCK)", "ok"));
    let mut outbox: Vec<u8> = name
        .map(|n| format!("/nick {n}\n").into_bytes())
        .unwrap_or_default();
    let mut inbox: Vec<u8> = Vec::new();
    let mut stdin = io::stdin().lock();
    let (mut reading_stdin, mut line_ended, mut sending) = (true, true, true);
    let mut quit_by: Option<Instant> = None;
    loop {
        // Watch the connection (for writability only while something waits to be sent) and
        // stdin (while it is open and we are not too far ahead of the network).
        use std::os::fd::AsRawFd;
        let mut watch = vec![libc::pollfd {
            fd: conn.as_raw_fd(),
            events: libc::POLLIN
                | if sending && !outbox.is_empty() {
                    libc::POLLOUT
                } else {
                    0
                },
            revents: 0,
        }];
        if reading_stdin && outbox.len() < SEND_AHEAD {
            watch.push(libc::pollfd {
                fd: stdin.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let timeout = quit_by.map_or(-1, |t| {
            let left = t.saturating_duration_since(Instant::now()).as_millis();
            i32::try_from(left).unwrap_or(i32::MAX)
        });
        // SAFETY: `watch` is a valid array of `watch.len()` pollfd structs that outlives the call.
        let ready = unsafe { libc::poll(watch.as_mut_ptr(), watch.len() as libc::nfds_t, timeout) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("poll() failed");
        }
        if ready == 0 {
            bail!("the server did not close the connection within {QUIT_TIMEOUT:?} of our /quit");
        }

        // ANCHOR_END: client

        // ANCHOR: client_ready
        // The connection: print each whole line; 0 bytes means the server has closed.
        if watch[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            let open =
                receive(&mut conn, &mut inbox).context("lost the connection to the server")?;
            print_lines(&mut inbox, !open)?;
            if !open {
                if quit_by.is_none() {
                    // Not after our goodbye: the server left first.
                    eprintln!("the server closed the connection");
                } else {
                    narrate!(
                        say,
                        call("recv()", "0 bytes: the server closed the connection")
                    );
                }
                return Ok(());
            }
        }

        // stdin: as much as one read gives, passed on as it is (the server splits lines).
        if watch
            .get(1)
            .is_some_and(|w| w.revents & (libc::POLLIN | libc::POLLHUP) != 0)
        {
            let mut piece = [0u8; 16 * 1024]; // ≥ std's stdin buffer, so each read is one read(2)
            let n = stdin.read(&mut piece).context("reading stdin failed")?;
            if n == 0 {
                // End of stdin: say goodbye, then wait (bounded) for the server to close.
                reading_stdin = false;
                outbox.extend_from_slice(if line_ended { b"/quit\n" } else { b"\n/quit\n" });
                narrate!(say, call("send(\"/quit\")", "queued"));
                quit_by = Some(Instant::now() + QUIT_TIMEOUT);
            } else {
                line_ended = piece[n - 1] == b'\n';
                outbox.extend_from_slice(&piece[..n]);
            }
        }

        // Send what we can; the rest waits for POLLOUT.
        while sending && !outbox.is_empty() {
            match conn.write(&outbox) {
                Ok(n) => {
                    outbox.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The server has gone: stop sending; reading will see the end.
                Err(_) => {
                    (sending, reading_stdin) = (false, false);
                    outbox.clear();
                }
            }
        }
    }
}
// ANCHOR_END: client_ready

/// recv() until WouldBlock, appending to `inbox`; false once the server has closed. The cap
/// comes before the read, as in lesson 06's client: once `inbox` holds more than a line may, stop
/// and let `print_lines` empty it — poll() says readable again for the rest. Without it, a
/// server that sends a gigabyte without `\n` makes this loop hold a gigabyte.
#[cfg(unix)]
fn receive(conn: &mut std::net::TcpStream, inbox: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if inbox.len() > LONGEST_LINE {
            return Ok(true);
        }
        match conn.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => inbox.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Print each whole line in `inbox` (and, at the end, a last piece without `\n`), with its
/// control characters shown, never obeyed (lesson 06's rule: a client cannot trust its server).
#[cfg(unix)]
fn print_lines(inbox: &mut Vec<u8>, at_end: bool) -> Result<()> {
    let mut stdout = io::stdout().lock();
    let mut start = 0;
    let mut print = |line: &[u8]| {
        let text = String::from_utf8_lossy(line);
        writeln!(stdout, "{}", text::visible(&text))
    };
    while let Some(at) = inbox[start..].iter().position(|&b| b == b'\n') {
        print(&inbox[start..start + at])?;
        start += at + 1;
    }
    inbox.drain(..start);
    if (at_end && !inbox.is_empty()) || inbox.len() > LONGEST_LINE {
        print(inbox)?;
        inbox.clear();
    }
    stdout.flush()?;
    Ok(())
}
