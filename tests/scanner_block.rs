//! The scanner in block mode, end to end (real host, real `.so`):
//!
//! - a response whose body matches, within `--max-hold`, is replaced by the block status
//!   with a short body; one that does not goes out byte for byte with its exact length
//!   (a Content-Length even from a chunked origin, since it was held whole), to HTTP/1.0
//!   and HTTP/1.1 clients;
//! - a match past `--max-hold` (the head already gone) closes the connection: the body
//!   the client got is cut and never passes for complete;
//! - a request whose body matches is answered with the block status and the origin never
//!   receives it; a clean request reaches the origin;
//! - blocking works from the middle of a chain (null + scanner + null);
//! - an origin connection whose body a block cut short is not reused; one read whole is.

use e2e::scanner::{counters, expect, start_scanner_host, Line, ScannerHost, ScannerLine};
use e2e::trickle::{TrickleFraming, TrickleOrigin, TrickleReply};
use e2e::{assert_same_bytes, null_chain, pattern, HostBuilder, RawConn, RawResponse};

const PATTERNS: &[u8] = b"# block these\nforbidden\n\\x00\\xffEVIL\n";

/// Filler that cannot form a pattern (bytes 0x80..0xbf), `n` long.
fn filler(n: usize, seed: u64) -> Vec<u8> {
    pattern(n, seed).iter().map(|b| 0x80 | (b & 0x3f)).collect()
}

fn host_with(origin: std::net::SocketAddr, lines: &[Line<'_>]) -> ScannerHost {
    start_scanner_host(HostBuilder::new(origin), lines)
}

fn block_line(args: &str) -> Line<'_> {
    Line::Scanner(ScannerLine { patterns: PATTERNS, args })
}

fn get(host: &ScannerHost, target: &str) -> RawResponse {
    let mut conn = RawConn::connect(host.addr());
    conn.send(format!("GET {target} HTTP/1.1\r\nHost: e2e.test\r\n\r\n").as_bytes()).expect("send request");
    conn.read_response(false).expect("response")
}

#[test]
fn a_matching_response_is_blocked_and_a_clean_one_goes_out_whole() {
    let mut bad = filler(20_000, 1);
    bad.splice(15_000..15_000, b"forbidden".iter().copied());
    let clean = filler(20_000, 2);
    for framing in [TrickleFraming::Length, TrickleFraming::Chunked] {
        for (body, blocked) in [(&bad, true), (&clean, false)] {
            let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 97).framing(framing));
            let host = host_with(origin.addr(), &[block_line("--mode block --block-status 451")]);
            let resp = get(&host, "/page");
            let what = format!("{framing:?}, blocked {blocked}");
            assert!(resp.complete, "{what}: {:?}", resp.body_error);
            if blocked {
                assert_eq!(resp.status, 451, "{what}");
                assert!(resp.body.starts_with(b"451: blocked"), "{what}: {:?}", String::from_utf8_lossy(&resp.body));
                assert_eq!(resp.header("content-length"), Some(resp.body.len().to_string().as_str()), "{what}");
            } else {
                assert_eq!(resp.status, 200, "{what}");
                assert_same_bytes(&resp.body, body, &what);
                assert_eq!(resp.header("content-length"), Some("20000"), "{what}: held whole, exact length");
            }
            let stats = host.wait_idle();
            let want = [("scanned", 1), ("blocked", u64::from(blocked)), ("aborted", 0)];
            assert_eq!(counters(&stats, 0, &["scanned", "blocked", "aborted"]), expect(&want), "{what}");
            assert_eq!(stats.plugin(0).faults().1, 0, "{what}: no panic");
        }
    }
}

#[test]
fn a_match_past_max_hold_closes_the_connection() {
    let mut body = filler(256 * 1024, 3);
    body.splice(200_000..200_000, b"\x00\xffEVIL".iter().copied());
    let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 4096));
    let host = host_with(origin.addr(), &[block_line("--mode block --max-hold 16384")]);
    let resp = get(&host, "/late");
    assert_eq!(resp.status, 200, "released before the match: the head had gone");
    assert!(!resp.complete, "a cut body passed off as complete: {} of {} bytes", resp.body.len(), body.len());
    assert!(resp.body.len() < body.len());
    assert_same_bytes(&resp.body, &body[..resp.body.len()], "the bytes before the cut");
    let stats = host.wait_idle();
    assert_eq!(counters(&stats, 0, &["aborted", "blocked"]), expect(&[("aborted", 1), ("blocked", 0)]));
    // Aborting its output is the plugin giving up on purpose: an abort, not a broken rule.
    assert_eq!(stats.plugin(0).faults(), (1, 0, 0), "{stats:?}");
    // The same body under the limit is blocked instead.
    let host = host_with(origin.addr(), &[block_line("--mode block --max-hold 1048576")]);
    assert_eq!(get(&host, "/late").status, 403);
}

#[test]
fn a_matching_request_never_reaches_the_origin() {
    let origin = TrickleOrigin::start(TrickleReply::new(b"stored\n".to_vec(), 100));
    let host = host_with(origin.addr(), &[block_line("--mode block --on request")]);
    let post = |body: &[u8]| {
        let mut conn = RawConn::connect(host.addr());
        let head = format!("POST /upload HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: {}\r\n\r\n", body.len());
        conn.send(&[head.as_bytes(), body].concat()).expect("send request");
        conn.read_response(false).expect("response")
    };
    let mut bad = filler(50_000, 4);
    bad.splice(49_000..49_000, b"forbidden".iter().copied());
    let resp = post(&bad);
    assert_eq!(resp.status, 403);
    assert!(resp.complete, "{:?}", resp.body_error);
    host.wait_idle();
    assert!(origin.received().is_empty(), "the origin saw a blocked request: {:?}", origin.received());
    // A clean body goes through, whole.
    let resp = post(&filler(50_000, 5));
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"stored\n"[..]));
    let received = origin.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!((received[0].method.as_str(), received[0].body_len), ("POST", 50_000));
    let stats = host.wait_idle();
    assert_eq!(counters(&stats, 0, &["scanned", "blocked"]), expect(&[("scanned", 2), ("blocked", 1)]));
}

#[test]
fn blocking_from_the_middle_of_a_chain() {
    let mut bad = filler(9_000, 6);
    bad.splice(4_000..4_000, b"forbidden".iter().copied());
    let origin = TrickleOrigin::start(TrickleReply::new(bad, 13));
    let null = null_chain(1, None).remove(0);
    let host = host_with(origin.addr(), &[Line::Raw(null.clone()), block_line("--mode block"), Line::Raw(null)]);
    let resp = get(&host, "/mid");
    assert_eq!(resp.status, 403);
    assert!(resp.complete, "{:?}", resp.body_error);
    let stats = host.wait_idle();
    assert_eq!(counters(&stats, 1, &["blocked"]), expect(&[("blocked", 1)]));
    assert_eq!(stats.plugins.iter().map(|p| p.faults()).collect::<Vec<_>>(), [(0, 0, 0); 3], "{stats:?}");
}

/// `bytes` as a patterns-file line of `\xNN` escapes.
fn escaped(bytes: &[u8]) -> Vec<u8> {
    let mut line: Vec<u8> = bytes.iter().flat_map(|b| format!("\\x{b:02x}").into_bytes()).collect();
    line.push(b'\n');
    line
}

#[test]
fn an_origin_connection_cut_short_by_a_block_is_not_reused() {
    // A 16-byte slice of the origin's /bytes body (seed 7) as a binary pattern.
    let big = pattern(4 << 20, 7);
    let patterns = escaped(&big[1000..1016]);
    let origin = e2e::Origin::start();
    let host = host_with(origin.addr(), &[Line::Scanner(ScannerLine { patterns: &patterns, args: "--mode block" })]);
    let mut conn = RawConn::connect(host.addr());
    let mut ask = |target: &str| {
        conn.send(format!("GET {target} HTTP/1.1\r\nHost: e2e.test\r\n\r\n").as_bytes()).expect("send request");
        conn.read_response(false).expect("response")
    };
    // Blocked 1 KB into 4 MiB: the origin's body was not read to its end.
    let blocked = ask("/bytes?n=4194304&seed=7");
    assert_eq!(blocked.status, 403);
    assert!(blocked.complete, "{:?}", blocked.body_error);
    // Blocked at the very end of a small body, read whole: its connection may be pooled.
    let small = ask("/bytes?n=1016&seed=7");
    assert_eq!(small.status, 403);
    let clean = ask("/bytes?n=5000&seed=8");
    assert_eq!(clean.status, 200);
    assert_same_bytes(&clean.body, &pattern(5000, 8), "clean body after blocks");
    host.wait_idle();
    // The first request's connection was dropped; the second's reused for the third.
    assert_eq!(origin.accepted(), 2, "origin connections: {}", origin.accepted());
}

#[test]
fn http_1_0_clients_get_the_block_page_and_clean_bodies_with_their_length() {
    let mut bad = filler(3_000, 9);
    bad.splice(2_000..2_000, b"forbidden".iter().copied());
    for (body, status) in [(bad, 403), (filler(3_000, 10), 200)] {
        let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 101).framing(TrickleFraming::Chunked));
        let host = host_with(origin.addr(), &[block_line("--mode block")]);
        let mut conn = RawConn::connect(host.addr());
        conn.send(b"GET /old HTTP/1.0\r\nHost: e2e.test\r\n\r\n").expect("send request");
        let resp = conn.read_response(false).expect("response");
        assert_eq!(resp.status, status);
        assert!(resp.complete, "{:?}", resp.body_error);
        assert_eq!(resp.header("content-length"), Some(resp.body.len().to_string().as_str()), "{:?}", resp.headers);
        assert_eq!(resp.header("transfer-encoding"), None, "HTTP/1.0 cannot take chunked");
        if status == 200 {
            assert_same_bytes(&resp.body, &body, "clean HTTP/1.0 body");
        }
        host.wait_idle();
    }
}
