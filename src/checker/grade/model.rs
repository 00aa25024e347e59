//! What a grading run produces: a [`Report`] of [`Scorecard`]s, one per program and lesson, each
//! a list of [`CheckResult`]s with the [`Evidence`] of every failure. Every renderer (text, JSON,
//! CSV, JUnit) works from this one model, so they always say the same thing.

use serde::{Deserialize, Serialize};

use super::escape;
use crate::checker::checks::Check;
pub use crate::checker::evidence::SHOW_LINE_CHARS;
use crate::checker::evidence::{Failure, SHOW_TEXT_CHARS, cap_text};
use crate::kit::narrate::show_bytes;

/// How many bytes of sent/received data a scorecard shows (escaped, that is up to four times as
/// many characters).
pub const SHOW_BYTES: usize = 80;
/// How many of the program's last stderr lines a scorecard shows.
pub const SHOW_STDERR_LINES: usize = 8;

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
    /// For a client check: what the test's own server received from the client (escaped,
    /// truncated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_saw: Option<String>,
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
                    .map(|l| escape::clean(&l.chars().take(SHOW_LINE_CHARS).collect::<String>()))
                    .collect();
                (tail, lines.len())
            }
            _ => (Vec::new(), 0),
        };
        // Every field a program can put text in is shown escaped (`escape`): no control or
        // format character reaches a report, and the reason cannot begin with a verdict.
        let text = |t: &String| escape::clean(&cap_text(t, SHOW_TEXT_CHARS));
        let bytes = |b: &Vec<u8>| show_bytes(b, SHOW_BYTES);
        Evidence {
            reason: escape::line_start(&cap_text(&failure.reason, SHOW_TEXT_CHARS)),
            command: failure.command.as_ref().map(text),
            sent: failure.sent.as_ref().map(bytes),
            expected: failure.expected.as_ref().map(text),
            received: failure.received.as_ref().map(bytes),
            server_saw: failure.server_saw.as_ref().map(bytes),
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
        field("server saw:", &self.server_saw);
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
    pub(super) fn new(
        check: &Check,
        status: Status,
        millis: u64,
        evidence: Option<Evidence>,
    ) -> Self {
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
    pub(super) fn new(
        student: Option<String>,
        lesson: &str,
        command: Option<String>,
        problem: Option<String>,
        checks: Vec<CheckResult>,
    ) -> Scorecard {
        // A folder's name, a run.toml's command and a program's first words (in `problem`) are
        // the student's text: shown escaped.
        Scorecard {
            student: student.as_deref().map(escape::clean),
            lesson: lesson.to_string(),
            command: command.as_deref().map(escape::clean),
            problem: problem.as_deref().map(escape::line_start),
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::checker::checks;
    use crate::checker::grade::run::{Job, missing};

    fn failing_check() -> &'static Check {
        checks::l02_echo::LESSON
            .check("server_echoes_bytes")
            .unwrap()
    }

    /// A report with what each renderer must get right: ana graded (a pass, and a failure whose
    /// evidence holds quotes, commas, newlines, an escape and a long stderr), ben not graded.
    pub(in crate::checker::grade) fn sample() -> Report {
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

    /// A report of what a hostile class prints and is called: every text field a program or a
    /// folder can set holds terminal escapes, a `\r` that redraws a line, fake verdicts, bidi
    /// overrides and a formula.
    pub(in crate::checker::grade) fn hostile() -> Report {
        use crate::checker::grade::escape::HOSTILE;
        let lesson = &checks::l02_echo::LESSON;
        let failure = Failure::new(format!("✓ {HOSTILE}"))
            .command(&format!("python3 {HOSTILE}"))
            .sent(HOSTILE.as_bytes().to_vec())
            .expected(format!("=HYPERLINK(\"http://evil\",\"{HOSTILE}\")"))
            .received(HOSTILE.as_bytes().to_vec())
            .stderr(
                format!("{HOSTILE}\n=HYPERLINK(\"x\")\n✓ server_echoes_bytes 3/3\n").into_bytes(),
            );
        let fail = CheckResult::new(
            failing_check(),
            Status::Fail,
            5000,
            Some(Evidence::of(&failure)),
        );
        let graded = Scorecard::new(
            Some(format!("eve      ✓ ✓ {HOSTILE}")),
            lesson.name,
            Some(format!("@python3 {HOSTILE}")),
            None,
            vec![fail],
        );
        let job = Job {
            student: Some(format!("=mal\r{HOSTILE}")),
            lesson,
            checks: vec![failing_check()],
            program: Err(String::new()),
        };
        Report::new(vec![
            graded,
            missing(&job, &format!("did not start: {HOSTILE}")),
        ])
    }

    #[test]
    fn reports_total_over_scorecards() {
        let report = sample();
        assert!(!report.all_passed);
        assert_eq!((report.earned, report.possible), (1, 8));
        assert!(!report.scorecards[1].all_passed());
    }
}
