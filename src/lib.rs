//! # A socket-programming workbook
//!
//! One narrated binary per lesson, a book, and checks that grade any program — ours or a
//! student's, in any language — through the same command-line and wire contract.
//!
//! # Layout
//!
//! Library (only what several lessons share; a lesson's socket calls live in its binary):
//! - [`cli`] — the `--host`/`--port`/`-q` flags every lesson flattens in, default ports, resolving.
//! - [`narrate`] — the numbered story of each socket call, on stderr, coloured on a terminal.
//! - [`errors`] — `error: …` plus a `hint: …` a beginner can act on; exit codes.
//! - [`harness`] — running a program under test: kill-on-drop processes, `listening on`, timeouts.
//! - [`checks`] — every lesson's checks, defined once, run by `cargo test`.
//! - [`grade`] — scorecards, class tables, JSON/CSV/JUnit, student manifests: the `grade` tool.
//! - [`echo`] — lesson 02's echo loop and client, packaged for reuse by lessons 04 and 05.
//! - [`shutdown`] — graceful stop on Ctrl-C, SIGTERM or after K connections; waking `accept()`.
//! - [`pool`] — the fixed-size thread pool of lesson 05 (the `queue` design), for any student to reuse.
//!
//! Binaries (`src/bin/`), one per lesson, read top to bottom in the order the course teaches:
//! - `01_time_server` — iterative TCP server: socket, bind, listen, accept, send, close.
//! - `02_echo` — TCP echo server and client; a read is not a message.
//! - `03_udp` — UDP echo server, client with retries, and `ping` to make loss visible.
//! - `04_threaded` — the echo contract, one thread per connection.
//! - `05_thread_pool` — the echo contract, a fixed pool of workers (two designs), graceful stop.
//! - `06_group_chat` — a line-based chat room that a stalled reader cannot stall.
//! - `07_event_loop` — lesson 06's chat on one thread: non-blocking sockets and a `mio` poller.
//!
//! Tools: `grade` (scorecards) and `bench` (threads and memory of servers holding idle clients).

pub mod checker;
pub mod kit;
