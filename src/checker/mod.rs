//! The grader's side: what `cargo test` and `grade` use to check a program through its contract.
//! Layered bottom-up, each layer importing only from those below it:
//!
//! - [`evidence`] — what a check returns; imports nothing from the checker;
//! - [`harness`] — running a program (processes, servers, bounded I/O, the preflight that asks
//!   whether it starts at all, the reaper);
//! - [`checks`] — every lesson's checks, shared helpers in [`checks::common`];
//! - [`grade`] — scorecards, reports, and the `grade` command line.

pub mod checks;
pub mod evidence;
pub mod grade;
pub mod harness;
