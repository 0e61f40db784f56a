//! The scanner plugin in the end-to-end tests: a host whose plugin.config lines load
//! `libplugin_scanner.so`, each with a patterns file of its own written beside it, and the
//! scanner's per-body log lines read back from the host's log.

use std::net::SocketAddr;
use std::ops::Deref;
use std::thread;
use std::time::{Duration, Instant};

use crate::host::{Host, HostBuilder};
use crate::plugins::{built_plugin, PluginHost, ScratchDir, SETTLE_TIMEOUT};

/// One scanner line: the text of its patterns file and its other arguments.
pub struct ScannerLine<'a> {
    /// The patterns file's contents.
    pub patterns: &'a [u8],
    /// Arguments after `--patterns FILE`, e.g. `--mode replace`.
    pub args: &'a str,
}

/// A host running scanner lines (and any `extra` lines after them).
pub struct ScannerHost {
    host: PluginHost,
    // Declared after `host`: the patterns files go only once the process is gone.
    dir: ScratchDir,
}

impl Deref for ScannerHost {
    type Target = PluginHost;

    fn deref(&self) -> &PluginHost {
        &self.host
    }
}

impl ScannerHost {
    /// The patterns file of config line `index` (to rewrite it before a reload).
    pub fn patterns_path(&self, index: usize) -> std::path::PathBuf {
        self.dir.path().join(format!("patterns-{index}.txt"))
    }
}

/// The plugin.config line for the built scanner with a patterns file at `patterns`.
pub fn scanner_config_line(patterns: &std::path::Path, args: &str) -> String {
    let so = built_plugin("scanner");
    format!("{} --patterns {} {args}", so.display(), patterns.display())
}

/// Starts a host for `origin` with `lines` in order (each a scanner line with its own
/// patterns file, or a literal plugin.config line).
pub fn start_scanner_host(builder: HostBuilder, lines: &[Line<'_>]) -> ScannerHost {
    let dir = ScratchDir::new("scanner");
    let config: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| match line {
            Line::Scanner(s) => {
                let path = dir.path().join(format!("patterns-{i}.txt"));
                std::fs::write(&path, s.patterns).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
                scanner_config_line(&path, s.args)
            }
            Line::Raw(text) => text.clone(),
        })
        .collect();
    ScannerHost { host: PluginHost::start(builder, &config), dir }
}

/// A plugin.config line for [`start_scanner_host`].
pub enum Line<'a> {
    /// A scanner with its patterns.
    Scanner(ScannerLine<'a>),
    /// Any other line, as written.
    Raw(String),
}

/// A single-scanner host for `origin`.
pub fn scanner_host(origin: SocketAddr, patterns: &[u8], args: &str) -> ScannerHost {
    start_scanner_host(HostBuilder::new(origin), &[Line::Scanner(ScannerLine { patterns, args })])
}

/// The match counts of the scanner's per-body log lines (`N match(es) in the ...`)
/// whose subject contains `subject` (e.g. `response of GET /doc`), in log order.
pub fn logged_match_counts(logs: &str, subject: &str) -> Vec<u64> {
    logs.lines()
        .filter_map(|l| {
            let at = l.find(" match(es) in the ")?;
            let rest = &l[at + " match(es) in the ".len()..];
            if !rest.starts_with(subject) {
                return None;
            }
            let digits: String = l[..at].chars().rev().take_while(char::is_ascii_digit).collect();
            digits.chars().rev().collect::<String>().parse().ok()
        })
        .collect()
}

/// The scanner's log lines for `subject`, waited for (bounded by [`SETTLE_TIMEOUT`]) until
/// there are `lines` of them: a line reaches the test through the host's stderr pipe and a
/// reader thread, a moment after the transaction that wrote it has ended. Returns their
/// match counts, in log order.
pub fn wait_for_match_counts(host: &Host, subject: &str, lines: usize) -> Vec<u64> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let counts = logged_match_counts(&host.logs(), subject);
        if counts.len() >= lines || Instant::now() >= deadline {
            return counts;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The named counters of config line `index` in `stats`, as `(name, value)` for `names`
/// (`None` for a counter that is not there).
pub fn counters(stats: &crate::admin::Stats, index: usize, names: &[&str]) -> Vec<(String, Option<u64>)> {
    let c = &stats.plugin(index).counters;
    names.iter().map(|n| (n.to_string(), c.get(*n).copied())).collect()
}

/// `(name, Some(value))` pairs, to compare with [`counters`].
pub fn expect(pairs: &[(&str, u64)]) -> Vec<(String, Option<u64>)> {
    pairs.iter().map(|(n, v)| (n.to_string(), Some(*v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counts_of_matching_subjects() {
        let logs = "x\nWARN plugin scanner: 12 match(es) in the response of GET /a: \"p\"@1\n\
                    plugin scanner: 3 match(es) in the request of POST /b: \"q\"@2\n";
        assert_eq!(logged_match_counts(logs, "response of GET /a"), [12]);
        assert_eq!(logged_match_counts(logs, "request of POST"), [3]);
        assert!(logged_match_counts(logs, "response of GET /b").is_empty());
    }
}
