//! Running out of threads: a client the server cannot start a thread for receives
//! `! server busy` and is closed; the room goes on (`lessons/06_group_chat.md#running-out`).
//!
//! The scenario is shared with lesson 04, [`survives_running_out_of_threads`]: the server runs
//! under `ulimit -v` with room for a few clients' threads (two each here), clients connect until
//! one is refused, the others but one leave, and a newcomer must be served. What is the chat's own
//! is how a client tells served from refused, and how the one who stayed hears the others come
//! and go. Lesson 07, one thread for everyone, inherits the check and never runs out.

use super::*;
use crate::checker::checks::common::{
    MOST_CLIENTS, ThreadPerClient, survives_running_out_of_threads,
};

/// The answer to a client the server cannot start a thread for.
pub const BUSY: &str = "! server busy";

/// Under `ulimit -v`, a client the server cannot start a thread for gets `! server busy` and is
/// closed; the others never hear of it, and the room goes on.
pub fn server_survives_running_out_of_threads(target: &Target) -> Outcome {
    survives_running_out_of_threads(target, &["server", "--port", "0", "-q"], &Chat)
}

/// The chat's part: a client asks `/who` at once; served, it gets `* welcome …` then
/// `* online: …`; refused, `! server busy` (after a welcome or not) and the connection closed.
struct Chat;

impl ThreadPerClient for Chat {
    // Lesson 06's server starts its signal-handling thread just after `listening on`: its
    // arena must not land between the harness measuring the server and limiting it.
    const ONE_MALLOC_ARENA: bool = true;
    type Client = Peer;

    fn admit(&self, server: &Server, label: &str) -> Result<Option<Peer>, Failure> {
        let mut peer = Peer::connect(server, label, None)?;
        peer.say(server, "/who")?;
        let expected =
            format!("`* welcome …` and `* online: …`, or `{BUSY}` and the connection closed");
        // A welcome, then the answer: two lines at most.
        for _ in 0..2 {
            match peer.next_line(server)? {
                Some(line) if line.starts_with(b"* welcome ") => continue,
                Some(line) if line.starts_with(b"* online: ") => return Ok(Some(peer)),
                Some(line) if line == BUSY.as_bytes() => {
                    let after = peer.until_closed(server, 0)?;
                    ensure(after.is_empty(), || {
                        peer.failure(
                            server,
                            &format!("the connection stayed open after `{BUSY}`"),
                        )
                    })?;
                    return Ok(None);
                }
                Some(line) => {
                    return Err(peer
                        .mismatch(server, "an unexpected line", line)
                        .expected(expected));
                }
                None => {
                    return Err(peer
                        .failure(
                            server,
                            &format!("the server closed the connection without `{BUSY}`"),
                        )
                        .expected(expected));
                }
            }
        }
        Err(peer
            .failure(server, "no answer to `/who`")
            .expected(expected))
    }

    fn leave(&self, server: &Server, stays: &mut Peer, leaving: Vec<Peer>) -> Outcome {
        let left = leaving
            .iter()
            .map(|p| format!("* {} left", p.name))
            .collect();
        drop(leaving);
        hear_all(stays, server, left)
    }

    fn still_served(&self, server: &Server, stays: &mut Peer, newcomer: &mut Peer) -> Outcome {
        hear_all(stays, server, vec![format!("* {} joined", newcomer.name)])?;
        stays.say(server, "still here")?;
        let name = stays.name.clone();
        hear(server, &name, "still here", &mut [newcomer])
    }
}

/// Read `peer`'s lines until it has heard every line of `want`, in any order (clients that leave
/// together are announced in the order the server notices), past the other notices a member
/// hears (`* NAME joined`): at most [`MOST_CLIENTS`] × 2 of them.
fn hear_all(peer: &mut Peer, server: &Server, mut want: Vec<String>) -> Outcome {
    let waiting = |want: &[String]| {
        let lines: Vec<String> = want.iter().map(|w| format!("`{w}`")).collect();
        lines.join(", ")
    };
    for _ in 0..MOST_CLIENTS * 2 {
        if want.is_empty() {
            return Ok(());
        }
        match peer.next_line(server)? {
            Some(line) => {
                if let Some(at) = want.iter().position(|w| w.as_bytes() == line) {
                    want.remove(at);
                } else if !line.starts_with(b"* ") {
                    return Err(peer
                        .mismatch(server, "expected notices only", line)
                        .expected(waiting(&want)));
                }
            }
            None => {
                return Err(peer
                    .failure(server, "the server closed the connection")
                    .expected(waiting(&want)));
            }
        }
    }
    ensure(want.is_empty(), || {
        peer.failure(server, "not among the next lines")
            .expected(waiting(&want))
    })
}
