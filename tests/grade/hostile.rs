//! Hostile programs (`tests/fixtures/hostile/hostile.py`): each also a correct echo server, each
//! first seen doing harm with `--no-sandbox`, then contained by the sandbox: nothing outside
//! changed, nothing left running, and a classmate graded in the same `--class` run gets the
//! verdict she gets alone. And preflight beside busy loops.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::support::{grade, leftovers, marker, mkfifo, root, temp_dir};

/// A teacher's world for one test: a home, a secret, notes in `/tmp`, a copy of grade, a class
/// of two (alice, a correct echo server; mallory, the hostile program trying `harms`, whose
/// `run.toml` also names `/tmp`, to widen its sandbox).
struct Lab {
    dir: PathBuf,
    marker: String,
    grade_copy: Vec<u8>,
    alice_echo: Vec<u8>,
}

impl Lab {
    fn new(name: &str, harms: &str) -> Lab {
        let dir = temp_dir(name);
        let marker = marker(name);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("secret.txt"), "the exam answers\n").unwrap();
        std::fs::write(notes(&marker), "the teacher's notes\n").unwrap();
        std::fs::create_dir_all(dir.join("drop")).unwrap();
        mkfifo(&dir.join("drop/report"));
        std::fs::copy(env!("CARGO_BIN_EXE_grade"), dir.join("bin/grade")).unwrap();
        let alice = dir.join("class/alice");
        std::fs::create_dir_all(&alice).unwrap();
        for file in ["02_echo.py", "contract.py"] {
            std::fs::copy(root().join("examples/python").join(file), alice.join(file)).unwrap();
        }
        std::fs::rename(alice.join("02_echo.py"), alice.join("echo.py")).unwrap();
        std::fs::write(alice.join("run.toml"), "02_echo = \"python3 echo.py\"\n").unwrap();
        let mallory = dir.join("class/mallory");
        std::fs::create_dir_all(&mallory).unwrap();
        let hostile = root().join("tests/fixtures/hostile/hostile.py");
        std::fs::write(
            mallory.join("run.toml"),
            format!(
                "02_echo = \"python3 {} {harms} {marker} {} /tmp\"\n",
                hostile.display(),
                dir.join("drop/report").display()
            ),
        )
        .unwrap();
        Lab {
            grade_copy: std::fs::read(dir.join("bin/grade")).unwrap(),
            alice_echo: std::fs::read(alice.join("echo.py")).unwrap(),
            dir,
            marker,
        }
    }

    fn path(&self, rest: &str) -> PathBuf {
        self.dir.join(rest)
    }

    /// `grade 02_echo --class LAB/class EXTRA…` with the teacher's environment (a tmux, a
    /// secret, HOME in the lab, a service listening on 127.0.0.1), the hostile program's report
    /// read from the named pipe its command line names. Returns the exit code, stdout, stderr
    /// and the report.
    fn grade_class(&self, extra: &[&str]) -> (Option<i32>, String, String, String) {
        // Opened for reading and writing, without blocking: the program's open for writing
        // never waits for a reader, and what it wrote stays in the pipe until read below.
        let mut drop = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(self.path("drop/report"))
            .expect("the report pipe");
        // A service of the teacher's on the machine (a server like a classmate's, on a free port).
        let _service = TcpListener::bind("127.0.0.1:0").unwrap();
        let class = self.path("class").display().to_string();
        let output = grade()
            .args(["02_echo", "--class", &class, "--jobs", "2"])
            .args(extra)
            .env("HOME", self.path("home"))
            .env("TMUX", "/tmp/tmux-0/default,4242,0")
            .env("TEACHER_SECRET", "hunter2")
            .env("WORKBOOK_HOSTILE_LAB", &self.dir)
            .env("WORKBOOK_HOSTILE_NOTES", notes(&self.marker))
            .output()
            .expect("grade runs");
        // grade has ended, and every program with it: the report is whole (or absent).
        let mut report = Vec::new();
        let _ = drop.read_to_end(&mut report);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
            String::from_utf8_lossy(&report).into_owned(),
        )
    }

    /// What the hostile program may have left in the world outside its sandbox.
    fn harm_outside(&self) -> Vec<String> {
        let mut harm = Vec::new();
        if std::fs::read_dir(self.path("home"))
            .unwrap()
            .next()
            .is_some()
        {
            harm.push("a file in the teacher's home".to_string());
        }
        if Path::new(&format!("/tmp/pwned-{}", self.marker)).exists() {
            harm.push("a file in /tmp".to_string());
        }
        if std::fs::read(self.path("class/alice/echo.py")).ok() != Some(self.alice_echo.clone()) {
            harm.push("alice's echo.py edited".to_string());
        }
        if std::fs::read(self.path("bin/grade")).ok() != Some(self.grade_copy.clone()) {
            harm.push("grade replaced".to_string());
        }
        harm
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for line in leftovers(&self.marker) {
            if let Some(pid) = line.split_whitespace().next().and_then(|p| p.parse().ok()) {
                // SAFETY: kill(2); the pid was just read from /proc with our marker.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = std::fs::remove_file(format!("/tmp/pwned-{}", self.marker));
        let _ = std::fs::remove_file(notes(&self.marker));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The teacher's notes in `/tmp`, where every user can see them unless the sandbox hides them.
fn notes(marker: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/{marker}-notes.txt"))
}

/// The total line of `student`'s scorecard in `stdout`.
fn total_of(stdout: &str, student: &str) -> String {
    let card = stdout
        .split(&format!("02_echo — {student}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no scorecard for {student} in:\n{stdout}"));
    card.lines()
        .find(|l| l.trim_start().starts_with("total:"))
        .unwrap_or("")
        .trim()
        .to_string()
}

#[test]
fn without_the_sandbox_a_hostile_program_does_harm() {
    let lab = Lab::new("hostile-harm", "write,secret,replace,snoop,hold");
    let (_, stdout, _, report) = lab.grade_class(&["--no-sandbox"]);
    assert!(stdout.contains("sandbox: off (--no-sandbox)"), "{stdout}");
    for done in [
        "write_home: done",
        "write_tmp: done",
        "write_classmate: done",
        "read_secret: done the exam answers",
        "env_tmux: done /tmp/tmux-0/default",
        "env_secret: done hunter2",
        "replace_grade: done",
        "list_tmp: done",
        "list_var_tmp: done",
        "list_dev_shm: done",
        "read_tmp: done the teacher's notes",
        "hold: done",
    ] {
        assert!(
            report.contains(done),
            "`{done}` not in the report:\n{report}"
        );
    }
    let harm = lab.harm_outside();
    assert_eq!(harm.len(), 4, "{harm:?}");
}

#[test]
fn the_sandbox_contains_a_hostile_program_and_its_classmate_keeps_her_verdict() {
    let harms = "write,secret,replace,term,stop,kill,memory,procs,snoop,hold,self";
    let lab = Lab::new("hostile-contained", harms);
    let alone = grade()
        .args(["02_echo", "--student"])
        .arg(lab.path("class/alice"))
        .output()
        .expect("grade runs");
    let alone = String::from_utf8_lossy(&alone.stdout).into_owned();
    let (code, stdout, stderr, report) = lab.grade_class(&[]);
    assert!(stdout.contains("sandbox: landlock v"), "{stdout}");
    assert!(stdout.contains(", private network per check,"), "{stdout}");
    // grade was neither killed, terminated nor stopped: it ran to the end.
    assert!(matches!(code, Some(0 | 1)), "exit {code:?}\n{stdout}");
    for denied in [
        "write_home_var: done",
        "write_home: denied",
        "write_tmp: denied",
        "write_classmate: denied",
        "read_secret: denied",
        "env_tmux: denied",
        "env_secret: denied",
        "replace_grade: denied",
        "signal_SIGTERM: denied",
        "signal_SIGSTOP: denied",
        "signal_SIGKILL: denied",
        "memory: denied",
        "list_tmp: denied",
        "list_var_tmp: denied",
        "list_dev_shm: denied",
        "read_tmp: denied",
        // In a network of its own, nothing listens: neither the teacher's service nor alice's
        // server (graded at the same time) was reached…
        "hold: denied (ConnectionError: no connection",
        // …while its own server was: a correct server may wake its `accept` so (lesson 05).
        "self: done connected to its own port",
    ] {
        assert!(
            report.contains(denied),
            "`{denied}` not in the report:\n{report}"
        );
    }
    assert!(
        !report.contains("hunter2")
            && !report.contains("exam answers")
            && !report.contains("teacher's notes"),
        "{report}"
    );
    procs_stopped_at_the_limit(&stdout, &stderr, &report);
    assert_eq!(lab.harm_outside(), Vec::<String>::new());
    assert_eq!(leftovers(&lab.marker), Vec::<String>::new());
    assert_eq!(total_of(&stdout, "alice"), total_of(&alone, "alice"));
    assert_eq!(
        total_of(&stdout, "alice"),
        "total: 31/31 points, 18 of 18 checks passed"
    );
}

/// The 600 processes: stopped at the pids cgroup's limit where grade could make one (root or
/// not); elsewhere grade says so, and as a user `RLIMIT_NPROC` may stop them.
fn procs_stopped_at_the_limit(stdout: &str, stderr: &str, report: &str) {
    let started: u32 = report
        .lines()
        .find_map(|l| l.strip_prefix("procs_started: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no procs_started in the report:\n{report}"));
    if stdout.contains(", pids cgroup, ") {
        assert!(report.contains("procs: denied"), "{report}");
        // 512 tasks for the tree: the python process itself is one of them.
        assert!((400..512).contains(&started), "{started} started\n{report}");
    } else {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            assert!(stderr.contains("no writable pids cgroup"), "{stderr}");
        }
        assert!(report.contains("procs: "), "{report}");
    }
}

/// Busy loops, one per core and two more, killed on drop.
struct Busy(Vec<Child>);

impl Drop for Busy {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_missing_program_scores_zero_beside_busy_loops() {
    let _busy = Busy(
        (0..4)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("sh")
            })
            .collect(),
    );
    for _ in 0..10 {
        let output = grade()
            .args(["01_time_server", "--", "python3", "missing.py"])
            .output()
            .expect("grade runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("did not start"), "{stdout}");
        assert!(stdout.contains("total: 0/"), "{stdout}");
    }
}
