//! Bodies too large to hold: one pseudo-random block of [`CYCLE_PERIOD`] bytes repeated,
//! produced and checked as it streams.
//!
//! The origin's `/cycle` route writes it; [`CycleChecker`] verifies it on the client side
//! without ever holding the whole body. The period is prime, so a dropped, duplicated or
//! shifted block of any power-of-two size (the sizes buffers come in) breaks the match.

use crate::pattern::pattern;

/// Length of the repeated block: the largest prime below 64 KiB.
pub const CYCLE_PERIOD: usize = 65_521;

/// The block `/cycle?seed=SEED` repeats.
pub fn cycle_block(seed: u64) -> Vec<u8> {
    pattern(CYCLE_PERIOD, seed)
}

/// The first `n` bytes of the cycle for `seed`, for bodies small enough to compare whole.
pub fn cycle_bytes(n: usize, seed: u64) -> Vec<u8> {
    cycle_block(seed).into_iter().cycle().take(n).collect()
}

/// Checks bytes against the cycle for one seed as they arrive, in any split.
pub struct CycleChecker {
    block: Vec<u8>,
    offset: u64,
}

impl CycleChecker {
    /// A checker expecting the cycle for `seed` from its first byte.
    pub fn new(seed: u64) -> CycleChecker {
        CycleChecker { block: cycle_block(seed), offset: 0 }
    }

    /// Bytes checked so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Checks the next `bytes`; the error names the first body offset that differs.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut rest = bytes;
        while !rest.is_empty() {
            // The remainder is below CYCLE_PERIOD, so it fits a usize.
            let pos = (self.offset % CYCLE_PERIOD as u64) as usize;
            let take = rest.len().min(CYCLE_PERIOD - pos);
            let (now, later) = rest.split_at(take);
            if let Some(i) = now.iter().zip(&self.block[pos..pos + take]).position(|(a, b)| a != b) {
                return Err(format!("body differs from the cycle at offset {}", self.offset + i as u64));
            }
            self.offset += take as u64;
            rest = later;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checker_accepts_the_cycle_in_any_split_and_names_the_first_difference() {
        let body = cycle_bytes(3 * CYCLE_PERIOD + 17, 9);
        for piece in [1, 4096, CYCLE_PERIOD, body.len()] {
            let mut checker = CycleChecker::new(9);
            for part in body.chunks(piece) {
                checker.feed(part).expect("the cycle itself matches");
            }
            assert_eq!(checker.offset(), body.len() as u64);
        }
        let mut bad = body.clone();
        bad[CYCLE_PERIOD + 5] ^= 1;
        let mut checker = CycleChecker::new(9);
        let err = checker.feed(&bad).expect_err("a flipped bit is found");
        assert!(err.contains(&format!("offset {}", CYCLE_PERIOD + 5)), "{err}");
        // A block of 4096 bytes dropped from the middle is found too.
        let mut dropped = body[..8192].to_vec();
        dropped.extend_from_slice(&body[12288..]);
        assert!(CycleChecker::new(9).feed(&dropped).is_err());
    }
}
