//! The sandbox around every program under test (Linux): applied in the child, between `fork` and
//! `exec`, so the program starts inside it.
//!
//! - **files** (Landlock): the program reads and runs the system (`/usr`, `/etc`, …), the
//!   folders its command line names (`python3 ana/echo.py` → `ana/`), its interpreter's own
//!   installation, and the workbook's own programs (its lesson binaries and
//!   `examples/python/`, public as the book is); in the folder of a path a check hands it
//!   (`--unix /tmp/wb08-…/08.sock`), it may create and remove a Unix socket; it reads and writes only a scratch
//!   directory of its own (also its `$HOME` and `$TMPDIR`), removed when it ends. Nothing else:
//!   not a classmate's folder, not the teacher's home, not the grader's checkout, not `/proc`,
//!   not `/tmp`, `/var/tmp` or `/dev/shm` (a command line naming one of those, or `/`, does not
//!   open it: see [`SHARED`]). An allow-list, not `/` minus some places: a private `/tmp`
//!   through a mount namespace would need a user namespace for every program (and would hide
//!   the check's own Unix-socket folder under `/tmp`), while Landlock already denies whatever
//!   is not listed, with or without root.
//! - **network**: a network of its own for each check (`netns.rs`), shared only with the
//!   checker code grading it: its loopback, where the check's clients and servers meet the
//!   program, and where no classmate's server graded at the same time and no service of the
//!   teacher's listens — TCP and UDP alike. So a program may connect anywhere it can see: a
//!   server may connect to itself (lesson 05's `Stop` wakes its `accept` so). Landlock (ABI ≥
//!   4) still lets it `bind` a TCP port only if it is 0 (any free port) or named by its
//!   command line. Where no private network can be made, nothing stops a program from
//!   connecting to a classmate's server graded at the same time: [`warning`] says so.
//! - **signals and abstract Unix sockets** (Landlock ABI ≥ 6): it cannot signal, stop or
//!   connect to anything outside its own sandbox — the grader and classmates included.
//! - **limits** (rlimits, per check: [`DEFAULT_LIMITS`], raised or lowered by a check's own
//!   [`Limit`]s): CPU time, data memory, file size, open files, processes of the user (not
//!   enforced for root: the kernel exempts uid 0 from `RLIMIT_NPROC`); and, where a cgroup can
//!   be made, 512 processes and threads for the program's tree, root or not.
//! - **environment**: only an allow-list ([`KEPT_VARIABLES`]) reaches the program — no `$TMUX`,
//!   `$SSH_AUTH_SOCK`, `$DISPLAY`, `$DBUS_SESSION_BUS_ADDRESS`, nor any secret of the teacher's.
//!
//! On by default; `grade --no-sandbox` or [`SANDBOX_VAR`]`=off` turns it off. A kernel without
//! Landlock (or with an older ABI) gets what it has, and [`describe`] says what was in force.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, Scope,
};

use super::cgroup::{self, PidsGroup};
use super::netns;
pub use super::netns::{PrivateNetwork, own_user_namespace};
use super::{Limit, Target};

/// The variable that turns the sandbox off for `cargo test` (`WORKBOOK_SANDBOX=off`), as
/// `grade --no-sandbox` does.
pub const SANDBOX_VAR: &str = "WORKBOOK_SANDBOX";

/// The limits every program under test starts with, unless its check sets its own of the same
/// kind. Each far above what a correct program of any lesson uses (200 threads of 8 MiB stacks
/// are 1.6 GiB of data; the event loop of lesson 07 holds a few hundred descriptors).
pub const DEFAULT_LIMITS: [Limit; 5] = [
    Limit::CpuSeconds(120),
    Limit::Data(3 << 30),
    Limit::FileSize(64 << 20),
    Limit::OpenFiles(4096),
    Limit::Processes(1024),
];

/// The variables a program under test inherits (a name ending in `*` is a prefix); every other
/// one is removed. `HOME` and `TMPDIR` are set to its scratch directory.
pub const KEPT_VARIABLES: [&str; 13] = [
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TZ",
    "PYTHON*",
    "PYENV*",
    "WORKBOOK_*",
    "RUST_BACKTRACE",
    "RUST_LOG",
    "CARGO_TARGET_DIR",
    "NO_COLOR",
    "USER",
];

/// The system's folders: read and executed by every program (those that exist).
pub(crate) const SYSTEM_READ: [&str; 11] = [
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix", "/snap",
];
/// The folders every user shares: never opened by a word of a command line (`python3 x.py /tmp`),
/// nor is a folder holding one (`/`, `/var`, `/dev`). Each program's scratch folder is its `/tmp`.
pub(crate) const SHARED: [&str; 4] = ["/", "/tmp", "/var/tmp", "/dev/shm"];
/// The devices every program may read and write.
const DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turn the sandbox on or off for every program started from now on (`grade --no-sandbox`).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::SeqCst);
}

/// Whether programs start in the sandbox: on unless [`set_enabled`]`(false)` or
/// [`SANDBOX_VAR`]`=off` (or `0`, `no`, `false`).
pub fn enabled() -> bool {
    let off_by_var =
        std::env::var(SANDBOX_VAR).is_ok_and(|v| matches!(v.trim(), "off" | "0" | "no" | "false"));
    cfg!(target_os = "linux") && ENABLED.load(Ordering::SeqCst) && !off_by_var
}

/// The Landlock ABI version the kernel offers (0: none).
pub fn landlock_abi() -> i32 {
    #[cfg(target_os = "linux")]
    {
        const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
        // SAFETY: with a null attribute and size 0, this call only returns the ABI version.
        let version = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<u8>(),
                0usize,
                LANDLOCK_CREATE_RULESET_VERSION,
            )
        };
        version.max(0) as i32
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// What is in force, for a scorecard's header: `landlock v7 (files, tcp bind, signals), pids
/// cgroup, rlimits, private network per check, env scrubbed` (`no private network` where none
/// can be made: see [`warning`]), or `off (--no-sandbox)`.
pub fn describe() -> String {
    if !enabled() {
        return "off (--no-sandbox)".to_string();
    }
    let abi = landlock_abi();
    let landlock = match abi {
        0 => "no landlock (kernel without it)".to_string(),
        1..=3 => format!("landlock v{abi} (files)"),
        4 | 5 => format!("landlock v{abi} (files, tcp bind)"),
        _ => format!("landlock v{abi} (files, tcp bind, signals)"),
    };
    let pids = match cgroup::available() {
        true => "pids cgroup, ",
        false => "",
    };
    let netns = match netns::available() {
        true => ", private network per check",
        false => ", no private network",
    };
    format!("{landlock}, {pids}rlimits{netns}, env scrubbed")
}

/// What the warning says where no private network can be made.
const NO_PRIVATE_NETWORK: &str = "no private network (no network namespace: a container \
    without CAP_SYS_ADMIN, or user namespaces disabled): a student program may connect to any \
    port of this machine, a classmate's server graded at the same time too (--jobs 1 runs one \
    check at a time)";

/// One line for the teacher where the kernel lacks a piece of the sandbox, else `None`.
pub fn warning() -> Option<String> {
    if !enabled() {
        return None;
    }
    let mut missing = Vec::new();
    match landlock_abi() {
        0 => missing.push(
            "this kernel has no Landlock: student programs can read and write everything you can"
                .to_string(),
        ),
        1..=3 => missing.push(
            "Landlock ABI < 4: student programs may bind any TCP port, and signal the grader"
                .to_string(),
        ),
        4 | 5 => missing.push(
            "Landlock ABI < 6: student programs may signal the grader (kill, stop)".to_string(),
        ),
        _ => {}
    }
    if !netns::available() {
        missing.push(NO_PRIVATE_NETWORK.to_string());
    }
    // SAFETY: geteuid cannot fail.
    if !cgroup::available() && unsafe { libc::geteuid() } == 0 {
        missing.push(format!(
            "no writable pids cgroup: as root, a student program may start more than {} \
             processes (RLIMIT_NPROC does not bind root)",
            cgroup::TASKS
        ));
    }
    (!missing.is_empty()).then(|| format!("warning: {}", missing.join("; ")))
}

/// A network of its own for the calling thread while the guard lives (`netns.rs`): what a check
/// runs in, so that the programs it starts meet only its own code. `Ok(None)` with the sandbox
/// off, or where no private network can be made ([`warning`] says so); an error where one
/// could be made before and not now (the check must not run outside it).
pub fn private_network() -> std::io::Result<Option<PrivateNetwork>> {
    if !enabled() || !netns::available() {
        return Ok(None);
    }
    PrivateNetwork::enter().map(Some)
}

/// What a program's sandbox holds until it has ended: its scratch directory (its `$HOME` and
/// `$TMPDIR`) and its pids cgroup, both removed when dropped.
pub(super) struct Scratch {
    dir: tempfile::TempDir,
    _pids: Option<PidsGroup>,
}

impl Scratch {
    pub(super) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remove the scratch directory (and the cgroup, once empty).
    pub(super) fn close(self) -> std::io::Result<()> {
        self.dir.close()
    }
}

/// Put `command` (the program under test, started with `target` and `args`) in the sandbox:
/// `limits` on top of [`DEFAULT_LIMITS`], a pids cgroup, the environment scrubbed, Landlock
/// rules (its network is the calling thread's: [`private_network`]). Returns the scratch
/// directory and cgroup, to keep until the program has ended.
pub(super) fn confine(
    command: &mut Command,
    target: &Target,
    args: &[&str],
    limits: &[Limit],
) -> std::io::Result<Scratch> {
    let dir = tempfile::Builder::new()
        .prefix("workbook-sandbox-")
        .tempdir()?;
    scrub_environment(command, dir.path());
    let limits = merged_limits(limits);
    let pids = PidsGroup::new(cgroup::TASKS);
    let group = pids.as_ref().map(PidsGroup::procs_fd);
    let ruleset = ruleset(target, args, dir.path());
    let mut ruleset = ruleset.ok();
    // SAFETY: the closure runs in the forked child before exec: setrlimit(2), write(2) to the
    // cgroup, prctl(2) and landlock_restrict_self(2) only (the ruleset was built in the
    // parent); no lock, no allocation on the way to success.
    unsafe {
        command.pre_exec(move || {
            for limit in &limits {
                limit.lower(None)?;
            }
            if let Some(group) = group {
                cgroup::join(group)?;
            }
            if let Some(ruleset) = ruleset.take() {
                ruleset
                    .restrict_self()
                    .map_err(|_| std::io::Error::other("landlock_restrict_self failed"))?;
            }
            Ok(())
        });
    }
    Ok(Scratch { dir, _pids: pids })
}

/// [`DEFAULT_LIMITS`] with the check's own limits in place of the defaults of the same kind,
/// each never above what this process may set (its hard limit), plus the check's others.
fn merged_limits(limits: &[Limit]) -> Vec<Limit> {
    let mut merged: Vec<Limit> = DEFAULT_LIMITS
        .iter()
        .filter(|default| !limits.iter().any(|l| l.same_kind(default)))
        .filter_map(|default| default.at_most_hard())
        .collect();
    merged.extend_from_slice(limits);
    merged
}

fn scrub_environment(command: &mut Command, scratch: &Path) {
    command.env_clear();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let kept = KEPT_VARIABLES
            .iter()
            .any(|kept| match kept.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == *kept,
            });
        if kept {
            command.env(name, value);
        }
    }
    command
        .env("HOME", scratch)
        .env("TMPDIR", scratch)
        .env("NO_COLOR", "1")
        // Python would write __pycache__ beside the program: a folder it may not write.
        .env("PYTHONDONTWRITEBYTECODE", "1");
}

/// The Landlock rules for one program: see the module's documentation. Best effort: a kernel
/// with an older ABI enforces what it knows.
fn ruleset(target: &Target, args: &[&str], scratch: &Path) -> Result<RulesetCreated, String> {
    let abi = ABI::V6;
    let read = AccessFs::from_read(abi);
    let mut rules: Vec<(PathBuf, BitFlags<AccessFs>)> = Vec::new();
    rules.extend(SYSTEM_READ.iter().map(|p| (PathBuf::from(p), read)));
    rules.extend(
        DEVICES
            .iter()
            .map(|p| (PathBuf::from(p), read | AccessFs::WriteFile)),
    );
    rules.push((scratch.to_path_buf(), AccessFs::from_all(abi)));
    rules.extend(readable_paths(target).into_iter().map(|p| (p, read)));
    let socket_rights = read | AccessFs::MakeSock | AccessFs::RemoveFile;
    rules.extend(socket_folders(args).into_iter().map(|p| (p, socket_rights)));
    rules.extend(
        named_fifos(target)
            .into_iter()
            .map(|p| (p, read | AccessFs::WriteFile)),
    );
    let mut created = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::BindTcp))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(Ruleset::create)
        .map_err(|e| e.to_string())?;
    for (path, access) in rules {
        let Ok(fd) = PathFd::new(&path) else {
            continue;
        };
        // A file takes only a file's rights.
        let access = match path.is_dir() {
            true => access,
            false => access & AccessFs::from_file(abi),
        };
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(|e| e.to_string())?;
    }
    for port in net_ports(target, args) {
        created = created
            .add_rule(NetPort::new(port, AccessNet::BindTcp))
            .map_err(|e| e.to_string())?;
    }
    created
        .add_rule(NetPort::new(0, AccessNet::BindTcp))
        .map_err(|e| e.to_string())
}

/// Every TCP port the command line names (the ports it may bind).
fn net_ports(target: &Target, args: &[&str]) -> Vec<u16> {
    ports_in(
        target
            .argv()
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied()),
    )
}

/// The ports among `words`: a word that is a port number, or ends in `:PORT`.
fn ports_in<'a>(words: impl Iterator<Item = &'a str>) -> Vec<u16> {
    let mut ports: Vec<u16> = words
        .filter_map(|w| w.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()))
        .filter(|&p| p != 0)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// What the program may read (and run) besides the system: the folder of each word of its
/// command line that names a file or folder, its interpreter (and the installation it belongs
/// to, when it sits in a `bin/` outside the system), and the workbook's own lesson binaries.
fn readable_paths(target: &Target) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let argv = target.argv();
    if let Some(program) = argv.first().and_then(|p| resolve(p)) {
        let program = program.canonicalize().unwrap_or(program);
        if let Some(prefix) = program
            .parent()
            .filter(|bin| {
                [Some(OsStr::new("bin")), Some(OsStr::new("shims"))].contains(&bin.file_name())
            })
            .and_then(Path::parent)
            .filter(|prefix| !SYSTEM_READ.iter().any(|s| prefix.starts_with(s)))
        {
            paths.push(prefix.to_path_buf());
        }
        paths.push(program);
    }
    for word in argv {
        let path = Path::new(word);
        if word.starts_with('-') || !path.exists() || is_fifo(path) {
            continue; // a named pipe opens itself (`named_fifos`), not its folder
        }
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        match path.is_dir() {
            true => paths.push(path),
            false => paths.extend(path.parent().map(Path::to_path_buf)),
        }
    }
    // `python3 x.py /tmp` (or `/tmp/notes.txt`, `/var`, `/`) must not open every user's files.
    paths.retain(|path| {
        !SHARED
            .iter()
            .any(|shared| Path::new(shared).starts_with(path))
    });
    paths.extend(lesson_binaries());
    paths.push(reference_programs());
    paths
}

/// The workbook's own Python programs (`examples/python/`), public as the book is: the wrong
/// programs of `tests/fixtures/` load them to break one piece.
pub fn reference_programs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python")
}

/// The named pipes the command line names: the teacher handed them to the program, to read
/// and write (a rendezvous between two programs, say).
fn named_fifos(target: &Target) -> Vec<PathBuf> {
    target
        .argv()
        .iter()
        .map(PathBuf::from)
        .filter(|path| is_fifo(path))
        .collect()
}

/// Whether `path` is a named pipe (`mkfifo`).
pub(crate) fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    path.metadata().is_ok_and(|m| m.file_type().is_fifo())
}

/// The folders of the paths a check hands the program in its arguments (`--unix
/// /tmp/wb08-…/08.sock`): there it may create a Unix socket, and remove one (a stale socket).
fn socket_folders(args: &[&str]) -> Vec<PathBuf> {
    args.iter()
        .filter(|word| word.contains('/'))
        .filter_map(|word| Path::new(word).parent().map(Path::to_path_buf))
        .filter(|dir| !dir.as_os_str().is_empty() && dir.is_dir())
        .collect()
}

/// `program` as `exec` would find it: a path as it is, a bare name on `$PATH`.
fn resolve(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The workbook's lesson binaries beside the running one (`target/debug/02_echo`; for a test
/// binary in `target/debug/deps/`, its parent): a student's `run` script may start them.
pub(crate) fn lesson_binaries() -> Vec<PathBuf> {
    let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    else {
        return Vec::new();
    };
    let dir = match dir.file_name() == Some(OsStr::new("deps")) {
        true => dir.parent().map(Path::to_path_buf).unwrap_or(dir),
        false => dir,
    };
    crate::checker::checks::LESSONS
        .iter()
        .map(|lesson| dir.join(lesson.name))
        .filter(|path| path.is_file())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_read_from_the_command_line() {
        let target = Target::new(["python3", "x.py"]);
        assert_eq!(
            net_ports(
                &target,
                &["client", "--port", "4000", "127.0.0.1:5000", "hello"]
            ),
            vec![4000, 5000]
        );
    }

    #[test]
    fn a_command_line_naming_tmp_does_not_open_it() {
        let target = Target::new(["python3", "/tmp", "/", "/var", "/dev/shm"]);
        let paths = readable_paths(&target);
        for shared in [&SHARED[..], &["/var", "/dev"]].concat() {
            assert!(!paths.contains(&PathBuf::from(shared)), "{paths:?}");
        }
    }

    #[test]
    fn a_check_limit_replaces_the_default_of_its_kind() {
        let merged = merged_limits(&[Limit::OpenFiles(64)]);
        assert!(merged.contains(&Limit::OpenFiles(64)));
        assert!(!merged.contains(&Limit::OpenFiles(4096)));
    }
}
