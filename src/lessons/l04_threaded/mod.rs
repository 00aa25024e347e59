//! # Lesson 04 — a thread per connection
//!
//! Lesson 02's echo server serves one client at a time: while it echoes one, the next waits in
//! the listen queue, and a client that connects and types nothing blocks everybody. Here the
//! main thread does nothing but `accept()`; every connection it accepts is handed to a new
//! thread of its own, which runs lesson 02's echo loop. The main thread is back in `accept()`
//! at once, so a second client is served while the first is still connected.
//!
//! The narration names the thread serving each client and counts the live threads, because the
//! price of this design is right there: one thread — with its own stack — for every connected
//! client, busy or idle. Lesson 05 puts a bound on that.
//!
//! The wire contract (echo, `--upper`, the client) is lesson 02's, and so is the code: each thread
//! runs lesson 02's loop (`lessons::l02_echo::server::echo_until_closed`), and the client is
//! lesson 02's client.
//!
//! Run it:
//!
//! ```text
//! cargo run --bin 04_threaded                               # demo: two clients served at once
//! cargo run --bin 04_threaded -- server                     # terminal 1
//! nc -N 127.0.0.1 7004                                      # terminal 2: stays connected…
//! cargo run --bin 04_threaded -- client "Hello, world"      # terminal 3: …and this is served anyway
//! ```
//!
//! Where the calls are: `server.rs` — the accept loop (`serve`), then one client's thread
//! (`handle`); `threads.rs`, what a thread costs in address space and how many fit;
//! `client.rs` is lesson 02's client. The command line is in `cli.rs`, the demo in
//! `demo.rs`. The page: `lessons/04_threaded.md`.

pub const NAME: &str = "04_threaded";
pub const PORT: u16 = super::port_of(NAME);

pub mod cli;
pub mod client;
pub mod demo;
pub mod server;
pub mod threads;
