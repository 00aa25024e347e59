//! Lesson 03's server: socket → bind ([`bind`]), then recvfrom → sendto for ever ([`serve`]).
//! No listen(), no accept(): one socket receives every datagram, from anyone.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};

use super::dropper::Dropper;
use crate::kit::cli::unspecified_warning;
use crate::kit::narrate::{Narrator, narrate, show_bytes};

/// recvfrom() must be given room for the whole datagram: whatever does not fit is cut off and
/// thrown away — UDP does not keep the rest for the next call, as TCP would. A UDP datagram's
/// length is a 16-bit field, so 65 536 bytes always suffice.
pub const BUFFER: usize = 65_536;

// ANCHOR: bind
/// socket → bind: everything a UDP server needs before it can receive.
pub fn bind(addr: SocketAddr, say: &Narrator) -> Result<UdpSocket> {
    // 1. socket(): SOCK_DGRAM + UDP asks for datagrams — separate messages, each delivered whole
    //    or not at all — instead of TCP's SOCK_STREAM byte stream.
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .context("socket() failed")?;
    narrate!(
        say,
        call(
            format!("socket({}, SOCK_DGRAM, IPPROTO_UDP)", family(addr)),
            format!("fd {}", socket.as_raw_fd()),
        )
    );
    // No setsockopt(SO_REUSEADDR) as in lesson 01: UDP has no TIME_WAIT to wait out, and on
    // Linux the option would let a second server bind the same port and steal datagrams.

    // 2. bind(): claim the address and port; datagrams sent there now queue up for us. Port 0
    //    lets the kernel choose, so we ask it afterwards which port we got (getsockname).
    socket
        .bind(&addr.into())
        .with_context(|| format!("failed to bind {addr}"))?;
    let socket = UdpSocket::from(socket);
    let bound = socket.local_addr().context("getsockname() failed")?;
    narrate!(
        say,
        call(format!("bind({addr})"), format!("bound to {bound}"))
    );
    if let Some(warning) = unspecified_warning(bound) {
        narrate!(say, warn(warning));
    }

    // And that is all. No listen(): there are no connections to queue. No accept(): there is no
    // per-client socket. Every datagram, from anyone, arrives on this one socket, labelled with
    // its sender's address, and the reply is addressed by hand.
    narrate!(
        say,
        note("no listen(), no accept(): UDP has no connections, only datagrams with a sender")
    );
    Ok(socket)
}
// ANCHOR_END: bind

// ANCHOR: serve
/// recvfrom → sendto, for ever: one datagram in, the same datagram back to whoever sent it.
pub fn serve(
    socket: &UdpSocket,
    dropper: &mut Dropper,
    exit_after: Option<u64>,
    say: &Narrator,
) -> Result<()> {
    // Room for the largest datagram: a smaller buffer (the course's 1024) silently truncates.
    let mut buf = vec![0u8; BUFFER];
    let mut received = 0u64;
    while exit_after.is_none_or(|limit| received < limit) {
        if received == 0 {
            narrate!(
                say,
                note("waiting in recvfrom() for a datagram, from anyone…")
            );
        }
        // 3. recvfrom(): blocks until a datagram arrives, then returns exactly one — however many
        //    were sent back to back — and the address of its sender. 0 bytes is an empty
        //    datagram, not the end of a stream: UDP has no stream to end.
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // Some systems report an ICMP error for an earlier sendto() here; it concerns that
            // earlier peer, not the server, so it must not stop the server.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
                ) =>
            {
                narrate!(
                    say,
                    call(
                        "recvfrom()",
                        format!("error for an earlier datagram, ignored: {e}"),
                    )
                );
                continue;
            }
            Err(e) => return Err(e).context("recvfrom() failed"),
        };
        received += 1;
        let data = &buf[..n];
        narrate!(
            say,
            call(
                format!("recvfrom({BUFFER})"),
                format!("{n} bytes from {peer}: {}", show_bytes(data, 32)),
            )
        );

        if dropper.drops() {
            narrate!(
                say,
                note(format!(
                    "✗ dropped on purpose (--drop {}): no reply; to {peer} this looks exactly like a \
                 datagram lost on the way",
                    dropper.rate
                ))
            );
            continue;
        }

        // 4. sendto(): the reply goes to the address recvfrom() gave us. A UDP socket has no
        //    "other end", so every datagram it sends names its destination.
        match socket.send_to(data, peer) {
            Ok(sent) => narrate!(
                say,
                call(
                    format!("sendto({peer}, {n} bytes)"),
                    format!("{sent} bytes"),
                )
            ),
            // One unreachable peer must not stop the server for everybody else.
            Err(e) => narrate!(
                say,
                call(format!("sendto({peer}, {n} bytes)"), format!("failed: {e}"))
            ),
        }
    }
    narrate!(
        say,
        note(format!("received {received} datagram(s); exiting"))
    );
    Ok(())
}
// ANCHOR_END: serve

/// The address family socket() is asked for, as the C constant is named.
pub(crate) fn family(addr: SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    }
}
