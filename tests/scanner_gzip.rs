//! The working chain with a compressor: null + scanner + gzip, gzip configured with
//! `remove-accept-encoding true` so the origin sends plain bodies. The scanner sees the
//! plain text (its counts are exact), gzip compresses after it (the client decodes what
//! was sent), the origin never sees Accept-Encoding; and the scanner blocks from the
//! middle of that chain.

use e2e::gzip::{decode, gzip_line};
use e2e::plugins::ScratchDir;
use e2e::scanner::{counters, expect, start_scanner_host, Line, ScannerLine};
use e2e::trickle::{TrickleOrigin, TrickleReply};
use e2e::{null_chain, HostBuilder, RawConn};

const PATTERNS: &[u8] = b"secret\nlazy dog\n";

fn chain_lines<'a>(dir: &ScratchDir, args: &'a str) -> Vec<Line<'a>> {
    let config = dir.path().join("compress.config");
    std::fs::write(&config, "remove-accept-encoding true\nsupported-algorithms gzip\n").expect("write compress.config");
    vec![
        Line::Raw(null_chain(1, Some("response")).remove(0)),
        Line::Scanner(ScannerLine { patterns: PATTERNS, args }),
        Line::Raw(gzip_line(Some(&config))),
    ]
}

fn get_gzip(addr: std::net::SocketAddr) -> e2e::RawResponse {
    let mut conn = RawConn::connect(addr);
    conn.send(b"GET /doc HTTP/1.1\r\nHost: e2e.test\r\nAccept-Encoding: gzip\r\n\r\n").expect("send request");
    conn.read_response(false).expect("response")
}

#[test]
fn the_scanner_counts_plain_text_and_gzip_compresses_after_it() {
    let body = b"The quick brown fox jumps over the lazy dog; no secret here.\n".repeat(400);
    let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 512).header("Content-Type", "text/plain"));
    let dir = ScratchDir::new("scanner-gzip");
    let host = start_scanner_host(HostBuilder::new(origin.addr()), &chain_lines(&dir, "--mode report"));
    let resp = get_gzip(host.addr());
    assert_eq!(resp.status, 200);
    assert!(resp.complete, "{:?}", resp.body_error);
    assert_eq!(resp.header("content-encoding"), Some("gzip"), "{:?}", resp.headers);
    assert_eq!(decode("gzip", &resp.body), body, "the client decodes the text the origin sent");
    let stats = host.wait_idle();
    let want = [("matches", 800), ("skipped_encoded", 0)];
    assert_eq!(counters(&stats, 1, &["matches", "skipped_encoded"]), expect(&want));
    let received = origin.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("accept-encoding"), None, "the origin was asked for a coding: {received:?}");
}

#[test]
fn the_scanner_blocks_from_the_middle_of_the_compressing_chain() {
    let mut body = b"plain words, plain words. ".repeat(200);
    body.extend_from_slice(b"the secret is out");
    let origin = TrickleOrigin::start(TrickleReply::new(body, 97).header("Content-Type", "text/plain"));
    let dir = ScratchDir::new("scanner-gzip-block");
    let host = start_scanner_host(HostBuilder::new(origin.addr()), &chain_lines(&dir, "--mode block"));
    let resp = get_gzip(host.addr());
    assert_eq!(resp.status, 403, "{:?}", resp.headers);
    assert!(resp.complete, "{:?}", resp.body_error);
    let page = match resp.header("content-encoding") {
        Some(coding) => decode(coding, &resp.body),
        None => resp.body.clone(),
    };
    assert!(page.starts_with(b"403: blocked"), "{:?}", String::from_utf8_lossy(&page));
    let stats = host.wait_idle();
    assert_eq!(counters(&stats, 1, &["blocked"]), expect(&[("blocked", 1)]));
    assert_eq!(stats.plugins.iter().map(|p| p.faults()).collect::<Vec<_>>(), [(0, 0, 0); 3], "{stats:?}");
}
