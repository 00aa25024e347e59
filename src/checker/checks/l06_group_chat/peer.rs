//! [`Peer`]: a chat client a check opens, reading lines with a timeout, and the helpers that
//! fill a room with peers.

use super::*;

/// A chat client opened by a check: its connection, and its name as the server sees it.
pub struct Peer {
    /// The client's name in the room: its address as the server's accept() saw it
    /// (`127.0.0.1:50312`, `[::1]:50312`), until it sends `/nick`.
    pub name: String,
    label: String,
    pub(super) stream: TcpStream,
    pub(super) reader: BufReader<TcpStream>,
    pub(super) seen: Vec<u8>,
}

impl Peer {
    /// Connect to `server` (with [`IO_TIMEOUT`] on every read and write), not reading anything.
    /// `receive_buffer`: set `SO_RCVBUF` before connecting, as a client that reads slowly would.
    pub fn connect(
        server: &Server,
        label: impl Into<String>,
        receive_buffer: Option<usize>,
    ) -> Result<Peer, Failure> {
        let label = label.into();
        let stream = open(server.addr, receive_buffer)
            .map_err(|e| server.failure(format!("{label} could not connect: {e}")))?;
        let name = stream
            .local_addr()
            .map_err(Failure::io("getsockname"))?
            .to_string();
        let reader = BufReader::new(stream.try_clone().map_err(Failure::io("cloning"))?);
        Ok(Peer {
            name,
            label,
            stream,
            reader,
            seen: Vec::new(),
        })
    }

    /// Set how long each read may wait.
    pub fn read_timeout(&self, timeout: Duration) -> Outcome {
        // Every wait grows on a slow machine (WORKBOOK_TIMEOUT_SCALE).
        self.stream
            .set_read_timeout(Some(crate::checker::harness::scaled(timeout)))
            .map_err(Failure::io("setting a read timeout"))
    }

    /// Send raw bytes.
    pub fn send(&mut self, server: &Server, data: &[u8]) -> Outcome {
        self.stream.write_all(data).map_err(|e| {
            server
                .failure(format!("{} could not send: {e}", self.label))
                .sent(data.to_vec())
        })
    }

    /// Send `pieces`, each once the server has read the one before.
    pub fn send_in_pieces(&mut self, server: &Server, pieces: &[&[u8]]) -> Outcome {
        crate::checker::harness::send_in_pieces(&mut self.stream, pieces).map_err(|e| {
            server
                .failure(format!("{} could not send: {e}", self.label))
                .sent(pieces.concat())
        })
    }

    /// Send one line (`text` and `\n`).
    pub fn say(&mut self, server: &Server, text: &str) -> Outcome {
        self.send(server, format!("{text}\n").as_bytes())
    }

    /// The next line without its `\n`, or `None` when the server closed the connection
    /// (a reset after the server closed counts as closed).
    pub fn next_line(&mut self, server: &Server) -> Result<Option<Vec<u8>>, Failure> {
        let mut line = Vec::new();
        let got = (&mut self.reader)
            .take(READ_LIMIT)
            .read_until(b'\n', &mut line);
        self.remember(&line);
        match got {
            Ok(0) => Ok(None),
            Ok(_) if line.last() == Some(&b'\n') => {
                line.pop();
                Ok(Some(line))
            }
            Ok(_) if line.len() as u64 >= READ_LIMIT => {
                Err(self.failure(server, "a line of more than 64 KiB from the server"))
            }
            // The connection ended in the middle of a line.
            Ok(_) => Err(self.failure(
                server,
                "the connection ended in the middle of a line (no `\\n`)",
            )),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(None),
            Err(e) => Err(self.failure(server, &format!("no line from the server: {e}"))),
        }
    }

    /// The next line must be exactly `want`.
    pub fn expect(&mut self, server: &Server, want: &str) -> Outcome {
        match self.next_line(server)? {
            Some(line) if line == want.as_bytes() => Ok(()),
            Some(line) => Err(self
                .mismatch(server, &format!("expected `{}`", short(want)), line)
                .expected(short(want))),
            None => Err(self
                .failure(server, "the server closed the connection")
                .expected(short(want))),
        }
    }

    /// Like [`Peer::expect`], but first skip (a few of) this client's own lines `[NAME] …`:
    /// for checks about something else than whether the sender gets its own lines.
    pub fn expect_besides_own(&mut self, server: &Server, want: &str) -> Outcome {
        let own = format!("[{}] ", self.name);
        for _ in 0..10 {
            match self.next_line(server)? {
                Some(line) if line.starts_with(own.as_bytes()) => continue,
                Some(line) if line == want.as_bytes() => return Ok(()),
                Some(line) => {
                    return Err(self
                        .mismatch(server, &format!("expected `{}`", short(want)), line)
                        .expected(short(want)));
                }
                None => {
                    return Err(self
                        .failure(server, "the server closed the connection")
                        .expected(short(want)));
                }
            }
        }
        Err(self.failure(
            server,
            &format!("no `{}` among the next lines", short(want)),
        ))
    }

    /// The next line must start with `prefix`; returns it.
    pub fn expect_prefix(&mut self, server: &Server, prefix: &str) -> Result<String, Failure> {
        match self.next_line(server)? {
            Some(line) if line.starts_with(prefix.as_bytes()) => {
                Ok(String::from_utf8_lossy(&line).into_owned())
            }
            Some(line) => Err(self
                .mismatch(
                    server,
                    &format!("expected a line starting with `{prefix}`"),
                    line,
                )
                .expected(format!("`{prefix}…`"))),
            None => Err(self
                .failure(server, "the server closed the connection")
                .expected(format!("`{prefix}…`"))),
        }
    }

    /// Read until the server closes the connection (at most `max_lines` lines before that);
    /// returns the lines.
    pub fn until_closed(
        &mut self,
        server: &Server,
        max_lines: usize,
    ) -> Result<Vec<String>, Failure> {
        let mut lines = Vec::new();
        while let Some(line) = self.next_line(server)? {
            lines.push(String::from_utf8_lossy(&line).into_owned());
            if lines.len() > max_lines {
                return Err(self.failure(
                    server,
                    &format!("more than {max_lines} lines and the connection is still open"),
                ));
            }
        }
        Ok(lines)
    }

    /// A failure naming this client, with the server's evidence and what this client received.
    pub fn failure(&self, server: &Server, reason: &str) -> Failure {
        server
            .failure(format!("{} ({}): {reason}", self.label, self.name))
            .received(self.seen.clone())
    }

    /// A failure about one line this client received (shown as the evidence).
    pub fn mismatch(&self, server: &Server, reason: &str, line: Vec<u8>) -> Failure {
        server
            .failure(format!("{} ({}): {reason}", self.label, self.name))
            .received(line)
    }

    fn remember(&mut self, data: &[u8]) {
        self.seen.extend_from_slice(data);
        if self.seen.len() > KEEP_SEEN {
            let cut = self.seen.len() - KEEP_SEEN;
            self.seen.drain(..cut);
        }
    }

    /// Close abruptly with a reset (`SO_LINGER` 0 then close): the server's recv() fails with
    /// ECONNRESET instead of returning 0.
    pub fn reset(self) -> Outcome {
        socket2::SockRef::from(&self.stream)
            .set_linger(Some(Duration::ZERO))
            .map_err(Failure::io("setting SO_LINGER"))
    }
}

/// `text`, cut to a length a failure message can show.
pub(super) fn short(text: &str) -> String {
    const SHOW: usize = 100;
    match text.char_indices().nth(SHOW) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
        None => text.to_string(),
    }
}

/// A TCP connection with timeouts, `TCP_NODELAY` (each line leaves at once), and optionally a
/// small receive buffer set before connecting (the window is agreed during the handshake).
pub(super) fn open(addr: SocketAddr, receive_buffer: Option<usize>) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    let timeout = crate::checker::harness::scaled(IO_TIMEOUT);
    socket.connect_timeout(&addr.into(), timeout)?;
    let stream: TcpStream = socket.into();
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// `N` clients joined one after another, each welcomed with the right count, each announced
/// to the ones already there — and every one of those lines read, so the room is in sync.
pub fn room<const N: usize>(server: &Server) -> Result<[Peer; N], Failure> {
    let mut peers: Vec<Peer> = Vec::with_capacity(N);
    for k in 0..N {
        let label = format!("client {}", char::from(b'A' + k as u8));
        let mut newcomer = Peer::connect(server, label, None)?;
        let welcome = format!("* welcome {}, {} online", newcomer.name, k + 1);
        newcomer.expect(server, &welcome)?;
        let joined = format!("* {} joined", newcomer.name);
        for peer in &mut peers {
            peer.expect(server, &joined)?;
        }
        peers.push(newcomer);
    }
    match peers.try_into() {
        Ok(peers) => Ok(peers),
        Err(_) => Err(Failure::new("the check built the wrong number of clients")),
    }
}

/// `from` says `text`; each of `hearers` must receive `[NAME] text` as its next line. This is
/// also how checks prove that nothing else was sent in between.
pub(super) fn hear(
    server: &Server,
    from_name: &str,
    text: &str,
    hearers: &mut [&mut Peer],
) -> Outcome {
    let want = format!("[{from_name}] {text}");
    for peer in hearers.iter_mut() {
        peer.expect(server, &want)?;
    }
    Ok(())
}
