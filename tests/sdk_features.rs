//! What SDK 1.2 gives plugin authors, through the real host and a real `.so`
//! (`plugins/probe`): per-transaction state seen by every hook, the plugin's
//! own counters in `/stats`, log lines carrying the plugin's name, a response
//! held to its end and replaced by a 403, the same on a request body (the
//! origin sees nothing), the chains' water mark set by `--buffer-bytes`,
//! and (SDK 1.3) only the hooks a plugin asks for being called.

use e2e::plugins::SETTLE_TIMEOUT;
use e2e::{assert_same_bytes, built_plugin, pattern, HostBuilder, Origin, PluginHost, RawConn, RawResponse};

fn probe(args: &str) -> Vec<String> {
    vec![format!("{} {args}", built_plugin("probe").display())]
}

/// One request on a fresh connection; the response read to its end.
fn exchange(host: &PluginHost, request: &[u8]) -> RawResponse {
    let mut conn = RawConn::connect(host.addr());
    conn.send(request).expect("send the request");
    conn.read_response(false).expect("a response")
}

fn post(target: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!("POST {target} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    req.extend_from_slice(body);
    req
}

#[test]
fn state_set_in_the_request_hook_reaches_the_response_hook_and_counters_and_logs_show_it() {
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &probe("remember"));
    for i in 0..3 {
        let target = format!("/bytes?n=100&seed={i}");
        let resp = exchange(&host, format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("x-probe-request"), Some(format!("GET {target}").as_str()), "{resp:?}");
    }
    let line = host.wait_for_log(SETTLE_TIMEOUT, |l| l.contains("probe saw GET /bytes?n=100&seed=2"));
    let line = line.unwrap_or_else(|| panic!("no log line from the plugin; logs:\n{}", host.logs()));
    assert!(line.contains("INFO") && line.contains("plugin=plugin-probe"), "the host names the plugin: {line}");
    let stats = host.wait_idle();
    let counters = &stats.plugin(0).counters;
    assert_eq!(counters.get("requests"), Some(&3), "{stats:?}");
    assert_eq!(counters.get("remembered"), Some(&3), "{stats:?}");
    assert_eq!(counters.get("blocked"), Some(&0), "{stats:?}");
}

#[test]
fn the_host_calls_only_the_hooks_a_plugin_asks_for() {
    let origin = Origin::start();
    let so = built_plugin("probe").display().to_string();
    let lines = [so.clone(), format!("{so} hooks=read-request,read-response"), format!("{so} hooks=close")];
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines);
    for i in 0..3 {
        let resp = exchange(&host, format!("GET /bytes?n=10&seed={i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(resp.status, 200);
    }
    let stats = host.wait_idle();
    let calls = |i: usize| {
        let c = &stats.plugin(i).counters;
        ["requests", "sent", "closed"].map(|name| c.get(name).copied())
    };
    // Every hook by default; two of them; only txn_close.
    assert_eq!(calls(0), [Some(3), Some(3), Some(3)], "{stats:?}");
    assert_eq!(calls(1), [Some(3), Some(0), Some(0)], "{stats:?}");
    assert_eq!(calls(2), [Some(0), Some(0), Some(3)], "{stats:?}");
}

#[test]
fn a_held_response_is_replaced_by_a_403_only_when_its_body_matches() {
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &probe("block=NEEDLE"));
    // The word at the very end of a 1 MiB body: the head must have waited for all of it.
    let mut body = pattern(1 << 20, 3);
    body.extend_from_slice(b"NEEDLE");
    let blocked = exchange(&host, &post("/echo", &body));
    assert_eq!(blocked.status, 403, "{:?}", blocked.headers);
    assert_eq!(blocked.body, b"blocked by probe\n");
    assert_eq!(blocked.header("content-length"), Some("17"));
    assert_eq!(blocked.header("content-type"), Some("text/plain"));

    // No match: the original, byte for byte, with its exact length.
    let clean = pattern(300_000, 4);
    let passed = exchange(&host, &post("/echo", &clean));
    assert_eq!(passed.status, 200);
    assert_eq!(passed.header("content-length"), Some("300000"), "{:?}", passed.headers);
    assert_same_bytes(&passed.body, &clean, "an unmatched held body");

    // The connection stays usable after a replaced response whose body was read whole.
    let mut conn = RawConn::connect(host.addr());
    for (i, payload) in [&b"a NEEDLE here"[..], &b"nothing"[..], &b"NEEDLE"[..]].iter().enumerate() {
        conn.send(&post("/echo", payload)).expect("send");
        let resp = conn.read_response(false).expect("a response");
        let want = if payload.windows(6).any(|w| w == b"NEEDLE") { 403 } else { 200 };
        assert_eq!(resp.status, want, "request {i} on one keep-alive connection");
    }
    let stats = host.wait_idle();
    let p = stats.plugin(0);
    assert_eq!((p.counters.get("blocked"), p.counters.get("passed")), (Some(&3), Some(&2)), "{stats:?}");
    assert_eq!(p.faults(), (0, 0, 0), "a replacement is not a fault: {stats:?}");
}

#[test]
fn a_held_request_body_that_matches_is_answered_by_the_plugin_and_never_reaches_the_origin() {
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &probe("block-request=NEEDLE"));
    let mut body = pattern(200_000, 5);
    body.extend_from_slice(b"..NEEDLE..");
    let blocked = exchange(&host, &post("/echo", &body));
    assert_eq!(blocked.status, 403);
    assert_eq!(blocked.body, b"blocked by probe\n");
    assert!(origin.requests().is_empty(), "the origin saw {:?}", origin.requests());

    let clean = pattern(200_000, 6);
    let passed = exchange(&host, &post("/echo", &clean));
    assert_eq!(passed.status, 200);
    assert_same_bytes(&passed.body, &clean, "an unmatched request body, echoed");
    let requests = origin.requests();
    assert_eq!(requests.len(), 1, "only the clean request reached the origin");
    assert_eq!(passed.header("x-req-len"), Some("200000"), "the origin got the whole body");
    let stats = host.wait_idle();
    assert_eq!(stats.plugin(0).counters.get("blocked"), Some(&1), "{stats:?}");
}

#[test]
fn buffer_bytes_sets_the_water_mark_of_every_chain() {
    let origin = Origin::start();
    let builder = HostBuilder::new(origin.addr()).opt("--buffer-bytes", 40_000);
    let host = PluginHost::start(builder, &probe("stamp=x"));
    let stats = host.stats();
    assert_eq!(stats.chain_water_mark, 40_000, "{stats:?}");
    let resp = exchange(&host, b"GET /bytes?n=10 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.header("x-probe-stamp"), Some("x"));
}

#[test]
fn the_easy_layer_null_plugin_serves_bodies_byte_exact_with_their_length() {
    let origin = Origin::start();
    let line = built_plugin("null_stream").display().to_string();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &[line]);
    for n in [0usize, 1, 65_536, 1 << 20] {
        let resp = exchange(&host, format!("GET /bytes?n={n}&seed=9 HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-length"), Some(n.to_string().as_str()), "{:?}", resp.headers);
        assert_same_bytes(&resp.body, &pattern(n, 9), "through null-stream");
    }
    let stats = host.wait_idle();
    let p = stats.plugin(0);
    assert_eq!((p.name.as_str(), p.transactions), ("plugin-null-stream", 4));
    assert_eq!(p.bytes_in, p.bytes_out);
}
