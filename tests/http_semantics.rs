//! Message semantics the proxy must get right: HTTP/1.0 clients, HEAD, 204, 304,
//! `Expect: 100-continue` and pipelining.

use std::time::Duration;

use e2e::{assert_same_bytes, get_request, pattern, Host, Origin, RawConn};

#[test]
fn http10_client_without_keepalive_gets_body_then_close() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    // No Host header: legal in HTTP/1.0.
    conn.send(b"GET /bytes?n=3000&seed=3 HTTP/1.0\r\n\r\n").expect("send");
    let resp = conn.read_response(false).expect("response");
    assert_eq!(resp.status, 200);
    assert!(!resp.has_header("transfer-encoding"), "chunked sent to an HTTP/1.0 client: {:?}", resp.headers);
    assert!(resp.complete, "{:?}", resp.body_error);
    assert_same_bytes(&resp.body, &pattern(3000, 3), "HTTP/1.0 body");
    assert!(conn.is_closed(Duration::from_secs(5)), "HTTP/1.0 connection without keep-alive left open");
}

#[test]
fn http10_client_with_keepalive_reuses_connection() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    for seed in 0..2u64 {
        let req = format!("GET /bytes?n=2500&seed={seed} HTTP/1.0\r\nHost: e2e.test\r\nConnection: keep-alive\r\n\r\n");
        conn.send(req.as_bytes()).unwrap_or_else(|e| panic!("request {seed}: send: {e}"));
        let resp = conn.read_response(false).unwrap_or_else(|e| panic!("request {seed}: {e}"));
        assert_eq!(resp.status, 200, "request {seed}");
        assert!(!resp.has_header("transfer-encoding"), "chunked sent to an HTTP/1.0 client");
        assert_eq!(resp.header("content-length"), Some("2500"), "request {seed}: length known, so sent");
        assert_same_bytes(&resp.body, &pattern(2500, seed), "HTTP/1.0 keep-alive body");
    }
}

/// The origin answers the proxy (HTTP/1.1) chunked; the HTTP/1.0 client must get the
/// body un-chunked, delimited by close (or a length, if the host buffers).
#[test]
fn http10_client_never_sees_chunked_coding() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"GET /bytes?n=70000&seed=8&framing=chunked HTTP/1.0\r\nHost: e2e.test\r\n\r\n").expect("send");
    let resp = conn.read_response(false).expect("response");
    assert_eq!(resp.status, 200);
    assert!(!resp.has_header("transfer-encoding"), "chunked sent to an HTTP/1.0 client: {:?}", resp.headers);
    assert!(resp.complete, "{:?}", resp.body_error);
    assert_same_bytes(&resp.body, &pattern(70000, 8), "HTTP/1.0 body from a chunked origin");
}

#[test]
fn head_has_no_body_and_keeps_the_connection_usable() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    for framing in ["length", "chunked"] {
        let req = format!("HEAD /bytes?n=5000&framing={framing} HTTP/1.1\r\nHost: e2e.test\r\n\r\n");
        conn.send(req.as_bytes()).expect("send HEAD");
        let resp = conn.read_response(true).expect("HEAD response");
        assert_eq!(resp.status, 200, "HEAD {framing}");
        if framing == "length" {
            assert_eq!(resp.header("content-length"), Some("5000"), "HEAD keeps the GET's length");
        }
        // If the host wrongly sent a body, it shows up as garbage before the next response.
        conn.send(&get_request("/bytes?n=10&seed=1")).expect("send GET after HEAD");
        let next = conn.read_response(false).unwrap_or_else(|e| panic!("GET after HEAD {framing}: {e}"));
        assert_eq!(next.status, 200);
        assert_same_bytes(&next.body, &pattern(10, 1), "GET after HEAD");
    }
}

#[test]
fn no_content_and_not_modified_have_no_body() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    for status in [204u16, 304] {
        conn.send(&get_request(&format!("/status/{status}"))).expect("send");
        let resp = conn.read_response(false).expect("response");
        assert_eq!(resp.status, status);
        assert!(!resp.has_header("transfer-encoding"), "{status} with Transfer-Encoding: {:?}", resp.headers);
        if status == 204 {
            assert!(!resp.has_header("content-length"), "204 with Content-Length: {:?}", resp.headers);
        } else {
            assert_eq!(resp.header("etag"), Some("\"e2e\""), "304 keeps its validator");
        }
        conn.send(&get_request("/bytes?n=10&seed=2")).expect("send next");
        let next = conn.read_response(false).unwrap_or_else(|e| panic!("request after {status}: {e}"));
        assert_eq!(next.status, 200, "request after {status}");
        assert_same_bytes(&next.body, &pattern(10, 2), "request after a bodiless response");
    }
}

#[test]
fn expect_100_continue_gets_interim_response_then_echo() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    let body = pattern(20_000, 6);
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    conn.send(head.as_bytes()).expect("send head");
    let interim = conn.read_response(false).expect("the client waits for 100 Continue before the body");
    assert_eq!(interim.status, 100, "interim response");
    conn.send(&body).expect("send body");
    let resp = conn.read_response(false).expect("final response");
    assert_eq!(resp.status, 200);
    assert_same_bytes(&resp.body, &body, "echo after 100-continue");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    let mut batch = get_request("/bytes?n=10&seed=1");
    batch.extend_from_slice(b"POST /echo HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: 5\r\n\r\nabcde");
    batch.extend_from_slice(&get_request("/bytes?n=100000&seed=3&framing=chunked"));
    conn.send(&batch).expect("send three requests in one write");
    let expected: [&[u8]; 3] = [&pattern(10, 1), b"abcde", &pattern(100_000, 3)];
    for (i, want) in expected.iter().enumerate() {
        let resp = conn.read_response(false).unwrap_or_else(|e| panic!("pipelined response {i}: {e}"));
        assert_eq!(resp.status, 200, "pipelined response {i}");
        assert!(resp.complete, "pipelined response {i}: {:?}", resp.body_error);
        assert_same_bytes(&resp.body, want, &format!("pipelined response {i}"));
    }
}
