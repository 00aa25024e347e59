//! # grade — run a lesson's checks against anyone's program and print a scorecard
//!
//! The checks are the very functions `cargo test` runs (`workbook::checker::checks`): each talks to the
//! program only through its command line and the network, so a student's version in any
//! language can be graded. Every check is bounded (timeouts, kill-on-drop), and nothing the
//! grader started outlives it, even on Ctrl-C.
//!
//! ```text
//! cargo run --bin grade -- 02_echo -- python3 examples/python/02_echo.py   # one program
//! cargo run --bin grade -- all --student examples/students/ana             # every lesson of a student
//! cargo run --bin grade -- 02_echo --class examples/students               # a class: scorecards + table
//! cargo run --bin grade -- 02_echo --class examples/students --format csv -o grades.csv
//! cargo run --bin grade -- --list 02_echo                                  # the lesson's checks
//! ```
//!
//! Exit status: 0 when every check passed, 1 when one failed (or could not run), 2 for a usage
//! error, 128+N when stopped by signal N. The page: `lessons/grading.md`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use workbook::checker::checks::{Check, LESSONS, Lesson};
use workbook::checker::grade::{self, Job, Report, Scorecard, Student};
use workbook::checker::harness::{self, Target, reaper};

/// Run a lesson's checks against a program — yours, a student's, in any language — and print
/// a scorecard: ✓/✗ per check, its points, and for each failure the evidence and a hint.
#[derive(Parser, Debug, Clone)]
#[command(name = "grade", after_help = AFTER_HELP)]
struct Cli {
    /// The lesson: its binary's name (`02_echo`), its number (`02`), or `all` (every lesson the
    /// student folder has a program for).
    #[arg(value_name = "LESSON")]
    lesson: Option<String>,

    /// The lesson, as a flag (`--lesson all` reads well with `--student`).
    #[arg(long = "lesson", value_name = "LESSON", conflicts_with = "lesson")]
    lesson_flag: Option<String>,

    /// Grade the student folder DIR: its `run.toml` says how to start each lesson.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["class", "command"])]
    student: Option<PathBuf>,

    /// Grade every student folder in DIR and print a class table.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    class: Option<PathBuf>,

    /// Run only this check (repeat for several); `--list` shows the ids.
    #[arg(long = "check", value_name = "ID")]
    checks: Vec<String>,

    /// How many checks run at once (across students).
    #[arg(long, short, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,

    /// What to print: the text scorecards, or results for a program to read.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Write the --format output to FILE (the text scorecards still go to stdout).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    /// With --class: print only the class table, not every student's scorecard.
    #[arg(long)]
    summary: bool,

    /// Print the checks of LESSON (or of every lesson) as a Markdown table, and exit.
    #[arg(long)]
    list: bool,

    /// Grade, then grade again each time a file of the program changes (the files named in
    /// COMMAND, or the --student folder), until Ctrl-C.
    #[arg(long, conflicts_with_all = ["class", "output", "list"])]
    watch: bool,

    /// The program to grade, as you would type it, after `--`. Each check appends its own
    /// arguments (`server --port 0 -q`).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Scorecards (and the class table) for people.
    Text,
    /// Everything the scorecards show, as JSON.
    Json,
    /// One row per check: student, lesson, check, points, status, evidence, hint.
    Csv,
    /// JUnit XML, for CI systems.
    Junit,
}

const AFTER_HELP: &str = "\
Examples:
  grade 02_echo -- python3 students/ana/echo.py
  grade all --student students/ana
  grade 02_echo --class students --jobs 4
  grade 02_echo --class students --format json --output grades.json
  grade --list 02_echo
  grade 02_echo --watch -- python3 echo.py       # again on every save of echo.py

A student folder holds a run.toml, one line per lesson, relative to the folder:
  02_echo = \"python3 echo.py\"
or an executable `run`, started as `run LESSON ARGS...`.

The page: lessons/grading.md";

/// Why `grade` stopped before grading.
enum Stop {
    /// A usage error (exit 2).
    Usage(String, String),
    /// Bad input that is not a usage error, e.g. an unreadable class folder (exit 1).
    Failed(String, String),
}

impl Stop {
    fn report(self) -> ExitCode {
        let (code, error, hint) = match self {
            Stop::Usage(e, h) => (2, e, h),
            Stop::Failed(e, h) => (1, e, h),
        };
        eprintln!("error: {error}");
        if !hint.is_empty() {
            eprintln!("hint: {hint}");
        }
        ExitCode::from(code)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = if cli.watch { watch(&cli) } else { run(cli) };
    // Once a signal has come, the checks still running fail as their programs are killed, and
    // grading would end "normally", exit 1, racing the signal thread's exit 128+N: the signal
    // thread has the last word.
    wait_if_stopping();
    match outcome {
        Ok(code) => code,
        Err(stop) => stop.report(),
    }
}

/// `--watch`: grade, then wait for a change to the student's files and grade again — rustlings'
/// loop, for a program in any language. Changes are found by polling modification times and
/// sizes a few times a second (no busy loop; no file-system events to miss on network folders),
/// and a burst of saves is graded once. Ends on Ctrl-C, like any run of `grade`.
fn watch(cli: &Cli) -> Result<ExitCode, Stop> {
    if cli.format != Format::Text {
        return Err(Stop::Usage(
            "--watch prints scorecards for people: it takes no --format".into(),
            "drop --format, or drop --watch".into(),
        ));
    }
    let roots: Vec<PathBuf> = match &cli.student {
        Some(dir) => vec![dir.clone()],
        None => cli
            .command
            .iter()
            .map(PathBuf::from)
            .filter(|path| path.exists())
            .collect(),
    };
    if roots.is_empty() {
        return Err(Stop::Usage(
            "--watch found no file to watch in the command".into(),
            "name the program's file in it (grade 02 --watch -- python3 echo.py), or use \
             --student DIR"
                .into(),
        ));
    }
    let mut seen = watched::snapshot(&roots);
    loop {
        let outcome = run(cli.clone());
        if let Err(stop) = outcome {
            // A broken run.toml is worth a message, not the end of the watch: it may be fixed.
            stop.report();
        }
        eprintln!(
            "watching {} file(s) for changes; Ctrl-C to stop",
            seen.len()
        );
        let changed = watched::wait_for_change(&roots, &mut seen);
        println!("\n── {} changed: grading again ──\n", changed.display());
    }
}

/// The files `--watch` polls: their modification times and sizes.
mod watched {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, SystemTime};

    /// How often the files are looked at.
    const POLL: Duration = Duration::from_millis(300);
    /// At most this many files are watched in a folder, at most this deep: a student folder is
    /// small, and a stray `node_modules` must not make every poll slow.
    const MAX_FILES: usize = 2000;
    const MAX_DEPTH: usize = 4;

    /// (path, modified, size) of each watched file, sorted by path.
    pub type Snapshot = Vec<(PathBuf, Option<SystemTime>, u64)>;

    pub fn snapshot(roots: &[PathBuf]) -> Snapshot {
        let mut files = Snapshot::new();
        for root in roots {
            walk(root, 0, &mut files);
        }
        files.sort();
        files.dedup();
        files
    }

    fn walk(path: &Path, depth: usize, files: &mut Snapshot) {
        if files.len() >= MAX_FILES {
            return;
        }
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.is_file() {
            files.push((path.to_path_buf(), meta.modified().ok(), meta.len()));
            return;
        }
        if !meta.is_dir() || depth > MAX_DEPTH {
            return;
        }
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        children.sort();
        for child in children {
            let name = child.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // Hidden folders, build output and caches change without the student saving.
            if name.starts_with('.') || matches!(name, "target" | "__pycache__" | "node_modules") {
                continue;
            }
            walk(&child, depth + 1, files);
        }
    }

    /// Block until a file changes (or appears, or goes), then until the files have been still
    /// for one poll (an editor's burst of writes is one change). Returns a changed file, and
    /// leaves `seen` up to date.
    pub fn wait_for_change(roots: &[PathBuf], seen: &mut Snapshot) -> PathBuf {
        loop {
            std::thread::sleep(POLL);
            let now = snapshot(roots);
            if now == *seen {
                continue;
            }
            let changed = first_difference(seen, &now);
            let mut settled = now;
            loop {
                std::thread::sleep(POLL);
                let again = snapshot(roots);
                if again == settled {
                    break;
                }
                settled = again;
            }
            *seen = settled;
            return changed;
        }
    }

    fn first_difference(before: &Snapshot, after: &Snapshot) -> PathBuf {
        after
            .iter()
            .find(|file| !before.contains(file))
            .or_else(|| before.iter().find(|file| !after.contains(file)))
            .map_or_else(PathBuf::new, |(path, ..)| path.clone())
    }
}

fn run(cli: Cli) -> Result<ExitCode, Stop> {
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    colored::control::set_override(colour);
    let selector = cli.lesson.clone().or(cli.lesson_flag.clone());

    if cli.list {
        let lessons = match selector.as_deref() {
            None | Some("all") => LESSONS.iter().collect(),
            Some(name) => vec![lesson_named(name)?],
        };
        let mut out = String::new();
        for lesson in &lessons {
            if lessons.len() > 1 {
                out += &format!("### {}\n\n", lesson.name);
            }
            if lesson.checks.is_empty() {
                out += "(no checks yet)\n";
            } else {
                out += &grade::checks_table(lesson);
            }
            if lessons.len() > 1 {
                out += "\n";
            }
        }
        emit(&out);
        return Ok(ExitCode::SUCCESS);
    }

    let Some(selector) = selector else {
        return Err(Stop::Usage(
            "which lesson? name one, or `all`".into(),
            "e.g. grade 02_echo -- python3 echo.py  (grade --list shows the lessons and checks)"
                .into(),
        ));
    };
    let all = selector == "all";
    let named = if all {
        None
    } else {
        Some(lesson_named(&selector)?)
    };
    if let Some(lesson) = named.filter(|l| l.checks.is_empty()) {
        return Err(Stop::Usage(
            format!("{} has no checks yet", lesson.name),
            "its checks are being written; grade another lesson".into(),
        ));
    }

    // Who is graded, and on which lessons.
    let mut jobs: Vec<Job> = Vec::new();
    let class_mode = cli.class.is_some();
    if !cli.command.is_empty() {
        let Some(lesson) = named else {
            return Err(Stop::Usage(
                "`all` needs a student folder, not one command".into(),
                "name the lesson (grade 02_echo -- COMMAND), or use --student DIR with a run.toml"
                    .into(),
            ));
        };
        jobs.push(job(None, lesson, Ok(Target::new(cli.command.clone()))));
    } else if let Some(dir) = &cli.student {
        if !dir.is_dir() {
            return Err(Stop::Failed(
                format!("{} is not a folder", dir.display()),
                "--student takes a student's folder, which holds their run.toml".into(),
            ));
        }
        let student = Student::load(dir);
        if let Err(problem) = &student.manifest {
            return Err(Stop::Failed(
                format!("{}: {problem}", dir.display()),
                "a run.toml has one line per lesson, e.g. 02_echo = \"python3 echo.py\"".into(),
            ));
        }
        let lessons = match named {
            Some(lesson) => vec![lesson],
            None => student.lessons(),
        };
        for lesson in lessons {
            jobs.push(job(
                Some(student.name.clone()),
                lesson,
                student.target(lesson.name),
            ));
        }
    } else if let Some(dir) = &cli.class {
        let class = grade::class(dir).map_err(|e| {
            Stop::Failed(
                e,
                "--class takes a folder with one folder per student, each with a run.toml".into(),
            )
        })?;
        let lessons: Vec<&'static Lesson> = match named {
            Some(lesson) => vec![lesson],
            None => LESSONS
                .iter()
                .filter(|l| {
                    class
                        .iter()
                        .any(|s| s.lessons().iter().any(|m| m.name == l.name))
                })
                .collect(),
        };
        for lesson in lessons {
            for student in &class {
                jobs.push(job(
                    Some(student.name.clone()),
                    lesson,
                    student.target(lesson.name),
                ));
            }
        }
    } else {
        return Err(Stop::Usage(
            "what should be graded?".into(),
            "give the program after `--` (grade 02_echo -- python3 echo.py), or --student DIR, \
             or --class DIR"
                .into(),
        ));
    }

    // Lessons without checks (still being written) are skipped under `all`.
    if all {
        for lesson in LESSONS.iter().filter(|l| l.checks.is_empty()) {
            if jobs.iter().any(|j| j.lesson.name == lesson.name) {
                eprintln!("note: {} has no checks yet; skipped", lesson.name);
            }
        }
    }
    jobs.retain(|job| !job.lesson.checks.is_empty());

    // --check: only the checks named.
    if !cli.checks.is_empty() {
        for id in &cli.checks {
            if !jobs.iter().any(|j| j.lesson.check(id).is_some()) {
                let mut lessons: Vec<&str> = jobs.iter().map(|j| j.lesson.name).collect();
                lessons.dedup();
                return Err(Stop::Usage(
                    format!("no check `{id}` in {}", lessons.join(", ")),
                    format!(
                        "grade --list {} shows the ids",
                        lessons.first().copied().unwrap_or("LESSON")
                    ),
                ));
            }
        }
        for job in &mut jobs {
            job.checks
                .retain(|c| cli.checks.iter().any(|id| id == c.id));
        }
        jobs.retain(|job| !job.checks.is_empty());
    }
    if jobs.is_empty() {
        return Err(Stop::Failed(
            "nothing to grade".into(),
            "the student folder's run.toml names no lesson with checks".into(),
        ));
    }

    // Grade, leaving nothing behind.
    stop_on_signals();
    reaper::adopt_orphans();
    let progress = std::io::stderr().is_terminal() && jobs.len() > 1;
    if progress {
        let checks: usize = jobs.iter().map(|j| j.checks.len()).sum();
        eprintln!(
            "grading {} program(s), {checks} checks, {} at a time…",
            jobs.len(),
            cli.jobs
        );
    }
    let on_done = |card: &Scorecard| {
        if progress {
            eprintln!(
                "  {} {}: {}/{} points",
                if card.all_passed() { "✓" } else { "✗" },
                card.name(),
                card.earned,
                card.possible
            );
        }
    };
    let cards = grade::grade(&jobs, usize::from(cli.jobs), &on_done);
    // Every check is done: whatever is still our child escaped a process group. Kill it.
    reaper::sweep_all(false);
    let report = Report::new(cards);

    // Results.
    let machine = match cli.format {
        Format::Text => None,
        Format::Json => Some(grade::to_json(&report)),
        Format::Csv => Some(grade::to_csv(&report)),
        Format::Junit => Some(grade::to_junit(&report)),
    }
    .transpose()
    .map_err(|e| Stop::Failed(e, "please report this as a bug in grade".into()))?;
    let text = || text_report(&report, class_mode, cli.summary, colour);
    match (&cli.output, machine) {
        (None, None) => emit(&text()),
        (None, Some(machine)) => emit(&machine),
        (Some(file), machine) => {
            emit(&text());
            let content = machine.unwrap_or_else(|| text_report(&report, class_mode, false, false));
            std::fs::write(file, content).map_err(|e| {
                Stop::Failed(
                    format!("cannot write {}: {e}", file.display()),
                    "check the folder exists and is writable".into(),
                )
            })?;
        }
    }
    Ok(if report.all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The job of grading `program` on every check of `lesson`.
fn job(student: Option<String>, lesson: &'static Lesson, program: Result<Target, String>) -> Job {
    Job {
        student,
        lesson,
        checks: lesson.checks.iter().collect::<Vec<&'static Check>>(),
        program,
    }
}

fn lesson_named(name: &str) -> Result<&'static Lesson, Stop> {
    grade::find_lesson(name).ok_or_else(|| {
        let names: Vec<&str> = LESSONS.iter().map(|l| l.name).collect();
        Stop::Usage(
            format!("unknown lesson `{name}`"),
            format!("the lessons are {}, or `all`", names.join(", ")),
        )
    })
}

/// The scorecards (unless `summary`), the class tables, and a grand total.
fn text_report(report: &Report, class_mode: bool, summary: bool, colour: bool) -> String {
    let mut out = String::new();
    if !(class_mode && summary) {
        for card in &report.scorecards {
            out += &grade::scorecard(card, colour);
            out += "\n";
        }
    }
    if class_mode {
        let mut lessons: Vec<&str> = report
            .scorecards
            .iter()
            .map(|c| c.lesson.as_str())
            .collect();
        lessons.dedup();
        for lesson in lessons {
            out += &grade::class_table(&report.scorecards, lesson, colour);
            out += "\n";
        }
    }
    if report.scorecards.len() > 1 {
        let passed = report.scorecards.iter().map(|c| c.passed).sum();
        let checks = report.scorecards.iter().map(|c| c.checks.len()).sum();
        out += &format!(
            "all: {}\n",
            grade::total_line(report.earned, report.possible, passed, checks)
                .trim_start_matches("total: ")
        );
    }
    out
}

/// Print to stdout; a closed pipe (`grade … | head`) is not an error worth a panic. Nothing is
/// printed once a signal has come: those results are of programs killed mid-check.
fn emit(text: &str) {
    wait_if_stopping();
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// On Ctrl-C (SIGINT), SIGTERM or SIGHUP: kill every program under test and anything it left,
/// then exit 128+N. Without this a signal would end `grade` without running `Drop`, and the
/// programs, each in a process group of its own, would never hear the terminal's Ctrl-C.
fn stop_on_signals() {
    // Once per process: `--watch` grades again and again.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(stop_on_signals_now);
}

/// Set by the signal thread before it kills anything; the process ends with its exit.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// If a signal has come, wait for the signal thread to end the process (exit 128+N).
fn wait_if_stopping() {
    while STOPPING.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::park();
    }
}

fn stop_on_signals_now() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
            harness::kill_all();
            reaper::sweep_all(true);
            eprintln!("grade: stopped by signal {signal}; every program it started is gone");
            std::process::exit(128 + signal);
        }
    });
}
