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

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

pub use crate::checker::evidence::{Failure, Outcome, ensure};
use crate::checker::harness::Target;

/// Declare a lesson's checks once.
///
/// ```text
/// lesson! {
///     /// Lesson 02's checks.
///     name: "02_echo",
///     tests: l02_echo_tests,
///     checks: [
///         server_echoes_bytes {
///             title: "server echoes every byte value unchanged, …",
///             points: 3,
///             section: "the-contract",
///             hint: "send back exactly what recv returned; …",
///         },
///         …
///     ],
/// }
/// ```
///
/// Each entry is the check's function, in scope in the lesson's module (a check shared with
/// another lesson is imported with `use`, renamed with `as` when its id differs); its name is the
/// check's id. The hint becomes `lessons/02_echo.md#the-contract: send back …`: the page is the
/// lesson's own, so only the section is written (`tests/book.rs` checks that it exists).
///
/// It makes `pub const LESSON: Lesson`, and a macro `tests: NAME` exported at the crate root
/// that a lesson's test file calls with its built binary, `workbook::l02_echo_tests!(BUILT);`,
/// to get one `#[test]` per check: the ids are never typed a second time.
///
/// A lesson that keeps an earlier lesson's contract whole (07 serves 06's chat) says so once,
/// `inherits: [l06_group_chat, l06_group_chat_tests],` before its `checks`: its `LESSON` is the
/// earlier lesson's checks, unchanged (their hints still point at the page that states that
/// contract), then its own; its test macro makes a `#[test]` for each of them.
macro_rules! lesson {
    (
        $(#[$meta:meta])*
        name: $name:literal,
        tests: $tests:ident,
        $(inherits: [$parent:ident, $parent_tests:ident] $(,)?)?
        checks: [
            $(
                $id:ident {
                    title: $title:literal,
                    points: $points:literal,
                    section: $section:literal,
                    hint: $hint:literal $(,)?
                }
            ),+ $(,)?
        ] $(,)?
    ) => {
        lesson!(@lesson [$($meta)*] $name [$($parent)?] [
            $(
                $crate::checker::checks::Check {
                    id: stringify!($id),
                    title: $title,
                    points: $points,
                    hint: concat!("lessons/", $name, ".md#", $section, ": ", $hint),
                    run: $id,
                }
            ),+
        ]);

        // The test generator needs `$` in its own matcher, which a macro cannot write directly:
        // hand it over as a token.
        lesson!(@tests ($) $name, $tests, [$($parent_tests)?], $($id),+);
    };

    (@lesson [$($meta:meta)*] $name:literal [] [$($check:expr),+]) => {
        $(#[$meta])*
        pub const LESSON: $crate::checker::checks::Lesson = $crate::checker::checks::Lesson {
            name: $name,
            checks: &[$($check),+],
        };
    };

    (@lesson [$($meta:meta)*] $name:literal [$parent:ident] [$($check:expr),+]) => {
        /// This lesson's own checks, after those it inherits.
        const OWN_CHECKS: &[$crate::checker::checks::Check] = &[$($check),+];
        /// The inherited checks, then this lesson's own: built at compile time.
        const ALL_CHECKS: [$crate::checker::checks::Check;
            super::$parent::LESSON.checks.len() + OWN_CHECKS.len()] =
            $crate::checker::checks::concat_checks(super::$parent::LESSON.checks, OWN_CHECKS);

        $(#[$meta])*
        pub const LESSON: $crate::checker::checks::Lesson = $crate::checker::checks::Lesson {
            name: $name,
            checks: &ALL_CHECKS,
        };
    };

    (@tests ($d:tt) $name:literal, $tests:ident, [$($parent_tests:ident)?], $($id:ident),+) => {
        #[doc = concat!(
            "One `#[test]` per check of lesson `", $name, "`, run against `WORKBOOK_TARGET_",
            "<LESSON>` if set, else `$built` (`env!(\"CARGO_BIN_EXE_", $name, "\")`); and one test ",
            "that the generated tests are exactly the lesson's checks."
        )]
        #[macro_export]
        macro_rules! $tests {
            // For a lesson that inherits these checks: the same tests, run as that lesson's.
            (@for $d lesson:literal, $d built:expr) => {
                $(
                    #[test]
                    fn $id() -> ::std::result::Result<(), $crate::checker::checks::Failure> {
                        $crate::checker::checks::run_as_test($d lesson, stringify!($id), $d built)
                    }
                )+
            };
            // The ids these tests cover, inherited ones included.
            (@ids) => {
                [$($crate::$parent_tests!(@ids).as_slice(),)? &[$(stringify!($id)),+][..]].concat()
            };
            ($d built:expr $d(,)?) => {
                $($crate::$parent_tests!(@for $name, $d built);)?
                $(
                    #[test]
                    fn $id() -> ::std::result::Result<(), $crate::checker::checks::Failure> {
                        $crate::checker::checks::run_as_test($name, stringify!($id), $d built)
                    }
                )+

                #[test]
                fn every_check_of_the_lesson_has_a_test() {
                    if let Err(problem) =
                        $crate::checker::checks::tests_cover($name, &$crate::$tests!(@ids))
                    {
                        panic!("{problem}");
                    }
                }
            };
        }
    };
}

/// `first`, then `then`, as one array: how a lesson that inherits checks builds its list at
/// compile time (see [`lesson!`]'s `inherits`). `N` must be the sum of the two lengths.
#[doc(hidden)]
pub const fn concat_checks<const N: usize>(first: &[Check], then: &[Check]) -> [Check; N] {
    assert!(first.len() + then.len() == N && N > 0);
    let mut all = [if first.is_empty() { then[0] } else { first[0] }; N];
    let mut i = 0;
    while i < first.len() {
        all[i] = first[i];
        i += 1;
    }
    let mut j = 0;
    while j < then.len() {
        all[first.len() + j] = then[j];
        j += 1;
    }
    all
}

/// A TCP lesson: [`lesson!`] plus the four error checks every TCP lesson shares, declared here
/// once — after the lesson's own checks, then its `usage_errors_exit_2` (whose wording is the
/// lesson's: each has its own flags). The functions are the lesson module's own names, usually
/// imported from [`common`].
macro_rules! tcp_lesson {
    (
        $(#[$meta:meta])*
        name: $name:literal,
        tests: $tests:ident,
        checks: [ $($id:ident { $($body:tt)* }),+ $(,)? ],
        usage_errors_exit_2: { $($usage:tt)* } $(,)?
    ) => {
        lesson! {
            $(#[$meta])*
            name: $name,
            tests: $tests,
            checks: [
                $($id { $($body)* },)+
                server_port_in_use {
                    title: "server on a port already in use: `error: …in use`, exit 1",
                    points: 1,
                    section: "when-things-go-wrong",
                    hint: "catch the bind error and print one `error:` line",
                },
                client_connection_refused {
                    title: "client with no server: `error: …refused`, exit 1",
                    points: 1,
                    section: "when-things-go-wrong",
                    hint: "catch the connect error and print one `error:` line",
                },
                unknown_host {
                    title: "an unknown host name: `error:` naming the host, exit 1",
                    points: 1,
                    section: "when-things-go-wrong",
                    hint: "name resolution can fail; report the host you could not resolve",
                },
                privileged_port {
                    title: "binding port 1 without privilege: `error: …permission denied`, exit 1",
                    points: 1,
                    section: "when-things-go-wrong",
                    hint: "ports below 1024 need privilege; report the bind error",
                },
                usage_errors_exit_2 { $($usage)* },
            ],
        }
    };
}

pub mod common;
pub mod l01_time_server;
pub mod l02_echo;
pub mod l03_udp;
pub mod l04_threaded;
pub mod l05_thread_pool;
pub mod l06_group_chat;
pub mod l07_event_loop;
pub mod l08_protocol;

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
    l08_protocol::LESSON,
];

/// The lesson with this binary name.
pub fn lesson(name: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|l| l.name == name)
}

/// Run the check `id` of the lesson `name` as its `#[test]` does: against
/// `WORKBOOK_TARGET_<LESSON>` when a teacher set it, else `built`, the binary cargo built. Used by
/// the tests [`lesson!`] generates.
///
/// An override goes through `grade`'s preflight first ([`preflight::starts`], once per program
/// and test process): a program that does not start fails every check with the line `grade`
/// shows for it, instead of scoring the checks that expect an error. So `cargo test` and `grade`
/// give one verdict per check (`tests/parity.rs`); the built binary always starts.
///
/// [`preflight::starts`]: crate::checker::grade::preflight::starts
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

/// [`preflight::starts`](crate::checker::grade::preflight::starts) for `target`, probed once
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
    once.get_or_init(|| crate::checker::grade::preflight::starts(target))
        .clone()
}

/// Whether `tested`, the checks a test file made tests for, are exactly the checks of the lesson
/// `name` (a lesson missing from [`LESSONS`], or tests generated from another list, fail).
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
