//! What many lessons' checks share, one concern a file — never one lesson's module used as
//! another's library (a lesson that serves an earlier lesson's contract takes those checks by a
//! declared inheritance instead: `from`, `inherits`, in [`lesson!`](super::declare)):
//!
//! - [`command_line`] — the demo exits 0, usage errors exit 2, and the runtime errors a beginner
//!   meets each give one `error:` line and exit 1;
//! - [`server`] — only `listening on ADDR` on stdout; IPv6 loopback;
//! - [`conn`] — [`Conn`], a named client with bounded reads; [`WATCH`], the bounded wait in
//!   which something must not happen; the server's exit;
//! - [`concurrency`] — is a second client served while the first is connected?
//! - [`survival`] — running out of descriptors, silent clients, threads that cannot start;
//! - [`data`] — what a check sends.

pub mod command_line;
pub mod concurrency;
pub mod conn;
pub mod data;
pub mod server;
pub mod survival;

pub use command_line::*;
pub use concurrency::*;
pub use conn::*;
pub use data::*;
pub use server::*;
pub use survival::*;
