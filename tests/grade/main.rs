//! The `grade` tool: `cargo test --test grade`, one module per concern:
//!
//! - `scorecards` — against the reference binaries (all ✓) and wrong programs (the expected ✗);
//! - `misbehaving` — programs that hang, never bind, exit, crash, print garbage, flood or fork:
//!   each graded within its bounds with a clear reason and nothing left running; Ctrl-C;
//!   timeouts scaled by `WORKBOOK_TIMEOUT_SCALE`;
//! - `deploy` — Gradescope, GitHub Classroom, GitLab CI, the Containerfile;
//! - `formats` — JSON, CSV and JUnit;
//! - `html` — the class report in headless Chromium at 1280 and 390 px;
//! - `output` — `-o FILE`: never through a symlink, never into a FIFO or device;
//! - `class` — a class of ten graded in parallel;
//! - `stopped` — a class run stopped by SIGTERM, SIGKILL or its time limit keeps what finished;
//! - `usage` — usage errors and `--list`;
//! - `page` — the scorecards and tables shown in `lessons/grading.md`;
//! - `watch` — `--watch`;
//! - `support` — running `grade` and reading what it prints.
//!
//! Where they count checks, these tests use lessons 01 and 02 (quick, and shown on the page);
//! elsewhere they name check ids.

mod class;
mod deploy;
mod formats;
mod hostile;
mod html;
mod misbehaving;
mod output;
mod page;
mod scorecards;
mod stopped;
mod support;
mod usage;
mod watch;
