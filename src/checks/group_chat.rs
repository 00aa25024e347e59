//! Checks for lesson 06_group_chat (being written).

use super::Lesson;

/// The lesson's checks.
pub const LESSON: Lesson = Lesson { name: "06_group_chat", checks: &[] };
