//! One verdict everywhere: `cargo test --test parity`.
//!
//! A teacher grades a program two ways: `cargo test --test NN_name` with
//! `WORKBOOK_TARGET_<LESSON>` set to its command, or `grade NN -- COMMAND`. Both run each check
//! through the same function (`workbook::checker::checks::run`, after the same preflight), so
//! they must give the same pass or fail for every check. These tests run real programs both ways
//! and compare, check by check: for every lesson, its Python version (`examples/python/`) and
//! its wrong programs (`tests/fixtures/NN_*.py`).
//!
//! Both ways run at the same time: `grade` grades every program in one run (a class of one-line
//! student folders, `--jobs`), while the lessons' already-built test binaries — what
//! `cargo test --test NN_name` runs — take the programs one after another, each with its
//! override. By default one wrong program per lesson is compared (1½–2 minutes on two busy
//! cores); every wrong program, with `cargo test --test parity -- --ignored` (about 7 minutes
//! there; `lessons/grading.md`).
//!
//! On two busy cores a timing check can now and then fail one way only. A check on which the
//! ways disagree is therefore run again, alone, both ways; only a disagreement that stays is a
//! failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use workbook::checker::checks::{LESSONS, Lesson};
use workbook::checker::grade::{Report, Status};
use workbook::checker::harness::Target;

/// The wrong program of each lesson compared by default: one that fails a check of its own and
/// costs little time (a lesson not named here uses its first fixture).
const REPRESENTATIVE: &[&str] = &[
    "tests/fixtures/01_serves_once.py",
    "tests/fixtures/02_upper_unicode.py",
    "tests/fixtures/03_never_retries.py",
    "tests/fixtures/04_dies_out_of_descriptors.py",
    "tests/fixtures/05_zero_workers.py",
    "tests/fixtures/06_one_recv_is_a_message.py",
    "tests/fixtures/07_one_recv_is_a_line.py",
    "tests/fixtures/08_little_endian_length.py",
];

/// How many checks `grade` runs at once (`--jobs`).
const GRADE_JOBS: usize = 6;
/// How many programs the test binaries take at once, and how many checks each runs at once
/// (`--test-threads`): as many checks in all as `grade` runs. Together, twelve checks at once, as
/// many as `cargo test` runs in the fixture tests (two tests, six checks each).
const TEST_BINARIES_AT_ONCE: usize = 2;
const TEST_THREADS: usize = 3;

/// Pass (true) or fail, per check id.
type Verdicts = BTreeMap<String, bool>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A program to compare: a lesson, and a Python file relative to the repository.
#[derive(Clone, Debug)]
struct Program {
    lesson: &'static Lesson,
    path: String,
}

impl Program {
    /// Its words: `python3 /absolute/path.py`, the same both ways.
    fn argv(&self) -> Vec<String> {
        vec![
            "python3".to_string(),
            root().join(&self.path).display().to_string(),
        ]
    }

    fn command_line(&self) -> String {
        shlex::try_join(self.argv().iter().map(String::as_str)).expect("quotable")
    }
}

/// The wrong programs of `lesson`, sorted: `tests/fixtures/NN_*.py`.
fn fixtures(lesson: &Lesson) -> Vec<String> {
    let prefix = format!("{}_", &lesson.name[..2]);
    let mut found: Vec<String> = std::fs::read_dir(root().join("tests/fixtures"))
        .expect("tests/fixtures")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&prefix) && name.ends_with(".py"))
        .map(|name| format!("tests/fixtures/{name}"))
        .collect();
    found.sort();
    found
}

/// Every lesson's Python version, then its wrong programs: all of them, or the representative
/// one.
fn programs(every_fixture: bool) -> Vec<Program> {
    let mut programs = Vec::new();
    for lesson in LESSONS {
        let python = format!("examples/python/{}.py", lesson.name);
        assert!(root().join(&python).exists(), "{python} is missing");
        programs.push(Program {
            lesson,
            path: python,
        });
        let all = fixtures(lesson);
        let chosen: Vec<String> = if every_fixture {
            all
        } else {
            all.iter()
                .find(|f| REPRESENTATIVE.contains(&f.as_str()))
                .or(all.first())
                .cloned()
                .into_iter()
                .collect()
        };
        programs.extend(chosen.into_iter().map(|path| Program { lesson, path }));
    }
    programs
}

/// The test binary of each lesson, as `cargo test --test NN_name` runs it: asked of cargo once
/// (it builds nothing that `cargo test` has not built already).
fn test_binaries() -> BTreeMap<String, PathBuf> {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(root())
        .args(["test", "--no-run", "--message-format=json"]);
    for lesson in LESSONS {
        cargo.args(["--test", lesson.name]);
    }
    // The same profile as this test's own binary (`target/release/deps/parity-…`).
    let me = std::env::current_exe().expect("own path");
    if me.parent().and_then(Path::parent).and_then(Path::file_name) == Some("release".as_ref()) {
        cargo.arg("--release");
    }
    let output = cargo.output().expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo test --no-run failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut binaries = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_test = message["target"]["kind"] == serde_json::json!(["test"]);
        if let (true, Some(name), Some(exe)) = (
            is_test,
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            binaries.insert(name.to_string(), PathBuf::from(exe));
        }
    }
    for lesson in LESSONS {
        assert!(
            binaries.contains_key(lesson.name),
            "no test binary for {}",
            lesson.name
        );
    }
    binaries
}

/// The verdicts of `ids` on `program` as `cargo test --test NN_name --exact IDS…` gives them
/// with the override set: the lesson's test binary, run as cargo runs it.
fn by_cargo_test(binary: &Path, program: &Program, ids: &[&str], threads: usize) -> Verdicts {
    let output = Command::new(binary)
        .current_dir(root())
        .env(Target::env_var(program.lesson.name), program.command_line())
        .args(["--exact", "--test-threads", &threads.to_string()])
        .args(ids)
        .output()
        .expect("the test binary runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut verdicts = Verdicts::new();
    for id in ids {
        let ok = text.contains(&format!("test {id} ... ok\n"));
        let failed = text.contains(&format!("test {id} ... FAILED\n"));
        assert!(
            ok != failed,
            "{}: no verdict for {id} from {}:\n{text}",
            program.path,
            binary.display()
        );
        verdicts.insert(id.to_string(), ok);
    }
    verdicts
}

/// A student folder per program, each with a one-line `run.toml`, in a fresh folder.
fn class_of(programs: &[Program], name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("parity-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (i, program) in programs.iter().enumerate() {
        let student = dir.join(student(i));
        std::fs::create_dir_all(&student).expect("student folder");
        // A TOML basic string: backslashes and quotes escaped.
        let quoted = program
            .command_line()
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        let line = format!("{} = \"{quoted}\"\n", program.lesson.name);
        std::fs::write(student.join("run.toml"), line).expect("run.toml");
    }
    dir
}

fn student(i: usize) -> String {
    format!("p{i:02}")
}

/// Run `grade ARGS --format json` (from the repository, as a teacher would) and read its report.
fn grade_json(args: &[&str]) -> Report {
    let output = Command::new(env!("CARGO_BIN_EXE_grade"))
        .current_dir(root())
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("grade runs");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "grade {args:?}: {e}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The verdicts of every check on each program, as one `grade all --class DIR` gives them.
fn by_grade(programs: &[Program], jobs: usize) -> Vec<Verdicts> {
    let class = class_of(programs, "class");
    let class_arg = class.display().to_string();
    let jobs = jobs.to_string();
    let report = grade_json(&["all", "--class", &class_arg, "--jobs", &jobs]);
    let _ = std::fs::remove_dir_all(&class);
    programs
        .iter()
        .enumerate()
        .map(|(i, program)| {
            let name = student(i);
            let card = report
                .scorecards
                .iter()
                .find(|c| {
                    c.student.as_deref() == Some(name.as_str()) && c.lesson == program.lesson.name
                })
                .unwrap_or_else(|| panic!("no scorecard for {}", program.path));
            card.checks
                .iter()
                .map(|c| (c.id.clone(), c.status == Status::Pass))
                .collect()
        })
        .collect()
}

/// One check of `program`, alone, both ways: (cargo test, grade).
fn alone_both_ways(binary: &Path, program: &Program, id: &str) -> (bool, bool) {
    let by_cargo = by_cargo_test(binary, program, &[id], 1)[id];
    let mut args = vec![program.lesson.name.to_string(), "--check".into(), id.into()];
    args.push("--".into());
    args.extend(program.argv());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = grade_json(&args);
    let by_grade = report.scorecards[0].checks[0].status == Status::Pass;
    (by_cargo, by_grade)
}

/// Run every program both ways at once and fail on any check whose verdicts differ (and still
/// differ when the check runs again alone).
fn both_ways_agree(programs: &[Program]) {
    let started = Instant::now();
    let binaries = test_binaries();
    let tested: Vec<Mutex<Option<Verdicts>>> = programs.iter().map(|_| Mutex::new(None)).collect();
    // The test binaries take the programs from the last: `grade` starts with the first, so the
    // two ways are seldom in the same heavy lesson at once.
    let next = AtomicUsize::new(0);
    let graded = std::thread::scope(|scope| {
        let graded = scope.spawn(|| by_grade(programs, GRADE_JOBS));
        for _ in 0..TEST_BINARIES_AT_ONCE {
            scope.spawn(|| {
                loop {
                    let taken = next.fetch_add(1, Ordering::Relaxed);
                    let Some(i) = programs.len().checked_sub(taken + 1) else {
                        break;
                    };
                    let program = &programs[i];
                    let ids: Vec<&str> = program.lesson.checks.iter().map(|c| c.id).collect();
                    let binary = &binaries[program.lesson.name];
                    let verdicts = by_cargo_test(binary, program, &ids, TEST_THREADS);
                    *tested[i].lock().expect("not poisoned") = Some(verdicts);
                }
            });
        }
        graded.join().expect("grade ran")
    });
    let tested: Vec<Verdicts> = tested
        .into_iter()
        .map(|v| {
            v.into_inner()
                .expect("not poisoned")
                .expect("every program tested")
        })
        .collect();
    let mut disagree = Vec::new();
    for ((program, by_grade), by_cargo) in programs.iter().zip(&graded).zip(&tested) {
        let ids: Vec<&str> = program.lesson.checks.iter().map(|c| c.id).collect();
        let graded_ids: Vec<&str> = by_grade.keys().map(String::as_str).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(
            graded_ids, sorted,
            "{}: grade must give a verdict for every check, and only those",
            program.path
        );
        assert!(
            by_grade.values().any(|&pass| pass),
            "{}: nothing passed, so nothing was compared: {by_grade:?}",
            program.path
        );
        for id in ids {
            if by_grade[id] == by_cargo[id] {
                continue;
            }
            // Load, or a real difference? Once more, alone.
            let binary = &binaries[program.lesson.name];
            let (cargo_alone, grade_alone) = alone_both_ways(binary, program, id);
            let what = format!(
                "{} {id}: cargo test {}, grade {}; alone: cargo test {}, grade {}",
                program.path,
                verdict(by_cargo[id]),
                verdict(by_grade[id]),
                verdict(cargo_alone),
                verdict(grade_alone)
            );
            if cargo_alone == grade_alone {
                eprintln!("under load only (agree alone): {what}");
            } else {
                disagree.push(what);
            }
        }
    }
    eprintln!(
        "{} programs, both ways, in {:.0} s",
        programs.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        disagree.is_empty(),
        "cargo test with WORKBOOK_TARGET_<LESSON> and grade disagree:\n{}",
        disagree.join("\n")
    );
}

fn verdict(pass: bool) -> &'static str {
    if pass { "pass" } else { "FAIL" }
}

/// Every lesson: its Python version and one wrong program.
#[test]
fn cargo_test_with_an_override_and_grade_give_one_verdict() {
    let programs = programs(false);
    assert_eq!(programs.len(), 2 * LESSONS.len(), "{programs:?}");
    both_ways_agree(&programs);
}

/// Every lesson: its Python version and every wrong program (several minutes; run it after
/// changing the checks, `grade` or the harness).
#[test]
#[ignore = "slow: every fixture of every lesson, both ways; cargo test --test parity -- --ignored"]
fn every_fixture_gets_one_verdict_both_ways() {
    both_ways_agree(&programs(true));
}

/// A program that does not start fails every check both ways, with one line: the same preflight
/// runs before `grade`'s checks and before the first generated test.
#[test]
fn a_program_that_does_not_start_fails_every_check_both_ways() {
    let lesson = &LESSONS[0];
    let program = Program {
        lesson,
        path: "tests/fixtures/no_such_program.py".to_string(),
    };
    let ids: Vec<&str> = lesson.checks.iter().map(|c| c.id).collect();
    let binaries = test_binaries();
    let by_cargo = by_cargo_test(&binaries[lesson.name], &program, &ids, 2);
    assert!(by_cargo.values().all(|&pass| !pass), "{by_cargo:?}");
    let mut args = vec![lesson.name.to_string(), "--".into()];
    args.extend(program.argv());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = grade_json(&args);
    let card = &report.scorecards[0];
    assert!(
        card.problem
            .as_deref()
            .is_some_and(|p| p.starts_with("did not start")),
        "{:?}",
        card.problem
    );
    assert!(card.checks.iter().all(|c| c.status == Status::Missing));
}

/// The representative wrong programs exist (a renamed fixture must be renamed here too).
#[test]
fn the_representative_fixtures_exist() {
    for path in REPRESENTATIVE {
        assert!(root().join(path).exists(), "{path} is missing");
    }
}

/// Only the tests generated from a lesson's checks read `WORKBOOK_TARGET_<LESSON>`: any other
/// test of a lesson that judged the override would be a verdict `grade` never gives.
#[test]
fn only_the_checks_read_the_override() {
    for lesson in LESSONS {
        let file = format!("tests/{}.rs", lesson.name);
        let text = std::fs::read_to_string(root().join(&file)).expect("lesson test file");
        for reads in ["for_lesson(", "env_var(", "WORKBOOK_TARGET_\""] {
            assert!(
                !text.contains(reads),
                "{file} reads the override (`{reads}`): run the built binary, `Target::new([BUILT])`"
            );
        }
    }
}
