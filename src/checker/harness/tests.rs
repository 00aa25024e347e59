//! The harness's own tests: every way a program can misbehave, met with a bounded answer.

use super::*;
use std::time::Instant;

#[test]
fn targets_split_like_a_shell() {
    let t = Target::parse("python3 'my echo.py' --flag").unwrap();
    assert_eq!(t.argv(), ["python3", "my echo.py", "--flag"]);
    assert!(Target::parse("  ").is_err());
    assert!(Target::parse("python3 'open").is_err());
    assert_eq!(Target::env_var("02_echo"), "WORKBOOK_TARGET_02_ECHO");
}

#[test]
fn a_program_that_never_listens_fails_with_evidence() {
    let t = Target::new(["sh", "-c", "echo hello; echo oops >&2; exit 3"]);
    let failure = Server::start(&t, &[]).err().expect("must fail");
    let text = failure.to_string();
    assert!(text.contains("not `listening on ADDR`"), "{text}");
    assert!(text.contains("hello"), "{text}");
}

#[test]
fn an_ipv6_address_without_brackets_is_named() {
    let t = Target::new(["sh", "-c", "echo 'listening on ::1:4000'; sleep 5"]);
    let failure = Server::start(&t, &[]).err().expect("must fail");
    assert!(
        failure.reason.contains("`listening on [::1]:4000`"),
        "{failure}"
    );
}

#[test]
fn a_silent_program_fails_by_exiting() {
    let t = Target::new(["true"]);
    let failure = Server::start(&t, &[]).err().expect("must fail");
    assert!(
        failure.to_string().contains("without printing"),
        "{failure}"
    );
}

#[test]
fn a_server_can_start_with_few_descriptors() {
    let t = Target::new([
        "sh",
        "-c",
        "echo \"listening on 127.0.0.1:1\"; ulimit -n >&2; sleep 5",
    ]);
    let mut server = Server::start_with_open_files(&t, &[], 64).unwrap();
    let deadline = Instant::now() + IO_TIMEOUT;
    while !server.stderr().ends_with(b"\n") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(server.stderr(), b"64\n");
    server.process.kill();
}

#[test]
fn a_server_can_run_with_little_address_space_to_spare() {
    let t = Target::new([
        "sh",
        "-c",
        "echo \"listening on 127.0.0.1:1\"; ulimit -s >&2; sleep 5",
    ]);
    let room = 48 << 20;
    let (mut server, limit) = Server::start_with_address_space_room(&t, &[], room, true).unwrap();
    let used = server.process.address_space().unwrap();
    assert!(used <= limit && limit - room <= used, "{used} {limit}");
    // The limit is on the server itself (`env` execs it), soft and hard.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.process.pid()));
    let line = limits
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max address space"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
    assert_eq!(
        line.as_deref(),
        Some(format!("Max address space {limit} {limit} bytes").as_str())
    );
    let deadline = Instant::now() + IO_TIMEOUT;
    while !server.stderr().ends_with(b"\n") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(server.stderr(), b"8192\n");
    server.process.kill();
}

#[test]
fn stdin_kept_open_is_not_end_of_input() {
    // `cat` ends at end of input: with bytes it exits 0 at once; kept open, it is killed.
    let t = Target::new(["cat"]);
    let finished = run(&t, &[], b"hi", RUN_TIMEOUT).unwrap();
    assert_eq!(
        (finished.code(), &finished.stdout[..]),
        (Some(0), &b"hi"[..])
    );
    let finished = run_with(&t, &[], Input::KeptOpen, Duration::from_millis(300)).unwrap();
    assert!(
        finished.status.is_none(),
        "cat must still be waiting for input"
    );
}

#[test]
fn a_script_types_waits_for_the_answer_and_presses_ctrl_d() {
    // The second line is sent only once the first has come back: `sh` answers each `read`.
    let t = Target::new([
        "sh",
        "-c",
        "read a; echo \"got $a\"; read b; echo \"then $b\"",
    ]);
    let script = [
        Step::Send(b"one\n"),
        Step::WaitFor {
            text: "got one",
            within: IO_TIMEOUT,
        },
        Step::Send(b"two\n"),
        Step::CloseStdin,
    ];
    let finished = run_with(&t, &[], Input::Script(&script), RUN_TIMEOUT).unwrap();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout_text(), "got one\nthen two\n");
    // `cat` ends at Ctrl-D, and not before it.
    let cat = Target::new(["cat"]);
    let typed = [Step::Send(b"hi\n"), Step::CloseStdin];
    let finished = run_with(&cat, &[], Input::Script(&typed), RUN_TIMEOUT).unwrap();
    assert_eq!(
        (finished.code(), &finished.stdout[..]),
        (Some(0), &b"hi\n"[..])
    );
    let open = [Step::Send(b"hi\n")];
    let finished = run_with(&cat, &[], Input::Script(&open), Duration::from_millis(300));
    assert!(
        finished.unwrap().status.is_none(),
        "no Ctrl-D: cat still waits"
    );
}

#[test]
fn a_step_that_times_out_is_a_clear_failure_not_a_hang() {
    let t = Target::new(["cat"]);
    let script = [
        Step::Send(b"hello\n"),
        Step::WaitFor {
            text: "goodbye",
            within: Duration::from_millis(200),
        },
        Step::CloseStdin,
    ];
    let began = Instant::now();
    let failure =
        run_with(&t, &[], Input::Script(&script), RUN_TIMEOUT).expect_err("`goodbye` never comes");
    assert!(
        began.elapsed() < RUN_TIMEOUT / 2,
        "the step's own bound ends the run, not the run's"
    );
    assert!(
        failure.reason.starts_with("step 2 of 3: timed out after")
            && failure.reason.contains("waiting for `goodbye` on stdout"),
        "{failure}"
    );
    assert_eq!(failure.received.as_deref(), Some(&b"hello\n"[..]));
    assert_eq!(failure.sent.as_deref(), Some(&b"hello\n"[..]));
    assert_eq!(failure.command.as_deref(), Some("cat"));
}

#[test]
fn a_wait_ends_when_the_program_does() {
    let t = Target::new(["sh", "-c", "echo bye; exit 3"]);
    let script = [Step::WaitFor {
        text: "hello",
        within: RUN_TIMEOUT,
    }];
    let began = Instant::now();
    let failure =
        run_with(&t, &[], Input::Script(&script), RUN_TIMEOUT).expect_err("`hello` never comes");
    assert!(began.elapsed() < RUN_TIMEOUT / 2, "{failure}");
    assert!(failure.reason.contains("exited"), "{failure}");
    assert!(
        failure.reason.contains("without writing `hello`"),
        "{failure}"
    );
}

#[test]
fn a_program_that_does_not_read_cannot_block_a_script() {
    // 1 MiB is more than a pipe holds: written by the caller, this would block forever.
    let t = Target::new(["sh", "-c", "echo ready; sleep 30"]);
    let big = vec![b'x'; 1 << 20];
    let script = [
        Step::Send(&big),
        Step::WaitFor {
            text: "ready",
            within: IO_TIMEOUT,
        },
        Step::CloseStdin,
    ];
    let finished = run_with(&t, &[], Input::Script(&script), Duration::from_millis(500));
    assert!(finished.unwrap().status.is_none(), "killed at its deadline");
}

#[test]
fn runs_are_bounded_and_output_is_capped() {
    let t = Target::new(["sh", "-c", "yes"]);
    let finished = run(&t, &[], b"", Duration::from_millis(300)).unwrap();
    assert!(
        finished.status.is_none(),
        "a program that never ends is killed"
    );
    assert!(finished.stdout.len() <= KEEP_BYTES);
}

#[test]
fn the_kernel_tells_what_a_peer_has_not_read_yet() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut ours = std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("c");
    let (mut theirs, _) = listener.accept().expect("accept");
    assert_eq!(ours.unread_by_peer(), Some(0), "nothing sent yet");
    ours.write_all(b"hello").expect("send");
    // Bounded: loopback delivers at once, but the kernel may take a moment to queue it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while ours.unread_by_peer() != Some(5) && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(
        ours.unread_by_peer(),
        Some(5),
        "5 bytes wait in the peer's queue"
    );
    assert!(
        !wait_until_read(&ours, Duration::from_millis(20)),
        "nobody read them"
    );
    let mut buf = [0u8; 5];
    theirs.read_exact(&mut buf).expect("read");
    assert!(wait_until_read(&ours, Duration::from_secs(5)), "read now");

    let (mut a, mut b) = std::os::unix::net::UnixStream::pair().expect("pair");
    assert_eq!(a.unread_by_peer(), Some(0));
    a.write_all(b"hello").expect("send");
    assert!(a.unread_by_peer().is_some_and(|n| n > 0), "queued, unread");
    b.read_exact(&mut buf).expect("read");
    assert_eq!(a.unread_by_peer(), Some(0), "read");
}

#[test]
fn pieces_reach_a_reading_peer_one_read_each() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut reads = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let n = stream.read(&mut buf).expect("read");
            if n == 0 {
                return reads;
            }
            reads.push(buf[..n].to_vec());
            // A slow reader: without waiting for it, the pieces would pile up into one read.
            std::thread::sleep(Duration::from_millis(30));
        }
    });
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    send_in_pieces(&mut stream, &[b"one", b"two", b"three"]).expect("send");
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    let reads = reader.join().expect("reader");
    assert_eq!(reads, [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
}
