//! Checks for lesson 05_thread_pool (being written).

use super::Lesson;

/// The lesson's checks.
pub const LESSON: Lesson = Lesson { name: "05_thread_pool", checks: &[] };
