//! The `/cycle` route's body writer: `n` bytes of [`crate::cycle`] written as produced, so
//! the origin can send a body of any size (1 GiB for the long backpressure run) in constant
//! memory and at almost no CPU cost per byte.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use super::routes::Framing;
use crate::cycle::{cycle_block, CYCLE_PERIOD};

/// Writes `n` bytes of the cycle for `seed` on `out` with `framing` (the head is already
/// written). Returns `Ok(false)` if the origin was stopped before the body ended.
pub fn write_cycle_body(
    out: &mut impl Write,
    framing: Framing,
    n: usize,
    seed: u64,
    stop: &AtomicBool,
) -> io::Result<bool> {
    if framing == Framing::NoBody {
        return Ok(true);
    }
    let block = cycle_block(seed);
    let mut chunk = Vec::with_capacity(CYCLE_PERIOD + 16);
    let mut sent = 0;
    while sent < n {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let pos = sent % CYCLE_PERIOD;
        let piece = &block[pos..CYCLE_PERIOD.min(pos + (n - sent))];
        if framing == Framing::Chunked {
            // One write per chunk: the socket has TCP_NODELAY, and three small writes
            // would mean three segments.
            chunk.clear();
            write!(chunk, "{:x}\r\n", piece.len())?;
            chunk.extend_from_slice(piece);
            chunk.extend_from_slice(b"\r\n");
            out.write_all(&chunk)?;
        } else {
            out.write_all(piece)?;
        }
        sent += piece.len();
    }
    if framing == Framing::Chunked {
        out.write_all(b"0\r\n\r\n")?;
    }
    out.flush()?;
    Ok(true)
}
