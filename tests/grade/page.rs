//! The page: `lessons/grading.md` shows real scorecards, manifests and tables; they must stay
//! true.

use workbook::checker::grade;

use crate::support::*;

fn page() -> String {
    std::fs::read_to_string(root().join("lessons/grading.md")).expect("lessons/grading.md")
}

/// The ```text blocks of the page that start with `$ cargo run -q --bin grade -- ARGS`.
fn shown_runs(page: &str) -> Vec<(Vec<String>, String)> {
    let mut runs = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find("```text\n$ cargo run -q --bin grade -- ") {
        let block = &rest[at + "```text\n".len()..];
        let end = block.find("\n```").expect("closed block");
        let (first, body) = block[..end].split_once('\n').unwrap_or((&block[..end], ""));
        let args = shlex::split(first.trim_start_matches("$ cargo run -q --bin grade -- "))
            .expect("shell words");
        runs.push((args, body.to_string()));
        rest = &block[end..];
    }
    runs
}

/// What must not drift: each check's mark and id, the totals, and the class-table rows.
fn verdicts(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let first = *words.first()?;
            if ["✓", "✗", "·"].contains(&first) {
                Some(format!("{first} {}", words.get(1).unwrap_or(&"")))
            } else if first == "total:"
                || first == "all:"
                || (words.len() > 2 && ["✓", "✗", "·"].contains(&words[1]))
            {
                Some(words.join(" ")) // a total, or a class-table row
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn the_scorecards_shown_in_the_page_are_real() {
    let page = page();
    let runs = shown_runs(&page);
    assert!(
        runs.len() >= 3,
        "the page shows a correct and a wrong scorecard and a class"
    );
    // The runs are independent and mostly wait on the network: run them side by side.
    std::thread::scope(|scope| {
        let running: Vec<_> = runs
            .iter()
            .map(|(args, shown)| {
                scope.spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let (_, stdout, _) = run(&args);
                    (args.join(" "), verdicts(shown), verdicts(&stdout), stdout)
                })
            })
            .collect();
        for handle in running {
            let (args, shown, now, stdout) = handle.join().expect("grade ran");
            assert_eq!(
                shown, now,
                "lessons/grading.md shows `grade {args}`, which now prints:\n{stdout}"
            );
        }
    });
}

#[test]
fn the_manifest_shown_in_the_page_is_anas() {
    let page = page();
    let start = page
        .find("```toml\n# examples/students/ana/run.toml\n")
        .expect("the page shows Ana's run.toml");
    let block = &page[start..];
    let shown = &block[block.find('\n').unwrap() + 1..block.find("\n```\n").unwrap()];
    let file = std::fs::read_to_string(root().join("examples/students/ana/run.toml")).unwrap();
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(lines(shown), lines(&file));
}

#[test]
fn the_check_tables_in_the_page_match_the_checks() {
    // Each `<!-- checks: LESSON -->` is followed by that lesson's table, as `grade --list` prints.
    let page = page();
    let mut found = 0;
    for (at, _) in page.match_indices("<!-- checks: ") {
        let rest = &page[at + "<!-- checks: ".len()..];
        let (name, rest) = rest.split_once(" -->\n").expect("a closed marker");
        let lesson = workbook::checker::checks::lesson(name).expect("a lesson");
        let table = grade::checks_table(lesson);
        assert!(
            rest.starts_with(&table),
            "the table of {name} in lessons/grading.md is out of date; it is now:\n{table}\
             (cargo run -q --bin grade -- --list {name})"
        );
        found += 1;
    }
    assert!(found >= 2, "tables for lessons 01 and 02 at least");
}
