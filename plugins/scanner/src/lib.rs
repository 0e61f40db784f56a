//! The scanner: finds many literal patterns in request and response bodies as
//! they stream, matches split across any number of blocks included, and
//! reports, replaces or blocks them. Arguments: see `README.md`.
//!
//! - [`config`]: the arguments; [`patterns`]: the patterns file.
//! - [`matcher`]: the shared automaton and one body's scan state; [`skip`]: where it jumps to.
//! - [`report`], [`replace`], [`block`]: the modes; [`hold`]: block mode's decision.
//! - [`stats`] and [`log`]: counters and the per-body log line.

pub mod block;
pub mod config;
pub mod hold;
pub mod log;
pub mod matcher;
pub mod patterns;
pub mod replace;
pub mod report;
pub mod skip;
pub mod stats;

use std::sync::Arc;

use plugin_sdk::{declare_plugin, Direction, Hooks, Plugin, StreamAdapter, Txn};

pub use config::{Config, Mode};
use log::MatchLog;
use matcher::Matcher;
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
        let stats = Stats::register(&patterns, cfg.top_patterns);
        Ok(Shared { cfg, matcher, patterns, stats, same_length })
    }

    /// The replacement of pattern `index` (empty outside replace mode).
    pub(crate) fn replacement(&self, index: usize) -> &[u8] {
        self.patterns.get(index).and_then(|p| p.replacement.as_deref()).unwrap_or(&[])
    }

    /// Counts one finished (or decided) body and writes its log line.
    pub(crate) fn body_done(&self, scanned: u64, log: &MatchLog) {
        self.stats.add(Count::BytesScanned, scanned);
        if log.total() > 0 {
            self.stats.inc(Count::BodiesMatched);
            self.stats.add(Count::Matches, log.total());
            for (pattern, n) in log.per_pattern() {
                self.stats.add_pattern(pattern, n);
            }
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
        let patterns = patterns::load(&cfg.patterns, cfg.mode == Mode::Replace)?;
        let shared = Shared::new(cfg, patterns)?;
        plugin_sdk::log_info!(
            "{} patterns from {}, {} mode, automaton {} KiB shared by every transaction",
            shared.patterns.len(),
            shared.cfg.patterns,
            shared.cfg.mode.name(),
            shared.matcher.memory_usage() / 1024
        );
        Ok(Scanner { shared: Arc::new(shared) })
    }

    fn hooks(&self) -> Hooks {
        let on = &self.shared.cfg.on;
        let request = if on.request { Hooks::READ_REQUEST_HEADERS } else { Hooks::NONE };
        let response = if on.response { Hooks::READ_RESPONSE_HEADERS } else { Hooks::NONE };
        request | response
    }

    fn read_request_headers(&self, txn: &mut Txn<'_>) {
        if self.shared.cfg.on.request && txn.request_body().exists() {
            self.scan(txn, Direction::Request);
        }
    }

    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        if self.shared.cfg.on.response && txn.response_body().exists() {
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
            Mode::Report => txn.add_transform(dir, StreamAdapter::new(report::Report::new(shared, log))),
            Mode::Replace => txn.add_transform(dir, StreamAdapter::new(replace::Replace::new(shared, log))),
            Mode::Block => txn.add_transform(dir, StreamAdapter::new(block::Block::new(shared, log))),
        };
        // Refused only when it is too late for this direction: nothing to scan then.
        if added.is_ok() {
            sh.stats.inc(Count::Scanned);
        }
    }
}

declare_plugin!(Scanner);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use plugin_sdk::testing::{FakeHost, FakeOutput, FakeTxn};
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

    /// A patterns file on disk for `Scanner::init`, removed on drop.
    struct PatternsFile(std::path::PathBuf);

    impl PatternsFile {
        fn new(tag: &str, text: &str) -> PatternsFile {
            let path = std::env::temp_dir().join(format!("scanner-unit-{}-{tag}.txt", std::process::id()));
            std::fs::write(&path, text).expect("write the test patterns file");
            PatternsFile(path)
        }

        fn args(&self, more: &str) -> Vec<String> {
            let mut args = vec!["--patterns".to_string(), self.0.display().to_string()];
            args.extend(more.split_whitespace().map(String::from));
            args
        }
    }

    impl Drop for PatternsFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn init(file: &PatternsFile, more: &str) -> (Scanner, plugin_sdk::counter::Counters) {
        let args = file.args(more);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        plugin_sdk::testing::init_plugin::<Scanner>(&refs).expect("init")
    }

    fn counter(counters: &plugin_sdk::counter::Counters, name: &str) -> u64 {
        counters.values().into_iter().find(|(n, _)| n == name).map_or(u64::MAX, |(_, v)| v)
    }

    #[test]
    fn init_registers_the_counters_and_a_body_counts_in_them() {
        let file = PatternsFile::new("counters", "# c\nfox\nlazy dog\n");
        let (plugin, counters) = init(&file, "");
        let names: Vec<String> = counters.values().into_iter().map(|(n, _)| n).collect();
        assert!(names.iter().any(|n| n == "matches"), "{names:?}");
        assert!(!names.iter().any(|n| n.starts_with("pattern_line")), "no matches yet, no pattern shown: {names:?}");
        let mut txn = FakeTxn::new("GET", "/fox");
        txn.respond(200, &[("content-length", "40")]);
        txn.run_response_hooks(&plugin);
        assert_eq!(txn.transforms(Direction::Response), 1);
        let body = b"the fox and the lazy dog, the fox again.";
        let out = txn.run_response_body(&FakeHost::new(), &[&body[..7], &body[7..]]);
        assert_eq!(out.bytes, body);
        let got: Vec<u64> = ["scanned", "matches", "bodies_matched"].iter().map(|n| counter(&counters, n)).collect();
        assert_eq!(got, [1, 3, 1]);
        let shown: Vec<(String, u64)> =
            counters.values().into_iter().filter(|(n, _)| n.starts_with("pattern_line")).collect();
        let want = [("pattern_line_2:fox", 2), ("pattern_line_3:lazy dog", 1)].map(|(n, v)| (n.to_string(), v));
        assert_eq!(shown, want, "the most frequent first");
        let logs = plugin_sdk::testing::take_logs();
        assert!(logs.iter().any(|(_, l)| l.starts_with("3 match(es) in the response of GET /fox")), "{logs:?}");
    }

    #[test]
    fn hooks_skip_encoded_untyped_and_bodiless_messages() {
        let file = PatternsFile::new("skips", "x\n");
        let (plugin, counters) = init(&file, "--types text/* --on both");
        type Headers<'h> = &'h [(&'h str, &'h str)];
        let cases: [(&str, Headers<'_>, usize); 4] = [
            ("GET", &[("content-type", "text/html"), ("content-encoding", "gzip")], 0),
            ("GET", &[("content-type", "image/png")], 0),
            ("HEAD", &[("content-type", "text/html")], 0),
            ("GET", &[("content-type", "text/html"), ("content-encoding", "identity")], 1),
        ];
        for (method, headers, want) in cases {
            let mut txn = FakeTxn::new(method, "/");
            txn.run_request_hooks(&plugin);
            assert_eq!(txn.transforms(Direction::Request), 0, "no request body: nothing to scan");
            txn.respond(200, headers);
            txn.run_response_hooks(&plugin);
            assert_eq!(txn.transforms(Direction::Response), want, "{method} {headers:?}");
        }
        assert_eq!((counter(&counters, "skipped_encoded"), counter(&counters, "skipped_type")), (1, 1));
        let mut txn = FakeTxn::new("POST", "/up")
            .request_header("content-type", "text/plain")
            .request_body(plugin_sdk::Body::Length(3));
        txn.run_request_hooks(&plugin);
        assert_eq!(txn.transforms(Direction::Request), 1);
    }

    #[test]
    fn block_mode_blocks_a_request_body_before_the_origin() {
        let file = PatternsFile::new("block", "evil\n");
        let (plugin, counters) = init(&file, "--mode block --on request --block-status 451");
        let mut txn = FakeTxn::new("POST", "/up").request_body(plugin_sdk::Body::Length(11));
        txn.run_request_hooks(&plugin);
        let out = txn.run_request_body(&FakeHost::new(), &[b"so ev", b"il, no"]);
        assert_eq!(out.replaced.map(|m| m.status), Some(451));
        assert!(out.bytes.is_empty());
        assert_eq!(counter(&counters, "blocked"), 1);
    }
}
