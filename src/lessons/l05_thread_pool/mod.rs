//! # Lesson 05 — a fixed pool of worker threads
//!
//! Lesson 04 starts a thread for every client, so a thousand idle clients cost a thousand
//! threads. Here a fixed number of workers (`--workers N`, default 4) serves every client, so at
//! most N are served at once and the rest wait. There are two classic ways to build it, chosen
//! with `--model`:
//!
//! - `accept` (the course's): each worker owns a handle to the one listening socket and calls
//!   `accept()` itself. While all N are busy nobody accepts, and new clients wait in the
//!   kernel's listen backlog.
//! - `queue` (the Rust Book's `ThreadPool`, in `pool.rs`): one thread accepts and hands
//!   each connection to the workers through a bounded queue, where clients wait their turn.
//!
//! Both stop gracefully — on Ctrl-C, on SIGTERM, or after `--exit-after K` connections: stop
//! accepting, let every worker finish the client it is serving, join each worker (one line per
//! worker as it stops), exit 0. No echo is cut off.
//!
//! The wire contract (echo, `--upper`, the client) is lesson 02's, and so is the code: each worker
//! runs lesson 02's loop (`lessons::l02_echo::server::echo_until_closed`), and the client is
//! lesson 02's client.
//!
//! Run it:
//!
//! ```text
//! cargo run --bin 05_thread_pool                                    # demo: 2 workers, 3 clients
//! cargo run --bin 05_thread_pool -- demo --model queue              # the same with a queue
//! cargo run --bin 05_thread_pool -- server --workers 2              # terminal 1
//! nc -N 127.0.0.1 7005                                              # terminals 2, 3 and 4:
//! cargo run --bin 05_thread_pool -- client                          #   the third one waits
//! ```
//!
//! Where the calls are: `server.rs` — the two designs (`accept_model`, `queue_model`), then how
//! they stop (`stop_on_signals`); the queue design's pool is `pool.rs`; `client.rs` is lesson 02's
//! client. The command line is in `cli.rs`, the demo in `demo.rs`. The page:
//! `lessons/05_thread_pool.md`.

pub const NAME: &str = "05_thread_pool";
pub const PORT: u16 = super::port_of(NAME);

pub mod cli;
pub mod client;
pub mod demo;
pub mod pool;
pub mod server;
