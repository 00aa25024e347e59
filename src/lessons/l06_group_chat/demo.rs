//! The demo: the server and four clients in one process on a free port, every decision
//! narrated — names, messages, commands, a client that stops reading during a burst, `/quit`,
//! and shutdown. Then [`stalled_reader`] and [`quit_then_stop`] (the scenes both demos play),
//! [`DemoClient`] and [`burst`]: the client the demos of lessons 06 and 07 talk through — a
//! blocking socket in the demo's own process that joins the room, sends lines and prints what it
//! receives (`ana ← …`). The demos differ in their servers, not in their clients, so the client
//! and those scenes are written once, here, and lesson 07's demo uses them by this name.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use super::room::Settings;
use super::server::serve;
use super::{NAME, PORT};
use crate::kit::narrate::{Narrator, narrate, show_bytes, try_next};
use crate::kit::net;
use crate::kit::shutdown::Stop;

// ANCHOR: demo
/// Four clients in one process: names, messages, commands, a client that stops reading during
/// a burst (and is dropped, while the others get every line), `/quit`, and shutdown.
pub fn run() -> Result<()> {
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

            // ANCHOR_END: demo

            // ANCHOR: demo_burst
            stalled_reader(
                addr,
                [&mut ana, &mut ben, &mut cy],
                "its buffers and its outbox will fill up",
            )?;

            quit_then_stop(&mut cy, [&mut ana, &mut ben], &stop, &server)
        };
        let talked = conversation();
        stop.stop(); // also when the conversation failed, so that the server thread ends
        let served = serving
            .join()
            .map_err(|_| anyhow!("the server thread panicked"))?;
        talked.and(served)
    })?;
    try_next(&[
        format!("cargo run --bin {NAME} -- server                   # terminal 1"),
        format!("cargo run --bin {NAME} -- client --name ana        # terminal 2"),
        format!("cargo run --bin {NAME} -- client --name ben        # terminal 3"),
        format!(
            "nc -N 127.0.0.1 {}                                 # terminal 4: plain netcat, type lines (-N: Ctrl-D leaves)",
            PORT
        ),
    ]);
    Ok(())
}
// ANCHOR_END: demo_burst

/// How many lines ana sends in one go while zed has stopped reading.
const BURST: usize = 5000;

// ANCHOR: stalled_reader
/// The slow reader's scene, which lesson 07's demo plays too: zed joins with a tiny receive
/// buffer and never reads a line, while the first of `readers` sends a burst. The server must
/// drop zed as too slow, and every reader must get every line. `stops` says what zed's silence
/// fills up on the server's side.
pub fn stalled_reader(
    addr: SocketAddr,
    mut readers: [&mut DemoClient; 3],
    stops: &str,
) -> Result<()> {
    let mut zed = DemoClient::join(addr, "zed", Some(4096))?;
    zed.send("/nick zed")?;
    for client in &mut readers {
        client.expect(2)?; // `* … joined` and `* … is now zed`
    }
    narrate!(zed.say, note(format!("stops reading: {stops}")));
    burst(readers, BURST, "* zed left (too slow)")?;
    drop(zed);
    Ok(())
}
// ANCHOR_END: stalled_reader

// ANCHOR: quit_then_stop
/// The end of both demos: `leaver` sends `/quit` and reads to the end (`* bye`, then the
/// close), the `others` hear that it left; then the server stops as Ctrl-C would, and each of
/// the others reads to the end (`* server shutting down`, then the close).
pub fn quit_then_stop(
    leaver: &mut DemoClient,
    mut others: [&mut DemoClient; 2],
    stop: &Stop,
    server: &Narrator,
) -> Result<()> {
    leaver.send("/quit")?;
    leaver.expect_end()?;
    for client in &mut others {
        client.expect(1)?; // `* … left`
    }
    narrate!(
        server,
        note("the demo is over: stopping the server as Ctrl-C would")
    );
    stop.stop();
    for client in others {
        client.expect_end()?;
    }
    Ok(())
}
// ANCHOR_END: quit_then_stop

/// The first line of each burst line after its number: `line 00042 of a burst, …`.
pub fn burst_line(n: usize) -> String {
    format!("line {n:05} of a burst, to show that nobody misses a line")
}

/// A client of the demo: connected in this process, printing what it receives on stdout.
pub struct DemoClient {
    /// Its name in the demo's output (`ana ← …`).
    pub who: &'static str,
    /// The connection, for a demo that writes to it from another thread.
    pub conn: TcpStream,
    input: BufReader<TcpStream>,
    /// Its narrator: a demo adds notes of its own (`zed │ stops reading`).
    pub say: Narrator,
}

impl DemoClient {
    /// Connect; `receive_buffer` sets SO_RCVBUF before connecting (for the client that stalls).
    pub fn join(
        addr: SocketAddr,
        who: &'static str,
        receive_buffer: Option<usize>,
    ) -> Result<Self> {
        let say = Narrator::new(who, false);
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        if let Some(size) = receive_buffer {
            socket.set_recv_buffer_size(size)?;
            narrate!(say, call(format!("setsockopt(SO_RCVBUF, {size})"), "ok"));
        }
        socket.connect(&addr.into())?;
        let conn: TcpStream = socket.into();
        narrate!(
            say,
            call(
                format!("socket() + connect({addr})"),
                format!("connected from {}", conn.local_addr()?),
            )
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

    /// Send `text` and `\n`: one line.
    pub fn send(&mut self, text: &str) -> Result<()> {
        self.conn.write_all(format!("{text}\n").as_bytes())?;
        narrate!(self.say, call(format!("send({text:?})"), "ok"));
        Ok(())
    }

    /// Send raw bytes — half a line, for instance.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.conn.write_all(bytes)?;
        narrate!(
            self.say,
            call(format!("send({})", show_bytes(bytes, 40)), "ok")
        );
        Ok(())
    }

    /// Read one line; `None` when the server closed the connection.
    pub fn next_line(&mut self) -> Result<Option<String>> {
        let mut line = String::new();
        let n = (&mut self.input)
            .take(64 * 1024)
            .read_line(&mut line)
            .with_context(|| format!("{}: no line from the server", self.who))?;
        Ok((n > 0).then(|| line.trim_end_matches('\n').to_string()))
    }

    /// Read and print the next `n` lines.
    pub fn expect(&mut self, n: usize) -> Result<()> {
        for _ in 0..n {
            match self.next_line()? {
                Some(line) => println!("{:>4} ← {line}", self.who),
                None => bail!("{}: the server closed the connection too soon", self.who),
            }
        }
        Ok(())
    }

    /// Read until the server closes the connection.
    pub fn expect_end(&mut self) -> Result<()> {
        while let Some(line) = self.next_line()? {
            println!("{:>4} ← {line}", self.who);
        }
        narrate!(
            self.say,
            call("recv()", "0 bytes: the server closed the connection")
        );
        Ok(())
    }

    /// Read a burst of `count` lines [`burst_line`] from `from`, and the notice `also`, in any
    /// interleaving.
    pub fn expect_burst(&mut self, from: &str, count: usize, also: &str) -> Result<()> {
        let (mut got, mut seen_also) = (0, false);
        let prefix = format!("[{from}] ");
        while got < count || !seen_also {
            match self.next_line()? {
                Some(line) if line.starts_with(&prefix) => {
                    got += 1;
                    // The lines are numbered: check none is missing or out of order.
                    if line[prefix.len()..] != burst_line(got) {
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

/// The demos' burst: the first of `readers` sends `count` lines ([`burst_line`]) in one write,
/// from a thread of its own, while each of `readers` (the sender too: it hears its own lines)
/// reads every one of them and the notice `also` (`* zed left (too slow)`), each on a thread of
/// its own.
pub fn burst(readers: [&mut DemoClient; 3], count: usize, also: &str) -> Result<()> {
    let sender = &readers[0];
    narrate!(sender.say, note(format!("sends {count} lines in one go")));
    let lines: String = (1..=count).map(|n| burst_line(n) + "\n").collect();
    let mut writer = sender.conn.try_clone()?;
    let from = sender.who;
    std::thread::scope(|scope| -> Result<()> {
        let sending = scope.spawn(move || writer.write_all(lines.as_bytes()));
        let reading: Vec<_> = readers
            .into_iter()
            .map(|client| scope.spawn(move || client.expect_burst(from, count, also)))
            .collect();
        for handle in reading {
            handle
                .join()
                .map_err(|_| anyhow!("a reading thread panicked"))??;
        }
        sending
            .join()
            .map_err(|_| anyhow!("the sending thread panicked"))??;
        Ok(())
    })
}
