//! Running a check: [`run`], the one function every way of running a check goes through, and
//! what the `#[test]`s that [`lesson!`] generates call ([`run_as_test`], [`tests_cover`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::registry::{Check, lesson};
use crate::checker::evidence::{Failure, Outcome};
use crate::checker::harness::{Target, preflight, sandbox};

/// Run the check `id` of the lesson `name` as its `#[test]` does: against
/// `WORKBOOK_TARGET_<LESSON>` when a teacher set it, else `built`, the binary cargo built. Used by
/// the tests [`lesson!`] generates.
///
/// An override goes through the preflight first ([`preflight::starts`], once per program and
/// test process), as in `grade`: a program that does not start fails every check with the line
/// `grade` shows for it, instead of scoring the checks that expect an error. So `cargo test` and
/// `grade` give one verdict per check (`tests/parity.rs`); the built binary always starts.
#[doc(hidden)]
pub fn run_as_test(name: &str, id: &str, built: &str) -> Outcome {
    let lesson = lesson(name).ok_or_else(|| Failure::new(format!("no lesson `{name}`")))?;
    let check = lesson
        .check(id)
        .ok_or_else(|| Failure::new(format!("{name} has no check `{id}`")))?;
    let target = Target::for_lesson(name, built).map_err(Failure::new)?;
    if target.argv() != [built] {
        starts_once(&target).map_err(Failure::new)?;
    }
    run(check, &target)
}

/// [`preflight::starts`] for `target`, probed once
/// per process however many tests ask at the same time (they wait for the first).
fn starts_once(target: &Target) -> Result<(), String> {
    type Verdicts = BTreeMap<Vec<String>, Arc<OnceLock<Result<(), String>>>>;
    static STARTED: Mutex<Verdicts> = Mutex::new(BTreeMap::new());
    let once = STARTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(target.argv().to_vec())
        .or_default()
        .clone();
    once.get_or_init(|| preflight::starts(target)).clone()
}

/// Whether `tested`, the checks a test file made tests for, are exactly the checks of the lesson
/// `name` (a lesson missing from [`LESSONS`](super::LESSONS), or tests generated from another list, fail).
#[doc(hidden)]
pub fn tests_cover(name: &str, tested: &[&str]) -> Result<(), String> {
    let lesson = lesson(name).ok_or_else(|| format!("`{name}` is not in LESSONS"))?;
    let mut have: Vec<&str> = lesson.checks.iter().map(|c| c.id).collect();
    let mut want = tested.to_vec();
    have.sort_unstable();
    want.sort_unstable();
    if have == want {
        Ok(())
    } else {
        Err(format!(
            "the tests of {name} must be exactly its checks:\n  checks: {have:?}\n  tests:  {want:?}"
        ))
    }
}

/// Run one check, turning a panic inside it into a failure (a check must never take its caller
/// down with it). This is the verdict of a check on a program, the one function every way of
/// running a check goes through: the `#[test]`s [`lesson!`] generates ([`run_as_test`]),
/// `grade` (`grade::run`) and the fixture tests (`tests/common`). Timeouts are the harness's,
/// all scaled by `WORKBOOK_TIMEOUT_SCALE`; nothing retries a check.
///
/// The check runs in a network of its own ([`sandbox::private_network`]): the programs it starts
/// meet its code and nothing else, not a classmate's server graded at the same time.
pub fn run(check: &Check, target: &Target) -> Outcome {
    let _network = sandbox::private_network().map_err(|e| {
        Failure::new(format!(
            "not run: the grader could not give the check a network of its own ({e})"
        ))
    })?;
    match std::panic::catch_unwind(|| (check.run)(target)) {
        Ok(outcome) => outcome,
        Err(_) => Err(Failure::new(format!(
            "the check `{}` itself panicked (a bug in the workbook)",
            check.id
        ))),
    }
}
