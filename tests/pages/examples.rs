//! 4. **example programs**: a ```console block's `$ python3 examples/NAME.py` (a small program of
//!    the book's, beside the lessons: `examples/broadcast.py`, …) is run, and the lines the block
//!    shows after it must be the lines it prints, all of them, in order, digits compared as for
//!    the demos (ports change from run to run). It must exit 0 within [`EXAMPLE_BOUND`].

use super::{command, console_blocks, normalized, pages};
use std::path::Path;
use std::time::Duration;
use workbook::checker::harness::{Input, Target, run_with};

/// How long an example may take: each ends by itself well within a second (its waits are bounded).
const EXAMPLE_BOUND: Duration = Duration::from_secs(30);

/// An example shown on a page: where, the script's path, and the lines the page shows.
struct Shown<'a> {
    at: String,
    script: &'a str,
    lines: Vec<&'a str>,
}

/// The examples a block runs, each with the lines shown after it (up to the next `$ ` line).
fn shown_examples<'a>(at: &str, start: usize, lines: &[&'a str]) -> Vec<Shown<'a>> {
    let mut found: Vec<Shown> = Vec::new();
    let mut open = false;
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("$ ") {
            // Only `examples/NAME.py`: the lessons' Python versions in `examples/python/` are
            // servers, run by the lesson tests.
            let script = match command(rest).split_whitespace().collect::<Vec<_>>()[..] {
                ["python3", script] => script
                    .strip_prefix("examples/")
                    .filter(|name| !name.contains('/') && name.ends_with(".py"))
                    .map(|_| script),
                _ => None,
            };
            open = script.is_some();
            if let Some(script) = script {
                let at = format!("{at}:{}", start + i + 1);
                found.push(Shown {
                    at,
                    script,
                    lines: Vec::new(),
                });
            }
        } else if open && let Some(last) = found.last_mut() {
            last.lines.push(line);
        }
    }
    found
}

/// What the example prints: stdout, then stderr, line by line; or why it did not run.
fn run_example(script: &str) -> Result<Vec<String>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let python = Target::new(["python3".to_string(), path.display().to_string()]);
    let finished = run_with(&python, &[], Input::Bytes(b""), EXAMPLE_BOUND)
        .map_err(|e| format!("could not run it: {e:?}"))?;
    let text = finished.stdout_text() + &finished.stderr_text();
    match finished.status {
        Some(status) if status.success() => Ok(text.lines().map(String::from).collect()),
        Some(status) => Err(format!("it ended with {status}, printing:\n{text}")),
        None => Err(format!("still running after {} s", EXAMPLE_BOUND.as_secs())),
    }
}

/// What is wrong with what `shown` shows, given what its program printed.
fn problem(shown: &Shown, printed: &[String]) -> Option<String> {
    let want: Vec<String> = shown.lines.iter().map(|l| normalized(l)).collect();
    let got: Vec<String> = printed.iter().map(|l| normalized(l)).collect();
    (want != got).then(|| {
        format!(
            "{}: the page shows other lines than `python3 {}` prints (digits compare equal; \
             run it and copy its lines):\n  page: {:#?}\n  real: {printed:#?}",
            shown.at, shown.script, shown.lines
        )
    })
}

#[test]
fn example_output_on_the_pages_is_what_the_examples_print() {
    let mut problems = Vec::new();
    let mut compared = 0;
    for (file, text) in pages() {
        for (start, lines) in console_blocks(&text) {
            for shown in shown_examples(&file.display().to_string(), start, &lines) {
                compared += 1;
                match run_example(shown.script) {
                    Ok(printed) => problems.extend(problem(&shown, &printed)),
                    Err(why) => {
                        problems.push(format!("{}: `python3 {}`: {why}", shown.at, shown.script))
                    }
                }
            }
        }
    }
    assert!(compared >= 4, "only {compared} examples compared");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// The comparison can fail: a page that shows a line the program does not print, or leaves one
/// out, is reported. (Run against the real broadcast example.)
#[test]
fn a_page_that_shows_other_output_than_its_example_is_reported() {
    let printed = run_example("examples/broadcast.py").expect("examples/broadcast.py runs");
    let block = [
        "$ python3 examples/broadcast.py",
        "two listeners on 127.255.255.255:40000",
        "sendto without SO_BROADCAST: sent",
    ];
    let shown = shown_examples("page.md", 0, &block);
    assert_eq!(shown.len(), 1, "the block's example is found");
    assert!(
        problem(&shown[0], &printed).is_some(),
        "a wrong line is reported"
    );
    let all: Vec<&str> = std::iter::once(block[0])
        .chain(printed.iter().map(String::as_str))
        .collect();
    let shown = shown_examples("page.md", 0, &all);
    assert!(
        problem(&shown[0], &printed).is_none(),
        "the real lines pass"
    );
    let shown = shown_examples("page.md", 0, &all[..all.len() - 1]);
    assert!(
        problem(&shown[0], &printed).is_some(),
        "a missing line is reported"
    );
}
