//! # Lesson 01 — a TCP time server
//!
//! The course's first program: an *iterative* server. It takes one connection at a time, sends
//! the current time, closes, and only then accepts the next client. Every socket call is made
//! separately with `socket2`, a thin layer over the operating system's calls (std's
//! `TcpListener::bind` folds socket, bind and listen into one; later lessons use it), and
//! narrated on stderr as it happens.
//!
//! ```text
//! cargo run --bin 01_time_server                      # demo: server and two clients, narrated
//! cargo run --bin 01_time_server -- server            # terminal 1
//! cargo run --bin 01_time_server -- client            # terminal 2 (or: nc -d 127.0.0.1 7001)
//! cargo run --bin 01_time_server -- server --rfc868   # RFC 868, for: rdate -p -o 7001 127.0.0.1
//! ```
//!
//! Read top to bottom: the server's calls in `server.rs` (`listen`, `serve`), then the client's
//! in `client.rs` (`fetch_time`). The time formats are in `format.rs`, the command line in
//! `cli.rs`, the demo in `demo.rs`. The page: `lessons/01_time_server.md`.

pub const NAME: &str = "01_time_server";
pub const PORT: u16 = super::port_of(NAME);

pub mod cli;
pub mod client;
pub mod demo;
pub mod format;
pub mod server;
