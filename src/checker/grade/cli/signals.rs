//! Ctrl-C, SIGTERM and SIGHUP: `grade` kills every program it started, and whatever escaped
//! their process groups, then exits 128+N.

use crate::checker::harness::{self, reaper};

/// On Ctrl-C (SIGINT), SIGTERM or SIGHUP: kill every program under test and anything it left,
/// then exit 128+N. Without this a signal would end `grade` without running `Drop`, and the
/// programs, each in a process group of its own, would never hear the terminal's Ctrl-C.
pub fn stop_on_signals() {
    // Once per process: `--watch` grades again and again.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(stop_on_signals_now);
}

/// The scorecards of the programs graded so far, as text: printed if a signal stops `grade`,
/// so that a stopped class run keeps what it had finished.
static FINISHED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Keep `scorecard` (text) until grading ends: a signal prints every one kept.
pub fn finished(scorecard: String) {
    FINISHED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(scorecard);
}

/// Forget the scorecards kept by [`finished`]: a new round of grading starts (`--watch`).
pub fn new_round() {
    FINISHED.lock().unwrap_or_else(|p| p.into_inner()).clear();
}

/// Set by the signal thread before it kills anything; the process ends with its exit.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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
            let kept = FINISHED.lock().unwrap_or_else(|p| p.into_inner());
            if !kept.is_empty() {
                use std::io::Write as _;
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "graded before the signal:");
                for card in kept.iter() {
                    let _ = stdout.write_all(card.as_bytes());
                }
                let _ = stdout.flush();
            }
            eprintln!("grade: stopped by signal {signal}; every program it started is gone");
            std::process::exit(128 + signal);
        }
    });
}
