//! Every lesson is complete: `cargo test --test lessons`.
//!
//! A lesson is more than its binary. `lessons/adding-a-lesson.md` lists every place a new lesson
//! touches; this file checks each of them, for every lesson binary `src/bin/NN_name.rs` (or
//! `src/bin/NN_name/main.rs`), and that every lesson with checks has a binary:
//!
//! - its checks: `src/checker/checks/lNN_name.rs` (or `lNN_name/mod.rs`), registered in `LESSONS`;
//! - its test file `tests/NN_name.rs`, which makes its tests with `workbook::lNN_name_tests!`,
//!   runs the Python version and at least one wrong program `tests/fixtures/NN_*.py`;
//! - its Python version `examples/python/NN_name.py`;
//! - its page `lessons/NN_name.md`, its book chapter `book/src/lessons/NN_name.md` that
//!   includes the page and is listed in `book/src/SUMMARY.md`, and its row in the book's table
//!   of lessons (`book/src/lessons.md`);
//! - its row in the README's course map and its line in the layout map of `src/lib.rs`;
//! - its default port `70NN` in `src/kit/cli.rs`'s `ports`.
//!
//! [`missing_pieces`] is a pure function of a directory tree and the names in `LESSONS`, so the
//! tests at the bottom build a complete lesson in a scratch directory and show that each missing
//! piece fails.

use std::path::{Path, PathBuf};

/// The lesson binaries under `root/src/bin`: `NN_name` for `NN_name.rs` or `NN_name/main.rs`.
fn lesson_binaries(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join("src/bin")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let path = entry.path();
            let name = if path.is_dir() {
                path.join("main.rs").is_file().then(|| file_name(&path))?
            } else {
                file_name(&path).strip_suffix(".rs")?.to_string()
            };
            is_lesson_name(&name).then_some(name)
        })
        .collect();
    names.sort();
    names
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `NN_name`: two digits, an underscore, and a name (`grade` is a tool, not a lesson).
fn is_lesson_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 3 && b[0].is_ascii_digit() && b[1].is_ascii_digit() && b[2] == b'_'
}

fn read(root: &Path, relative: &str) -> Option<String> {
    std::fs::read_to_string(root.join(relative)).ok()
}

/// Whether the lines of `src/kit/cli.rs`'s `pub mod ports { … }` give `name` its default port
/// `70NN`: a doc line naming the lesson, `/// \`NN_name\``, then the constant.
fn has_default_port(cli: &str, name: &str) -> bool {
    let Some(start) = cli.find("pub mod ports {") else {
        return false;
    };
    let block = &cli[start..];
    let block = &block[..block.find("\n}").unwrap_or(block.len())];
    let want = format!("= 70{};", &name[..2]);
    let lines: Vec<&str> = block.lines().map(str::trim).collect();
    lines.windows(2).any(|pair| {
        pair[0] == format!("/// `{name}`")
            && pair[1].starts_with("pub const ")
            && pair[1].ends_with(&want)
    })
}

/// What each lesson binary under `root` lacks, and which lessons in `registered` (the names in
/// `LESSONS`) have no binary: one message per missing piece, saying what to add where.
fn missing_pieces(root: &Path, registered: &[&str]) -> Vec<String> {
    let binaries = lesson_binaries(root);
    let mut problems = Vec::new();
    for name in &binaries {
        let nn = &name[..2];
        let module = format!("l{name}");
        let mut lacks = |what: String| problems.push(format!("lesson {name}: {what}"));

        if !registered.contains(&name.as_str()) {
            lacks(format!(
                "not in LESSONS: add `{module}::LESSON` to LESSONS in src/checker/checks/mod.rs"
            ));
        }
        // A lesson's checks are one file, or a folder when they are many (l03_udp/mod.rs).
        let checks = root.join("src/checker/checks");
        if !checks.join(format!("{module}.rs")).is_file()
            && !checks.join(module.as_str()).join("mod.rs").is_file()
        {
            lacks(format!(
                "no checks: declare them with `lesson!` in src/checker/checks/{module}.rs \
                 (or {module}/mod.rs)"
            ));
        }

        let python = format!("examples/python/{name}.py");
        if !root.join(&python).is_file() {
            lacks(format!(
                "no Python version: write {python}, a correct version that passes every check"
            ));
        }
        let fixtures = std::fs::read_dir(root.join("tests/fixtures"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| file_name(&e.path()))
                    .filter(|f| f.starts_with(&format!("{nn}_")) && f.ends_with(".py"))
                    .count()
            })
            .unwrap_or(0);
        if fixtures == 0 {
            lacks(format!(
                "no wrong program tests/fixtures/{nn}_*.py: write one, e.g. \
                 tests/fixtures/{nn}_MISTAKE.py, that fails exactly the checks written for its \
                 mistake"
            ));
        }
        match read(root, &format!("tests/{name}.rs")) {
            None => lacks(format!(
                "no test file: write tests/{name}.rs with `workbook::{module}_tests!(BUILT);`"
            )),
            Some(tests) => {
                if !tests.contains(&format!("{module}_tests!(")) {
                    lacks(format!(
                        "tests/{name}.rs does not call `workbook::{module}_tests!(BUILT);`, so its \
                         checks have no tests"
                    ));
                }
                if !tests.contains(&python) {
                    lacks(format!(
                        "tests/{name}.rs does not run {python} through every check"
                    ));
                }
                if !tests.contains(&format!("tests/fixtures/{nn}_")) {
                    lacks(format!(
                        "tests/{name}.rs runs no wrong program tests/fixtures/{nn}_*.py"
                    ));
                }
            }
        }

        let page = format!("lessons/{name}.md");
        if !root.join(&page).is_file() {
            lacks(format!(
                "no page: write {page} (goal, run it, the contract, …)"
            ));
        }
        let chapter = format!("book/src/lessons/{name}.md");
        match read(root, &chapter) {
            None => lacks(format!(
                "no book chapter: write {chapter}, starting with \
                 `{{{{#include ../../../lessons/{name}.md}}}}`"
            )),
            Some(text)
                if !text.contains(&format!("{{{{#include ../../../lessons/{name}.md}}}}")) =>
            {
                lacks(format!("{chapter} does not include {page}"))
            }
            Some(_) => {}
        }
        let in_book = format!("](lessons/{name}.md)");
        if !read(root, "book/src/SUMMARY.md").is_some_and(|s| s.contains(&in_book)) {
            lacks(format!(
                "not in the book's contents: add `- [{nn} — …](lessons/{name}.md)` to \
                 book/src/SUMMARY.md"
            ));
        }
        if !read(root, "book/src/lessons.md").is_some_and(|s| {
            s.lines()
                .any(|l| l.starts_with(&format!("| [{nn} ")) && l.contains(&in_book))
        }) {
            lacks(format!(
                "no row in the book's table of lessons: add `| [{nn} — …](lessons/{name}.md) | …` \
                 to book/src/lessons.md"
            ));
        }
        if !read(root, "README.md").is_some_and(|s| {
            s.lines().any(|l| {
                l.starts_with(&format!("| {nn} |"))
                    && l.contains(&format!("lessons/{name}.md"))
                    && l.contains(&format!("`cargo test --test {name}`"))
            })
        }) {
            lacks(format!(
                "no row in the course map of README.md: add `| {nn} | … | `cargo run --bin {name}` | \
                 [lessons/{name}.md](lessons/{name}.md) | `cargo test --test {name}` | 70{nn} |`"
            ));
        }
        if !read(root, "src/lib.rs").is_some_and(|s| s.contains(&format!("//! - `{name}` — "))) {
            lacks(format!(
                "not in the layout map: add `//! - `{name}` — …` to the binaries in src/lib.rs"
            ));
        }
        if !read(root, "src/kit/cli.rs").is_some_and(|s| has_default_port(&s, name)) {
            lacks(format!(
                "no default port: add `/// `{name}`` and `pub const …: u16 = 70{nn};` to \
                 `pub mod ports` in src/kit/cli.rs"
            ));
        }
    }
    for name in registered {
        if !binaries.iter().any(|b| b == name) {
            problems.push(format!(
                "lesson {name}: in LESSONS, but there is no binary src/bin/{name}.rs or \
                 src/bin/{name}/main.rs"
            ));
        }
    }
    problems
}

#[test]
fn every_lesson_has_every_piece() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let registered: Vec<&str> = workbook::checker::checks::LESSONS
        .iter()
        .map(|l| l.name)
        .collect();
    let problems = missing_pieces(root, &registered);
    assert!(
        problems.is_empty(),
        "see lessons/adding-a-lesson.md:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_real_tree_has_lessons() {
    // Guards against a check that passes because it looked in the wrong place.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let binaries = lesson_binaries(root);
    assert!(binaries.contains(&"02_echo".to_string()), "{binaries:?}");
    assert!(!binaries.contains(&"grade".to_string()), "{binaries:?}");
}

// ---------------------------------------------------------------------------------------------
// The check can fail: a complete lesson in a scratch tree passes; without any one piece, it fails.

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("workbook-lessons-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("directories");
        std::fs::write(path, text).expect("a scratch file");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every piece of a lesson `07_fake`, as (path, text).
fn complete_lesson() -> Vec<(&'static str, &'static str)> {
    vec![
        ("src/bin/07_fake.rs", "fn main() {}\n"),
        ("src/bin/grade.rs", "fn main() {}\n"),
        ("src/checker/checks/l07_fake.rs", "lesson! {}\n"),
        (
            "tests/07_fake.rs",
            "workbook::l07_fake_tests!(BUILT);\n\
             // examples/python/07_fake.py\n// tests/fixtures/07_wrong.py\n",
        ),
        ("tests/fixtures/07_wrong.py", "\n"),
        ("examples/python/07_fake.py", "\n"),
        ("lessons/07_fake.md", "# Lesson 07\n"),
        (
            "book/src/lessons/07_fake.md",
            "{{#include ../../../lessons/07_fake.md}}\n",
        ),
        (
            "book/src/SUMMARY.md",
            "# Summary\n\n- [07 — Fake](lessons/07_fake.md)\n",
        ),
        (
            "book/src/lessons.md",
            "| [07 — Fake](lessons/07_fake.md) | x | y | z |\n",
        ),
        (
            "README.md",
            "| 07 | fake | `cargo run --bin 07_fake` | [lessons/07_fake.md](lessons/07_fake.md) \
             | `cargo test --test 07_fake` | 7007 |\n",
        ),
        ("src/lib.rs", "//! - `07_fake` — a fake lesson.\n"),
        (
            "src/kit/cli.rs",
            "pub mod ports {\n    /// `07_fake`\n    pub const FAKE: u16 = 7007;\n}\n",
        ),
    ]
}

/// The problems of a scratch tree holding `pieces`, with `07_fake` registered or not.
fn problems_of(tag: &str, pieces: &[(&str, &str)], registered: &[&str]) -> Vec<String> {
    let scratch = Scratch::new(tag);
    for (path, text) in pieces {
        scratch.write(path, text);
    }
    missing_pieces(&scratch.0, registered)
}

#[test]
fn a_complete_lesson_passes() {
    assert_eq!(
        problems_of("complete", &complete_lesson(), &["07_fake"]),
        Vec::<String>::new()
    );
    // The binary may also be a directory with a main.rs.
    let mut pieces = complete_lesson();
    pieces[0] = ("src/bin/07_fake/main.rs", "fn main() {}\n");
    assert_eq!(
        problems_of("dir", &pieces, &["07_fake"]),
        Vec::<String>::new()
    );
}

#[test]
fn each_missing_file_fails() {
    let all = complete_lesson();
    for (i, (path, _)) in all.iter().enumerate() {
        if *path == "src/bin/grade.rs" {
            continue;
        }
        let mut pieces = all.clone();
        pieces.remove(i);
        let problems = problems_of(&format!("without-{i}"), &pieces, &["07_fake"]);
        assert!(
            !problems.is_empty(),
            "a lesson without {path} must fail the check"
        );
        let named = if path.starts_with("tests/fixtures/") {
            "tests/fixtures/07_*.py".to_string()
        } else {
            file_name(Path::new(path))
        };
        assert!(
            problems.iter().any(|p| p.contains(&named)),
            "the problem must name what is missing ({named}): {problems:?}"
        );
    }
}

#[test]
fn each_missing_entry_fails() {
    // (file, its text without the entry, words the problem must contain)
    let cases = [
        (
            "tests/07_fake.rs",
            "// examples/python/07_fake.py\n// tests/fixtures/07_wrong.py\n",
            "l07_fake_tests!",
        ),
        (
            "tests/07_fake.rs",
            "workbook::l07_fake_tests!(BUILT);\n// tests/fixtures/07_wrong.py\n",
            "does not run examples/python/07_fake.py",
        ),
        (
            "tests/07_fake.rs",
            "workbook::l07_fake_tests!(BUILT);\n// examples/python/07_fake.py\n",
            "runs no wrong program",
        ),
        (
            "book/src/lessons/07_fake.md",
            "# Fake\n",
            "does not include",
        ),
        ("book/src/SUMMARY.md", "# Summary\n", "SUMMARY.md"),
        (
            "book/src/lessons.md",
            "| [06 — x](lessons/06_x.md) |\n",
            "table of lessons",
        ),
        ("README.md", "| 07 | fake |\n", "course map of README.md"),
        ("src/lib.rs", "//! - `06_x` — another.\n", "layout map"),
        (
            "src/kit/cli.rs",
            "pub mod ports {\n    /// `07_fake`\n    pub const FAKE: u16 = 7070;\n}\n",
            "default port",
        ),
        (
            "src/kit/cli.rs",
            "pub mod ports {\n}\n/// `07_fake`\npub const FAKE: u16 = 7007;\n",
            "default port",
        ),
    ];
    for (n, (path, text, want)) in cases.iter().enumerate() {
        let pieces: Vec<(&str, &str)> = complete_lesson()
            .into_iter()
            .map(|(p, t)| if p == *path { (p, *text) } else { (p, t) })
            .collect();
        let problems = problems_of(&format!("entry-{n}"), &pieces, &["07_fake"]);
        assert!(
            problems.len() == 1 && problems[0].contains(want),
            "{path} without its entry must fail with one problem about `{want}`: {problems:?}"
        );
    }
}

#[test]
fn a_lesson_missing_from_lessons_or_its_binary_fails() {
    let problems = problems_of("unregistered", &complete_lesson(), &[]);
    assert!(
        problems.len() == 1 && problems[0].contains("not in LESSONS"),
        "{problems:?}"
    );
    let problems = problems_of("no-binary", &complete_lesson(), &["07_fake", "08_gone"]);
    assert!(
        problems.len() == 1 && problems[0].contains("08_gone") && problems[0].contains("no binary"),
        "{problems:?}"
    );
}
