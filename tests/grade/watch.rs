//! Watch mode: `--watch` grades again when the program changes.

use std::process::{Command, Stdio};
use std::sync::mpsc;

use crate::support::*;

#[test]
fn watch_grades_again_when_the_program_changes() {
    // The watched file starts the correct echo server, then is changed to start one that
    // upper-cases text, not bytes: the second scorecard must show the new ✗.
    let dir = temp_dir("watch");
    let program = dir.join("echo.py");
    let becomes = |target: &str| {
        let path = root().join(target).display().to_string();
        std::fs::write(
            &program,
            format!("import os, sys\nos.execvp('python3', ['python3', {path:?}, *sys.argv[1:]])\n"),
        )
        .expect("write the program");
    };
    becomes("examples/python/02_echo.py");
    let program_text = program.display().to_string();
    /// `grade --watch` runs until stopped: stop it (SIGTERM, which it handles) even if the test
    /// fails halfway.
    struct Stopped(std::process::Child);
    impl Drop for Stopped {
        fn drop(&mut self) {
            // SAFETY: kill(2) with a pid we spawned and have not reaped.
            unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
            let _ = self.0.wait();
        }
    }
    let mut child = Stopped(
        Command::new(env!("CARGO_BIN_EXE_grade"))
            .current_dir(root())
            // The watched file starts programs of the workbook's checkout, which the sandbox
            // keeps out of a student program's reach: this test is about --watch.
            .args([
                "02_echo",
                "--check",
                "server_upper",
                "--watch",
                "--no-sandbox",
                "--",
            ])
            .args(["python3", &program_text])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("grade starts"),
    );
    let stdout = child.0.stdout.take().expect("piped");
    let (lines, seen) = mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // The lines up to the next total line, each waited for within BOUND.
    let next_card = || -> Vec<String> {
        let mut card = Vec::new();
        loop {
            let line = seen
                .recv_timeout(BOUND)
                .expect("a scorecard within the bound");
            let done = line.contains("total:");
            card.push(line);
            if done {
                return card;
            }
        }
    };
    let first = next_card().join("\n");
    let finished = |card: &str, mark: &str| marks(card) == [(mark.into(), "server_upper".into())];
    assert!(finished(&first, "✓"), "{first}");
    becomes("tests/fixtures/02_upper_unicode.py");
    let second = next_card().join("\n");
    drop(child);
    assert!(
        second.contains("echo.py changed: grading again"),
        "{second}"
    );
    assert!(finished(&second, "✗"), "{second}");
    let _ = std::fs::remove_dir_all(&dir);
}
