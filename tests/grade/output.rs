//! `-o FILE`: grade writes a new regular file and renames it into place; it never writes
//! through a symbolic link, and never opens a FIFO or a device (which would hang it or write
//! somewhere else than the teacher meant).

use std::os::unix::fs::FileTypeExt;
use std::time::{Duration, Instant};

use crate::support::*;

/// A quick run: a program that does not start scores 0 at once.
fn args(output: &str) -> Vec<String> {
    [
        "01",
        "--format",
        "json",
        "-o",
        output,
        "--",
        "python3",
        "no-such-file.py",
    ]
    .map(String::from)
    .to_vec()
}

fn run_to(output: &std::path::Path) -> (i32, String, String) {
    let text = output.display().to_string();
    let args = args(&text);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args)
}

#[test]
fn output_is_written_whole_and_replaces_a_file() {
    let dir = temp_dir("output-file");
    let file = dir.join("results.json");
    std::fs::write(&file, "old").unwrap();
    let (code, _, stderr) = run_to(&file);
    assert_eq!(code, 1, "{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).expect("valid JSON");
    assert_eq!(json["scorecards"][0]["lesson"], "01_time_server", "{json}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(left.len(), 1, "no temporary file is left: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_refuses_a_symlink_and_leaves_its_target_alone() {
    let dir = temp_dir("output-symlink");
    let target = dir.join("teachers-notes.txt");
    std::fs::write(&target, "the teacher's notes\n").unwrap();
    let link = dir.join("grades.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (code, _, stderr) = run_to(&link);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("error: refusing to write") && stderr.contains("symbolic link"),
        "{stderr}"
    );
    assert!(stderr.contains("\nhint: "), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "the teacher's notes\n"
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_refuses_a_fifo_or_a_device_at_once() {
    let dir = temp_dir("output-fifo");
    let fifo = dir.join("grades.json");
    mkfifo(&fifo);
    let started = Instant::now();
    let (code, _, stderr) = run_to(&fifo);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("error: refusing to write") && stderr.contains("FIFO"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < workbook::checker::harness::scaled(Duration::from_secs(30)),
        "no hang"
    );
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());

    let (code, _, stderr) = run_to(std::path::Path::new("/dev/null"));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("error: refusing to write /dev/null"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
