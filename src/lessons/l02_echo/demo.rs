//! Lesson 02's demo: the server and two clients in one process, on a free port.

use anyhow::Result;

use super::client::{self, CLIENT_TIMEOUT};
use super::server::{IdleTimeout, Transform, serve};
use super::{NAME, PORT};
use crate::kit::narrate::{Narrator, show_bytes, try_next};
use crate::kit::net;
use crate::kit::shutdown::Stop;

/// Client 1 sends a short message and one of 5000 bytes (watch the server need several reads
/// for it); client 2 waits its turn.
pub fn run() -> Result<()> {
    let server = Narrator::new("server", false);
    let listener = net::listen("127.0.0.1:0".parse()?, &server)?;
    let addr = listener.local_addr()?;
    let big: Vec<u8> = [b"x".repeat(4999), b"\n".to_vec()].concat();
    // Two clients, then the server stops by itself.
    let stop = Stop::new().after(Some(2));
    std::thread::scope(|scope| -> Result<()> {
        let serving = scope.spawn(|| {
            serve(
                &listener,
                Transform::Echo,
                IdleTimeout::default(),
                &stop,
                &server,
            )
        });
        for (name, messages) in [
            ("client 1", vec![b"Hello, world\n".to_vec(), big.clone()]),
            ("client 2", vec![b"bye\n".to_vec()]),
        ] {
            let say = Narrator::new(name, false);
            let stream = net::connect(&[addr], &say)?;
            stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
            for message in &messages {
                let reply = client::echo_one(&stream, message, &say)?;
                println!("{}", show_bytes(&reply, 40));
            }
            client::finish(stream, &say)?;
        }
        serving
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread panicked"))?
    })?;
    try_next(&[
        format!("cargo run --bin {NAME} -- server                    # terminal 1"),
        format!("cargo run --bin {NAME} -- client \"Hello, world\"     # terminal 2"),
        format!(
            "nc -N 127.0.0.1 {}                                  # type lines; Ctrl-D ends (-N: nc then closes its side)",
            PORT
        ),
        format!(
            "cargo run --bin {NAME} -- server --upper            # the course's upper-case echo"
        ),
    ]);
    Ok(())
}
