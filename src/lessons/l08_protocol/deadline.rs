//! Time limits on a connection's reads: an idle limit, a deadline for a whole frame, and a
//! minimum rate — the defence against slowloris (`lessons/08_protocol.md#slow-and-silent-peers`).
//!
//! An idle limit alone counts per `recv()`: a peer sending one byte every few seconds resets it
//! forever, and 64 such peers hold all 64 slots. So a frame also has a deadline from its first
//! byte, extended by each byte that arrives at the minimum rate (Apache's `mod_reqtimeout`
//! `MinRate`): a fast sender is never near it, a sender slower than the rate is cut.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::wire::{self, Stream};

/// How long a connection may stay silent — between requests or in the middle of one.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// `--frame-deadline-ms`'s default: 10 s from a frame's first byte. An honest request of a few
/// hundred bytes takes a millisecond on a LAN and well under a second over a bad phone link;
/// ten seconds leaves room for a loaded machine and a lost packet or two.
pub const FRAME_DEADLINE_MS: u64 = 10_000;

/// The minimum rate: each this many bytes that arrive extend the frame's deadline by 1 s. A
/// 1 MiB frame may then take its 10 s plus 17½ minutes — any link faster than 8 kbit/s.
pub const MIN_RATE: u64 = 1_000;

/// `--frame-deadline-ms MS`: how long a frame may take from its first byte to its last, before
/// the minimum rate extends it.
#[derive(clap::Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDeadline {
    /// A frame must arrive whole within this many ms of its first byte, plus 1 s for each
    /// 1,000 bytes received (a minimum rate); a slower one gets an error frame and is closed.
    #[arg(long = "frame-deadline-ms", value_name = "MS", default_value_t = FRAME_DEADLINE_MS)]
    pub ms: u64,
}

impl Default for FrameDeadline {
    fn default() -> Self {
        FrameDeadline {
            ms: FRAME_DEADLINE_MS,
        }
    }
}

// ANCHOR: clock
/// A connection's reading side, with its time limits: every `read` waits at most until the
/// sooner of the idle limit and the current frame's deadline.
pub struct FrameClock {
    stream: Stream,
    frame: Duration,
    /// The current frame's deadline: `None` between frames (only the idle limit applies).
    deadline: Option<Instant>,
}

impl FrameClock {
    /// Limits on reading `stream` (a clone of the connection: socket options are shared).
    pub fn new(stream: Stream, frame: FrameDeadline) -> FrameClock {
        FrameClock {
            stream,
            frame: Duration::from_millis(frame.ms),
            deadline: None,
        }
    }

    /// A whole frame has been read: the next one starts its own clock at its first byte — now,
    /// if `next_started` (the buffer above already holds some of it), or when one arrives.
    pub fn frame_done(&mut self, next_started: bool) {
        self.deadline = next_started.then(|| Instant::now() + self.frame);
    }

    /// The error a read fails with once the frame's deadline has passed.
    fn too_slow(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "too slow: a frame must arrive within {} ms of its first byte, plus 1 s for \
                 each {MIN_RATE} bytes",
                self.frame.as_millis()
            ),
        )
    }
}
// ANCHOR_END: clock

// ANCHOR: clock_read
impl Read for FrameClock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let now = Instant::now();
        let wait = match self.deadline {
            None => IDLE_TIMEOUT,
            Some(deadline) if deadline <= now => return Err(self.too_slow()),
            Some(deadline) => IDLE_TIMEOUT.min(deadline - now),
        };
        // SO_RCVTIMEO, set before each recv(): the kernel does the waiting.
        self.stream.set_read_timeout(Some(wait))?;
        match self.stream.read(buf) {
            Ok(n) => {
                if n > 0 {
                    // The first byte starts the frame's clock; every byte buys 1/MIN_RATE s.
                    let started = self.deadline.get_or_insert_with(|| Instant::now() + self.frame);
                    *started += Duration::from_secs(n as u64) / MIN_RATE as u32;
                }
                Ok(n)
            }
            Err(e) if wire::is_timeout(&e) && self.deadline.is_some_and(|d| Instant::now() >= d) => {
                Err(self.too_slow())
            }
            Err(e) if wire::is_timeout(&e) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("silent for {} s: no complete frame", IDLE_TIMEOUT.as_secs()),
            )),
            Err(e) => Err(e),
        }
    }
}
// ANCHOR_END: clock_read
