//! Results kept as each program finishes, so that a class run stopped by anything keeps them.
//!
//! Every scorecard is kept here the moment its last check ends. With `--output FILE`, FILE is
//! then written again whole, in its `--format` ([`output::write`]: a new file renamed into
//! place), so it always holds one complete document: every program finished so far, and the
//! others as stand-ins saying `not finished`. A signal, the time limit, a SIGKILL or a power cut
//! leaves every finished result on disk; a signal also prints them ([`on_signal`]).
//!
//! Writing the whole file each time costs a render per program graded — milliseconds for a
//! class, small beside the seconds each program's checks take — and keeps FILE in the format
//! the teacher asked for at every moment, rather than in a journal to be converted.

use std::path::PathBuf;
use std::sync::Mutex;

use super::results::{render, text_report};
use super::{Cli, Format, output};
use crate::checker::grade::{Job, Report, Scorecard, run};

/// What a stand-in says in FILE while grading runs (and after a SIGKILL).
pub const STILL_GRADING: &str = "not finished: still being graded when this file was written";

/// How the results kept are shown: from the command line.
pub struct Keep {
    /// `--output FILE`, in `--format`.
    pub output: Option<(PathBuf, Format)>,
    /// `--class`: print the class tables.
    pub class_mode: bool,
    /// `--summary`: the class tables only.
    pub summary: bool,
    /// Colour on stdout.
    pub colour: bool,
}

impl Keep {
    pub fn of(cli: &Cli, colour: bool) -> Keep {
        Keep {
            output: cli.output.clone().map(|file| (file, cli.format)),
            class_mode: cli.class.is_some(),
            summary: cli.summary,
            colour,
        }
    }
}

/// The run's results so far.
struct Kept {
    /// One per job, in the jobs' order: its scorecard once finished, else a stand-in.
    cards: Vec<Scorecard>,
    /// Which of `cards` are finished.
    finished: Vec<bool>,
    keep: Keep,
    /// Whether a write of FILE failed already (said once, not for every program).
    write_failed: bool,
}

static KEPT: Mutex<Option<Kept>> = Mutex::new(None);

fn kept() -> std::sync::MutexGuard<'static, Option<Kept>> {
    KEPT.lock().unwrap_or_else(|p| p.into_inner())
}

/// A new run of `jobs` starts (`--watch` starts one per round): nothing finished yet; FILE is
/// written at once, every program in it not finished.
pub fn start(jobs: &[Job], keep: Keep) {
    let mut kept = kept();
    let mut new = Kept {
        cards: jobs
            .iter()
            .map(|job| run::unfinished(job, STILL_GRADING))
            .collect(),
        finished: vec![false; jobs.len()],
        keep,
        write_failed: false,
    };
    new.write();
    *kept = Some(new);
}

/// Keep `card`, job `j`'s scorecard, and write FILE again. Returns false, keeping nothing, once a
/// signal has come: a check ending then may have failed only because its program was killed.
pub fn finished(j: usize, card: &Scorecard) -> bool {
    let mut kept = kept();
    if super::signals::stopping() {
        return false;
    }
    let Some(kept) = kept.as_mut() else {
        return false;
    };
    kept.cards[j] = card.clone();
    kept.finished[j] = true;
    kept.write();
    true
}

/// A signal stops grading: write FILE one last time, the programs not finished saying so, and
/// print the scorecards finished (unless `--summary`) and the class tables. Holds the lock to the
/// end, so no later result can slip in.
pub fn on_signal(signal: i32) {
    let mut kept = kept();
    let Some(kept) = kept.as_mut() else {
        return;
    };
    let why = format!("not finished: grade was stopped by signal {signal}");
    for (card, &done) in kept.cards.iter_mut().zip(&kept.finished) {
        if !done {
            card.problem = Some(why.clone());
        }
    }
    kept.write();
    if !kept.finished.iter().any(|&done| done) {
        return;
    }
    let report = Report::new(kept.cards.clone());
    let cards_too = !(kept.keep.class_mode && kept.keep.summary);
    let text = text_report(
        &report,
        kept.keep.class_mode,
        &|i| cards_too && kept.finished[i],
        kept.keep.colour,
    );
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "graded before the signal:");
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

impl Kept {
    /// Write FILE (if any) with every card kept; a failure is said once on stderr, and grading
    /// goes on (the final write reports it as an error).
    fn write(&mut self) {
        let Some((file, format)) = &self.keep.output else {
            return;
        };
        let report = Report::new(self.cards.clone());
        let content = match render(&report, *format) {
            Ok(Some(machine)) => machine,
            Ok(None) => text_report(&report, self.keep.class_mode, &|_| true, false),
            Err(_) => return,
        };
        if output::write(file, &content).is_err() && !self.write_failed {
            self.write_failed = true;
            eprintln!(
                "warning: cannot write {} as programs finish; grading goes on",
                file.display()
            );
        }
    }
}
