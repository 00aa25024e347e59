//! Lesson 08's checks over AF_UNIX: the protocol on a socket file, and the care a file needs.

use super::client::{Script, is_search_socket, json_documents, play};
use super::peer::{expect_first, expect_search, unix_peer};
use super::*;

/// A private temporary directory for socket files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, Failure> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("wb08-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).map_err(Failure::io("creating a temporary directory"))?;
        Ok(TempDir(dir))
    }

    fn socket(&self) -> PathBuf {
        self.0.join("08.sock")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn unix_server_answers(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let server = UnixServer::start(target, &dir.socket(), &[])?;
    let mut peer = unix_peer(&server)?;
    expect_search(&mut peer, "socket", Value::from(SOCKET))?;
    peer.request(&Frame::binary(b"over AF_UNIX".to_vec()))?;
    expect_first(&mut peer, "the echo", |m| m.content == b"over AF_UNIX")
}

pub(super) fn unix_socket_file_is_private(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let server = UnixServer::start(target, &dir.socket(), &[])?;
    let mode = std::fs::symlink_metadata(&server.path)
        .map_err(|e| server.failure(format!("the socket file is missing: {e}")))?
        .permissions()
        .mode();
    ensure(mode & 0o077 == 0, || {
        server
            .failure(format!("the socket file's mode is {:o}", mode & 0o777))
            .expected("600: only the owner may connect (umask 0177 around bind)")
    })
}

pub(super) fn unix_socket_removed_on_exit(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let mut server = UnixServer::start(target, &dir.socket(), &[])?;
    {
        let mut peer = unix_peer(&server)?;
        expect_search(&mut peer, "socket", Value::from(SOCKET))?;
        peer.stream.inner.shutdown(Shutdown::Write).ok();
        // Wait for the server to close this connection, so SIGTERM finds it idle.
        let _ = read_frame(&mut peer.stream);
    }
    server.process.signal(libc::SIGTERM);
    let within = crate::checker::harness::scaled(Duration::from_secs(10));
    let status = server.process.wait_timeout(within);
    ensure(status.is_some(), || {
        server.failure(format!(
            "the server did not exit within {} s of SIGTERM",
            within.as_secs()
        ))
    })?;
    ensure(!server.path.exists(), || {
        server
            .failure("the server exited and left its socket file behind")
            .expected(format!("{} removed", server.path.display()))
    })
}

pub(super) fn unix_stale_socket_replaced(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    // A socket file nobody listens on: what a crashed server leaves.
    drop(UnixListener::bind(dir.socket()).map_err(Failure::io("making a stale socket file"))?);
    let server = UnixServer::start(target, &dir.socket(), &[])
        .map_err(|f| f.context("over a stale socket file"))?;
    let mut peer = unix_peer(&server)?;
    expect_search(&mut peer, "socket", Value::from(SOCKET))
}

/// `server --unix PATH` must refuse to start: `error:` mentioning `words`, exit 1.
fn refused_unix_server(
    target: &Target,
    path: &std::path::Path,
    words: &[&str],
) -> Result<crate::checker::harness::Finished, Failure> {
    let shown = path.display().to_string();
    let args = ["server", "--unix", &shown, "-q"];
    let finished = run(target, &args, b"", Duration::from_secs(10))?;
    common::expect_error(&finished, words)?;
    Ok(finished)
}

pub(super) fn unix_live_socket_not_stolen(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let path = dir.socket();
    let owner = UnixListener::bind(&path).map_err(Failure::io("binding the test's socket"))?;
    let finished = refused_unix_server(target, &path, &["in use"])?;
    // Still ours: a connection to the path reaches our listener.
    owner
        .set_nonblocking(true)
        .map_err(Failure::io("making the test's listener non-blocking"))?;
    let reached = UnixStream::connect(&path).is_ok() && owner.accept().is_ok();
    ensure(reached, || {
        finished
            .failure("the socket file of a live server was replaced")
            .expected("the file left alone, still reaching the server that owns it")
    })
}

pub(super) fn unix_other_file_not_replaced(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let path = dir.socket();
    std::fs::write(&path, b"precious\n").map_err(Failure::io("writing a file"))?;
    let finished = refused_unix_server(target, &path, &[])?;
    let kept = std::fs::read(&path).is_ok_and(|c| c == b"precious\n");
    ensure(kept, || {
        finished
            .failure("a regular file at the path was removed or changed")
            .expected("the file left alone and an `error:` line")
    })
}

pub(super) fn unix_client(target: &Target) -> Outcome {
    let dir = TempDir::new()?;
    let path = dir.socket();
    let listener = UnixListener::bind(&path).map_err(Failure::io("binding the test's socket"))?;
    let answer = json!({"action": "search", "value": "socket", "result": "over AF_UNIX"});
    let reply = answer.clone();
    let stub = std::thread::spawn(move || -> Result<Vec<u8>, Failure> {
        let (mut stream, _) = listener.accept().map_err(Failure::io("accepting"))?;
        stream
            .set_read_timeout(Some(crate::checker::harness::scaled(IO_TIMEOUT)))
            .map_err(Failure::io("setting a timeout"))?;
        let script: Script = vec![(is_search_socket, "search socket", Frame::json(&reply))];
        play(&mut stream, script)
    });
    let shown = path.display().to_string();
    let finished = run(
        target,
        &["client", "--unix", &shown, "-q", "search", "socket"],
        b"",
        RUN_TIMEOUT,
    )?;
    if !stub.is_finished() {
        // The client never came: unblock the stub's accept.
        let _ = UnixStream::connect(&path);
    }
    stub.join()
        .unwrap_or_else(|_| Err(Failure::new("the test's server panicked")))
        .map_err(|f| f.context("the test's server").command(&finished.command))?;
    finished.expect_code(0)?;
    ensure(
        json_documents(&finished.stdout).is_ok_and(|d| d == [answer.clone()]),
        || {
            finished
                .failure("stdout is not the response's JSON")
                .expected(answer.to_string())
        },
    )
}
