//! The demo: the one-thread server and four clients in one process. The clients are ordinary
//! blocking sockets, each on the demo's side; the server is the loop, on a single thread.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use super::room::Settings;
use super::server::serve;
use super::{NAME, PORT};
use crate::kit::narrate::{Narrator, narrate, try_next};
use crate::kit::net::listen;
use crate::kit::shutdown::Stop;
use crate::lessons::l06_group_chat::demo::{DemoClient, quit_then_stop, stalled_reader};

// ANCHOR: demo
/// The conversation: names, a client that sends half a line and then nothing (nobody waits
/// for it), a client that stops reading during a burst (dropped; nobody misses a line),
/// `/quit`, and shutdown.
fn conversation(addr: SocketAddr, stop: &Stop, server: &Narrator) -> Result<()> {
    let mut ana = DemoClient::join(addr, "ana", None)?;
    ana.expect(1)?;
    ana.send("/nick ana")?;
    ana.expect(1)?;
    let mut ben = DemoClient::join(addr, "ben", None)?;
    ben.expect(1)?;
    ana.expect(1)?;
    ben.send("/nick ben")?;
    ana.expect(1)?;
    ben.expect(1)?;

    // A thread per client would now be stuck in recv() waiting for the rest of sil's line.
    let mut sil = DemoClient::join(addr, "sil", None)?;
    sil.expect(1)?;
    ana.expect(1)?;
    ben.expect(1)?;
    sil.send_bytes(b"hel")?;
    narrate!(
        sil.say,
        note("sends half a line, then nothing: the loop does not wait for the rest")
    );
    let asked = Instant::now();
    ana.send("hello, room")?;
    for client in [&mut ana, &mut ben, &mut sil] {
        client.expect(1)?;
    }
    narrate!(
        ana.say,
        note(format!(
            "heard back in {:?}, sil's half line notwithstanding",
            asked.elapsed()
        ))
    );
    sil.send_bytes(b"lo\n")?;
    for client in [&mut ana, &mut ben, &mut sil] {
        client.expect(1)?; // the two halves, one line
    }
    sil.send("/nick sil")?;
    for client in [&mut ana, &mut ben, &mut sil] {
        client.expect(1)?;
    }

    // Lesson 06's slow reader: zed never reads while ana sends a burst.
    stalled_reader(
        addr,
        [&mut ana, &mut ben, &mut sil],
        "its buffers will fill, and the server's loop will notice",
    )?;

    quit_then_stop(&mut ben, [&mut ana, &mut sil], stop, server)
}
// ANCHOR_END: demo

/// Four clients in one process, the server on one thread of its own.
pub fn run() -> Result<()> {
    let server = Narrator::new("server", false);
    let listener = listen("127.0.0.1:0".parse()?, &server)?;
    let addr = listener.local_addr()?;
    let stop = Stop::new();
    // A short stall timeout so the demo does not keep you waiting; the server's default is 5 s.
    let settings = Settings {
        max_clients: 10,
        stall: Duration::from_millis(500),
    };
    std::thread::scope(|scope| -> Result<()> {
        let serving = scope.spawn(|| serve(listener, &settings, &stop, &server));
        let talked = conversation(addr, &stop, &server);
        stop.stop(); // also when the conversation failed, so that the server's loop ends
        let served = serving
            .join()
            .map_err(|_| anyhow!("the server thread panicked"))?;
        talked.and(served)
    })?;
    try_next(&[
        format!("cargo run --bin {NAME} -- server                   # terminal 1"),
        format!("cargo run --bin {NAME} -- client --name ana        # terminal 2"),
        format!(
            "nc -N 127.0.0.1 {}                                 # terminal 3: plain netcat, type lines (-N: Ctrl-D leaves)",
            PORT
        ),
    ]);
    Ok(())
}
