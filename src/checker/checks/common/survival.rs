//! What ends naive servers, and must not end these: running out of file descriptors, clients
//! that fall silent, and threads that cannot start. Each is a scenario a lesson runs with its own
//! arguments: 04 and 05 the descriptor one, 02, 04 and 05 the idle one, and 04 and 06 the thread
//! one, each with its own protocol ([`ThreadPerClient`]).

use std::time::{Duration, Instant};

use super::conn::{Conn, WATCH, with_evidence};
use crate::checker::evidence::{Failure, Outcome};
use crate::checker::harness::{IO_TIMEOUT, Server, Target, scaled};

/// The file-descriptor limit [`survives_running_out_of_descriptors`] gives the server
/// (`ulimit -n 64`), and how many clients it then connects: more than the server can hold.
pub const FD_LIMIT: u64 = 64;
/// See [`FD_LIMIT`].
pub const FD_CLIENTS: usize = 70;
/// How often a server out of descriptors may be found running (or ready to run) in [`WATCH`]:
/// one that waits before retrying sleeps nearly all the time; one that retries `accept()` in a
/// tight loop is always running.
pub const MOST_BUSY: f64 = 0.5;

/// Start `server --port 0 -q EXTRA…` with at most [`FD_LIMIT`] descriptors, and connect
/// `clients` clients ([`FD_CLIENTS`] for 04), each sending one message: the server runs out of
/// descriptors and its
/// `accept()` fails (EMFILE) while the last clients wait in the listen backlog. Meanwhile it must
/// not spin ([`MOST_BUSY`]). Then the clients leave one by one, in order, each after its echo:
/// as descriptors come free, every waiting client must be served (within [`IO_TIMEOUT`] plus a
/// backoff's second). Last, a new client must be served: the server survived.
pub fn survives_running_out_of_descriptors(
    target: &Target,
    extra: &[&str],
    clients: usize,
) -> Outcome {
    let mut args = vec!["server", "--port", "0", "-q"];
    args.extend_from_slice(extra);
    let server = Server::start_with_open_files(target, &args, FD_LIMIT)?;
    let addr = server.addr;
    let scenario = || -> Outcome {
        let mut connected = Vec::with_capacity(clients);
        for n in 1..=clients {
            let mut client = Conn::open(addr, format!("client {n} of {clients}"))?;
            client.send(&client.message(1))?;
            connected.push(client);
        }
        let mut connected = connected.into_iter();
        if let Some(mut first) = connected.next() {
            first.expect_echo(&first.message(1), IO_TIMEOUT, "(the first client)")?;
            // Watch the server while it is out of descriptors: no echo may come, and it must
            // wait, not spin.
            let busy = server.process.busy_share(WATCH);
            first.expect_no_echo(Duration::ZERO, "an echo nobody asked for")?;
            if let Some(busy) = busy.filter(|&share| share > MOST_BUSY) {
                return Err(Failure::new(format!(
                    "while out of descriptors the server was running in {:.0}% of {} ms",
                    busy * 100.0,
                    WATCH.as_millis()
                ))
                .expected(format!(
                    "at most {:.0}%: after accept() fails with EMFILE, wait before trying again \
                     (10 ms, doubling to 1 s) instead of retrying at once",
                    MOST_BUSY * 100.0
                )));
            }
            first.close()?;
        }
        let patience = IO_TIMEOUT + Duration::from_secs(1);
        for mut client in connected {
            client.expect_echo(
                &client.message(1),
                patience,
                &format!(
                    "under `ulimit -n {FD_LIMIT}`, once the clients before it had left: a \
                     server out of descriptors must accept again when they come free"
                ),
            )?;
            client.close()?;
        }
        let mut newcomer = Conn::open(addr, "a new client")?;
        newcomer.echo(
            &newcomer.message(1),
            &format!("after {clients} clients under `ulimit -n {FD_LIMIT}` had left"),
        )?;
        newcomer.close()
    };
    scenario().map_err(|f| with_evidence(&server, f))
}

/// The `--idle-timeout-ms` the idle-client checks give the server: short, so the checks are.
pub const IDLE_MS: &str = "500";

/// Start `server --port 0 -q --idle-timeout-ms 500 EXTRA…`. `idle` clients are each served one
/// echo (so each holds a thread, a worker, or lesson 02's whole server) and then fall silent. A
/// new client must then be echoed — at once by a thread per client, or once the idle timeout
/// freed a worker or the iterative server — and every silent one must see the server close its
/// connection: a silent client cannot hold the server forever.
pub fn idle_clients_are_closed(target: &Target, extra: &[&str], idle: usize) -> Outcome {
    let mut args = vec!["--idle-timeout-ms", IDLE_MS];
    args.extend_from_slice(extra);
    let server = Server::start_quiet(target, &args)?;
    let scenario = || -> Outcome {
        let mut silent = Vec::with_capacity(idle);
        for n in 1..=idle {
            let mut client = Conn::open(server.addr, format!("silent client {n}"))?;
            client.echo(&client.message(1), "(then it falls silent)")?;
            silent.push(client);
        }
        let mut active = Conn::open(server.addr, "active client")?;
        active.send(&active.message(1))?;
        active.expect_echo(
            &active.message(1),
            IO_TIMEOUT,
            &format!("while {idle} silent client(s) are connected (--idle-timeout-ms {IDLE_MS})"),
        )?;
        for client in &mut silent {
            client.expect_closed(
                IO_TIMEOUT,
                &format!(
                    "after {IDLE_MS} ms in which it sent nothing (--idle-timeout-ms {IDLE_MS})"
                ),
            )?;
        }
        active.close()
    };
    scenario().map_err(|f| with_evidence(&server, f))
}

/// Address space a server may use, beyond what it used once listening, in the checks that it
/// survives failing to start a thread: a few clients' stacks (2 MiB a thread in Rust, 8 MiB in
/// C and Python) and a little heap. Less than 64 MiB, so that glibc's malloc cannot reserve a
/// new arena (64 MiB each) in it: what runs out is stacks, not the memory a correct server needs
/// to carry on.
pub const THREAD_ROOM: u64 = 48 << 20;

/// At most this many clients connect in those checks. With [`THREAD_ROOM`], threads of 600 KiB
/// or more run out first; fewer than lesson 06's `--max-clients` (100).
pub const MOST_CLIENTS: usize = 40;

/// A protocol's part in [`survives_running_out_of_threads`]: how a client is found served or
/// refused, and how the one who stays shows that the server goes on.
pub trait ThreadPerClient {
    /// Whether the server runs with `MALLOC_ARENA_MAX=1` (see
    /// [`Server::start_with_address_space_room`]): only where the lesson's own server starts a
    /// thread right after `listening on`, whose 64 MiB malloc arena could be reserved between
    /// the harness measuring the server and limiting it.
    const ONE_MALLOC_ARENA: bool;
    /// A client the check holds open.
    type Client;
    /// Connect as `label` and find out: `Some` if the server serves this client, `None` if it
    /// refused it as the contract says (after which its connection is closed).
    fn admit(&self, server: &Server, label: &str) -> Result<Option<Self::Client>, Failure>;
    /// `leaving` close their connections; `stays` is still connected.
    fn leave(
        &self,
        server: &Server,
        stays: &mut Self::Client,
        leaving: Vec<Self::Client>,
    ) -> Outcome;
    /// A newcomer was served; `stays`, connected all along, must still be served.
    fn still_served(
        &self,
        server: &Server,
        stays: &mut Self::Client,
        newcomer: &mut Self::Client,
    ) -> Outcome;
}

/// A server that starts a thread per client, under `ulimit -v` (what it used once listening +
/// [`THREAD_ROOM`]), so that its threads' stacks run out: clients connect one by one until one
/// is refused. Then the server must still be running; the others but one leave; a newcomer must
/// be served, and the one who stayed too.
///
/// How a check makes a server run out of threads, for any program and any user: `ulimit -u`
/// (`RLIMIT_NPROC`) does not bind root and counts every process of the user, so it depends on
/// what else runs; a cgroup's `pids.max` needs rights a student may not have. `ulimit -v`
/// (`RLIMIT_AS`) binds everyone, and every thread needs address space for its stack. Nothing
/// depends on timing: who is served and who is refused is decided by address space, and the
/// check follows the answers, whatever their number. A server that needs no thread per client
/// (lesson 07's event loop) never runs out and serves all [`MOST_CLIENTS`]: it passes, as it
/// should.
pub fn survives_running_out_of_threads<P: ThreadPerClient>(
    target: &Target,
    args: &[&str],
    protocol: &P,
) -> Outcome {
    let (mut server, limit) =
        Server::start_with_address_space_room(target, args, THREAD_ROOM, P::ONE_MALLOC_ARENA)?;
    let under = format!(
        "under `ulimit -v {}` ({} MiB more than the server used once listening)",
        limit / 1024,
        THREAD_ROOM >> 20
    );
    let mut served = Vec::new();
    let mut refused = None;
    for n in 1..=MOST_CLIENTS {
        match protocol.admit(&server, &format!("client {n}")) {
            Ok(Some(client)) => served.push(client),
            Ok(None) => {
                refused = Some(n);
                break;
            }
            Err(failure) => return Err(after_exit(&mut server, failure.context(&under))),
        }
    }
    let Some(refused) = refused else {
        // It never ran out: no thread per client (an event loop), or very small ones.
        return running(&mut server, &under);
    };
    running(&mut server, &under)?;
    if served.is_empty() {
        return Err(server
            .failure(format!(
                "{under}: the first client was already refused: a client should cost a thread \
                 or two, and a thread's stack 2 to 8 MiB"
            ))
            .expected("the first clients served, a later one refused"));
    }
    let after = format!("{under}, after client {refused} was refused");
    // All but the first leave: their threads end, and their stacks are freed.
    let mut stays = served.remove(0);
    let left = protocol.leave(&server, &mut stays, served);
    left.map_err(|f| after_exit(&mut server, f.context(&after)))?;
    let mut newcomer = newcomer(protocol, &mut server, &after)?;
    let served = protocol.still_served(&server, &mut stays, &mut newcomer);
    served.map_err(|f| after_exit(&mut server, f.context(&after)))?;
    running(&mut server, &under)
}

/// Once the others have left, a newcomer must be served. Their threads said goodbye but may
/// still be ending, their stacks not yet freed, and nothing tells a client when they are: a
/// newcomer refused meanwhile is fine, and another asks, waiting 10 ms doubling up to 0.5 s
/// between tries, until [`IO_TIMEOUT`] (scaled) has passed.
pub fn newcomer<P: ThreadPerClient>(
    protocol: &P,
    server: &mut Server,
    after: &str,
) -> Result<P::Client, Failure> {
    let deadline = Instant::now() + scaled(IO_TIMEOUT);
    let mut pause = Duration::from_millis(10);
    for n in 1.. {
        match protocol.admit(server, &format!("newcomer {n}")) {
            Ok(Some(client)) => return Ok(client),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Ok(None) => break,
            Err(failure) => return Err(after_exit(server, failure.context(after))),
        }
    }
    Err(server
        .failure(format!(
            "{after} and the others but one left, every newcomer was refused for {} s",
            scaled(IO_TIMEOUT).as_secs_f64()
        ))
        .expected("threads that end give their stacks back: a newcomer served"))
}

/// The server must not have exited: running out of threads ends nothing but one client.
pub fn running(server: &mut Server, under: &str) -> Outcome {
    match server.process.try_status() {
        None => Ok(()),
        Some(status) => Err(server
            .failure(format!(
                "{under}: the server exited ({})",
                exit_story(status)
            ))
            .expected("the server goes on: a client it cannot start a thread for is refused")),
    }
}

/// `failure`, saying so if the server exits within a second (the likely cause: a server that
/// cannot start a thread and gives up), with its stderr by then.
pub fn after_exit(server: &mut Server, mut failure: Failure) -> Failure {
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
