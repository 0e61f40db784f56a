//! The plugin's counters, shared by every transaction (and thread), and the
//! one log line per transaction that had matches.

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters the plugin keeps, by name as `/stats` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Bodies scanned (one per transform added).
    Scanned,
    /// Body bytes scanned.
    BytesScanned,
    /// Matches found (every mode).
    Matches,
    /// Bodies with at least one match.
    BodiesMatched,
    /// Bodies passed on unscanned: Content-Encoding other than identity.
    SkippedEncoded,
    /// Bodies passed on unscanned: a type `--types` does not list.
    SkippedType,
    /// Matches replaced (replace mode).
    Replaced,
    /// Messages blocked with the block status (block mode).
    Blocked,
    /// Transactions aborted: a match past `--max-hold` (block mode).
    Aborted,
}

impl Count {
    /// Every counter, in `/stats` order.
    pub const ALL: [Count; 9] = [
        Count::Scanned,
        Count::BytesScanned,
        Count::Matches,
        Count::BodiesMatched,
        Count::SkippedEncoded,
        Count::SkippedType,
        Count::Replaced,
        Count::Blocked,
        Count::Aborted,
    ];

    /// The counter's name.
    pub fn name(self) -> &'static str {
        match self {
            Count::Scanned => "scanned",
            Count::BytesScanned => "bytes_scanned",
            Count::Matches => "matches",
            Count::BodiesMatched => "bodies_matched",
            Count::SkippedEncoded => "skipped_encoded",
            Count::SkippedType => "skipped_type",
            Count::Replaced => "replaced",
            Count::Blocked => "blocked",
            Count::Aborted => "aborted",
        }
    }
}

/// The counters: the fixed ones, and one per pattern.
#[derive(Debug)]
pub struct Stats {
    fixed: [AtomicU64; Count::ALL.len()],
    per_pattern: Vec<AtomicU64>,
}

impl Stats {
    /// Zeroed counters for `patterns` patterns.
    pub fn new(patterns: usize) -> Stats {
        Stats { fixed: Default::default(), per_pattern: (0..patterns).map(|_| AtomicU64::new(0)).collect() }
    }

    /// Adds one to `c`.
    pub fn inc(&self, c: Count) {
        self.add(c, 1);
    }

    /// Adds `n` to `c`.
    pub fn add(&self, c: Count, n: u64) {
        // Counters are independent totals: no ordering with other memory is needed.
        self.fixed[c as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Adds `n` matches of pattern `index`.
    pub fn add_pattern(&self, index: usize, n: u64) {
        if let Some(c) = self.per_pattern.get(index) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The value of `c`.
    pub fn get(&self, c: Count) -> u64 {
        self.fixed[c as usize].load(Ordering::Relaxed)
    }

    /// The `n` most frequent patterns as (index, matches), most first, ties
    /// in line order; patterns never matched are left out.
    pub fn top_patterns(&self, n: usize) -> Vec<(usize, u64)> {
        let mut all: Vec<(usize, u64)> =
            self.per_pattern.iter().map(|c| c.load(Ordering::Relaxed)).enumerate().filter(|(_, v)| *v > 0).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }
}

/// A pattern as a log or counter name shows it: printable ASCII as is,
/// everything else in the patterns file's escapes.
pub fn display_pattern(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\x22"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_top_patterns() {
        let s = Stats::new(4);
        s.inc(Count::Matches);
        s.add(Count::Matches, 2);
        s.add_pattern(2, 5);
        s.add_pattern(0, 1);
        s.add_pattern(3, 5);
        s.add_pattern(9, 1); // out of range: ignored, not a panic
        assert_eq!(s.get(Count::Matches), 3);
        assert_eq!(s.get(Count::Blocked), 0);
        assert_eq!(s.top_patterns(2), [(2, 5), (3, 5)]);
        assert_eq!(s.top_patterns(10), [(2, 5), (3, 5), (0, 1)]);
    }

    #[test]
    fn names_are_distinct_and_patterns_display_escaped() {
        let mut names: Vec<&str> = Count::ALL.iter().map(|c| c.name()).collect();
        names.dedup();
        assert_eq!(names.len(), Count::ALL.len());
        assert_eq!(display_pattern(b"a\tb\n\\\x00\xff\"z"), "a\\tb\\n\\\\\\x00\\xff\\x22z");
    }
}
