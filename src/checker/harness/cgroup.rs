//! A process limit that binds root: a pids cgroup of its own for each program under test.
//!
//! `RLIMIT_NPROC` is not enforced for root (the kernel exempts uid 0), and counts every process
//! of the user, not one program's. A cgroup's `pids.max` counts the processes and threads of
//! the program's tree only, whoever runs it: past it, `fork` and `pthread_create` fail with
//! `EAGAIN`. Other ways were weighed: running the program as another uid when root would lose
//! the student folder (often readable by its owner only); a user namespace keeps uid 0's
//! exemption (the kernel checks the real user, still root). A cgroup needs a writable cgroup
//! hierarchy with the pids controller — root has one on most systems (v2 at `/sys/fs/cgroup`, or
//! v1 at `/sys/fs/cgroup/pids`), a user only where systemd delegated one; without it, the
//! scorecard's header says so and only the rlimit applies.
//!
//! The child joins its group between fork and exec (one `write` of `0` to `cgroup.procs`, the
//! file opened in the parent), so it starts inside, and so does everything it forks.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// How many processes and threads one program's tree may have at once: lesson 04 serves 200
/// clients with a thread each; every correct program stays far below.
pub const TASKS: u64 = 512;

/// A program's own pids cgroup, removed when dropped (or later, once what is left in it ends).
pub(super) struct PidsGroup {
    dir: PathBuf,
    procs: File,
}

impl PidsGroup {
    /// A new group of at most `max` tasks, or `None` where no cgroup can be made.
    pub(super) fn new(max: u64) -> Option<PidsGroup> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = base()?;
        retry_pending();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = base.join(format!("workbook-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        let made = std::fs::write(dir.join("pids.max"), max.to_string()).and_then(|()| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))
        });
        match made {
            Ok(procs) => Some(PidsGroup { dir, procs }),
            Err(_) => {
                let _ = std::fs::remove_dir(&dir);
                None
            }
        }
    }

    /// The descriptor the child writes to, to join (kept open by `self`; closed at exec).
    pub(super) fn procs_fd(&self) -> RawFd {
        self.procs.as_raw_fd()
    }
}

/// In the child, before exec: join the group whose `cgroup.procs` is `fd` (`0` is the writer).
/// Async-signal-safe: one write(2).
pub(super) fn join(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: write(2) of a static byte to a descriptor the parent opened.
    match unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } {
        1 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

impl Drop for PidsGroup {
    fn drop(&mut self) {
        // A group still holding a process (one that escaped its process group: the reaper kills
        // it when grading ends) cannot be removed yet: it is retried with the next group.
        if std::fs::remove_dir(&self.dir).is_err() {
            pending().push(self.dir.clone());
        }
    }
}

fn pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

fn retry_pending() {
    pending().retain(|dir| std::fs::remove_dir(dir).is_err() && dir.exists());
}

/// Whether programs get a pids cgroup here (a probe group was made and removed).
pub fn available() -> bool {
    base().is_some()
}

/// The cgroup under which each program's group is made: this process's own pids cgroup.
fn base() -> Option<&'static Path> {
    static BASE: OnceLock<Option<PathBuf>> = OnceLock::new();
    BASE.get_or_init(|| {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let dir = v1(&own).or_else(|| v2(&own))?;
        let probe = dir.join(format!("workbook-probe-{}", std::process::id()));
        std::fs::create_dir(&probe).ok()?;
        let works = probe.join("pids.max").exists() && joins(&probe);
        let _ = std::fs::remove_dir(&probe);
        works.then_some(dir)
    })
    .as_deref()
}

/// Whether a forked child can join the group `dir` (cgroup v2 refuses a group whose parent
/// holds processes, for one).
fn joins(dir: &Path) -> bool {
    let Ok(procs) = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))
    else {
        return false;
    };
    let fd = procs.as_raw_fd();
    // SAFETY: the child makes one write(2) and `_exit`s; the parent waits for it.
    unsafe {
        match libc::fork() {
            -1 => false,
            0 => libc::_exit(i32::from(join(fd).is_err())),
            child => {
                let mut status = 0;
                libc::waitpid(child, &mut status, 0) == child
                    && libc::WIFEXITED(status)
                    && libc::WEXITSTATUS(status) == 0
            }
        }
    }
}

/// cgroup v1: the `pids` hierarchy, `N:pids:/path` in `/proc/self/cgroup`.
fn v1(own: &str) -> Option<PathBuf> {
    own.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        controllers
            .split(',')
            .any(|c| c == "pids")
            .then(|| Path::new("/sys/fs/cgroup/pids").join(path.trim_start_matches('/')))
            .filter(|dir| dir.join("cgroup.procs").exists())
    })
}

/// cgroup v2: `0::/path`, where the pids controller is (or can be) enabled for sub-groups.
fn v2(own: &str) -> Option<PathBuf> {
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let control = dir.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&control).ok()?;
    if !enabled.split_whitespace().any(|c| c == "pids") {
        std::fs::write(&control, "+pids").ok()?;
    }
    Some(dir)
}
