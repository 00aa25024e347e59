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

/// Gradescope's `results.json` (its autograder specification, "Output format"): the total
/// `score`, and one test per check with its `name`, `score`, `max_score`, `status` and, for a
/// check that did not pass, the evidence and hint as `output`. Fields Gradescope does not define
/// are never written (`grading/gradescope/results.schema.json` is that specification, closed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gradescope {
    /// The points earned over all checks.
    pub score: f64,
    /// How long grading took, in seconds (the sum of the checks' times).
    pub execution_time: f64,
    /// One line for the whole submission: the total, as the scorecard says it.
    pub output: String,
    /// Who sees the results: `visible` (to the student, at once).
    pub visibility: String,
    /// Who sees run_autograder's own stdout (the text scorecards): `hidden`, since every test
    /// carries its evidence.
    pub stdout_visibility: String,
    /// One per check of every scorecard, in order.
    pub tests: Vec<GradescopeTest>,
}

/// One test of [`Gradescope`]'s results: one check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradescopeTest {
    /// `02_echo: server_echoes_bytes — what it checks`.
    pub name: String,
    /// Its order on the page: lesson number and check number (`2.3`).
    pub number: String,
    /// The points earned: all or none.
    pub score: f64,
    /// What the check is worth.
    pub max_score: f64,
    /// `passed` or `failed` (a check not run failed).
    pub status: String,
    /// For a check that did not pass: the evidence and the hint; else empty.
    pub output: String,
    /// `text`: shown preformatted, as the scorecard shows it.
    pub output_format: String,
    /// `visible`.
    pub visibility: String,
}

/// The report as Gradescope's [`Gradescope`] results.
pub fn gradescope_results(report: &Report) -> Gradescope {
    let mut tests = Vec::new();
    let mut millis = 0;
    for card in &report.scorecards {
        let lesson_number = card
            .lesson
            .split('_')
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        for (n, check) in card.checks.iter().enumerate() {
            millis += check.millis;
            let output = match (&check.evidence, &card.problem) {
                _ if check.status == Status::Pass => String::new(),
                (Some(evidence), _) => {
                    format!("{}\nhint: {}", evidence.lines().join("\n"), check.hint)
                }
                (None, Some(problem)) => format!("{problem}\nhint: {}", check.hint),
                (None, None) => check.status.as_str().to_string(),
            };
            tests.push(GradescopeTest {
                name: format!("{}: {} — {}", card.lesson, check.id, check.title),
                number: format!("{lesson_number}.{}", n + 1),
                score: f64::from(check.earned),
                max_score: f64::from(check.points),
                status: if check.status == Status::Pass {
                    "passed"
                } else {
                    "failed"
                }
                .into(),
                output,
                output_format: "text".into(),
                visibility: "visible".into(),
            });
        }
    }
    let passed = report.scorecards.iter().map(|c| c.passed).sum();
    Gradescope {
        score: f64::from(report.earned),
        execution_time: millis as f64 / 1000.0,
        output: super::text::total_line(report.earned, report.possible, passed, tests.len()),
        visibility: "visible".into(),
        stdout_visibility: "hidden".into(),
        tests,
    }
}

/// The report as Gradescope's `results.json` ([`gradescope_results`]).
pub fn to_gradescope(report: &Report) -> Result<String, String> {
    serde_json::to_string_pretty(&gradescope_results(report))
        .map(|json| json + "\n")
        .map_err(|e| format!("cannot write the report as Gradescope JSON: {e}"))
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

    /// Gradescope's specification as a JSON Schema (closed: no field it does not define).
    fn gradescope_schema() -> jsonschema::Validator {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grading/gradescope/results.schema.json"
        );
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        jsonschema::validator_for(&schema).expect("a valid schema")
    }

    fn schema_errors(json: &serde_json::Value) -> Vec<String> {
        gradescope_schema()
            .iter_errors(json)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    #[test]
    fn gradescope_results_follow_the_specification() {
        use crate::checker::grade::model::tests::hostile;
        for report in [sample(), hostile()] {
            let json: serde_json::Value =
                serde_json::from_str(&to_gradescope(&report).unwrap()).unwrap();
            assert_eq!(schema_errors(&json), Vec::<String>::new(), "{json:#}");
            assert_eq!(json["score"], f64::from(report.earned));
            let tests = json["tests"].as_array().unwrap();
            let checks: usize = report.scorecards.iter().map(|c| c.checks.len()).sum();
            assert_eq!(tests.len(), checks);
            let max: f64 = tests.iter().map(|t| t["max_score"].as_f64().unwrap()).sum();
            assert_eq!(max, f64::from(report.possible));
        }
        let json: serde_json::Value =
            serde_json::from_str(&to_gradescope(&sample()).unwrap()).unwrap();
        let fail = &json["tests"][1];
        assert_eq!(fail["status"], "failed");
        assert!(
            fail["name"]
                .as_str()
                .unwrap()
                .starts_with("02_echo: server_echoes_bytes — ")
        );
        assert_eq!(fail["number"], "2.2");
        let output = fail["output"].as_str().unwrap();
        assert!(
            output.starts_with("the echo differs, at byte 1024\n"),
            "{output}"
        );
        assert!(output.contains("\nhint: lessons/02_echo.md#"), "{output}");
        assert_eq!(
            json["tests"][3]["output"].as_str().unwrap().lines().next(),
            Some("not graded: run.toml has no line for 02_echo")
        );
    }

    /// The schema is not a formality: what Gradescope would reject, it rejects.
    #[test]
    fn the_gradescope_schema_rejects_what_the_specification_does_not_allow() {
        let good: serde_json::Value =
            serde_json::from_str(&to_gradescope(&sample()).unwrap()).unwrap();
        let mut wrong = Vec::new();
        let mut edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut json = good.clone();
            f(&mut json);
            wrong.push(json);
        };
        edit(&|j| j["tests"][0]["visibility"] = "students".into());
        edit(&|j| j["tests"][0]["score"] = "1".into());
        edit(&|j| j["tests"][0]["millis"] = 12.into());
        edit(&|j| j["scorecards"] = serde_json::json!([]));
        edit(&|j| j["stdout_visibility"] = "shown".into());
        edit(&|j| {
            j.as_object_mut().unwrap().remove("score");
            j["tests"][0].as_object_mut().unwrap().remove("score");
        });
        for json in wrong {
            assert!(!schema_errors(&json).is_empty(), "accepted: {json:#}");
        }
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
