//! Running a program to completion: a client, a demo, a program expected to fail. Its input can
//! be bytes, a pipe kept open, or a user at a terminal ([`Input::Script`]): type a line, wait for
//! the answer on stdout (bounded, and woken by the output itself), press Ctrl-D.

use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::process::{Feeder, Seen, Shared, drain, snapshot, wait_for_text};
use super::{Process, READER_GRACE, Target, scaled};
use crate::checker::evidence::Failure;

/// How a program run to completion ended.
#[derive(Debug)]
pub struct Finished {
    /// The command line that was run.
    pub command: String,
    /// The exit status; `None` when it was killed for running past its deadline.
    pub status: Option<ExitStatus>,
    /// Its stdout (up to [`KEEP_BYTES`](super::KEEP_BYTES)).
    pub stdout: Vec<u8>,
    /// Its stderr (up to [`KEEP_BYTES`](super::KEEP_BYTES)).
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
    /// [`timeout_scale`](super::timeout_scale), and never past the run's deadline); fail if it
    /// does not, or if stdout ends first.
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
/// [`timeout_scale`](super::timeout_scale), counted from the start, an [`Input::Script`]'s steps
/// included). Like every program the harness starts, it is registered for
/// [`kill_all`](super::kill_all) while it runs.
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
