//! Deterministic test bodies and a byte comparison that reports where two bodies differ.
//!
//! Bodies are generated from a seed so the origin and the test can each make the same bytes
//! without sharing a buffer, and so a shifted, dropped or duplicated block shows up as a
//! mismatch (a constant fill byte would hide those).

/// `n` bytes of a pseudo-random pattern fully determined by `seed` (xorshift64*).
pub fn pattern(n: usize, seed: u64) -> Vec<u8> {
    // Never let the state be zero: xorshift would then emit zeros forever.
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        let take = word.len().min(n - out.len());
        out.extend_from_slice(&word[..take]);
    }
    out
}

/// Asserts `got == expected` without printing megabytes: names the lengths and the first
/// differing offset instead.
#[track_caller]
pub fn assert_same_bytes(got: &[u8], expected: &[u8], what: &str) {
    if got == expected {
        return;
    }
    let first_diff = got.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(got.len().min(expected.len()));
    panic!(
        "{what}: body differs: got {} bytes, expected {} bytes, first difference at offset {first_diff}",
        got.len(),
        expected.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_deterministic_and_seed_dependent() {
        assert_eq!(pattern(1000, 7), pattern(1000, 7));
        assert_ne!(pattern(1000, 7), pattern(1000, 8));
        assert_eq!(pattern(13, 7).len(), 13);
        assert_eq!(&pattern(1000, 7)[..13], &pattern(13, 7)[..]);
    }
}
