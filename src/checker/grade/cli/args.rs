//! The command line of `grade`: its flags, as clap parses them, and the help's examples.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Run a lesson's checks against a program — yours, a student's, in any language — and print
/// a scorecard: ✓/✗ per check, its points, and for each failure the evidence and a hint.
#[derive(Parser, Debug, Clone)]
#[command(name = "grade", after_help = AFTER_HELP)]
pub struct Cli {
    /// The lesson: its binary's name (`02_echo`), its number (`02`), or `all` (every lesson the
    /// student folder has a program for).
    #[arg(value_name = "LESSON")]
    pub lesson: Option<String>,

    /// The lesson, as a flag (`--lesson all` reads well with `--student`).
    #[arg(long = "lesson", value_name = "LESSON", conflicts_with = "lesson")]
    pub lesson_flag: Option<String>,

    /// Grade the student folder DIR: its `run.toml` says how to start each lesson.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["class", "command"])]
    pub student: Option<PathBuf>,

    /// Grade every student folder in DIR and print a class table.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub class: Option<PathBuf>,

    /// Run only this check (repeat for several); `--list` shows the ids.
    #[arg(long = "check", value_name = "ID")]
    pub checks: Vec<String>,

    /// How many checks run at once (across students).
    #[arg(long, short, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,

    /// What to print: the text scorecards, or results for a program to read.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write the --format output to FILE (the text scorecards still go to stdout).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// With --class: print only the class table, not every student's scorecard.
    #[arg(long)]
    pub summary: bool,

    /// Stop grading after DURATION (`90s`, `30m`, `2h`; `0` for no limit): the programs still
    /// running are killed, their checks reported as not finished, and grade exits 124.
    /// Default: 2h, times WORKBOOK_TIMEOUT_SCALE.
    #[arg(long, value_name = "DURATION", value_parser = parse_time_limit,
          conflicts_with = "watch")]
    pub time_limit: Option<Duration>,

    /// Run the programs without the sandbox (Landlock, rlimits, scrubbed environment): only
    /// for programs you trust (lessons/grading.md#what-the-sandbox-guarantees).
    #[arg(long)]
    pub no_sandbox: bool,

    /// Print the checks of LESSON (or of every lesson) as a Markdown table, and exit.
    #[arg(long)]
    pub list: bool,

    /// Grade, then grade again each time a file of the program changes (the files named in
    /// COMMAND, or the --student folder), until Ctrl-C.
    #[arg(long, conflicts_with_all = ["class", "output", "list"])]
    pub watch: bool,

    /// The program to grade, as you would type it, after `--`. Each check appends its own
    /// arguments (`server --port 0 -q`).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// The whole run's time limit when `--time-limit` is not given (times WORKBOOK_TIMEOUT_SCALE):
/// far more than a class of thirty takes on every lesson, yet a bound.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(2 * 60 * 60);

impl Cli {
    /// The run's time limit: `--time-limit`, else [`DEFAULT_TIME_LIMIT`] scaled; `None` for
    /// `--time-limit 0`, and with `--watch` (each round is ended by Ctrl-C, not a clock).
    pub fn time_limit_in_force(&self) -> Option<Duration> {
        if self.watch {
            return None;
        }
        let limit = self
            .time_limit
            .unwrap_or_else(|| crate::checker::harness::scaled(DEFAULT_TIME_LIMIT));
        (!limit.is_zero()).then_some(limit)
    }
}

/// `90s`, `90`, `30m`, `2h` (a whole number and a unit: s, m or h; seconds without one).
fn parse_time_limit(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let per = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if per > 0 => Ok(Duration::from_secs(n.saturating_mul(per))),
        _ => Err("a whole number and a unit: 90s, 30m, 2h (0 for no limit)".into()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Scorecards (and the class table) for people.
    Text,
    /// Everything the scorecards show, as JSON.
    Json,
    /// One row per check: student, lesson, check, points, status, evidence, hint.
    Csv,
    /// JUnit XML, for CI systems.
    Junit,
    /// Gradescope's autograder results.json.
    Gradescope,
    /// One self-contained HTML page: the class table, pass rates per check, the evidence.
    Html,
}

const AFTER_HELP: &str = "\
Examples:
  grade 02_echo -- python3 students/ana/echo.py
  grade all --student students/ana
  grade 02_echo --class students --jobs 4
  grade 02_echo --class students --format json --output grades.json
  grade 02_echo --class students --format html -o class.html
  grade all --class students --time-limit 4h -o grades.json   # written as each student finishes
  grade all --student /autograder/submission --format gradescope -o results.json
  grade --list 02_echo
  grade 02_echo --watch -- python3 echo.py       # again on every save of echo.py

A student folder holds a run.toml, one line per lesson, relative to the folder:
  02_echo = \"python3 echo.py\"
or an executable `run`, started as `run LESSON ARGS...`.

The page: lessons/grading.md";
