//! # Lesson 08 — a protocol: messages with a header
//!
//! Lesson 02 found that a `recv` is not a message. Here the bytes become messages a program can
//! reason about: every frame is a 2-byte big-endian header length, a JSON header that says what
//! follows and how long it is, then exactly that many bytes of content ([`framing`]). The server
//! answers requests — `search` a word, `echo` bytes, the `time` — several per connection, in
//! order. A peer that breaks the protocol gets an error frame and is closed; the others are not
//! disturbed. The same protocol runs over TCP or over a Unix domain socket ([`wire`]).
//!
//! Run it:
//!
//! ```text
//! cargo run --bin 08_protocol                                  # demo: TCP, then a Unix socket
//! cargo run --bin 08_protocol -- server                        # terminal 1
//! cargo run --bin 08_protocol -- client search socket          # terminal 2
//! cargo run --bin 08_protocol -- server --unix /tmp/08.sock    # the same over AF_UNIX
//! cargo run --bin 08_protocol -- client --unix /tmp/08.sock time
//! ```
//!
//! Where the calls are:
//! - `server.rs` — [`server::serve`]: `accept()` in a loop, a thread per connection; then
//!   `serve_connection`: `read_message` → `respond` → `sendall(frame)`, and `refuse` (error
//!   frame, `shutdown(SHUT_WR)`, a short drain, `close()`).
//! - `client.rs` — [`client::run`]: `sendall(frame)` and `read_message` per request
//!   (`exchange`), then `shutdown(SHUT_WR)` and `recv` → 0 bytes.
//! - `deadline.rs` — [`deadline::FrameClock`]: the idle limit, a deadline per frame and a
//!   minimum rate, under the server's reads (slowloris).
//! - `framing.rs` — the frame itself: [`framing::encode`] and [`framing::read_message`] (the
//!   three exact reads), the limits, the property test.
//! - `wire.rs` — TCP or `AF_UNIX`: [`wire::listen_unix`] (socket + bind(PATH) + listen, the
//!   socket file's care), [`wire::connect_unix`].
//! - `demo.rs` — [`demo::run`]: both transports in one process; `cli.rs` — [`cli::main`].
//!
//! The page: `lessons/08_protocol.md`.

/// The lesson's name: its binary, its page, its tests.
pub const NAME: &str = "08_protocol";
/// Its default port (7008), from the registry.
pub const PORT: u16 = super::port_of(NAME);

pub mod cli;
pub mod client;
pub mod deadline;
pub mod demo;
pub mod server;

// The lesson's subject: the frame, and the two kinds of stream socket it travels on.
pub mod framing;
pub mod wire;
