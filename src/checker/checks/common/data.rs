//! Data a check sends: the same on every run, and shaped so that a lost, duplicated or
//! reordered piece shows.

/// Bytes that are the same on every run but not a repeating short pattern (so a lost or
/// duplicated chunk shows), ending in `\n` so the same data works as one line.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let mut data: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            b'a' + (state % 26) as u8
        })
        .collect();
    if let Some(last) = data.last_mut() {
        *last = b'\n';
    }
    data
}
