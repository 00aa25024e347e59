//! Results for machines, all from the same [`Report`]: [`to_json`] (serde), [`to_csv`] (the `csv`
//! crate, one row per check) and [`to_junit`] (the `quick-junit` crate, one testsuite per
//! scorecard). Each is written from a plain data form — the [`Report`] itself, [`csv_rows`],
//! [`junit_report`] — so the tests can read the output back and compare it with that form.

use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};

use super::escape;
use super::model::{Report, Status};

/// The report as JSON (pretty-printed): what the scorecards show, with the same field names.
pub fn to_json(report: &Report) -> Result<String, String> {
    serde_json::to_string_pretty(report)
        .map(|json| json + "\n")
        .map_err(|e| format!("cannot write the report as JSON: {e}"))
}

/// The CSV columns, one row per (student, lesson, check): the fields of [`CsvRow`], in order.
pub const CSV_HEADER: [&str; 16] = [
    "student",
    "lesson",
    "check",
    "title",
    "points",
    "earned",
    "status",
    "millis",
    "reason",
    "command",
    "sent",
    "expected",
    "received",
    "server_saw",
    "stderr",
    "hint",
];

/// One row of the CSV: one check of one scorecard. Its fields are the [`CSV_HEADER`] columns, in
/// that order; an absent value (no student, no evidence) is an empty field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvRow {
    /// The student's folder name, or empty when a command was graded.
    pub student: String,
    /// The lesson (`02_echo`).
    pub lesson: String,
    /// The check's id.
    pub check: String,
    /// What it checks.
    pub title: String,
    /// What it is worth.
    pub points: u32,
    /// What the student earned.
    pub earned: u32,
    /// `pass`, `fail` or `missing`.
    pub status: Status,
    /// How long the check took, in milliseconds.
    pub millis: u64,
    /// Why it failed, or for a check not run why nothing was run (the scorecard's problem).
    pub reason: String,
    /// The evidence: the command line that was run.
    pub command: String,
    /// The evidence: what the check sent.
    pub sent: String,
    /// The evidence: what it expected.
    pub expected: String,
    /// The evidence: what came back.
    pub received: String,
    /// The evidence of a client check: what the test's server received from the client.
    pub server_saw: String,
    /// The evidence: the last lines of the program's stderr, newline-separated.
    pub stderr: String,
    /// Where to look when it fails.
    pub hint: String,
}

/// The report's CSV rows, one per check of each scorecard, in order. Every text cell a student
/// can influence is neutralised against formula injection ([`escape::csv_cell`]).
pub fn csv_rows(report: &Report) -> Vec<CsvRow> {
    let mut rows = Vec::new();
    for card in &report.scorecards {
        for check in &card.checks {
            let evidence = check.evidence.as_ref();
            let field = |value: Option<&String>| value.cloned().unwrap_or_default();
            let cell = |value: &str| escape::csv_cell(value);
            rows.push(CsvRow {
                student: cell(&field(card.student.as_ref())),
                lesson: card.lesson.clone(),
                check: check.id.clone(),
                title: check.title.clone(),
                points: check.points,
                earned: check.earned,
                status: check.status,
                millis: check.millis,
                reason: cell(
                    &evidence
                        .map(|e| e.reason.clone())
                        .or_else(|| card.problem.clone())
                        .unwrap_or_default(),
                ),
                command: cell(&field(evidence.and_then(|e| e.command.as_ref()))),
                sent: cell(&field(evidence.and_then(|e| e.sent.as_ref()))),
                expected: cell(&field(evidence.and_then(|e| e.expected.as_ref()))),
                received: cell(&field(evidence.and_then(|e| e.received.as_ref()))),
                server_saw: cell(&field(evidence.and_then(|e| e.server_saw.as_ref()))),
                stderr: cell(&evidence.map(|e| e.stderr.join("\n")).unwrap_or_default()),
                hint: check.hint.clone(),
            });
        }
    }
    rows
}

/// The report as CSV (RFC 4180: `\r\n` line ends, fields quoted when needed, `"` doubled), a
/// header row, then one row per check. A check not run has status `missing` and the scorecard's
/// problem as its reason.
pub fn to_csv(report: &Report) -> Result<String, String> {
    let error = |e: csv::Error| format!("cannot write the report as CSV: {e}");
    // The header is written by hand, not from the first row, so even a report without rows has
    // one.
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer.write_record(CSV_HEADER).map_err(error)?;
    for row in csv_rows(report) {
        writer.serialize(row).map_err(error)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| format!("cannot write the report as CSV: {}", e.error()))?;
    String::from_utf8(bytes).map_err(|e| format!("the CSV is not UTF-8: {e}"))
}

/// The report as a JUnit document: one testsuite per scorecard (`ana/02_echo`), one testcase
/// per check (class `ana.02_echo`), and for each check that did not pass (failed, or not run) a
/// `failure` whose message is the reason and whose text is the evidence and the hint.
pub fn junit_report(report: &Report) -> quick_junit::Report {
    let mut junit = quick_junit::Report::new("grade");
    for card in &report.scorecards {
        let mut suite = TestSuite::new(card.name());
        suite.set_time(Duration::from_millis(
            card.checks.iter().map(|c| c.millis).sum(),
        ));
        let class = card.name().replace('/', ".");
        for check in &card.checks {
            let status = if check.status == Status::Pass {
                TestCaseStatus::success()
            } else {
                let (message, body) = match (&check.evidence, &card.problem) {
                    (Some(evidence), _) => (evidence.reason.clone(), evidence.lines().join("\n")),
                    (None, Some(problem)) => (problem.clone(), problem.clone()),
                    (None, None) => {
                        let status = check.status.as_str().to_string();
                        (status.clone(), status)
                    }
                };
                let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
                failure
                    .set_message(message)
                    .set_description(format!("{body}\nhint: {}", check.hint));
                failure
            };
            let mut case = TestCase::new(&check.id, status);
            case.set_classname(&class)
                .set_time(Duration::from_millis(check.millis));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit
}

/// The report as JUnit XML ([`junit_report`]), which CI systems and many gradebooks read. Text
/// is escaped for XML, and characters XML 1.0 cannot hold (terminal colour codes, other control
/// characters) are left out.
pub fn to_junit(report: &Report) -> Result<String, String> {
    junit_report(report)
        .to_string()
        .map_err(|e| format!("cannot write the report as JUnit XML: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::grade::model::tests::sample;

    #[test]
    fn json_round_trips() {
        let report = sample();
        let json = to_json(&report).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["scorecards"][0]["checks"][1]["status"], "fail");
        assert_eq!(value["scorecards"][1]["checks"][0]["status"], "missing");
    }

    #[test]
    fn csv_columns_are_the_header() {
        let row = csv_rows(&sample()).remove(0);
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.serialize(row).unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next(), Some(CSV_HEADER.join(",").as_str()));
    }

    #[test]
    fn csv_round_trips() {
        let report = sample();
        let csv = to_csv(&report).unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(reader.headers().unwrap(), &CSV_HEADER[..]);
        let back: Vec<CsvRow> = reader.deserialize().collect::<Result<_, _>>().unwrap();
        assert_eq!(back, csv_rows(&report));
        assert_eq!(back.len(), 4);
        let fail = &back[1];
        assert_eq!(
            (fail.check.as_str(), fail.status, fail.earned),
            ("server_echoes_bytes", Status::Fail, 0)
        );
        assert_eq!(fail.received, "b\"a,\\\"b\\\"\\n\\x1b\"");
        assert!(fail.stderr.starts_with("line 3\nline 4\n"), "{fail:?}");
        assert_eq!(
            back[3].reason,
            "not graded: run.toml has no line for 02_echo"
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let csv = to_csv(&sample()).unwrap();
        let rows: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(rows[0], CSV_HEADER.join(","));
        assert!(rows[1].starts_with("ana,02_echo,demo_exits_zero,"), "{csv}");
        assert!(
            csv.contains("\"b\"\"a,\\\"\"b\\\"\"\\n\\x1b\"\"\""),
            "{csv}"
        );
        assert!(csv.contains("\"line 3\nline 4"), "{csv}");
        assert!(
            rows[3].contains(",missing,0,not graded: run.toml has no line"),
            "{csv}"
        );
    }

    #[test]
    fn hostile_text_is_escaped_in_every_format() {
        use crate::checker::grade::escape::is_unsafe;
        use crate::checker::grade::model::tests::hostile;
        let report = hostile();
        let json = to_json(&report).unwrap();
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut strings = Vec::new();
        fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                serde_json::Value::Object(o) => o.values().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        walk(&back, &mut strings);
        for s in &strings {
            assert!(!s.chars().any(is_unsafe), "JSON string {s:?}");
        }
        let csv = to_csv(&report).unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        for record in reader.records() {
            for cell in record.unwrap().iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "CSV cell {cell:?}"
                );
                assert!(
                    !cell.chars().any(|c| is_unsafe(c) && c != '\n'),
                    "CSV cell {cell:?}"
                );
            }
        }
        let xml = to_junit(&report).unwrap();
        assert!(!xml.chars().any(|c| is_unsafe(c) && c != '\n'), "{xml}");
        assert!(
            xml.contains("\\x1b[32m"),
            "the escapes are shown, not dropped: {xml}"
        );
    }

    /// Times in JUnit are seconds with three decimals; read back, they are whole milliseconds
    /// only after rounding.
    fn to_millis(time: &mut Option<Duration>) {
        if let Some(t) = time {
            *t = Duration::from_millis((t.as_secs_f64() * 1000.0).round() as u64);
        }
    }

    #[test]
    fn junit_round_trips() {
        let report = sample();
        let xml = to_junit(&report).unwrap();
        let mut back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        for suite in &mut back.test_suites {
            to_millis(&mut suite.time);
            for case in &mut suite.test_cases {
                to_millis(&mut case.time);
            }
        }
        assert_eq!(back, junit_report(&report));

        // And that document holds the report: a suite per scorecard, a case per check, a
        // failure with the reason, the evidence and the hint for each check that did not pass.
        assert_eq!((back.tests, back.failures), (4, 3));
        for (suite, card) in back.test_suites.iter().zip(&report.scorecards) {
            assert_eq!(suite.name.as_str(), card.name());
            assert_eq!(
                (suite.tests, suite.failures),
                (card.checks.len(), card.checks.len() - card.passed)
            );
            for (case, check) in suite.test_cases.iter().zip(&card.checks) {
                assert_eq!(case.name.as_str(), check.id);
                assert_eq!(
                    case.classname.as_deref(),
                    Some(card.name().replace('/', ".").as_str())
                );
                assert_eq!(case.time, Some(Duration::from_millis(check.millis)));
                let TestCaseStatus::NonSuccess {
                    message,
                    description,
                    ..
                } = &case.status
                else {
                    assert_eq!(check.status, Status::Pass);
                    continue;
                };
                let (reason, body) = match &check.evidence {
                    Some(e) => (e.reason.clone(), e.lines().join("\n")),
                    None => (card.problem.clone().unwrap(), card.problem.clone().unwrap()),
                };
                assert_eq!(message.as_deref(), Some(reason.as_str()));
                let text = format!("{body}\nhint: {}", check.hint);
                assert_eq!(description.as_deref(), Some(text.as_str()));
            }
        }
    }

    #[test]
    fn junit_escapes_and_counts() {
        let xml = to_junit(&sample()).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(
            xml.contains("<testsuites name=\"grade\" tests=\"4\" skipped=\"0\" failures=\"3\""),
            "{xml}"
        );
        assert!(
            xml.contains("<testsuite name=\"ana/02_echo\" tests=\"2\" skipped=\"0\" errors=\"0\" failures=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<testcase name=\"demo_exits_zero\" classname=\"ana.02_echo\" time=\"0.012\"/>"
            ),
            "{xml}"
        );
        assert!(xml.contains("&quot;my echo.py&quot;"), "{xml}");
        assert!(xml.contains("hint: lessons/02_echo.md"), "{xml}");
        assert!(!xml.contains('\x1b'));
    }
}
