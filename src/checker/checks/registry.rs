//! What a check and a lesson are, and the list of lessons the checker knows: one per row of the
//! registry of lessons (`crate::for_each_lesson!`, `src/lessons/mod.rs`), each module's `LESSON`.

use std::fmt;

use crate::checker::evidence::Outcome;
use crate::checker::harness::Target;

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

macro_rules! list_lessons {
    ($($module:ident $name:literal $($row:literal)*;)*) => {
        /// Every lesson, in the course's order: the `LESSON` of each lesson's module, one per
        /// row of the registry.
        pub const LESSONS: &[Lesson] = &[$(super::$module::LESSON),*];
    };
}
crate::for_each_lesson!(list_lessons);

/// The lesson with this binary name.
pub fn lesson(name: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|l| l.name == name)
}
