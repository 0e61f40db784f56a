//! The repository's own `plugin.config` loads the scanner in report mode with
//! `scanner.patterns` beside it (what the README's run command shows): the file's lines,
//! with `target/release/` pointed at the plugins under test and the files beside it
//! (`scanner.patterns`, `compress.config`) made absolute, start a host that passes bodies unchanged and counts the sample patterns.

use e2e::plugins::{built_plugin, workspace_dir};
use e2e::scanner::{counters, expect, wait_for_match_counts};
use e2e::trickle::{TrickleOrigin, TrickleReply};
use e2e::{HostBuilder, PluginHost, RawConn};

/// The repository's plugin.config lines, rewritten to run from the test's folders.
fn default_config_lines() -> Vec<String> {
    let root = workspace_dir();
    let text = std::fs::read_to_string(root.join("plugin.config")).expect("read the repository's plugin.config");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (path, args) = line.split_once(' ').unwrap_or((line, ""));
            let name = path
                .strip_prefix("target/release/libplugin_")
                .and_then(|n| n.strip_suffix(".so"))
                .unwrap_or_else(|| panic!("plugin.config line {line:?} is not target/release/libplugin_NAME.so"));
            // Files named beside plugin.config (scanner.patterns, compress.config) are
            // found from the working directory: point them at the repository's copies.
            let args: Vec<String> = args
                .split_whitespace()
                .map(|a| if root.join(a).is_file() { root.join(a).display().to_string() } else { a.to_string() })
                .collect();
            let args = args.join(" ");
            format!("{} {args}", built_plugin(name).display())
        })
        .collect()
}

#[test]
fn the_default_config_reports_the_sample_patterns() {
    let lines = default_config_lines();
    assert!(
        lines.iter().any(|l| l.contains("libplugin_scanner.so") && l.contains("--mode report")),
        "the default plugin.config has no scanner line in report mode: {lines:?}"
    );
    let body = b"The quick brown fox jumps over the lazy dog.\n".repeat(500);
    let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 999));
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines);
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"GET /large.txt HTTP/1.1\r\nHost: e2e.test\r\n\r\n").expect("send request");
    let resp = conn.read_response(false).expect("response");
    assert!(resp.complete, "{:?}", resp.body_error);
    assert_eq!(resp.body, body);
    let stats = host.wait_idle();
    // "fox" and "lazy dog" on each of the 500 lines.
    assert_eq!(wait_for_match_counts(&host, "response of GET /large.txt", 1), [1000], "{}", host.logs());
    let scanner = stats.plugins.iter().position(|p| p.name == "plugin-scanner").expect("the scanner in /stats");
    assert_eq!(
        counters(&stats, scanner, &["matches", "bodies_matched"]),
        expect(&[("matches", 1000), ("bodies_matched", 1)])
    );
}
