//! # Lesson 06 — a group chat
//!
//! Every line a client sends reaches every connected client. The course's own version is "only
//! for demonstration": a client that stops reading blocks everyone, the table of clients is
//! shared without a lock, and a message is whatever one `recv(1024)` returned. Here each client
//! has a **reader thread** that reads *lines*, and a **writer thread** fed by a **bounded
//! queue** (its outbox) — the only thread that ever blocks on that client's socket.
//!
//! ```text
//! cargo run --bin 06_group_chat                               # demo: four clients, narrated
//! cargo run --bin 06_group_chat -- server                     # terminal 1
//! cargo run --bin 06_group_chat -- client --name ana          # terminal 2
//! nc -N 127.0.0.1 7006                                          # terminal 3: netcat joins too
//! ```
//!
//! Where the calls are: `server.rs` — [`server::serve`] (accept), then each client's reader
//! (`read_loop`) and writer (`write_loop`); `room.rs` — what those threads share (the outboxes,
//! who is connected, broadcasting, shutdown); `client.rs` — [`client::run`]; `demo.rs` —
//! [`demo::run`], and the client the demos of 06 and 07 talk through; `cli.rs` — [`cli::main`],
//! the listener (`net::listen`) and the chat server's flags, which lesson 07 shares. What the
//! room lets through — controls made visible, names — is `text.rs`, used by lesson 07 too.
//! The page: `lessons/06_group_chat.md`.

/// The lesson's name: its binary, its page, its tests.
pub const NAME: &str = "06_group_chat";
/// Its default port.
pub const PORT: u16 = super::port_of(NAME);

pub mod cli;
pub mod client;
pub mod demo;
pub mod room;
pub mod server;
pub mod text;
