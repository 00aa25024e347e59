//! Checks for lesson 04_threaded (being written).

use super::Lesson;

/// The lesson's checks.
pub const LESSON: Lesson = Lesson { name: "04_threaded", checks: &[] };
