//! Running the checks: [`grade`] runs every [`Job`]'s checks, a few at a time, into
//! [`Scorecard`]s. The checks are the very functions `cargo test` runs, and each one is bounded by
//! the harness (timeouts, kill-on-drop), so grading always finishes; the whole run may have a
//! bound too (`--time-limit`), after which every program still running is killed and what was
//! not finished is reported as such.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::model::{CheckResult, Evidence, Scorecard, Status};
use crate::checker::checks::{self, Check, Lesson};
use crate::checker::harness::{self, Target, preflight};

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

/// What [`grade`] found: one scorecard per job, in the jobs' order, and whether the run's time
/// limit ran out (then some scorecards say `not finished`).
pub struct Graded {
    pub scorecards: Vec<Scorecard>,
    pub out_of_time: bool,
}

/// Run every job's checks, at most `workers` checks at once (across all jobs), and return one
/// scorecard per job, in the jobs' order. `on_done(j, card)` is called as the scorecard of job `j`
/// completes (for progress, and to keep results as they come). Each check is bounded by the
/// harness, so this always finishes; with a `time_limit`, by then: every program still running
/// is killed, no check starts any more, and the checks not finished are shown as not run, their
/// scorecard saying why.
pub fn grade(
    jobs: &[Job],
    workers: usize,
    time_limit: Option<Duration>,
    on_done: &(dyn Fn(usize, &Scorecard) + Sync),
) -> Graded {
    let out_of_time = AtomicBool::new(false);
    let (finished, wait) = mpsc::channel::<()>();
    let scorecards = std::thread::scope(|scope| {
        if let Some(limit) = time_limit {
            let out_of_time = &out_of_time;
            // Waits for an event (grading finished: the sender is dropped) with the time limit
            // as its deadline; only if the deadline comes first does it stop the run.
            scope.spawn(move || {
                if wait.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
                    out_of_time.store(true, Ordering::SeqCst);
                    // Every program under test dies, and no new one may start: each check
                    // still running ends at once, on its program's end.
                    harness::kill_all();
                }
            });
        }
        let why = time_limit.map(|limit| {
            format!(
                "not finished: the run's time limit ({}) ran out",
                in_words(limit)
            )
        });
        let scorecards = grade_until(jobs, workers, &out_of_time, why.as_deref(), on_done);
        drop(finished);
        scorecards
    });
    Graded {
        scorecards,
        out_of_time: out_of_time.into_inner(),
    }
}

/// [`grade`], stopping when `stop` is set: a job whose checks did not all finish by then gets
/// the scorecard problem `why`.
fn grade_until(
    jobs: &[Job],
    workers: usize,
    stop: &AtomicBool,
    why: Option<&str>,
    on_done: &(dyn Fn(usize, &Scorecard) + Sync),
) -> Vec<Scorecard> {
    let stopped = || stop.load(Ordering::SeqCst);
    // First, whether each program starts at all: one that does not scores 0 with one line.
    let programs = preflight_all(jobs, workers, stop);
    let units: Vec<(usize, usize)> = jobs
        .iter()
        .enumerate()
        .filter(|&(j, _)| matches!(programs[j], Some(Ok(_))))
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
    let why = why.unwrap_or("not finished");
    let finish = |j: usize| -> Scorecard {
        let job = &jobs[j];
        match &programs[j] {
            None => unfinished(job, why),
            Some(Err(problem)) => missing(job, problem),
            Some(Ok(target)) => {
                let done = results[j].lock().unwrap_or_else(|p| p.into_inner());
                // A check without a result was not run, or was cut short, by the time limit.
                let cut = done.iter().any(Option::is_none);
                let checks = done
                    .iter()
                    .zip(&job.checks)
                    .map(|(result, check)| {
                        result
                            .clone()
                            .unwrap_or_else(|| CheckResult::new(check, Status::Missing, 0, None))
                    })
                    .collect();
                Scorecard::new(
                    job.student.clone(),
                    job.lesson.name,
                    Some(target.display(&[])),
                    cut.then(|| why.to_string()),
                    checks,
                )
            }
        }
    };
    for (j, job) in jobs.iter().enumerate() {
        if matches!(programs[j], Some(Err(_))) || job.checks.is_empty() {
            on_done(j, &finish(j));
        }
    }
    in_parallel(units.len(), workers, |i| {
        let (j, c) = units[i];
        let job = &jobs[j];
        let check = job.checks[c];
        let Some(Ok(target)) = programs[j] else {
            return;
        };
        if stopped() {
            return;
        }
        let started = Instant::now();
        let outcome = checks::run(check, target);
        // Once the time limit has run out, a check may have failed only because its program was
        // killed: its verdict is not kept (the check shows as not finished).
        if stopped() {
            return;
        }
        let millis = started.elapsed().as_millis() as u64;
        let result = match outcome {
            Ok(()) => CheckResult::new(check, Status::Pass, millis, None),
            Err(failure) => {
                CheckResult::new(check, Status::Fail, millis, Some(Evidence::of(&failure)))
            }
        };
        results[j].lock().unwrap_or_else(|p| p.into_inner())[c] = Some(result);
        if remaining[j].fetch_sub(1, Ordering::AcqRel) == 1 {
            on_done(j, &finish(j));
        }
    });
    (0..jobs.len()).map(finish).collect()
}

/// Each job's program if it starts ([`preflight::starts`]), else why not; `None` for a program
/// not probed, or probed too late, before `stop` was set. At most `workers` programs probed at
/// once.
fn preflight_all<'a>(
    jobs: &'a [Job],
    workers: usize,
    stop: &AtomicBool,
) -> Vec<Option<Result<&'a Target, String>>> {
    let verdicts: Vec<Mutex<Option<Result<(), String>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    in_parallel(jobs.len(), workers, |j| {
        let job = &jobs[j];
        if let Ok(target) = &job.program
            && !job.checks.is_empty()
            && !stop.load(Ordering::SeqCst)
        {
            let verdict = preflight::starts(target);
            // A program killed by the time limit would look as if it did not start.
            if !stop.load(Ordering::SeqCst) {
                *verdicts[j].lock().unwrap_or_else(|p| p.into_inner()) = Some(verdict);
            }
        }
    });
    jobs.iter()
        .zip(verdicts)
        .map(|(job, verdict)| {
            let target = match &job.program {
                Err(problem) => return Some(Err(problem.clone())),
                Ok(target) => target,
            };
            match verdict.into_inner().unwrap_or_else(|p| p.into_inner()) {
                Some(Err(problem)) => Some(Err(problem)),
                Some(Ok(())) => Some(Ok(target)),
                None if job.checks.is_empty() => Some(Ok(target)),
                None => None,
            }
        })
        .collect()
}

/// A time limit in words: `90 s`, `30 min`, `2 h`.
pub fn in_words(limit: Duration) -> String {
    let secs = limit.as_secs();
    if secs >= 3600 && secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{} s", limit.as_secs_f64())
    }
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
    let problem = if problem.starts_with("did not start") {
        problem.to_string()
    } else {
        format!("not graded: {problem}")
    };
    not_run(job, None, problem)
}

/// The scorecard of a job whose checks had not started when grading stopped (`why`).
pub(super) fn unfinished(job: &Job, why: &str) -> Scorecard {
    let command = job.program.as_ref().ok().map(|t| t.display(&[]));
    not_run(job, command, why.to_string())
}

/// A scorecard with every check of `job` not run, and `problem` saying why.
fn not_run(job: &Job, command: Option<String>, problem: String) -> Scorecard {
    let checks = job
        .checks
        .iter()
        .map(|check| CheckResult::new(check, Status::Missing, 0, None))
        .collect();
    Scorecard::new(
        job.student.clone(),
        job.lesson.name,
        command,
        Some(problem),
        checks,
    )
}
