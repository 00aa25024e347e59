//! placeholder
use super::Lesson;
/// checks
pub const LESSON: Lesson = Lesson {
    name: "03_udp",
    checks: &[],
};
