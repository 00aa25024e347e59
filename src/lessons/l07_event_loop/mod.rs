//! # Lesson 07 — one thread, thousands of clients: an event loop
//!
//! Lesson 06's group chat — the same lines on the wire, the same commands, the same
//! `* NAME left (too slow)` — served by **one thread**. Lesson 06 gave each client two threads
//! that may block; here nothing ever blocks except one call, the poller's wait:
//!
//! 1. every socket is **non-blocking**: `accept`, `recv` and `send` return `WouldBlock`
//!    (`EWOULDBLOCK`) instead of waiting;
//! 2. one call — `epoll_wait`, through `mio::Poll` — waits until *some* socket is ready, and
//!    says which, and for what (readable, writable);
//! 3. the loop does what each ready socket allows, without waiting, and goes back to 2.
//!
//! What a thread used to remember on its stack (how much of a line has arrived, what is left to
//! send) now lives in a [`room::Conn`] per connection: a read buffer split at `\n`, a bounded
//! write buffer, and whether we asked to hear when the socket is writable — only while there is
//! something to write.
//!
//! Run it:
//!
//! ```text
//! cargo run --bin 07_event_loop                               # demo: the loop, narrated
//! cargo run --bin 07_event_loop -- server                     # terminal 1
//! cargo run --bin 07_event_loop -- client --name ana          # terminal 2
//! nc -N 127.0.0.1 7007                                        # terminal 3: plain netcat joins too
//! ```
//!
//! Where the calls are: `server.rs` — [`server::serve`], the loop (non-blocking listener,
//! poller, `epoll_wait`, then what each ready socket allows), and `accept_all`; `room.rs` — each
//! connection's buffers, the room, `admit`; then `room/` in the order of one turn:
//! `reading.rs` (`read_input`), `lines.rs` (the read buffer split into lines), `commands.rs`
//! (`act_on`), `sending.rs` (`broadcast`, `flush`), `leaving.rs` (`drop_stalled`, `shut_down`);
//! `client.rs` — [`client::run`], a `poll(2)` loop; `demo.rs` — [`demo::run`]; `cli.rs` —
//! [`cli::main`] and the listener (`net::listen`). Lesson 06's names are used by its name:
//! its chat text rules (`l06_group_chat::text`), its flags (`l06_group_chat::cli`) and its
//! demo's client (`l06_group_chat::demo`). The page: `lessons/07_event_loop.md`.

/// The lesson's name: its binary, its page, its tests.
pub const NAME: &str = "07_event_loop";
/// Its default port.
pub const PORT: u16 = super::port_of(NAME);

pub mod cli;
pub mod client;
pub mod demo;
pub mod room;
pub mod server;
