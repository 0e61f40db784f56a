//! Where the next match may start: the scan jumps there instead of stepping
//! the DFA over bytes no pattern can start at.
//!
//! The DFA's own prefilter looks for the patterns' first bytes (or rare
//! bytes), one `memchr` call per candidate: slow when a first byte is common
//! in bodies (every pattern of a list starting with `<`). When the patterns
//! have few distinct prefixes of some length `L` (one pattern; a list sharing
//! a stem; up to 64 patterns), looking for those prefixes skips far more:
//! one prefix with `memchr::memmem`, up to 64 with aho-corasick's packed
//! (Teddy) searcher. Any occurrence of a pattern starts with its `L`-prefix,
//! so the first prefix found is a safe place to jump to.

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{packed, Span};
use memchr::memmem;

/// Distinct prefixes a packed searcher takes (Teddy's limit).
const MAX_PREFIXES: usize = 64;

/// Shortest shared stem looked for alone.
const MIN_STEM: usize = 4;

/// Longest prefix looked for: longer ones skip no more in practice.
const MAX_PREFIX_LEN: usize = 16;

/// How the scan finds the next place a match may start.
#[derive(Debug)]
pub enum Skip {
    /// The one prefix every pattern starts with.
    Memmem(memmem::Finder<'static>),
    /// The patterns' distinct prefixes, at most [`MAX_PREFIXES`].
    Packed(packed::Searcher),
    /// The DFA's own prefilter (ASCII case folding, or too many prefixes).
    Dfa,
}

impl Skip {
    /// The best skip for `patterns`.
    pub fn new<P: AsRef<[u8]>>(patterns: &[P], ignore_case: bool) -> Skip {
        let min_len = patterns.iter().map(|p| p.as_ref().len()).min().unwrap_or(0).min(MAX_PREFIX_LEN);
        // Memmem and packed match exact bytes; a 1-byte prefix is what the DFA's prefilter already does.
        if ignore_case || min_len < 2 {
            return Skip::Dfa;
        }
        // The longest prefix length with few distinct prefixes: their count only grows with the length.
        let prefixes = |len: usize| {
            let mut v: Vec<&[u8]> = patterns.iter().map(|p| &p.as_ref()[..len]).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let few: Vec<Vec<&[u8]>> = (2..=min_len).map(prefixes).take_while(|v| v.len() <= MAX_PREFIXES).collect();
        // A stem all patterns share, long enough to be rare in bodies, beats
        // looking for several longer prefixes.
        if let Some([stem]) = few.iter().rev().find(|v| v.len() == 1).map(Vec::as_slice) {
            if stem.len() >= MIN_STEM || few.len() == 1 {
                return Skip::Memmem(memmem::Finder::new(stem).into_owned());
            }
        }
        let Some(best) = few.last() else { return Skip::Dfa };
        let mut builder = packed::Config::new().match_kind(packed::MatchKind::LeftmostFirst).builder();
        builder.extend(best);
        builder.build().map_or(Skip::Dfa, Skip::Packed)
    }

    /// The first offset at or after `at` where a pattern may start whole
    /// inside `block`, if any.
    pub fn find(&self, dfa: &DFA, block: &[u8], at: usize) -> Option<usize> {
        match self {
            Skip::Memmem(f) => f.find(&block[at..]).map(|i| at + i),
            Skip::Packed(s) => s.find_in(block, Span::from(at..block.len())).map(|m| m.start()),
            Skip::Dfa => dfa.prefilter()?.find_in(block, Span::from(at..block.len())).into_option(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(patterns: &[&[u8]], ignore_case: bool) -> &'static str {
        match Skip::new(patterns, ignore_case) {
            Skip::Memmem(_) => "memmem",
            Skip::Packed(_) => "packed",
            Skip::Dfa => "dfa",
        }
    }

    #[test]
    fn picks_memmem_for_one_prefix_packed_for_few_the_dfa_otherwise() {
        assert_eq!(kind(&[b"needle"], false), "memmem");
        assert_eq!(kind(&[b"<tok-1>", b"<tok-22>"], false), "memmem", "a shared stem");
        assert_eq!(kind(&[b"alpha", b"beta", b"gamma"], false), "packed");
        assert_eq!(kind(&[b"abc1", b"abc2"], false), "packed", "a short stem, longer prefixes");
        assert_eq!(kind(&[b"needle"], true), "dfa", "case folding");
        assert_eq!(kind(&[b"x", b"yy"], false), "dfa", "a 1-byte pattern");
        let many: Vec<Vec<u8>> = (0..200u32).map(|i| (i * 7919).to_le_bytes().repeat(2)).collect();
        let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        assert_eq!(kind(&refs, false), "dfa", "too many distinct 2-byte prefixes");
    }

    #[test]
    fn finds_the_first_prefix_at_or_after_the_offset() {
        let pats: [&[u8]; 2] = [b"<tok-1>", b"<tok-22>"];
        let dfa = DFA::new(pats).expect("dfa");
        let skip = Skip::new(&pats, false);
        let block = b"<to <tok-9 .. <tok-22>";
        assert_eq!(skip.find(&dfa, block, 0), Some(4));
        assert_eq!(skip.find(&dfa, block, 5), Some(14));
        assert_eq!(skip.find(&dfa, block, 15), None);
        let skip = Skip::new(&[&b"alpha"[..], b"beta"], false);
        assert_eq!(skip.find(&dfa, b"an alp bet beta", 0), Some(11));
    }
}
