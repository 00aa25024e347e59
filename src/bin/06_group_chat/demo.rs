//! The demo: the server and four clients in one process on a free port, every decision
//! narrated — names, messages, commands, a client that stops reading during a burst, `/quit`,
//! and shutdown.

use std::time::Duration;

use anyhow::{Result, anyhow};
use workbook::kit::chat_demo::{DemoClient, burst};
use workbook::kit::cli::ports;
use workbook::kit::narrate::{Narrator, try_next};
use workbook::kit::net;
use workbook::kit::shutdown::Stop;

use crate::room::Settings;
use crate::{LESSON, serve};

// ANCHOR: demo
/// Four clients in one process: names, messages, commands, a client that stops reading during
/// a burst (and is dropped, while the others get every line), `/quit`, and shutdown.
pub fn demo() -> Result<()> {
    let server = Narrator::new("server", false);
    let listener = net::listen("127.0.0.1:0".parse()?, &server)?;
    let addr = listener.local_addr()?;
    let stop = Stop::new();
    stop.wake_listener(addr, 1);
    // A short stall timeout so the demo does not keep you waiting; the server's default is 5 s.
    let settings = Settings {
        max_clients: 10,
        stall: Duration::from_millis(500),
    };
    std::thread::scope(|scope| -> Result<()> {
        let serving = scope.spawn(|| serve(&listener, &settings, &stop, &server));
        let conversation = || -> Result<()> {
            let mut ana = DemoClient::join(addr, "ana", None)?;
            ana.expect(1)?;
            let mut ben = DemoClient::join(addr, "ben", None)?;
            ben.expect(1)?;
            ana.expect(1)?;
            ana.send("/nick ana")?;
            ana.expect(1)?;
            ben.expect(1)?;
            ben.send("/nick ben")?;
            ana.expect(1)?;
            ben.expect(1)?;
            let mut cy = DemoClient::join(addr, "cy", None)?;
            cy.expect(1)?;
            ana.expect(1)?;
            ben.expect(1)?;
            cy.send("/nick cy")?;
            for client in [&mut ana, &mut ben, &mut cy] {
                client.expect(1)?;
            }
            ana.send("hello, room")?;
            for client in [&mut ana, &mut ben, &mut cy] {
                client.expect(1)?;
            }
            ben.send("/nick ana")?; // taken: only ben hears about it
            ben.expect(1)?;
            cy.send("/who")?;
            cy.expect(1)?;

            // zed joins with a tiny receive buffer and never reads a line.
            let mut zed = DemoClient::join(addr, "zed", Some(4096))?;
            zed.send("/nick zed")?;
            for client in [&mut ana, &mut ben, &mut cy] {
                client.expect(2)?; // `* … joined` and `* … is now zed`
            }
            zed.say
                .note("stops reading: its buffers and its outbox will fill up");
            const BURST: usize = 5000;
            burst(
                [&mut ana, &mut ben, &mut cy],
                BURST,
                "* zed left (too slow)",
            )?;
            drop(zed);

            cy.send("/quit")?;
            cy.expect_end()?;
            ana.expect(1)?;
            ben.expect(1)?;
            server.note("the demo is over: stopping the server as Ctrl-C would");
            stop.stop();
            ana.expect_end()?;
            ben.expect_end()
        };
        let talked = conversation();
        stop.stop(); // also when the conversation failed, so that the server thread ends
        let served = serving
            .join()
            .map_err(|_| anyhow!("the server thread panicked"))?;
        talked.and(served)
    })?;
    try_next(&[
        format!("cargo run --bin {LESSON} -- server                   # terminal 1"),
        format!("cargo run --bin {LESSON} -- client --name ana        # terminal 2"),
        format!("cargo run --bin {LESSON} -- client --name ben        # terminal 3"),
        format!(
            "nc -N 127.0.0.1 {}                                 # terminal 4: plain netcat, type lines (-N: Ctrl-D leaves)",
            ports::GROUP_CHAT
        ),
    ]);
    Ok(())
}
// ANCHOR_END: demo
