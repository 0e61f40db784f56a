//! Keep-alive: many requests on one client connection ride one origin connection,
//! and connections idle between requests serve their later requests whole.

use std::thread;
use std::time::Duration;

use e2e::{agent, assert_same_bytes, get_request, pattern, read_body, Host, HostBuilder, Origin, RawConn};

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

/// More client connections than a worker keeps spare storage for (64).
const IDLE_CONNS: usize = 150;

/// Reads one response on `conn` and checks it is `want`, whole, on a connection kept open.
#[track_caller]
fn assert_served(conn: &mut RawConn, want: &[u8], what: &str) {
    let resp = conn.read_response(false).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(resp.status, 200, "{what}");
    assert!(resp.complete, "{what}: {:?}", resp.body_error);
    assert!(resp.header("connection").is_none_or(|v| !v.eq_ignore_ascii_case("close")), "{what}: kept open");
    assert_same_bytes(&resp.body, want, what);
}

/// A connection gives its transaction's box and its write queue's storage back
/// to the worker whenever it goes idle, and takes them again for its next
/// request; with more connections than spares, some get a fresh allocation.
/// Whichever they get, every response of every round comes out whole and in
/// order: overlapping transactions, pipelined pairs, request bodies, and a
/// response queued in many chunks (whose long block list is freed, not kept).
#[test]
fn connections_idle_between_requests_serve_every_later_request_whole() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).threads(1).start();
    let mut conns: Vec<RawConn> = (0..IDLE_CONNS).map(|_| RawConn::connect(host.addr())).collect();
    let size = |i: usize| 100 + i * 13;

    // Round 1: every request sent before any response is read, so transactions overlap.
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.send(&get_request(&format!("/bytes?n={}&seed={i}", size(i)))).expect("send");
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        assert_served(conn, &pattern(size(i), i as u64), &format!("round 1, connection {i}"));
    }

    // Round 2, every connection idle until now, in reverse order: a pipelined pair
    // on even connections, a request body on odd ones.
    for (i, conn) in conns.iter_mut().enumerate().rev() {
        let seed = (1000 + i) as u64;
        if i % 2 == 0 {
            let mut pair = get_request(&format!("/bytes?n={}&seed={seed}&framing=chunked", size(i)));
            pair.extend(get_request(&format!("/bytes?n=7&seed={}", seed + 1)));
            conn.send(&pair).expect("send");
            assert_served(conn, &pattern(size(i), seed), &format!("round 2, connection {i}, first of a pair"));
            assert_served(conn, &pattern(7, seed + 1), &format!("round 2, connection {i}, second of a pair"));
        } else {
            let body = pattern(size(i), seed);
            let mut req =
                format!("POST /echo HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            req.extend_from_slice(&body);
            conn.send(&req).expect("send");
            assert_served(conn, &body, &format!("round 2, connection {i}, echoed body"));
        }
    }

    // Round 3: a chunked response large enough to be queued as many blocks on a few
    // connections, then a small one on every connection.
    for (i, conn) in conns.iter_mut().enumerate().step_by(37) {
        let n = 600_000;
        conn.send(&get_request(&format!("/bytes?n={n}&seed={i}&framing=chunked"))).expect("send");
        assert_served(conn, &pattern(n, i as u64), &format!("round 3, connection {i}, large"));
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        let seed = (2000 + i) as u64;
        conn.send(&get_request(&format!("/bytes?n=50&seed={seed}"))).expect("send");
        assert_served(conn, &pattern(50, seed), &format!("round 3, connection {i}, small"));
    }
    assert_eq!(
        origin.requests().len(),
        // Rounds 1 and 3 one each, round 2 one more on even connections, round 3's large ones.
        IDLE_CONNS * 3 + IDLE_CONNS.div_ceil(2) + IDLE_CONNS.div_ceil(37),
        "every request reached the origin once"
    );
}

/// Larger than the kernel buffers a client that reads nothing offers on loopback.
const QUEUED_BODY: usize = 24 * 1024 * 1024;

/// With a buffer large enough for the whole body, the host reads the origin
/// to the end and finishes the transaction while most of the response still
/// waits in the write queue for a client that is not reading. A connection
/// with bytes queued is not idle: its queue keeps its storage and its bytes
/// until they are written, and the connection then serves its next request.
#[test]
fn a_response_still_queued_when_its_transaction_ends_goes_out_whole() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).threads(1).opt("--buffer-bytes", 2 * QUEUED_BODY).start();
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request(&format!("/bytes?n={QUEUED_BODY}&seed=5&framing=chunked"))).expect("send");
    // The client reads nothing until the origin has written the whole body (bounded wait).
    let mut stable = 0;
    let mut last = 0;
    for _ in 0..400 {
        thread::sleep(Duration::from_millis(25));
        let now = origin.bytes_written();
        stable = if now == last && now >= QUEUED_BODY as u64 { stable + 1 } else { 0 };
        last = now;
        if stable >= 4 {
            break;
        }
    }
    assert_served(&mut conn, &pattern(QUEUED_BODY, 5), "the response queued past its transaction");
    conn.send(&get_request("/bytes?n=300&seed=6")).expect("send");
    assert_served(&mut conn, &pattern(300, 6), "the next request on the connection");
}

/// A worker parses each head into the field list and target string a
/// finished one gave back. A request or response with fewer or other fields
/// than the one before it on the connection carries exactly its own: none
/// of the earlier head's fields, value or target survives into it.
#[test]
fn a_head_after_a_larger_one_carries_only_its_own_fields() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).threads(1).start();
    let mut conn = RawConn::connect(host.addr());
    let big = "GET /headers?long-target-padding-padding-padding HTTP/1.1\r\nHost: e2e.test\r\nX-First: 1\r\n\
               X-Second: 2\r\nX-Third: three\r\nUser-Agent: big\r\n\r\n";
    let small = "GET /headers HTTP/1.1\r\nHost: e2e.test\r\nX-Other: o\r\n\r\n";
    for (i, (req, want)) in [(big, &["X-First", "X-Second", "X-Third", "User-Agent"][..]), (small, &["X-Other"][..])]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        conn.send(req.as_bytes()).expect("send");
        let resp = conn.read_response(false).unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(resp.status, 200, "request {i}");
        let seen = String::from_utf8(resp.body).expect("text");
        let names: Vec<&str> = seen.lines().filter_map(|l| l.split_once(':')).map(|(n, _)| n).collect();
        let own: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| (n.starts_with("X-") && *n != "X-Forwarded-For") || *n == "User-Agent")
            .collect();
        assert_eq!(own, want, "request {i}: the fields the origin saw: {seen:?}");
        assert_eq!(names.iter().filter(|n| n.eq_ignore_ascii_case("host")).count(), 1, "request {i}: {seen:?}");
    }
    let targets: Vec<String> = origin.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets.len(), 6);
    for (i, target) in targets.iter().enumerate() {
        let want = if i % 2 == 0 { "/headers?long-target-padding-padding-padding" } else { "/headers" };
        assert_eq!(target, want, "request {i}: the target as sent, nothing of the one before");
    }

    // Responses: one with the origin's own fields, then one without them.
    for i in 0..4 {
        if i % 2 == 0 {
            let body = b"abc";
            let mut req = b"POST /echo HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: 3\r\n\r\n".to_vec();
            req.extend_from_slice(body);
            conn.send(&req).expect("send");
        } else {
            conn.send(&get_request("/bytes?n=5&seed=3")).expect("send");
        }
        let resp = conn.read_response(false).unwrap_or_else(|e| panic!("response {i}: {e}"));
        assert_eq!(resp.status, 200, "response {i}");
        assert_eq!(resp.has_header("x-req-len"), i % 2 == 0, "response {i}: {:?}", resp.headers);
        assert_eq!(resp.has_header("x-req-framing"), i % 2 == 0, "response {i}: {:?}", resp.headers);
        let lengths: Vec<&str> = resp
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(lengths, [if i % 2 == 0 { "3" } else { "5" }], "response {i}: {:?}", resp.headers);
    }
}
