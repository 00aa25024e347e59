//! Nothing the grader started outlives it.
//!
//! Each program under test runs in a process group of its own, which the harness kills when the
//! check ends (children included). A program can still escape: a child that calls `setsid()`
//! (a daemon) leaves the group. On Linux the grader makes itself a *child subreaper*
//! ([`adopt_orphans`]): an escaped process whose parent dies is re-parented to the grader
//! instead of to init. Once every check is done, whatever is still the grader's child escaped,
//! and [`sweep_all`] kills and reaps it. (Not before: an escaped server may still be serving its
//! check, exactly as it would under `cargo test`.)
//!
//! It lives with the harness because the harness is the only process runner: it alone knows
//! which children are programs under test still in its hands ([`live_process_groups`]).

use super::live_process_groups;

/// Ask Linux to re-parent orphaned descendants to this process (`PR_SET_CHILD_SUBREAPER`).
/// Returns whether that worked (elsewhere: false, and escapes are not caught).
pub fn adopt_orphans() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes plain integers and touches no memory.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// The pids of this process's children, from `/proc/PID/stat` (Linux).
pub fn children() -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| parent(&stat))
                == Some(me)
        })
        .collect()
}

/// The parent pid in a `/proc/PID/stat` line (`pid (comm) state ppid …`; comm may hold
/// spaces and parentheses, so parse after the last `)`).
pub fn parent(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Kill and reap every child of this process that is not a program under test still in the
/// harness's hands (all of them, with `everything`). `wait`: block until each is reaped
/// (else reap only those already dead). Returns how many it found.
///
/// Call it only when no check is running: a check may start a program the harness does not
/// track, and it would be taken for a stray.
pub fn sweep(everything: bool, wait: bool) -> usize {
    let found = children();
    // Read the live groups *after* listing: the harness spawns and registers under one
    // lock, so every harness child we listed is registered by now.
    let live = if everything {
        Vec::new()
    } else {
        live_process_groups()
    };
    let mut swept = 0;
    for pid in found {
        if live.contains(&(pid as u32)) {
            continue;
        }
        swept += 1;
        // SAFETY: kill(2) and waitpid(2) on our own child; no memory is shared.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(pid, &mut status, if wait { 0 } else { libc::WNOHANG });
        }
    }
    swept
}

/// Sweep until no stray child is left (each round may orphan the children of the last).
pub fn sweep_all(everything: bool) {
    for _ in 0..100 {
        if sweep(everything, true) == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_parents_parse_past_odd_names() {
        assert_eq!(parent("42 (a) b (c)) S 7 42 42 0"), Some(7));
        assert_eq!(parent("garbage"), None);
    }
}
