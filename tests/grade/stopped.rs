//! One student cannot take the class down: a class run stopped mid-way — by SIGTERM, by
//! SIGKILL, or by its own time limit — keeps the results of every student finished, and says
//! which were not. The student who holds the class up is `grade_misbehaves.py never_answers`:
//! it listens and accepts, but never answers or exits, so each of its checks waits out its own
//! timeout.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use workbook::checker::harness::scaled;

use crate::support::*;

/// A class of three: ann and bob (correct echo servers, graded first: folders go in name
/// order), and zed, who never answers. Kills whatever is left with its marker when dropped.
struct Class {
    dir: PathBuf,
    marker: String,
}

impl Class {
    fn new(name: &str, students: &[&str]) -> Class {
        let dir = temp_dir(name);
        let marker = marker(name);
        for student in students {
            let folder = dir.join("class").join(student);
            std::fs::create_dir_all(&folder).unwrap();
            let command = if *student == "zed" {
                format!(
                    "python3 {} never_answers {marker}",
                    fixture("grade_misbehaves.py")
                )
            } else {
                env!("CARGO_BIN_EXE_02_echo").to_string()
            };
            std::fs::write(folder.join("run.toml"), format!("02_echo = {command:?}\n")).unwrap();
        }
        Class { dir, marker }
    }

    fn class(&self) -> String {
        self.dir.join("class").display().to_string()
    }

    fn output(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// `grade 02_echo --class CLASS ARGS…`, its stdout and stderr piped.
    fn spawn(&self, args: &[&str]) -> Running {
        let child = Command::new(env!("CARGO_BIN_EXE_grade"))
            .current_dir(root())
            .args(["02_echo", "--class", &self.class(), "--jobs", "2"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("grade starts");
        Running::new(child)
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        // After a SIGKILL of grade, zed's server is still running: end it here.
        for line in leftovers(&self.marker) {
            if let Some(pid) = line.split_whitespace().next().and_then(|p| p.parse().ok()) {
                // SAFETY: kill(2); the pid was just read from /proc with our marker.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `grade`: its stderr read line by line in a thread (so a test can wait for a
/// progress line); killed when dropped.
struct Running {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    stderr: String,
}

impl Running {
    fn new(mut child: Child) -> Running {
        let (send, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child: Some(child),
            lines,
            stderr: String::new(),
        }
    }

    /// Wait for the progress line `grade` prints on stderr as each of `students` finishes
    /// (bounded: an event each, with one deadline for all).
    fn wait_for_finished(&mut self, students: &[&str]) {
        let deadline = Instant::now() + scaled(Duration::from_secs(60));
        let mut waiting: Vec<String> = students.iter().map(|s| format!(" {s}/02_echo: ")).collect();
        while !waiting.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    waiting.retain(|w| !line.contains(w.as_str()));
                    self.stderr += &line;
                    self.stderr.push('\n');
                }
                Err(e) => panic!("{e:?}: no progress line for {waiting:?}:\n{}", self.stderr),
            }
        }
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = self.child.as_ref().unwrap().id() as libc::pid_t;
        // SAFETY: kill(2) on our own child, which we have not reaped.
        unsafe { libc::kill(pid, signal) };
    }

    /// Wait (bounded) for grade to exit: (exit code, or the signal that killed it; stdout; the
    /// rest of stderr).
    fn finish(mut self) -> (Result<i32, i32>, String, String) {
        let mut child = self.child.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (send, got) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
            let _ = send.send((child.wait(), text));
        });
        let (status, stdout) = got
            .recv_timeout(scaled(BOUND))
            .expect("grade exits within its bound");
        let status = status.expect("wait");
        // The reading thread may not have passed on grade's last lines yet: read to the end of
        // stderr (the thread ends there), bounded in case something grade started still holds it.
        let bound = Instant::now() + scaled(Duration::from_secs(10));
        while let Ok(line) = self
            .lines
            .recv_timeout(bound.saturating_duration_since(Instant::now()))
        {
            self.stderr += &line;
            self.stderr.push('\n');
        }
        use std::os::unix::process::ExitStatusExt;
        let code = status.code().ok_or(status.signal().unwrap_or(-1));
        (code, stdout, std::mem::take(&mut self.stderr))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The scorecards of a JSON report: (student, problem, earned, possible).
fn cards(json: &str) -> Vec<(String, Option<String>, u64, u64)> {
    let json: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    json["scorecards"]
        .as_array()
        .expect("scorecards")
        .iter()
        .map(|c| {
            (
                c["student"].as_str().unwrap_or("").to_string(),
                c["problem"].as_str().map(str::to_string),
                c["earned"].as_u64().unwrap_or(0),
                c["possible"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// A class of ann, bob and zed, graded with `--format F -o FILE` (F is FILE's extension), and
/// `signal` sent to grade once ann and bob have finished: the class (to be held to the end of
/// the test: dropping it kills what is left), FILE, and how grade ended.
fn stopped_mid_class(
    name: &str,
    file: &str,
    signal: libc::c_int,
) -> (Class, PathBuf, (Result<i32, i32>, String, String)) {
    let class = Class::new(name, &["ann", "bob", "zed"]);
    let file = class.output(file);
    let format = file
        .extension()
        .and_then(|e| e.to_str())
        .expect("FILE.FORMAT");
    let mut grade = class.spawn(&["--format", format, "-o", &file.display().to_string()]);
    grade.wait_for_finished(&["ann", "bob"]);
    grade.signal(signal);
    let ended = grade.finish();
    (class, file, ended)
}

#[test]
fn sigterm_mid_class_prints_and_writes_the_students_finished() {
    let (class, file, (code, stdout, stderr)) =
        stopped_mid_class("sigterm-class", "grades.json", libc::SIGTERM);
    assert_eq!(code, Ok(143), "{stdout}\n{stderr}");
    assert!(stderr.contains("stopped by signal 15"), "{stderr}");
    // The scorecards of the students finished, then the class table with zed not finished.
    let (_, after) = stdout
        .split_once("graded before the signal:\n")
        .unwrap_or_else(|| panic!("{stdout}"));
    for student in ["ann", "bob"] {
        assert!(
            after.contains(&format!("02_echo — {student}\n")),
            "{stdout}"
        );
    }
    assert!(!after.contains("02_echo — zed\n"), "{stdout}");
    assert!(
        after.contains("02_echo: 3 students × 18 checks"),
        "{stdout}"
    );
    assert!(
        after.contains("zed: not finished: grade was stopped by signal 15"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(&file).expect("-o FILE is written");
    let stopped = Some("not finished: grade was stopped by signal 15".to_string());
    assert_eq!(
        cards(&written),
        [
            ("ann".into(), None, 31, 31),
            ("bob".into(), None, 31, 31),
            ("zed".into(), stopped, 0, 31)
        ],
        "{written}"
    );
    let left = leftovers(&class.marker);
    assert!(left.is_empty(), "still running: {left:#?}");
}

#[test]
fn sigkill_mid_class_leaves_the_students_finished_in_the_output_file() {
    // `_class`, not `_`: held to the end, so that zed's server, still running, is killed then.
    let (_class, file, (code, stdout, stderr)) =
        stopped_mid_class("sigkill-class", "grades.csv", libc::SIGKILL);
    assert_eq!(code, Err(libc::SIGKILL), "{stdout}\n{stderr}");
    let written = std::fs::read_to_string(&file).expect("-o FILE holds what was finished");
    let mut reader = csv::Reader::from_reader(written.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let of = |student: &str, status: &str| {
        rows.iter()
            .filter(|r| &r[0] == student && &r[6] == status)
            .count()
    };
    assert_eq!(
        (of("ann", "pass"), of("bob", "pass")),
        (18, 18),
        "{written}"
    );
    assert_eq!(of("zed", "missing"), 18, "{written}");
    assert!(
        rows.iter()
            .filter(|r| &r[0] == "zed")
            .all(|r| &r[8] == "not finished: still being graded when this file was written"),
        "{written}"
    );
}

#[test]
fn the_time_limit_stops_a_class_held_up_by_one_student_and_keeps_the_others() {
    let class = Class::new("time-limit-class", &["ann", "zed"]);
    let file = class.output("grades.json");
    let limit = scaled(Duration::from_secs(30));
    let limit_text = format!("{}s", limit.as_secs());
    let started = Instant::now();
    let grade = class.spawn(&[
        "--time-limit",
        &limit_text,
        "--format",
        "json",
        "-o",
        &file.display().to_string(),
    ]);
    let (code, stdout, stderr) = grade.finish();
    let took = started.elapsed();
    let margin = scaled(Duration::from_secs(10));
    assert!(
        took < limit + margin,
        "took {took:?}, limit {limit:?}:\n{stderr}"
    );
    assert!(took >= limit, "took {took:?}, limit {limit:?}:\n{stderr}");
    assert_eq!(code, Ok(124), "{stdout}\n{stderr}");
    let why = format!(
        "not finished: the run's time limit ({} s) ran out",
        limit.as_secs()
    );
    assert!(
        stderr.contains(&format!(
            "grade: the time limit ({} s) ran out: 1 of 2 programs not finished",
            limit.as_secs()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("\nhint: "), "{stderr}");
    let written = std::fs::read_to_string(&file).expect("-o FILE");
    let cards = cards(&written);
    assert_eq!(cards[0], ("ann".into(), None, 31, 31), "{written}");
    assert_eq!(cards[1].0, "zed", "{written}");
    assert_eq!(cards[1].1.as_deref(), Some(why.as_str()), "{written}");
    // Stdout: ann's scorecard whole, zed's as far as it got, the table saying why.
    assert!(stdout.contains(&format!("zed: {why}")), "{stdout}");
    assert!(
        stdout.contains("total: 31/31 points, 18 of 18 checks passed"),
        "{stdout}"
    );
    let left = leftovers(&class.marker);
    assert!(left.is_empty(), "still running: {left:#?}");
}
