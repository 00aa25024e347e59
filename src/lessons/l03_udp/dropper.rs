//! `--drop RATE --seed N`: which datagrams the server throws away on purpose, so that loss can
//! be seen on loopback, where nothing is ever really lost.

use std::time::{SystemTime, UNIX_EPOCH};

// ANCHOR: drop
/// Which datagrams `--drop RATE` throws away: the k-th datagram is dropped when the k-th number
/// of a splitmix64 generator started at `--seed`, read as a fraction in [0, 1), is below RATE.
/// Same seed, same datagrams dropped — so a lossy run can be repeated, even in another language.
pub struct Dropper {
    /// The fraction to drop, as given to `--drop`.
    pub rate: f64,
    state: u64,
}

impl Dropper {
    pub fn new(rate: f64, seed: u64) -> Dropper {
        Dropper { rate, state: seed }
    }

    /// splitmix64 (Steele, Lea and Flood, 2014): a counter stepped by the golden ratio, then
    /// scrambled. A few lines, no crate, and good enough to decide which postcards to lose.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Whether to drop the next datagram. One number per datagram, whatever the rate.
    pub fn drops(&mut self) -> bool {
        // The top 53 bits fill an f64's mantissa exactly: a fraction in [0, 1).
        let fraction = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        fraction < self.rate
    }
}
// ANCHOR_END: drop

/// A seed for when `--seed` is not given: different on every run.
pub fn clock_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    nanos ^ u64::from(std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_values() {
        // The first outputs for seed 1234567, from the reference C implementation.
        let mut d = Dropper::new(0.5, 1_234_567);
        assert_eq!(d.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(d.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn rates_zero_and_one_are_exact() {
        let mut never = Dropper::new(0.0, 1);
        let mut always = Dropper::new(1.0, 1);
        assert!((0..1000).all(|_| !never.drops() && always.drops()));
    }
}
