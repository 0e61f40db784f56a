//! Bodies of 0 B, 1 B, 64 KiB and 16 MiB in every framing arrive byte for byte, in both
//! directions, through the real host.

use e2e::{agent, assert_same_bytes, get_request, pattern, read_body, Host, Origin, RawConn, BODY_SIZES};
use ureq::SendBody;

/// GETs every size with the origin using `framing`, all on one client connection.
fn response_bodies_arrive_intact(framing: &str) {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let agent = agent();
    for (seed, &n) in (1u64..).zip(BODY_SIZES.iter()) {
        let url = host.url(&format!("/bytes?n={n}&seed={seed}&framing={framing}"));
        let mut resp = agent.get(&url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(resp.status(), 200, "GET {url}");
        let body = read_body(&mut resp).unwrap_or_else(|e| panic!("GET {url}: reading body: {e}"));
        assert_same_bytes(&body, &pattern(n, seed), &format!("{framing} response of {n} B"));
    }
}

#[test]
fn response_content_length_bodies() {
    response_bodies_arrive_intact("length");
}

#[test]
fn response_chunked_bodies() {
    response_bodies_arrive_intact("chunked");
}

#[test]
fn response_close_delimited_bodies() {
    response_bodies_arrive_intact("close");
}

/// POSTs every size to /echo, either with Content-Length or chunked.
fn request_bodies_arrive_intact(chunked: bool) {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let agent = agent();
    let resp_framing = if chunked { "chunked" } else { "length" };
    for (seed, &n) in (10u64..).zip(BODY_SIZES.iter()) {
        let body = pattern(n, seed);
        let url = host.url(&format!("/echo?framing={resp_framing}"));
        let req = agent.post(&url);
        let sent = if chunked { req.send(SendBody::from_reader(&mut &body[..])) } else { req.send(&body[..]) };
        let what = format!("{} request body of {n} B", if chunked { "chunked" } else { "length" });
        let mut resp = sent.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(resp.status(), 200, "{what}");
        let origin_len = resp.headers().get("x-req-len").and_then(|v| v.to_str().ok()).map(str::to_string);
        assert_eq!(origin_len, Some(n.to_string()), "{what}: length the origin received");
        let echoed = read_body(&mut resp).unwrap_or_else(|e| panic!("{what}: reading echo: {e}"));
        assert_same_bytes(&echoed, &body, &what);
    }
}

#[test]
fn request_content_length_bodies() {
    request_bodies_arrive_intact(false);
}

#[test]
fn request_chunked_bodies() {
    request_bodies_arrive_intact(true);
}

/// Whatever framing the host picks towards the client, it is unambiguous and lets a
/// keep-alive client find the end of the body: never both Content-Length and
/// Transfer-Encoding, a Content-Length is never stale, and a response with neither says
/// `Connection: close`.
#[test]
fn response_framing_headers_are_consistent() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    for framing in ["length", "chunked"] {
        for n in [0usize, 1, 64 * 1024 + 3] {
            let what = format!("{framing} response of {n} B");
            let mut conn = RawConn::connect(host.addr());
            conn.send(&get_request(&format!("/bytes?n={n}&seed=5&framing={framing}"))).expect("send");
            let resp = conn.read_response_head().unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(resp.status, 200, "{what}");
            let cl = resp.header("content-length").map(str::to_string);
            let te = resp.has_header("transfer-encoding");
            assert!(!(cl.is_some() && te), "{what}: both Content-Length and Transfer-Encoding: {:?}", resp.headers);
            if let Some(cl) = cl {
                assert_eq!(cl, n.to_string(), "{what}: stale Content-Length");
            }
            let closes = resp.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
            assert!(
                resp.has_header("content-length") || te || closes,
                "{what}: keep-alive response without Content-Length or Transfer-Encoding: {:?}",
                resp.headers
            );
            let resp = conn.read_response_body(resp, false);
            assert!(resp.complete, "{what}: {:?}", resp.body_error);
            assert_same_bytes(&resp.body, &pattern(n, 5), &what);
        }
    }
}
