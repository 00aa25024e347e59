//! Graceful shutdown: Ctrl-C (SIGINT), SIGTERM, or "after K connections" (on Windows: Ctrl-C
//! or Ctrl-Break, which are console events, not signals).
//!
//! A server blocked in `accept()` does not notice a flag being set, so stopping cleanly takes two
//! steps: set a flag that every loop checks, then *wake* whatever is blocked. [`Stop`] does both:
//! [`Stop::stop`] sets the flag and runs the wake-up hooks registered with [`Stop::on_stop`] (the
//! usual one, [`Stop::wake_listener`], connects to the server's own listening address so that its
//! `accept()` returns). Workers then finish the client they are serving and exit.
//!
//! A second Ctrl-C while shutting down exits at once with status 130, the shell's convention for
//! "killed by SIGINT", for when a learner does not want to wait.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

type Hook = Box<dyn FnOnce() + Send>;

/// A shared "please stop" flag with wake-up hooks. Clones share the same flag.
#[derive(Clone, Default)]
pub struct Stop {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    stopped: AtomicBool,
    hooks: Mutex<Vec<Hook>>,
    /// `--exit-after K`: stop once this many connections were accepted (0: no limit).
    limit: AtomicU64,
    accepted: AtomicU64,
}

impl Stop {
    /// A flag that is not set yet.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Call [`Stop::stop`] when the process receives SIGINT or SIGTERM (on Windows: Ctrl-C or
    /// Ctrl-Break). A second one exits the process at once with status 130.
    pub fn on_signals(&self) -> Result<()> {
        self.watch_signals()
    }

    // Unix: the kernel delivers a *signal* (SIGINT from Ctrl-C, SIGTERM from `kill`). A signal
    // handler may do almost nothing safely, so signal-hook's handler only writes to a pipe, and
    // a thread of ours reads the pipe and does the real work with no restrictions.
    #[cfg(unix)]
    fn watch_signals(&self) -> Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .context("failed to install signal handlers")?;
        let stop = self.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if stop.is_stopped() {
                        std::process::exit(130);
                    }
                    let name = if signal == SIGINT { "SIGINT (Ctrl-C)" } else { "SIGTERM" };
                    eprintln!("received {name}: finishing the clients being served, then exiting (again to exit now)");
                    stop.stop();
                }
            })
            .context("failed to start the signal thread")?;
        Ok(())
    }

    // Windows has no signals: Ctrl-C and Ctrl-Break in the console are *console control events*,
    // and Windows runs the handler on a new thread of its own, so it may do anything. There is
    // no SIGTERM either: `taskkill /F` (and Task Manager) end a process with no notice at all,
    // so only the console's events can stop a server gracefully. The `ctrlc` crate installs the
    // handler (SetConsoleCtrlHandler).
    #[cfg(windows)]
    fn watch_signals(&self) -> Result<()> {
        let stop = self.clone();
        ctrlc::set_handler(move || {
            if stop.is_stopped() {
                std::process::exit(130);
            }
            eprintln!("received Ctrl-C: finishing the clients being served, then exiting (again to exit now)");
            stop.stop();
        })
        .context("failed to install the Ctrl-C handler")
    }

    /// `--exit-after K`, the test hook that lets a demo or a check end a server: stop after the
    /// K-th accepted connection (see [`Stop::accepted`]). `None` never stops this way;
    /// `Some(0)` stops at once.
    pub fn after(self, limit: Option<u64>) -> Stop {
        match limit {
            Some(0) => self.stop(),
            Some(k) => self.inner.limit.store(k, Ordering::SeqCst),
            None => {}
        }
        self
    }

    /// Count one accepted connection and return its number (1, 2, …). The K-th connection of
    /// [`Stop::after`] sets the flag — it is still served; the loop ends when it next checks
    /// [`Stop::is_stopped`].
    pub fn accepted(&self) -> u64 {
        let n = self.inner.accepted.fetch_add(1, Ordering::SeqCst) + 1;
        let limit = self.inner.limit.load(Ordering::SeqCst);
        if limit > 0 && n >= limit {
            self.stop();
        }
        n
    }

    /// Whether the stop came from [`Stop::after`]'s limit: the K-th connection was accepted.
    /// A server whose clients stay connected (a chat room) then serves them until they leave,
    /// where a signal would close them at once.
    pub fn limit_reached(&self) -> bool {
        let limit = self.inner.limit.load(Ordering::SeqCst);
        limit > 0 && self.inner.accepted.load(Ordering::SeqCst) >= limit
    }

    /// How many connections [`Stop::accepted`] has counted.
    pub fn accepted_so_far(&self) -> u64 {
        self.inner.accepted.load(Ordering::SeqCst)
    }

    /// Set the flag and run every wake-up hook (once; later calls do nothing).
    pub fn stop(&self) {
        if self.inner.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        let hooks =
            std::mem::take(&mut *self.inner.hooks.lock().unwrap_or_else(|p| p.into_inner()));
        for hook in hooks {
            hook();
        }
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// Run `hook` when a stop is asked for (at once if it already was).
    pub fn on_stop(&self, hook: impl FnOnce() + Send + 'static) {
        if self.is_stopped() {
            hook();
            return;
        }
        self.inner
            .hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(hook));
        // A stop may have landed between the check and the push: run what is left.
        if self.is_stopped() {
            let hooks =
                std::mem::take(&mut *self.inner.hooks.lock().unwrap_or_else(|p| p.into_inner()));
            for hook in hooks {
                hook();
            }
        }
    }

    /// On stop, connect once to `addr` so that a thread blocked in `accept()` on it wakes up and
    /// sees the flag. `times` connections for `times` threads blocked in accept (the 05 pool's
    /// `accept` model has one per worker). An unspecified address (0.0.0.0, ::) is reached
    /// through loopback.
    pub fn wake_listener(&self, addr: SocketAddr, times: usize) {
        let mut target = addr;
        if target.ip().is_unspecified() {
            target.set_ip(if addr.is_ipv4() {
                [127, 0, 0, 1].into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        self.on_stop(move || {
            for _ in 0..times {
                // If the listener is already gone the connect fails: then nobody is blocked.
                let _ = TcpStream::connect_timeout(&target, Duration::from_secs(1));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_k_connections_the_flag_is_set() {
        let stop = Stop::new().after(Some(2));
        assert_eq!(stop.accepted(), 1);
        assert!(!stop.is_stopped());
        assert!(!stop.limit_reached());
        assert_eq!(stop.accepted(), 2);
        assert!(stop.is_stopped());
        assert!(stop.limit_reached());
        assert!(Stop::new().after(Some(0)).is_stopped());
        let unlimited = Stop::new().after(None);
        for _ in 0..100 {
            unlimited.accepted();
        }
        assert!(!unlimited.is_stopped());
        assert_eq!(unlimited.accepted_so_far(), 100);
    }
    use std::net::TcpListener;

    #[test]
    fn stop_runs_hooks_once_and_late_hooks_at_once() {
        let stop = Stop::new();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = count.clone();
        stop.on_stop(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        assert!(!stop.is_stopped());
        stop.stop();
        stop.stop();
        assert!(stop.is_stopped());
        assert_eq!(count.load(Ordering::SeqCst), 1);
        let c = count.clone();
        stop.on_stop(move || {
            c.fetch_add(10, Ordering::SeqCst);
        });
        assert_eq!(count.load(Ordering::SeqCst), 11);
    }

    #[test]
    fn wake_listener_unblocks_accept() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stop = Stop::new();
        stop.wake_listener(listener.local_addr().unwrap(), 1);
        let stopper = stop.clone();
        let waiter = std::thread::spawn(move || {
            let _ = listener.accept();
            stopper.is_stopped()
        });
        stop.stop();
        assert!(
            waiter.join().unwrap(),
            "accept returned because of the stop"
        );
    }
}
