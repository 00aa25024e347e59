//! Lesson 07's appendix: the echo server of lessons 02–05 in tokio — one *task* per client on
//! one thread, the readiness loop of lesson 07 with the bookkeeping written for us.
//!
//! ```text
//! cargo run --example tokio_echo            # listening on 127.0.0.1:PORT
//! nc 127.0.0.1 PORT                         # what you type comes back
//! ```
//!
//! Compiled with the workbook (`cargo build --all-targets`), so the listing in the book is real.

use std::io;

// ANCHOR: tokio_echo
// One thread runs every task: the same single-threaded loop as lesson 07.
#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        // accept() says WouldBlock → tokio goes back to its loop (epoll_wait) until a
        // connection is ready, then resumes right here.
        let (mut conn, peer) = listener.accept().await?;
        // A task, not a thread: a state machine that keeps its place at each `.await`, as
        // lesson 07's `Conn` keeps a half-read line and the bytes still to send.
        tokio::spawn(async move {
            let (mut from, mut to) = conn.split();
            // read → write until end of stream; partial writes are handled inside.
            if let Err(e) = tokio::io::copy(&mut from, &mut to).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}
// ANCHOR_END: tokio_echo
