//! Text for people: the [`scorecard`], the [`class_table`] of a lesson, and the Markdown table of
//! a lesson's checks ([`checks_table`], `grade --list`).

use std::fmt::Write as _;

use colored::Colorize;

use super::escape;
use super::model::{Scorecard, Status};
use crate::checker::checks::Lesson;

fn bold(text: &str, colour: bool) -> String {
    if colour {
        text.bold().to_string()
    } else {
        text.to_string()
    }
}

/// A status's mark, coloured for a terminal when `colour`.
fn painted(status: Status, colour: bool) -> String {
    let mark = status.mark();
    if !colour {
        return mark.to_string();
    }
    match status {
        Status::Pass => mark.green().bold().to_string(),
        Status::Fail => mark.red().bold().to_string(),
        Status::Missing => mark.dimmed().to_string(),
    }
}

/// The total line of a scorecard: `total: 19/22 points, 13 of 16 checks passed`.
pub fn total_line(earned: u32, possible: u32, passed: usize, checks: usize) -> String {
    format!("total: {earned}/{possible} points, {passed} of {checks} checks passed")
}

/// A scorecard as text: a header, one line per check (✓/✗, points, title), under each failure
/// its evidence and hint, and a total line. `colour`: ANSI colours (for a terminal).
pub fn scorecard(card: &Scorecard, colour: bool) -> String {
    let mut out = String::new();
    let title = match &card.student {
        Some(student) => format!("{} — {}", card.lesson, escape::name(student)),
        None => card.lesson.clone(),
    };
    let _ = writeln!(out, "{}", bold(&title, colour));
    if let Some(command) = &card.command {
        let _ = writeln!(out, "  program: {command}");
    }
    let sandbox = crate::checker::harness::sandbox::describe();
    let _ = writeln!(out, "  sandbox: {sandbox}");
    if let Some(problem) = &card.problem {
        let problem = if colour {
            problem.red().to_string()
        } else {
            problem.clone()
        };
        let _ = writeln!(out, "  {problem}");
    } else {
        let width = card.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for check in &card.checks {
            let _ = writeln!(
                out,
                "  {} {:<width$}  {:>2}/{:<2} {}",
                painted(check.status, colour),
                check.id,
                check.earned,
                check.points,
                check.title,
            );
            if let Some(evidence) = &check.evidence {
                for line in evidence.lines() {
                    let _ = writeln!(out, "      {line}");
                }
                let hint = if colour {
                    "hint:".yellow().bold().to_string()
                } else {
                    "hint:".to_string()
                };
                let _ = writeln!(out, "      {hint} {}", check.hint);
            }
        }
    }
    let total = total_line(card.earned, card.possible, card.passed, card.checks.len());
    let _ = writeln!(out, "  {}", bold(&total, colour));
    out
}

/// The class table of `lesson`: one row per student, one column per check (numbered, with a
/// legend below), then points and checks passed.
pub fn class_table(cards: &[Scorecard], lesson: &str, colour: bool) -> String {
    let cards: Vec<&Scorecard> = cards.iter().filter(|c| c.lesson == lesson).collect();
    let Some(first) = cards.first() else {
        return String::new();
    };
    let ids: Vec<&str> = first.checks.iter().map(|c| c.id.as_str()).collect();
    let names: Vec<String> = cards
        .iter()
        .map(|c| {
            c.student
                .as_deref()
                .map_or_else(|| "(program)".to_string(), escape::name)
        })
        .collect();
    let name_width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        bold(
            &format!("{lesson}: {} students × {} checks", cards.len(), ids.len()),
            colour
        )
    );
    let mut header = format!("{:<name_width$} ", "student");
    for n in 1..=ids.len() {
        let _ = write!(header, " {n}");
    }
    let _ = writeln!(out, "{header}   points  checks");
    for (card, name) in cards.iter().zip(&names) {
        let mut row = format!("{name:<name_width$} ");
        for (n, id) in ids.iter().enumerate() {
            let status = card
                .checks
                .iter()
                .find(|c| c.id == *id)
                .map_or(Status::Missing, |c| c.status);
            let width = (n + 1).to_string().len();
            let _ = write!(row, " {}{}", " ".repeat(width - 1), painted(status, colour));
        }
        let points = format!("{}/{}", card.earned, card.possible);
        let passed = format!("{}/{}", card.passed, card.checks.len());
        let _ = writeln!(row, "   {points:>6}  {passed:>6}");
        out += &row;
    }
    let _ = writeln!(out);
    for (n, check) in first.checks.iter().enumerate() {
        let unit = if check.points == 1 { "pt" } else { "pts" };
        let _ = writeln!(
            out,
            "  {:>2}  {} ({} {unit})",
            n + 1,
            check.id,
            check.points
        );
    }
    for (card, name) in cards.iter().zip(&names) {
        if let Some(problem) = &card.problem {
            let _ = writeln!(out, "  {name}: {problem}");
        }
    }
    out
}

/// A lesson's checks as a Markdown table: id, points, what it checks (`grade --list`).
pub fn checks_table(lesson: &Lesson) -> String {
    let mut out = String::from("| check | points | what it checks |\n|---|---:|---|\n");
    for check in lesson.checks {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            check.id,
            check.points,
            flags_as_code(&check.title.replace('|', "\\|"))
        );
    }
    out
}

/// `--host ::1` → `` `--host` ::1 ``: outside a code span Markdown renderers with smart
/// punctuation (mdBook) turn `--` into an en dash, and a reader who copies the flag gets a wrong one.
fn flags_as_code(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let flag = word.trim_end_matches([',', ':', ';', ')']);
            match flag.len() > 2 && flag.starts_with("--") {
                true => format!("`{flag}`{}", &word[flag.len()..]),
                false => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::checks;
    use crate::checker::grade::model::tests::{hostile, sample};

    #[test]
    fn scorecards_show_marks_points_evidence_hint_and_total() {
        let report = sample();
        let text = scorecard(&report.scorecards[0], false);
        for part in [
            "02_echo — ana",
            "  program: python3 echo.py",
            "  ✓ demo_exits_zero",
            "  ✗ server_echoes_bytes",
            " 0/3 ",
            "      the echo differs, at byte 1024",
            "      command:  python3 \"my echo.py\"",
            "(300 bytes)",
            "      received: b\"a,\\\"b\\\"\\n\\x1b\"",
            "stderr:   (last 8 of 10 lines)",
            "  | line 10",
            "      hint: lessons/02_echo.md#",
            "total: 1/4 points, 1 of 2 checks passed",
        ] {
            assert!(text.contains(part), "`{part}` missing from:\n{text}");
        }
        assert!(
            !text.contains("| line 2\n"),
            "only the tail of stderr:\n{text}"
        );
        assert!(!text.contains('\x1b'), "no colour unless asked:\n{text}");
        let missing = scorecard(&report.scorecards[1], false);
        assert!(
            missing.contains("not graded: run.toml has no line"),
            "{missing}"
        );
        assert!(
            missing.contains("total: 0/4 points, 0 of 2 checks passed"),
            "{missing}"
        );
    }

    #[test]
    fn class_tables_have_a_row_per_student_and_a_legend() {
        let report = sample();
        let table = class_table(&report.scorecards, "02_echo", false);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "02_echo: 2 students × 2 checks");
        assert!(lines[1].starts_with("student  1 2"), "{table}");
        assert!(lines[2].starts_with("ana      ✓ ✗"), "{table}");
        assert!(lines[2].ends_with("1/4     1/2"), "{table}");
        assert!(lines[3].starts_with("ben      · ·"), "{table}");
        assert!(
            table.contains("   2  server_echoes_bytes (3 pts)"),
            "{table}"
        );
        assert!(
            table.contains("ben: not graded: run.toml has no line"),
            "{table}"
        );
    }

    /// No control or format character, no line a program wrote that starts with a verdict,
    /// and no row of the class table but the real ones.
    fn assert_safe(text: &str) {
        use crate::checker::grade::escape::is_unsafe;
        let bad: Vec<char> = text
            .chars()
            .filter(|&c| is_unsafe(c) && c != '\n')
            .collect();
        assert!(bad.is_empty(), "{bad:?} in:\n{text}");
    }

    #[test]
    fn hostile_output_and_names_are_shown_escaped() {
        let report = hostile();
        for colour in [false, true] {
            for card in &report.scorecards {
                let text = scorecard(card, colour);
                if !colour {
                    assert_safe(&text);
                }
                let verdicts = text
                    .lines()
                    .filter(|l| l.trim_start().starts_with(['✓', '✗']))
                    .count();
                let real = if card.problem.is_none() {
                    card.checks.len()
                } else {
                    0
                };
                assert_eq!(verdicts, real, "{text}");
                assert_eq!(text.matches("total:").count(), 1, "{text}");
            }
            let table = class_table(&report.scorecards, "02_echo", colour);
            if !colour {
                assert_safe(&table);
            }
            assert!(
                table.contains("\"eve      \\u{2713} \\u{2713} \\x1b[32m"),
                "{table}"
            );
            // A row ends in its points and checks (`0/3     0/1`).
            let rows = table
                .lines()
                .filter(|l| {
                    let words: Vec<&str> = l.split_whitespace().rev().take(2).collect();
                    words.len() == 2
                        && words.iter().all(|w| {
                            w.split('/').all(|n| n.parse::<u32>().is_ok()) && w.contains('/')
                        })
                })
                .count();
            assert_eq!(rows, 2, "{table}");
        }
    }

    #[test]
    fn markdown_tables_list_every_check() {
        let table = checks_table(&checks::l02_echo::LESSON);
        assert!(table.starts_with("| check | points | what it checks |\n|---|---:|---|\n"));
        assert_eq!(
            table.lines().count(),
            2 + checks::l02_echo::LESSON.checks.len()
        );
        assert!(table.contains("| `server_echoes_bytes` | 3 | "), "{table}");
        // A flag is a code span, so no renderer turns its `--` into a dash.
        assert!(
            table.contains(
                "| `server_ipv6` | 1 | server echoes over IPv6 loopback with `--host` ::1 |"
            ),
            "{table}"
        );
        assert!(table.contains(" `--exit-after` 2: serves"), "{table}");
    }
}
