//! Lesson 08's demo: a server and a client in one process, first over TCP (the first exchange
//! shown byte by byte), then the same protocol over a Unix domain socket.

use anyhow::{Result, anyhow};

use crate::kit::narrate::{Narrator, narrate, try_next};
use crate::kit::shutdown::Stop;

use super::NAME;
use super::client::{Request, talk};
use super::framing::{annotate, encode, read_message, write_message};
use super::wire::{self, Listener, Stream};

/// Run the server on `listener` for one connection, on a thread, while `client` runs here.
fn with_server(listener: &Listener, client: impl FnOnce() -> Result<()>) -> Result<()> {
    let server = Narrator::new("server", false);
    let stop = Stop::new().after(Some(1));
    listener.wake_on(&stop)?;
    std::thread::scope(|scope| {
        let serving = scope.spawn(|| super::server::serve(listener, &stop, Default::default(), &server));
        let talked = client();
        // If the client failed before connecting, the server is still in accept(): wake it.
        stop.stop();
        let served = serving
            .join()
            .map_err(|_| anyhow!("the server thread panicked"))?;
        talked.and(served)
    })
}

/// Both halves of the lesson, narrated.
pub fn run() -> Result<()> {
    let say = Narrator::new("client", false);
    let tcp = wire::listen_tcp("127.0.0.1:0".parse()?, &Narrator::new("server", false))?;
    let addr = match &tcp {
        Listener::Tcp(l) => l.local_addr()?,
        Listener::Unix(..) => unreachable!("listen_tcp returns a TCP listener"),
    };
    with_server(&tcp, || {
        let mut stream = Stream::Tcp(crate::kit::net::connect(&[addr], &say)?);
        // The first exchange by hand, to show every byte of both frames.
        let request = Request::new("search".into(), Some("socket".into())).message();
        eprintln!(
            "\nthe request frame, byte by byte:\n{}",
            annotate(&encode(&request)?)
        );
        write_message(&mut stream, &request)?;
        let response = read_message(&mut stream)?
            .ok_or_else(|| anyhow!("the server closed without answering"))?;
        eprintln!("\nthe response frame:\n{}", annotate(&encode(&response)?));
        let rest = [
            Request::new("echo".into(), Some("x".repeat(3000))),
            Request::new("time".into(), None),
            Request::new("search".into(), Some("🦀".into())),
        ];
        talk(stream, rest.into_iter().map(Ok), &say)
    })?;

    // The same protocol over AF_UNIX: a path instead of an address and a port.
    #[cfg(unix)]
    {
        use anyhow::Context;
        let dir = std::env::temp_dir().join(format!("{NAME}-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
        let path = dir.join("08.sock");
        let result = (|| -> Result<()> {
            let unix = wire::listen_unix(&path, &Narrator::new("server", false))?;
            with_server(&unix, || {
                let stream = wire::connect_unix(&path, &say)?;
                let requests = [Request::new("search".into(), Some("frame".into()))];
                talk(stream, requests.into_iter().map(Ok), &say)
            })?;
            drop(unix);
            if !path.exists() {
                narrate!(
                    say,
                    note(format!(
                        "the server removed {} on its way out",
                        path.display()
                    ))
                );
            }
            Ok(())
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result?;
    }
    // Windows: Rust's std has Unix domain sockets on Unix only (see wire.rs): TCP only here.
    #[cfg(windows)]
    narrate!(
        say,
        note(format!(
            "no Unix domain sockets in Rust's std on this system: the AF_UNIX part is left out"
        ))
    );
    try_next(&[
        format!("cargo run --bin {NAME} -- server                         # terminal 1"),
        format!("cargo run --bin {NAME} -- client search socket           # terminal 2"),
        format!("cargo run --bin {NAME} -- client echo hello              # binary content"),
        format!("cargo run --bin {NAME} -- server --unix /tmp/08.sock     # over AF_UNIX"),
        format!("cargo run --bin {NAME} -- client --unix /tmp/08.sock time"),
    ]);
    Ok(())
}
