//! # A socket-programming workbook
//!
//! One narrated program per lesson, a book, and checks that grade any program — ours or a
//! student's, in any language — through the same command-line and wire contract.
//!
//! # Layout
//!
//! Two readers, two rooms. A learner reads a lesson's folder and, at most, the kit; a grader
//! reads the checker. Nothing in [`kit`] or [`lessons`] imports from [`checker`], and the checker
//! never runs lesson code: it starts programs and talks to them (it reads only the registry).
//!
//! [`lessons`] — one folder per lesson, every one with the same files and entries (`mod.rs`,
//! `server.rs` → `serve`, `client.rs` → `run`, `demo.rs` → `run`, `cli.rs` → `main`), and the
//! registry (`for_each_lesson!`: name, port, title) that every other list of lessons comes from:
//! - [`lessons::l01_time_server`] — iterative TCP server: socket, bind, listen, accept, send, close.
//! - [`lessons::l02_echo`] — TCP echo server and client; a read is not a message (its echo loop is
//!   04's and 05's too).
//! - [`lessons::l03_udp`] — UDP echo server, client with retries, and `ping` to make loss visible.
//! - [`lessons::l04_threaded`] — the echo contract, one thread per connection.
//! - [`lessons::l05_thread_pool`] — the echo contract, a fixed pool of workers (two designs).
//! - [`lessons::l06_group_chat`] — a line-based chat room that a stalled reader cannot stall.
//! - [`lessons::l07_event_loop`] — 06's chat on one thread: non-blocking sockets and a poller.
//! - [`lessons::l08_protocol`] — request/response frames over TCP or a Unix socket; limits.
//!
//! [`kit`] — plumbing the lessons share, never a lesson's subject:
//! - [`kit::cli`] — the `--host`/`--port`/`-q` flags every lesson flattens in; resolving names.
//! - [`kit::narrate`] — `narrate!`: the numbered story of each socket call, on stderr.
//! - [`kit::errors`] — `error: …` plus a `hint: …` a beginner can act on; exit codes.
//! - [`kit::net`] — `listen` (socket + bind + listen) and `connect`, narrated; `accept_retrying`.
//! - [`kit::backoff`] — a delay doubling from 10 ms to 1 s: how a server waits out a shortage.
//! - [`kit::shutdown`] — graceful stop on Ctrl-C, SIGTERM or `--exit-after K`; waking `accept()`.
//!
//! [`checker`] — what `cargo test` and `grade` use (the grader's side; Linux only), layered bottom-up:
//! - [`checker::evidence`] — `Failure` and `Outcome`: what a check returns; imports nothing above it.
//! - [`checker::harness`] — the only process runner: kill-on-drop process groups, preflight,
//!   `listening on`, bounded reads, TCP/UDP probes and stubs, the reaper.
//! - [`checker::checks`] — every lesson's checks, declared once, with their own decoders.
//! - [`checker::grade`] — scorecards, class tables, JSON/CSV/JUnit, student folders.
//!
//! Binaries (`src/bin/`): one thin entry per lesson (`01_time_server.rs` … `08_protocol.rs`, each
//! calling its lesson's `cli::main`), `grade` (the grading tool) and `bench` (the load tool).

// The grader leans on Linux (`/proc`, `prlimit`, a child subreaper, `SIOCOUTQ`): it is built on
// Linux only. The lessons and the kit build on Linux, macOS and Windows.
#[cfg(target_os = "linux")]
pub mod checker;
pub mod kit;
pub mod lessons;
