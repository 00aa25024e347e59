//! A fixed-size thread pool: `N` named worker threads take jobs from one bounded queue.
//!
//! This is lesson 05's `queue` design — the `ThreadPool` of the Rust Book's final chapter — made
//! fit for a server and documented for reuse (lesson 06 needs a different shape, see its page):
//!
//! - **The queue is bounded.** [`ThreadPool::execute`] blocks while the queue is full. A server
//!   that accepts a connection and then calls `execute` therefore stops accepting when every
//!   worker is busy and the queue is full, and new clients wait in the kernel's listen backlog
//!   instead of piling up in our memory. (The Book's unbounded channel grows without limit when
//!   jobs arrive faster than workers finish them.)
//! - **A panicking job does not shrink the pool.** Each job runs under `catch_unwind`; the
//!   worker counts the panic and takes the next job.
//! - **Shutdown is graceful and visible.** [`ThreadPool::join_with`] closes the queue, lets the
//!   workers finish every job already queued, and reports each worker as it stops. Dropping the
//!   pool does the same, silently.
//! - **Its state can be narrated.** [`ThreadPool::busy`] and [`ThreadPool::waiting`] say how
//!   many workers are running a job and how many jobs wait for one.
//!
//! ```
//! use std::sync::mpsc;
//! use workbook::lessons::l05_thread_pool::pool::ThreadPool;
//!
//! let pool = ThreadPool::new(2, 8).expect("threads start");
//! let (results, collected) = mpsc::channel();
//! for n in 1..=5 {
//!     let results = results.clone();
//!     pool.execute(move || results.send(n * n).unwrap()).expect("the pool is running");
//! }
//! let stopped = pool.join(); // waits until all five jobs have run
//! assert_eq!(stopped.iter().map(|w| w.jobs).sum::<usize>(), 5);
//! drop(results);
//! assert_eq!(collected.iter().sum::<i32>(), 1 + 4 + 9 + 16 + 25);
//! ```

use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

// ANCHOR: pool_types
/// A job: any closure a worker can run once, on its own thread.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed number of worker threads sharing one bounded queue of jobs.
pub struct ThreadPool {
    workers: Vec<(String, JoinHandle<()>)>,
    /// The sending end of the queue; `None` once the pool is shutting down, which is how the
    /// workers learn that no more jobs will come.
    queue: Option<SyncSender<Job>>,
    /// Each worker reports here as its last act, so we can say which stopped when. (In a
    /// mutex only so that a `&ThreadPool` can be shared between threads.)
    stopped: Mutex<Receiver<Stopped>>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    waiting: AtomicUsize,
    busy: AtomicUsize,
}

/// What a worker did, reported when it stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// 1 to N, in the order the workers were started.
    pub id: usize,
    /// The thread's name, `worker-1` … `worker-N`.
    pub name: String,
    /// How many jobs it ran (including those that panicked).
    pub jobs: usize,
    /// How many of its jobs panicked.
    pub panics: usize,
}

// ANCHOR_END: pool_types

// ANCHOR: pool_start
impl ThreadPool {
    /// Start `size` workers, named `worker-1` … `worker-N`, sharing a queue that holds at most
    /// `capacity` jobs not yet picked up (0: a job is handed straight to an idle worker, and
    /// `execute` waits for one).
    ///
    /// Fails if `size` is 0 or a thread cannot be started.
    pub fn new(size: usize, capacity: usize) -> io::Result<ThreadPool> {
        if size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a thread pool needs at least one worker",
            ));
        }
        let (queue, jobs) = mpsc::sync_channel::<Job>(capacity);
        // One receiver, many workers: the mutex lets exactly one idle worker wait in recv() at
        // a time; the others wait for the mutex. Either way each job goes to one worker.
        let jobs = Arc::new(Mutex::new(jobs));
        let (report, stopped) = mpsc::channel();
        let counts = Arc::new(Counts::default());
        let mut pool = ThreadPool {
            workers: Vec::with_capacity(size),
            queue: Some(queue),
            stopped: Mutex::new(stopped),
            counts,
        };
        for id in 1..=size {
            let name = format!("worker-{id}");
            let (jobs, report, counts) = (jobs.clone(), report.clone(), pool.counts.clone());
            let thread = thread::Builder::new()
                .name(name.clone())
                .spawn(move || work(id, &jobs, &counts, &report))?;
            // On an early return (`?` above) the pool is dropped: the workers already started
            // see the queue close, and are joined.
            pool.workers.push((name, thread));
        }
        Ok(pool)
    }

    /// Queue `job` for the next free worker. Blocks while the queue is full.
    ///
    /// Fails only if every worker has stopped, which cannot happen while the pool is alive
    /// (a panicking job does not stop its worker).
    pub fn execute<F>(&self, job: F) -> Result<(), Closed>
    where
        F: FnOnce() + Send + 'static,
    {
        let queue = self.queue.as_ref().ok_or(Closed)?;
        self.counts.waiting.fetch_add(1, Ordering::SeqCst);
        queue.send(Box::new(job)).map_err(|_| {
            self.counts.waiting.fetch_sub(1, Ordering::SeqCst);
            Closed
        })
    }

    // ANCHOR_END: pool_start

    // ANCHOR: pool_stop
    /// The number of workers.
    pub fn size(&self) -> usize {
        self.workers.len()
    }

    /// How many workers are running a job right now.
    pub fn busy(&self) -> usize {
        self.counts.busy.load(Ordering::SeqCst)
    }

    /// How many jobs were queued and not yet picked up by a worker (including one that
    /// `execute` is still waiting to queue).
    pub fn waiting(&self) -> usize {
        self.counts.waiting.load(Ordering::SeqCst)
    }

    /// Close the queue, let the workers finish every job already queued, and join them all.
    /// Calls `report` once per worker, in the order they stop, and returns the same reports.
    pub fn join_with(mut self, mut report: impl FnMut(&Stopped)) -> Vec<Stopped> {
        self.shut_down(&mut report)
    }

    /// [`ThreadPool::join_with`] without a report callback.
    pub fn join(self) -> Vec<Stopped> {
        self.join_with(|_| {})
    }

    fn shut_down(&mut self, report: &mut dyn FnMut(&Stopped)) -> Vec<Stopped> {
        // Dropping the only sender closes the queue: once it is empty, every worker's recv()
        // fails and the worker stops. Jobs already queued still run first.
        drop(self.queue.take());
        let mut all = Vec::with_capacity(self.workers.len());
        // Each worker sends its report as its very last act, so they arrive in stopping order.
        // The channel ends when every worker's sender is gone, even one that never reported.
        let reports = self
            .stopped
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        while let Ok(stopped) = reports.recv() {
            if let Some(at) = self.workers.iter().position(|(n, _)| *n == stopped.name) {
                let (_, thread) = self.workers.swap_remove(at);
                let _ = thread.join();
            }
            report(&stopped);
            all.push(stopped);
        }
        for (_, thread) in self.workers.drain(..) {
            let _ = thread.join();
        }
        all
    }
}

impl Drop for ThreadPool {
    /// Dropping the pool shuts it down like [`ThreadPool::join`]: it waits for queued jobs.
    fn drop(&mut self) {
        self.shut_down(&mut |_| {});
    }
}

// ANCHOR_END: pool_stop

// ANCHOR: pool_worker
/// One worker's life: take a job, run it, repeat until the queue is closed and empty.
fn work(id: usize, jobs: &Mutex<Receiver<Job>>, counts: &Counts, report: &Sender<Stopped>) {
    let name = thread::current().name().unwrap_or("worker").to_string();
    let mut done = Stopped {
        id,
        name,
        jobs: 0,
        panics: 0,
    };
    loop {
        // The lock guard is a temporary of this statement: it is released as soon as recv()
        // returns, so other workers can take the next job while this one runs its job.
        let next = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = next else {
            break; // the queue is closed and empty: the pool is shutting down
        };
        counts.waiting.fetch_sub(1, Ordering::SeqCst);
        counts.busy.fetch_add(1, Ordering::SeqCst);
        if catch_unwind(AssertUnwindSafe(job)).is_err() {
            done.panics += 1;
        }
        counts.busy.fetch_sub(1, Ordering::SeqCst);
        done.jobs += 1;
    }
    let _ = report.send(done);
}
// ANCHOR_END: pool_worker

/// [`ThreadPool::execute`] failed: no worker is left to run the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the thread pool has no running workers")
    }
}

impl std::error::Error for Closed {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::time::Duration;

    #[test]
    fn every_job_runs_exactly_once() {
        let pool = ThreadPool::new(3, 4).unwrap();
        let (tx, rx) = mpsc::channel();
        for n in 0..50 {
            let tx = tx.clone();
            pool.execute(move || tx.send(n).unwrap()).unwrap();
        }
        let stopped = pool.join();
        drop(tx);
        let mut got: Vec<i32> = rx.iter().collect();
        got.sort_unstable();
        assert_eq!(got, (0..50).collect::<Vec<_>>());
        assert_eq!(stopped.iter().map(|s| s.jobs).sum::<usize>(), 50);
    }

    #[test]
    fn zero_workers_is_an_error() {
        let err = ThreadPool::new(0, 1).err().expect("must fail");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn runs_n_jobs_at_once_and_never_more() {
        let pool = ThreadPool::new(2, 16).unwrap();
        // Both workers must be inside a job at the same time to pass this barrier…
        let together = Arc::new(Barrier::new(3));
        for _ in 0..2 {
            let together = together.clone();
            pool.execute(move || {
                together.wait();
            })
            .unwrap();
        }
        together.wait();
        // …and no more than two are ever inside one.
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        for _ in 0..40 {
            let (now, most) = (now.clone(), most.clone());
            pool.execute(move || {
                let inside = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(inside, Ordering::SeqCst);
                thread::yield_now();
                now.fetch_sub(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        pool.join();
        assert!(most.load(Ordering::SeqCst) <= 2);
    }

    #[test]
    fn join_finishes_queued_jobs_and_reports_each_worker_once() {
        let pool = ThreadPool::new(2, 10).unwrap();
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let (gate, ran) = (gate.clone(), ran.clone());
            pool.execute(move || {
                let _ = gate.lock().unwrap().recv();
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        // Ending the gate lets every job through; join must still wait for all ten.
        drop(release);
        let mut reported = Vec::new();
        let stopped = pool.join_with(|s| reported.push(s.name.clone()));
        assert_eq!(ran.load(Ordering::SeqCst), 10);
        reported.sort();
        assert_eq!(reported, ["worker-1", "worker-2"]);
        assert_eq!(stopped.len(), 2);
    }

    #[test]
    fn a_panicking_job_does_not_stop_its_worker() {
        let pool = ThreadPool::new(1, 2).unwrap();
        pool.execute(|| panic!("this job fails (on purpose, in a test)"))
            .unwrap();
        let (tx, rx) = mpsc::channel();
        pool.execute(move || tx.send("still working").unwrap())
            .unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok("still working"));
        let stopped = pool.join();
        assert_eq!((stopped[0].jobs, stopped[0].panics), (2, 1));
    }

    #[test]
    fn counts_busy_workers_and_waiting_jobs() {
        let pool = ThreadPool::new(1, 4).unwrap();
        let (started, running) = mpsc::channel();
        let (release, gate) = mpsc::channel::<()>();
        pool.execute(move || {
            started.send(()).unwrap();
            let _ = gate.recv();
        })
        .unwrap();
        running.recv_timeout(Duration::from_secs(5)).unwrap();
        pool.execute(|| {}).unwrap();
        pool.execute(|| {}).unwrap();
        assert_eq!((pool.busy(), pool.waiting()), (1, 2));
        drop(release);
        pool.join();
    }

    #[test]
    fn execute_blocks_while_the_queue_is_full() {
        let pool = Arc::new(ThreadPool::new(1, 1).unwrap());
        let (started, running) = mpsc::channel();
        let (release, gate) = mpsc::channel::<()>();
        pool.execute(move || {
            started.send(()).unwrap();
            let _ = gate.recv();
        })
        .unwrap();
        running.recv_timeout(Duration::from_secs(5)).unwrap();
        pool.execute(|| {}).unwrap(); // fills the queue of one
        let (queued, third_queued) = mpsc::channel();
        let submitter = {
            let pool = pool.clone();
            thread::spawn(move || {
                pool.execute(|| {}).unwrap();
                queued.send(()).unwrap();
            })
        };
        // A bounded wait for something that must not happen: the third job cannot be queued
        // while the worker is busy and the queue is full.
        assert!(
            third_queued
                .recv_timeout(Duration::from_millis(200))
                .is_err()
        );
        drop(release);
        third_queued.recv_timeout(Duration::from_secs(5)).unwrap();
        submitter.join().unwrap();
    }
}
