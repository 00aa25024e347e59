//! A server under test, started with `--port 0`: ready once it prints `listening on ADDR` (an
//! event, never a sleep), with a deadline, its stdout and stderr drained so a chatty program
//! cannot block on a pipe.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use super::process::{Shared, drain, snapshot};
use super::{Limit, Process, STARTUP_TIMEOUT, THREAD_STACK, Target, scaled};
use crate::checker::evidence::Failure;

/// A server under test, started with `--port 0`, whose address we learned from its
/// `listening on ADDR` line.
pub struct Server {
    /// The address the server printed.
    pub addr: SocketAddr,
    /// The running process (dropped ⇒ killed).
    pub process: Process,
    stdout_rest: Shared,
}

impl Server {
    /// Start `target args` and wait (at most [`STARTUP_TIMEOUT`]) for its first stdout line,
    /// which must be exactly `listening on ADDR`.
    pub fn start(target: &Target, args: &[&str]) -> Result<Server, Failure> {
        Server::start_with(target, args, &[])
    }

    /// [`Server::start`] with at most `open_files` file descriptors (`ulimit -n`): for the checks
    /// that a server survives running out of them.
    pub fn start_with_open_files(
        target: &Target,
        args: &[&str],
        open_files: u64,
    ) -> Result<Server, Failure> {
        Server::start_with(target, args, &[Limit::OpenFiles(open_files)])
    }

    /// [`Server::start`] under `ulimit -v` from its first instruction: at most `bytes` of
    /// address space (`RLIMIT_AS`), set before it runs, as a learner's shell sets it. For the
    /// tests that run a server as the learner would, whatever it uses to start up.
    pub fn start_with_address_space(
        target: &Target,
        args: &[&str],
        bytes: u64,
    ) -> Result<Server, Failure> {
        Server::start_with(target, args, &[Limit::AddressSpace(bytes)])
    }

    /// [`Server::start`], then room in its address space (`ulimit -v`) for only `room` more bytes
    /// than it uses once listening: for the checks that a server survives failing to start a
    /// thread, whose stack needs address space (2 MiB in Rust; 8 MiB in C and Python, the stack
    /// limit, which this sets to 8 MiB so that it is the same everywhere). The limit is measured
    /// from the running server, not guessed: an interpreter alone takes tens of MiB. Returns the
    /// server and the limit, in bytes.
    ///
    /// `one_malloc_arena`: run the server with `MALLOC_ARENA_MAX=1` (glibc's; other allocators
    /// ignore the variable). By default each new thread that allocates may reserve an arena of
    /// 64 MiB, and a server that starts a thread of its own just after `listening on` (lesson
    /// 06's signal-handling thread) could reserve one between our reading its address space and
    /// limiting it, leaving no room at all. Through `env`, which execs the program: same process,
    /// and a command line the user can run. Without it, the server runs as a learner's shell
    /// would run it: the checks of lesson 04 do.
    pub fn start_with_address_space_room(
        target: &Target,
        args: &[&str],
        room: u64,
        one_malloc_arena: bool,
    ) -> Result<(Server, u64), Failure> {
        let env = ["env", "MALLOC_ARENA_MAX=1"].into_iter().map(String::from);
        let argv = target.argv().iter().cloned();
        let target = if one_malloc_arena {
            Target::new(env.chain(argv))
        } else {
            Target::new(argv)
        };
        let server = Server::start_with(&target, args, &[Limit::Stack(THREAD_STACK)])?;
        let used = server.process.address_space().ok_or_else(|| {
            server.failure("could not read the server's address space (VmSize in /proc/PID/status)")
        })?;
        let limit = used + room;
        server
            .process
            .lower_limit(Limit::AddressSpace(limit))
            .map_err(|e| server.failure(format!("could not lower the server's RLIMIT_AS: {e}")))?;
        Ok((server, limit))
    }

    fn start_with(target: &Target, args: &[&str], limits: &[Limit]) -> Result<Server, Failure> {
        let (process, line, stdout_rest) = first_line(target, args, "ADDR", limits)?;
        let text = String::from_utf8_lossy(&line);
        let fail = |reason: String, process: &Process| {
            Failure::new(reason)
                .command(process.command_line())
                .expected(
                    "a first line `listening on ADDR` on stdout, e.g. `listening on 127.0.0.1:40123`",
                )
                .stderr(process.stderr())
        };
        let addr = text
            .strip_suffix('\n')
            .and_then(|l| l.strip_prefix("listening on "))
            .and_then(|a| a.parse::<SocketAddr>().ok());
        match addr {
            Some(addr) => Ok(Server {
                addr,
                process,
                stdout_rest,
            }),
            None => {
                // `listening on ::1:40123` — an IPv6 address without its brackets — is the
                // natural f-string; say what the contract wants instead.
                let bare_ipv6 = text
                    .trim_end()
                    .strip_prefix("listening on ")
                    .and_then(|a| a.rsplit_once(':'))
                    .filter(|(ip, port)| {
                        ip.parse::<std::net::Ipv6Addr>().is_ok() && port.parse::<u16>().is_ok()
                    })
                    .map(|(ip, port)| format!("[{ip}]:{port}"));
                let reason = match bare_ipv6 {
                    Some(bracketed) => format!(
                        "an IPv6 address is written in brackets, before its port: \
                         `listening on {bracketed}`"
                    ),
                    None => "the first line on stdout is not `listening on ADDR`".to_string(),
                };
                Err(fail(reason, &process).received(line))
            }
        }
    }

    /// Start `target server --port 0 -q EXTRA…`: the usual way a check starts a server.
    pub fn start_quiet(target: &Target, extra: &[&str]) -> Result<Server, Failure> {
        let mut args = vec!["server", "--port", "0", "-q"];
        args.extend_from_slice(extra);
        Server::start(target, &args)
    }

    /// What the server wrote on stdout after its `listening on` line (the contract says: nothing).
    pub fn stdout_after_listening(&self) -> Vec<u8> {
        snapshot(&self.stdout_rest)
    }

    /// The server's stderr so far.
    pub fn stderr(&self) -> Vec<u8> {
        self.process.stderr()
    }

    /// A failure that carries this server's command line and stderr as evidence.
    pub fn failure(&self, reason: impl Into<String>) -> Failure {
        Failure::new(reason)
            .command(self.process.command_line())
            .stderr(self.stderr())
    }
}

/// Start `target args` and wait (at most [`STARTUP_TIMEOUT`]) for its first stdout line, which
/// a server prints when ready: `listening on WHAT`. Returns the process, the line, and what
/// stdout holds after it.
pub(super) fn first_line(
    target: &Target,
    args: &[&str],
    what: &str,
    limits: &[Limit],
) -> Result<(Process, Vec<u8>, Shared), Failure> {
    let (mut process, _stdin, stdout) = Process::spawn(target, args, Stdio::null(), limits)?;
    let stdout_rest = Shared::default();
    let (first_line, first) = mpsc::channel();
    let rest = stdout_rest.clone();
    process.readers.push(std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        // A line longer than 4 KiB is not a `listening on` line; stop there.
        let got = (&mut reader).take(4096).read_until(b'\n', &mut line);
        let _ = first_line.send(got.map(|_| line));
        drain(reader, rest).join().ok();
    }));
    let fail = |reason: String, process: &Process| {
        Failure::new(reason)
            .command(process.command_line())
            .expected(if what == "ADDR" {
                "a first line `listening on ADDR` on stdout, e.g. `listening on 127.0.0.1:40123`"
                    .to_string()
            } else {
                format!("a first line `listening on {what}` on stdout")
            })
            .stderr(process.stderr())
    };
    let startup = scaled(STARTUP_TIMEOUT);
    let line = match first.recv_timeout(startup) {
        Ok(Ok(line)) if line.is_empty() => {
            let status = process.wait_timeout(Duration::from_secs(1));
            let how = status.map_or("closed stdout".to_string(), |s| format!("exited ({s})"));
            return Err(fail(
                format!("the server {how} without printing `listening on {what}`"),
                &process,
            ));
        }
        Ok(Ok(line)) => line,
        Ok(Err(e)) => {
            return Err(fail(
                format!("could not read the server's stdout: {e}"),
                &process,
            ));
        }
        Err(_) => {
            return Err(fail(
                format!(
                    "timed out after {} s: no `listening on {what}` line",
                    startup.as_secs_f64()
                ),
                &process,
            ));
        }
    };
    Ok((process, line, stdout_rest))
}
