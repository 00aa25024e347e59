//! Every lesson's checks, defined once.
//!
//! A check is a named function that takes the program under test (a
//! [`Target`](crate::checker::harness::Target)) and returns `Ok(())` or a [`Failure`] with
//! evidence: what was sent, what was expected, what came back, and the program's stderr.
//! `tests/NN_*.rs` runs each check as one `#[test]` against the built binary, or against
//! `WORKBOOK_TARGET_<LESSON>` when a teacher sets it; the same functions prove themselves against
//! the wrong programs in `tests/fixtures/`.
//!
//! Checks talk to the program only through its command line, its stdout/exit status, and the
//! network, so a student's version in any language can be checked. They never depend on what the
//! contract leaves free: narration text, timing, thread names.
//!
//! One concept a file:
//! - [`declare`] — `lesson!` and `tcp_lesson!`: how a lesson declares its checks, and how a later
//!   lesson takes an earlier one's contract (`from`, `inherits`);
//! - `registry` — [`Check`], [`Lesson`], and [`LESSONS`], one per row of the registry of lessons;
//! - `run` — [`run`], the verdict of one check on one program, and what the generated `#[test]`s
//!   call;
//! - [`common`] — the helpers and checks many lessons share (no lesson's module is another's
//!   library);
//! - `l01_time_server` … — one module per lesson, declared from the registry of lessons
//!   (`src/lessons/mod.rs`).

pub use crate::checker::evidence::{Failure, Outcome, ensure};

#[macro_use]
pub mod declare;
pub mod common;
mod registry;
mod run;

#[doc(hidden)]
pub use declare::concat_checks;
pub use registry::{Check, LESSONS, Lesson, lesson};
pub use run::run;
#[doc(hidden)]
pub use run::{run_as_test, tests_cover};

/// One module per row of the registry of lessons: `pub mod l02_echo;` (`l02_echo.rs`, or
/// `l02_echo/mod.rs` when its checks are many).
macro_rules! declare_checks {
    ($($module:ident $name:literal $($row:literal)*;)*) => {
        $(pub mod $module;)*
    };
}
crate::for_each_lesson!(declare_checks);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tests_must_be_exactly_the_checks() {
        let ids: Vec<&str> = l02_echo::LESSON.checks.iter().map(|c| c.id).collect();
        assert_eq!(tests_cover("02_echo", &ids), Ok(()));
        let missing = tests_cover("02_echo", &ids[1..]).expect_err("a check without a test");
        assert!(missing.contains("demo_exits_zero"), "{missing}");
        let extra = [&ids[..], &["no_such_check"]].concat();
        assert!(tests_cover("02_echo", &extra).is_err());
        assert!(tests_cover("99_nothing", &ids).is_err());
    }

    #[test]
    fn a_check_taken_from_an_earlier_lesson_keeps_its_words_and_takes_its_own_points() {
        let two = l02_echo::LESSON.check("server_echoes_bytes").expect("02's");
        let four = l04_threaded::LESSON
            .check("server_echoes_bytes")
            .expect("04's");
        assert_eq!((four.title, four.hint), (two.title, two.hint));
        assert!(std::ptr::fn_addr_eq(four.run, two.run));
        assert_eq!((two.points, four.points), (3, 2));
        // With a hint of its own, on its own page.
        let own = l04_threaded::LESSON
            .check("server_serves_clients_one_after_another")
            .expect("04's");
        assert!(
            own.hint
                .starts_with("lessons/04_threaded.md#the-calls-in-order: "),
            "{}",
            own.hint
        );
        // An id the earlier lesson does not have (a compile error in a declaration).
        let missing = std::panic::catch_unwind(|| l02_echo::LESSON.inherited("no_such_check"));
        assert!(missing.is_err());
    }

    #[test]
    fn a_check_run_as_a_test_names_what_is_missing() {
        let failure = run_as_test("02_echo", "no_such_check", "true").expect_err("no such check");
        assert!(failure.reason.contains("no_such_check"), "{failure}");
        assert!(run_as_test("99_nothing", "x", "true").is_err());
    }

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
