//! Lesson 01's demo: the server and two clients in one process, on a free port.

use anyhow::Result;

use super::client::fetch_time;
use super::format::{Format, print_time};
use super::server::{listen, serve};
use super::{NAME, PORT};
use crate::kit::narrate::{Narrator, try_next};
use crate::kit::shutdown::Stop;

/// The second client shows the server is iterative: it is accepted only after the first one has
/// been served and closed.
pub fn run() -> Result<()> {
    let server = Narrator::new("server", false);
    let listener = listen("127.0.0.1:0".parse()?, &server)?;
    let addr = listener.local_addr()?;
    // Two clients, then the server stops by itself.
    let stop = Stop::new().after(Some(2));
    std::thread::scope(|scope| -> Result<()> {
        let serving = scope.spawn(|| serve(&listener, Format::Rfc3339, &stop, &server));
        for name in ["client 1", "client 2"] {
            let reply = fetch_time(&[addr], &Narrator::new(name, false))?;
            print_time(&reply, Format::Rfc3339)?;
        }
        serving
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread panicked"))?
    })?;
    try_next(&[
        format!("cargo run --bin {NAME} -- server                 # terminal 1"),
        format!("cargo run --bin {NAME} -- client                 # terminal 2"),
        format!(
            "nc -d 127.0.0.1 {}                               # any TCP client works",
            PORT
        ),
        format!("cargo run --bin {NAME} -- server --rfc868        # terminal 1: RFC 868"),
        format!(
            "rdate -p -o {} 127.0.0.1                         # terminal 2 (apt-get install rdate)",
            PORT
        ),
    ]);
    Ok(())
}
