//! Lesson 01's client: socket → connect → recv until end of stream → close ([`fetch_time`]), then
//! the time on stdout ([`run`]).

use std::io::Read;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use socket2::{Domain, Protocol, Socket, Type};

use super::format::{Format, print_time};
use super::server::{family, local_addr};
use crate::kit::narrate::{Narrator, narrate};

/// The `client` subcommand: fetch the time from the first of `addrs` that answers, print it.
pub fn run(addrs: &[SocketAddr], format: Format, say: &Narrator) -> Result<()> {
    let reply = fetch_time(addrs, say)?;
    print_time(&reply, format)
}

/// A client gives up on a server that sends nothing for this long (Python's `settimeout`).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A time reply is a few dozen bytes; anything longer is not a time server talking.
const MAX_REPLY: usize = 1024;

// ANCHOR: client
/// socket → connect → recv until end of stream → close.
pub fn fetch_time(addrs: &[SocketAddr], say: &Narrator) -> Result<Vec<u8>> {
    // A name such as `localhost` may have several addresses; like Python's create_connection we
    // try each until one accepts.
    let mut last_error = None;
    for &addr in addrs {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .context("socket() failed")?;
        narrate!(
            say,
            call(
                format!("socket({}, SOCK_STREAM, IPPROTO_TCP)", family(addr)),
                format!("fd {}", socket.as_raw_fd()),
            )
        );
        // connect(): the three-way handshake with the server. Fails at once with "connection
        // refused" when nothing listens on that port.
        if let Err(e) = socket.connect(&addr.into()) {
            narrate!(
                say,
                call(format!("connect({addr})"), format!("failed: {e}"))
            );
            last_error =
                Some(anyhow::Error::new(e).context(format!("failed to connect to {addr}")));
            continue;
        }
        narrate!(
            say,
            call(
                format!("connect({addr})"),
                format!("connected from {}", local_addr(&socket)?),
            )
        );
        // settimeout(): a server that accepts but never sends must not hang us forever.
        socket.set_read_timeout(Some(CLIENT_TIMEOUT))?;

        // recv() until it returns 0 bytes — end of stream, the server closed. One recv() may
        // return only part of what was sent, so we keep reading into one buffer.
        let mut reply = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            let n = (&socket)
                .read(&mut chunk)
                .with_context(|| format!("failed to read from {addr}"))?;
            narrate!(
                say,
                call(
                    "recv(1024)",
                    if n == 0 {
                        "0 bytes: end of stream".to_string()
                    } else {
                        format!("{n} bytes")
                    },
                )
            );
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&chunk[..n]);
            if reply.len() > MAX_REPLY {
                bail!("{addr} sent more than {MAX_REPLY} bytes: that is not a time server");
            }
        }
        drop(socket);
        narrate!(say, call("close()", "ok"));
        return Ok(reply);
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no address to connect to")))
}
// ANCHOR_END: client
