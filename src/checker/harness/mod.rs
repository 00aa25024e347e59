//! Running a program under test without surprises.
//!
//! Every check runs a *target*: a command line, either the built lesson binary or whatever a
//! teacher put in `WORKBOOK_TARGET_<LESSON>` (`python3 ana/echo.py`). This module starts it and
//! makes sure nothing can hang or leak. One concept a file:
//!
//! - `target` — the [`Target`]: its words, the override variable, its `Command`;
//! - `process` — a [`Process`] kills its whole process group when dropped, so a failing check
//!   never leaves a server (or a student's forked children) behind; [`kill_all`] kills every
//!   program still running, for a tool interrupted by Ctrl-C (a signal skips `Drop`);
//! - `server` — [`Server::start`] waits for the `listening on ADDR` line — an event, never a
//!   sleep — with a deadline, and keeps draining stdout and stderr so a chatty program cannot
//!   block on a pipe; `unix_server` the same for a Unix socket ([`UnixServer`]);
//! - `run` — a program run to completion ([`Finished`]); [`run_with`] can play a user
//!   at a terminal ([`Input::Script`]): type a line, wait for the answer on stdout (bounded, and
//!   woken by the output itself), press Ctrl-D;
//! - `wire` — bounded connects, reads and writes; TCP/UDP probes and stubs;
//! - [`sandbox`] — what every program starts inside (Landlock, rlimits, a scrubbed environment),
//!   with `cgroup` (a pids cgroup of its own: a process limit that binds root) and `netns` (a
//!   network of its own for every check);
//! - [`preflight`] — whether a program starts at all, before any check runs;
//! - [`reaper`] — what escaped a process group, found and killed.
//!
//! Every read and connect has a timeout, every capture a size limit, every run a deadline, all
//! multiplied by [`timeout_scale`].

use std::time::Duration;

mod cgroup;
mod netns;
pub mod preflight;
mod process;
pub mod reaper;
mod run;
pub mod sandbox;
mod server;
mod target;
mod unix_server;
mod wire;

pub use process::{Limit, Process, kill_all, live_process_groups};
pub use run::{Finished, Input, Step, run, run_with};
pub use server::Server;
pub use target::Target;
pub use unix_server::UnixServer;
pub use wire::{
    Delivery, RESET, RefusingPort, TcpStub, connect, describe_io, exchange, io_failure, read_exact,
    read_to_end, refusing_port, send_in_pieces, udp_socket, wait_until_read,
};

/// How long a server may take to print `listening on ADDR`.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any single connect, read or write may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client or demo run may take before it is killed.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a killed program's output may take to reach end of file before its reader is left
/// behind (only a process that escaped the group can keep the pipe open that long).
pub const READER_GRACE: Duration = Duration::from_secs(1);
/// The variable that multiplies every timeout of the checks, for a slow or busy machine:
/// `WORKBOOK_TIMEOUT_SCALE=3 cargo test`. Unset (or not a number from 1 to 100): 1.
pub const TIMEOUT_SCALE_VAR: &str = "WORKBOOK_TIMEOUT_SCALE";

/// The factor from [`TIMEOUT_SCALE_VAR`], read once.
pub fn timeout_scale() -> f64 {
    static SCALE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *SCALE.get_or_init(|| {
        std::env::var(TIMEOUT_SCALE_VAR)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|f| (1.0..=100.0).contains(f))
            .unwrap_or(1.0)
    })
}

/// `timeout` times [`timeout_scale`]: every wait of the harness and the checks goes through it,
/// so a loaded machine gets more time without a check becoming less strict.
pub fn scaled(timeout: Duration) -> Duration {
    timeout.mul_f64(timeout_scale())
}

/// The stack limit (`ulimit -s`) of a server started by [`Server::start_with_address_space_room`]:
/// the usual default, and the stack of each new thread in C and Python programs.
pub const THREAD_STACK: u64 = 8 << 20;

/// How much of a program's stdout or stderr is kept (the rest is read and counted, not kept).
pub const KEEP_BYTES: usize = 1 << 20;

#[cfg(test)]
mod tests;
