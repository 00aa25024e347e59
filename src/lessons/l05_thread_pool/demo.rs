//! The demo: two workers, three clients, in one process on a port the system chooses.

use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use anyhow::Result;

use super::server::{Model, Settings, serve, wake_on_stop};
use super::{NAME, PORT};
use crate::kit::narrate::{Narrator, narrate, show_bytes, try_next};
use crate::kit::net;
use crate::kit::shutdown::Stop;
use crate::lessons::l02_echo::client::{CLIENT_TIMEOUT, echo_one, finish};
use crate::lessons::l02_echo::server::{IdleTimeout, Transform};

/// The demo with the course's design, `--model accept`.
pub fn run() -> Result<()> {
    run_model(Model::Accept)
}

/// Two workers, three clients: clients 1 and 2 keep both workers busy, client 3 waits (in the
/// backlog or the queue) until client 1 leaves; after 3 connections the server stops.
pub fn run_model(model: Model) -> Result<()> {
    let server = Narrator::new("server", false);
    let listener = net::listen("127.0.0.1:0".parse()?, &server)?;
    let addr = listener.local_addr()?;
    let settings = Settings {
        workers: 2,
        transform: Transform::Echo,
        idle: IdleTimeout::default(),
    };
    let name = if model == Model::Accept {
        "accept"
    } else {
        "queue"
    };
    narrate!(
        server,
        note(format!(
            "--model {name}: 2 workers, stopping after 3 connections"
        ))
    );
    let stop = Stop::new().after(Some(3));
    wake_on_stop(&stop, &listener, model, settings.workers)?;
    thread::scope(|scope| -> Result<()> {
        let serving = scope.spawn(|| serve(listener, model, &settings, &stop, &server));
        let talked = talk(addr);
        if talked.is_err() {
            stop.stop(); // so the demo ends even if a client failed
        }
        let served = serving
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
        talked.and(served)
    })?;
    try_next(&[
        format!("cargo run --bin {NAME} -- server --workers 2                 # terminal 1"),
        format!(
            "nc -N 127.0.0.1 {}                                                 # terminals 2, 3, 4: the third waits (-N: Ctrl-D frees a worker)",
            PORT
        ),
        format!(
            "cargo run --bin {NAME} -- server --workers 2 --model queue   # the Rust Book's design"
        ),
        format!(
            "cargo run --bin {NAME} -- demo --model queue                 # this demo, with a queue"
        ),
        "Ctrl-C in terminal 1 (or kill -TERM PID): each worker finishes its client, then stops"
            .to_string(),
    ]);
    Ok(())
}

/// The demo's three clients.
fn talk(addr: SocketAddr) -> Result<()> {
    let one = Narrator::new("client 1", false);
    let first = net::connect(&[addr], &one)?;
    // Every read in the demo has a limit: a client waits for its echo, never for ever.
    first.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    println!(
        "{}",
        show_bytes(&echo_one(&first, b"Hello from client 1\n", &one)?, 40)
    );
    let two = Narrator::new("client 2", false);
    let second = net::connect(&[addr], &two)?;
    second.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    println!(
        "{}",
        show_bytes(&echo_one(&second, b"Hello from client 2\n", &two)?, 40)
    );

    let three = Narrator::new("client 3", false);
    let third = net::connect(&[addr], &three)?;
    third.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    narrate!(
        three,
        note("connected (the kernel finished the handshake), but both workers are busy: I wait")
    );
    thread::scope(|scope| -> Result<()> {
        let waiting = scope.spawn(|| -> Result<()> {
            let reply = echo_one(&third, b"Hello from client 3\n", &three)?;
            println!("{}", show_bytes(&reply, 40));
            Ok(())
        });
        // Not a wait for anything: a pause so that the story shows client 3 waiting before
        // client 1 leaves. Nothing depends on its length.
        thread::sleep(Duration::from_millis(300));
        narrate!(one, note("leaves, which frees its worker for client 3"));
        finish(first, &one)?;
        waiting
            .join()
            .map_err(|_| anyhow::anyhow!("client 3's thread panicked"))?
    })?;
    finish(third, &three)?;
    finish(second, &two)
}
