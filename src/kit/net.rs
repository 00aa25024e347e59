//! The two calls every TCP lesson after 01 makes the same way, written once.
//!
//! Lesson 01 shows `socket()`, `bind()` and `listen()` one by one; from lesson 02 on, std's
//! [`TcpListener::bind`] makes all three and [`TcpStream::connect`] makes `socket()` +
//! `connect()`. These helpers add the narration and the error context a beginner needs.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};

use anyhow::{Context, Result, anyhow};

use crate::kit::cli::unspecified_warning;
use crate::kit::narrate::Narrator;

/// The backlog std's `TcpListener::bind` passes to `listen()` on Unix.
pub const STD_BACKLOG: u32 = 128;

// ANCHOR: listen
/// socket + bind + listen in one call; warns when the address is every interface.
pub fn listen(addr: SocketAddr, say: &Narrator) -> Result<TcpListener> {
    let listener = TcpListener::bind(addr).with_context(|| format!("failed to bind {addr}"))?;
    let bound = listener.local_addr().context("getsockname() failed")?;
    say.call(
        format!("socket() + bind({addr}) + listen(backlog={STD_BACKLOG})"),
        format!("listening on {bound}"),
    );
    if let Some(warning) = unspecified_warning(bound) {
        say.warn(warning);
    }
    Ok(listener)
}
// ANCHOR_END: listen

/// Print the server's one line of stdout, `listening on ADDR`, and flush it: the contract's
/// signal that the server is ready.
pub fn announce(listener: &TcpListener) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", listener.local_addr()?)?;
    stdout.flush()?;
    Ok(())
}

// ANCHOR: connect
/// socket + connect: std's `TcpStream::connect` makes both calls; we try each address in turn
/// (a name like `localhost` may resolve to `::1` and `127.0.0.1`) and report the last failure.
pub fn connect(addrs: &[SocketAddr], say: &Narrator) -> Result<TcpStream> {
    let mut last_error = None;
    for &addr in addrs {
        match TcpStream::connect(addr) {
            Ok(stream) => {
                say.call(
                    format!("socket() + connect({addr})"),
                    format!("connected from {}", stream.local_addr()?),
                );
                return Ok(stream);
            }
            Err(e) => {
                say.call(
                    format!("socket() + connect({addr})"),
                    format!("failed: {e}"),
                );
                last_error = Some(anyhow!(e).context(format!("failed to connect to {addr}")));
            }
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow!("no address to connect to")))
}
// ANCHOR_END: connect
