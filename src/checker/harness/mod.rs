//! Running a program under test without surprises.
//!
//! Every check runs a *target*: a command line, either the built lesson binary or whatever a
//! teacher put in `WORKBOOK_TARGET_<LESSON>` (`python3 ana/echo.py`). This module starts it and
//! makes sure nothing can hang or leak:
//!
//! - a [`Process`] kills its whole process group when dropped, so a failing check never leaves a
//!   server (or a student's forked children) behind;
//! - [`Server::start`] waits for the `listening on ADDR` line — an event, never a sleep — with a
//!   deadline, and keeps draining stdout and stderr so a chatty program cannot block on a pipe;
//! - every read and connect has a timeout, every capture a size limit, every run a deadline;
//! - [`run_with`] can play a user at a terminal ([`Input::Script`]): type a line, wait for the
//!   answer on stdout (bounded, and woken by the output itself), press Ctrl-D;
//! - [`kill_all`] kills every program still running, for a tool interrupted by Ctrl-C (a signal
//!   skips `Drop`).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::checker::evidence::Failure;

mod process;
pub mod reaper;
mod wire;

use process::{Feeder, Seen, Shared, drain, snapshot, wait_for_text};
pub use process::{Limit, Process, kill_all, live_process_groups};

pub use wire::{
    Delivery, RESET, RefusingPort, TcpStub, connect, describe_io, exchange, io_failure, read_exact,
    read_to_end, refusing_port, send_in_pieces, udp_socket, wait_until_read,
};

/// How long a server may take to print `listening on ADDR`.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any single connect, read or write may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client or demo run may take before it is killed.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a killed program's output may take to reach end of file before its reader is left
/// behind (only a process that escaped the group can keep the pipe open that long).
pub const READER_GRACE: Duration = Duration::from_secs(1);
/// The variable that multiplies every timeout of the checks, for a slow or busy machine:
/// `WORKBOOK_TIMEOUT_SCALE=3 cargo test`. Unset (or not a number from 1 to 100): 1.
pub const TIMEOUT_SCALE_VAR: &str = "WORKBOOK_TIMEOUT_SCALE";

/// The factor from [`TIMEOUT_SCALE_VAR`], read once.
pub fn timeout_scale() -> f64 {
    static SCALE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *SCALE.get_or_init(|| {
        std::env::var(TIMEOUT_SCALE_VAR)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|f| (1.0..=100.0).contains(f))
            .unwrap_or(1.0)
    })
}

/// `timeout` times [`timeout_scale`]: every wait of the harness and the checks goes through it,
/// so a loaded machine gets more time without a check becoming less strict.
pub fn scaled(timeout: Duration) -> Duration {
    timeout.mul_f64(timeout_scale())
}

/// The stack limit (`ulimit -s`) of a server started by [`Server::start_with_address_space_room`]:
/// the usual default, and the stack of each new thread in C and Python programs.
pub const THREAD_STACK: u64 = 8 << 20;

/// How much of a program's stdout or stderr is kept (the rest is read and counted, not kept).
pub const KEEP_BYTES: usize = 1 << 20;

/// The program under test: the words of a command line, to which each check appends its
/// subcommand and flags (`server --port 0 -q`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    argv: Vec<String>,
}

impl Target {
    /// A target from its words; the first is the program.
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Target {
        Target {
            argv: argv.into_iter().map(Into::into).collect(),
        }
    }

    /// A target from a command line, split into words as a POSIX shell would
    /// (`python3 "my echo.py"` is two words). No shell runs: no globbing, no variables.
    pub fn parse(command_line: &str) -> Result<Target, String> {
        match shlex::split(command_line) {
            Some(words) if !words.is_empty() => Ok(Target { argv: words }),
            Some(_) => Err("the command line is empty".to_string()),
            None => Err(format!(
                "cannot split `{command_line}` into words (unbalanced quotes?)"
            )),
        }
    }

    /// The variable that replaces a lesson's program: `WORKBOOK_TARGET_02_ECHO`.
    pub fn env_var(lesson: &str) -> String {
        format!("WORKBOOK_TARGET_{}", lesson.to_ascii_uppercase())
    }

    /// The program a lesson's tests run: `WORKBOOK_TARGET_<LESSON>` when set and not empty,
    /// otherwise `built` (the lesson binary cargo built, `env!("CARGO_BIN_EXE_02_echo")`).
    pub fn for_lesson(lesson: &str, built: &str) -> Result<Target, String> {
        let var = Target::env_var(lesson);
        match std::env::var(&var) {
            Ok(line) if !line.trim().is_empty() => {
                Target::parse(&line).map_err(|e| format!("{var}: {e}"))
            }
            _ => Ok(Target::new([built])),
        }
    }

    /// The target's words.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// A `Command` for the target with `args` appended, in a process group of its own (so that
    /// it and any children it forks can be killed together).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.argv[0]);
        command.args(&self.argv[1..]).args(args).process_group(0);
        // Narration and errors must be plain text whatever the terminal: the checks read them.
        command.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
        command
    }

    /// The command line as a user would type it, for evidence in failures.
    pub fn display(&self, args: &[&str]) -> String {
        let words = self
            .argv
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied());
        shlex::try_join(words).unwrap_or_else(|_| format!("{:?}", self.argv))
    }
}

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

    /// [`Server::start`], then room in its address space (`ulimit -v`) for only `room` more bytes
    /// than it uses once listening: for the checks that a server survives failing to start a
    /// thread, whose stack needs address space (2 MiB in Rust; 8 MiB in C and Python, the stack
    /// limit, which this sets to 8 MiB so that it is the same everywhere). The limit is measured
    /// from the running server, not guessed: an interpreter alone takes tens of MiB. Returns the
    /// server and the limit, in bytes.
    pub fn start_with_address_space_room(
        target: &Target,
        args: &[&str],
        room: u64,
    ) -> Result<(Server, u64), Failure> {
        // One malloc arena (glibc's; other allocators ignore the variable): by default each
        // new thread may reserve one of 64 MiB, and the first — a signal-handling thread's,
        // just after `listening on` — could land between our reading the address space and
        // limiting it, leaving no room at all. Through `env`, which execs the program: same
        // process, and a command line the user can run.
        let argv = ["env", "MALLOC_ARENA_MAX=1"].into_iter().map(String::from);
        let target = Target::new(argv.chain(target.argv().iter().cloned()));
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
fn first_line(
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

/// A server under test listening on a Unix domain socket: `server --unix PATH` printed
/// `listening on PATH`.
pub struct UnixServer {
    /// The socket file's path.
    pub path: std::path::PathBuf,
    /// The running process (dropped ⇒ killed).
    pub process: Process,
}

impl UnixServer {
    /// Start `target server --unix PATH -q EXTRA…` and wait for `listening on PATH`.
    pub fn start(
        target: &Target,
        path: &std::path::Path,
        extra: &[&str],
    ) -> Result<UnixServer, Failure> {
        let shown = path.display().to_string();
        let mut args = vec!["server", "--unix", &shown, "-q"];
        args.extend_from_slice(extra);
        let (process, line, _) = first_line(target, &args, &shown, &[])?;
        if line != format!("listening on {shown}\n").as_bytes() {
            return Err(
                Failure::new("the first line on stdout is not `listening on PATH`")
                    .command(process.command_line())
                    .expected(format!("listening on {shown}"))
                    .received(line)
                    .stderr(process.stderr()),
            );
        }
        Ok(UnixServer {
            path: path.to_path_buf(),
            process,
        })
    }

    /// A failure that carries this server's command line and stderr as evidence.
    pub fn failure(&self, reason: impl Into<String>) -> Failure {
        Failure::new(reason)
            .command(self.process.command_line())
            .stderr(self.process.stderr())
    }
}

/// How a program run to completion ended.
#[derive(Debug)]
pub struct Finished {
    /// The command line that was run.
    pub command: String,
    /// The exit status; `None` when it was killed for running past its deadline.
    pub status: Option<ExitStatus>,
    /// Its stdout (up to [`KEEP_BYTES`]).
    pub stdout: Vec<u8>,
    /// Its stderr (up to [`KEEP_BYTES`]).
    pub stderr: Vec<u8>,
    /// How long it was given (already scaled).
    pub deadline: Duration,
}

impl Finished {
    /// The exit code, `None` if it timed out or died by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// A failure carrying this run's command line, stdout and stderr as evidence.
    pub fn failure(&self, reason: impl Into<String>) -> Failure {
        let how = match self.status {
            None => format!(
                "timed out after {} s: killed, still running",
                self.deadline.as_secs_f64()
            ),
            Some(status) => status.to_string(),
        };
        Failure::new(format!("{} ({how})", reason.into()))
            .command(&self.command)
            .received(self.stdout.clone())
            .stderr(self.stderr.clone())
    }

    /// Fail unless the program exited with `code`.
    pub fn expect_code(&self, code: i32) -> Result<&Finished, Failure> {
        match self.code() {
            Some(c) if c == code => Ok(self),
            _ => Err(self.failure(format!("expected exit status {code}"))),
        }
    }
}

/// What a program run to completion reads on stdin.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// These bytes, then end of input (the pipe closes once they are written).
    Bytes(&'a [u8]),
    /// Nothing, on a pipe that stays open until the run ends, as a terminal's does: for a client
    /// that must notice the server leave while it still waits for input.
    KeptOpen,
    /// A user at a terminal: these steps in order — type, wait for an answer, press Ctrl-D.
    /// Without a [`Step::CloseStdin`], stdin stays open until the run ends, as with
    /// [`Input::KeptOpen`]. A [`Step::WaitFor`] whose text does not come in time ends the run
    /// with a [`Failure`] that says which step, and shows what the program had written.
    Script(&'a [Step<'a>]),
}

/// One step of an [`Input::Script`].
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    /// Write these bytes on the program's stdin (from a thread: a program that does not read
    /// cannot block the run).
    Send(&'a [u8]),
    /// Wait until the program's stdout contains `text`, at most `within` (times
    /// [`timeout_scale`], and never past the run's deadline); fail if it does not, or if stdout
    /// ends first.
    WaitFor {
        /// What stdout must come to contain (anywhere in all it wrote so far).
        text: &'a str,
        /// How long to wait for it.
        within: Duration,
    },
    /// Close stdin: end of input, as Ctrl-D at a terminal.
    CloseStdin,
}

/// Run `target args` to completion with `stdin` as its input, killing it after `timeout`.
pub fn run(
    target: &Target,
    args: &[&str],
    stdin: &[u8],
    timeout: Duration,
) -> Result<Finished, Failure> {
    run_with(target, args, Input::Bytes(stdin), timeout)
}

/// Run `target args` to completion reading `input`, killing it after `timeout` (times
/// [`timeout_scale`], counted from the start, an [`Input::Script`]'s steps included). Like every
/// program the harness starts, it is registered for [`kill_all`] while it runs.
pub fn run_with(
    target: &Target,
    args: &[&str],
    input: Input<'_>,
    timeout: Duration,
) -> Result<Finished, Failure> {
    let deadline = scaled(timeout);
    let started = Instant::now();
    let (mut process, child_stdin, stdout) = Process::spawn(target, args, Stdio::piped(), &[])?;
    let stdout_captured = Shared::default();
    process.readers.push(drain(stdout, stdout_captured.clone()));
    let bytes;
    let steps: &[Step] = match input {
        Input::Bytes(input) => {
            bytes = [Step::Send(input), Step::CloseStdin];
            &bytes
        }
        Input::KeptOpen => &[],
        Input::Script(steps) => steps,
    };
    // Held until the program is killed below, unless a step closes it.
    let mut stdin = child_stdin.map(Feeder::new);
    for (n, step) in steps.iter().enumerate() {
        match (*step, &mut stdin) {
            (Step::Send(bytes), Some(stdin)) => stdin.send(bytes),
            (Step::CloseStdin, Some(stdin)) => stdin.close(),
            (Step::WaitFor { text, within }, _) => {
                // Never past the run's own deadline.
                let left = deadline.saturating_sub(started.elapsed());
                let within = scaled(within).min(left);
                let why = match wait_for_text(&stdout_captured, text.as_bytes(), within) {
                    Seen::Found => continue,
                    Seen::Ended => {
                        let status = process.wait_timeout(READER_GRACE);
                        let how =
                            status.map_or("closed stdout".to_string(), |s| format!("exited ({s})"));
                        format!("the program {how} without writing `{text}` there")
                    }
                    Seen::TimedOut => format!(
                        "timed out after {} s waiting for `{text}` on stdout",
                        within.as_secs_f64()
                    ),
                };
                let mut failure = Failure::new(format!("step {} of {}: {why}", n + 1, steps.len()))
                    .command(process.command_line())
                    .expected(format!("stdout containing `{text}`"))
                    .received(snapshot(&stdout_captured))
                    .stderr(process.stderr());
                if let Some(stdin) = &stdin {
                    failure = failure.sent(stdin.sent.clone());
                }
                return Err(failure);
            }
            (Step::Send(_) | Step::CloseStdin, None) => {}
        }
    }
    let status = process.wait_timeout(deadline.saturating_sub(started.elapsed()));
    process.kill();
    drop(stdin);
    Ok(Finished {
        command: process.command_line().to_string(),
        status,
        stdout: snapshot(&stdout_captured),
        stderr: process.stderr(),
        deadline,
    })
}

#[cfg(test)]
mod tests;
