//! Lesson 08's checks talk to the program through a [`Peer`]: frames written and read with
//! the checker's own [`frames`](super::frames) (never the lesson's framing), every read bounded, everything sent and received kept as evidence.

use super::*;

/// A reader that keeps (the first 4 KiB of) what it read, to show as evidence.
pub(super) struct Recorded<R> {
    pub(super) inner: R,
    pub(super) seen: Vec<u8>,
}

impl<R: Read> Read for Recorded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let room = 4096usize.saturating_sub(self.seen.len()).min(n);
        self.seen.extend_from_slice(&buf[..room]);
        Ok(n)
    }
}

/// One end of a connection to the program: TCP or Unix, reads and writes bounded by
/// [`IO_TIMEOUT`], everything read kept for evidence.
pub(super) struct Peer<S: Read + Write> {
    pub(super) stream: Recorded<S>,
    sent: Vec<u8>,
    /// The program's command line and stderr, for evidence.
    evidence: Box<dyn Fn(Failure) -> Failure>,
}

impl<S: Read + Write> Peer<S> {
    pub(super) fn new(stream: S, evidence: Box<dyn Fn(Failure) -> Failure>) -> Peer<S> {
        Peer {
            stream: Recorded {
                inner: stream,
                seen: Vec::new(),
            },
            sent: Vec::new(),
            evidence,
        }
    }

    pub(super) fn fail(&self, reason: impl Into<String>) -> Failure {
        let failure = Failure::new(reason)
            .sent(self.sent.clone())
            .received(self.stream.seen.clone());
        (self.evidence)(failure)
    }

    pub(super) fn send(&mut self, bytes: &[u8]) -> Outcome {
        self.sent.extend_from_slice(&bytes[..bytes.len().min(4096)]);
        self.stream
            .inner
            .write_all(bytes)
            .map_err(|e| self.fail(format!("sending: {e}")))
    }

    /// Send `pieces`, each once the server has read the one before.
    pub(super) fn send_in_pieces(&mut self, pieces: &[&[u8]]) -> Outcome
    where
        S: Delivery,
    {
        for piece in pieces {
            self.sent.extend_from_slice(&piece[..piece.len().min(4096)]);
        }
        send_in_pieces(&mut self.stream.inner, pieces)
            .map_err(|e| self.fail(format!("sending: {e}")))
    }

    pub(super) fn request(&mut self, message: &Frame) -> Outcome {
        self.send(&encode(message))
    }

    /// The next frame; a clean end of stream is a failure here.
    pub(super) fn response(&mut self, waiting_for: &str) -> Result<Frame, Failure> {
        match read_frame(&mut self.stream) {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(self.fail(format!(
                "the connection closed before {waiting_for} arrived"
            ))),
            Err(FrameError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(self.fail(format!(
                    "no complete frame ({waiting_for}) within {} s",
                    IO_TIMEOUT.as_secs()
                )))
            }
            Err(e) => Err(self.fail(format!("reading {waiting_for}: {e}"))),
        }
    }

    /// The next frame must be JSON; returns its value.
    pub(super) fn json_response(&mut self, waiting_for: &str) -> Result<Value, Failure> {
        let message = self.response(waiting_for)?;
        json_of(&message).map_err(|why| self.fail(format!("{waiting_for}: {why}")))
    }

    /// The next frame must be an error frame, and then the connection must close.
    pub(super) fn expect_refusal(&mut self, why: &str) -> Outcome {
        let value = self.json_response(&format!("an error frame ({why})"))?;
        ensure(value.get("error").is_some_and(Value::is_string), || {
            self.fail(format!("{why}: the answer is not an error frame"))
                .expected("a JSON response {\"error\": \"…\"}")
        })?;
        match read_frame(&mut self.stream) {
            Ok(None) => Ok(()),
            Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
            Ok(Some(_)) => Err(self.fail(format!(
                "{why}: after the error frame, another frame instead of a close"
            ))),
            Err(e) => Err(self.fail(format!(
                "{why}: after the error frame the connection must close: {e}"
            ))),
        }
    }
}

/// A message's content as JSON, checking its header says so.
pub(super) fn json_of(message: &Frame) -> Result<Value, String> {
    if message.content_type != JSON || message.content_encoding != UTF8 {
        return Err(format!(
            "expected content-type {JSON} and content-encoding {UTF8}, got {} and {}",
            message.content_type, message.content_encoding
        ));
    }
    serde_json::from_slice(&message.content).map_err(|e| format!("the content is not JSON: {e}"))
}

pub(super) fn tcp_peer(server: &Server) -> Result<Peer<TcpStream>, Failure> {
    let stream = connect(server.addr)?;
    let (command, stderr) = (server.process.command_line().to_string(), server.stderr());
    Ok(Peer::new(
        stream,
        Box::new(move |f| f.command(&command).stderr(stderr.clone())),
    ))
}

pub(super) fn unix_peer(server: &UnixServer) -> Result<Peer<UnixStream>, Failure> {
    let stream = UnixStream::connect(&server.path)
        .map_err(|e| server.failure(format!("connecting to {}: {e}", server.path.display())))?;
    stream
        .set_read_timeout(Some(crate::checker::harness::scaled(IO_TIMEOUT)))
        .and_then(|()| stream.set_write_timeout(Some(crate::checker::harness::scaled(IO_TIMEOUT))))
        .map_err(Failure::io("setting timeouts"))?;
    let command = server.process.command_line().to_string();
    let stderr = server.process.stderr();
    Ok(Peer::new(
        stream,
        Box::new(move |f| f.command(&command).stderr(stderr.clone())),
    ))
}

pub(super) fn search(word: &str) -> Frame {
    Frame::json(&json!({"action": "search", "value": word}))
}

/// Send `search WORD` on `peer` and check the answer is `result`.
pub(super) fn expect_search<S: Read + Write>(
    peer: &mut Peer<S>,
    word: &str,
    result: Value,
) -> Outcome {
    peer.request(&search(word))?;
    let got = peer.json_response(&format!("the answer to search {word:?}"))?;
    let want = json!({"action": "search", "value": word, "result": result});
    ensure(got == want, || {
        peer.fail(format!("the answer to search {word:?} is not right"))
            .expected(want.to_string())
    })
}

pub(super) fn expect_first<S: Read + Write>(
    peer: &mut Peer<S>,
    what: &str,
    good: impl Fn(&Frame) -> bool,
) -> Outcome {
    let got = peer.response(what)?;
    ensure(good(&got), || {
        peer.fail(format!(
            "{what} is not the answer to the request in that place"
        ))
        .expected("search, echo, time answered in the order they were sent")
    })
}
