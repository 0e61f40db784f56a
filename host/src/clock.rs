//! The kernel's coarse monotonic clock, for the checks that run on every
//! plugin call and every chain event.
//!
//! The precise clock (`Instant::now`) reads the TSC; on the benchmark
//! machine its vDSO call took 8% of a worker's time with five null
//! transforms on 1 KiB responses, at three reads per plugin call. The
//! coarse clock is a plain memory read in the vDSO. Its tick (1 to 4 ms)
//! is far below every limit it is compared with: the long-call mark
//! (100 ms), the watchdog's limits, and a chain's run budget (5 ms, which
//! it may overshoot by one tick).

/// Nanoseconds on `CLOCK_MONOTONIC_COARSE`, never 0 (callers use 0 for "none").
pub fn coarse_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is one Linux defines.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_zero_and_never_backwards() {
        let a = coarse_ns();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = coarse_ns();
        assert!(a > 0 && b > a, "{a} then {b}");
    }
}
