//! The per-transaction match log: what one body's matches were, written once
//! when the body ends, with a cap on how many are listed, and how many each
//! pattern had (added to the shared counters once per body, not per match).

use std::collections::BTreeMap;

use crate::matcher::Found;
use crate::patterns::Pattern;
use crate::stats::display_pattern;

/// Matches listed in one log line; the rest are only counted.
pub const MAX_LOGGED: usize = 16;

/// One body's matches, for its log line.
#[derive(Debug)]
pub struct MatchLog {
    /// What was scanned, e.g. `response of GET /path`.
    subject: String,
    total: u64,
    first: Vec<Found>,
    per_pattern: BTreeMap<usize, u64>,
}

impl MatchLog {
    /// An empty log for the body of `direction` of `method url`.
    pub fn new(direction: &str, method: &str, url: &str) -> MatchLog {
        MatchLog {
            subject: format!("{direction} of {method} {url}"),
            total: 0,
            first: Vec::new(),
            per_pattern: BTreeMap::new(),
        }
    }

    /// Records one match.
    pub fn record(&mut self, found: Found) {
        self.total += 1;
        *self.per_pattern.entry(found.pattern).or_default() += 1;
        if self.first.len() < MAX_LOGGED {
            self.first.push(found);
        }
    }

    /// What was scanned, e.g. `response of GET /path`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Matches recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Matches recorded per pattern index, for the patterns that had any.
    pub fn per_pattern(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.per_pattern.iter().map(|(&p, &n)| (p, n))
    }

    /// The log line (`None` without matches): how many, then each listed
    /// match as `"pattern"@offset`.
    pub fn line(&self, patterns: &[Pattern]) -> Option<String> {
        if self.total == 0 {
            return None;
        }
        let listed: Vec<String> = self
            .first
            .iter()
            .map(|f| {
                let p = patterns.get(f.pattern).map_or(String::new(), |p| display_pattern(&p.bytes));
                format!("\"{p}\"@{}", f.start)
            })
            .collect();
        let more = self.total - self.first.len() as u64;
        let tail = if more > 0 { format!(" (+{more} more)") } else { String::new() };
        Some(format!("{} match(es) in the {}: {}{tail}", self.total, self.subject, listed.join(", ")))
    }
}

/// Writes a log line through the host's log (the host adds the plugin's name).
pub fn emit(line: &str) {
    plugin_sdk::log_info!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_lists_up_to_the_cap() {
        let pats: Vec<Pattern> = [&b"foo"[..], b"\x00bar"]
            .iter()
            .map(|b| Pattern { bytes: b.to_vec(), replacement: None, line: 1 })
            .collect();
        let mut log = MatchLog::new("response", "GET", "/x?a=1");
        assert_eq!(log.line(&pats), None);
        log.record(Found { pattern: 1, start: 7, end: 11 });
        assert_eq!(log.line(&pats).as_deref(), Some("1 match(es) in the response of GET /x?a=1: \"\\x00bar\"@7"));
        for i in 0..MAX_LOGGED as u64 + 2 {
            log.record(Found { pattern: 0, start: 20 + i, end: 23 + i });
        }
        let line = log.line(&pats).unwrap_or_default();
        assert!(line.starts_with("19 match(es)"), "{line}");
        assert!(line.ends_with("(+3 more)"), "{line}");
        assert_eq!(line.matches('@').count(), MAX_LOGGED);
        assert_eq!(log.per_pattern().collect::<Vec<_>>(), [(0, 18), (1, 1)]);
    }
}
