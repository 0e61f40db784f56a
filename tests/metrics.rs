//! `GET /metrics` on the admin endpoint: every line parsed by a real Prometheus parser,
//! names and types checked against Prometheus's conventions, and the values checked to
//! move as requests, connections and reloads pass through the real host.

use std::time::{Duration, Instant};

use e2e::metrics::{convention_breaches, scrape, Scrape};
use e2e::plugins::SETTLE_TIMEOUT;
use e2e::{built_plugin, null_chain, HostBuilder, Origin, PluginHost, RawConn};

/// plugin.config: the probe (its own counters) on line 1, the null transform on line 2.
fn lines() -> Vec<String> {
    let mut lines = vec![format!("{} stamp=m", built_plugin("probe").display())];
    lines.extend(null_chain(1, None));
    lines
}

#[track_caller]
fn assert_conventions(s: &Scrape) {
    let bad = convention_breaches(s);
    assert!(bad.is_empty(), "/metrics breaks the conventions:\n{}\n\n{}", bad.join("\n"), s.text);
}

/// Scrapes until `done` holds (the counters of a transaction land a moment after its
/// response reached the client); panics with the last document after [`SETTLE_TIMEOUT`].
#[track_caller]
fn scrape_until(host: &PluginHost, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let s = scrape(host.admin());
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "after {SETTLE_TIMEOUT:?} /metrics still says:\n{}", s.text);
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn txns(s: &Scrape, class: &str) -> f64 {
    s.value("plugin_host_transactions_total", &[("class", class)])
}

fn plugin(s: &Scrape, name: &str, plugin: &str, line: &str) -> f64 {
    s.value(name, &[("plugin", plugin), ("line", line)])
}

#[test]
fn metrics_parse_follow_the_conventions_and_move_as_requests_pass() {
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines());
    let before = scrape(host.admin());
    assert!(before.content_type.starts_with("text/plain; version=0.0.4"), "{:?}", before.content_type);
    assert_conventions(&before);
    assert_eq!(txns(&before, "2xx"), 0.0);
    assert_eq!(before.value("plugin_host_generation", &[]), 1.0);

    // Five 200s and two 404s on one keep-alive connection, so the origin connection is pooled.
    let mut conn = RawConn::connect(host.addr());
    for i in 0..7 {
        let target = if i < 5 { format!("/bytes?n=1000&seed={i}") } else { "/status/404".to_string() };
        conn.send(format!("GET {target} HTTP/1.1\r\nHost: m\r\n\r\n").as_bytes()).expect("send");
        let resp = conn.read_response(false).expect("a response");
        assert_eq!(resp.status, if i < 5 { 200 } else { 404 });
        assert_eq!(resp.header("x-probe-stamp"), Some("m"), "the probe ran");
    }
    // While the client connection is open, the gauges see it and the pooled origin connection.
    let open = scrape_until(&host, |s| txns(s, "4xx") == 2.0);
    assert!(open.value("plugin_host_client_connections", &[]) >= 1.0, "{}", open.text);
    assert!(open.value("plugin_host_origin_connections", &[]) >= 1.0, "{}", open.text);
    // A request the proxy refuses itself (bad framing): a 4xx that never reaches a plugin.
    let mut bad = RawConn::connect(host.addr());
    bad.send(b"GET / HTTP/1.1\r\nHost: m\r\nContent-Length: x\r\n\r\n").expect("send");
    assert_eq!(bad.read_response(false).expect("a response").status, 400);
    drop((conn, bad));

    let after = scrape_until(&host, |s| txns(s, "4xx") == 3.0 && s.value("plugin_host_client_connections", &[]) == 0.0);
    assert_conventions(&after);
    assert_eq!(txns(&after, "2xx"), 5.0, "{}", after.text);
    assert_eq!(txns(&after, "5xx") + txns(&after, "none"), 0.0, "{}", after.text);
    let received = after.value("plugin_host_client_received_bytes_total", &[]);
    let sent = after.value("plugin_host_client_sent_bytes_total", &[]);
    assert!(received > 8.0 * 20.0, "eight request heads: {received}");
    assert!(sent > 5000.0, "five 1000-byte bodies and their heads: {sent}");
    let opened = after.value("plugin_host_origin_connections_opened_total", &[]);
    let reused = after.value("plugin_host_origin_connections_reused_total", &[]);
    assert_eq!(opened + reused, 7.0, "each request that reached the origin took one connection:\n{}", after.text);
    assert!(reused >= 1.0, "sequential requests on one client connection reuse the pooled one: {reused}");
    // The histogram observed the seven transactions that started (the refused one did not).
    let count = after.value("plugin_host_transaction_duration_seconds_count", &[]);
    assert_eq!(count, 7.0, "{}", after.text);
    let inf = after.value("plugin_host_transaction_duration_seconds_bucket", &[("le", "+Inf")]);
    assert_eq!(inf, count);

    let probe = "plugin-probe";
    assert_eq!(plugin(&after, "plugin_host_plugin_transactions_total", probe, "1"), 7.0, "{}", after.text);
    assert_eq!(plugin(&after, "plugin_host_plugin_transactions_total", "plugin-null", "2"), 7.0);
    let null_in = plugin(&after, "plugin_host_plugin_received_bytes_total", "plugin-null", "2");
    let null_out = plugin(&after, "plugin_host_plugin_sent_bytes_total", "plugin-null", "2");
    assert!(
        null_in >= 5000.0 && null_in == null_out,
        "the null transform passed every body byte: {null_in} {null_out}"
    );
    for fault in ["aborts", "panics", "protocol_errors"] {
        assert_eq!(plugin(&after, &format!("plugin_host_plugin_{fault}_total"), probe, "1"), 0.0);
    }
    let requests = [("plugin", probe), ("line", "1"), ("counter", "requests")];
    assert_eq!(after.value("plugin_host_plugin_counter_total", &requests), 7.0, "the probe's own counter");
}

#[test]
fn reloads_and_the_generation_move_and_a_failed_reload_is_counted() {
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines());
    let reload = |expect: u16| {
        let mut conn = RawConn::connect(host.admin());
        conn.send(b"POST /reload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").expect("send");
        let resp = conn.read_response(false).expect("a reload answer");
        assert_eq!(resp.status, expect, "{}", String::from_utf8_lossy(&resp.body));
    };
    reload(200);
    std::fs::write(host.config(), "/nonexistent/libnothing.so\n").expect("break plugin.config");
    reload(409);
    let s = scrape(host.admin());
    assert_conventions(&s);
    assert_eq!(s.value("plugin_host_reloads_total", &[("outcome", "succeeded")]), 1.0, "{}", s.text);
    assert_eq!(s.value("plugin_host_reloads_total", &[("outcome", "failed")]), 1.0);
    assert_eq!(s.value("plugin_host_generation", &[]), 2.0, "the failed reload changed nothing");
    // The per-plugin series are the current generation's: the reload started them afresh.
    assert_eq!(plugin(&s, "plugin_host_plugin_transactions_total", "plugin-probe", "1"), 0.0);
    let generations = scrape_until(&host, |s| s.value("plugin_host_generations_live", &[]) == 1.0);
    assert_eq!(generations.value("plugin_host_plugin_images", &[]), 2.0, "{}", generations.text);
}

#[test]
fn a_plugin_panic_moves_its_panic_and_abort_counters_and_the_5xx_class() {
    let origin = Origin::start();
    let lines = [format!("{} panic-data once", built_plugin("faulty").display())];
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines);
    let mut statuses = Vec::new();
    for seed in 0..2 {
        let mut conn = RawConn::connect(host.addr());
        conn.send(format!("GET /bytes?n=5000&seed={seed} HTTP/1.1\r\nHost: m\r\n\r\n").as_bytes()).expect("send");
        statuses.push(conn.read_response(false).expect("a response").status);
    }
    // The first body panics the plugin before the head left (a 500); the second passes.
    assert_eq!(statuses, [500, 200]);
    let s = scrape_until(&host, |s| txns(s, "5xx") + txns(s, "2xx") == 2.0);
    assert_conventions(&s);
    assert_eq!((txns(&s, "5xx"), txns(&s, "2xx")), (1.0, 1.0), "{}", s.text);
    let faulty = "plugin-faulty";
    assert_eq!(plugin(&s, "plugin_host_plugin_panics_total", faulty, "1"), 1.0, "{}", s.text);
    assert_eq!(plugin(&s, "plugin_host_plugin_aborts_total", faulty, "1"), 1.0, "{}", s.text);
    assert_eq!(plugin(&s, "plugin_host_plugin_transactions_total", faulty, "1"), 2.0);
}
