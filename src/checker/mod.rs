//! The grader's side: what `cargo test` and `grade` use to check a program through its contract.
//! Layered bottom-up — [`evidence`] imports nothing from the checker, [`harness`] builds on
//! evidence, [`checks`] on the harness, [`grade`] on the checks.

pub mod checks;
pub mod evidence;
pub mod grade;
pub mod harness;
