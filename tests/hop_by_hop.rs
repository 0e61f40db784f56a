//! Hop-by-hop headers stop at the proxy in both directions; Via and X-Forwarded-For are
//! added towards the origin.

use e2e::{Host, Origin, RawConn};

/// The header fields the origin received, as echoed by its `/headers` route.
fn headers_seen_by_origin(host: &Host, extra: &str) -> Vec<(String, String)> {
    let mut conn = RawConn::connect(host.addr());
    let req = format!("GET /headers HTTP/1.1\r\nHost: e2e.test\r\n{extra}\r\n");
    conn.send(req.as_bytes()).expect("send");
    let resp = conn.read_response(false).expect("response");
    assert_eq!(resp.status, 200);
    String::from_utf8_lossy(&resp.body)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
}

#[test]
fn request_hop_by_hop_headers_do_not_reach_origin() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let seen = headers_seen_by_origin(
        &host,
        "Connection: keep-alive, X-Foo\r\nX-Foo: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n\
         Upgrade: example/1\r\nProxy-Connection: keep-alive\r\nX-Keep: yes\r\n",
    );
    for hop in ["x-foo", "keep-alive", "te", "upgrade", "proxy-connection"] {
        assert!(values(&seen, hop).is_empty(), "origin saw hop-by-hop `{hop}`: {seen:?}");
    }
    for conn in values(&seen, "connection") {
        assert!(!conn.to_ascii_lowercase().contains("x-foo"), "origin saw Connection: {conn}");
    }
    assert_eq!(values(&seen, "x-keep"), ["yes"], "end-to-end header forwarded");
    assert_eq!(values(&seen, "host"), ["e2e.test"], "Host forwarded unchanged");
    let via = values(&seen, "via");
    assert!(via.iter().any(|v| v.contains("1.1 plugin-host")), "Via: {via:?}");
    assert_eq!(values(&seen, "x-forwarded-for"), ["127.0.0.1"]);
}

#[test]
fn x_forwarded_for_appends_client_address() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let seen = headers_seen_by_origin(&host, "X-Forwarded-For: 192.0.2.7\r\n");
    let xff = values(&seen, "x-forwarded-for").join(", ");
    assert_eq!(xff, "192.0.2.7, 127.0.0.1", "the client's address is appended to the chain");
}

#[test]
fn several_x_forwarded_for_lines_are_one_list() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let seen =
        headers_seen_by_origin(&host, "X-Forwarded-For: 192.0.2.7\r\nX-Keep: yes\r\nX-Forwarded-For: 198.51.100.1\r\n");
    assert_eq!(
        values(&seen, "x-forwarded-for"),
        ["192.0.2.7, 198.51.100.1, 127.0.0.1"],
        "every earlier hop is kept, in one field, the client's address last: {seen:?}"
    );
    assert_eq!(values(&seen, "x-keep"), ["yes"]);
}

#[test]
fn response_hop_by_hop_headers_do_not_reach_client() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"GET /hop HTTP/1.1\r\nHost: e2e.test\r\n\r\n").expect("send");
    let resp = conn.read_response(false).expect("response");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"hop");
    for hop in ["x-bar", "keep-alive", "proxy-connection"] {
        assert!(!resp.has_header(hop), "client saw hop-by-hop `{hop}`: {:?}", resp.headers);
    }
    if let Some(conn_header) = resp.header("connection") {
        assert!(!conn_header.to_ascii_lowercase().contains("x-bar"), "Connection: {conn_header}");
    }
    assert_eq!(resp.header("x-end-to-end"), Some("kept"));
}
