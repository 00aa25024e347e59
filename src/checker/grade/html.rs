//! The class report as one self-contained HTML page ([`to_html`], `grade --class DIR --format
//! html -o class.html`): no script, no external asset (inline CSS only), so it opens anywhere
//! and can be mailed. For each lesson: a chart of each check's pass rate across the class
//! (hardest first: which checks the class struggles with), the table of students × checks with
//! points, and under it each student's failures, every one's evidence one click away
//! (`<details>`). Every text is HTML-escaped ([`escape::html`]), and the report's text is
//! already cleaned of control characters, so nothing a program printed is markup or a
//! terminal sequence.

use std::fmt::Write as _;

use super::escape::{self, html};
use super::model::{Report, Scorecard, Status};

const STYLE: &str = "
:root { --pass: #1a7f37; --fail: #cf222e; --miss: #8c959f; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1rem; max-width: 72rem;
  color: #1f2328; background: #fff; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1.25rem 0 .5rem; }
p { margin: .25rem 0 .75rem; overflow-wrap: anywhere; }
.table-wrapper { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: .2rem .45rem; text-align: center; }
th.name, td.name { text-align: left; overflow-wrap: anywhere; max-width: 14rem; }
td.pass { color: var(--pass); } td.fail { color: var(--fail); } td.missing { color: var(--miss); }
.chart { display: grid; grid-template-columns: minmax(0, 16rem) minmax(0, 1fr) auto;
  gap: .25rem .6rem; align-items: center; max-width: 48rem; }
.chart .label { overflow-wrap: anywhere; font-family: ui-monospace, monospace; font-size: .85rem; }
.bar { background: #f6f8fa; border: 1px solid var(--line); height: .9rem; }
.bar span { display: block; height: 100%; background: var(--pass); }
.bar span.low { background: var(--fail); }
.rate { font-variant-numeric: tabular-nums; white-space: nowrap; font-size: .85rem; }
details { border: 1px solid var(--line); border-radius: 4px; margin: .35rem 0; padding: .2rem .6rem; }
details > summary { cursor: pointer; overflow-wrap: anywhere; }
details details { border-color: #eaeef2; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f8fa; padding: .5rem;
  margin: .3rem 0; font-size: .8rem; max-width: 100%; }
.legend { font-size: .85rem; color: #59636e; }
@media (max-width: 600px) {
  body { padding: .6rem; }
  .chart { grid-template-columns: minmax(0, 1fr) auto; }
  .chart .bar { grid-column: 1 / -1; }
}
";

/// The class report as one HTML page.
pub fn to_html(report: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Class report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
    );
    let students = {
        let mut names: Vec<&str> = report
            .scorecards
            .iter()
            .map(|c| c.student.as_deref().unwrap_or("(program)"))
            .collect();
        names.dedup();
        names.len()
    };
    let _ = writeln!(
        out,
        "<h1>Class report</h1>\n<p>{students} student(s), {} lesson(s): {}/{} points in all.</p>",
        lessons(report).len(),
        report.earned,
        report.possible
    );
    for lesson in lessons(report) {
        let cards: Vec<&Scorecard> = report
            .scorecards
            .iter()
            .filter(|c| c.lesson == lesson)
            .collect();
        lesson_section(&mut out, lesson, &cards);
    }
    out += "</main>\n</body>\n</html>\n";
    out
}

fn lessons(report: &Report) -> Vec<&str> {
    let mut lessons: Vec<&str> = Vec::new();
    for card in &report.scorecards {
        if !lessons.contains(&card.lesson.as_str()) {
            lessons.push(&card.lesson);
        }
    }
    lessons
}

fn student(card: &Scorecard) -> String {
    html(
        &card
            .student
            .as_deref()
            .map_or_else(|| "(program)".into(), escape::clean),
    )
}

fn lesson_section(out: &mut String, lesson: &str, cards: &[&Scorecard]) {
    let Some(first) = cards.first() else { return };
    let lesson_id = html(lesson);
    let _ = writeln!(out, "<section id=\"{lesson_id}\">\n<h2>{lesson_id}</h2>");

    // Pass rate per check, over the students whose program ran; hardest first.
    let mut rates: Vec<(&str, usize, usize)> = first
        .checks
        .iter()
        .map(|check| {
            let ran: Vec<Status> = cards
                .iter()
                .filter(|c| c.problem.is_none())
                .filter_map(|c| c.checks.iter().find(|k| k.id == check.id))
                .map(|k| k.status)
                .collect();
            let passed = ran.iter().filter(|s| **s == Status::Pass).count();
            (check.id.as_str(), passed, ran.len())
        })
        .collect();
    rates.sort_by(|a, b| {
        let rate = |r: &(&str, usize, usize)| r.1 as f64 / r.2.max(1) as f64;
        rate(a).total_cmp(&rate(b))
    });
    let _ = writeln!(
        out,
        "<h3>Pass rate per check (hardest first)</h3>\n<div class=\"chart\" role=\"img\" \
         aria-label=\"pass rate of each check of {lesson_id}\">"
    );
    for (id, passed, ran) in &rates {
        let percent = if *ran == 0 { 0 } else { passed * 100 / ran };
        let low = if percent < 50 { " class=\"low\"" } else { "" };
        let _ = writeln!(
            out,
            "<div class=\"label\">{}</div><div class=\"bar\"><span{low} style=\"width:{percent}%\">\
             </span></div><div class=\"rate\">{passed}/{ran} ({percent}%)</div>",
            html(id)
        );
    }
    out.push_str("</div>\n");

    // The table: students × checks, points.
    let _ = writeln!(
        out,
        "<h3>Students</h3>\n<div class=\"table-wrapper\"><table>\n<thead><tr><th class=\"name\">student</th>"
    );
    for (n, check) in first.checks.iter().enumerate() {
        let _ = write!(out, "<th title=\"{}\">{}</th>", html(&check.id), n + 1);
    }
    out.push_str("<th>points</th></tr></thead>\n<tbody>\n");
    for card in cards {
        let _ = write!(out, "<tr><td class=\"name\">{}</td>", student(card));
        for check in &first.checks {
            let status = card
                .checks
                .iter()
                .find(|k| k.id == check.id)
                .map_or(Status::Missing, |k| k.status);
            let _ = write!(
                out,
                "<td class=\"{}\" title=\"{}\">{}</td>",
                status.as_str(),
                status.as_str(),
                status.mark()
            );
        }
        let _ = writeln!(out, "<td>{}/{}</td></tr>", card.earned, card.possible);
    }
    out.push_str("</tbody>\n</table></div>\n<p class=\"legend\">");
    for (n, check) in first.checks.iter().enumerate() {
        let _ = write!(
            out,
            "{}&nbsp;<code>{}</code> ({}&nbsp;pt{}) ",
            n + 1,
            html(&check.id),
            check.points,
            if check.points == 1 { "" } else { "s" }
        );
    }
    out.push_str("</p>\n");

    // Each student's failures, the evidence one click away.
    out.push_str("<h3>Evidence</h3>\n");
    for card in cards {
        let _ = writeln!(
            out,
            "<details><summary>{} — {}/{} points, {} of {} checks passed</summary>",
            student(card),
            card.earned,
            card.possible,
            card.passed,
            card.checks.len()
        );
        if let Some(command) = &card.command {
            let _ = writeln!(out, "<p>program: <code>{}</code></p>", html(command));
        }
        if let Some(problem) = &card.problem {
            let _ = writeln!(out, "<p>{}</p>", html(problem));
        }
        for check in card.checks.iter().filter(|c| c.status == Status::Fail) {
            let _ = write!(
                out,
                "<details><summary>{} <code>{}</code> — {}</summary>\n<pre>",
                check.status.mark(),
                html(&check.id),
                html(&check.title)
            );
            if let Some(evidence) = &check.evidence {
                for line in evidence.lines() {
                    let _ = writeln!(out, "{}", html(&line));
                }
            }
            let _ = writeln!(out, "hint: {}</pre></details>", html(&check.hint));
        }
        out.push_str("</details>\n");
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::grade::escape::is_unsafe;
    use crate::checker::grade::model::tests::{hostile, sample};

    #[test]
    fn the_page_stands_alone() {
        let page = to_html(&sample());
        assert!(page.starts_with("<!DOCTYPE html>"));
        for external in ["<script", "<link", "src=", "href=\"http", "@import", "url("] {
            assert!(!page.contains(external), "{external} in:\n{page}");
        }
        assert_eq!(page.matches("<section").count(), 1);
        // ana's failure is one click away, with its evidence and hint.
        assert!(page.contains("<code>server_echoes_bytes</code>"), "{page}");
        assert!(page.contains("the echo differs, at byte 1024"), "{page}");
        assert!(page.contains("hint: lessons/02_echo.md#"), "{page}");
        assert!(page.contains("not graded: run.toml has no line for 02_echo"));
        // The chart: 1 of 1 ran passed demo_exits_zero, 0 of 1 server_echoes_bytes; hardest first.
        let hard = page.find("0/1 (0%)").expect("a 0% bar");
        let easy = page.find("1/1 (100%)").expect("a 100% bar");
        assert!(hard < easy, "{page}");
    }

    #[test]
    fn program_output_is_escaped() {
        let mut report = hostile();
        report.scorecards[0].checks[0]
            .evidence
            .as_mut()
            .unwrap()
            .stderr
            .push("<script>alert(1)</script><img src=x onerror=alert(2)>".into());
        let page = to_html(&report);
        assert!(!page.chars().any(|c| is_unsafe(c) && c != '\n'), "{page}");
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(page.contains("\\x1b[32m"), "{page}");
    }
}
