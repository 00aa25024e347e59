//! The lessons, one folder each, and the registry every other list of lessons comes from.
//!
//! Every lesson folder has the same files with the same entry points, so a learner who knows one
//! lesson knows where everything is in the next:
//!
//! | file        | entry           | what it holds                                                        |
//! |-------------|-----------------|----------------------------------------------------------------------|
//! | `mod.rs`    | `NAME`, `PORT`  | what the lesson teaches, where its calls are                         |
//! | `server.rs` | `serve`         | the server's socket calls, top to bottom, in the course's order      |
//! | `client.rs` | `run`           | the client's socket calls                                            |
//! | `demo.rs`   | `run`           | server and clients in one process on a free port (no arguments)      |
//! | `cli.rs`    | `main`          | the command line: `demo`, `server`, `client` (`src/bin/NN_name.rs`)  |
//!
//! A lesson with a subject of its own keeps it in its folder under the subject's name (05's
//! `pool.rs`, 06's `room.rs` and `text.rs`, 08's `framing.rs`), and a later lesson that builds on
//! it says so by that name: `lessons::l05_thread_pool::pool`. Lesson 02's subject is its server
//! and client themselves: 04 and 05 use `lessons::l02_echo::server::echo_until_closed` and
//! `lessons::l02_echo::client::run`.

/// One row of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lesson {
    /// Its name: the binary (`cargo run --bin 02_echo`), the page (`lessons/02_echo.md`), the test
    /// file (`tests/02_echo.rs`) and the key of `WORKBOOK_TARGET_02_ECHO`.
    pub name: &'static str,
    /// Its default port, `7000 + NN`: distinct, so two lessons can run side by side, and below
    /// Linux's ephemeral range (32768–60999) so it never collides with a client's port.
    pub port: u16,
    /// Its title, short: the book's contents and table of lessons (`02 — Echo server and client`).
    pub title: &'static str,
    /// What it teaches, in one line: the README's course map and the book's table of lessons.
    pub idea: &'static str,
    /// How its server is built (the book's table of lessons).
    pub design: &'static str,
    /// What goes over the wire (the book's table of lessons).
    pub protocol: &'static str,
}

impl Lesson {
    /// Its number, `02`.
    pub fn number(&self) -> &'static str {
        &self.name[..2]
    }
}

/// The registry: one line per lesson — module, name, default port, title, what it teaches, its
/// design and its protocol. Adding a lesson is one row here (`lessons/adding-a-lesson.md`); the lesson modules below, the checker's list
/// of lessons (`checker::checks::LESSONS`) and the rows of the README and the book are made
/// from it or checked against it (`tests/lessons.rs`).
///
/// It calls back the macro it is given with the rows, so that each side of the crate declares
/// its own modules from the one list: `for_each_lesson!(declare)`.
#[macro_export]
macro_rules! for_each_lesson {
    ($then:ident) => {
        $then! {
            // module, name, default port;
            //     title; what it teaches; how its server is built; what goes over the wire
            l01_time_server "01_time_server" 7001
                "A TCP time server"
                "every call of a server, one at a time: socket, bind, listen, accept, send, close"
                "iterative"
                "TCP; reply, then close";
            l02_echo "02_echo" 7002
                "Echo server and client"
                "both directions; a read is not a message"
                "iterative"
                "TCP; bytes back until the client is done";
            l03_udp "03_udp" 7003
                "UDP echo and ping"
                "datagrams, loss, timeouts, retries"
                "one socket for everyone"
                "UDP";
            l04_threaded "04_threaded" 7004
                "A thread per connection"
                "many clients at once"
                "a thread per client"
                "TCP echo, as 02";
            l05_thread_pool "05_thread_pool" 7005
                "A fixed pool of threads"
                "bounded concurrency, two designs, graceful shutdown"
                "pool of *N*, two designs"
                "TCP echo, as 02";
            l06_group_chat "06_group_chat" 7006
                "A group chat"
                "long-lived clients that talk to each other; a slow client cannot stall the room"
                "a reader and a writer thread per client, with a bounded queue"
                "TCP text lines";
            l07_event_loop "07_event_loop" 7007
                "One thread, thousands of clients"
                "the same chat on one thread: non-blocking sockets and a readiness loop"
                "one thread, an event loop (`mio`)"
                "TCP text lines, as 06";
            l08_protocol "08_protocol" 7008
                "A protocol: messages with a header"
                "framing: a length, a JSON header, content; limits; errors; Unix sockets"
                "a thread per connection"
                "TCP or a Unix socket; length-prefixed frames";
        }
    };
}

/// Declares each lesson's module (`pub mod l02_echo;`: the folder `src/lessons/l02_echo/`) and
/// [`ALL`], from the rows of [`for_each_lesson!`].
macro_rules! registry {
    ($($module:ident $name:literal $port:literal $title:literal $idea:literal $design:literal $protocol:literal;)*) => {
        $(pub mod $module;)*

        /// Every lesson, in the course's order.
        pub const ALL: &[Lesson] = &[$(Lesson {
            name: $name,
            port: $port,
            title: $title,
            idea: $idea,
            design: $design,
            protocol: $protocol,
        }),*];
    };
}
for_each_lesson!(registry);

/// The default port of the lesson `name`, looked up at compile time (a name missing from the
/// registry is a compile error): each lesson's `PORT`.
pub const fn port_of(name: &str) -> u16 {
    let mut i = 0;
    while i < ALL.len() {
        if crate::kit::same_str(ALL[i].name, name) {
            return ALL[i].port;
        }
        i += 1;
    }
    panic!("not in the registry of lessons (src/lessons/mod.rs)")
}
