//! Lesson 08's client checks, against a stub server that answers each request in pieces.

use super::*;

/// Send `frame` in pieces — one byte, then the rest in two parts, each once the client has read
/// the one before — so that a client that takes one recv for one frame gets part of it.
fn answer_in_pieces(stream: &mut impl Delivery, frame: &[u8]) -> Result<(), Failure> {
    let cut = 1 + (frame.len() - 1) / 2;
    send_in_pieces(stream, &[&frame[..1], &frame[1..cut], &frame[cut..]])
        .map_err(Failure::io("answering the client"))
}

/// What a stub expects of each request, and what it answers.
pub(super) type Script = Vec<(fn(&Frame) -> bool, &'static str, Frame)>;

/// Play `script` on one connection: read each request, check it, answer it in pieces; then
/// expect the client to close. Returns the raw bytes the client sent (for evidence).
pub(super) fn play(
    stream: &mut (impl Read + Delivery),
    script: Script,
) -> Result<Vec<u8>, Failure> {
    let mut reader = Recorded {
        inner: stream,
        seen: Vec::new(),
    };
    for (good, what, answer) in script {
        let request = match read_frame(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) => {
                return Err(
                    Failure::new(format!("the client closed before sending {what}"))
                        .received(reader.seen),
                );
            }
            Err(e) => {
                return Err(Failure::new(format!("reading {what} from the client: {e}"))
                    .received(reader.seen));
            }
        };
        if !good(&request) {
            return Err(
                Failure::new(format!("the client's request is not {what}")).received(reader.seen)
            );
        }
        let frame = encode(&answer);
        answer_in_pieces(reader.inner, &frame)?;
    }
    match read_frame(&mut reader) {
        Ok(None) => Ok(reader.seen),
        _ => Err(
            Failure::new("after its last response, the client did not close (or sent more)")
                .received(reader.seen),
        ),
    }
}

pub(super) fn is_search_socket(m: &Frame) -> bool {
    json_of(m).is_ok_and(|v| v["action"] == "search" && v["value"] == "socket")
}

fn is_time(m: &Frame) -> bool {
    json_of(m).is_ok_and(|v| v["action"] == "time")
}

fn is_binary_abc(m: &Frame) -> bool {
    m.content_type == BINARY && m.content_encoding == RAW && m.content == b"abc"
}

fn is_binary_hello(m: &Frame) -> bool {
    m.content_type == BINARY && m.content == b"hello"
}

/// Run `client ARGS` against a TCP stub playing `script`; return how it finished.
fn client_against(
    target: &Target,
    args: &[&str],
    stdin: &[u8],
    script: Script,
) -> Result<crate::checker::harness::Finished, Failure> {
    let stub = TcpStub::start("127.0.0.1:0", move |stream| play(stream, script))?;
    let port = stub.addr.port().to_string();
    let mut all = vec!["client", "--port", &port, "-q"];
    all.extend_from_slice(args);
    let finished = run(target, &all, stdin, RUN_TIMEOUT)?;
    let sent = stub.finish();
    sent.map_err(|f| {
        f.context("the test's server")
            .command(&finished.command)
            .stderr(finished.stderr.clone())
    })?;
    Ok(finished)
}

/// Every JSON document on stdout, in order.
pub(super) fn json_documents(stdout: &[u8]) -> Result<Vec<Value>, String> {
    serde_json::Deserializer::from_slice(stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

pub(super) fn client_prints_json_response(target: &Target) -> Outcome {
    let answer = json!({"action": "search", "value": "socket", "result": "from the test's server"});
    let script: Script = vec![(is_search_socket, "search socket", Frame::json(&answer))];
    let finished = client_against(target, &["search", "socket"], b"", script)?;
    finished.expect_code(0)?;
    let docs = json_documents(&finished.stdout);
    ensure(docs.as_ref().is_ok_and(|d| *d == [answer.clone()]), || {
        finished
            .failure("stdout is not the response's JSON")
            .expected(answer.to_string())
    })?;
    ensure(finished.stdout_text().contains("\n  \""), || {
        finished
            .failure("the JSON is not pretty-printed")
            .expected("one key per line, indented")
    })
}

pub(super) fn client_prints_binary_summary(target: &Target) -> Outcome {
    let data = pattern(200 * 1024);
    let want = format!("binary: {} bytes, crc32 {:08x}\n", data.len(), crc32(&data));
    let script: Script = vec![(
        is_binary_hello,
        "binary content `hello`",
        Frame::binary(data),
    )];
    let finished = client_against(target, &["echo", "hello"], b"", script)?;
    finished.expect_code(0)?;
    ensure(finished.stdout_text() == want, || {
        finished
            .failure("the client did not print the binary summary")
            .expected(want.clone())
    })
}

pub(super) fn client_reads_stdin_lines(target: &Target) -> Outcome {
    let script: Script = vec![
        (
            is_search_socket,
            "search socket (line 1)",
            Frame::json(&json!({"n": 1})),
        ),
        (is_time, "time (line 3)", Frame::json(&json!({"n": 2}))),
        (
            is_binary_abc,
            "binary content `abc` (line 4)",
            Frame::json(&json!({"n": 3})),
        ),
    ];
    let stdin = b"search socket\n\ntime\necho abc\n";
    let finished = client_against(target, &[], stdin, script)?;
    finished.expect_code(0)?;
    let want = vec![json!({"n": 1}), json!({"n": 2}), json!({"n": 3})];
    ensure(
        json_documents(&finished.stdout).is_ok_and(|d| d == want),
        || {
            finished
                .failure("the client did not print the three responses in order")
                .sent(stdin.to_vec())
                .expected("{\"n\": 1} {\"n\": 2} {\"n\": 3}, pretty-printed")
        },
    )
}

pub(super) fn client_error_response_exits_1(target: &Target) -> Outcome {
    let refusal = json!({"error": "nope, not today"});
    let script: Script = vec![(is_search_socket, "search socket", Frame::json(&refusal))];
    let finished = client_against(target, &["search", "socket"], b"", script)?;
    common::expect_error(&finished, &["nope, not today"])
}
