//! Matching many literal patterns over a body that arrives in blocks.
//!
//! [`Matcher`] is the automaton, built once at init and shared by every
//! transaction. [`Scan`] is one body's state: the DFA state carried from one
//! block to the next, and the matches found but not yet final. Bytes are read
//! in place, never copied, so a match split at any byte, over any number of
//! blocks, is found exactly once.
//!
//! The DFA reports every occurrence (`MatchKind::Standard`, overlapping) as it
//! ends; [`Scan`] turns those into leftmost-longest, non-overlapping matches
//! (what `MatchKind::LeftmostLongest` finds over the whole body at once). A
//! leftmost automaton would need to rescan the bytes after a match when it
//! restarts, and those may sit in blocks already passed on; the overlapping
//! one never restarts. An occurrence is final once no unseen one can start at
//! or before it: every unseen occurrence ends past the scanned bytes, so it
//! starts after `scanned - max_pattern_len`.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind, StartKind};

use crate::skip::Skip;

/// A match: pattern index (line order in the patterns file) and its byte
/// range in the body, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// Index of the pattern.
    pub pattern: usize,
    /// Offset of its first byte in the body.
    pub start: u64,
    /// Offset one past its last byte.
    pub end: u64,
}

/// The compiled patterns, shared by every transaction.
#[derive(Debug)]
pub struct Matcher {
    dfa: DFA,
    start: StateID,
    max_len: u64,
    skip: Skip,
}

impl Matcher {
    /// Builds the automaton. `ignore_case` folds ASCII letters only.
    pub fn new<P: AsRef<[u8]>>(patterns: &[P], ignore_case: bool) -> Result<Matcher, String> {
        let dfa = DFA::builder()
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .ascii_case_insensitive(ignore_case)
            .prefilter(true)
            .build(patterns)
            .map_err(|e| {
                format!("cannot build the matcher for {} patterns: {e}; use fewer or shorter patterns", patterns.len())
            })?;
        let start = dfa.start_state(Anchored::No).map_err(|e| format!("the matcher has no unanchored start: {e}"))?;
        let max_len = dfa.max_pattern_len() as u64;
        Ok(Matcher { dfa, start, max_len, skip: Skip::new(patterns, ignore_case) })
    }

    /// The longest pattern's length.
    pub fn max_len(&self) -> u64 {
        self.max_len
    }

    /// The automaton's memory, shared by all transactions.
    pub fn memory_usage(&self) -> usize {
        self.dfa.memory_usage()
    }
}

/// One body's scan state. Feed it the blocks in order, then [`Scan::finish`].
#[derive(Debug)]
pub struct Scan {
    sid: StateID,
    /// Bytes scanned so far: the body offset of the next block.
    scanned: u64,
    /// No further match may start before this (the end of the last final match).
    pos: u64,
    /// Occurrences that may still become final: at most one per start offset
    /// (the longest), all starting after `scanned - max_len`, so at most
    /// `max_len` of them.
    pending: Vec<Found>,
}

impl Scan {
    /// A scan at the start of a body.
    pub fn new(m: &Matcher) -> Scan {
        Scan { sid: m.start, scanned: 0, pos: 0, pending: Vec::new() }
    }

    /// Bytes scanned so far.
    pub fn scanned(&self) -> u64 {
        self.scanned
    }

    /// Every match starting before this offset has been passed to `on_match`:
    /// bytes before it are final (replace mode may send them on).
    pub fn settled(&self, m: &Matcher) -> u64 {
        let unseen = (self.scanned + 1).saturating_sub(m.max_len);
        self.pending.iter().map(|f| f.start).fold(unseen, u64::min)
    }

    /// An occurrence seen but not yet final, if any (block mode acts on it).
    pub fn pending(&self) -> Option<Found> {
        self.pending.iter().min_by_key(|f| f.start).copied()
    }

    /// Scans the next `block` of the body, calling `on_match` with each match
    /// that became final, in body order.
    pub fn feed(&mut self, m: &Matcher, block: &[u8], on_match: &mut impl FnMut(Found)) {
        let dfa = &m.dfa;
        // The DFA marks its start state special only when it has a prefilter:
        // without one the scan would never stop stepping to skip.
        let skips = dfa.prefilter().is_some();
        // The prefilter only vouches for matches that fit inside the block:
        // it may skip bytes only where every pattern would still fit.
        let limit = block.len().saturating_sub(usize::try_from(m.max_len.saturating_sub(1)).unwrap_or(usize::MAX));
        let (mut sid, mut at) = (self.sid, 0);
        while at < block.len() {
            if skips && at < limit && dfa.is_start(sid) {
                let next = m.skip.find(dfa, block, at).unwrap_or(limit);
                at = at.max(next.min(limit));
                if at >= block.len() {
                    break;
                }
            }
            // Step until a special state: a match, or the start state when a
            // prefilter is on (the DFA marks it special only then).
            while at < block.len() {
                sid = dfa.next_state(Anchored::No, sid, block[at]);
                at += 1;
                if dfa.is_special(sid) {
                    break;
                }
            }
            if dfa.is_match(sid) {
                let end = self.scanned + at as u64;
                for i in 0..dfa.match_len(sid) {
                    let pid = dfa.match_pattern(sid, i);
                    self.occurrence(pid.as_usize(), end - dfa.pattern_len(pid) as u64, end);
                }
                self.settle(m.max_len, end, on_match);
            }
        }
        self.sid = sid;
        self.scanned += block.len() as u64;
        self.settle(m.max_len, self.scanned, on_match);
    }

    /// The body ended: every pending occurrence is decided now.
    pub fn finish(&mut self, on_match: &mut impl FnMut(Found)) {
        self.settle(0, self.scanned, on_match);
    }

    fn occurrence(&mut self, pattern: usize, start: u64, end: u64) {
        if start < self.pos {
            return;
        }
        let new = Found { pattern, start, end };
        match self.pending.iter_mut().find(|f| f.start == start) {
            // Same start: the longest wins; equal (duplicate patterns): the first line.
            Some(f) if end > f.end || end == f.end && pattern < f.pattern => *f = new,
            Some(_) => {}
            None => self.pending.push(new),
        }
    }

    /// Makes final, leftmost first, each pending occurrence that no unseen one
    /// can start at or before (`max_len` 0: all of them, at end of body).
    fn settle(&mut self, max_len: u64, scanned: u64, on_match: &mut impl FnMut(Found)) {
        while let Some(best) = self.pending() {
            if best.start + max_len > scanned {
                return;
            }
            on_match(best);
            self.pos = best.end;
            self.pending.retain(|f| f.start >= best.end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;

    /// What aho-corasick's own leftmost-longest search finds over the whole body.
    fn oracle(patterns: &[&[u8]], ignore_case: bool, body: &[u8]) -> Vec<Found> {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(ignore_case)
            .build(patterns)
            .expect("oracle builds");
        ac.find_iter(body)
            .map(|m| Found { pattern: m.pattern().as_usize(), start: m.start() as u64, end: m.end() as u64 })
            .collect()
    }

    fn scan(m: &Matcher, blocks: &[&[u8]]) -> Vec<Found> {
        let mut s = Scan::new(m);
        let mut out = Vec::new();
        for b in blocks {
            s.feed(m, b, &mut |f| out.push(f));
        }
        s.finish(&mut |f| out.push(f));
        out
    }

    /// The body in every split: one block, two blocks at every offset, 1-byte blocks.
    fn check_every_split(patterns: &[&[u8]], ignore_case: bool, body: &[u8]) -> Vec<Found> {
        let m = Matcher::new(patterns, ignore_case).expect("matcher builds");
        let want = oracle(patterns, ignore_case, body);
        assert_eq!(scan(&m, &[body]), want, "one block");
        for cut in 0..=body.len() {
            assert_eq!(scan(&m, &[&body[..cut], &body[cut..]]), want, "split at {cut}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(scan(&m, &bytes), want, "1-byte blocks");
        want
    }

    fn f(pattern: usize, start: u64, end: u64) -> Found {
        Found { pattern, start, end }
    }

    #[test]
    fn overlapping_patterns_leftmost_longest() {
        let pats: [&[u8]; 3] = [b"abcd", b"bc", b"cde"];
        assert_eq!(check_every_split(&pats, false, b"xabcdex"), [f(0, 1, 5)]);
        assert_eq!(check_every_split(&pats, false, b"abcxbcde"), [f(1, 1, 3), f(1, 4, 6)]);
        assert_eq!(check_every_split(&pats, false, b"abccdeabcd"), [f(1, 1, 3), f(2, 3, 6), f(0, 6, 10)]);
        assert_eq!(check_every_split(&pats, false, b"abcabcd"), [f(1, 1, 3), f(0, 3, 7)]);
    }

    #[test]
    fn nested_and_repeated_patterns() {
        let pats: [&[u8]; 4] = [b"a", b"aa", b"aaaaa", b"ab"];
        check_every_split(&pats, false, b"aaaaaaaaaaab");
        let pats: [&[u8]; 2] = [b"abab", b"ba"];
        check_every_split(&pats, false, b"abababababa");
        let pats: [&[u8]; 3] = [b"x", b"xxxxxxxxxx", b"yy"];
        assert_eq!(check_every_split(&pats, false, b"xyy"), [f(0, 0, 1), f(2, 1, 3)]);
    }

    #[test]
    fn duplicate_patterns_report_the_first_line() {
        let pats: [&[u8]; 2] = [b"dup", b"dup"];
        assert_eq!(check_every_split(&pats, false, b"a dup b"), [f(0, 2, 5)]);
        let pats: [&[u8]; 2] = [b"DUP", b"dup"];
        assert_eq!(check_every_split(&pats, true, b"a Dup b"), [f(0, 2, 5)]);
    }

    #[test]
    fn ignore_case_folds_ascii_only() {
        let pats: [&[u8]; 2] = [b"Secret", b"\xc3\xa9t\xc3\xa9"];
        assert_eq!(check_every_split(&pats, true, b"a SECRET, secret, \xc3\x89T\xc3\x89").len(), 2);
        assert_eq!(check_every_split(&pats, false, b"a SECRET, Secret").len(), 1);
    }

    #[test]
    fn binary_patterns_with_nul_and_ff() {
        let pats: [&[u8]; 3] = [b"\x00\xff", b"\xff\xff\x00", b"\x00"];
        let found = check_every_split(&pats, false, b"\x00\x00\xff\xff\xff\x00\xffz");
        assert_eq!(found, [f(2, 0, 1), f(0, 1, 3), f(1, 3, 6)]);
    }

    #[test]
    fn each_pattern_split_at_every_offset_and_many_blocks() {
        // Few patterns: a prefilter is in play; the skip must never cross a split match.
        let pats: [&[u8]; 3] = [b"needle", b"haystack-needle", b"q"];
        let mut body = b"hay needle and haystack-needle, hay".to_vec();
        body.extend_from_slice(&[b'.'; 300]);
        body.extend_from_slice(b"needle");
        let want = check_every_split(&pats, false, &body);
        assert_eq!(want.len(), 3);
        let m = Matcher::new(&pats, false).expect("matcher");
        for size in 2..=16 {
            let blocks: Vec<&[u8]> = body.chunks(size).collect();
            assert_eq!(scan(&m, &blocks), want, "blocks of {size}");
        }
    }

    #[test]
    fn a_match_across_many_blocks_is_found_once() {
        let long = b"0123456789abcdefghij";
        let pats: [&[u8]; 2] = [long, b"9a"];
        let m = Matcher::new(&pats, false).expect("matcher");
        let body = [b"--".as_slice(), long, b"--"].concat();
        let blocks: Vec<&[u8]> = body.chunks(3).collect();
        assert_eq!(scan(&m, &blocks), [f(0, 2, 22)]);
    }

    #[test]
    fn settled_never_passes_a_match_that_may_still_come() {
        let pats: [&[u8]; 2] = [b"abcdef", b"cd"];
        let m = Matcher::new(&pats, false).expect("matcher");
        let mut s = Scan::new(&m);
        let mut out = Vec::new();
        s.feed(&m, b"xxabcd", &mut |f| out.push(f));
        assert!(out.is_empty(), "cd may still be part of abcdef");
        // An unseen abcdef could start as early as offset 1 for all the scan knows.
        assert_eq!(s.settled(&m), 1);
        assert_eq!(s.pending(), Some(f(1, 4, 6)));
        s.feed(&m, b"eg", &mut |f| out.push(f));
        s.finish(&mut |f| out.push(f));
        assert_eq!(out, [f(1, 4, 6)]);
    }

    #[test]
    fn random_patterns_bodies_and_splits_agree_with_the_whole_body_search() {
        // A small alphabet makes overlaps, nesting and near misses common.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for round in 0..300 {
            let count = 1 + next(if round % 2 == 0 { 4 } else { 60 }) as usize;
            let pats: Vec<Vec<u8>> =
                (0..count).map(|_| (0..1 + next(6)).map(|_| b"abc\x00"[next(4) as usize]).collect()).collect();
            let body: Vec<u8> = (0..next(200)).map(|_| b"abc\x00"[next(4) as usize]).collect();
            let refs: Vec<&[u8]> = pats.iter().map(Vec::as_slice).collect();
            let ignore_case = round % 3 == 0;
            let m = Matcher::new(&refs, ignore_case).expect("matcher");
            let want = oracle(&refs, ignore_case, &body);
            let mut blocks = Vec::new();
            let mut rest = body.as_slice();
            while !rest.is_empty() {
                let (a, b) = rest.split_at((1 + next(9) as usize).min(rest.len()));
                blocks.push(a);
                rest = b;
            }
            assert_eq!(scan(&m, &blocks), want, "round {round}: {pats:?} over {body:?}");
        }
    }
}
