//! # A socket-programming workbook
//!
//! One narrated binary per lesson, a book, and checks that grade any program — ours or a
//! student's, in any language — through the same command-line and wire contract.
//!
//! # Layout
//!
//! Two readers, two rooms. A learner reads a lesson's binary and, at most, the kit; a grader
//! reads the checker. Nothing in [`kit`] imports from [`checker`].
//!
//! [`kit`] — what the lessons share (the learner's side):
//! - [`kit::cli`] — the `--host`/`--port`/`-q` flags every lesson flattens in, default ports, resolving.
//! - [`kit::narrate`] — the numbered story of each socket call, on stderr, coloured on a terminal.
//! - [`kit::errors`] — `error: …` plus a `hint: …` a beginner can act on; exit codes.
//! - [`kit::net`] — `listen` (socket + bind + listen) and `connect`, narrated, written once for 02–06;
//!   `accept_retrying`, which waits out running out of descriptors (04–06).
//! - [`kit::backoff`] — a delay doubling from 10 ms to 1 s: how a server waits out a shortage.
//! - [`kit::echo`] — lesson 02's echo loop and client: one copy, used by 02, 04 and 05.
//! - [`kit::shutdown`] — graceful stop on Ctrl-C, SIGTERM or `--exit-after K`; waking `accept()`.
//! - [`kit::pool`] — the fixed-size thread pool of lesson 05 (the `queue` design).
//! - [`kit::chat_demo`] — the client the demos of 06 and 07 talk through, and their burst.
//! - [`kit::chat_text`] — what the chat room lets through (06, 07): controls made visible, names.
//! - [`kit::framing`] — lesson 08's frame: a 2-byte big-endian length, a JSON header, content; limits.
//!
//! [`checker`] — what `cargo test` and `grade` use (the grader's side), layered bottom-up:
//! - [`checker::evidence`] — `Failure` and `Outcome`: what a check returns; imports nothing above it.
//! - [`checker::harness`] — the only process runner: kill-on-drop process groups, `listening on`,
//!   bounded reads, TCP/UDP probes and stubs, the reaper that `grade` empties on Ctrl-C.
//! - [`checker::checks`] — every lesson's checks, declared once (`l01_time_server` … ).
//! - [`checker::grade`] — scorecards, class tables, JSON/CSV/JUnit, student folders.
//!
//! Binaries (`src/bin/`), one per lesson; each `main.rs` opens with the lesson's socket calls in
//! the order the course teaches them, and keeps its CLI, demo and client beside it:
//! - `01_time_server` — iterative TCP server: socket, bind, listen, accept, send, close.
//! - `02_echo` — TCP echo server and client; a read is not a message.
//! - `03_udp` — UDP echo server, client with retries, and `ping` to make loss visible.
//! - `04_threaded` — the echo contract, one thread per connection.
//! - `05_thread_pool` — the echo contract, a fixed pool of workers (two designs), graceful stop.
//! - `06_group_chat` — a line-based chat room that a stalled reader cannot stall.
//! - `07_event_loop` — lesson 06's chat on one thread: non-blocking sockets and a `mio` poller.
//! - `08_protocol` — request/response frames over TCP or a Unix socket; errors, limits.
//! - `grade` — the grading tool (not a lesson).
//! - `bench` — the load tool: echo, connect, udp and chat load, and the side-by-side suite.

pub mod checker;
pub mod kit;
pub mod lessons;
