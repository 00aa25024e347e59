//! Running the checks: [`grade`] runs every [`Job`]'s checks, a few at a time, into
//! [`Scorecard`]s. The checks are the very functions `cargo test` runs, and each one is bounded by
//! the harness (timeouts, kill-on-drop), so grading always finishes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::model::{CheckResult, Evidence, Scorecard, Status};
use crate::checker::checks::{self, Check, Lesson};
use crate::checker::harness::Target;
use crate::checker::harness::preflight;

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
    // First, whether each program starts at all: one that does not scores 0 with one line.
    let programs = preflight_all(jobs, workers);
    let units: Vec<(usize, usize)> = jobs
        .iter()
        .enumerate()
        .filter(|&(j, _)| programs[j].is_ok())
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
        match &programs[j] {
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
        if programs[j].is_err() || job.checks.is_empty() {
            on_done(&finish(j));
        }
    }
    in_parallel(units.len(), workers, |i| {
        let (j, c) = units[i];
        let job = &jobs[j];
        let check = job.checks[c];
        let Ok(target) = programs[j] else { return };
        let started = Instant::now();
        let outcome = checks::run(check, target);
        let millis = started.elapsed().as_millis() as u64;
        let result = match outcome {
            Ok(()) => CheckResult::new(check, Status::Pass, millis, None),
            Err(failure) => {
                CheckResult::new(check, Status::Fail, millis, Some(Evidence::of(&failure)))
            }
        };
        results[j].lock().unwrap_or_else(|p| p.into_inner())[c] = Some(result);
        if remaining[j].fetch_sub(1, Ordering::AcqRel) == 1 {
            on_done(&finish(j));
        }
    });
    (0..jobs.len()).map(finish).collect()
}

/// Each job's program if it starts ([`preflight::starts`]), else why not; at most `workers`
/// programs probed at once.
fn preflight_all(jobs: &[Job], workers: usize) -> Vec<Result<&Target, String>> {
    let verdicts: Vec<Mutex<Option<Result<(), String>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    in_parallel(jobs.len(), workers, |j| {
        let job = &jobs[j];
        if let Ok(target) = &job.program
            && !job.checks.is_empty()
        {
            let verdict = preflight::starts(target);
            *verdicts[j].lock().unwrap_or_else(|p| p.into_inner()) = Some(verdict);
        }
    });
    jobs.iter()
        .zip(verdicts)
        .map(|(job, verdict)| {
            let target = job.program.as_ref().map_err(Clone::clone)?;
            match verdict.into_inner().unwrap_or_else(|p| p.into_inner()) {
                Some(Err(problem)) => Err(problem),
                _ => Ok(target),
            }
        })
        .collect()
}

/// Call `each(i)` for every `i` in `0..count`, on at most `workers` threads at once.
fn in_parallel(count: usize, workers: usize, each: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, count.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    each(i);
                }
            });
        }
    });
}

/// The scorecard of a job that could not run: every check `missing`, and why.
pub(super) fn missing(job: &Job, problem: &str) -> Scorecard {
    let checks = job
        .checks
        .iter()
        .map(|check| CheckResult::new(check, Status::Missing, 0, None))
        .collect();
    Scorecard::new(
        job.student.clone(),
        job.lesson.name,
        None,
        Some(if problem.starts_with("did not start") {
            problem.to_string()
        } else {
            format!("not graded: {problem}")
        }),
        checks,
    )
}
