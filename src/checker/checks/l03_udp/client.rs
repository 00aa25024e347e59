//! Lesson 03's client checks, against [`UdpStub`]: a UDP server the check controls, so that
//! loss happens exactly when the check wants it.

use super::*;

// --- A UDP server the check controls -------------------------------------------------------

/// What a [`UdpStub`] sends back for a datagram.
pub(super) enum Answer {
    /// This datagram, from the stub's own address: what a server's echo looks like.
    Back(Vec<u8>),
    /// This datagram, from another address: a stranger writing to the client's port.
    Stranger(Vec<u8>),
}

/// How often the stub's thread looks at its stop flag between datagrams.
const STUB_POLL: Duration = Duration::from_millis(20);
/// The stub stops after this many datagrams, whatever the program under test does.
const STUB_MAX_DATAGRAMS: usize = 1000;

/// A UDP server on 127.0.0.1 that answers as a check decides: `answer(n, datagram)` is called
/// for the n-th datagram (from 1) and returns what to send back to its sender. Its thread ends
/// when [`UdpStub::finish`] is called or the stub is dropped, so it can never be left blocked.
pub(super) struct UdpStub {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Vec<Vec<u8>>, Failure>>>,
}

impl UdpStub {
    pub(super) fn start<F>(mut answer: F) -> Result<UdpStub, Failure>
    where
        F: FnMut(usize, &[u8]) -> Vec<Answer> + Send + 'static,
    {
        let socket =
            UdpSocket::bind("127.0.0.1:0").map_err(Failure::io("binding the test's server"))?;
        let stranger =
            UdpSocket::bind("127.0.0.1:0").map_err(Failure::io("binding the test's stranger"))?;
        socket
            .set_read_timeout(Some(STUB_POLL))
            .map_err(Failure::io("setting a timeout"))?;
        let addr = socket.local_addr().map_err(Failure::io("getsockname"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut received: Vec<Vec<u8>> = Vec::new();
            let mut buf = vec![0u8; BUFFER];
            while !stopped.load(Ordering::SeqCst) && received.len() < STUB_MAX_DATAGRAMS {
                let (n, peer) = match socket.recv_from(&mut buf) {
                    Ok(got) => got,
                    // The poll timeout, or an ICMP error about an earlier answer: keep going.
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::WouldBlock
                                | ErrorKind::TimedOut
                                | ErrorKind::Interrupted
                                | ErrorKind::ConnectionRefused
                                | ErrorKind::ConnectionReset
                        ) =>
                    {
                        continue;
                    }
                    Err(e) => return Err(Failure::new(format!("the test's UDP server: {e}"))),
                };
                received.push(buf[..n].to_vec());
                for reply in answer(received.len(), &buf[..n]) {
                    let (from, data) = match &reply {
                        Answer::Back(data) => (&socket, data),
                        Answer::Stranger(data) => (&stranger, data),
                    };
                    from.send_to(data, peer)
                        .map_err(Failure::io("the test's UDP server answering"))?;
                }
            }
            Ok(received)
        });
        Ok(UdpStub {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Stop the stub and return every datagram it received, in order.
    pub(super) fn finish(mut self) -> Result<Vec<Vec<u8>>, Failure> {
        self.join()
    }

    fn join(&mut self) -> Result<Vec<Vec<u8>>, Failure> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(Failure::new("the test's UDP server panicked"))),
            None => Ok(Vec::new()),
        }
    }

    pub(super) fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

impl Drop for UdpStub {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// An echo: the datagram back, from the stub's address.
pub(super) fn echo(data: &[u8]) -> Vec<Answer> {
    vec![Answer::Back(data.to_vec())]
}

/// Datagrams as a list a student can read: `[b"hello", b"world"]`.
pub(super) fn list(datagrams: &[Vec<u8>]) -> String {
    let shown: Vec<String> = datagrams.iter().map(|d| show_bytes(d, 40)).collect();
    format!("[{}]", shown.join(", "))
}

/// Run `client` against `stub`, then check what the stub received and what the client printed.
pub(super) fn client_against(
    target: &Target,
    stub: UdpStub,
    args: &[&str],
    stdin: &[u8],
    want_sent: &[&[u8]],
    want_stdout: &[u8],
) -> Outcome {
    let port = stub.port();
    let mut all = vec!["client", "--port", &port, "-q"];
    all.extend_from_slice(args);
    let finished = run(target, &all, stdin, RUN_TIMEOUT)?;
    // The evidence is the client's (command, stdout, stderr) and what the test's server saw.
    let received = stub
        .finish()
        .map_err(|f| finished.failure(format!("the test's server: {}", f.reason)))?;
    finished.expect_code(0).map_err(|f| {
        f.with_reason_suffix(format!("; the test's server got {}", list(&received)))
    })?;
    let want: Vec<Vec<u8>> = want_sent.iter().map(|d| d.to_vec()).collect();
    ensure(received == want, || {
        finished
            .failure(format!("the client sent the datagrams {}", list(&received)))
            .expected(format!(
                "one datagram per message, exactly its bytes: {}",
                list(&want)
            ))
    })?;
    ensure(finished.stdout == want_stdout, || {
        finished
            .failure(format!(
                "the client did not print each echo on its own line (the test's server got {})",
                list(&received)
            ))
            .expected(format!("stdout {}", show_bytes(want_stdout, 80)))
    })
}

/// Two messages, echoed at once by the stub.
pub fn client_prints_replies(target: &Target) -> Outcome {
    let stub = UdpStub::start(|_, data| echo(data))?;
    client_against(
        target,
        stub,
        &["--timeout-ms", "2000", "hello", "two words"],
        b"",
        &[b"hello", b"two words"],
        b"hello\ntwo words\n",
    )
}

/// No MESSAGE: each line of stdin, the last one without `\n`.
pub fn client_reads_stdin(target: &Target) -> Outcome {
    let stub = UdpStub::start(|_, data| echo(data))?;
    client_against(
        target,
        stub,
        &["--timeout-ms", "2000"],
        b"alpha\nbeta\ngamma",
        &[b"alpha", b"beta", b"gamma"],
        b"alpha\nbeta\ngamma\n",
    )
}

/// The stub ignores the first datagram and echoes the second: the client must have resent.
pub fn client_retries(target: &Target) -> Outcome {
    let stub = UdpStub::start(|n, data| if n == 1 { Vec::new() } else { echo(data) })?;
    client_against(
        target,
        stub,
        &["--timeout-ms", SAFE_TIMEOUT_MS, "--retries", "3", "hello"],
        b"",
        &[b"hello", b"hello"],
        b"hello\n",
    )
}

/// Before the echo of the second message the client gets a datagram from a stranger and a
/// stale second echo of the first message; it must print only the two real echoes.
pub fn client_ignores_strangers_and_stale_replies(target: &Target) -> Outcome {
    let stub = UdpStub::start(|n, data| match n {
        2 => vec![
            Answer::Stranger(b"intruder".to_vec()),
            Answer::Back(b"first".to_vec()),
            Answer::Back(data.to_vec()),
        ],
        _ => echo(data),
    })?;
    client_against(
        target,
        stub,
        &["--timeout-ms", "2000", "first", "second"],
        b"",
        &[b"first", b"second"],
        b"first\nsecond\n",
    )
}

/// A stub that never answers: two tries (`--retries 1`), then the error.
pub fn client_no_reply(target: &Target) -> Outcome {
    let stub = UdpStub::start(|_, _| Vec::new())?;
    let port = stub.port();
    let args = [
        "client",
        "--port",
        &port,
        "-q",
        "--timeout-ms",
        SHORT_TIMEOUT_MS,
        "--retries",
        "1",
        "hello",
    ];
    let finished = run(target, &args, b"", RUN_TIMEOUT)?;
    let received = stub.finish()?;
    common::expect_error(&finished, &["no reply"])?;
    ensure(received.len() == 2, || {
        finished
            .failure(format!(
                "the server received {} datagram(s): {}",
                received.len(),
                list(&received)
            ))
            .expected("2 tries with --retries 1: the first datagram and one resend")
    })
}

/// 70 000 bytes cannot be one IPv4 datagram: an error naming the limit, and nothing sent.
pub fn client_message_too_large(target: &Target) -> Outcome {
    let stub = UdpStub::start(|_, _| Vec::new())?;
    let port = stub.port();
    let message = "x".repeat(70_000);
    let args = [
        "client",
        "--port",
        &port,
        "-q",
        "--timeout-ms",
        SHORT_TIMEOUT_MS,
        "--retries",
        "0",
        &message,
    ];
    let finished = run(target, &args, b"", RUN_TIMEOUT)?;
    let received = stub.finish()?;
    common::expect_error(&finished, &["65507"])?;
    ensure(received.is_empty(), || {
        finished
            .failure(format!(
                "the client still sent {} datagram(s)",
                received.len()
            ))
            .expected("nothing sent: the size is checked before sendto()")
    })
}
