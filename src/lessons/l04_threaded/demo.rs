//! Lesson 04's demo: the server and two clients in one process, on a free port.

use std::net::SocketAddr;
use std::thread;

use anyhow::Result;

use super::server::serve;
use super::{NAME, PORT};
use crate::kit::narrate::{Narrator, narrate, show_bytes, try_next};
use crate::kit::net;
use crate::kit::shutdown::Stop;
use crate::lessons::l02_echo::client::{CLIENT_TIMEOUT, echo_one, finish};
use crate::lessons::l02_echo::server::{IdleTimeout, Transform};

/// Client 1 is served and stays connected, idle; client 2 is served all the same — the moment
/// lesson 02 cannot get past. Then both finish and the server (`--exit-after 2`) exits.
pub fn run() -> Result<()> {
    let server = Narrator::new("server", false);
    let listener = net::listen("127.0.0.1:0".parse()?, &server)?;
    let addr = listener.local_addr()?;
    let stop = Stop::new().after(Some(2));
    thread::scope(|scope| -> Result<()> {
        let serving = scope.spawn(|| {
            let idle = IdleTimeout::default();
            serve(&listener, Transform::Echo, idle, &stop, &server)
        });
        let talked = talk(addr);
        if talked.is_err() {
            // Stop the server and wake it from accept(), so that the demo cannot hang.
            stop.wake_listener(addr, 1);
            stop.stop();
        }
        let served = serving
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
        talked.and(served)
    })?;
    try_next(&[
        format!("cargo run --bin {NAME} -- server                  # terminal 1"),
        format!(
            "nc -N 127.0.0.1 {}                                   # terminal 2: connect, stay idle (-N: Ctrl-D leaves)",
            PORT
        ),
        format!("cargo run --bin {NAME} -- client \"Hello, world\"   # terminal 3: served anyway"),
        "cargo run --bin 02_echo -- server                      # compare: lesson 02 on port 7002"
            .to_string(),
    ]);
    Ok(())
}

/// The demo's two clients.
fn talk(addr: SocketAddr) -> Result<()> {
    let one = Narrator::new("client 1", false);
    let first = net::connect(&[addr], &one)?;
    // Every read in the demo has a limit: a client waits for its echo, never for ever.
    first.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    println!(
        "{}",
        show_bytes(&echo_one(&first, b"Hello from client 1\n", &one)?, 40)
    );
    narrate!(
        one,
        note("stays connected and sends nothing: lesson 02's server would now be stuck with me")
    );

    let two = Narrator::new("client 2", false);
    let second = net::connect(&[addr], &two)?;
    second.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    println!(
        "{}",
        show_bytes(&echo_one(&second, b"Hello from client 2\n", &two)?, 40)
    );
    narrate!(
        two,
        note("echoed while client 1 is still connected: each client has a thread of its own")
    );

    println!(
        "{}",
        show_bytes(&echo_one(&first, b"client 1 again\n", &one)?, 40)
    );
    finish(second, &two)?;
    finish(first, &one)
}
