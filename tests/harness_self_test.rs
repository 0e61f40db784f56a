//! Checks the test origin and clients against each other, without the proxy, so that a
//! failure in the proxy tests points at the proxy and not at the harness.

use std::time::Duration;

use e2e::{agent, assert_same_bytes, pattern, read_body, Origin, RawConn};
use ureq::SendBody;

fn origin_url(origin: &Origin, path: &str) -> String {
    format!("http://{}{path}", origin.addr())
}

#[test]
fn origin_serves_every_framing_and_keeps_alive() {
    let origin = Origin::start();
    let mut conn = RawConn::connect(origin.addr());
    for framing in ["length", "chunked"] {
        for n in [0usize, 1, 70_000] {
            let req = format!("GET /bytes?n={n}&seed=3&framing={framing} HTTP/1.1\r\nHost: o\r\n\r\n");
            conn.send(req.as_bytes()).expect("send");
            let resp = conn.read_response(false).expect("response");
            assert_eq!(resp.status, 200);
            assert!(resp.complete, "{framing} {n}: {:?}", resp.body_error);
            assert_same_bytes(&resp.body, &pattern(n, 3), &format!("{framing} {n}"));
        }
    }
    assert_eq!(origin.accepted(), 1, "keep-alive on the origin itself");
    conn.send(b"GET /bytes?n=5000&seed=4&framing=close HTTP/1.1\r\nHost: o\r\n\r\n").expect("send");
    let resp = conn.read_response(false).expect("response");
    assert_eq!(resp.header("connection"), Some("close"));
    assert_same_bytes(&resp.body, &pattern(5000, 4), "close-delimited");
    assert_eq!(origin.requests().len(), 7);
}

#[test]
fn origin_echo_reports_request_framing() {
    let origin = Origin::start();
    let agent = agent();
    let body = pattern(100_000, 5);
    let mut resp = agent
        .post(origin_url(&origin, "/echo?framing=chunked"))
        .send(SendBody::from_reader(&mut &body[..]))
        .expect("chunked POST");
    assert_eq!(resp.headers().get("x-req-framing").map(|v| v.as_bytes()), Some(&b"chunked"[..]));
    assert_same_bytes(&read_body(&mut resp).expect("body"), &body, "chunked echo");
    let mut resp = agent.post(origin_url(&origin, "/echo")).send(&body[..]).expect("CL POST");
    assert_eq!(resp.headers().get("x-req-framing").map(|v| v.as_bytes()), Some(&b"length"[..]));
    assert_eq!(resp.headers().get("x-req-len").map(|v| v.as_bytes()), Some(&b"100000"[..]));
    assert_same_bytes(&read_body(&mut resp).expect("body"), &body, "length echo");
}

#[test]
fn origin_answers_expect_continue_and_head() {
    let origin = Origin::start();
    let mut conn = RawConn::connect(origin.addr());
    conn.send(b"POST /echo HTTP/1.1\r\nHost: o\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .expect("send head");
    assert_eq!(conn.read_response(false).expect("100").status, 100);
    conn.send(b"hello").expect("send body");
    let resp = conn.read_response(false).expect("final");
    assert_eq!(resp.body, b"hello");
    conn.send(b"HEAD /bytes?n=10 HTTP/1.1\r\nHost: o\r\n\r\n").expect("send HEAD");
    let resp = conn.read_response(true).expect("HEAD response");
    assert_eq!(resp.header("content-length"), Some("10"));
    assert!(resp.body.is_empty());
}

#[test]
fn origin_reset_mid_body_is_incomplete() {
    let origin = Origin::start();
    let mut conn = RawConn::connect(origin.addr());
    conn.send(b"GET /reset-mid-body?n=100000&seed=2 HTTP/1.1\r\nHost: o\r\n\r\n").expect("send");
    let resp = conn.read_response(false).expect("head");
    assert_eq!(resp.header("content-length"), Some("100000"));
    assert!(!resp.complete);
    assert!(resp.body.len() < 100_000);
    assert_same_bytes(&resp.body, &pattern(100_000, 2)[..resp.body.len()], "partial prefix");
    assert!(conn.is_closed(Duration::from_secs(5)));
}
