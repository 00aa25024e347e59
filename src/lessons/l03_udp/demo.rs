//! The demo: server, client and a short lossy ping in one process, on a port the system chooses.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use super::client::{Patience, exchange, open};
use super::dropper::Dropper;
use super::ping::{Probes, percent, ping};
use super::server::{bind, serve};
use super::{NAME, PORT};
use crate::kit::narrate::{Narrator, narrate, try_next};

/// The demo's server loses a quarter of the datagrams, with a seed that shows one retry in the
/// client part and some loss in the ping part.
const DEMO_DROP: f64 = 0.25;
const DEMO_SEED: u64 = 7;

/// The demo waits less than the default second: loopback answers in well under a millisecond.
const DEMO_TIMEOUT: Duration = Duration::from_millis(300);

/// Server, client and ping in one process. The server drops a quarter of the datagrams, so the
/// client has to retry once and ping shows some loss.
pub fn run() -> Result<()> {
    let server_say = Narrator::new("server", false);
    let socket = bind("127.0.0.1:0".parse()?, &server_say)?;
    let addr = socket.local_addr()?;
    narrate!(
        server_say,
        warn(format!(
            "this demo's server drops {}% of the datagrams on purpose (--drop {DEMO_DROP} --seed \
         {DEMO_SEED}): loopback itself never loses any",
            percent(DEMO_DROP * 100.0)
        ))
    );
    let mut dropper = Dropper::new(DEMO_DROP, DEMO_SEED);
    // A UDP server cannot know that its last client has gone — there is no connection to end —
    // so it serves forever; the demo's server thread simply ends with the process.
    std::thread::spawn(move || {
        if let Err(e) = serve(&socket, &mut dropper, None, &server_say) {
            narrate!(server_say, warn(format!("the server stopped: {e:#}")));
        }
    });

    let mut stdout = std::io::stdout().lock();
    let client_say = Narrator::new("client", false);
    let client = open(addr, &client_say)?;
    let patience = Patience {
        timeout: DEMO_TIMEOUT,
        retries: 3,
    };
    for message in [&b"Hello, UDP"[..], b"one datagram, one message"] {
        let reply = exchange(&client, addr, message, patience, &client_say)?;
        stdout.write_all(&reply)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    drop(client);
    narrate!(client_say, call("close()", "ok"));

    let ping_say = Narrator::new("ping", false);
    let pinger = open(addr, &ping_say)?;
    let probes = Probes {
        count: 8,
        interval: Duration::from_millis(50),
        timeout: DEMO_TIMEOUT,
    };
    ping(&pinger, addr, probes, &ping_say, &mut stdout)?;
    drop(stdout);

    try_next(&[
        format!("cargo run --bin {NAME} -- server                       # terminal 1"),
        format!("cargo run --bin {NAME} -- client \"Hello, UDP\"          # terminal 2"),
        format!(
            "nc -u -q 1 127.0.0.1 {}                              # any UDP client: a line is a datagram",
            PORT
        ),
        format!(
            "cargo run --bin {NAME} -- server --drop 0.3 --seed 1   # terminal 1: a lossy server"
        ),
        format!(
            "cargo run --bin {NAME} -- ping --count 20              # terminal 2: see the loss"
        ),
    ]);
    Ok(())
}
