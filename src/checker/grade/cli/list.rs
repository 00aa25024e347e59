//! `grade --list [LESSON]`: the checks of a lesson (or of every lesson) as Markdown tables.

use std::process::ExitCode;

use super::Stop;
use super::jobs::lesson_named;
use super::results::emit;
use crate::checker::checks::LESSONS;
use crate::checker::grade;

/// Print the table of `selector`'s checks: one lesson, or every lesson (`None`, `all`), each
/// under its name.
pub fn list(selector: Option<&str>) -> Result<ExitCode, Stop> {
    let lessons = match selector {
        None | Some("all") => LESSONS.iter().collect(),
        Some(name) => vec![lesson_named(name)?],
    };
    let mut out = String::new();
    for lesson in &lessons {
        if lessons.len() > 1 {
            out += &format!("### {}\n\n", lesson.name);
        }
        if lesson.checks.is_empty() {
            out += "(no checks yet)\n";
        } else {
            out += &grade::checks_table(lesson);
        }
        if lessons.len() > 1 {
            out += "\n";
        }
    }
    emit(&out);
    Ok(ExitCode::SUCCESS)
}
