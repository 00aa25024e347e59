//! The demo: the server and four clients in one process on a free port, every decision
//! narrated — names, messages, commands, a client that stops reading during a burst, `/quit`,
//! and shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use workbook::kit::cli::ports;
use workbook::kit::narrate::{Narrator, try_next};
use workbook::kit::net;
use workbook::kit::shutdown::Stop;

use crate::cli::{LESSON, Settings};
use crate::serve;

// ANCHOR: demo
/// A client of the demo: connected in this process, printing what it receives on stdout.
struct DemoClient {
    who: &'static str,
    conn: TcpStream,
    input: BufReader<TcpStream>,
    say: Narrator,
}

impl DemoClient {
    /// Connect; `receive_buffer` sets SO_RCVBUF before connecting (for the client that stalls).
    fn join(addr: SocketAddr, who: &'static str, receive_buffer: Option<usize>) -> Result<Self> {
        let say = Narrator::new(who, false);
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        if let Some(size) = receive_buffer {
            socket.set_recv_buffer_size(size)?;
            say.call(format!("setsockopt(SO_RCVBUF, {size})"), "ok");
        }
        socket.connect(&addr.into())?;
        let conn: TcpStream = socket.into();
        say.call(
            format!("socket() + connect({addr})"),
            format!("connected from {}", conn.local_addr()?),
        );
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        conn.set_nodelay(true)?;
        let input = BufReader::new(conn.try_clone()?);
        Ok(DemoClient {
            who,
            conn,
            input,
            say,
        })
    }

    fn send(&mut self, text: &str) -> Result<()> {
        self.conn.write_all(format!("{text}\n").as_bytes())?;
        self.say.call(format!("send({text:?})"), "ok");
        Ok(())
    }

    /// Read one line; `None` when the server closed the connection.
    fn next_line(&mut self) -> Result<Option<String>> {
        let mut line = String::new();
        let n = (&mut self.input)
            .take(64 * 1024)
            .read_line(&mut line)
            .with_context(|| format!("{}: no line from the server", self.who))?;
        Ok((n > 0).then(|| line.trim_end_matches('\n').to_string()))
    }

    /// Read and print the next `n` lines.
    fn expect(&mut self, n: usize) -> Result<()> {
        for _ in 0..n {
            match self.next_line()? {
                Some(line) => println!("{:>4} ← {line}", self.who),
                None => bail!("{}: the server closed the connection too soon", self.who),
            }
        }
        Ok(())
    }

    /// Read until the server closes the connection.
    fn expect_end(&mut self) -> Result<()> {
        while let Some(line) = self.next_line()? {
            println!("{:>4} ← {line}", self.who);
        }
        self.say
            .call("recv()", "0 bytes: the server closed the connection");
        Ok(())
    }

    /// Read a burst of `count` lines from `from`, and the notice `also`, in any interleaving.
    fn expect_burst(&mut self, from: &str, count: usize, also: &str) -> Result<()> {
        let (mut got, mut seen_also) = (0, false);
        let prefix = format!("[{from}] ");
        while got < count || !seen_also {
            match self.next_line()? {
                Some(line) if line.starts_with(&prefix) => {
                    got += 1;
                    // The lines are numbered: check none is missing or out of order.
                    if !line.contains(&format!("line {got:05} ")) {
                        bail!("{}: line {got} of the burst is missing: {line}", self.who);
                    }
                }
                Some(line) if line == also => {
                    seen_also = true;
                    println!("{:>4} ← {line}", self.who);
                }
                Some(line) => bail!("{}: unexpected line during the burst: {line}", self.who),
                None => bail!("{}: disconnected during the burst", self.who),
            }
        }
        println!(
            "{:>4} ← {count} lines from {from}, every one, in order",
            self.who
        );
        Ok(())
    }
}

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
        exit_after: None,
    };
    std::thread::scope(|scope| -> Result<()> {
        let serving = scope.spawn(|| serve(&listener, &settings, &stop, &server));
        let conversation =
            || -> Result<()> {
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
                ana.say.note(format!("sends {BURST} lines in one go"));
                let burst: String = (1..=BURST)
                    .map(|n| format!("line {n:05} of a burst, to show that nobody misses a line\n"))
                    .collect();
                let mut writer = ana.conn.try_clone()?;
                std::thread::scope(|readers| -> Result<()> {
                    let sending = readers.spawn(move || writer.write_all(burst.as_bytes()));
                    let mut reading = Vec::new();
                    for client in [&mut ana, &mut ben, &mut cy] {
                        reading.push(readers.spawn(move || {
                            client.expect_burst("ana", BURST, "* zed left (too slow)")
                        }));
                    }
                    for handle in reading {
                        handle
                            .join()
                            .map_err(|_| anyhow!("a reading thread panicked"))??;
                    }
                    sending
                        .join()
                        .map_err(|_| anyhow!("the sending thread panicked"))??;
                    Ok(())
                })?;
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
            "nc 127.0.0.1 {}                                    # terminal 4: plain netcat, type lines",
            ports::GROUP_CHAT
        ),
    ]);
    Ok(())
}
// ANCHOR_END: demo
