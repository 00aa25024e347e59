//! The programs under test as processes: each the leader of its own process group, registered
//! so that [`kill_all`] can end every one (grade's Ctrl-C), killed on drop, its stdout and stderr
//! drained by threads and capped.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{KEEP_BYTES, READER_GRACE, Target};
use crate::checker::evidence::Failure;

/// The process groups of the programs under test that are still running (each [`Process`] is
/// the leader of its own group, so a group id is also the leader's pid).
pub(super) struct Live {
    pub(super) groups: Vec<u32>,
    /// Set by [`kill_all`]: no new program may start.
    pub(super) closed: bool,
}

pub(super) static LIVE: Mutex<Live> = Mutex::new(Live {
    groups: Vec::new(),
    closed: false,
});

pub(super) fn live() -> MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Kill every program under test that this process started and has not yet killed (its whole
/// process group, so its children too), and refuse to start any more.
///
/// For a tool's SIGINT/SIGTERM handler: a signal ends the process without running `Drop`, and
/// the programs under test, each in a process group of its own, do not get the terminal's Ctrl-C.
pub fn kill_all() {
    let mut live = live();
    live.closed = true;
    for &group in &live.groups {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names a group.
        unsafe { libc::kill(-(group as libc::pid_t), libc::SIGKILL) };
    }
}

/// The process-group ids (= leader pids) of the programs under test still running.
pub fn live_process_groups() -> Vec<u32> {
    live().groups.clone()
}

/// A limit of `ulimit`'s that a check lowers for the program under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// `RLIMIT_NOFILE` (`ulimit -n`): how many file descriptors.
    OpenFiles(u64),
    /// `RLIMIT_STACK` (`ulimit -s`, in bytes): also the default stack of a new thread in C
    /// programs and Python (glibc's `pthread_create`), though not in Rust (2 MiB).
    Stack(u64),
    /// `RLIMIT_AS` (`ulimit -v`, in bytes): the address space, every thread's stack included.
    AddressSpace(u64),
    /// `RLIMIT_DATA` (`ulimit -d`, in bytes): private writable memory (heap, thread stacks).
    Data(u64),
    /// `RLIMIT_CPU` (`ulimit -t`, in seconds): CPU time, all threads together.
    CpuSeconds(u64),
    /// `RLIMIT_FSIZE` (`ulimit -f`, in bytes): the largest file the program may write.
    FileSize(u64),
    /// `RLIMIT_NPROC` (`ulimit -u`): processes and threads of the user (not enforced for root).
    Processes(u64),
}

impl Limit {
    fn resource(self) -> (libc::__rlimit_resource_t, u64) {
        match self {
            Limit::OpenFiles(n) => (libc::RLIMIT_NOFILE, n),
            Limit::Stack(n) => (libc::RLIMIT_STACK, n),
            Limit::AddressSpace(n) => (libc::RLIMIT_AS, n),
            Limit::Data(n) => (libc::RLIMIT_DATA, n),
            Limit::CpuSeconds(n) => (libc::RLIMIT_CPU, n),
            Limit::FileSize(n) => (libc::RLIMIT_FSIZE, n),
            Limit::Processes(n) => (libc::RLIMIT_NPROC, n),
        }
    }

    /// Whether `self` and `other` limit the same resource.
    pub(super) fn same_kind(self, other: &Limit) -> bool {
        self.resource().0 == other.resource().0
    }

    /// This limit, lowered to this process's own hard limit if that is lower (only a privileged
    /// process may raise its hard limit); `None` if it cannot be read.
    pub(super) fn at_most_hard(self) -> Option<Limit> {
        let (resource, value) = self.resource();
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct we pass.
        if unsafe { libc::getrlimit(resource, &mut current) } != 0 {
            return None;
        }
        // rlim_t is u64 on Linux, not on every Unix.
        #[allow(clippy::unnecessary_cast)]
        let value = value.min(current.rlim_max as u64);
        Some(match self {
            Limit::OpenFiles(_) => Limit::OpenFiles(value),
            Limit::Stack(_) => Limit::Stack(value),
            Limit::AddressSpace(_) => Limit::AddressSpace(value),
            Limit::Data(_) => Limit::Data(value),
            Limit::CpuSeconds(_) => Limit::CpuSeconds(value),
            Limit::FileSize(_) => Limit::FileSize(value),
            Limit::Processes(_) => Limit::Processes(value),
        })
    }

    /// Lower this limit, soft and hard (as `ulimit` does), for process `pid`, or for the caller
    /// when `pid` is `None` (which is async-signal-safe: one system call, no allocation, so a
    /// forked child may call it before exec).
    pub(super) fn lower(self, pid: Option<u32>) -> std::io::Result<()> {
        let (resource, value) = self.resource();
        let rlimit = libc::rlimit {
            rlim_cur: value as libc::rlim_t,
            rlim_max: value as libc::rlim_t,
        };
        // SAFETY: setrlimit/prlimit only read the struct we pass (prlimit's old-limit pointer
        // may be null).
        let done = match pid {
            None => unsafe { libc::setrlimit(resource, &rlimit) },
            #[cfg(target_os = "linux")]
            Some(pid) => unsafe {
                libc::prlimit(pid as libc::pid_t, resource, &rlimit, std::ptr::null_mut())
            },
            #[cfg(not(target_os = "linux"))]
            Some(_) => return Err(std::io::Error::from(std::io::ErrorKind::Unsupported)),
        };
        if done == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// Lower `limits` in the child, between fork and exec: the program under test starts with them;
/// we keep ours.
pub(super) fn limit_child(command: &mut Command, limits: &[Limit]) {
    if limits.is_empty() {
        return;
    }
    let limits = limits.to_vec();
    // SAFETY: the closure runs in the forked child before exec and only calls `Limit::lower`
    // with `None` (setrlimit(2), async-signal-safe); it touches no lock and allocates nothing.
    unsafe {
        command.pre_exec(move || limits.iter().try_for_each(|limit| limit.lower(None)));
    }
}

/// What a program wrote, kept up to [`KEEP_BYTES`].
#[derive(Default, Debug)]
pub(super) struct Captured {
    pub(super) kept: Vec<u8>,
    pub(super) total: usize,
    /// The program closed this output (it exited, or closed the pipe).
    pub(super) ended: bool,
}

/// One output of a program: what it wrote so far, and a signal each time that changes, so a
/// caller can wait for some text to appear — an event, not a poll.
#[derive(Default, Debug)]
pub(super) struct Output {
    captured: Mutex<Captured>,
    changed: Condvar,
}

pub(super) type Shared = Arc<Output>;

impl Output {
    fn lock(&self) -> MutexGuard<'_, Captured> {
        self.captured.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Read `source` to its end into `into`, keeping at most [`KEEP_BYTES`]: a program that floods
/// its output is drained (so it never blocks on a full pipe) without filling our memory.
pub(super) fn drain(mut source: impl Read + Send + 'static, into: Shared) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = source.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut captured = into.lock();
            let room = KEEP_BYTES.saturating_sub(captured.kept.len()).min(n);
            captured.kept.extend_from_slice(&buf[..room]);
            captured.total += n;
            into.changed.notify_all();
        }
        into.lock().ended = true;
        into.changed.notify_all();
    })
}

pub(super) fn snapshot(shared: &Shared) -> Vec<u8> {
    shared.lock().kept.clone()
}

/// What [`wait_for_text`] saw.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Seen {
    /// The output contains the text.
    Found,
    /// The output ended without it.
    Ended,
    /// Neither, within the time given.
    TimedOut,
}

/// Wait until `shared` contains `text`, or ends, at most `timeout`.
pub(super) fn wait_for_text(shared: &Shared, text: &[u8], timeout: Duration) -> Seen {
    let contains = |c: &Captured| text.is_empty() || c.kept.windows(text.len()).any(|w| w == text);
    let (captured, _) = shared
        .changed
        .wait_timeout_while(shared.lock(), timeout, |c| !c.ended && !contains(c))
        .unwrap_or_else(|p| p.into_inner());
    match (contains(&captured), captured.ended) {
        (true, _) => Seen::Found,
        (false, true) => Seen::Ended,
        (false, false) => Seen::TimedOut,
    }
}

/// A program's stdin, written by a thread of its own: a program that does not read its input
/// cannot block the caller. What is sent is written in order; the pipe closes — the program's
/// end of input — once [`Feeder::close`] is called (or the feeder dropped) and all is written.
pub(super) struct Feeder {
    queue: Option<mpsc::Sender<Vec<u8>>>,
    /// Everything sent so far, for evidence.
    pub(super) sent: Vec<u8>,
}

impl Feeder {
    pub(super) fn new(mut pipe: ChildStdin) -> Feeder {
        let (queue, queued) = mpsc::channel::<Vec<u8>>();
        // Not joined: it ends when the queue closes, or at the first failed write (the program
        // is gone). Only a program that escaped its group, holds stdin and never reads could
        // keep it blocked, like a reader left behind by `Process::kill`.
        std::thread::spawn(move || {
            for bytes in queued {
                if pipe.write_all(&bytes).is_err() {
                    break;
                }
            }
        });
        Feeder {
            queue: Some(queue),
            sent: Vec::new(),
        }
    }

    pub(super) fn send(&mut self, bytes: &[u8]) {
        self.sent.extend_from_slice(bytes);
        if let Some(queue) = &self.queue {
            let _ = queue.send(bytes.to_vec());
        }
    }

    /// End of input, as Ctrl-D at a terminal: the pipe closes once what was sent is written.
    pub(super) fn close(&mut self) {
        self.queue = None;
    }
}

/// A running program under test. Dropping it kills its process group and reaps it.
pub struct Process {
    pub(super) child: Child,
    pub(super) command: String,
    pub(super) stderr: Shared,
    pub(super) readers: Vec<JoinHandle<()>>,
    pub(super) status: Option<ExitStatus>,
    /// Its sandbox's scratch directory (`$HOME`, `$TMPDIR`), removed once it has ended.
    pub(super) scratch: Option<super::sandbox::Scratch>,
}

impl Process {
    /// Start `target args`, stdout piped to the caller's choice, stderr captured.
    pub(super) fn spawn(
        target: &Target,
        args: &[&str],
        stdin: Stdio,
        limits: &[Limit],
    ) -> Result<
        (
            Process,
            Option<std::process::ChildStdin>,
            std::process::ChildStdout,
        ),
        Failure,
    > {
        let command_line = target.display(args);
        // Spawn and register under one lock, so that `kill_all` sees every program started.
        let mut live = live();
        if live.closed {
            return Err(
                Failure::new("not started: the program running the checks is stopping")
                    .command(&command_line),
            );
        }
        let mut command = target.command(args);
        let scratch = if super::sandbox::enabled() {
            let scratch =
                super::sandbox::confine(&mut command, target, args, limits).map_err(|e| {
                    Failure::new(format!("could not prepare the sandbox: {e}"))
                        .command(&command_line)
                })?;
            Some(scratch)
        } else {
            limit_child(&mut command, limits);
            None
        };
        let mut child = command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                let why = match e.kind() {
                    std::io::ErrorKind::NotFound => format!(
                        "`{}` was not found: no such file, nor a command on PATH",
                        target.argv()[0]
                    ),
                    std::io::ErrorKind::PermissionDenied => format!(
                        "`{}` is not executable (chmod +x, or name its interpreter first)",
                        target.argv()[0]
                    ),
                    _ => e.to_string(),
                };
                Failure::new(format!("could not start the program: {why}")).command(&command_line)
            })?;
        live.groups.push(child.id());
        drop(live);
        let stdout = child.stdout.take().expect("stdout was piped");
        let stdin = child.stdin.take();
        let stderr = Shared::default();
        let readers = vec![drain(
            child.stderr.take().expect("stderr was piped"),
            stderr.clone(),
        )];
        Ok((
            Process {
                child,
                command: command_line,
                stderr,
                readers,
                status: None,
                scratch,
            },
            stdin,
            stdout,
        ))
    }

    /// The command line that started this process.
    pub fn command_line(&self) -> &str {
        &self.command
    }

    /// The operating system's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lower one of the running process's limits (`prlimit`, Linux): for a limit that must be
    /// measured against what the program already uses, such as its address space.
    pub fn lower_limit(&self, limit: Limit) -> std::io::Result<()> {
        limit.lower(Some(self.child.id()))
    }

    /// The process's address space now, in bytes (`VmSize` in `/proc/PID/status`, what `ps`
    /// calls VSZ; Linux, `None` elsewhere or once it has exited).
    pub fn address_space(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find_map(|l| l.strip_prefix("VmSize:"))?;
        let kib = line.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
        Some(kib * 1024)
    }

    /// Send `signal` (e.g. `libc::SIGTERM`) to the process, as `kill PID` does.
    pub fn signal(&self, signal: i32) {
        if self.status.is_none() {
            // SAFETY: kill(2) has no memory-safety preconditions; a stale pid is harmless here
            // because we have not reaped the child, so its pid cannot have been reused.
            unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        }
    }

    /// For `within`, how often (0.0 to 1.0) some thread of the process is running or ready to
    /// run, sampling `/proc/PID/task/*/stat` every 5 ms (Linux; `None` elsewhere or once it has
    /// exited). A program that waits is almost always asleep; one that retries in a tight loop
    /// is always runnable — on a loaded machine too, unlike the CPU time it gets.
    pub fn busy_share(&self, within: Duration) -> Option<f64> {
        let tasks = format!("/proc/{}/task", self.child.id());
        let deadline = Instant::now() + within;
        let (mut samples, mut busy) = (0u32, 0u32);
        while Instant::now() < deadline {
            let mut running = false;
            for task in std::fs::read_dir(&tasks).ok()?.flatten() {
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
                // `pid (comm) state …`: the state is the first field after the `)`.
                let state = stat
                    .rfind(')')
                    .and_then(|at| stat[at + 1..].split_whitespace().next());
                running |= state == Some("R");
            }
            samples += 1;
            busy += u32::from(running);
            // Polling is the only way to watch another process's state; 5 ms keeps it cheap.
            std::thread::sleep(Duration::from_millis(5));
        }
        (samples > 0).then(|| f64::from(busy) / f64::from(samples))
    }

    /// Wait for the process to exit, at most `timeout` (the caller scales it: [`scaled`](super::scaled)).
    /// `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            // Polling the exit status is how std offers a bounded wait; 5 ms keeps it cheap.
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The exit status if the process has exited, without waiting. When it has, whatever it
    /// left running in its process group is killed first, while its zombie still holds the
    /// group's id (after reaping, that number may be reused: see [`Process::kill`]).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() && self.exited_unreaped() {
            let group = -(self.child.id() as libc::pid_t);
            // SAFETY: kill(2) has no memory-safety preconditions; the group's id is still ours.
            unsafe { libc::kill(group, libc::SIGKILL) };
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Whether the process has exited, without reaping it (`waitid` with `WNOWAIT`).
    pub(super) fn exited_unreaped(&self) -> bool {
        // SAFETY: an all-zero siginfo_t is a valid value; waitid writes into the one we pass.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let options = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        // SAFETY: waitid only writes `info`; P_PID names our own unreaped child.
        let found = unsafe {
            libc::waitid(
                libc::P_PID,
                self.child.id() as libc::id_t,
                &mut info,
                options,
            )
        };
        // With WNOHANG, si_pid stays 0 while the child is still running.
        // SAFETY: si_pid is valid to read for a siginfo_t that waitid filled or left zeroed.
        found == 0 && unsafe { info.si_pid() } != 0
    }

    /// Everything the program wrote on stderr so far (up to [`KEEP_BYTES`]).
    pub fn stderr(&self) -> Vec<u8> {
        snapshot(&self.stderr)
    }

    /// Kill the whole process group (the program and anything it forked) and reap it.
    pub fn kill(&mut self) {
        // Only while the leader is not reaped: until then its pid — the group's id — cannot be
        // reused. Once reaped (it exited, and `try_status` collected it), that number may
        // already belong to another test's server, leader of a group of its own, and this
        // SIGKILL would end it instead (seen: a 05 server reset mid-check, under load).
        if self.try_status().is_none() {
            // SAFETY: as in `signal`; a negative pid names the process group we created at spawn.
            unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        }
        let _ = self.child.kill();
        if self.status.is_none() {
            self.status = self.child.wait().ok();
        }
        let pid = self.child.id();
        live().groups.retain(|&group| group != pid);
        // The readers end as soon as the group is dead and its pipes closed. A process that left
        // the group (a daemon, after setsid) may hold them open forever: wait a moment, then
        // leave its reader behind rather than hang.
        let deadline = Instant::now() + READER_GRACE;
        for reader in self.readers.drain(..) {
            while !reader.is_finished() && Instant::now() < deadline {
                // Polling is how std offers a bounded join; 5 ms keeps it cheap.
                std::thread::sleep(Duration::from_millis(5));
            }
            if reader.is_finished() {
                let _ = reader.join();
            }
        }
        if let Some(scratch) = self.scratch.take() {
            make_removable(scratch.path());
            let _ = scratch.close();
        }
    }
}

/// Give back write and search rights to every folder under `dir` (a program may have taken
/// them from its own scratch folders), so that it can be removed.
fn make_removable(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                make_removable(&entry.path());
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
