//! Wire probes: what a check uses to talk to a program under test — connect, bounded reads,
//! a TCP server the check controls, a port that refuses, a UDP socket. Every read is bounded by
//! a timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::thread::JoinHandle;

use super::IO_TIMEOUT;
use crate::checker::evidence::Failure;

/// Connect to `addr` with [`IO_TIMEOUT`] on the connect and on every later read and write.
pub fn connect(addr: SocketAddr) -> Result<TcpStream, Failure> {
    let timeout = super::scaled(IO_TIMEOUT);
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| Failure::new(format!("could not connect to {addr}: {e}")))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(Failure::io("setting a read timeout"))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(Failure::io("setting a write timeout"))?;
    Ok(stream)
}

/// Read until the peer closes (end of stream), at most `max` bytes, each read bounded by the
/// stream's timeout. A timeout is a failure that shows what had arrived.
pub fn read_to_end(stream: &mut TcpStream, max: usize) -> Result<Vec<u8>, Failure> {
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() > max {
                    return Err(Failure::new(format!(
                        "more than {max} bytes without the connection closing"
                    ))
                    .received(got));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Failure::new(format!(
                    "waiting for the server to close the connection: {}",
                    describe_io(&e)
                ))
                .received(got));
            }
        }
    }
}

/// The words [`describe_io`] starts a reset with, so a check can add what it knows (how many
/// bytes were left unread).
pub const RESET: &str = "the connection was reset";

/// An I/O error in words a student understands: a read timeout is "timed out after 5 s: nothing
/// arrived", not the operating system's "Resource temporarily unavailable"; a reset says what
/// sends one.
pub fn describe_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!(
            "timed out after {} s: nothing arrived",
            super::scaled(IO_TIMEOUT).as_secs_f64()
        ),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
            format!("{RESET} (RST): the program closed its socket with data unread, or died")
        }
        ErrorKind::BrokenPipe => {
            "the program had already closed the connection (broken pipe)".to_string()
        }
        _ => e.to_string(),
    }
}

/// For `map_err`: an I/O error while doing `what`, in [`describe_io`]'s words.
pub fn io_failure(what: &'static str) -> impl Fn(std::io::Error) -> Failure {
    move |e| Failure::new(format!("{what}: {}", describe_io(&e)))
}

/// Read exactly `n` bytes (or fail, showing what arrived), each read bounded by the timeout.
pub fn read_exact(stream: &mut TcpStream, n: usize) -> Result<Vec<u8>, Failure> {
    let mut got = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        match stream.read(&mut got[filled..]) {
            Ok(0) => {
                got.truncate(filled);
                return Err(
                    Failure::new(format!("connection closed after {filled} of {n} bytes"))
                        .received(got),
                );
            }
            Ok(k) => filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                got.truncate(filled);
                return Err(Failure::new(format!(
                    "after {filled} of {n} bytes: {}",
                    describe_io(&e)
                ))
                .received(got));
            }
        }
    }
    Ok(got)
}

/// Send `data` and read back `expect_len` bytes at the same time. Writing first and reading
/// afterwards deadlocks once the data is larger than the socket buffers (the server blocks
/// writing the echo we are not yet reading), so the writing happens on its own thread.
pub fn exchange(
    stream: &mut TcpStream,
    data: &[u8],
    expect_len: usize,
) -> Result<Vec<u8>, Failure> {
    let mut writer = stream
        .try_clone()
        .map_err(Failure::io("cloning the socket"))?;
    std::thread::scope(|scope| {
        let sending = scope.spawn(move || writer.write_all(data));
        let received = read_exact(stream, expect_len);
        let sent = sending
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("writer panicked")));
        match (received, sent) {
            (Ok(got), _) => Ok(got),
            (Err(e), Err(write_error)) => {
                Err(e.with_reason_suffix(format!("; writing also failed: {write_error}")))
            }
            (Err(e), Ok(())) => Err(e),
        }
    })
}

/// A one-connection TCP server that a check controls, for testing a client: it accepts one
/// connection, runs `handle` on it, and is shut down on drop even if no client ever came.
pub struct TcpStub {
    /// Where the stub listens (`127.0.0.1:PORT` or `[::1]:PORT`).
    pub addr: SocketAddr,
    handler: Option<JoinHandle<Result<Vec<u8>, Failure>>>,
}

impl TcpStub {
    /// Listen on `local` (e.g. `127.0.0.1:0`) and serve the first connection with `handle`, which
    /// returns what it received from the client (for evidence). The accepted stream has
    /// [`IO_TIMEOUT`] on reads and writes.
    pub fn start<F>(local: &str, handle: F) -> Result<TcpStub, Failure>
    where
        F: FnOnce(&mut TcpStream) -> Result<Vec<u8>, Failure> + Send + 'static,
    {
        let listener =
            TcpListener::bind(local).map_err(Failure::io("binding the test's server"))?;
        let addr = listener.local_addr().map_err(Failure::io("getsockname"))?;
        let handler = std::thread::spawn(move || {
            let (mut stream, _) = listener
                .accept()
                .map_err(Failure::io("accepting the client"))?;
            let timeout = super::scaled(IO_TIMEOUT);
            stream
                .set_read_timeout(Some(timeout))
                .map_err(Failure::io("setting a timeout"))?;
            stream
                .set_write_timeout(Some(timeout))
                .map_err(Failure::io("setting a timeout"))?;
            handle(&mut stream)
        });
        Ok(TcpStub {
            addr,
            handler: Some(handler),
        })
    }

    /// Wait for the handler to finish and return what it received from the client. If the
    /// client never connected, our own connection unblocks the stub's accept.
    pub fn finish(mut self) -> Result<Vec<u8>, Failure> {
        self.join()
    }

    fn join(&mut self) -> Result<Vec<u8>, Failure> {
        let Some(handler) = self.handler.take() else {
            return Ok(Vec::new());
        };
        if !handler.is_finished() {
            // Unblock accept() in case the client never came; harmless if it did.
            let _ = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT);
        }
        handler
            .join()
            .unwrap_or_else(|_| Err(Failure::new("the test's server thread panicked")))
    }
}

impl Drop for TcpStub {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// A loopback TCP port where nothing listens, for "connection refused" checks, reserved for as
/// long as the guard lives: a socket is bound to it but never listens, so a connection gets a
/// reset (ECONNREFUSED) and no other program — another test's server started with `--port 0`,
/// say — can take the port meanwhile. (A port merely found free a moment ago can be.)
pub struct RefusingPort {
    socket: socket2::Socket,
}

impl RefusingPort {
    /// The port number.
    pub fn port(&self) -> u16 {
        self.socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map_or(0, |a| a.port())
    }
}

/// Reserve a [`RefusingPort`] on 127.0.0.1.
pub fn refusing_port() -> Result<RefusingPort, Failure> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)
        .map_err(Failure::io("creating a probe socket"))?;
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    socket
        .bind(&addr.into())
        .map_err(Failure::io("binding a probe port"))?;
    Ok(RefusingPort { socket })
}

/// A UDP socket on the loopback address of `family_of`'s family, with [`IO_TIMEOUT`] on reads.
pub fn udp_socket(family_of: SocketAddr) -> Result<UdpSocket, Failure> {
    let local = if family_of.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let socket = UdpSocket::bind(local).map_err(Failure::io("binding a UDP socket"))?;
    socket
        .set_read_timeout(Some(super::scaled(IO_TIMEOUT)))
        .map_err(Failure::io("setting a read timeout"))?;
    Ok(socket)
}

/// A connected stream whose peer runs on this machine, so the kernel can tell how much of what
/// was sent the peer's program has not read yet.
pub trait Delivery: Write {
    /// Bytes sent on this stream that the peer has not read yet; `None` if the kernel does not
    /// say (then [`send_in_pieces`] cannot wait, and sends the next piece at once).
    fn unread_by_peer(&self) -> Option<u64>;
}

impl Delivery for TcpStream {
    /// The peer's receive queue, read from the kernel's socket tables (`/proc/thread-self/net/
    /// tcp{,6}`): the bytes its kernel holds that its program has not yet taken with `recv()`.
    /// (`SIOCOUTQ` on our side would not do: it drops to 0 when the peer's *kernel* acknowledges.)
    /// The tables of *this thread's* network: a check runs in a private network of its own
    /// (the sandbox), which `/proc/net`, the main thread's, does not show.
    fn unread_by_peer(&self) -> Option<u64> {
        let (ours, theirs) = (self.local_addr().ok()?, self.peer_addr().ok()?);
        let table = if theirs.is_ipv4() {
            "/proc/thread-self/net/tcp"
        } else {
            "/proc/thread-self/net/tcp6"
        };
        let (local, remote) = (proc_address(theirs), proc_address(ours));
        std::fs::read_to_string(table)
            .ok()?
            .lines()
            .skip(1)
            .find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str())
                {
                    return None;
                }
                let (_, rx) = fields.get(4)?.split_once(':')?;
                u64::from_str_radix(rx, 16).ok()
            })
    }
}

impl Delivery for std::os::unix::net::UnixStream {
    /// `SIOCOUTQ` on a Unix stream socket: the memory of what we sent that the peer's program
    /// has not read yet (the kernel frees it on `recv()`).
    fn unread_by_peer(&self) -> Option<u64> {
        use std::os::fd::AsRawFd;
        let mut queued: libc::c_int = 0;
        // SAFETY: a valid descriptor and a pointer to a c_int, as SIOCOUTQ (TIOCOUTQ) expects.
        let rc = unsafe { libc::ioctl(self.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        (rc == 0).then(|| u64::try_from(queued).unwrap_or(0))
    }
}

/// `addr` as `/proc/net/tcp` writes it: the address as 32-bit words in host byte order, in hex,
/// then `:` and the port in hex (`0100007F:1F40` is 127.0.0.1:8000 on x86).
fn proc_address(addr: SocketAddr) -> String {
    let octets = match addr.ip() {
        std::net::IpAddr::V4(ip) => ip.octets().to_vec(),
        std::net::IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    let words: String = octets
        .chunks(4)
        .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
        .collect();
    format!("{words}:{:04X}", addr.port())
}

/// Send `pieces` one at a time, each only once the peer has read the one before (at most
/// [`IO_TIMEOUT`], scaled, per piece): so a peer that takes one `recv()` for a whole message
/// gets a piece, whatever the machine's load. Sending with a pause between pieces would not do:
/// a peer slowed by load reads two pieces at once, and a wrong program passes by luck.
pub fn send_in_pieces<S: Delivery>(stream: &mut S, pieces: &[&[u8]]) -> std::io::Result<()> {
    for (n, piece) in pieces.iter().enumerate() {
        stream.write_all(piece)?;
        stream.flush()?;
        if n + 1 < pieces.len() {
            wait_until_read(stream, super::scaled(IO_TIMEOUT));
        }
    }
    Ok(())
}

/// Wait until the peer has read all we sent, at most `within`; false if it has not by then.
/// The kernel gives no event for "the peer read it", so this polls, every 2 ms.
pub fn wait_until_read(stream: &impl Delivery, within: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        match stream.unread_by_peer() {
            Some(0) | None => return true,
            Some(_) if std::time::Instant::now() >= deadline => return false,
            Some(_) => std::thread::sleep(std::time::Duration::from_millis(2)),
        }
    }
}
