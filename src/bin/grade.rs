//! # grade — run a lesson's checks against anyone's program and print a scorecard
//!
//! The checks are the very functions `cargo test` runs (`workbook::checker::checks`): each talks to the
//! program only through its command line and the network, so a student's version in any
//! language can be graded. Every check is bounded (timeouts, kill-on-drop), and nothing the
//! grader started outlives it, even on Ctrl-C.
//!
//! ```text
//! cargo run --bin grade -- 02_echo -- python3 examples/python/02_echo.py   # one program
//! cargo run --bin grade -- all --student examples/students/ana             # every lesson of a student
//! cargo run --bin grade -- 02_echo --class examples/students               # a class: scorecards + table
//! cargo run --bin grade -- 02_echo --class examples/students --format csv -o grades.csv
//! cargo run --bin grade -- --list 02_echo                                  # the lesson's checks
//! ```
//!
//! Exit status: 0 when every check passed, 1 when one failed (or could not run), 2 for a usage
//! error, 128+N when stopped by signal N. The page: `lessons/grading.md`.

use std::process::ExitCode;

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    workbook::checker::grade::cli::main()
}

/// The checks watch processes through Linux's `/proc`, limit them with `prlimit` and reap them as
/// a child subreaper: elsewhere, say so in one line (the lessons themselves run everywhere).
#[cfg(not(target_os = "linux"))]
fn main() -> ExitCode {
    eprintln!("error: grade and the checks need Linux; on Windows use WSL 2");
    ExitCode::from(2)
}
