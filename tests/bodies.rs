//! Bodies of 0 B, 1 B, 64 KiB and 16 MiB in every framing arrive byte for byte, in both
//! directions, through the real host.

use e2e::{
    agent, assert_same_bytes, get_request, pattern, read_body, Host, Origin, RawConn, BODY_SIZES,
};
use ureq::SendBody;

/// GETs every size with the origin using `framing`, all on one client connection.
fn response_bodies_arrive_intact(framing: &str) {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let agent = agent();
    for (seed, &n) in (1u64..).zip(BODY_SIZES.iter()) {
        let url = host.url(&format!("/bytes?n={n}&seed={seed}&framing={framing}"));
        let mut resp = agent
            .get(&url)
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(resp.status(), 200, "GET {url}");
        let body = read_body(&mut resp).unwrap_or_else(|e| panic!("GET {url}: reading body: {e}"));
        assert_same_bytes(
            &body,
            &pattern(n, seed),
            &format!("{framing} response of {n} B"),
        );
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
        let sent = if chunked {
            req.send(SendBody::from_reader(&mut &body[..]))
        } else {
            req.send(&body[..])
        };
        let what = format!(
            "{} request body of {n} B",
            if chunked { "chunked" } else { "length" }
        );
        let mut resp = sent.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(resp.status(), 200, "{what}");
        let origin_len = resp
            .headers()
            .get("x-req-len")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        assert_eq!(
            origin_len,
            Some(n.to_string()),
            "{what}: length the origin received"
        );
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

/// Whatever framing the host picks towards the client, it is unambiguous: never both
/// Content-Length and Transfer-Encoding, and a Content-Length is never stale.
#[test]
fn response_framing_headers_are_consistent() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    for framing in ["length", "chunked"] {
        let n = 64 * 1024 + 3;
        conn.send(&get_request(&format!(
            "/bytes?n={n}&seed=5&framing={framing}"
        )))
        .expect("send");
        let resp = conn.read_response(false).expect("response head");
        assert_eq!(resp.status, 200);
        assert!(
            !(resp.has_header("content-length") && resp.has_header("transfer-encoding")),
            "{framing}: both Content-Length and Transfer-Encoding: {:?}",
            resp.headers
        );
        if let Some(cl) = resp.header("content-length") {
            assert_eq!(cl, n.to_string(), "{framing}: stale Content-Length");
        }
        assert!(resp.complete, "{framing}: {:?}", resp.body_error);
        assert_same_bytes(&resp.body, &pattern(n, 5), framing);
    }
}
