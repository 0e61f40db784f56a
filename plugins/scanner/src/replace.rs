//! Replace mode: each match is replaced by its pattern's replacement; the
//! replacement is not rescanned.
//!
//! Bytes go out as soon as they are settled (no match can still cover them).
//! The few that are not (at most the longest pattern's length minus one, at
//! the end of a block) are held in a small copy until the next block settles
//! them. A block that is settled whole, with nothing held and no match in it,
//! is shared on without copying.

use std::sync::Arc;

use plugin_sdk::{Chunk, Output, StreamTransform};

use crate::log::MatchLog;
use crate::matcher::{Found, Scan};
use crate::stats::Count;
use crate::Shared;

/// One body in replace mode.
pub struct Replace {
    shared: Arc<Shared>,
    scan: Scan,
    log: MatchLog,
    splice: Splice,
}

impl Replace {
    /// A replace transform for one body; `log` names it.
    pub fn new(shared: Arc<Shared>, log: MatchLog) -> Replace {
        let scan = Scan::new(&shared.matcher);
        Replace { shared, scan, log, splice: Splice::default() }
    }
}

/// The output side: how far the input went out, and what is held back.
#[derive(Debug, Default)]
struct Splice {
    /// Input offset up to which output has been written.
    out_pos: u64,
    /// Input bytes from `out_pos` on that belong to earlier blocks.
    held: Vec<u8>,
}

/// The current block and where it sits in the body.
struct Block<'b> {
    bytes: &'b [u8],
    base: u64,
}

impl Splice {
    /// Writes the input from `out_pos` up to `to` unchanged.
    fn copy_to(&mut self, to: u64, block: &Block<'_>, out: &mut Output<'_>) {
        if to <= self.out_pos {
            return;
        }
        let from_held = usize::try_from(to - self.out_pos).unwrap_or(usize::MAX).min(self.held.len());
        out.write(&self.held[..from_held]);
        self.held.drain(..from_held);
        self.out_pos += from_held as u64;
        if self.out_pos < to {
            let (a, b) = (self.out_pos - block.base, to - block.base);
            out.write(&block.bytes[to_usize(a)..to_usize(b)]);
            self.out_pos = to;
        }
    }

    /// Writes the input up to the match, then its replacement; skips the match.
    fn replace(&mut self, found: Found, with: &[u8], block: &Block<'_>, out: &mut Output<'_>) {
        debug_assert!(
            found.start >= self.out_pos,
            "a match at {} before the output position {}",
            found.start,
            self.out_pos
        );
        self.copy_to(found.start, block, out);
        out.write(with);
        // The match may begin in held bytes and end in this block.
        let skip = to_usize(found.end.saturating_sub(self.out_pos)).min(self.held.len());
        self.held.drain(..skip);
        self.out_pos = found.end;
    }

    /// After a block: keep the input from `out_pos` to the block's end.
    fn hold_rest(&mut self, block: &Block<'_>) {
        let from = to_usize(self.out_pos.max(block.base) - block.base);
        self.held.extend_from_slice(&block.bytes[from.min(block.bytes.len())..]);
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl StreamTransform for Replace {
    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        let Replace { shared, scan, log, splice } = self;
        let block = Block { bytes: chunk, base: scan.scanned() };
        let end = block.base + chunk.len() as u64;
        scan.feed(&shared.matcher, chunk, &mut |f| {
            log.record(f);
            splice.replace(f, shared.replacement(f.pattern), &block, out);
        });
        let settled = scan.settled(&shared.matcher);
        if splice.held.is_empty() && splice.out_pos == block.base && settled >= end {
            // Nothing held, nothing replaced: share the block instead of copying it.
            out.pass(chunk);
            splice.out_pos = end;
            return;
        }
        splice.copy_to(settled, &block, out);
        splice.hold_rest(&block);
    }

    fn on_end(&mut self, out: &mut Output<'_>) {
        let Replace { shared, scan, log, splice } = self;
        let block = Block { bytes: &[], base: scan.scanned() };
        scan.finish(&mut |f| {
            log.record(f);
            splice.replace(f, shared.replacement(f.pattern), &block, out);
        });
        splice.copy_to(scan.scanned(), &block, out);
        shared.stats.add(Count::Replaced, log.total());
        shared.body_done(scan.scanned(), log);
    }

    fn output_len(&self, input_len: Option<u64>) -> Option<u64> {
        // Only when every replacement is as long as its pattern is the length known.
        input_len.filter(|_| self.shared.same_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{every_split, shared};
    use crate::Mode;

    fn run(patterns: &str, body: &[u8]) -> Vec<u8> {
        let sh = shared(patterns, Mode::Replace, false);
        let mut want = None;
        for (what, out) in every_split(body, || Replace::new(Arc::clone(&sh), MatchLog::new("response", "GET", "/"))) {
            assert!(out.complete && out.errors.is_empty(), "{what}: {out:?}");
            let expected = want.get_or_insert_with(|| out.bytes.clone());
            assert_eq!(&out.bytes, expected, "{what}");
        }
        want.unwrap_or_default()
    }

    #[test]
    fn overlapping_patterns_replaced_leftmost_longest() {
        let pats = "abcd\t[ABCD]\nbc\t[BC]\ncde\t[CDE]\n";
        assert_eq!(run(pats, b"xabcdex"), b"x[ABCD]ex");
        assert_eq!(run(pats, b"abcxbcde"), b"a[BC]x[BC]de");
        assert_eq!(run(pats, b"abccdeabcd"), b"a[BC][CDE][ABCD]");
        assert_eq!(run(pats, b"no match at all"), b"no match at all");
    }

    #[test]
    fn replacement_is_not_rescanned_and_may_be_empty() {
        assert_eq!(run("a\taa\n", b"aXa"), b"aaXaa");
        assert_eq!(run("secret\t\n", b"my secret is secret"), b"my  is ");
        assert_eq!(run("x\tsecret\nsecret\tNO\n", b"x secret"), b"secret NO");
    }

    #[test]
    fn binary_and_ignore_case() {
        assert_eq!(run("\\x00\\xff\t<0>\n\\xff\t<f>\n", b"a\x00\xff\xff\x00b"), b"a<0><f>\x00b");
        let sh = shared("Secret\t***\n", Mode::Replace, true);
        for (what, out) in
            every_split(b"SECRET and secret", || Replace::new(Arc::clone(&sh), MatchLog::new("response", "GET", "/")))
        {
            assert_eq!(out.bytes, b"*** and ***", "{what}");
        }
    }

    #[test]
    fn length_is_known_only_for_equal_lengths() {
        let same = shared("abc\txyz\n", Mode::Replace, false);
        let r = Replace::new(Arc::clone(&same), MatchLog::new("response", "GET", "/"));
        assert_eq!(r.output_len(Some(10)), Some(10));
        let other = shared("abc\tx\n", Mode::Replace, false);
        let r = Replace::new(Arc::clone(&other), MatchLog::new("response", "GET", "/"));
        assert_eq!(r.output_len(Some(10)), None);
        for (what, out) in every_split(b"1abc2abc", || Replace::new(Arc::clone(&same), MatchLog::new("r", "G", "/"))) {
            let want_len = if what == "unknown length" { None } else { Some(8) };
            assert_eq!((out.bytes.as_slice(), out.nbytes), (&b"1xyz2xyz"[..], want_len), "{what}");
        }
    }

    #[test]
    fn counts_replacements() {
        let sh = shared("ab\tX\n", Mode::Replace, false);
        let out = plugin_sdk::testing::FakeHost::new()
            .run_stream(Replace::new(Arc::clone(&sh), MatchLog::new("r", "G", "/")), &[b"ab a", b"b ab"]);
        assert_eq!(out.bytes, b"X X X");
        assert_eq!((sh.stats.get(Count::Replaced), sh.stats.get(Count::Matches)), (3, 3));
    }
}
