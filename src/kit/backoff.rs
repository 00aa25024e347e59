//! Waiting out a temporary failure: a delay that doubles on each failure, up to a cap.
//!
//! A server whose `accept()` fails because the process is out of file descriptors (EMFILE) must
//! not give up — the failure ends as soon as a client leaves — and must not retry in a tight
//! loop either: the pending connection is still there, so `accept()` fails again at once, and a
//! retry loop would burn a whole core doing nothing. [`Backoff`] sits between the two: 10 ms after
//! the first failure, then 20, 40, … up to 1 s, so a short shortage costs milliseconds and a
//! long one costs one `accept()` a second. A success starts the next shortage at 10 ms again.

use std::time::Duration;

/// The first wait after a failure.
pub const FIRST: Duration = Duration::from_millis(10);
/// The longest wait: the most a server that is out of descriptors lags behind the moment one is
/// freed, and the most a stop request waits for a thread that is backing off.
pub const MOST: Duration = Duration::from_secs(1);

// ANCHOR: backoff
/// A doubling delay, from [`FIRST`] to [`MOST`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

impl Backoff {
    /// A backoff whose first wait is [`FIRST`].
    pub fn new() -> Backoff {
        Backoff { next: FIRST }
    }

    /// The wait for this failure; the next one will be twice as long, up to [`MOST`].
    pub fn next_delay(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(MOST);
        now
    }

    /// A success: the next failure waits [`FIRST`] again.
    pub fn reset(&mut self) {
        self.next = FIRST;
    }
}
// ANCHOR_END: backoff

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new();
        let waits: Vec<u128> = (0..10).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), FIRST);
    }
}
