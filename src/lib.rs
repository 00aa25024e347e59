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
//!
//! Binaries (`src/bin/`), one per lesson, read top to bottom in the order the course teaches:
//! - `01_time_server` — iterative TCP server: socket, bind, listen, accept, send, close.
//! - `02_echo` — TCP echo server and client; a read is not a message.
//! - `03_udp` — UDP echo server, client with retries, and `ping` to make loss visible.

pub mod checks;
pub mod cli;
pub mod errors;
pub mod harness;
pub mod narrate;
