//! The hooks through the SDK's fake transaction: the verdict kept from the request hook
//! to the response hook, the head rewritten, the transform added and run, the counters.

use plugin_sdk::testing::{init_plugin, take_logs, FakeHost, FakeTxn};
use plugin_sdk::Direction;

use super::*;
use crate::negotiate::Coding;

/// The plugin with a config file holding `text`.
fn plugin_with(text: &str) -> (GzipPlugin, plugin_sdk::counter::Counters) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("plugin-gzip-unit-{}-{n}.config", std::process::id()));
    std::fs::write(&path, text).expect("write config");
    let args = [path.to_str().expect("utf-8 temp path")];
    let out = init_plugin::<GzipPlugin>(&args).expect("valid config");
    let _ = std::fs::remove_file(&path);
    out
}

fn body(n: usize) -> Vec<u8> {
    b"<li>a line of a listing, compressible</li>\n".iter().copied().cycle().take(n).collect()
}

fn counter(counters: &plugin_sdk::counter::Counters, name: &str) -> u64 {
    counters.values().into_iter().find(|(n, _)| n == name).map_or_else(|| panic!("no counter {name}"), |(_, v)| v)
}

#[test]
fn arguments_are_zero_or_one_config_file() {
    let (plugin, _) = init_plugin::<GzipPlugin>(&[]).expect("no file: defaults");
    assert_eq!(plugin.config, Config::default());
    let err = init_plugin::<GzipPlugin>(&["a", "b"]).err().expect("two args refused");
    assert!(err.contains("at most one argument"), "{err}");
    let err = init_plugin::<GzipPlugin>(&["/nonexistent.config"]).err().expect("missing file refused");
    assert!(err.contains("/nonexistent.config: cannot read"), "{err}");
}

#[test]
fn every_counter_is_registered_at_init() {
    let (_, counters) = init_plugin::<GzipPlugin>(&[]).expect("init");
    let names: Vec<String> = counters.values().into_iter().map(|(n, _)| n).collect();
    for name in [
        "compressed_gzip",
        "compressed_br",
        "compressed_zstd",
        "compressed_deflate",
        "skipped_type",
        "skipped_size",
        "skipped_status",
        "skipped_encoded",
        "skipped_no_transform",
        "skipped_range",
        "skipped_not_accepted",
        "skipped_disabled",
        "bytes_in",
        "bytes_out",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
    }
}

#[test]
fn a_transaction_is_negotiated_rewritten_and_compressed() {
    let (plugin, counters) = plugin_with("supported-algorithms br,gzip\nremove-accept-encoding true\n");
    let mut txn = FakeTxn::new("GET", "/page").request_header("Accept-Encoding", "gzip, br;q=0.5");
    txn.run_request_hooks(&plugin);
    assert_eq!(txn.request_value("accept-encoding"), None, "the origin will not see it");
    txn.respond(200, &[("Content-Type", "text/html"), ("Content-Length", "5000"), ("ETag", "\"a\"")]);
    txn.run_response_hooks(&plugin);
    assert_eq!(txn.response_header("content-encoding").as_deref(), Some("gzip"), "{:?}", txn.response_headers());
    assert_eq!(txn.response_header("content-length"), None);
    assert_eq!(txn.response_header("etag").as_deref(), Some("W/\"a\""));
    assert_eq!(txn.transforms(Direction::Response), 1);
    let input = body(5000);
    let chunks: Vec<&[u8]> = input.chunks(700).collect();
    let out = txn.run_response_body(&FakeHost::new().water_mark(1024), &chunks);
    assert!(out.errors.is_empty() && out.complete, "{out:?}");
    assert_eq!(crate::encoder::tests::decode(Coding::Gzip, &out.bytes), input);
    assert_eq!(counter(&counters, "compressed_gzip"), 1);
    assert_eq!(counter(&counters, "bytes_in"), 5000);
    assert_eq!(counter(&counters, "bytes_out"), out.bytes.len() as u64);
}

#[test]
fn head_gets_the_get_head_and_no_transform() {
    let (plugin, counters) = init_plugin::<GzipPlugin>(&[]).expect("init");
    let mut txn = FakeTxn::new("HEAD", "/").request_header("Accept-Encoding", "gzip");
    txn.run_request_hooks(&plugin);
    txn.respond(200, &[("Content-Type", "text/css"), ("Content-Length", "5000")]);
    txn.run_response_hooks(&plugin);
    assert_eq!(txn.response_header("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(txn.response_header("content-length"), None);
    assert_eq!(txn.transforms(Direction::Response), 0);
    assert_eq!(txn.failed(), None);
    assert_eq!(counter(&counters, "compressed_gzip"), 1);
}

/// Accept-Encoding, status, response fields, the counter that must move.
type Case = (&'static str, u16, &'static [(&'static str, &'static str)], &'static str);

#[test]
fn skips_are_counted_by_reason() {
    let (plugin, counters) = init_plugin::<GzipPlugin>(&[]).expect("init");
    let cases: [Case; 4] = [
        ("gzip", 200, &[("Content-Type", "image/png")], "skipped_type"),
        ("gzip", 500, &[("Content-Type", "text/html")], "skipped_status"),
        ("br", 200, &[("Content-Type", "text/html")], "skipped_not_accepted"),
        ("gzip", 200, &[("Content-Type", "text/html"), ("Content-Length", "10")], "skipped_size"),
    ];
    for (accept, status, headers, name) in cases {
        let mut txn = FakeTxn::new("GET", "/").request_header("Accept-Encoding", accept);
        txn.run_request_hooks(&plugin);
        txn.respond(status, headers);
        txn.run_response_hooks(&plugin);
        assert_eq!(txn.response_header("content-encoding"), None);
        assert_eq!(txn.transforms(Direction::Response), 0);
        assert_eq!(counter(&counters, name), 1, "{name}");
    }
}

#[test]
fn without_the_request_hook_nothing_is_compressed() {
    let (plugin, counters) = init_plugin::<GzipPlugin>(&[]).expect("init");
    let mut txn = FakeTxn::new("GET", "/").request_header("Accept-Encoding", "gzip");
    txn.respond(200, &[("Content-Type", "text/html")]);
    txn.run_response_hooks(&plugin);
    assert_eq!(txn.response_header("content-encoding"), None);
    assert_eq!(counter(&counters, "skipped_disabled"), 1);
}

#[test]
fn the_ignored_cache_key_is_logged() {
    take_logs();
    let _ = plugin_with("cache true\n");
    let logs = take_logs();
    assert!(logs.iter().any(|(_, line)| line.contains(":1: `cache` is ignored")), "{logs:?}");
}

#[test]
fn the_host_section_comes_from_an_absolute_target_or_the_host_field() {
    let (plugin, _) = plugin_with("enabled false\n[on.test]\nenabled true\n");
    for (url, host, compressed) in [
        ("/x", "on.test", true),
        ("/x", "ON.TEST:8080", true),
        ("/x", "off.test", false),
        ("http://on.test/x", "off.test", true),
        ("http://user@on.test:81?q", "off.test", true),
        ("http://off.test/x", "on.test", false),
    ] {
        let mut txn = FakeTxn::new("GET", url).request_header("Host", host).request_header("Accept-Encoding", "gzip");
        txn.run_request_hooks(&plugin);
        txn.respond(200, &[("Content-Type", "text/html")]);
        txn.run_response_hooks(&plugin);
        assert_eq!(txn.response_header("content-encoding").is_some(), compressed, "{url} Host: {host}");
    }
}
