//! The scanner's per-pattern counters, end to end: of 150 patterns, `/stats` and
//! `/metrics` show the most frequent ones (`--top-patterns`, default 20), largest
//! first, ties by line, with exact counts, while the total counts every match.

use e2e::metrics::scrape;
use e2e::scanner::{counters, expect, scanner_host};
use e2e::trickle::{TrickleOrigin, TrickleReply};
use e2e::RawConn;

/// Line `n` of the patterns file is `needle{n:03}!`: equal lengths, none inside another.
fn patterns() -> Vec<u8> {
    (1..=150).map(|n| format!("needle{n:03}!\n")).collect::<String>().into_bytes()
}

/// Matches planted per line: lines 120 to 125 at different frequencies (121 and 125 tie),
/// and lines 1 to 30 once each, so a top 20 has to cut among equals.
fn planted() -> Vec<(usize, u64)> {
    let mut plan = vec![(120, 7), (121, 3), (122, 9), (123, 2), (124, 5), (125, 3)];
    plan.extend((1..=30).map(|n| (n, 1)));
    plan
}

/// The planted matches interleaved (round robin over the lines), between filler.
fn body() -> Vec<u8> {
    let mut left = planted();
    let mut body = Vec::new();
    while left.iter().any(|&(_, n)| n > 0) {
        for (line, n) in left.iter_mut().filter(|(_, n)| *n > 0) {
            body.extend_from_slice(format!("..needle{line:03}!.").as_bytes());
            *n -= 1;
        }
    }
    body
}

fn fetch(host: &e2e::scanner::ScannerHost, want: &[u8]) {
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"GET /top HTTP/1.1\r\nHost: e2e.test\r\n\r\n").expect("send request");
    let resp = conn.read_response(false).expect("response");
    assert!(resp.complete, "{:?}", resp.body_error);
    assert_eq!(resp.body, want, "report mode passes the body unchanged");
}

/// The counter name of pattern line `n`.
fn name(n: usize) -> String {
    format!("pattern_line_{n}:needle{n:03}!")
}

/// The per-pattern counters in `/stats`, by name (`/stats` is a JSON object: no order).
fn pattern_counters(stats: &e2e::admin::Stats) -> Vec<(String, u64)> {
    let c = &stats.plugin(0).counters;
    c.iter().filter(|(n, _)| n.starts_with("pattern_line_")).map(|(n, v)| (n.clone(), *v)).collect()
}

fn sorted(pairs: &[(String, u64)]) -> Vec<(String, u64)> {
    let mut v = pairs.to_vec();
    v.sort();
    v
}

#[test]
fn the_most_frequent_patterns_are_shown_in_order_with_exact_counts() {
    let body = body();
    let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 61));
    let host = scanner_host(origin.addr(), &patterns(), "");
    let bodies = 2;
    for _ in 0..bodies {
        fetch(&host, &body);
    }
    let stats = host.wait_idle();
    let total: u64 = planted().iter().map(|(_, n)| n).sum::<u64>() * bodies;
    assert_eq!(
        counters(&stats, 0, &["matches", "bodies_matched"]),
        expect(&[("matches", total), ("bodies_matched", 2)])
    );

    // Largest first; 121 before 125 (a tie: the earlier line); then 14 of the 30 lines
    // matched once, the earliest lines first.
    let ranked = [(122, 9), (120, 7), (124, 5), (121, 3), (125, 3), (123, 2)];
    let mut want: Vec<(String, u64)> = ranked.iter().map(|&(n, v)| (name(n), v * bodies)).collect();
    want.extend((1..=14).map(|n| (name(n), bodies)));
    assert_eq!(pattern_counters(&stats), sorted(&want), "/stats shows exactly the top 20 with their counts");

    // /metrics lists the plugin's counters in the order the plugin gave them: ranked.
    let scrape = scrape(host.admin());
    let ranked: Vec<(String, u64)> = scrape
        .samples()
        .filter(|s| s.name == "plugin_host_plugin_counter_total")
        .filter_map(|s| {
            s.labels.get("counter").filter(|c| c.starts_with("pattern_line_")).map(|c| (c.clone(), s.value as u64))
        })
        .collect();
    assert_eq!(ranked, want, "/metrics:\n{}", scrape.text);
}

#[test]
fn top_patterns_limits_the_list_and_zero_shows_none() {
    let body = body();
    let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 500));
    for (args, shown) in
        [("--top-patterns 3", vec![(name(122), 9), (name(120), 7), (name(124), 5)]), ("--top-patterns 0", vec![])]
    {
        let host = scanner_host(origin.addr(), &patterns(), args);
        fetch(&host, &body);
        let stats = host.wait_idle();
        assert_eq!(pattern_counters(&stats), sorted(&shown), "{args}");
        assert_eq!(
            counters(&stats, 0, &["matches"]),
            expect(&[("matches", 59)]),
            "{args}: the total counts every match"
        );
    }
}
