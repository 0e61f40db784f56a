//! Keep-alive: many requests on one client connection ride one origin connection.

use e2e::{agent, assert_same_bytes, get_request, pattern, read_body, Host, Origin, RawConn};

const REQUESTS: u64 = 100;

#[test]
fn hundred_requests_on_one_raw_connection_use_one_origin_connection() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    for i in 0..REQUESTS {
        // Never 0: empty bodies have their own test in bodies.rs; this one is about reuse.
        let n = usize::try_from(1 + i * 37).expect("small");
        let framing = if i % 2 == 0 { "length" } else { "chunked" };
        conn.send(&get_request(&format!("/bytes?n={n}&seed={i}&framing={framing}"))).expect("send");
        let resp = conn.read_response(false).unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(resp.status, 200, "request {i}");
        assert!(resp.complete, "request {i}: {:?}", resp.body_error);
        assert_same_bytes(&resp.body, &pattern(n, i), &format!("request {i}"));
    }
    assert_eq!(origin.requests().len(), 100, "every request reached the origin");
    assert_eq!(origin.accepted(), 1, "origin connections for {REQUESTS} keep-alive requests");
}

#[test]
fn hundred_ureq_requests_with_bodies_use_one_origin_connection() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let agent = agent();
    for i in 0..REQUESTS {
        let n = usize::try_from(i * 101).expect("small");
        let body = pattern(n, i);
        let mut resp = if i % 2 == 0 {
            agent.get(host.url(&format!("/bytes?n={n}&seed={i}&framing=chunked"))).call()
        } else {
            agent.post(host.url("/echo")).send(&body[..])
        }
        .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(resp.status(), 200, "request {i}");
        let got = read_body(&mut resp).unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_same_bytes(&got, &body, &format!("request {i}"));
    }
    assert_eq!(origin.accepted(), 1, "origin connections for {REQUESTS} keep-alive requests");
}

/// When the origin closes after a close-delimited body, the next request gets a new
/// origin connection instead of failing on the dead one.
#[test]
fn origin_close_is_followed_by_a_new_origin_connection() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    for (i, framing) in ["length", "close", "length", "length"].into_iter().enumerate() {
        conn.send(&get_request(&format!("/bytes?n=2000&seed={i}&framing={framing}"))).expect("send");
        let resp = conn.read_response(false).unwrap_or_else(|e| panic!("request {i} ({framing}): {e}"));
        assert_eq!(resp.status, 200, "request {i} ({framing})");
        assert!(resp.complete, "request {i} ({framing}): {:?}", resp.body_error);
        assert_same_bytes(&resp.body, &pattern(2000, i as u64), framing);
        // Closing the client connection too is allowed (the host may prefer that to
        // re-framing); the point here is the origin side.
        if resp.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
            conn = RawConn::connect(host.addr());
        }
    }
    assert_eq!(origin.accepted(), 2, "one origin connection before the close, one after");
}
