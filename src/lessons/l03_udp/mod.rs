//! # Lesson 03 — UDP: datagrams, echo and ping
//!
//! TCP (lessons 01 and 02) is a phone call: dial, talk over a reliable stream, hang up. UDP is a
//! stack of postcards: each datagram is a separate message with its destination written on it,
//! delivered whole or not at all, perhaps never, and nobody tells the sender which. This lesson
//! makes that visible:
//!
//! - `server` sends every datagram back to whoever sent it. There is no listen() and no accept():
//!   one socket receives from everybody. `--drop RATE` throws a fraction of the datagrams away
//!   on purpose, so that loss can be seen on loopback, where nothing is ever really lost.
//! - `client` sends one datagram per message and waits for its echo; when none comes in time it
//!   sends again, because with UDP, retrying is the sender's job.
//! - `ping` sends numbered probes and reports each round-trip time, and the loss.
//!
//! As in lesson 01, each call is made on its own with `socket2` (`std::net::UdpSocket::bind`
//! folds socket() and bind() into one), then the socket is handed to `std::net::UdpSocket`,
//! whose `recv_from`/`send_to` are the same system calls with a friendlier signature.
//!
//! Run it:
//!
//! ```text
//! cargo run --bin 03_udp                                   # demo: server, client, lossy ping
//! cargo run --bin 03_udp -- server                         # terminal 1
//! cargo run --bin 03_udp -- client "Hello, UDP"            # terminal 2 (or: nc -u -q 1 127.0.0.1 7003)
//! cargo run --bin 03_udp -- server --drop 0.3 --seed 1     # terminal 1: lose 30% on purpose
//! cargo run --bin 03_udp -- ping --count 20                # terminal 2: watch the loss
//! ```
//!
//! Where the calls are: the server's in `server.rs` (`bind`, `serve`), then the client's in
//! `client.rs` (`open`, `exchange`, and `run`, the client's stdin, limits and errors). Beside them:
//! `ping.rs` (ping), `dropper.rs` (`--drop`), `cli.rs` (the command line) and `demo.rs`. The page:
//! `lessons/03_udp.md`.

pub const NAME: &str = "03_udp";
pub const PORT: u16 = super::port_of(NAME);

pub mod cli;
pub mod client;
pub mod demo;
pub mod dropper;
pub mod ping;
pub mod server;
