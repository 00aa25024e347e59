//! A class: ten students graded in parallel into a table.

use crate::support::*;

#[test]
fn a_class_of_ten_is_graded_in_parallel_into_a_table() {
    let class = temp_dir("class");
    let marker = marker("class");
    let fifo = class.join("rendezvous");
    mkfifo(&fifo);
    let python = root()
        .join("examples/python/02_echo.py")
        .display()
        .to_string();
    let built = env!("CARGO_BIN_EXE_02_echo");
    let meet = |role: &str, program: &str| {
        format!(
            "python3 {} {} {role} {program}",
            fixture("grade_rendezvous.py"),
            fifo.display()
        )
    };
    let misbehave =
        |mode: &str| format!("python3 {} {mode} {marker}", fixture("grade_misbehaves.py"));
    let students: [(&str, Option<String>, &str); 10] = [
        // s01 and s02 are graded first; each waits for the other, so they pass only if they run
        // at the same time.
        ("s01", Some(meet("open", &format!("python3 {python}"))), "✓"),
        ("s02", Some(meet("join", built)), "✓"),
        ("s03", Some(built.to_string()), "✓"),
        ("s04", Some("python3 echo.py".to_string()), "✓"),
        (
            "s05",
            Some(format!("python3 {}", fixture("02_first_1024.py"))),
            "✗",
        ),
        (
            "s06",
            Some(format!("python3 {}", fixture("02_upper_unicode.py"))),
            "✓",
        ),
        ("s07", Some(misbehave("garbage")), "✗"),
        ("s08", Some(misbehave("crashes")), "·"), // did not start: the same traceback whatever its arguments
        ("s09", None, "✓"),                       // an executable `run` instead of a run.toml
        ("s10", None, "·"),                       // an empty folder
    ];
    for (name, command, _) in &students {
        let dir = class.join(name);
        std::fs::create_dir(&dir).unwrap();
        if let Some(command) = command {
            std::fs::write(dir.join("run.toml"), format!("02_echo = {command:?}\n")).unwrap();
        }
    }
    std::fs::copy(
        root().join("examples/students/eve/echo.py"),
        class.join("s04/echo.py"),
    )
    .unwrap();
    let run_script = class.join("s09/run");
    std::fs::write(
        &run_script,
        format!("#!/bin/sh\nshift\nexec {built} \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        &run_script,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::create_dir(class.join(".git")).unwrap(); // not a student

    let class_text = class.display().to_string();
    let (code, stdout, stderr) = run(&[
        "02_echo",
        "--class",
        &class_text,
        "--jobs",
        "2",
        "--check",
        "server_echoes_bytes",
        "--summary",
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("02_echo: 10 students × 1 checks\n"),
        "{stdout}"
    );
    let rows: Vec<(String, String)> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|words| words.len() > 1 && ["✓", "✗", "·"].contains(&words[1]))
        .map(|words| (words[0].to_string(), words[1].to_string()))
        .collect();
    let want: Vec<(String, String)> = students
        .iter()
        .map(|(name, _, mark)| (name.to_string(), mark.to_string()))
        .collect();
    assert_eq!(rows, want, "{stdout}");
    assert!(
        stdout.contains("s10: not graded: no run.toml and no executable `run`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("all: 18/30 points, 6 of 10 checks passed"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("program:"),
        "--summary prints only the table"
    );
    let left = leftovers(&marker);
    assert!(left.is_empty(), "still running: {left:#?}");
    let _ = std::fs::remove_dir_all(&class);
}
