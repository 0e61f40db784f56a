//! The scanner in report mode, end to end (real host, real `libplugin_scanner.so`, an
//! origin trickling its body so the host reads it as many blocks):
//!
//! - the body arrives byte for byte, with its Content-Length;
//! - every planted match is found exactly once, wherever the reads split it, and the
//!   per-body log line says how many;
//! - a body with a Content-Encoding other than identity, or of a type `--types` leaves
//!   out, passes unscanned.

use e2e::scanner::{counters, expect, logged_match_counts, scanner_host, wait_for_match_counts};
use e2e::trickle::{TrickleFraming, TrickleOrigin, TrickleReply};
use e2e::{assert_same_bytes, pattern, RawConn};

const PATTERNS: &[u8] = b"# report mode\nabcd\nbc\ncde\nsecret\n\\x00\\xff\n";

/// A body with `n` copies of a planted segment between pseudo-random filler bytes: each
/// segment holds abcd, bc + cde (leftmost-longest in `abccde`), secret and NUL 0xFF.
fn planted_body(n: usize) -> (Vec<u8>, u64) {
    let mut body = Vec::new();
    for i in 0..n {
        // Filler bytes above 0x7f, apart from 0xff, cannot form or extend any pattern.
        body.extend(pattern(37 + i % 11, i as u64).iter().map(|b| 0x80 | (b & 0x3f)));
        body.extend_from_slice(b"[abcd] abccde secret \x00\xff!");
    }
    (body, 5 * n as u64)
}

fn get(conn: &mut RawConn, target: &str) -> e2e::RawResponse {
    conn.send(format!("GET {target} HTTP/1.1\r\nHost: e2e.test\r\n\r\n").as_bytes()).expect("send request");
    conn.read_response(false).expect("response")
}

#[test]
fn matches_split_across_many_reads_are_counted_once_and_the_body_passes_unchanged() {
    let (body, planted) = planted_body(60);
    for framing in [TrickleFraming::Length, TrickleFraming::Chunked] {
        let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 7).framing(framing));
        let host = scanner_host(origin.addr(), PATTERNS, "");
        let mut conn = RawConn::connect(host.addr());
        let resp = get(&mut conn, "/doc");
        assert_eq!(resp.status, 200);
        assert!(resp.complete, "{framing:?}: {:?}", resp.body_error);
        assert_same_bytes(&resp.body, &body, "report mode body");
        if framing == TrickleFraming::Length {
            assert_eq!(resp.header("content-length"), Some(body.len().to_string().as_str()));
        }
        let stats = host.wait_idle();
        assert_eq!(
            wait_for_match_counts(&host, "response of GET /doc", 1),
            [planted],
            "{framing:?}; logs:\n{}",
            host.logs()
        );
        let names = ["scanned", "bytes_scanned", "matches", "bodies_matched", "blocked", "replaced"];
        let (len, n) = (body.len() as u64, planted / 5);
        let want = [("scanned", 1), ("bytes_scanned", len), ("matches", planted), ("bodies_matched", 1)];
        assert_eq!(counters(&stats, 0, &names), expect(&[&want[..], &[("blocked", 0), ("replaced", 0)]].concat()));
        // Lines 2 to 6 of the patterns file: abcd, bc, cde, secret, NUL 0xFF, once per segment each.
        let lines = [
            "pattern_line_2:abcd",
            "pattern_line_3:bc",
            "pattern_line_4:cde",
            "pattern_line_5:secret",
            "pattern_line_6:\\x00\\xff",
        ];
        assert_eq!(counters(&stats, 0, &lines), expect(&lines.map(|l| (l, n))), "{framing:?}");
        assert_eq!(stats.plugin(0).faults(), (0, 0, 0));
    }
}

#[test]
fn encoded_and_untyped_bodies_pass_unscanned() {
    let (body, _) = planted_body(5);
    let cases = [
        (TrickleReply::new(body.clone(), 100).header("Content-Encoding", "gzip"), ""),
        (TrickleReply::new(body.clone(), 100).header("Content-Type", "image/png"), "--types text/*"),
    ];
    for (reply, args) in cases {
        let origin = TrickleOrigin::start(reply);
        let host = scanner_host(origin.addr(), PATTERNS, args);
        let mut conn = RawConn::connect(host.addr());
        let resp = get(&mut conn, "/skip");
        assert!(resp.complete, "{:?}", resp.body_error);
        assert_same_bytes(&resp.body, &body, "unscanned body");
        let stats = host.wait_idle();
        assert!(logged_match_counts(&host.logs(), "response").is_empty(), "{args:?} scanned:\n{}", host.logs());
        let skipped = if args.is_empty() { "skipped_encoded" } else { "skipped_type" };
        assert_eq!(
            counters(&stats, 0, &[skipped, "scanned", "matches"]),
            expect(&[(skipped, 1), ("scanned", 0), ("matches", 0)])
        );
    }
    // The same body typed text/plain with --types text/* is scanned.
    let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 100).header("Content-Type", "text/plain"));
    let host = scanner_host(origin.addr(), PATTERNS, "--types text/*");
    let resp = get(&mut RawConn::connect(host.addr()), "/typed");
    assert_same_bytes(&resp.body, &body, "typed body");
    host.wait_idle();
    assert_eq!(wait_for_match_counts(&host, "response of GET /typed", 1), [25]);
}

#[test]
fn ignore_case_and_request_bodies() {
    let origin = e2e::Origin::start();
    let host = scanner_host(origin.addr(), b"Secret\n", "--ignore-case --on both");
    let mut conn = RawConn::connect(host.addr());
    let body = b"SECRET, secret and sEcReT";
    let head = format!("POST /echo HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: {}\r\n\r\n", body.len());
    conn.send(&[head.as_bytes(), body].concat()).expect("send request");
    let resp = conn.read_response(false).expect("response");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, body, "the echo passed both scans unchanged");
    host.wait_idle();
    assert_eq!(wait_for_match_counts(&host, "request of POST /echo", 1), [3], "{}", host.logs());
    assert_eq!(wait_for_match_counts(&host, "response of POST /echo", 1), [3], "{}", host.logs());
}

#[test]
fn concurrent_bodies_on_both_workers_count_exactly() {
    let (body, planted) = planted_body(8);
    let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 50).pause(std::time::Duration::ZERO));
    let host = scanner_host(origin.addr(), PATTERNS, "");
    let (clients, each) = (8, 25);
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                let mut conn = RawConn::connect(host.addr());
                for _ in 0..each {
                    let resp = get(&mut conn, "/many");
                    assert!(resp.complete, "{:?}", resp.body_error);
                    assert_same_bytes(&resp.body, &body, "concurrent body");
                }
            });
        }
    });
    let stats = host.wait_idle();
    let n = (clients * each) as u64;
    let want = [("scanned", n), ("matches", n * planted), ("bodies_matched", n)];
    assert_eq!(counters(&stats, 0, &["scanned", "matches", "bodies_matched"]), expect(&want));
}
