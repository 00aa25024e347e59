//! Who is graded on what: the lesson named (or `all`), the programs — one command, a student
//! folder, or a class of them — and the checks (`--check`), as [`Job`]s.

use std::path::Path;

use super::{Cli, Stop};
use crate::checker::checks::{Check, LESSONS, Lesson};
use crate::checker::grade::{self, Job, Student};
use crate::checker::harness::Target;

/// The jobs the command line names, for the lesson `selector` (a name, a number, or `all`).
pub fn jobs(cli: &Cli, selector: &str) -> Result<Vec<Job>, Stop> {
    let all = selector == "all";
    let named = if all {
        None
    } else {
        Some(lesson_named(selector)?)
    };
    if let Some(lesson) = named.filter(|l| l.checks.is_empty()) {
        return Err(Stop::Usage(
            format!("{} has no checks yet", lesson.name),
            "its checks are being written; grade another lesson".into(),
        ));
    }
    let mut jobs = if !cli.command.is_empty() {
        of_command(&cli.command, named)?
    } else if let Some(dir) = &cli.student {
        of_student(dir, named)?
    } else if let Some(dir) = &cli.class {
        of_class(dir, named)?
    } else {
        return Err(Stop::Usage(
            "what should be graded?".into(),
            "give the program after `--` (grade 02_echo -- python3 echo.py), or --student DIR, \
             or --class DIR"
                .into(),
        ));
    };
    // Lessons without checks (still being written) are skipped under `all`.
    if all {
        for lesson in LESSONS.iter().filter(|l| l.checks.is_empty()) {
            if jobs.iter().any(|j| j.lesson.name == lesson.name) {
                eprintln!("note: {} has no checks yet; skipped", lesson.name);
            }
        }
    }
    jobs.retain(|job| !job.lesson.checks.is_empty());
    if !cli.checks.is_empty() {
        keep_only(&mut jobs, &cli.checks)?;
    }
    if jobs.is_empty() {
        return Err(Stop::Failed(
            "nothing to grade".into(),
            "the student folder's run.toml names no lesson with checks".into(),
        ));
    }
    Ok(jobs)
}

/// The lesson with this name or number, or a usage error that lists them.
pub fn lesson_named(name: &str) -> Result<&'static Lesson, Stop> {
    grade::find_lesson(name).ok_or_else(|| {
        let names: Vec<&str> = LESSONS.iter().map(|l| l.name).collect();
        Stop::Usage(
            format!("unknown lesson `{name}`"),
            format!("the lessons are {}, or `all`", names.join(", ")),
        )
    })
}

/// `grade LESSON -- COMMAND`: one program, on one named lesson.
fn of_command(command: &[String], named: Option<&'static Lesson>) -> Result<Vec<Job>, Stop> {
    let Some(lesson) = named else {
        return Err(Stop::Usage(
            "`all` needs a student folder, not one command".into(),
            "name the lesson (grade 02_echo -- COMMAND), or use --student DIR with a run.toml"
                .into(),
        ));
    };
    Ok(vec![job(None, lesson, Ok(Target::new(command.to_vec())))])
}

/// `--student DIR`: the lesson named, or every lesson the folder's run.toml has.
fn of_student(dir: &Path, named: Option<&'static Lesson>) -> Result<Vec<Job>, Stop> {
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
    Ok(lessons
        .into_iter()
        .map(|lesson| {
            job(
                Some(student.name.clone()),
                lesson,
                student.target(lesson.name),
            )
        })
        .collect())
}

/// `--class DIR`: every student, on the lesson named or on every lesson any of them has; one
/// lesson after another, each for the whole class.
fn of_class(dir: &Path, named: Option<&'static Lesson>) -> Result<Vec<Job>, Stop> {
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
    let mut jobs = Vec::new();
    for lesson in lessons {
        for student in &class {
            jobs.push(job(
                Some(student.name.clone()),
                lesson,
                student.target(lesson.name),
            ));
        }
    }
    Ok(jobs)
}

/// `--check ID…`: only the checks named, in the jobs that have them; an id no job has is a
/// usage error.
fn keep_only(jobs: &mut Vec<Job>, ids: &[String]) -> Result<(), Stop> {
    for id in ids {
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
    for job in jobs.iter_mut() {
        job.checks.retain(|c| ids.iter().any(|id| id == c.id));
    }
    jobs.retain(|job| !job.checks.is_empty());
    Ok(())
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
