//! Ctrl-C, SIGTERM and SIGHUP: `grade` kills every program it started, and whatever escaped
//! their process groups, shows the results finished before the signal ([`kept`](super::kept)),
//! then exits 128+N.

use crate::checker::harness::{self, reaper};

/// On Ctrl-C (SIGINT), SIGTERM or SIGHUP: kill every program under test and anything it left,
/// then exit 128+N. Without this a signal would end `grade` without running `Drop`, and the
/// programs, each in a process group of its own, would never hear the terminal's Ctrl-C.
pub fn stop_on_signals() {
    // Once per process: `--watch` grades again and again.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(stop_on_signals_now);
}

/// Set by the signal thread before it kills anything; the process ends with its exit.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a signal has come (grading is being stopped).
pub fn stopping() -> bool {
    STOPPING.load(std::sync::atomic::Ordering::SeqCst)
}

/// If a signal has come, wait for the signal thread to end the process (exit 128+N).
pub fn wait_if_stopping() {
    while STOPPING.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::park();
    }
}

fn stop_on_signals_now() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
            harness::kill_all();
            reaper::sweep_all(true);
            // What was finished is printed, and with --output written (it already is, as each
            // program finished); the programs not finished are marked so.
            super::kept::on_signal(signal);
            eprintln!("grade: stopped by signal {signal}; every program it started is gone");
            std::process::exit(128 + signal);
        }
    });
}
