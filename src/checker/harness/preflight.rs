//! Before any check: does the program start at all? A missing file, a command that is not on
//! `PATH`, a Python syntax error — none of these is a program, and running sixteen checks
//! against one only awards the points of the checks that expect a failure (`python3 missing.py`
//! exits 2, which a usage-error check accepts).
//!
//! The rule decides "did not start" only on positive evidence, so that a correct program always
//! passes it, even on a slow machine and even without a `--help` of its own:
//!
//! 1. the command cannot be spawned (no such file, not on `PATH`, not executable); or
//! 2. run with each of [`PROBES`], it exits at once — within [`PROBE_TIME`] — every time with the
//!    same failure status and the very same output. A program that reads its arguments answers
//!    `--help`, `server --port 0 -q` and `client --port 1 hello` differently (help, a listening
//!    server, a refused connection); an interpreter that cannot open or compile its file answers
//!    them all with the same complaint.
//!
//! A program still running after [`PROBE_TIME`], or that exits 0, or whose answers differ, has
//! started, and its checks run as usual.

use std::time::Duration;

use super::{Finished, Target};
use crate::checker::evidence::{SHOW_LINE_CHARS, SHOW_TEXT_CHARS, cap_text};

/// The arguments the program is started with, one run each (in this order; the first run that
/// shows the program started ends the probe).
pub const PROBES: [&[&str]; 3] = [
    &["--help"],
    &["server", "--port", "0", "-q"],
    &["client", "--port", "1", "hello"],
];

/// How long one probe waits for the program to exit (scaled by `WORKBOOK_TIMEOUT_SCALE`): a
/// program still running by then has started.
pub const PROBE_TIME: Duration = Duration::from_millis(1000);

/// `Ok(())` if `target` starts; else why it does not, in one line.
pub fn starts(target: &Target) -> Result<(), String> {
    let probe = |args: &[&str]| {
        super::run(target, args, b"", super::scaled(PROBE_TIME))
            .map_err(|failure| format!("did not start: {}", failure.reason))
    };
    let failed_at_once = |f: &Finished| f.status.is_some_and(|s| !s.success());
    // The first probe alone: a correct program usually answers `--help` with status 0, and
    // then the others need not run. The rest run side by side, to keep "did not start" quick.
    let first = probe(PROBES[0])?;
    if !failed_at_once(&first) {
        return Ok(());
    }
    let others: Vec<Result<Finished, String>> = std::thread::scope(|scope| {
        let running: Vec<_> = PROBES[1..]
            .iter()
            .map(|args| scope.spawn(move || probe(args)))
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
        let other = other?;
        let same = failed_at_once(&other)
            && other.code() == first.code()
            && other.stdout == first.stdout
            && other.stderr == first.stderr;
        if !same {
            return Ok(());
        }
    }
    let finished = first;
    let how = finished
        .status
        .map_or_else(|| "was killed".to_string(), |s| s.to_string());
    let output = [&finished.stderr, &finished.stdout]
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
        "did not start: `{}` exits at once whatever its arguments ({how}){said}",
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
