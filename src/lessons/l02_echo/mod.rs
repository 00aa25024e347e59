//! # Lesson 02 — a TCP echo server and client
//!
//! The server sends back every byte it receives, unchanged (or upper-cased with `--upper`, the
//! course's variation), until the client closes its sending side; then it closes and accepts the
//! next client. It is *iterative*: while it serves one client, the next one waits in the listen
//! queue (lesson 04 changes that). The client's lesson is the course's open question "how do I
//! know all the data has arrived?": one `recv(1024)` is not a message, so it reads until it has
//! as many bytes as it sent.
//!
//! ```text
//! cargo run --bin 02_echo                                 # demo: server and two clients, narrated
//! cargo run --bin 02_echo -- server                       # terminal 1
//! cargo run --bin 02_echo -- client "Hello, world"        # terminal 2 (or: nc -N 127.0.0.1 7002)
//! cargo run --bin 02_echo -- client < some-file.txt       # one message per line of stdin
//! ```
//!
//! Where the calls are, in the course's order: `listen` is `src/kit/net.rs` (std's
//! `TcpListener::bind`, narrated, called by `cli.rs`); the accept loop, `serve`, and the
//! per-connection echo loop, `echo_until_closed`, are in `server.rs`; the client, `run`, is in
//! `client.rs`. Lessons 04 and 05 serve connections with the very same loop and client, by their
//! names here. The command line is in `cli.rs`, the demo in `demo.rs`. The page:
//! `lessons/02_echo.md`.

pub const NAME: &str = "02_echo";
pub const PORT: u16 = super::port_of(NAME);

pub mod cli;
pub mod client;
pub mod demo;
pub mod server;
