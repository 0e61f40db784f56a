//! The plugin's counters in `/stats`, shared by every transaction (and
//! thread): SDK counters, one relaxed atomic add each.

use plugin_sdk::Counter;

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

/// Patterns that get a counter of their own in `/stats` (the first lines of
/// the patterns file: put the ones worth watching first). Counters are named
/// at init, before any traffic says which patterns are frequent, and a
/// thousand of them would drown `/stats`.
pub const PATTERN_COUNTERS: usize = 100;

/// The counters: the fixed ones, and one per pattern for the first
/// [`PATTERN_COUNTERS`] lines. Registered with the host when made during
/// `Plugin::init`; anywhere else (unit tests) they count without being shown.
#[derive(Debug)]
pub struct Stats {
    fixed: Vec<Counter>,
    per_pattern: Vec<Counter>,
}

impl Stats {
    /// Registers the counters, one per pattern for the first lines in `lines`.
    pub fn register(lines: &[usize]) -> Stats {
        let fixed = Count::ALL.iter().map(|c| Counter::register(c.name())).collect();
        let per_pattern = lines
            .iter()
            .take(PATTERN_COUNTERS)
            .map(|line| Counter::register(&format!("pattern_line_{line}")))
            .collect();
        Stats { fixed, per_pattern }
    }

    /// Adds one to `c`.
    pub fn inc(&self, c: Count) {
        self.add(c, 1);
    }

    /// Adds `n` to `c`.
    pub fn add(&self, c: Count, n: u64) {
        if let Some(counter) = self.fixed.get(c as usize) {
            counter.add(n);
        }
    }

    /// Adds `n` matches of pattern `index` (no-op past [`PATTERN_COUNTERS`]).
    pub fn add_pattern(&self, index: usize, n: u64) {
        if let Some(c) = self.per_pattern.get(index) {
            c.add(n);
        }
    }

    /// The value of `c`.
    pub fn get(&self, c: Count) -> u64 {
        self.fixed.get(c as usize).map_or(0, Counter::get)
    }

    /// The matches counted for pattern `index`, if it has a counter.
    pub fn pattern(&self, index: usize) -> Option<u64> {
        self.per_pattern.get(index).map(Counter::get)
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
    fn counts_fixed_and_per_pattern() {
        let s = Stats::register(&[2, 5, 9]);
        s.inc(Count::Matches);
        s.add(Count::Matches, 2);
        s.add_pattern(2, 5);
        s.add_pattern(9, 1); // no counter: ignored, not a panic
        assert_eq!((s.get(Count::Matches), s.get(Count::Blocked)), (3, 0));
        assert_eq!((s.pattern(0), s.pattern(2), s.pattern(3)), (Some(0), Some(5), None));
        let many: Vec<usize> = (1..=PATTERN_COUNTERS + 10).collect();
        assert!(Stats::register(&many).pattern(PATTERN_COUNTERS).is_none());
    }

    #[test]
    fn names_are_distinct_and_patterns_display_escaped() {
        let mut names: Vec<&str> = Count::ALL.iter().map(|c| c.name()).collect();
        names.dedup();
        assert_eq!(names.len(), Count::ALL.len());
        assert_eq!(display_pattern(b"a\tb\n\\\x00\xff\"z"), "a\\tb\\n\\\\\\x00\\xff\\x22z");
    }
}
