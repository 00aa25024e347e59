//! How a lesson declares its checks: [`lesson!`] (and [`tcp_lesson!`], which adds the four
//! error checks every TCP lesson shares). The declaration is the only list of a lesson's checks:
//! its `LESSON` constant, its `#[test]`s and `grade` all come from it.

use super::registry::{Check, Lesson};

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
/// Each entry is the check's function, in scope in the lesson's module (a check shared by many
/// lessons, from [`common`](super::common), is imported with `use`, renamed with `as` when its id
/// differs); its name is the check's id. The hint becomes
/// `lessons/02_echo.md#the-contract: send back …`: the page is the lesson's own, so only the
/// section is written (`tests/book.rs` checks that it exists).
///
/// It makes `pub const LESSON: Lesson`, and a macro `tests: NAME` exported at the crate root
/// that a lesson's test file calls with its built binary, `workbook::l02_echo_tests!(BUILT);`,
/// to get one `#[test]` per check: the ids are never typed a second time.
///
/// Two ways to share an earlier lesson's contract, both declared where they are used:
///
/// - **One check, with this lesson's points**: `server_echoes_bytes from l02_echo { points: 2 }`
///   takes the check of that id from `l02_echo::LESSON` — its function, title, and hint (which
///   points at the page that states the contract) — and weighs it with this lesson's points, at
///   this place in the list. 04 and 05 serve lesson 02's echo contract so, each with its own
///   points. Where the lesson has its own words for the hint, it gives them with their section
///   of its own page: `… from l02_echo { points: 1, section: "…", hint: "…" }`. An id the
///   earlier lesson does not have is a compile error.
/// - **The whole contract, unchanged**: `inherits: [l06_group_chat, l06_group_chat_tests],`
///   before `checks` (07 serves 06's chat): its `LESSON` is the earlier lesson's checks,
///   unchanged, then its own; its test macro makes a `#[test]` for each of them.
macro_rules! lesson {
    (
        $(#[$meta:meta])*
        name: $name:literal,
        tests: $tests:ident,
        $(inherits: [$parent:ident, $parent_tests:ident] $(,)?)?
        checks: [
            $( $id:ident $(from $from:ident)? { $($body:tt)* } ),+ $(,)?
        ] $(,)?
    ) => {
        lesson!(@lesson [$($meta)*] $name [$($parent)?] [
            $( lesson!(@check $name, $id, [$($from)?], $($body)*) ),+
        ]);

        // The test generator needs `$` in its own matcher, which a macro cannot write directly:
        // hand it over as a token.
        lesson!(@tests ($) $name, $tests, [$($parent_tests)?], $($id),+);
    };

    // A check of this lesson's own.
    (@check $name:literal, $id:ident, [],
        title: $title:literal,
        points: $points:literal,
        section: $section:literal,
        hint: $hint:literal $(,)?
    ) => {
        $crate::checker::checks::Check {
            id: stringify!($id),
            title: $title,
            points: $points,
            hint: concat!("lessons/", $name, ".md#", $section, ": ", $hint),
            run: $id,
        }
    };

    // An earlier lesson's check, with this lesson's points.
    (@check $name:literal, $id:ident, [$from:ident], points: $points:literal $(,)?) => {
        $crate::checker::checks::Check {
            points: $points,
            ..super::$from::LESSON.inherited(stringify!($id))
        }
    };

    // An earlier lesson's check, with this lesson's points and its own hint.
    (@check $name:literal, $id:ident, [$from:ident],
        points: $points:literal,
        section: $section:literal,
        hint: $hint:literal $(,)?
    ) => {
        $crate::checker::checks::Check {
            points: $points,
            hint: concat!("lessons/", $name, ".md#", $section, ": ", $hint),
            ..super::$from::LESSON.inherited(stringify!($id))
        }
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

/// A TCP lesson: [`lesson!`] plus the four error checks every TCP lesson shares, declared here
/// once — after the lesson's own checks, then its `usage_errors_exit_2` (whose wording is the
/// lesson's: each has its own flags). The functions are the lesson module's own names, usually
/// imported from [`common`](super::common).
macro_rules! tcp_lesson {
    (
        $(#[$meta:meta])*
        name: $name:literal,
        tests: $tests:ident,
        checks: [ $($id:ident $(from $from:ident)? { $($body:tt)* }),+ $(,)? ],
        usage_errors_exit_2: { $($usage:tt)* } $(,)?
    ) => {
        lesson! {
            $(#[$meta])*
            name: $name,
            tests: $tests,
            checks: [
                $($id $(from $from)? { $($body)* },)+
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

impl Lesson {
    /// The check `id` of this lesson, for a later lesson that serves the same contract
    /// (`… from l02_echo { points: 2 }` in [`lesson!`]). Evaluated at compile time: an id this
    /// lesson does not have stops the build.
    #[doc(hidden)]
    pub const fn inherited(&self, id: &str) -> Check {
        let mut i = 0;
        while i < self.checks.len() {
            if crate::kit::same_str(self.checks[i].id, id) {
                return self.checks[i];
            }
            i += 1;
        }
        panic!("a check inherited with `from` is not a check of that lesson")
    }
}
