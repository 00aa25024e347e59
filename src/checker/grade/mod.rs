//! Grading: run a lesson's checks against a student's program and report what works.
//!
//! The `grade` tool is this module: `src/bin/grade.rs` only calls [`cli::main`]. By concern:
//! - [`cli`] — the command line: from the flags to jobs, graded, and the results shown;
//! - [`model`] — what a grading run produces: a [`Report`] of [`Scorecard`]s;
//! - [`students`] — [`find_lesson`], and student folders: a [`Student`]'s [`Manifest`] says how
//!   to start each lesson, in a `run.toml` (`02_echo = "python3 echo.py"`) or with an executable
//!   `run` script; a [`class`] is a folder of them;
//! - [`run`] — [`grade`]: run the checks of [`Job`]s, a few at a time, into scorecards. The
//!   checks are the very functions `cargo test` runs (`workbook::checker::checks`), so every
//!   check is defined once, and each one is bounded by the harness (timeouts, kill-on-drop);
//! - [`text`] — for people: the [`scorecard`], the [`class_table`], and the Markdown table of a
//!   lesson's checks ([`checks_table`], `grade --list`);
//! - [`formats`] — for machines: [`to_json`], [`to_csv`], [`to_junit`], and Gradescope's
//!   `results.json` ([`to_gradescope`]);
//! - [`html`] — the class report as one self-contained HTML page ([`to_html`]);
//! - [`escape`] — what a program printed, made safe to show in every report.
//!
//! Every renderer works from the same [`Report`], so the scorecard on the terminal, the JSON, the
//! CSV and the JUnit XML always say the same thing. That nothing the grader started outlives it
//! is the harness's job: [`reaper`](crate::checker::harness::reaper).

pub mod cli;
pub mod escape;
pub mod formats;
pub mod html;
pub mod model;
pub mod run;
pub mod students;
pub mod text;

pub use formats::{
    CSV_HEADER, CsvRow, Gradescope, GradescopeTest, csv_rows, gradescope_results, junit_report,
    to_csv, to_gradescope, to_json, to_junit,
};
pub use html::to_html;
pub use model::{
    CheckResult, Evidence, Report, SHOW_BYTES, SHOW_LINE_CHARS, SHOW_STDERR_LINES, Scorecard,
    Status,
};
pub use run::{Graded, Job, grade};
pub use students::{MANIFEST, Manifest, RUN_SCRIPT, Student, class, find_lesson};
pub use text::{checks_table, class_table, scorecard, total_line};
