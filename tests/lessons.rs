//! Every lesson is complete and has the one shape: `cargo test --test lessons`.
//!
//! A lesson is a row in the registry (`src/lessons/mod.rs`) plus everything that teaches, checks
//! and grades it. `lessons/adding-a-lesson.md` lists the eight places a new lesson touches; this
//! file checks each of them for every row of the registry, and that nothing outside the registry
//! looks like a lesson:
//!
//! 1. its folder `src/lessons/lNN_name/` with the files every lesson has (`mod.rs`, `server.rs`,
//!    `client.rs`, `demo.rs`, `cli.rs`) and their entries (`NAME`/`PORT`, `serve`, `run`, `run`,
//!    `main`); the server's first socket call near the top of `server.rs`;
//! 2. its entry `src/bin/NN_name.rs`, which only calls `cli::main()`;
//! 3. its row in the registry (default port `70NN`);
//! 4. its checks `src/checker/checks/lNN_name.rs` (or `lNN_name/mod.rs`), which the registry
//!    declares in `checker::checks::LESSONS`;
//! 5. its test file `tests/NN_name.rs` (`workbook::lNN_name_tests!`, the Python version, at least
//!    one wrong program `tests/fixtures/NN_*.py`);
//! 6. its Python version `examples/python/NN_name.py`;
//! 7. its page `lessons/NN_name.md`;
//! 8. its book chapter `book/src/lessons/NN_name.md`, which includes the page.
//!
//! The README's course map, the book's contents (`SUMMARY.md`) and its table of lessons are not
//! edits: they are generated from the registry between two markers, and checked here.
//! `WORKBOOK_BLESS=1 cargo test --test lessons` writes them.
//!
//! [`missing_pieces`] is a pure function of a directory tree and a registry, so the tests at the
//! bottom build a complete lesson in a scratch directory and show that each missing piece fails.

use std::path::{Path, PathBuf};

use workbook::lessons::Lesson;

/// The files every lesson folder has, with the entry each one must define.
const SHAPE: &[(&str, &str)] = &[
    ("mod.rs", "pub const NAME: &str = "),
    ("server.rs", "pub fn serve"),
    ("client.rs", "run"),
    ("demo.rs", "pub fn run("),
    ("cli.rs", "pub fn main("),
];

/// The kit is plumbing: these modules and no others (a lesson's subject lives in its lesson).
const KIT: &[&str] = &["backoff", "cli", "errors", "narrate", "net", "shutdown"];

/// How many lines after its `//!` header a lesson's `server.rs` may take to reach its first
/// socket call.
const FIRST_CALL_WITHIN: usize = 40;

/// What a socket call looks like in a server: the calls the course teaches, as std, socket2 and
/// mio spell them, and the kit's `accept_retrying` (accept, waiting out a shortage).
const SOCKET_CALLS: &[&str] = &[
    "Socket::new(",
    "accept_retrying(",
    ".try_clone(",
    ".set_nonblocking(",
    ".accept(",
    ".recv_from(",
    ".recv(",
    ".read(",
    ".poll(",
    "::bind(",
    ".bind(",
    ".listen(",
    ".incoming(",
];

const GENERATED: &str =
    "<!-- generated from src/lessons/mod.rs: WORKBOOK_BLESS=1 cargo test --test lessons -->";
const GENERATED_END: &str = "<!-- end of generated lessons -->";

fn read(root: &Path, relative: &str) -> Option<String> {
    std::fs::read_to_string(root.join(relative)).ok()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `NN_name`: two digits, an underscore, and a name (`grade` is a tool, not a lesson).
fn is_lesson_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 3 && b[0].is_ascii_digit() && b[1].is_ascii_digit() && b[2] == b'_'
}

// ---------------------------------------------------------------------------------------------
// The generated rows.

/// The README's course map.
fn course_map(lessons: &[Lesson]) -> String {
    let mut out = String::from(
        "| # | lesson | the idea | run | tests | default port |\n\
         |---|--------|----------|-----|-------|--------------|\n",
    );
    for l in lessons {
        let (nn, name) = (l.number(), l.name);
        out += &format!(
            "| {nn} | [{}](lessons/{name}.md) | {} | `cargo run --bin {name}` \
             | `cargo test --test {name}` | {} |\n",
            l.title, l.idea, l.port
        );
    }
    out
}

/// The book's table of lessons.
fn book_table(lessons: &[Lesson]) -> String {
    let mut out = String::from(
        "| lesson | the idea | design | protocol |\n\
         |--------|----------|--------|----------|\n",
    );
    for l in lessons {
        out += &format!(
            "| [{} — {}](lessons/{}.md) | {} | {} | {} |\n",
            l.number(),
            l.title,
            l.name,
            l.idea,
            l.design,
            l.protocol
        );
    }
    out
}

/// The lesson lines of the book's contents.
fn contents(lessons: &[Lesson]) -> String {
    lessons
        .iter()
        .map(|l| {
            format!(
                "  - [{} — {}](lessons/{}.md)\n",
                l.number(),
                l.title,
                l.name
            )
        })
        .collect()
}

/// The files with a generated block, and what belongs in it.
fn generated(lessons: &[Lesson]) -> [(&'static str, String); 3] {
    [
        ("README.md", course_map(lessons)),
        ("book/src/lessons.md", book_table(lessons)),
        ("book/src/SUMMARY.md", contents(lessons)),
    ]
}

/// `text` with its generated lessons replaced by `rows`; `None` where it has none. The README and
/// the book's table mark theirs with two comments; the book's contents cannot hold a comment
/// inside its list (mdBook then drops the chapters after it), so there the block is the run of
/// lesson lines, `  - [NN — …](lessons/NN_….md)`.
fn with_block(text: &str, rows: &str) -> Option<String> {
    if let Some(marker) = text.find(GENERATED) {
        let start = marker + GENERATED.len();
        let end = start + text[start..].find(GENERATED_END)?;
        // From the start of the end marker's line, which may be indented.
        let end = text[..end].rfind('\n').map_or(end, |i| i + 1);
        return Some(format!("{}\n{rows}{}", &text[..start], &text[end..]));
    }
    let is_lesson_line = |line: &str| {
        line.strip_prefix("  - [")
            .is_some_and(|rest| is_lesson_name(&rest.replacen(" — ", "_", 1)))
            && line.contains("](lessons/")
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let first = lines.iter().position(|l| is_lesson_line(l))?;
    let count = lines[first..]
        .iter()
        .take_while(|l| is_lesson_line(l))
        .count();
    Some(format!(
        "{}{rows}{}",
        lines[..first].concat(),
        lines[first + count..].concat()
    ))
}

// ---------------------------------------------------------------------------------------------
// The check.

/// What each lesson in `registry` lacks under `root`, what looks like a lesson without a row,
/// and whether the checker's list (`checker`) is the registry's: one message per problem,
/// saying what to add where.
fn missing_pieces(root: &Path, registry: &[Lesson], checker: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let names: Vec<&str> = registry.iter().map(|l| l.name).collect();
    for lesson in registry {
        let name = lesson.name;
        let nn = lesson.number();
        let module = format!("l{name}");
        let folder = format!("src/lessons/{module}");
        let mut lacks = |what: String| problems.push(format!("lesson {name}: {what}"));

        // 1. The folder, with the same files and entries as every lesson.
        for (file, entry) in SHAPE {
            match read(root, &format!("{folder}/{file}")) {
                None => lacks(format!(
                    "no {folder}/{file}: every lesson has {}",
                    SHAPE.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
                )),
                Some(text) if !text.contains(entry) => lacks(format!(
                    "{folder}/{file} does not define `{entry}…`, the entry every lesson's \
                     {file} has"
                )),
                Some(_) => {}
            }
        }
        if let Some(server) = read(root, &format!("{folder}/server.rs")) {
            let lines: Vec<&str> = server.lines().collect();
            let header = lines
                .iter()
                .rposition(|l| l.starts_with("//!"))
                .map_or(0, |i| i + 1);
            match lines
                .iter()
                .position(|l| SOCKET_CALLS.iter().any(|c| l.contains(c)))
            {
                Some(first) if first < header + FIRST_CALL_WITHIN => {}
                Some(first) => lacks(format!(
                    "{folder}/server.rs: the first socket call is on line {}, {} lines after \
                     the header; bring the server's calls to the top (within {FIRST_CALL_WITHIN})",
                    first + 1,
                    first - header
                )),
                None => lacks(format!("{folder}/server.rs makes no socket call")),
            }
        }
        if let Some(text) = read(root, &format!("{folder}/mod.rs"))
            && !text.contains("pub const PORT: u16 = super::port_of(NAME);")
        {
            lacks(format!(
                "{folder}/mod.rs: `pub const PORT: u16 = super::port_of(NAME);`, the port of \
                 its row in the registry"
            ));
        }

        // 2. The binary: a thin entry, nothing else.
        let bin = format!("src/bin/{name}.rs");
        match read(root, &bin) {
            None => lacks(format!(
                "no {bin}: `fn main() -> ExitCode {{ workbook::lessons::{module}::cli::main() }}`"
            )),
            Some(text) if !text.contains(&format!("workbook::lessons::{module}::cli::main()")) => {
                lacks(format!(
                    "{bin} must only call `workbook::lessons::{module}::cli::main()`"
                ))
            }
            Some(_) => {}
        }
        if root.join(format!("src/bin/{name}")).is_dir() {
            lacks(format!(
                "src/bin/{name}/ is a folder: the lesson's code lives in {folder}/"
            ));
        }

        // 3. The row: its port.
        if lesson.port != 7000 + nn.parse::<u16>().unwrap_or(0) {
            lacks(format!(
                "its default port is {}, not 70{nn}: lesson NN listens on 70NN",
                lesson.port
            ));
        }

        // 4. Its checks.
        let checks = root.join("src/checker/checks");
        if !checks.join(format!("{module}.rs")).is_file()
            && !checks.join(&module).join("mod.rs").is_file()
        {
            lacks(format!(
                "no checks: declare them with `lesson!` in src/checker/checks/{module}.rs \
                 (or {module}/mod.rs)"
            ));
        }

        // 5–6. Its tests, wrong programs and Python version.
        let python = format!("examples/python/{name}.py");
        if !root.join(&python).is_file() {
            lacks(format!(
                "no Python version: write {python}, a correct version that passes every check"
            ));
        }
        let fixtures = names_in(&root.join("tests/fixtures"))
            .into_iter()
            .filter(|f| f.starts_with(&format!("{nn}_")) && f.ends_with(".py"))
            .count();
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

        // 7–8. The page and its chapter.
        let page = format!("lessons/{name}.md");
        if !root.join(&page).is_file() {
            lacks(format!(
                "no page: write {page} (goal, run it, the calls, …, the contract)"
            ));
        }
        let chapter = format!("book/src/lessons/{name}.md");
        let include = format!("{{{{#include ../../../lessons/{name}.md:teach}}}}");
        match read(root, &chapter) {
            None => lacks(format!(
                "no book chapter: write {chapter}, starting with `{include}`"
            )),
            Some(text) if !text.contains(&include) => {
                lacks(format!("{chapter} does not include {page}"))
            }
            Some(_) => {}
        }
    }

    // Nothing that looks like a lesson is missing from the registry.
    for entry in names_in(&root.join("src/lessons")) {
        if let Some(name) = entry.strip_prefix('l')
            && is_lesson_name(name)
            && !names.contains(&name)
        {
            problems.push(format!(
                "src/lessons/{entry}/ is not in the registry: add its row to \
                 `for_each_lesson!` in src/lessons/mod.rs"
            ));
        }
    }
    for entry in names_in(&root.join("src/bin")) {
        let name = entry.strip_suffix(".rs").unwrap_or(&entry);
        if is_lesson_name(name) && !names.contains(&name) {
            problems.push(format!(
                "src/bin/{entry} is not in the registry: add its row to `for_each_lesson!` in \
                 src/lessons/mod.rs"
            ));
        }
    }
    if checker != names.as_slice() {
        problems.push(format!(
            "the checker's lessons {checker:?} are not the registry's {names:?}: \
             src/checker/checks/mod.rs declares them from `for_each_lesson!`"
        ));
    }

    // The generated rows are up to date.
    for (file, rows) in generated(registry) {
        match read(root, file) {
            None => problems.push(format!("no {file}")),
            Some(text) => match with_block(&text, &rows) {
                None => problems.push(format!(
                    "{file} has no generated block of lessons (`{GENERATED}` … \
                     `{GENERATED_END}`, or in SUMMARY.md its lesson lines)"
                )),
                Some(fresh) if fresh != text => problems.push(format!(
                    "{file}: its lessons are not the registry's; run \
                     `WORKBOOK_BLESS=1 cargo test --test lessons`"
                )),
                Some(_) => {}
            },
        }
    }

    // The kit is plumbing only.
    if let Some(kit) = read(root, "src/kit/mod.rs") {
        for line in kit.lines() {
            if let Some(module) = line
                .strip_prefix("pub mod ")
                .and_then(|m| m.strip_suffix(';'))
                && !KIT.contains(&module)
            {
                problems.push(format!(
                    "src/kit/{module}.rs: the kit holds plumbing only ({}); a lesson's subject \
                     lives in its lesson's folder",
                    KIT.join(", ")
                ));
            }
        }
    }
    problems
}

fn checker_names() -> Vec<&'static str> {
    workbook::checker::checks::LESSONS
        .iter()
        .map(|l| l.name)
        .collect()
}

#[test]
fn every_lesson_has_every_piece() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("WORKBOOK_BLESS").is_some() {
        for (file, rows) in generated(workbook::lessons::ALL) {
            let text = read(root, file).unwrap_or_default();
            if let Some(fresh) = with_block(&text, &rows) {
                std::fs::write(root.join(file), fresh).expect("writing a generated block");
            }
        }
    }
    let problems = missing_pieces(root, workbook::lessons::ALL, &checker_names());
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
    assert!(root.join("src/lessons/l02_echo/server.rs").is_file());
    assert!(workbook::lessons::ALL.iter().any(|l| l.name == "02_echo"));
    assert_eq!(checker_names().len(), workbook::lessons::ALL.len());
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

const FAKE: Lesson = Lesson {
    name: "09_fake",
    port: 7009,
    title: "A fake lesson",
    idea: "what a test needs",
    design: "none",
    protocol: "none",
};

fn block(rows: &str) -> String {
    format!("{GENERATED}\n{rows}{GENERATED_END}\n")
}

/// Every piece of a lesson `09_fake`, as (path, text).
fn complete_lesson() -> Vec<(&'static str, String)> {
    let s = |t: &str| t.to_string();
    vec![
        (
            "src/lessons/l09_fake/mod.rs",
            s("//! Lesson 09.\npub const NAME: &str = \"09_fake\";\n\
               pub const PORT: u16 = super::port_of(NAME);\n"),
        ),
        (
            "src/lessons/l09_fake/server.rs",
            s("//! The server.\n\npub fn serve(l: &L) {\n    l.accept();\n}\n"),
        ),
        ("src/lessons/l09_fake/client.rs", s("pub fn run() {}\n")),
        ("src/lessons/l09_fake/demo.rs", s("pub fn run() {}\n")),
        ("src/lessons/l09_fake/cli.rs", s("pub fn main() {}\n")),
        (
            "src/bin/09_fake.rs",
            s("fn main() { workbook::lessons::l09_fake::cli::main() }\n"),
        ),
        ("src/bin/grade.rs", s("fn main() {}\n")),
        ("src/checker/checks/l09_fake.rs", s("lesson! {}\n")),
        (
            "tests/09_fake.rs",
            s("workbook::l09_fake_tests!(BUILT);\n\
               // examples/python/09_fake.py\n// tests/fixtures/09_wrong.py\n"),
        ),
        ("tests/fixtures/09_wrong.py", s("\n")),
        ("examples/python/09_fake.py", s("\n")),
        ("lessons/09_fake.md", s("# Lesson 09\n")),
        (
            "book/src/lessons/09_fake.md",
            s("{{#include ../../../lessons/09_fake.md:teach}}\n"),
        ),
        (
            "book/src/SUMMARY.md",
            format!("# Summary\n\n- [How](lessons.md)\n{}", contents(&[FAKE])),
        ),
        ("book/src/lessons.md", block(&book_table(&[FAKE]))),
        ("README.md", block(&course_map(&[FAKE]))),
        ("src/kit/mod.rs", s("pub mod net;\n")),
    ]
}

/// The problems of a scratch tree holding `pieces`, with the registry `registry`.
fn problems_of(tag: &str, pieces: &[(&str, String)], registry: &[Lesson]) -> Vec<String> {
    let scratch = Scratch::new(tag);
    for (path, text) in pieces {
        scratch.write(path, text);
    }
    let checker: Vec<&str> = registry.iter().map(|l| l.name).collect();
    missing_pieces(&scratch.0, registry, &checker)
}

#[test]
fn a_complete_lesson_passes() {
    assert_eq!(
        problems_of("complete", &complete_lesson(), &[FAKE]),
        Vec::<String>::new()
    );
}

#[test]
fn each_missing_file_fails() {
    let all = complete_lesson();
    for (i, (path, _)) in all.iter().enumerate() {
        if *path == "src/bin/grade.rs" || *path == "src/kit/mod.rs" {
            continue;
        }
        let mut pieces = all.clone();
        pieces.remove(i);
        let problems = problems_of(&format!("without-{i}"), &pieces, &[FAKE]);
        let named = if path.starts_with("tests/fixtures/") {
            "tests/fixtures/09_*.py".to_string()
        } else {
            path.to_string()
        };
        assert!(
            problems.iter().any(|p| p.contains(&named)),
            "a lesson without {path} must fail, naming {named}: {problems:?}"
        );
    }
}

#[test]
fn each_missing_entry_fails() {
    // (file, its text without the entry, words the problem must contain)
    let cases = [
        (
            "src/lessons/l09_fake/server.rs",
            "//! The server.\n\nfn serve(l: &L) {\n    l.accept();\n}\n",
            "pub fn serve",
        ),
        (
            "src/lessons/l09_fake/server.rs",
            "//! The server.\n\npub fn serve() {}\n",
            "makes no socket call",
        ),
        (
            "src/lessons/l09_fake/mod.rs",
            "//! Lesson 09.\npub const NAME: &str = \"09_fake\";\npub const PORT: u16 = 7009;\n",
            "port_of(NAME)",
        ),
        (
            "src/lessons/l09_fake/cli.rs",
            "fn main() {}\n",
            "pub fn main(",
        ),
        (
            "src/bin/09_fake.rs",
            "fn main() { let x = 1; }\n",
            "must only call",
        ),
        (
            "tests/09_fake.rs",
            "// examples/python/09_fake.py\n// tests/fixtures/09_wrong.py\n",
            "l09_fake_tests!",
        ),
        (
            "tests/09_fake.rs",
            "workbook::l09_fake_tests!(BUILT);\n// tests/fixtures/09_wrong.py\n",
            "does not run examples/python/09_fake.py",
        ),
        (
            "tests/09_fake.rs",
            "workbook::l09_fake_tests!(BUILT);\n// examples/python/09_fake.py\n",
            "runs no wrong program",
        ),
        (
            "book/src/lessons/09_fake.md",
            "# Fake\n",
            "does not include",
        ),
        (
            "book/src/SUMMARY.md",
            "# Summary\n",
            "SUMMARY.md has no generated block",
        ),
        (
            "README.md",
            "| 09 | fake |\n",
            "README.md has no generated block",
        ),
        (
            "src/kit/mod.rs",
            "pub mod net;\npub mod echo;\n",
            "src/kit/echo.rs",
        ),
    ];
    for (n, (path, text, want)) in cases.iter().enumerate() {
        let pieces: Vec<(&str, String)> = complete_lesson()
            .into_iter()
            .map(|(p, t)| {
                if p == *path {
                    (p, text.to_string())
                } else {
                    (p, t)
                }
            })
            .collect();
        let problems = problems_of(&format!("entry-{n}"), &pieces, &[FAKE]);
        assert!(
            problems.len() == 1 && problems[0].contains(want),
            "{path} without its entry must fail with one problem about `{want}`: {problems:?}"
        );
    }
}

#[test]
fn a_far_first_call_fails() {
    let far = format!(
        "//! The server.\n{}pub fn serve(l: &L) {{\n    l.accept();\n}}\n",
        "// filler\n".repeat(FIRST_CALL_WITHIN + 1)
    );
    let pieces: Vec<(&str, String)> = complete_lesson()
        .into_iter()
        .map(|(p, t)| {
            if p == "src/lessons/l09_fake/server.rs" {
                (p, far.clone())
            } else {
                (p, t)
            }
        })
        .collect();
    let problems = problems_of("far", &pieces, &[FAKE]);
    assert!(
        problems.len() == 1 && problems[0].contains("first socket call"),
        "{problems:?}"
    );
}

#[test]
fn stale_rows_a_stray_lesson_and_another_checker_list_fail() {
    // The registry changed (a new title), the generated rows did not.
    let renamed = Lesson {
        title: "Another title",
        ..FAKE
    };
    let problems = problems_of("stale", &complete_lesson(), &[renamed]);
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems.iter().all(|p| p.contains("WORKBOOK_BLESS")));

    // A lesson folder and binary with no row.
    let problems = problems_of("stray", &complete_lesson(), &[]);
    assert!(
        problems.iter().any(|p| p.contains("src/lessons/l09_fake/"))
            && problems.iter().any(|p| p.contains("src/bin/09_fake.rs")),
        "{problems:?}"
    );

    // The checker's list differs from the registry.
    let scratch = Scratch::new("checker");
    for (path, text) in complete_lesson() {
        scratch.write(path, &text);
    }
    let problems = missing_pieces(&scratch.0, &[FAKE], &[]);
    assert!(
        problems.len() == 1 && problems[0].contains("checker's lessons"),
        "{problems:?}"
    );
}

#[test]
fn a_wrong_port_fails() {
    let wrong = Lesson { port: 7090, ..FAKE };
    let pieces: Vec<(&str, String)> = complete_lesson()
        .into_iter()
        .map(|(p, t)| match p {
            "book/src/SUMMARY.md" => (p, format!("- [How](lessons.md)\n{}", contents(&[wrong]))),
            "book/src/lessons.md" => (p, block(&book_table(&[wrong]))),
            "README.md" => (p, block(&course_map(&[wrong]))),
            _ => (p, t),
        })
        .collect();
    let problems = problems_of("port", &pieces, &[wrong]);
    assert!(
        problems.len() == 1 && problems[0].contains("not 7009"),
        "{problems:?}"
    );
}

/// The eight places a new lesson `09_multicast` touches, as `lessons/adding-a-lesson.md` numbers
/// them: what each numbered item must name.
const PLACES: &[&str] = &[
    "src/lessons/l09_multicast/",
    "src/bin/09_multicast.rs",
    "for_each_lesson!",
    "src/checker/checks/l09_multicast.rs",
    "tests/09_multicast.rs",
    "examples/python/09_multicast.py",
    "lessons/09_multicast.md",
    "book/src/lessons/09_multicast.md",
];

/// The numbered items of the guide (`N. **…`), each with the lines that follow it.
fn numbered_items(guide: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for line in guide.lines() {
        let trimmed = line.trim_start();
        let numbered = trimmed
            .split_once(". **")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if numbered && !line.starts_with(' ') {
            items.push(line.to_string());
        } else if let Some(item) = items.last_mut()
            && !line.starts_with('#')
        {
            item.push('\n');
            item.push_str(line);
        }
    }
    items
}

#[test]
fn the_guide_lists_the_eight_places_this_test_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = read(root, "lessons/adding-a-lesson.md").expect("lessons/adding-a-lesson.md");
    let items = numbered_items(&guide);
    assert_eq!(
        items.len(),
        PLACES.len(),
        "adding a lesson is {} edits; the guide numbers {}",
        PLACES.len(),
        items.len()
    );
    for (item, place) in items.iter().zip(PLACES) {
        assert!(
            item.contains(place),
            "the guide's item should name {place}: {item}"
        );
    }
    // And a guide with a ninth place fails.
    let longer = format!("{guide}\n9. **Another place** — somewhere.\n");
    assert_eq!(numbered_items(&longer).len(), PLACES.len() + 1);
}

// ---------------------------------------------------------------------------------------------
// The layers: who may import whom.

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                out.push((path, text));
            }
        }
    }
    out
}

/// The lines of `text` outside comments that mention `needle`.
fn code_mentions(text: &str, needle: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//") && l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// The import rules of the layout (README, "Layout"), as problems: the kit imports neither the
/// lessons nor the checker; the lessons never import the checker; the checker never runs lesson
/// code (it reads only the registry, `for_each_lesson!`); the checks never reach up into
/// `grade`; and a lesson's checks import another lesson's checks only when they declare that
/// they inherit its contract (`inherits: [lNN_…`).
fn layer_problems(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let rules: [(&str, &[&str]); 4] = [
        (
            "src/kit",
            &["crate::lessons", "crate::checker", "workbook::"],
        ),
        ("src/lessons", &["crate::checker", "workbook::checker"]),
        ("src/checker", &["crate::lessons", "workbook::lessons"]),
        (
            "src/checker/checks",
            &["crate::checker::grade", "super::grade"],
        ),
    ];
    for (dir, forbidden) in rules {
        for (path, text) in sources(&root.join(dir)) {
            for needle in forbidden {
                for line in code_mentions(&text, needle) {
                    problems.push(format!(
                        "{}: `{}` — {dir} must not import {needle}",
                        path.strip_prefix(root).unwrap_or(&path).display(),
                        line.trim()
                    ));
                }
            }
        }
    }
    for (path, text) in sources(&root.join("src/checker/checks")) {
        for line in code_mentions(&text, "super::l0")
            .into_iter()
            .chain(code_mentions(&text, "checks::l0"))
        {
            let Some(start) = line.find("l0") else {
                continue;
            };
            let other: String = line[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !text.contains(&format!("inherits: [{other},")) {
                problems.push(format!(
                    "{}: `{}` — a lesson's checks import {other} without inheriting its contract; \
                     shared helpers belong in src/checker/checks/common/",
                    path.strip_prefix(root).unwrap_or(&path).display(),
                    line.trim()
                ));
            }
        }
    }
    problems
}

#[test]
fn the_layers_import_only_downwards() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let problems = layer_problems(root);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_check_importing_another_lessons_checks_or_grade_fails() {
    let scratch = Scratch::new("layers");
    scratch.write(
        "src/checker/checks/l05_x.rs",
        "use super::l04_y::Conn;\nuse crate::checker::grade::preflight;\n",
    );
    scratch.write(
        "src/checker/checks/l07_z.rs",
        "use super::l06_w::Peer;\nlesson! { inherits: [l06_w, l06_w_tests], }\n",
    );
    scratch.write("src/kit/net.rs", "use crate::lessons::l02_echo;\n");
    let problems = layer_problems(&scratch.0);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("l04_y")));
    assert!(problems.iter().any(|p| p.contains("grade")));
    assert!(problems.iter().any(|p| p.contains("src/kit/net.rs")));
}
