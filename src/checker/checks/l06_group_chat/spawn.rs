//! Running out of threads: a client the server cannot start a thread for receives
//! `! server busy` and is closed; the room goes on (`lessons/06_group_chat.md#running-out`).
//!
//! How a check makes a server run out of threads, for any program and any user:
//!
//! - `ulimit -u` (`RLIMIT_NPROC`) does not bind root, and counts every process of the user, so
//!   it depends on what else runs; a cgroup's `pids.max` needs rights a student may not have.
//! - `ulimit -v` (`RLIMIT_AS`) binds everyone, and every thread needs address space for its
//!   stack: 2 MiB in Rust, 8 MiB (`ulimit -s`) in C and Python. So the server is started, its
//!   address space measured once it listens (`VmSize`: ~6 MiB for ours, ~20 MiB for CPython),
//!   and limited to that plus [`ROOM`]: a few clients' threads fit, then a stack does not.
//!
//! Nothing here depends on timing: who is served and who is turned away is decided by address
//! space, and the check follows the answers, whatever their number. A server that needs no
//! thread per client (lesson 07's event loop, which inherits this check) never runs out and
//! serves all [`MOST_CLIENTS`]: it passes, as it should.

use super::*;
use crate::checker::harness::scaled;

/// Address space the server may use beyond what it used when it started listening: a few
/// clients' stacks (Rust: 4 MiB a client, two threads; Python: 16 MiB) and a little heap. Less
/// than 64 MiB, so that glibc's malloc cannot reserve a new arena (64 MiB each) in it: what
/// runs out is stacks, not the memory a correct server needs to carry on.
pub const ROOM: u64 = 48 << 20;

/// At most this many clients connect. With [`ROOM`], threads of 600 KiB or more run out first;
/// fewer than `--max-clients` (100), so `! server full` is never the answer.
pub const MOST_CLIENTS: usize = 40;

/// The answer to a client the server cannot start a thread for.
pub const BUSY: &str = "! server busy";

/// What became of one client that connected and asked `/who`.
enum Admission {
    /// Welcomed and answered: in the room.
    Served(Peer),
    /// Told `! server busy`, then closed.
    Refused,
}

/// Under `ulimit -v` (what the server used when listening + [`ROOM`]), clients connect one by
/// one until one is refused with `! server busy` and closed. Then the server must still be
/// running, and once the other clients but one leave, a newcomer must be served, and the one
/// who stayed must hear of it.
pub fn server_survives_running_out_of_threads(target: &Target) -> Outcome {
    let args = ["server", "--port", "0", "-q"];
    let (mut server, limit) = Server::start_with_address_space_room(target, &args, ROOM)?;
    let under = format!(
        "under `ulimit -v {}` ({} MiB more than the server used once listening)",
        limit / 1024,
        ROOM >> 20
    );
    let mut served = Vec::new();
    let mut refused = None;
    for n in 1..=MOST_CLIENTS {
        match admit(&server, &format!("client {n}")) {
            Ok(Admission::Served(peer)) => served.push(peer),
            Ok(Admission::Refused) => {
                refused = Some(n);
                break;
            }
            Err(failure) => return Err(with_exit(&mut server, failure.context(&under))),
        }
    }
    let Some(refused) = refused else {
        // It never ran out: no thread per client (an event loop), or very small ones.
        return still_running(&mut server, &under);
    };
    still_running(&mut server, &under)?;
    ensure(!served.is_empty(), || {
        server
            .failure(format!(
                "{under}: the first client was already refused: a client should cost a few \
                 threads, and a thread's stack 2 to 8 MiB"
            ))
            .expected("the first clients welcomed, a later one `! server busy`")
    })?;
    // All but the first leave: their threads end and their stacks are freed.
    let mut stays = served.remove(0);
    let leaving: Vec<String> = served
        .iter()
        .map(|p| format!("* {} left", p.name))
        .collect();
    drop(served);
    skip_to(&mut stays, &server, leaving)?;
    let newcomer = newcomer(&mut server, &under, refused)?;
    skip_to(&mut stays, &server, vec![format!("* {newcomer} joined")])
        .map_err(|f| f.context(format!("{under}: after client {refused} was refused")))?;
    still_running(&mut server, &under)
}

/// Connect, ask `/who`, and read the answer: `* welcome …` then `* online: …` (served), or
/// `! server busy` (after a welcome or not) and the connection closed (refused).
fn admit(server: &Server, label: &str) -> Result<Admission, Failure> {
    let mut peer = Peer::connect(server, label, None)?;
    peer.say(server, "/who")?;
    let expected =
        format!("`* welcome …` and `* online: …`, or `{BUSY}` and the connection closed");
    // A welcome, then the answer: two lines at most.
    for _ in 0..2 {
        match peer.next_line(server)? {
            Some(line) if line.starts_with(b"* welcome ") => continue,
            Some(line) if line.starts_with(b"* online: ") => return Ok(Admission::Served(peer)),
            Some(line) if line == BUSY.as_bytes() => {
                let after = peer.until_closed(server, 0)?;
                ensure(after.is_empty(), || {
                    peer.failure(
                        server,
                        &format!("the connection stayed open after `{BUSY}`"),
                    )
                })?;
                return Ok(Admission::Refused);
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

/// Read `peer`'s lines until it has seen every line of `want`, in any order (clients that leave
/// together are announced in the order the server notices), past the other notices a member
/// hears (`* NAME joined`): at most [`MOST_CLIENTS`] × 2 of them.
fn skip_to(peer: &mut Peer, server: &Server, mut want: Vec<String>) -> Outcome {
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
                        .expected(want_text(&want)));
                }
            }
            None => {
                return Err(peer
                    .failure(server, "the server closed the connection")
                    .expected(want_text(&want)));
            }
        }
    }
    ensure(want.is_empty(), || {
        peer.failure(server, "not among the next lines")
            .expected(want_text(&want))
    })
}

/// The lines a member still waits for, for a failure.
fn want_text(want: &[String]) -> String {
    want.iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Once the others have left, a newcomer must be served. Their threads said goodbye but may
/// still be ending, their stacks not yet freed, and nothing tells a client when they are: a
/// newcomer refused meanwhile is fine, and another asks, waiting 10 ms doubling up to 0.5 s
/// between tries, until [`IO_TIMEOUT`] (scaled) has passed. Returns the newcomer's name.
fn newcomer(server: &mut Server, under: &str, refused: usize) -> Result<String, Failure> {
    let deadline = Instant::now() + scaled(IO_TIMEOUT);
    let mut pause = Duration::from_millis(10);
    for n in 1.. {
        match admit(server, &format!("newcomer {n}")) {
            Ok(Admission::Served(peer)) => return Ok(peer.name),
            Ok(Admission::Refused) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Ok(Admission::Refused) => break,
            Err(failure) => return Err(with_exit(server, failure.context(under))),
        }
    }
    Err(server
        .failure(format!(
            "{under}: after client {refused} was refused and the others but one left, every \
             newcomer was refused for {} s",
            scaled(IO_TIMEOUT).as_secs_f64()
        ))
        .expected("threads that end give their stacks back: a newcomer served"))
}

/// The server must not have exited: running out of threads ends nothing but one client.
fn still_running(server: &mut Server, under: &str) -> Outcome {
    match server.process.try_status() {
        None => Ok(()),
        Some(status) => Err(server
            .failure(format!(
                "{under}: the server exited ({})",
                exit_story(status)
            ))
            .expected(
                "the server goes on: a client it cannot start a thread for gets `! server busy`",
            )),
    }
}

/// `failure`, saying so if the server exits within a second (the likely cause: a server that
/// cannot start a thread and gives up shuts the room down on its way out), with its last stderr.
fn with_exit(server: &mut Server, mut failure: Failure) -> Failure {
    match server.process.wait_timeout(scaled(Duration::from_secs(1))) {
        Some(status) => {
            failure.stderr = Some(server.stderr());
            failure.with_reason_suffix(format!("; then the server exited ({})", exit_story(status)))
        }
        None => failure,
    }
}

/// An exit status, with what the usual ones mean here.
fn exit_story(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(101), _) => format!("{status}: a Rust panic, e.g. `thread::spawn` failing"),
        (_, Some(libc::SIGABRT)) => format!("{status}: an abort, e.g. out of memory"),
        _ => status.to_string(),
    }
}
