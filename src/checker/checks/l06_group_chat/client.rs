//! Lesson 06's client checks, against a stand-in server ([`chat_stub`]).

use super::*;
use crate::checker::harness::Finished;

/// A stand-in server for the client checks: it welcomes the client, answers `/nick` and each
/// line as a real server would, and on `/quit` sends one more line, `* bye`, and closes. Returns what the
/// client sent.
pub(super) fn chat_stub() -> Result<TcpStub, Failure> {
    TcpStub::start("127.0.0.1:0", |stream| {
        let mut name = stream
            .peer_addr()
            .map_err(Failure::io("getpeername"))?
            .to_string();
        let mut reader = BufReader::new(stream.try_clone().map_err(Failure::io("cloning"))?);
        let mut received = Vec::new();
        let reply = |stream: &mut TcpStream, text: String| {
            stream
                .write_all(format!("{text}\n").as_bytes())
                .map_err(Failure::io("the test's server could not send"))
        };
        reply(stream, format!("* welcome {name}, 1 online"))?;
        loop {
            let mut line = Vec::new();
            let got = (&mut reader).take(READ_LIMIT).read_until(b'\n', &mut line);
            received.extend_from_slice(&line);
            match got {
                Ok(0) => {
                    return Err(
                        Failure::new("the client closed the connection without `/quit`")
                            .received(received),
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(
                        Failure::new(format!("the client sent no `/quit`: {e}")).received(received)
                    );
                }
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches('\n').trim_end_matches('\r');
            if text == "/quit" {
                // Shapes the exchange: the last line comes a little after `/quit`, as from a
                // busy server; a client that exits without waiting for the close misses it.
                std::thread::sleep(Duration::from_millis(200));
                reply(stream, "[ben] one more line, after your /quit".to_string())?;
                reply(stream, BYE.to_string())?;
                return Ok(received); // and the connection closes
            } else if let Some(new) = text.strip_prefix("/nick ") {
                reply(stream, format!("* {name} is now {new}"))?;
                name = new.to_string();
            } else {
                reply(stream, format!("[{name}] {text}"))?;
            }
        }
    })
}

pub fn client_chats_through_stdin(target: &Target) -> Outcome {
    let stub = chat_stub()?;
    let port = stub.addr.port().to_string();
    let args = ["client", "--port", &port, "--name", "ana", "-q"];
    // The last line has no `\n`: the client must still send it as a line.
    let finished = run(target, &args, b"hello\nsecond line", RUN_TIMEOUT)?;
    let sent = stub.finish().map_err(|f| {
        f.context("the test's server")
            .command(&target.display(&args))
    })?;
    finished.expect_code(0)?;
    let want_sent = b"/nick ana\nhello\nsecond line\n/quit\n";
    ensure(sent == want_sent, || {
        finished
            .failure("the client did not send `/nick ana`, each line of stdin, then `/quit`")
            .sent(sent.clone())
            .expected(String::from_utf8_lossy(want_sent).into_owned())
    })?;
    let want = "* welcome 127.0.0.1:PORT, 1 online\n* 127.0.0.1:PORT is now ana\n[ana] hello\n\
                [ana] second line\n[ben] one more line, after your /quit\n* bye\n";
    // The stub named the client by its address, which only the client knows: compare the
    // shape with the port blanked out.
    let got = blank_ports(&finished.stdout_text());
    ensure(got == want, || {
        finished
            .failure("the client did not print exactly the lines the server sent (the last one arrives after `/quit`: wait for the server to close)")
            .expected(want.replace("PORT", "…"))
    })
}

/// `127.0.0.1:50312` → `127.0.0.1:PORT`.
pub(super) fn blank_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..at + "127.0.0.1:".len()]);
        rest = rest[at + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push_str("PORT");
    }
    out.push_str(rest);
    out
}

/// Run `client` against a stand-in server that sends `lines` and closes, with stdin kept open
/// as a terminal's is; the client is killed if it has not exited 5 s later.
pub(super) fn client_hearing(target: &Target, lines: String) -> Result<Finished, Failure> {
    let stub = TcpStub::start("127.0.0.1:0", move |stream| {
        stream
            .write_all(lines.as_bytes())
            .map_err(Failure::io("the test's server could not send"))?;
        Ok(Vec::new()) // and the connection closes
    })?;
    let port = stub.addr.port().to_string();
    let finished = run_with(
        target,
        &["client", "--port", &port, "-q"],
        Input::KeptOpen,
        Duration::from_secs(5),
    )?;
    stub.finish()?;
    Ok(finished)
}

pub fn client_exits_when_server_closes(target: &Target) -> Outcome {
    let lines = format!("* welcome someone, 1 online\n{SHUTTING_DOWN}\n");
    let finished = client_hearing(target, lines)?;
    finished.expect_code(0).map_err(|f| {
        f.expected("exit status 0 soon after the server closed, though stdin is still open")
    })?;
    let want = format!("* welcome someone, 1 online\n{SHUTTING_DOWN}\n");
    ensure(finished.stdout_text() == want, || {
        finished
            .failure("the client did not print the server's lines")
            .expected(want.clone())
    })
}
