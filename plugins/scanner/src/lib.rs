//! The scanner: finds many literal patterns in request and response bodies as
//! they stream, matches split across any number of blocks included, and
//! reports, replaces or blocks them. Arguments: see `README.md`.
//!
//! - [`config`]: the arguments; [`patterns`]: the patterns file.
//! - [`matcher`]: the shared automaton and one body's scan state.
//! - [`report`], [`replace`], [`block`]: the modes.
//! - [`stats`] and [`log`]: counters and the per-body log line.

pub mod block;
pub mod config;
pub mod log;
pub mod matcher;
pub mod patterns;
pub mod replace;
pub mod report;
pub mod stats;

use std::sync::Arc;

use plugin_sdk::{declare_plugin, Direction, Plugin, Txn};

pub use config::{Config, Mode};
use log::MatchLog;
use matcher::{Found, Matcher};
use patterns::Pattern;
use stats::{Count, Stats};

/// What every transaction of the plugin shares: the arguments, the
/// automaton, the patterns and the counters.
#[derive(Debug)]
pub struct Shared {
    /// The parsed arguments.
    pub cfg: Config,
    /// The automaton.
    pub matcher: Matcher,
    /// The patterns, in file order (a match's `pattern` indexes this).
    pub patterns: Vec<Pattern>,
    /// The counters.
    pub stats: Stats,
    /// Every replacement is as long as its pattern: replace mode keeps the length.
    pub same_length: bool,
}

impl Shared {
    /// Builds the automaton for `patterns`.
    pub fn new(cfg: Config, patterns: Vec<Pattern>) -> Result<Shared, String> {
        let matcher = Matcher::new(&patterns.iter().map(|p| &p.bytes).collect::<Vec<_>>(), cfg.ignore_case)
            .map_err(|e| format!("{}: {e}", cfg.patterns))?;
        let same_length = patterns.iter().all(|p| p.replacement.as_ref().is_none_or(|r| r.len() == p.bytes.len()));
        let stats = Stats::new(patterns.len());
        Ok(Shared { cfg, matcher, patterns, stats, same_length })
    }

    /// Counts one match and lists it in the body's log.
    pub(crate) fn record(&self, log: &mut MatchLog, found: Found) {
        self.stats.add_pattern(found.pattern, 1);
        log.record(found);
    }

    /// The replacement of pattern `index` (empty outside replace mode).
    pub(crate) fn replacement(&self, index: usize) -> &[u8] {
        self.patterns.get(index).and_then(|p| p.replacement.as_deref()).unwrap_or(&[])
    }

    /// Counts one finished body and writes its log line.
    pub(crate) fn body_done(&self, scanned: u64, log: &MatchLog) {
        self.stats.add(Count::BytesScanned, scanned);
        if log.total() > 0 {
            self.stats.inc(Count::BodiesMatched);
            self.stats.add(Count::Matches, log.total());
        }
        if let Some(line) = log.line(&self.patterns) {
            log::emit(&line);
        }
    }
}

/// The plugin: one per `plugin.config` line.
pub struct Scanner {
    shared: Arc<Shared>,
}

impl Plugin for Scanner {
    fn init(args: &[String]) -> Result<Self, String> {
        let cfg = Config::parse(args)?;
        if cfg.mode == Mode::Block {
            return Err("--mode block needs the plugin-sdk 1.2 hold-and-replace API, which this build lacks; use report or replace".into());
        }
        let patterns = patterns::load(&cfg.patterns, cfg.mode == Mode::Replace)?;
        Ok(Scanner { shared: Arc::new(Shared::new(cfg, patterns)?) })
    }

    fn read_request_headers(&self, txn: &mut Txn<'_>) {
        if self.shared.cfg.on.request && request_has_body(txn) {
            self.scan(txn, Direction::Request);
        }
    }

    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        if self.shared.cfg.on.response {
            self.scan(txn, Direction::Response);
        }
    }
}

impl Scanner {
    /// Adds this plugin's transform on the body of `dir`, unless its encoding
    /// or type say it is not to be scanned.
    fn scan(&self, txn: &mut Txn<'_>, dir: Direction) {
        let sh = &self.shared;
        let (encoding, content_type) = {
            let headers = match dir {
                Direction::Request => txn.request(),
                Direction::Response => txn.response(),
            };
            (headers.get("content-encoding"), headers.get("content-type"))
        };
        // Compressed bytes would never match a literal pattern: say so in /stats.
        if !config::is_identity(encoding) {
            sh.stats.inc(Count::SkippedEncoded);
            return;
        }
        if !sh.cfg.scans_type(content_type) {
            sh.stats.inc(Count::SkippedType);
            return;
        }
        let side = if dir == Direction::Request { "request" } else { "response" };
        let log = MatchLog::new(side, txn.method(), txn.url());
        let shared = Arc::clone(sh);
        let added = match sh.cfg.mode {
            Mode::Replace => add_stream(txn, dir, replace::Replace::new(shared, log)),
            Mode::Report | Mode::Block => add_stream(txn, dir, report::Report::new(shared, log)),
        };
        if added {
            sh.stats.inc(Count::Scanned);
        }
    }
}

fn add_stream<S: plugin_sdk::StreamTransform>(txn: &mut Txn<'_>, dir: Direction, s: S) -> bool {
    match dir {
        Direction::Request => txn.add_request_stream(s),
        Direction::Response => txn.add_response_stream(s),
    }
}

/// A request has a body when its framing headers say so (RFC 9112 section 6.3).
fn request_has_body(txn: &mut Txn<'_>) -> bool {
    let req = txn.request();
    let length = req.get("content-length").is_some_and(|v| v != b"0");
    length || req.get("transfer-encoding").is_some()
}

declare_plugin!(Scanner);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use plugin_sdk::testing::{FakeHost, FakeOutput};
    use plugin_sdk::StreamTransform;

    /// Shared state for `patterns` (the text of a patterns file).
    pub fn shared(patterns: &str, mode: Mode, ignore_case: bool) -> Arc<Shared> {
        let mut args = vec!["--patterns".to_string(), "test-patterns".to_string()];
        if ignore_case {
            args.push("--ignore-case".into());
        }
        let mut cfg = Config::parse(&args).expect("test config");
        cfg.mode = mode;
        let pats = patterns::parse(patterns.as_bytes(), "test-patterns", mode == Mode::Replace).expect("test patterns");
        Arc::new(Shared::new(cfg, pats).expect("test matcher"))
    }

    /// Runs a fresh transform over `body` delivered as one block, as two blocks
    /// split at every offset, and in 1-byte blocks (known length), and once with
    /// an unknown length; returns each run named.
    pub fn every_split<S: StreamTransform>(body: &[u8], make: impl Fn() -> S) -> Vec<(String, FakeOutput)> {
        let host = FakeHost::new();
        let mut runs = vec![("one block".to_string(), host.run_stream(make(), &[body]))];
        for cut in 0..=body.len() {
            runs.push((format!("split at {cut}"), host.run_stream(make(), &[&body[..cut], &body[cut..]])));
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        runs.push(("1-byte blocks".to_string(), host.run_stream(make(), &bytes)));
        runs.push(("unknown length".to_string(), FakeHost::new().unknown_length().run_stream(make(), &bytes)));
        runs
    }

    #[test]
    fn init_refuses_bad_arguments_and_patterns_with_their_place() {
        let e = Scanner::init(&["--patterns".into(), "/nonexistent/p".into()]).err().unwrap_or_default();
        assert!(e.starts_with("/nonexistent/p: cannot read"), "{e}");
        let e = Scanner::init(&["--frob".into()]).err().unwrap_or_default();
        assert!(e.contains("unknown argument \"--frob\""), "{e}");
    }
}
