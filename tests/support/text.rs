//! Compressible test bodies: numbered lines of words chosen by a seed, so a compressor has
//! something to find (like HTML or logs) while a dropped, doubled or shifted piece still
//! shows up as a mismatch (every line carries its number).
//!
//! The origin's `/text` route streams them ([`write_text`]) in constant memory, so a body
//! of any size can be sent; tests make the same bytes with [`text`].

use std::io::{self, Write};

const WORDS: [&str; 16] = [
    "<div class=\"row\">",
    "</div>",
    "plugin-host",
    "streams",
    "bodies",
    "through",
    "transform",
    "plugins,",
    "compressing",
    "them",
    "on",
    "the",
    "fly;",
    "<span>",
    "</span>",
    "text",
];

/// Line `i` of the text for `seed`.
fn line(seed: u64, i: u64, out: &mut Vec<u8>) {
    let mut state = (seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1;
    let _ = write!(out, "{i:08}");
    for _ in 0..8 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push(b' ');
        out.extend_from_slice(WORDS[(state % WORDS.len() as u64) as usize].as_bytes());
    }
    out.push(b'\n');
}

/// The first `n` bytes of the text for `seed`.
pub fn text(n: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 128);
    let mut i = 0;
    while out.len() < n {
        line(seed, i, &mut out);
        i += 1;
    }
    out.truncate(n);
    out
}

/// Writes the first `n` bytes of the text for `seed` to `out` as it makes them, calling
/// `piece(sent, bytes)` to write each piece (so the caller can frame and pace them).
pub fn write_text(n: usize, seed: u64, mut piece: impl FnMut(usize, &[u8]) -> io::Result<bool>) -> io::Result<bool> {
    const PIECE: usize = 64 * 1024;
    let mut buf = Vec::with_capacity(PIECE + 256);
    let (mut sent, mut i) = (0usize, 0u64);
    while sent < n {
        while buf.len() < PIECE {
            line(seed, i, &mut buf);
            i += 1;
        }
        let take = buf.len().min(n - sent);
        if !piece(sent, &buf[..take])? {
            return Ok(false);
        }
        sent += take;
        buf.drain(..take);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_text_equals_the_whole_text() {
        for n in [0, 1, 100, 64 * 1024, 200_001] {
            let mut streamed = Vec::new();
            write_text(n, 7, |_, p| {
                streamed.extend_from_slice(p);
                Ok(true)
            })
            .expect("write");
            assert_eq!(streamed, text(n, 7), "{n}");
        }
        assert_ne!(text(1000, 1), text(1000, 2));
    }
}
