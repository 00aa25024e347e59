//! Machine-readable results: JSON, CSV and JUnit hold what the scorecard shows.

use workbook::checker::grade::{self, Report, Status};

use crate::support::*;

const SOME_CHECKS: [&str; 6] = [
    "--check",
    "demo_exits_zero",
    "--check",
    "server_echoes_bytes",
    "--check",
    "server_upper",
];

#[test]
fn json_holds_what_the_scorecard_shows() {
    let dir = temp_dir("json");
    let file = dir.join("results.json");
    let file_text = file.display().to_string();
    let mut args = vec!["02", "--class", "examples/students", "--format", "json"];
    args.extend(["--output", &file_text]);
    args.extend(SOME_CHECKS);
    let (code, stdout, _) = run(&args);
    assert_eq!(code, 1);
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).expect("valid JSON");
    let names: Vec<String> = report.scorecards.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "ana/02_echo",
            "ben/02_echo",
            "chen/02_echo",
            "dana/02_echo",
            "eve/02_echo"
        ]
    );
    // Every check of every scorecard, in the text's order, with the same mark.
    let from_json: Vec<(String, String)> = report
        .scorecards
        .iter()
        .filter(|s| s.problem.is_none())
        .flat_map(|s| &s.checks)
        .map(|c| (c.status.mark().to_string(), c.id.clone()))
        .collect();
    assert_eq!(from_json, marks(&stdout), "{stdout}");
    for card in &report.scorecards {
        let total = grade::total_line(card.earned, card.possible, card.passed, card.checks.len());
        assert!(stdout.contains(&total), "{total} missing from:\n{stdout}");
        for check in card.checks.iter().filter(|c| c.status == Status::Fail) {
            let evidence = check.evidence.as_ref().expect("a failure has evidence");
            assert!(
                stdout.contains(&format!("      {}", evidence.reason)),
                "{stdout}"
            );
        }
    }
    let dana = &report.scorecards[3];
    assert_eq!(
        dana.problem.as_deref(),
        Some("not graded: run.toml has no line for 02_echo")
    );
    assert!(dana.checks.iter().all(|c| c.status == Status::Missing));
    assert_eq!(
        (report.earned, report.possible, report.all_passed),
        (20, 30, false)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn csv_and_junit_hold_the_same_results() {
    let mut args = vec![
        "02",
        "--student",
        "examples/students/eve",
        "--format",
        "csv",
    ];
    args.extend(SOME_CHECKS);
    let (code, csv, _) = run(&args);
    assert_eq!(code, 1);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader.headers().expect("a header row"),
        &grade::CSV_HEADER[..]
    );
    let rows: Vec<grade::CsvRow> = reader
        .deserialize()
        .collect::<Result<_, _>>()
        .expect("every row has the header's columns");
    let summary: Vec<(&str, &str, u32, Status)> = rows
        .iter()
        .map(|r| (r.student.as_str(), r.check.as_str(), r.earned, r.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("eve", "demo_exits_zero", 0, Status::Fail),
            ("eve", "server_echoes_bytes", 3, Status::Pass),
            ("eve", "server_upper", 2, Status::Pass),
        ]
    );
    let demo = &rows[0];
    assert_eq!(demo.reason, "expected exit status 0 (exit status: 2)");
    assert!(
        demo.stderr.contains("\necho.py: error:"),
        "stderr lines, newline-separated: {demo:?}"
    );
    assert!(demo.hint.starts_with("lessons/02_echo.md#"), "{demo:?}");

    args[4] = "junit";
    let (_, xml, _) = run(&args);
    assert!(xml.starts_with("<?xml"), "{xml}");
    let junit = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit XML");
    assert_eq!((junit.tests, junit.failures), (3, 1), "{xml}");
    let [suite] = &junit.test_suites[..] else {
        panic!("one testsuite: {xml}");
    };
    assert_eq!(
        (suite.name.as_str(), suite.tests, suite.failures),
        ("eve/02_echo", 3, 1),
        "{xml}"
    );
    // The same checks as the CSV, in the same order; the failed one carries the same reason,
    // evidence and hint.
    let cases: Vec<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
    let checks: Vec<&str> = rows.iter().map(|r| r.check.as_str()).collect();
    assert_eq!(cases, checks);
    let quick_junit::TestCaseStatus::NonSuccess {
        message,
        description,
        ..
    } = &suite.test_cases[0].status
    else {
        panic!("demo_exits_zero failed: {xml}");
    };
    assert_eq!(message.as_deref(), Some(demo.reason.as_str()));
    let description = description.as_deref().unwrap_or_default();
    for part in [&demo.command, &demo.hint] {
        assert!(description.contains(part.as_str()), "{part} missing: {xml}");
    }
    for line in demo.stderr.lines() {
        assert!(description.contains(line), "{line} missing: {xml}");
    }
}
