//! Issue 10, protocol: absolute-form targets split by RFC 3986, no 100 Continue to an
//! HTTP/1.0 client, no pooling after framing RFC 9112 section 6.1 says must close, and a
//! Date on every response.

use std::thread;
use std::time::{Duration, Instant};

use e2e::{get_request, Host, Origin, RawConn, ScriptedOrigin};

/// How long to wait for the origin to see a connection.
const WAIT: Duration = Duration::from_secs(10);

fn request_with_target(target: &str, host: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

#[test]
fn absolute_form_targets_reach_the_origin_split_by_rfc_3986() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    // (target sent, origin-form the origin must see, Host it must see)
    let cases = [
        ("http://good?/admin", "/?/admin", "good"),
        ("http://good#/admin", "/", "good"),
        ("http://good", "/", "good"),
        ("http://good?q=1", "/?q=1", "good"),
        ("HTTP://good:8080/nothing?x", "/nothing?x", "good:8080"),
        // The origin form too: a fragment never goes upstream.
        ("/nothing#/../admin", "/nothing", "ignored.example"),
    ];
    for (i, (target, path, authority)) in cases.iter().enumerate() {
        let mut conn = RawConn::connect(host.addr());
        conn.send(&request_with_target(target, "ignored.example")).expect("send");
        let resp = conn.read_response(false).expect("response");
        assert_eq!(resp.status, 404, "{target}: the test origin answers unknown paths with 404");
        let seen = origin.requests();
        let req = seen.get(i).unwrap_or_else(|| panic!("{target}: the origin saw no request"));
        assert_eq!(req.target, *path, "{target}: origin-form target");
        assert_eq!(req.header("host"), Some(*authority), "{target}: Host comes from the authority");
    }
}

#[test]
fn userinfo_in_a_target_is_refused_with_400_and_never_forwarded() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    for target in ["http://evil@good/x", "http://user:pw@good/", "http:///x"] {
        let mut conn = RawConn::connect(host.addr());
        conn.send(&request_with_target(target, "good")).expect("send");
        let resp = conn.read_response(false).expect("response");
        assert_eq!(resp.status, 400, "{target}");
    }
    assert!(origin.requests().is_empty(), "a refused target reached the origin: {:?}", origin.requests());
}

#[test]
fn no_100_continue_for_an_http_1_0_client() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    // HTTP/1.0 first, on a fresh host: the body goes only once the proxy has started the
    // transaction (it connected to the origin, a new connection since nothing is pooled
    // yet), which is when a 100 would have been queued, ahead of the response.
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n").expect("send");
    let deadline = Instant::now() + WAIT;
    while origin.accepted() == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(origin.accepted(), 1, "the proxy never connected to the origin");
    conn.send(b"pong").expect("body");
    let first = conn.read_response(false).expect("response");
    assert_eq!(first.status, 200, "the first response to an HTTP/1.0 client must be the final one");
    assert_eq!(first.body, b"pong");

    // HTTP/1.1, the control: a lone head with Expect gets its 100.
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n").expect("send");
    let interim = conn.read_response_head().expect("interim response");
    assert_eq!(interim.status, 100, "the control case: HTTP/1.1 gets 100 Continue");
    conn.send(b"ping").expect("body");
    assert_eq!(conn.read_response(false).expect("final").status, 200);
}

/// Sends `requests` GETs on one client connection; returns the statuses.
fn sequential_gets(host: &Host, requests: usize) -> Vec<u16> {
    let mut conn = RawConn::connect(host.addr());
    (0..requests)
        .map(|i| {
            conn.send(&get_request("/x")).unwrap_or_else(|e| panic!("request {i}: {e}"));
            let resp = conn.read_response(false).unwrap_or_else(|e| panic!("response {i}: {e}"));
            assert!(resp.complete, "response {i} incomplete: {:?}", resp.body_error);
            resp.status
        })
        .collect()
}

#[test]
fn origin_connections_are_not_pooled_after_suspect_framing() {
    let plain = ScriptedOrigin::start(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    let host = Host::start(plain.addr());
    assert_eq!(sequential_gets(&host, 3), [200, 200, 200]);
    assert_eq!(plain.accepted(), 1, "the control case: a plain response is pooled and reused");
    drop(host);

    for answer in [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n"[..],
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ] {
        let origin = ScriptedOrigin::start(answer);
        let host = Host::start(origin.addr());
        assert_eq!(sequential_gets(&host, 3), [200, 200, 200]);
        assert_eq!(origin.accepted(), 3, "pooled after {:?}", String::from_utf8_lossy(answer));
    }
}

/// True for an IMF-fixdate (RFC 9110 section 5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
fn is_imf_fixdate(value: &str) -> bool {
    let b = value.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 29
        && ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&&value[..3])
        && &value[3..5] == ", "
        && digits(5..7)
        && ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].contains(&&value[8..11])
        && digits(12..16)
        && digits(17..19)
        && digits(20..22)
        && digits(23..25)
        && value.ends_with(" GMT")
}

#[test]
fn a_date_is_added_when_the_origin_sent_none_and_kept_when_it_did() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    for path in ["/bytes?n=10", "/status/204", "/bytes?n=10&framing=chunked"] {
        conn.send(&get_request(path)).expect("send");
        let resp = conn.read_response(false).expect("response");
        let dates: Vec<_> = resp.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("date")).collect();
        assert_eq!(dates.len(), 1, "{path}: one Date field, got {:?}", resp.headers);
        assert!(is_imf_fixdate(&dates[0].1), "{path}: Date {:?} is not an IMF-fixdate", dates[0].1);
    }

    let own = "Sun, 06 Nov 1994 08:49:37 GMT";
    let dated =
        ScriptedOrigin::start(format!("HTTP/1.1 200 OK\r\nDate: {own}\r\nContent-Length: 2\r\n\r\nok").as_bytes());
    let host = Host::start(dated.addr());
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request("/")).expect("send");
    let resp = conn.read_response(false).expect("response");
    let dates: Vec<_> = resp.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("date")).map(|(_, v)| v).collect();
    assert_eq!(dates, [own], "the origin's own Date is relayed untouched");
}
