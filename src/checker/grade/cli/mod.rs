//! The `grade` tool's command line (`src/bin/grade.rs` calls [`main`]): from the flags to the
//! jobs, the jobs graded, the results shown — one step a file:
//!
//! - [`args`] — the flags ([`Cli`]) and the help's examples;
//! - [`list`](mod@list) — `--list`: the checks of a lesson as a Markdown table;
//! - [`jobs`](mod@jobs) — who is graded on which lesson and checks (a command, `--student`,
//!   `--class`, `--check`);
//! - [`output`] — `--output FILE`: a new file renamed into place, never through a link or
//!   into a FIFO;
//! - [`results`] — grading the jobs, and the scorecards, class tables and machine formats;
//! - [`kept`] — results kept as each program finishes: `--output FILE` rewritten each time, and
//!   printed on a signal;
//! - [`signals`] — Ctrl-C: nothing `grade` started outlives it;
//! - [`watch`](mod@watch) — `--watch`: grade again on every save.
//!
//! Exit status: 0 when every check passed, 1 when one failed (or could not run), 2 for a usage
//! error, 124 when the run's time limit ran out (`--time-limit`, as `timeout(1)`), 128+N when
//! stopped by signal N.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

pub mod args;
pub mod jobs;
pub mod kept;
pub mod list;
pub mod output;
pub mod results;
pub mod signals;
pub mod watch;

pub use args::{Cli, Format};

/// `grade`: parse the command line, grade (once, or again on every change with `--watch`), and
/// return the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !cli.no_sandbox && crate::checker::harness::sandbox::enabled() {
        // As a user, the private networks of the checks need a user namespace, which the
        // kernel grants only to a process of one thread: now, before any other starts.
        crate::checker::harness::sandbox::own_user_namespace();
    }
    let outcome = if cli.watch {
        watch::watch(&cli)
    } else {
        grade_once(cli)
    };
    // Once a signal has come, the checks still running fail as their programs are killed, and
    // grading would end "normally", exit 1, racing the signal thread's exit 128+N: the signal
    // thread has the last word.
    signals::wait_if_stopping();
    match outcome {
        Ok(code) => code,
        Err(stop) => stop.report(),
    }
}

/// Why `grade` stopped before grading.
pub enum Stop {
    /// A usage error (exit 2): the error, and a hint.
    Usage(String, String),
    /// Bad input that is not a usage error, e.g. an unreadable class folder (exit 1).
    Failed(String, String),
}

impl Stop {
    /// Print `error: …` and its `hint: …` on stderr; the exit status.
    pub fn report(self) -> ExitCode {
        let (code, error, hint) = match self {
            Stop::Usage(e, h) => (2, e, h),
            Stop::Failed(e, h) => (1, e, h),
        };
        eprintln!("error: {error}");
        if !hint.is_empty() {
            eprintln!("hint: {hint}");
        }
        ExitCode::from(code)
    }
}

/// One run: list the checks (`--list`), or grade the jobs the command line names and show the
/// results. `Ok(0)` when every check passed, `Ok(1)` when one failed.
pub fn grade_once(cli: Cli) -> Result<ExitCode, Stop> {
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    colored::control::set_override(colour);
    let selector = cli.lesson.clone().or(cli.lesson_flag.clone());
    if cli.list {
        return list::list(selector.as_deref());
    }
    let Some(selector) = selector else {
        return Err(Stop::Usage(
            "which lesson? name one, or `all`".into(),
            "e.g. grade 02_echo -- python3 echo.py  (grade --list shows the lessons and checks)"
                .into(),
        ));
    };
    if let Some(file) = &cli.output {
        // Before grading a class for minutes: a path grade will refuse at the end.
        output::check(file)?;
    }
    let jobs = jobs::jobs(&cli, &selector)?;
    crate::checker::harness::sandbox::set_enabled(!cli.no_sandbox);
    if let Some(warning) = crate::checker::harness::sandbox::warning() {
        eprintln!("{warning}");
    }
    let time_limit = cli.time_limit_in_force();
    let keep = kept::Keep::of(&cli, colour);
    let graded = results::grade_all(&jobs, cli.jobs, time_limit, keep);
    let report = crate::checker::grade::Report::new(graded.scorecards);
    results::show(&report, &cli, colour)?;
    if let (true, Some(limit)) = (graded.out_of_time, time_limit) {
        let unfinished = report
            .scorecards
            .iter()
            .filter(|c| {
                c.problem
                    .as_deref()
                    .is_some_and(|p| p.starts_with("not finished"))
            })
            .count();
        eprintln!(
            "grade: the time limit ({}) ran out: {unfinished} of {} programs not finished; \
             every program it started is gone",
            crate::checker::grade::run::in_words(limit),
            report.scorecards.len()
        );
        eprintln!(
            "hint: grade those again (--student DIR), or give the run more time (--time-limit 4h)"
        );
        return Ok(ExitCode::from(124));
    }
    Ok(if report.all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
