//! # Lesson 02 — a TCP echo server and client
//!
//! The server sends back every byte it receives, unchanged (or upper-cased with `--upper`, the
//! course's variation), until the client closes its sending side; then it closes and accepts the
//! next client. It is *iterative*: while it serves one client, the next one waits in the listen
//! queue (lesson 04 changes that).
//!
//! The client sends each message and prints what comes back. Its real lesson is the course's
//! open question "how do I know all the data has arrived?": one `recv(1024)` is not a message.
//! TCP is a byte stream with no boundaries, so the client reads until it has as many bytes as it
//! sent — however many reads that takes — while another thread is still sending.
//!
//! Run it:
//!
//! ```text
//! cargo run --bin 02_echo                                 # demo: server and two clients, narrated
//! cargo run --bin 02_echo -- server                       # terminal 1
//! cargo run --bin 02_echo -- client "Hello, world"        # terminal 2 (or: nc 127.0.0.1 7002)
//! cargo run --bin 02_echo -- client < some-file.txt       # one message per line of stdin
//! ```
//!
//! The page: `lessons/02_echo.md`.

use std::io::{BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use workbook::kit::cli::{Endpoint, ports, resolve, resolve_one, unspecified_warning};
use workbook::kit::narrate::{Narrator, show_bytes, try_next};

const LESSON: &str = "02_echo";

/// The course's buffer size. A read returns *at most* this many bytes — often fewer.
const READ_SIZE: usize = 1024;

/// Narrate this many reads per connection, then only a summary: a 1 MiB message takes a
/// thousand reads, and the point is made after a few.
const NARRATED_READS: usize = 4;

/// The client gives up when the server sends nothing for this long. The server is iterative,
/// so a client may legitimately wait while another client is being served.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest line the client accepts from stdin: every buffer has a limit.
const MAX_LINE: usize = 64 << 20;

#[derive(Parser)]
#[command(
    name = LESSON,
    about = "Lesson 02: a TCP echo server and client",
    after_help = "With no subcommand, runs the demo. Page: lessons/02_echo.md"
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// Server and two clients in one process on a free port, every call narrated (the default).
    Demo,
    /// Echo every byte back until the client stops sending; one client at a time, forever.
    Server {
        #[command(flatten)]
        at: Endpoint<{ ports::ECHO }>,
        /// Send back ASCII letters upper-cased (the course's variation); other bytes unchanged.
        #[arg(long)]
        upper: bool,
        /// Stop after serving this many connections (default: serve forever).
        #[arg(long, value_name = "K")]
        exit_after: Option<u64>,
    },
    /// Send each MESSAGE (or each line of stdin) followed by a newline; print each echo.
    Client {
        #[command(flatten)]
        at: Endpoint<{ ports::ECHO }>,
        /// The messages to send; with none, each line of stdin is one message.
        messages: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    workbook::kit::errors::main(LESSON, || match cli.mode.unwrap_or(Mode::Demo) {
        Mode::Demo => demo(),
        Mode::Server {
            at,
            upper,
            exit_after,
        } => {
            let say = Narrator::new("server", at.quiet);
            let listener = listen(resolve_one(&at.host, at.port)?, &say)?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "listening on {}", listener.local_addr()?)?;
            stdout.flush()?;
            serve(&listener, Transform::from_flag(upper), exit_after, &say)
        }
        Mode::Client { at, messages } => {
            let say = Narrator::new("client", at.quiet);
            let stream = connect(&resolve(&at.host, at.port)?, &say)?;
            let mut stdout = std::io::stdout().lock();
            if messages.is_empty() {
                // Interactive (or piped): one message per line of stdin, echoed as it comes back.
                let mut stdin = std::io::stdin().lock();
                while let Some(line) = read_line(&mut stdin)? {
                    stdout.write_all(&echo_one(&stream, &line, &say)?)?;
                    stdout.flush()?;
                }
            } else {
                for message in messages {
                    let line = format!("{message}\n").into_bytes();
                    stdout.write_all(&echo_one(&stream, &line, &say)?)?;
                    stdout.flush()?;
                }
            }
            finish(stream, &say)
        }
    })
}

/// What the server does to the bytes before sending them back.
#[derive(Clone, Copy)]
enum Transform {
    Echo,
    Upper,
}

impl Transform {
    fn from_flag(upper: bool) -> Transform {
        if upper {
            Transform::Upper
        } else {
            Transform::Echo
        }
    }

    fn apply(self, data: &mut [u8]) {
        if let Transform::Upper = self {
            // Byte by byte, so it works however the stream was split into reads; bytes that are
            // not ASCII letters (including every byte of UTF-8's multi-byte characters) stay.
            data.make_ascii_uppercase();
        }
    }
}

// ANCHOR: listen
/// socket + bind + listen in one call.
fn listen(addr: SocketAddr, say: &Narrator) -> Result<TcpListener> {
    // Lesson 01 made these calls one by one with socket2. std's TcpListener::bind makes the same
    // calls for us: socket(), setsockopt(SO_REUSEADDR), bind(), listen() with a backlog of 128.
    let listener = TcpListener::bind(addr).with_context(|| format!("failed to bind {addr}"))?;
    let bound = listener.local_addr().context("getsockname() failed")?;
    say.call(
        format!("socket() + bind({addr}) + listen(backlog=128)"),
        format!("listening on {bound}"),
    );
    if let Some(warning) = unspecified_warning(bound) {
        say.warn(warning);
    }
    Ok(listener)
}
// ANCHOR_END: listen

// ANCHOR: serve
/// accept one client, echo until it is done, close, accept the next: an iterative server.
fn serve(
    listener: &TcpListener,
    transform: Transform,
    exit_after: Option<u64>,
    say: &Narrator,
) -> Result<()> {
    let mut served = 0;
    while exit_after.is_none_or(|limit| served < limit) {
        say.note("waiting in accept(); any other client waits in the listen queue meanwhile");
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accept() failed"),
        };
        served += 1;
        say.call("accept()", format!("connection from {peer}"));
        // One client's failure (a reset, a vanished peer) ends that connection, not the server.
        match echo_until_closed(&stream, transform, say) {
            Ok((bytes, reads)) => say.call(
                "recv()",
                format!("0 bytes: {peer} closed its side after {bytes} bytes in {reads} reads"),
            ),
            Err(e) => say.call("recv()/send()", format!("failed: {e:#}; dropping {peer}")),
        }
        // close(): dropping the stream closes it; the client's last read returns 0 bytes.
        drop(stream);
        say.call("close()", format!("done with {peer}"));
    }
    say.note(format!("served {served} connection(s); exiting"));
    Ok(())
}
// ANCHOR_END: serve

// ANCHOR: echo_loop
/// recv → send, until recv returns 0 bytes (the client shut down its sending side).
/// Returns how many bytes were echoed and in how many reads.
fn echo_until_closed(
    mut stream: &TcpStream,
    transform: Transform,
    say: &Narrator,
) -> Result<(u64, usize)> {
    let mut buf = [0u8; READ_SIZE];
    let (mut total, mut reads) = (0u64, 0usize);
    loop {
        // recv(1024) returns whatever has arrived, 1 to 1024 bytes — not "a message". It blocks
        // while nothing has arrived; 0 means the client will send nothing more.
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok((total, reads));
        }
        reads += 1;
        total += n as u64;
        let data = &mut buf[..n];
        transform.apply(data);
        // sendall(): write_all loops until the kernel has taken every byte.
        stream.write_all(data)?;
        if reads <= NARRATED_READS {
            say.call(
                format!("recv({READ_SIZE})"),
                format!("{n} bytes {}", show_bytes(data, 24)),
            );
            say.call(format!("sendall({n} bytes)"), "ok");
        } else if reads == NARRATED_READS + 1 {
            say.note("… more reads; only the total is shown from here on");
        }
    }
}
// ANCHOR_END: echo_loop

// ANCHOR: client
/// socket + connect: std's TcpStream::connect makes both calls, trying each address in turn.
fn connect(addrs: &[SocketAddr], say: &Narrator) -> Result<TcpStream> {
    let mut last_error = None;
    for &addr in addrs {
        match TcpStream::connect(addr) {
            Ok(stream) => {
                say.call(
                    format!("socket() + connect({addr})"),
                    format!("connected from {}", stream.local_addr()?),
                );
                stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
                return Ok(stream);
            }
            Err(e) => {
                say.call(
                    format!("socket() + connect({addr})"),
                    format!("failed: {e}"),
                );
                last_error =
                    Some(anyhow::Error::new(e).context(format!("failed to connect to {addr}")));
            }
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no address to connect to")))
}

/// Send one message and read back exactly as many bytes as were sent.
fn echo_one(stream: &TcpStream, message: &[u8], say: &Narrator) -> Result<Vec<u8>> {
    // Send on one thread while reading on this one. Sending everything first and reading
    // afterwards deadlocks on a large message: the server blocks sending an echo we are not
    // reading yet, so it stops reading, so our send blocks too.
    let mut writer = stream.try_clone().context("failed to clone the socket")?;
    std::thread::scope(|scope| {
        let sending = scope.spawn(move || writer.write_all(message));
        let mut reply = Vec::with_capacity(message.len());
        let mut buf = [0u8; 64 * 1024];
        let mut reads = 0;
        // The echo of our message is exactly message.len() bytes: read until we have them all,
        // however the stream happens to split them.
        while reply.len() < message.len() {
            let want = (message.len() - reply.len()).min(buf.len());
            let n = (&*stream)
                .read(&mut buf[..want])
                .context("failed to read the echo")?;
            if n == 0 {
                bail!(
                    "the server closed the connection after echoing {} of {} bytes",
                    reply.len(),
                    message.len()
                );
            }
            reply.extend_from_slice(&buf[..n]);
            reads += 1;
        }
        sending
            .join()
            .map_err(|_| anyhow::anyhow!("the sending thread panicked"))?
            .context("failed to send")?;
        say.call(
            format!("sendall({})", show_bytes(message, 24)),
            format!("{} bytes", message.len()),
        );
        say.call(
            "recv() until the whole echo is in",
            format!("{} bytes in {reads} read(s)", reply.len()),
        );
        Ok(reply)
    })
}

/// shutdown(SHUT_WR): "I will send nothing more". The server's read returns 0, it closes, and
/// our read returns 0 too: both sides agree the conversation is over.
fn finish(stream: TcpStream, say: &Narrator) -> Result<()> {
    match stream.shutdown(Shutdown::Write) {
        Ok(()) => say.call("shutdown(SHUT_WR)", "ok: no more data from us"),
        // The server closed first (is it an echo server?): what it sent is read below.
        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => say.call(
            "shutdown(SHUT_WR)",
            "the server had already closed the connection",
        ),
        Err(e) => return Err(e).context("shutdown() failed"),
    }
    let mut rest = Vec::new();
    (&stream)
        .take(READ_SIZE as u64)
        .read_to_end(&mut rest)
        .context("failed waiting for the server to close")?;
    if !rest.is_empty() {
        bail!(
            "the server sent {} bytes we did not ask for: {}",
            rest.len(),
            show_bytes(&rest, 40)
        );
    }
    say.call("recv()", "0 bytes: the server closed");
    drop(stream);
    say.call("close()", "ok");
    Ok(())
}
// ANCHOR_END: client

/// One line of stdin, with its `\n` (added if the last line lacks one); `None` at end of input.
fn read_line(input: &mut impl BufRead) -> Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = input
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)
        .context("failed to read stdin")?;
    if n == 0 {
        return Ok(None);
    }
    if line.len() > MAX_LINE {
        bail!("a line of stdin is longer than {MAX_LINE} bytes");
    }
    if !line.ends_with(b"\n") {
        line.push(b'\n');
    }
    Ok(Some(line))
}

/// Server and two clients in one process. Client 1 sends a short message and one of 5000 bytes
/// (watch the server need several reads for it); client 2 waits its turn.
fn demo() -> Result<()> {
    let server = Narrator::new("server", false);
    let listener = listen("127.0.0.1:0".parse()?, &server)?;
    let addr = listener.local_addr()?;
    let big: Vec<u8> = [b"x".repeat(4999), b"\n".to_vec()].concat();
    std::thread::scope(|scope| -> Result<()> {
        let serving = scope.spawn(|| serve(&listener, Transform::Echo, Some(2), &server));
        for (name, messages) in [
            ("client 1", vec![b"Hello, world\n".to_vec(), big.clone()]),
            ("client 2", vec![b"bye\n".to_vec()]),
        ] {
            let say = Narrator::new(name, false);
            let stream = connect(&[addr], &say)?;
            for message in &messages {
                let reply = echo_one(&stream, message, &say)?;
                println!("{}", show_bytes(&reply, 40));
            }
            finish(stream, &say)?;
        }
        serving
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread panicked"))?
    })?;
    try_next(&[
        format!("cargo run --bin {LESSON} -- server                    # terminal 1"),
        format!("cargo run --bin {LESSON} -- client \"Hello, world\"     # terminal 2"),
        format!(
            "nc 127.0.0.1 {}                                     # type lines; Ctrl-D ends",
            ports::ECHO
        ),
        format!(
            "cargo run --bin {LESSON} -- server --upper            # the course's upper-case echo"
        ),
    ]);
    Ok(())
}
