//! The chat client: `socket()` + `connect()` (the kit's `net::connect`), then one thread prints
//! what the server sends while the main thread sends what we type.

use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, anyhow};

use super::text;
use crate::kit::narrate::{Narrator, narrate, result_text, role_colour};
use crate::kit::net;

/// A client gives up on a server that has not closed this long after our `/quit`.
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);

// ANCHOR: client
/// The chat client: one thread prints what the server sends, this one sends what we type.
pub fn run(addrs: &[SocketAddr], name: Option<&str>, say: &Narrator) -> Result<()> {
    let conn = Arc::new(net::connect(addrs, say)?);
    let _ = conn.set_nodelay(true);
    let quitting = Arc::new(AtomicBool::new(false));
    let colour = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let printer = {
        let (conn, quitting) = (conn.clone(), quitting.clone());
        std::thread::spawn(move || print_lines(&conn, colour, &quitting))
    };
    // Returns whether the last byte sent ended a line.
    let sending = || -> io::Result<bool> {
        if let Some(name) = name {
            (&*conn).write_all(format!("/nick {name}\n").as_bytes())?;
        }
        // Each line of stdin, as it comes (bounded pieces: a huge line is passed on in parts,
        // and the server answers `! line too long`).
        let mut stdin = io::stdin().lock();
        let mut ended = true;
        loop {
            let piece = stdin.fill_buf()?;
            let Some(&last) = piece.last() else {
                return Ok(ended);
            };
            ended = last == b'\n';
            let n = piece.len();
            (&*conn).write_all(piece)?;
            stdin.consume(n);
        }
    };
    // End of stdin: say goodbye, then wait for the server to close. (If sending failed, the
    // server has gone: the printing thread sees the end and says so.)
    if let Ok(ended) = sending() {
        quitting.store(true, Ordering::SeqCst);
        let goodbye: &[u8] = if ended { b"/quit\n" } else { b"\n/quit\n" };
        let sent = (&*conn).write_all(goodbye);
        narrate!(say, call("send(\"/quit\")", result_text(&sent)));
    }
    conn.set_read_timeout(Some(QUIT_TIMEOUT))?;
    let printed = printer
        .join()
        .map_err(|_| anyhow!("the printing thread panicked"))?;
    match printed {
        Ok(()) => {
            narrate!(
                say,
                call("recv()", "0 bytes: the server closed the connection")
            );
            Ok(())
        }
        Err(e) => Err(anyhow!(e).context("lost the connection to the server")),
    }
}

// ANCHOR_END: client

// ANCHOR: print_lines
/// Print each line from the server; a server closing first ends the whole program.
fn print_lines(conn: &TcpStream, colour: bool, quitting: &AtomicBool) -> io::Result<()> {
    let mut input = BufReader::new(conn);
    let mut line = Vec::new();
    loop {
        line.clear();
        // The server's lines are at most a name and 4096 bytes; 64 KiB is plenty.
        let n = (&mut input).take(64 * 1024).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let mut stdout = io::stdout().lock();
        // Whatever the server sends, our terminal obeys none of it: controls are shown, not run.
        writeln!(stdout, "{}", paint(&text::visible(text), colour))?;
        stdout.flush()?;
    }
    if !quitting.load(Ordering::SeqCst) {
        // Not our goodbye: the server left first. Nothing more to send, so exit here (the main
        // thread may be blocked reading stdin, which no one will end).
        eprintln!("the server closed the connection");
        std::process::exit(0);
    }
    Ok(())
}

/// On a terminal: `[NAME]` in the name's own colour (the same in every run), notices dimmed,
/// errors red. Piped: the line exactly as received.
fn paint(text: &str, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    let named = text
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("] "));
    if let Some((name, message)) = named {
        let fg = role_colour(name).to_fg_str();
        return format!("\x1b[{fg}m[{name}]\x1b[0m {message}");
    }
    match text.as_bytes().first() {
        Some(b'*') => format!("\x1b[2m{text}\x1b[0m"),
        Some(b'!') => format!("\x1b[31m{text}\x1b[0m"),
        _ => text.to_string(),
    }
}
// ANCHOR_END: print_lines
