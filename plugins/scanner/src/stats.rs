//! The plugin's counters in `/stats`, shared by every transaction (and
//! thread): SDK counters, one relaxed atomic add each, and one per pattern
//! in a ranked group, of which `/stats` shows the most frequent.

use plugin_sdk::{Counter, CounterGroup};

use crate::patterns::Pattern;

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

/// The counters' names, in `/stats` order: [`Count`]'s order.
pub const NAMES: [&str; 9] = [
    "scanned",
    "bytes_scanned",
    "matches",
    "bodies_matched",
    "skipped_encoded",
    "skipped_type",
    "replaced",
    "blocked",
    "aborted",
];

/// How much of a pattern a counter name shows.
const NAME_PATTERN_CHARS: usize = 40;

/// The counters: the fixed ones, and one per pattern of which `/stats`
/// shows the most frequent. Registered with the host when made during
/// `Plugin::init`; anywhere else (unit tests) they count without being shown.
#[derive(Debug)]
pub struct Stats {
    fixed: Vec<Counter>,
    per_pattern: CounterGroup,
}

impl Stats {
    /// Registers the counters: one per pattern, the `top` most frequent shown.
    pub fn register(patterns: &[Pattern], top: usize) -> Stats {
        let fixed = NAMES.iter().map(|name| Counter::register(name)).collect();
        let names = patterns.iter().map(pattern_counter_name).collect();
        Stats { fixed, per_pattern: CounterGroup::register_top(names, top) }
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

    /// Adds `n` matches of pattern `index`.
    pub fn add_pattern(&self, index: usize, n: u64) {
        self.per_pattern.add(index, n);
    }

    /// The value of `c`.
    pub fn get(&self, c: Count) -> u64 {
        self.fixed.get(c as usize).map_or(0, Counter::get)
    }

    /// The matches counted for pattern `index`.
    pub fn pattern(&self, index: usize) -> u64 {
        self.per_pattern.get(index)
    }
}

/// A pattern's counter name: its line, so the name is unique and leads to
/// the file, then the pattern itself, cut short, so `/stats` says what matched.
pub fn pattern_counter_name(p: &Pattern) -> String {
    let mut shown = display_pattern(&p.bytes);
    if shown.len() > NAME_PATTERN_CHARS {
        // Escapes are ASCII: any byte offset is a char boundary.
        shown.truncate(NAME_PATTERN_CHARS);
        shown.push_str("...");
    }
    format!("pattern_line_{}:{shown}", p.line)
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

    fn pattern(bytes: &[u8], line: usize) -> Pattern {
        Pattern { bytes: bytes.to_vec(), replacement: None, line }
    }

    #[test]
    fn counts_fixed_and_per_pattern() {
        let s = Stats::register(&[pattern(b"a", 2), pattern(b"b", 5)], 20);
        s.inc(Count::Matches);
        s.add(Count::Matches, 2);
        s.add_pattern(1, 5);
        s.add_pattern(9, 1); // no such pattern: ignored, not a panic
        assert_eq!((s.get(Count::Matches), s.get(Count::Blocked)), (3, 0));
        assert_eq!((s.pattern(0), s.pattern(1), s.pattern(9)), (0, 5, 0));
    }

    #[test]
    fn pattern_names_give_the_line_and_the_pattern_cut_short() {
        assert_eq!(pattern_counter_name(&pattern(b"fox\t\"", 3)), "pattern_line_3:fox\\t\\x22");
        let long = pattern_counter_name(&pattern(&[b'x'; 100], 12));
        assert_eq!(long, format!("pattern_line_12:{}...", "x".repeat(NAME_PATTERN_CHARS)));
    }

    #[test]
    fn names_are_distinct_and_patterns_display_escaped() {
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!((names.len(), NAMES[Count::Aborted as usize]), (NAMES.len(), "aborted"));
        assert_eq!(display_pattern(b"a\tb\n\\\x00\xff\"z"), "a\\tb\\n\\\\\\x00\\xff\\x22z");
    }
}
