//! Scanners in chains and on request bodies, end to end:
//!
//! - null + scanner (report) + scanner (replace) + null: each line with its own patterns
//!   and mode; the report line counts what the origin sent, the replace line rewrites it,
//!   and the bytes through every line add up;
//! - `--on request` in replace mode rewrites the request body before the origin sees it
//!   (the echo origin sends back what it received), and leaves the response alone.

use e2e::scanner::{start_scanner_host, wait_for_match_counts, Line, ScannerLine};
use e2e::trickle::{TrickleOrigin, TrickleReply};
use e2e::{null_chain, HostBuilder, Origin, RawConn};

#[test]
fn report_then_replace_in_a_chain_of_four() {
    let body = b"one secret, two secrets; a token and a secret-token".repeat(40);
    let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 13));
    let null = null_chain(1, Some("response")).remove(0);
    let host = start_scanner_host(
        HostBuilder::new(origin.addr()),
        &[
            Line::Raw(null.clone()),
            Line::Scanner(ScannerLine { patterns: b"secret\ntoken\n", args: "--mode report" }),
            Line::Scanner(ScannerLine { patterns: b"secret\t***\n", args: "--mode replace" }),
            Line::Raw(null),
        ],
    );
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"GET /chain HTTP/1.1\r\nHost: e2e.test\r\n\r\n").expect("send request");
    let resp = conn.read_response(false).expect("response");
    assert!(resp.complete, "{:?}", resp.body_error);
    let want = b"one ***, two ***s; a token and a ***-token".repeat(40);
    assert_eq!(resp.body, want);
    let stats = host.wait_idle();
    // The report line saw the origin's bytes: 3 secrets and 2 tokens per repeat.
    assert_eq!(wait_for_match_counts(&host, "response of GET /chain", 2), [200, 120], "{}", host.logs());
    let through: Vec<(u64, u64)> = stats.plugins.iter().map(|p| (p.bytes_in, p.bytes_out)).collect();
    let (n, w) = (body.len() as u64, want.len() as u64);
    assert_eq!(through, [(n, n), (n, n), (n, w), (w, w)]);
}

#[test]
fn request_bodies_are_rewritten_before_the_origin() {
    let origin = Origin::start();
    let host = start_scanner_host(
        HostBuilder::new(origin.addr()),
        &[Line::Scanner(ScannerLine { patterns: b"card=4111\tcard=XXXX\n", args: "--mode replace --on request" })],
    );
    let mut conn = RawConn::connect(host.addr());
    let body = b"name=a&card=4111&x=card=4111".repeat(100);
    let head = format!("POST /echo HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: {}\r\n\r\n", body.len());
    conn.send(&[head.as_bytes(), &body].concat()).expect("send request");
    let resp = conn.read_response(false).expect("response");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"name=a&card=XXXX&x=card=XXXX".repeat(100), "the origin got the rewritten body");
    assert_eq!(resp.header("x-req-len"), Some("2800"));
    host.wait_idle();
    assert_eq!(wait_for_match_counts(&host, "request of POST /echo", 1), [200]);
}

#[test]
fn a_request_rewritten_to_another_length_goes_to_the_origin_chunked() {
    let origin = Origin::start();
    let host = start_scanner_host(
        HostBuilder::new(origin.addr()),
        &[Line::Scanner(ScannerLine {
            patterns: b"token=abc\ttoken=[removed]\n",
            args: "--mode replace --on request",
        })],
    );
    let mut conn = RawConn::connect(host.addr());
    let body = b"a=1&token=abc&b=2".repeat(50);
    let head = format!("POST /echo HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: {}\r\n\r\n", body.len());
    conn.send(&[head.as_bytes(), &body].concat()).expect("send request");
    let resp = conn.read_response(false).expect("response");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"a=1&token=[removed]&b=2".repeat(50));
    // The rewritten length is not known up front: the request goes on chunked, never
    // with the client's stale Content-Length.
    assert_eq!(resp.header("x-req-framing"), Some("chunked"), "{:?}", resp.headers);
    host.wait_idle();
}
