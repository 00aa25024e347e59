//! Lines out of a connection's read buffer: what the loop does with the bytes one `recv` brought.

use super::{Conn, MAX_LINE};

/// What [`next_line`] found in a connection's read buffer.
pub(super) enum Got {
    /// A whole line, without its `\n` or `\r\n`.
    Line(Vec<u8>),
    /// A line over [`MAX_LINE`] bytes: refused; the rest of it, if any, is skipped.
    TooLong,
}

// ANCHOR: next_line
/// The next whole line in `conn`'s read buffer, if one has arrived. This is 06's `read_line`
/// turned inside out: the bytes are already here (one `recv` may have brought half a line, or
/// three), and an incomplete line waits in the buffer for the next readable event.
pub(super) fn next_line(conn: &mut Conn) -> Option<Got> {
    if conn.skipping {
        // Throw away the rest of an overlong line, up to its `\n`.
        match conn.inbox.iter().position(|&b| b == b'\n') {
            Some(at) => {
                conn.inbox.drain(..=at);
                conn.skipping = false;
            }
            None => {
                conn.inbox.clear();
                return None;
            }
        }
    }
    let window = conn.inbox.len().min(MAX_LINE + 2); // 4096 bytes and `\r\n`
    match conn.inbox[..window].iter().position(|&b| b == b'\n') {
        Some(at) => {
            let mut line: Vec<u8> = conn.inbox.drain(..=at).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            Some(if line.len() > MAX_LINE {
                Got::TooLong
            } else {
                Got::Line(line)
            })
        }
        None if conn.inbox.len() >= MAX_LINE + 2 => {
            conn.inbox.clear();
            conn.skipping = true;
            Some(Got::TooLong)
        }
        None => None, // an incomplete line: wait for more
    }
}
// ANCHOR_END: next_line
