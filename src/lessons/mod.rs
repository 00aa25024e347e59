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
    /// What it teaches, in one line: the README's course map and the book's table of lessons.
    pub title: &'static str,
}

impl Lesson {
    /// Its number, `02`.
    pub fn number(&self) -> &'static str {
        &self.name[..2]
    }
}

/// The registry: one line per lesson — module, name, default port, title. Adding a lesson is
/// one line here (`lessons/adding-a-lesson.md`); the lesson modules below, the checker's list
/// of lessons (`checker::checks::LESSONS`) and the rows of the README and the book are made
/// from it or checked against it (`tests/lessons.rs`).
///
/// It calls back the macro it is given with the rows, so that each side of the crate declares
/// its own modules from the one list: `for_each_lesson!(declare)`.
#[macro_export]
macro_rules! for_each_lesson {
    ($then:ident) => {
        $then! {
            l01_time_server "01_time_server" 7001 "an iterative TCP time server: socket, bind, listen, accept, send, close";
            l02_echo "02_echo" 7002 "echo server and client: a read is not a message";
            l03_udp "03_udp" 7003 "UDP: datagrams, loss, retries, ping";
            l04_threaded "04_threaded" 7004 "a thread per connection";
            l05_thread_pool "05_thread_pool" 7005 "a fixed thread pool, two designs, graceful shutdown";
            l06_group_chat "06_group_chat" 7006 "a group chat that a slow client cannot stall";
            l07_event_loop "07_event_loop" 7007 "the same chat on one thread: non-blocking sockets and a readiness loop";
            l08_protocol "08_protocol" 7008 "a protocol: a length, a JSON header and content; limits, errors, Unix sockets";
        }
    };
}

macro_rules! registry {
    ($($module:ident $name:literal $port:literal $title:literal;)*) => {
        /// Every lesson, in the course's order.
        pub const ALL: &[Lesson] = &[$(Lesson { name: $name, port: $port, title: $title }),*];
    };
}
for_each_lesson!(registry);

/// The default port of the lesson `name`, looked up at compile time (a name missing from the
/// registry is a compile error): each lesson's `PORT`.
pub const fn port_of(name: &str) -> u16 {
    let mut i = 0;
    while i < ALL.len() {
        if same(ALL[i].name, name) {
            return ALL[i].port;
        }
        i += 1;
    }
    panic!("not in the registry of lessons (src/lessons/mod.rs)")
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// The lesson modules (each helper adds its lessons here while they move).
pub mod l01_time_server;
pub mod l02_echo;
pub mod l03_udp;
pub mod l04_threaded;
pub mod l05_thread_pool;
