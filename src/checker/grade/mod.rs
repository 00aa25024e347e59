//! Grading: run a lesson's checks against a student's program and report what works.
//!
//! The `grade` tool (`src/bin/grade.rs`) is a thin command line over this module:
//! - [`Student`] and [`Manifest`] — a student folder says how to start each lesson, in a
//!   `run.toml` (`02_echo = "python3 echo.py"`) or with an executable `run` script;
//! - [`grade`] — run the checks of [`Job`]s, a few at a time, into [`Scorecard`]s. The checks are
//!   the very functions `cargo test` runs (`workbook::checker::checks`), so every check is defined once,
//!   and each one is bounded by the harness (timeouts, kill-on-drop);
//! - renderers: the text [`scorecard`] and [`class_table`], [`to_json`], [`to_csv`],
//!   [`to_junit`], and the Markdown table of a lesson's checks ([`checks_table`], `grade --list`);
//! - [`reaper`] — nothing the grader started outlives it, even a program that escapes its
//!   process group.
//!
//! Every renderer works from the same [`Report`], so the scorecard on the terminal, the JSON and
//! the CSV always say the same thing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use colored::Colorize;
use serde::{Deserialize, Serialize};

use crate::checker::checks::{self, Check, Failure, LESSONS, Lesson};
use crate::checker::harness::Target;
use crate::kit::narrate::show_bytes;

/// How many bytes of sent/received data a scorecard shows (escaped, that is up to four times as
/// many characters).
pub const SHOW_BYTES: usize = 80;
/// How many of the program's last stderr lines a scorecard shows.
pub const SHOW_STDERR_LINES: usize = 8;
/// How many characters of one stderr line a scorecard shows.
pub const SHOW_LINE_CHARS: usize = 200;

/// The manifest file in a student folder.
pub const MANIFEST: &str = "run.toml";
/// The executable a student folder may hold instead: run as `run LESSON ARGS…`.
pub const RUN_SCRIPT: &str = "run";

// ------------------------------------------------------------------------------------------
// What a grading run produces.

/// How one check went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The check passed.
    Pass,
    /// The check failed; the evidence says why.
    Fail,
    /// Not run: the student has no program for this lesson (the scorecard's `problem` says why).
    Missing,
}

impl Status {
    /// The mark a scorecard shows: ✓, ✗, or · for not run.
    pub fn mark(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Fail => "✗",
            Status::Missing => "·",
        }
    }

    /// Its name in JSON and CSV: `pass`, `fail`, `missing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Missing => "missing",
        }
    }

    fn painted(self, colour: bool) -> String {
        let mark = self.mark();
        if !colour {
            return mark.to_string();
        }
        match self {
            Status::Pass => mark.green().bold().to_string(),
            Status::Fail => mark.red().bold().to_string(),
            Status::Missing => mark.dimmed().to_string(),
        }
    }
}

/// A check's [`Failure`], shown the way a student can read it: bytes escaped and truncated,
/// only the tail of stderr.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// What went wrong, in one sentence.
    pub reason: String,
    /// The command line that was run.
    pub command: Option<String>,
    /// What the check sent (escaped, truncated).
    pub sent: Option<String>,
    /// What the check expected, described.
    pub expected: Option<String>,
    /// What came back (escaped, truncated).
    pub received: Option<String>,
    /// The last lines of the program's stderr (each cut at [`SHOW_LINE_CHARS`]).
    pub stderr: Vec<String>,
    /// How many lines the program's stderr had in all.
    pub stderr_lines: usize,
}

impl Evidence {
    /// The evidence of `failure`.
    pub fn of(failure: &Failure) -> Evidence {
        let (stderr, stderr_lines) = match &failure.stderr {
            Some(bytes) if !bytes.is_empty() => {
                let text = String::from_utf8_lossy(bytes);
                let lines: Vec<&str> = text.lines().collect();
                let skip = lines.len().saturating_sub(SHOW_STDERR_LINES);
                let tail = lines[skip..]
                    .iter()
                    .map(|l| l.chars().take(SHOW_LINE_CHARS).collect())
                    .collect();
                (tail, lines.len())
            }
            _ => (Vec::new(), 0),
        };
        Evidence {
            reason: failure.reason.clone(),
            command: failure.command.clone(),
            sent: failure.sent.as_deref().map(|b| show_bytes(b, SHOW_BYTES)),
            expected: failure.expected.clone(),
            received: failure
                .received
                .as_deref()
                .map(|b| show_bytes(b, SHOW_BYTES)),
            stderr,
            stderr_lines,
        }
    }

    /// The evidence as lines, reason first (the layout of `Failure`'s own display).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.reason.clone()];
        let mut field = |name: &str, value: &Option<String>| {
            if let Some(value) = value {
                lines.push(format!("{name:<9} {value}"));
            }
        };
        field("command:", &self.command);
        field("sent:", &self.sent);
        field("expected:", &self.expected);
        field("received:", &self.received);
        if !self.stderr.is_empty() {
            if self.stderr_lines > self.stderr.len() {
                lines.push(format!(
                    "stderr:   (last {} of {} lines)",
                    self.stderr.len(),
                    self.stderr_lines
                ));
            } else {
                lines.push("stderr:".to_string());
            }
            lines.extend(self.stderr.iter().map(|l| format!("  | {l}")));
        }
        lines
    }
}

/// One check on a scorecard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's id (`server_echoes_bytes`).
    pub id: String,
    /// What it checks.
    pub title: String,
    /// What it is worth.
    pub points: u32,
    /// What the student earned: all the points or none.
    pub earned: u32,
    /// Passed, failed or not run.
    pub status: Status,
    /// How long the check took, in milliseconds.
    pub millis: u64,
    /// Why it failed.
    pub evidence: Option<Evidence>,
    /// Where to look when it fails.
    pub hint: String,
}

impl CheckResult {
    fn new(check: &Check, status: Status, millis: u64, evidence: Option<Evidence>) -> Self {
        CheckResult {
            id: check.id.to_string(),
            title: check.title.to_string(),
            points: check.points,
            earned: if status == Status::Pass {
                check.points
            } else {
                0
            },
            status,
            millis,
            evidence,
            hint: check.hint.to_string(),
        }
    }
}

/// One program graded on one lesson.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scorecard {
    /// The student's folder name; `None` when a command was graded directly.
    pub student: Option<String>,
    /// The lesson (`02_echo`).
    pub lesson: String,
    /// The command line graded (before each check's own arguments).
    pub command: Option<String>,
    /// Why nothing was run (no manifest, no line for this lesson…).
    pub problem: Option<String>,
    /// Points earned.
    pub earned: u32,
    /// Points possible.
    pub possible: u32,
    /// How many checks passed.
    pub passed: usize,
    /// The checks, in the lesson's order.
    pub checks: Vec<CheckResult>,
}

impl Scorecard {
    fn new(
        student: Option<String>,
        lesson: &str,
        command: Option<String>,
        problem: Option<String>,
        checks: Vec<CheckResult>,
    ) -> Scorecard {
        Scorecard {
            student,
            lesson: lesson.to_string(),
            command,
            problem,
            earned: checks.iter().map(|c| c.earned).sum(),
            possible: checks.iter().map(|c| c.points).sum(),
            passed: checks.iter().filter(|c| c.status == Status::Pass).count(),
            checks,
        }
    }

    /// Whether every check passed.
    pub fn all_passed(&self) -> bool {
        self.problem.is_none() && self.checks.iter().all(|c| c.status == Status::Pass)
    }

    /// `ana/02_echo`, or `02_echo` when no student was named.
    pub fn name(&self) -> String {
        match &self.student {
            Some(student) => format!("{student}/{}", self.lesson),
            None => self.lesson.clone(),
        }
    }
}

/// Everything one run of `grade` found: what JSON, CSV and JUnit output hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Whether every check of every scorecard passed (`grade` exits 0 exactly then).
    pub all_passed: bool,
    /// Points earned over all scorecards.
    pub earned: u32,
    /// Points possible over all scorecards.
    pub possible: u32,
    /// One per (student, lesson), in the order graded.
    pub scorecards: Vec<Scorecard>,
}

impl Report {
    /// The report of these scorecards.
    pub fn new(scorecards: Vec<Scorecard>) -> Report {
        Report {
            all_passed: scorecards.iter().all(Scorecard::all_passed),
            earned: scorecards.iter().map(|s| s.earned).sum(),
            possible: scorecards.iter().map(|s| s.possible).sum(),
            scorecards,
        }
    }
}

// ------------------------------------------------------------------------------------------
// Lessons and student folders.

/// The lesson named `name`: its binary's name (`02_echo`), its number (`02`, `2`) or the rest of
/// its name (`echo`).
pub fn find_lesson(name: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|lesson| {
        let (number, rest) = lesson.name.split_once('_').unwrap_or((lesson.name, ""));
        lesson.name == name
            || number == name
            || rest == name
            || (name.parse::<u32>().ok()).is_some_and(|n| number.parse::<u32>() == Ok(n))
    })
}

/// How a student folder says how to start its programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manifest {
    /// `run.toml`: one command line per lesson, `02_echo = "python3 echo.py"`.
    Commands(BTreeMap<String, String>),
    /// An executable `run`, started as `run LESSON ARGS…` for every lesson.
    Script(PathBuf),
}

impl Manifest {
    /// Read the manifest of the student folder `dir`: its `run.toml`, else its executable `run`.
    pub fn load(dir: &Path) -> Result<Manifest, String> {
        let toml_path = dir.join(MANIFEST);
        if toml_path.is_file() {
            let text = std::fs::read_to_string(&toml_path)
                .map_err(|e| format!("cannot read {MANIFEST}: {e}"))?;
            return Manifest::parse(&text).map(Manifest::Commands);
        }
        let script = dir.join(RUN_SCRIPT);
        if script.is_file() {
            use std::os::unix::fs::PermissionsExt;
            let mode = script
                .metadata()
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            if mode & 0o111 == 0 {
                return Err(format!(
                    "`{RUN_SCRIPT}` is not executable (chmod +x {RUN_SCRIPT})"
                ));
            }
            return Ok(Manifest::Script(script));
        }
        Err(format!(
            "no {MANIFEST} and no executable `{RUN_SCRIPT}` in the folder"
        ))
    }

    /// Parse a `run.toml`: every key a lesson's name, every value a command line.
    pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("{MANIFEST}: {}", e.message()))?;
        let mut commands = BTreeMap::new();
        for (key, value) in table {
            if !LESSONS.iter().any(|l| l.name == key) {
                return Err(format!(
                    "{MANIFEST}: `{key}` is not a lesson (the lessons are {})",
                    lesson_names()
                ));
            }
            let Some(line) = value.as_str() else {
                return Err(format!(
                    "{MANIFEST}: `{key}` must be a command line in quotes, e.g. {key} = \"python3 {key}.py\""
                ));
            };
            commands.insert(key, line.to_string());
        }
        Ok(commands)
    }

    /// The lessons this manifest has a program for, in the course's order.
    pub fn lessons(&self) -> Vec<&'static Lesson> {
        LESSONS
            .iter()
            .filter(|l| match self {
                Manifest::Commands(commands) => commands.contains_key(l.name),
                Manifest::Script(_) => true,
            })
            .collect()
    }

    /// The program to grade for `lesson`. Words of a `run.toml` command that name a file in the
    /// student folder `dir` (and a first word with a `/`) are taken relative to the folder.
    pub fn target(&self, dir: &Path, lesson: &str) -> Result<Target, String> {
        match self {
            Manifest::Script(script) => {
                Ok(Target::new([shown_path(script, true), lesson.to_string()]))
            }
            Manifest::Commands(commands) => {
                let line = commands
                    .get(lesson)
                    .ok_or_else(|| format!("{MANIFEST} has no line for {lesson}"))?;
                let words = Target::parse(line).map_err(|e| format!("{MANIFEST}: {e}"))?;
                Ok(Target::new(words.argv().iter().enumerate().map(
                    |(i, word)| {
                        let path = Path::new(word);
                        let joined = dir.join(path);
                        let is_path = (i == 0 && word.contains('/')) || joined.exists();
                        if path.is_absolute() || word.starts_with('-') || !is_path {
                            word.clone()
                        } else {
                            shown_path(&joined, i == 0)
                        }
                    },
                )))
            }
        }
    }
}

/// `path` as the grader shows and runs it: relative to the current directory when inside it
/// (shorter evidence), else absolute. A program (`first`) always gets a `/`, so it is never
/// looked up in `PATH`.
fn shown_path(path: &Path, first: bool) -> String {
    let absolute = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| absolute.strip_prefix(cwd).ok().map(Path::to_path_buf));
    match relative {
        Some(r) if first && r.parent() == Some(Path::new("")) => {
            format!("./{}", r.display())
        }
        Some(r) if !r.as_os_str().is_empty() => r.display().to_string(),
        _ => absolute.display().to_string(),
    }
}

fn lesson_names() -> String {
    LESSONS
        .iter()
        .map(|l| l.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One student folder.
#[derive(Clone, Debug)]
pub struct Student {
    /// The folder's name.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest, or why it has none that works.
    pub manifest: Result<Manifest, String>,
}

impl Student {
    /// The student whose folder is `dir`.
    pub fn load(dir: &Path) -> Student {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let manifest = Manifest::load(&dir);
        Student {
            name,
            dir,
            manifest,
        }
    }

    /// The program to grade for `lesson`, or why there is none.
    pub fn target(&self, lesson: &str) -> Result<Target, String> {
        self.manifest
            .as_ref()
            .map_err(Clone::clone)?
            .target(&self.dir, lesson)
    }

    /// The lessons the student has a program for.
    pub fn lessons(&self) -> Vec<&'static Lesson> {
        self.manifest
            .as_ref()
            .map(Manifest::lessons)
            .unwrap_or_default()
    }
}

/// Every student folder in `class` (its sub-folders not starting with `.`), by name.
pub fn class(dir: &Path) -> Result<Vec<Student>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut folders: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    folders.sort();
    if folders.is_empty() {
        return Err(format!(
            "{} holds no student folders (one folder per student, each with a {MANIFEST})",
            dir.display()
        ));
    }
    Ok(folders.iter().map(|f| Student::load(f)).collect())
}

// ------------------------------------------------------------------------------------------
// Running the checks.

/// One program to grade on one lesson.
#[derive(Debug)]
pub struct Job {
    /// The student, if grading a folder.
    pub student: Option<String>,
    /// The lesson.
    pub lesson: &'static Lesson,
    /// The checks to run (all of the lesson's, or those chosen with `--check`).
    pub checks: Vec<&'static Check>,
    /// The program, or why there is none.
    pub program: Result<Target, String>,
}

/// Run every job's checks, at most `workers` checks at once (across all jobs), and return one
/// scorecard per job, in the jobs' order. `on_done` is called as each scorecard completes (for
/// progress). Each check is bounded by the harness, so this always finishes.
pub fn grade(
    jobs: &[Job],
    workers: usize,
    on_done: &(dyn Fn(&Scorecard) + Sync),
) -> Vec<Scorecard> {
    let units: Vec<(usize, usize)> = jobs
        .iter()
        .enumerate()
        .filter(|(_, job)| job.program.is_ok())
        .flat_map(|(j, job)| (0..job.checks.len()).map(move |c| (j, c)))
        .collect();
    let results: Vec<Mutex<Vec<Option<CheckResult>>>> = jobs
        .iter()
        .map(|job| Mutex::new(vec![None; job.checks.len()]))
        .collect();
    let remaining: Vec<AtomicUsize> = jobs
        .iter()
        .map(|job| AtomicUsize::new(job.checks.len()))
        .collect();
    let finish = |j: usize| -> Scorecard {
        let job = &jobs[j];
        match &job.program {
            Err(problem) => missing(job, problem),
            Ok(target) => {
                let done = results[j].lock().unwrap_or_else(|p| p.into_inner());
                let checks = done.iter().flatten().cloned().collect();
                Scorecard::new(
                    job.student.clone(),
                    job.lesson.name,
                    Some(target.display(&[])),
                    None,
                    checks,
                )
            }
        }
    };
    for (j, job) in jobs.iter().enumerate() {
        if job.program.is_err() || job.checks.is_empty() {
            on_done(&finish(j));
        }
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, units.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(j, c)) = units.get(i) else { break };
                    let job = &jobs[j];
                    let check = job.checks[c];
                    let Ok(target) = &job.program else { continue };
                    let started = Instant::now();
                    let outcome = checks::run(check, target);
                    let millis = started.elapsed().as_millis() as u64;
                    let result = match outcome {
                        Ok(()) => CheckResult::new(check, Status::Pass, millis, None),
                        Err(failure) => CheckResult::new(
                            check,
                            Status::Fail,
                            millis,
                            Some(Evidence::of(&failure)),
                        ),
                    };
                    results[j].lock().unwrap_or_else(|p| p.into_inner())[c] = Some(result);
                    if remaining[j].fetch_sub(1, Ordering::AcqRel) == 1 {
                        on_done(&finish(j));
                    }
                }
            });
        }
    });
    (0..jobs.len()).map(finish).collect()
}

fn missing(job: &Job, problem: &str) -> Scorecard {
    let checks = job
        .checks
        .iter()
        .map(|check| CheckResult::new(check, Status::Missing, 0, None))
        .collect();
    Scorecard::new(
        job.student.clone(),
        job.lesson.name,
        None,
        Some(format!("not graded: {problem}")),
        checks,
    )
}

// ------------------------------------------------------------------------------------------
// Text: the scorecard and the class table.

fn bold(text: &str, colour: bool) -> String {
    if colour {
        text.bold().to_string()
    } else {
        text.to_string()
    }
}

/// The total line of a scorecard: `total: 19/22 points, 13 of 16 checks passed`.
pub fn total_line(earned: u32, possible: u32, passed: usize, checks: usize) -> String {
    format!("total: {earned}/{possible} points, {passed} of {checks} checks passed")
}

/// A scorecard as text: a header, one line per check (✓/✗, points, title), under each failure
/// its evidence and hint, and a total line. `colour`: ANSI colours (for a terminal).
pub fn scorecard(card: &Scorecard, colour: bool) -> String {
    let mut out = String::new();
    let title = match &card.student {
        Some(student) => format!("{} — {student}", card.lesson),
        None => card.lesson.clone(),
    };
    let _ = writeln!(out, "{}", bold(&title, colour));
    if let Some(command) = &card.command {
        let _ = writeln!(out, "  program: {command}");
    }
    if let Some(problem) = &card.problem {
        let problem = if colour {
            problem.red().to_string()
        } else {
            problem.clone()
        };
        let _ = writeln!(out, "  {problem}");
    } else {
        let width = card.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for check in &card.checks {
            let _ = writeln!(
                out,
                "  {} {:<width$}  {:>2}/{:<2} {}",
                check.status.painted(colour),
                check.id,
                check.earned,
                check.points,
                check.title,
            );
            if let Some(evidence) = &check.evidence {
                for line in evidence.lines() {
                    let _ = writeln!(out, "      {line}");
                }
                let hint = if colour {
                    "hint:".yellow().bold().to_string()
                } else {
                    "hint:".to_string()
                };
                let _ = writeln!(out, "      {hint} {}", check.hint);
            }
        }
    }
    let total = total_line(card.earned, card.possible, card.passed, card.checks.len());
    let _ = writeln!(out, "  {}", bold(&total, colour));
    out
}

/// The class table of `lesson`: one row per student, one column per check (numbered, with a
/// legend below), then points and checks passed.
pub fn class_table(cards: &[Scorecard], lesson: &str, colour: bool) -> String {
    let cards: Vec<&Scorecard> = cards.iter().filter(|c| c.lesson == lesson).collect();
    let Some(first) = cards.first() else {
        return String::new();
    };
    let ids: Vec<&str> = first.checks.iter().map(|c| c.id.as_str()).collect();
    let names: Vec<String> = cards
        .iter()
        .map(|c| c.student.clone().unwrap_or_else(|| "(program)".to_string()))
        .collect();
    let name_width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        bold(
            &format!("{lesson}: {} students × {} checks", cards.len(), ids.len()),
            colour
        )
    );
    let mut header = format!("{:<name_width$} ", "student");
    for n in 1..=ids.len() {
        let _ = write!(header, " {n}");
    }
    let _ = writeln!(out, "{header}   points  checks");
    for (card, name) in cards.iter().zip(&names) {
        let mut row = format!("{name:<name_width$} ");
        for (n, id) in ids.iter().enumerate() {
            let status = card
                .checks
                .iter()
                .find(|c| c.id == *id)
                .map_or(Status::Missing, |c| c.status);
            let width = (n + 1).to_string().len();
            let _ = write!(row, " {}{}", " ".repeat(width - 1), status.painted(colour));
        }
        let points = format!("{}/{}", card.earned, card.possible);
        let passed = format!("{}/{}", card.passed, card.checks.len());
        let _ = writeln!(row, "   {points:>6}  {passed:>6}");
        out += &row;
    }
    let _ = writeln!(out);
    for (n, check) in first.checks.iter().enumerate() {
        let unit = if check.points == 1 { "pt" } else { "pts" };
        let _ = writeln!(
            out,
            "  {:>2}  {} ({} {unit})",
            n + 1,
            check.id,
            check.points
        );
    }
    for card in &cards {
        if let Some(problem) = &card.problem {
            let _ = writeln!(
                out,
                "  {}: {problem}",
                card.student.as_deref().unwrap_or("(program)")
            );
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// Machine-readable results.

/// The report as JSON (pretty-printed): what the scorecards show, with the same field names.
pub fn to_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        + "\n"
}

/// The CSV columns, one row per (student, lesson, check).
pub const CSV_HEADER: [&str; 15] = [
    "student", "lesson", "check", "title", "points", "earned", "status", "millis", "reason",
    "command", "sent", "expected", "received", "stderr", "hint",
];

/// The report as CSV (RFC 4180: fields quoted when needed, `"` doubled), one row per check.
/// A check not run has status `missing` and the scorecard's problem as its reason.
pub fn to_csv(report: &Report) -> String {
    let mut out = csv_row(CSV_HEADER.iter().map(|s| s.to_string()));
    for card in &report.scorecards {
        for check in &card.checks {
            let evidence = check.evidence.as_ref();
            let field =
                |f: fn(&Evidence) -> Option<String>| evidence.and_then(f).unwrap_or_default();
            let reason = evidence
                .map(|e| e.reason.clone())
                .or_else(|| card.problem.clone())
                .unwrap_or_default();
            out += &csv_row([
                card.student.clone().unwrap_or_default(),
                card.lesson.clone(),
                check.id.clone(),
                check.title.clone(),
                check.points.to_string(),
                check.earned.to_string(),
                check.status.as_str().to_string(),
                check.millis.to_string(),
                reason,
                field(|e| e.command.clone()),
                field(|e| e.sent.clone()),
                field(|e| e.expected.clone()),
                field(|e| e.received.clone()),
                field(|e| Some(e.stderr.join("\n")).filter(|s| !s.is_empty())),
                check.hint.clone(),
            ]);
        }
    }
    out
}

fn csv_row(fields: impl IntoIterator<Item = String>) -> String {
    let fields: Vec<String> = fields
        .into_iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f
            }
        })
        .collect();
    fields.join(",") + "\r\n"
}

/// Escape text for XML, dropping the control characters XML 1.0 cannot hold.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&apos;",
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The report as JUnit XML, which CI systems and many gradebooks read: one `<testsuite>` per
/// scorecard (`ana/02_echo`), one `<testcase>` per check, a `<failure>` with the evidence and
/// the hint for each failed check (and for each check not run).
pub fn to_junit(report: &Report) -> String {
    let count = |status: Status| -> usize {
        report
            .scorecards
            .iter()
            .flat_map(|c| &c.checks)
            .filter(|c| c.status == status)
            .count()
    };
    let tests: usize = report.scorecards.iter().map(|c| c.checks.len()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"grade\" tests=\"{tests}\" failures=\"{}\">",
        count(Status::Fail) + count(Status::Missing)
    );
    for card in &report.scorecards {
        let failures = card.checks.len() - card.passed;
        let seconds: u64 = card.checks.iter().map(|c| c.millis).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">",
            xml(&card.name()),
            card.checks.len(),
            seconds as f64 / 1000.0
        );
        let class = card.name().replace('/', ".");
        for check in &card.checks {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml(&class),
                xml(&check.id),
                check.millis as f64 / 1000.0
            );
            let (message, body) = match (&check.evidence, &card.problem) {
                (Some(evidence), _) => (evidence.reason.clone(), evidence.lines().join("\n")),
                (None, Some(problem)) if check.status == Status::Missing => {
                    (problem.clone(), problem.clone())
                }
                _ => {
                    let _ = writeln!(out, "/>");
                    continue;
                }
            };
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\">{}\nhint: {}</failure>\n    </testcase>",
                xml(&message),
                xml(&body),
                xml(&check.hint)
            );
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out += "</testsuites>\n";
    out
}

/// A lesson's checks as a Markdown table: id, points, what it checks (`grade --list`).
pub fn checks_table(lesson: &Lesson) -> String {
    let mut out = String::from("| check | points | what it checks |\n|---|---:|---|\n");
    for check in lesson.checks {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            check.id,
            check.points,
            check.title.replace('|', "\\|")
        );
    }
    out
}

// ------------------------------------------------------------------------------------------
// Nothing outlives the grader.

/// Nothing the grader started outlives it.
///
/// Each program under test runs in a process group of its own, which the harness kills when the
/// check ends (children included). A program can still escape: a child that calls `setsid()`
/// (a daemon) leaves the group. On Linux the grader makes itself a *child subreaper*
/// ([`adopt_orphans`](reaper::adopt_orphans)): an escaped process whose parent dies is
/// re-parented to the grader instead of to init. Once every check is done, whatever is still the
/// grader's child escaped, and [`sweep_all`](reaper::sweep_all) kills and reaps it. (Not before:
/// an escaped server may still be serving its check, exactly as it would under `cargo test`.)
pub mod reaper {
    use crate::checker::harness;

    /// Ask Linux to re-parent orphaned descendants to this process (`PR_SET_CHILD_SUBREAPER`).
    /// Returns whether that worked (elsewhere: false, and escapes are not caught).
    pub fn adopt_orphans() -> bool {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes plain integers and touches no memory.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    /// The pids of this process's children, from `/proc/PID/stat` (Linux).
    pub fn children() -> Vec<i32> {
        let me = std::process::id() as i32;
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|stat| parent(&stat))
                    == Some(me)
            })
            .collect()
    }

    /// The parent pid in a `/proc/PID/stat` line (`pid (comm) state ppid …`; comm may hold
    /// spaces and parentheses, so parse after the last `)`).
    pub fn parent(stat: &str) -> Option<i32> {
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(1)?.parse().ok()
    }

    /// Kill and reap every child of this process that is not a program under test still in the
    /// harness's hands (all of them, with `everything`). `wait`: block until each is reaped
    /// (else reap only those already dead). Returns how many it found.
    ///
    /// Call it only when no check is running: a check may start a program the harness does not
    /// track, and it would be taken for a stray.
    pub fn sweep(everything: bool, wait: bool) -> usize {
        let found = children();
        // Read the live groups *after* listing: the harness spawns and registers under one
        // lock, so every harness child we listed is registered by now.
        let live = if everything {
            Vec::new()
        } else {
            harness::live_process_groups()
        };
        let mut swept = 0;
        for pid in found {
            if live.contains(&(pid as u32)) {
                continue;
            }
            swept += 1;
            // SAFETY: kill(2) and waitpid(2) on our own child; no memory is shared.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                let mut status = 0;
                libc::waitpid(pid, &mut status, if wait { 0 } else { libc::WNOHANG });
            }
        }
        swept
    }

    /// Sweep until no stray child is left (each round may orphan the children of the last).
    pub fn sweep_all(everything: bool) {
        for _ in 0..100 {
            if sweep(everything, true) == 0 {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing_check() -> &'static Check {
        checks::l02_echo::LESSON
            .check("server_echoes_bytes")
            .unwrap()
    }

    fn sample() -> Report {
        let lesson = &checks::l02_echo::LESSON;
        let pass = CheckResult::new(&lesson.checks[0], Status::Pass, 12, None);
        let failure = Failure::new("the echo differs, at byte 1024")
            .command("python3 \"my echo.py\" server --port 0 -q")
            .sent(vec![b'a'; 300])
            .expected("the same 1030 bytes")
            .received(b"a,\"b\"\n\x1b".to_vec())
            .stderr(
                (1..=10)
                    .map(|n| format!("line {n}\n"))
                    .collect::<String>()
                    .into_bytes(),
            );
        let fail = CheckResult::new(
            failing_check(),
            Status::Fail,
            5000,
            Some(Evidence::of(&failure)),
        );
        let graded = Scorecard::new(
            Some("ana".into()),
            lesson.name,
            Some("python3 echo.py".into()),
            None,
            vec![pass, fail],
        );
        let job = Job {
            student: Some("ben".into()),
            lesson,
            checks: vec![&lesson.checks[0], failing_check()],
            program: Err("run.toml has no line for 02_echo".into()),
        };
        Report::new(vec![
            graded,
            missing(&job, "run.toml has no line for 02_echo"),
        ])
    }

    #[test]
    fn scorecards_show_marks_points_evidence_hint_and_total() {
        let report = sample();
        let text = scorecard(&report.scorecards[0], false);
        for part in [
            "02_echo — ana",
            "  program: python3 echo.py",
            "  ✓ demo_exits_zero",
            "  ✗ server_echoes_bytes",
            " 0/3 ",
            "      the echo differs, at byte 1024",
            "      command:  python3 \"my echo.py\"",
            "(300 bytes)",
            "      received: b\"a,\\\"b\\\"\\n\\x1b\"",
            "stderr:   (last 8 of 10 lines)",
            "  | line 10",
            "      hint: lessons/02_echo.md#",
            "total: 1/4 points, 1 of 2 checks passed",
        ] {
            assert!(text.contains(part), "`{part}` missing from:\n{text}");
        }
        assert!(
            !text.contains("| line 2\n"),
            "only the tail of stderr:\n{text}"
        );
        assert!(!text.contains('\x1b'), "no colour unless asked:\n{text}");
        let missing = scorecard(&report.scorecards[1], false);
        assert!(
            missing.contains("not graded: run.toml has no line"),
            "{missing}"
        );
        assert!(
            missing.contains("total: 0/4 points, 0 of 2 checks passed"),
            "{missing}"
        );
    }

    #[test]
    fn reports_total_over_scorecards() {
        let report = sample();
        assert!(!report.all_passed);
        assert_eq!((report.earned, report.possible), (1, 8));
        assert!(!report.scorecards[1].all_passed());
    }

    #[test]
    fn class_tables_have_a_row_per_student_and_a_legend() {
        let report = sample();
        let table = class_table(&report.scorecards, "02_echo", false);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "02_echo: 2 students × 2 checks");
        assert!(lines[1].starts_with("student  1 2"), "{table}");
        assert!(lines[2].starts_with("ana      ✓ ✗"), "{table}");
        assert!(lines[2].ends_with("1/4     1/2"), "{table}");
        assert!(lines[3].starts_with("ben      · ·"), "{table}");
        assert!(
            table.contains("   2  server_echoes_bytes (3 pts)"),
            "{table}"
        );
        assert!(
            table.contains("ben: not graded: run.toml has no line"),
            "{table}"
        );
    }

    #[test]
    fn json_round_trips() {
        let report = sample();
        let back: Report = serde_json::from_str(&to_json(&report)).unwrap();
        assert_eq!(back, report);
        let value: serde_json::Value = serde_json::from_str(&to_json(&report)).unwrap();
        assert_eq!(value["scorecards"][0]["checks"][1]["status"], "fail");
        assert_eq!(value["scorecards"][1]["checks"][0]["status"], "missing");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let csv = to_csv(&sample());
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
    fn junit_escapes_and_counts() {
        let xml = to_junit(&sample());
        assert!(
            xml.contains("<testsuites name=\"grade\" tests=\"4\" failures=\"3\">"),
            "{xml}"
        );
        assert!(
            xml.contains("<testsuite name=\"ana/02_echo\" tests=\"2\" failures=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("name=\"demo_exits_zero\" time=\"0.012\"/>"),
            "{xml}"
        );
        assert!(xml.contains("&quot;my echo.py&quot;"), "{xml}");
        assert!(xml.contains("hint: lessons/02_echo.md"), "{xml}");
        assert!(!xml.contains('\x1b'));
    }

    #[test]
    fn lessons_are_found_by_name_number_or_topic() {
        for name in ["02_echo", "02", "2", "echo"] {
            assert_eq!(find_lesson(name).map(|l| l.name), Some("02_echo"), "{name}");
        }
        assert_eq!(find_lesson("07").map(|l| l.name), Some("07_event_loop"));
        assert!(find_lesson("99").is_none());
        assert!(find_lesson("").is_none());
    }

    #[test]
    fn manifests_name_lessons_and_commands() {
        let ok = Manifest::parse(
            "# ana\n01_time_server = \"python3 time.py\"\n02_echo = 'python3 \"my echo.py\"'\n",
        )
        .unwrap();
        assert_eq!(ok["02_echo"], "python3 \"my echo.py\"");
        let typo = Manifest::parse("02-echo = \"python3 echo.py\"").unwrap_err();
        assert!(typo.contains("`02-echo` is not a lesson"), "{typo}");
        let number = Manifest::parse("02_echo = 2").unwrap_err();
        assert!(number.contains("in quotes"), "{number}");
        let broken = Manifest::parse("02_echo = \"python3").unwrap_err();
        assert!(broken.starts_with("run.toml:"), "{broken}");
    }

    #[test]
    fn manifest_paths_are_relative_to_the_student_folder() {
        let dir = std::env::temp_dir().join(format!("grade-unit-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("echo.py"), "").unwrap();
        let manifest = Manifest::Commands(BTreeMap::from([(
            "02_echo".to_string(),
            "python3 -u echo.py --upper bin/echo".to_string(),
        )]));
        let target = manifest.target(&dir, "02_echo").unwrap();
        let argv = target.argv();
        assert_eq!(argv[0], "python3", "a program on PATH stays as is");
        assert_eq!(argv[1], "-u");
        assert!(
            Path::new(&argv[2]).is_absolute() && argv[2].ends_with("/echo.py"),
            "{argv:?}"
        );
        assert_eq!(argv[3], "--upper");
        assert_eq!(argv[4], "bin/echo", "not a file: left alone");
        let missing = manifest.target(&dir, "01_time_server").unwrap_err();
        assert_eq!(missing, "run.toml has no line for 01_time_server");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn markdown_tables_list_every_check() {
        let table = checks_table(&checks::l02_echo::LESSON);
        assert!(table.starts_with("| check | points | what it checks |\n|---|---:|---|\n"));
        assert_eq!(
            table.lines().count(),
            2 + checks::l02_echo::LESSON.checks.len()
        );
        assert!(table.contains("| `server_echoes_bytes` | 3 | "), "{table}");
    }

    #[test]
    fn proc_stat_parents_parse_past_odd_names() {
        assert_eq!(reaper::parent("42 (a) b (c)) S 7 42 42 0"), Some(7));
        assert_eq!(reaper::parent("garbage"), None);
    }
}
