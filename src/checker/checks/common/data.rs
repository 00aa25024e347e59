//! Data a check sends: the same on every run, and shaped so that a lost, duplicated or
//! reordered piece shows.

/// Bytes that are the same on every run but not a repeating short pattern (so a lost or
/// duplicated chunk shows), ending in `\n` so the same data works as one line.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut data = scrambled(len, 0x2545_f491);
    if let Some(last) = data.last_mut() {
        *last = b'\n';
    }
    data
}

/// `len` letters from a xorshift generator started at `seed`: the same on every run, with no
/// short cycle, so that a lost or shifted piece shows.
pub fn scrambled(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            b'a' + (state % 26) as u8
        })
        .collect()
}
