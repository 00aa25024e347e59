//! Every lesson's checks, defined once.
//!
//! A check is a named function that takes the program under test (a [`Target`]) and returns
//! `Ok(())` or a [`Failure`] with evidence: what was sent, what was expected, what came back, and
//! the program's stderr. `tests/NN_*.rs` runs each check as one `#[test]` against the built
//! binary, or against `WORKBOOK_TARGET_<LESSON>` when a teacher sets it; the same functions prove
//! themselves against the wrong programs in `tests/fixtures/`.
//!
//! Checks talk to the program only through its command line, its stdout/exit status, and the
//! network, so a student's version in any language can be checked. They never depend on what the
//! contract leaves free: narration text, timing, thread names.

use std::fmt;

pub use crate::checker::evidence::{Failure, Outcome, ensure};
use crate::checker::harness::Target;

pub mod common;
pub mod l01_time_server;
pub mod l02_echo;
pub mod l03_udp;
pub mod l04_threaded;
pub mod l05_thread_pool;
pub mod l06_group_chat;
pub mod l07_event_loop;

/// One check of a lesson's contract, with the data a scorecard shows next to it.
#[derive(Clone, Copy)]
pub struct Check {
    /// A stable identifier, also the name of its `#[test]` (`server_echoes_bytes`).
    pub id: &'static str,
    /// What it checks, in one line a student understands.
    pub title: &'static str,
    /// Its weight on a scorecard.
    pub points: u32,
    /// Where to look when it fails: a section of the lesson page, and the usual cause.
    pub hint: &'static str,
    /// The check itself.
    pub run: fn(&Target) -> Outcome,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A lesson: its binary's name and its checks.
#[derive(Debug)]
pub struct Lesson {
    /// The binary's name, `02_echo`; also the suffix of `WORKBOOK_TARGET_02_ECHO`.
    pub name: &'static str,
    /// Its checks, in the order a scorecard lists them.
    pub checks: &'static [Check],
}

impl Lesson {
    /// The check with this id.
    pub fn check(&self, id: &str) -> Option<&'static Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// Every lesson that has checks.
pub const LESSONS: &[Lesson] = &[
    l01_time_server::LESSON,
    l02_echo::LESSON,
    l03_udp::LESSON,
    l04_threaded::LESSON,
    l05_thread_pool::LESSON,
    l06_group_chat::LESSON,
    l07_event_loop::LESSON,
];

/// The lesson with this binary name.
pub fn lesson(name: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|l| l.name == name)
}

/// Run one check, turning a panic inside it into a failure (a check must never take its caller
/// down with it).
pub fn run(check: &Check, target: &Target) -> Outcome {
    match std::panic::catch_unwind(|| (check.run)(target)) {
        Ok(outcome) => outcome,
        Err(_) => Err(Failure::new(format!(
            "the check `{}` itself panicked (a bug in the workbook)",
            check.id
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lesson_has_unique_check_ids_and_hints() {
        for lesson in LESSONS {
            let mut ids: Vec<&str> = lesson.checks.iter().map(|c| c.id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(
                ids.len(),
                lesson.checks.len(),
                "duplicate check id in {}",
                lesson.name
            );
            for check in lesson.checks {
                assert!(
                    check.points > 0,
                    "{}: {} has no points",
                    lesson.name,
                    check.id
                );
                // A check inherited from an earlier lesson (07 runs all of 06's) points at the
                // page where its contract is written: that lesson's.
                let pages = LESSONS
                    .iter()
                    .filter(|l| l.name == lesson.name || l.check(check.id).is_some())
                    .map(|l| format!("lessons/{}.md", l.name));
                assert!(
                    pages.into_iter().any(|page| check.hint.contains(&page)),
                    "{}: the hint of {} must point at the lesson page",
                    lesson.name,
                    check.id
                );
            }
        }
    }
}
