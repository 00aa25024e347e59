//! Before any check: does the program start at all? A missing file, a command that is not on
//! `PATH`, a Python syntax error — none of these is a program, and running sixteen checks
//! against one only awards the points of the checks that expect a failure (`python3 missing.py`
//! exits 2, which a usage-error check accepts).
//!
//! The rule decides "did not start" only on positive evidence, so that a correct program always
//! passes it, even on a slow machine and even without a `--help` of its own:
//!
//! 1. the command cannot be spawned (no such file, not on `PATH`, not executable); or
//! 2. run with each of [`PROBES`], it exits — within [`PROBE_TIME`], a bound far above how long
//!    an interpreter takes to fail, even on a busy machine — every time with the same failure
//!    status and the very same output. A program that reads its arguments answers `--help`,
//!    `server --port 0 -q` and `client --port 1 hello` differently (help, a listening server, a
//!    refused connection); an interpreter that cannot open or compile its file answers them all
//!    with the same complaint.
//!
//! A program that exits 0, prints `listening on`, answers differently, or is still running
//! after [`PROBE_TIME`] has started, and its checks run as usual. No decision depends on how
//! fast the machine is: a probe that has not answered yet is waited for, not taken as started
//! (a correct program answers `--help`, or prints `listening on`, or its client fails to
//! connect, at once, so it does not wait long).

use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::process::{Shared, drain, snapshot};
use super::{Process, Target};
use crate::checker::evidence::{SHOW_LINE_CHARS, SHOW_TEXT_CHARS, cap_text};

/// The arguments the program is started with, one run each (in this order; the first run that
/// shows the program started ends the probe).
pub const PROBES: [&[&str]; 3] = [
    &["--help"],
    &["server", "--port", "0", "-q"],
    &["client", "--port", "1", "hello"],
];

/// How long one probe waits for the program to exit or show it started (scaled by
/// `WORKBOOK_TIMEOUT_SCALE`): a program still running by then has started.
pub const PROBE_TIME: Duration = Duration::from_secs(10);

/// How one probe ended.
#[derive(Debug)]
enum Answer {
    /// The program exited, with this status and output.
    Exited {
        status: ExitStatus,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    },
    /// It is running: it printed `listening on`, or ran past the bound, or another probe has
    /// already shown it started.
    Running,
}

impl Answer {
    fn failed(&self) -> bool {
        matches!(self, Answer::Exited { status, .. } if !status.success())
    }

    fn same(&self, other: &Answer) -> bool {
        match (self, other) {
            (
                Answer::Exited {
                    status: a,
                    stdout: out_a,
                    stderr: err_a,
                },
                Answer::Exited {
                    status: b,
                    stdout: out_b,
                    stderr: err_b,
                },
            ) => a == b && out_a == out_b && err_a == err_b,
            _ => false,
        }
    }
}

/// Run `target args` until it exits, prints `listening on`, `stop` is set, or `bound` passes.
fn probe(
    target: &Target,
    args: &[&str],
    bound: Duration,
    stop: &AtomicBool,
) -> Result<Answer, String> {
    let (mut process, _stdin, stdout) = Process::spawn(target, args, Stdio::null(), &[])
        .map_err(|failure| format!("did not start: {}", failure.reason))?;
    let out = Shared::default();
    process.readers.push(drain(stdout, out.clone()));
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = process.try_status() {
            // Joins the readers: the output is complete.
            process.kill();
            return Ok(Answer::Exited {
                status,
                stdout: snapshot(&out),
                stderr: process.stderr(),
            });
        }
        let listening = snapshot(&out)
            .windows(b"listening on".len())
            .any(|w| w == b"listening on");
        if listening || stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
            return Ok(Answer::Running);
        }
        // Polling is how std offers a bounded wait for an exit; 10 ms keeps it cheap.
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `Ok(())` if `target` starts; else why it does not, in one line.
pub fn starts(target: &Target) -> Result<(), String> {
    // The probes run in a network of their own, as every check does.
    let _network = super::sandbox::private_network()
        .map_err(|e| format!("the grader could not give the program a network of its own ({e})"))?;
    let bound = super::scaled(PROBE_TIME);
    let never = AtomicBool::new(false);
    // The first probe alone: a correct program usually answers `--help` with status 0, and
    // then the others need not run. The rest run side by side; the first of them to show the
    // program started stops the other.
    let first = probe(target, PROBES[0], bound, &never)?;
    if !first.failed() {
        return Ok(());
    }
    let stop = AtomicBool::new(false);
    let others: Vec<Result<Answer, String>> = std::thread::scope(|scope| {
        let running: Vec<_> = PROBES[1..]
            .iter()
            .map(|args| {
                let (stop, first) = (&stop, &first);
                scope.spawn(move || {
                    let answer = probe(target, args, bound, stop);
                    if answer.as_ref().is_ok_and(|a| !a.same(first)) {
                        stop.store(true, Ordering::SeqCst);
                    }
                    answer
                })
            })
            .collect();
        running
            .into_iter()
            .map(|r| {
                r.join()
                    .unwrap_or_else(|_| Err("a probe panicked".to_string()))
            })
            .collect()
    });
    for other in others {
        if !other?.same(&first) {
            return Ok(());
        }
    }
    let Answer::Exited {
        status,
        stdout,
        stderr,
    } = first
    else {
        return Ok(());
    };
    let output = [&stderr, &stdout]
        .into_iter()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        .find_map(|text| {
            text.lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        });
    let said = output.map_or_else(
        || " and printed nothing".to_string(),
        |line| {
            let line: String = line.chars().take(SHOW_LINE_CHARS).collect();
            format!(": {line}")
        },
    );
    let problem = format!(
        "did not start: `{}` exits at once whatever its arguments ({status}){said}",
        target.display(&[])
    );
    Err(cap_text(&problem, SHOW_TEXT_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_command_or_file_does_not_start() {
        let problem = starts(&Target::new(["no-such-command-workbook"])).expect_err("missing");
        assert!(problem.contains("not found"), "{problem}");
        let problem = starts(&Target::new(["sh", "/no/such/file.sh"])).expect_err("missing file");
        assert!(problem.contains("exits at once"), "{problem}");
        assert!(problem.contains("/no/such/file.sh"), "{problem}");
    }

    #[test]
    fn a_program_that_reads_its_arguments_starts() {
        // Exits 2 on `--help` (no help of its own), but answers each probe differently.
        let picky = Target::new(["sh", "-c", "echo \"error: unknown $1\" >&2; exit 2", "sh"]);
        assert_eq!(starts(&picky), Ok(()));
        assert_eq!(starts(&Target::new(["true"])), Ok(()));
        assert_eq!(starts(&Target::new(["sleep", "5"])), Ok(()));
    }
}
