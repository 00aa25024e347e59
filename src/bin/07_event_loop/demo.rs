//! The demo: the one-thread server and four clients in one process. The clients are ordinary
//! blocking sockets, each on the demo's side; the server is the loop, on a single thread.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use workbook::kit::cli::ports;
use workbook::kit::narrate::{Narrator, try_next};
use workbook::kit::net::listen;
use workbook::kit::shutdown::Stop;

use crate::LESSON;
use crate::room::Settings;

/// How many lines ana sends in one go while zed has stopped reading.
const BURST: usize = 5000;

// ANCHOR: demo
/// A client of the demo, printing what it receives on stdout.
struct Demo {
    who: &'static str,
    conn: TcpStream,
    input: BufReader<TcpStream>,
    say: Narrator,
}

impl Demo {
    /// Connect; `receive_buffer` sets SO_RCVBUF first (for the client that stalls).
    fn join(addr: SocketAddr, who: &'static str, receive_buffer: Option<usize>) -> Result<Demo> {
        let say = Narrator::new(who, false);
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        if let Some(size) = receive_buffer {
            socket.set_recv_buffer_size(size)?;
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
        Ok(Demo {
            who,
            conn,
            input,
            say,
        })
    }

    fn send(&mut self, bytes: &str) -> Result<()> {
        self.conn.write_all(bytes.as_bytes())?;
        self.say.call(format!("send({bytes:?})"), "ok");
        Ok(())
    }

    /// The next line; `None` when the server closed the connection.
    fn line(&mut self) -> Result<Option<String>> {
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
            match self.line()? {
                Some(line) => println!("{:>4} ← {line}", self.who),
                None => bail!("{}: the server closed the connection too soon", self.who),
            }
        }
        Ok(())
    }

    /// Read until the server closes the connection.
    fn expect_end(&mut self) -> Result<()> {
        while let Some(line) = self.line()? {
            println!("{:>4} ← {line}", self.who);
        }
        self.say
            .call("recv()", "0 bytes: the server closed the connection");
        Ok(())
    }

    /// Read ana's burst, every line in order, and the notice `also`, in any interleaving.
    fn expect_burst(&mut self, also: &str) -> Result<()> {
        let (mut got, mut seen_also) = (0, false);
        while got < BURST || !seen_also {
            match self.line()? {
                Some(line) if line == also => {
                    seen_also = true;
                    println!("{:>4} ← {line}", self.who);
                }
                Some(line) if line == format!("[ana] {}", burst_line(got + 1)) => got += 1,
                Some(line) => bail!(
                    "{}: line {} of the burst is wrong: {line}",
                    self.who,
                    got + 1
                ),
                None => bail!("{}: disconnected during the burst", self.who),
            }
        }
        println!(
            "{:>4} ← {BURST} lines from ana, every one, in order",
            self.who
        );
        Ok(())
    }
}

/// Line `n` of ana's burst: long enough that the burst overflows every buffer zed has.
fn burst_line(n: usize) -> String {
    format!("line {n:04} of a burst, to show that nobody misses a line")
}

/// The conversation: names, a client that sends half a line and then nothing (nobody waits
/// for it), a client that stops reading during a burst (dropped; nobody misses a line),
/// `/quit`, and shutdown.
fn conversation(addr: SocketAddr, stop: &Stop, server: &Narrator) -> Result<()> {
    let mut ana = Demo::join(addr, "ana", None)?;
    ana.expect(1)?;
    ana.send("/nick ana\n")?;
    ana.expect(1)?;
    let mut ben = Demo::join(addr, "ben", None)?;
    ben.expect(1)?;
    ana.expect(1)?;
    ben.send("/nick ben\n")?;
    ana.expect(1)?;
    ben.expect(1)?;

    // A thread per client would now be stuck in recv() waiting for the rest of sil's line.
    let mut sil = Demo::join(addr, "sil", None)?;
    sil.expect(1)?;
    ana.expect(1)?;
    ben.expect(1)?;
    sil.send("hel")?;
    sil.say
        .note("sends half a line, then nothing: the loop does not wait for the rest");
    let asked = Instant::now();
    ana.send("hello, room\n")?;
    for client in [&mut ana, &mut ben, &mut sil] {
        client.expect(1)?;
    }
    ana.say.note(format!(
        "heard back in {:?}, sil's half line notwithstanding",
        asked.elapsed()
    ));
    sil.send("lo\n")?;
    for client in [&mut ana, &mut ben, &mut sil] {
        client.expect(1)?; // the two halves, one line
    }
    sil.send("/nick sil\n")?;
    for client in [&mut ana, &mut ben, &mut sil] {
        client.expect(1)?;
    }

    // zed joins with a tiny receive buffer and never reads a line.
    let mut zed = Demo::join(addr, "zed", Some(4096))?;
    zed.send("/nick zed\n")?;
    for client in [&mut ana, &mut ben, &mut sil] {
        client.expect(2)?; // `* … joined` and `* … is now zed`
    }
    zed.say
        .note("stops reading: its buffers will fill, and the server's loop will notice");
    ana.say.note(format!("sends {BURST} lines in one go"));
    let burst: String = (1..=BURST).map(|n| burst_line(n) + "\n").collect();
    let mut writer = ana.conn.try_clone()?;
    std::thread::scope(|readers| -> Result<()> {
        let sending = readers.spawn(move || writer.write_all(burst.as_bytes()));
        let reading: Vec<_> = [&mut ana, &mut ben, &mut sil]
            .into_iter()
            .map(|client| readers.spawn(move || client.expect_burst("* zed left (too slow)")))
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
    })?;
    drop(zed);

    ben.send("/quit\n")?;
    ben.expect_end()?;
    ana.expect(1)?;
    sil.expect(1)?;
    server.note("the demo is over: stopping the server as Ctrl-C would");
    stop.stop();
    ana.expect_end()?;
    sil.expect_end()
}
// ANCHOR_END: demo

/// Four clients in one process, the server on one thread of its own.
pub fn demo() -> Result<()> {
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
        let serving = scope.spawn(|| crate::serve(listener, &settings, &stop, &server));
        let talked = conversation(addr, &stop, &server);
        stop.stop(); // also when the conversation failed, so that the server's loop ends
        let served = serving
            .join()
            .map_err(|_| anyhow!("the server thread panicked"))?;
        talked.and(served)
    })?;
    try_next(&[
        format!("cargo run --bin {LESSON} -- server                   # terminal 1"),
        format!("cargo run --bin {LESSON} -- client --name ana        # terminal 2"),
        format!(
            "nc 127.0.0.1 {}                                    # terminal 3: plain netcat, type lines",
            ports::EVENT_LOOP
        ),
    ]);
    Ok(())
}
