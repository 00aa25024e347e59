//! What every test of `grade` uses: running it, reading its scorecards, fixtures, scratch
//! folders, and finding what is still running.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;

/// Longer than any grade run here takes (times WORKBOOK_TIMEOUT_SCALE), so a hang shows up as a
/// failed test, not a stuck one.
pub const BOUND: Duration = Duration::from_secs(90);

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

pub fn grade() -> assert_cmd::Command {
    let mut command = cargo_bin_cmd!("grade");
    command
        .current_dir(root())
        .timeout(workbook::checker::harness::scaled(BOUND));
    command
}

/// Run `grade ARGS` and return (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let output = grade().args(args).output().expect("grade runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The check lines of scorecards: (mark, id), in order.
pub fn marks(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let mark = words.next()?;
            ["✓", "✗", "·"]
                .contains(&mark)
                .then(|| (mark.to_string(), words.next().unwrap_or("").to_string()))
        })
        .collect()
}

/// The ids marked ✗, per lesson, from text holding one or more scorecards.
pub fn failing_by_lesson(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut lesson = String::new();
    let mut failing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if !line.starts_with(' ') && workbook::checker::checks::lesson(first).is_some() {
            lesson = first.to_string();
            failing.entry(lesson.clone()).or_default();
        } else if let Some((mark, id)) = marks(line).pop()
            && mark == "✗"
        {
            failing.entry(lesson.clone()).or_default().push(id);
        }
    }
    failing
}

/// Processes still running (not zombies) whose command line contains `marker`.
pub fn leftovers(marker: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let state = stat
            .rfind(')')
            .and_then(|at| stat[at + 1..].split_whitespace().next().map(str::to_string))
            .unwrap_or_default();
        if cmdline.contains(marker) && state != "Z" {
            found.push(format!("{pid} [{state}] {cmdline}"));
        }
    }
    found
}

pub fn marker(name: &str) -> String {
    format!("grade-test-{}-{name}", std::process::id())
}

/// A fresh temporary folder (removed first if an earlier run left it).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(marker(name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub fn mkfifo(path: &Path) {
    let c = CString::new(path.display().to_string()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo touches no other memory.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}
