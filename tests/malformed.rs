//! Malformed and request-smuggling inputs: each is answered with the exact 4xx (505 for
//! an HTTP major other than 1), the connection is closed, nothing ambiguous reaches the origin, and the host still serves.

use std::time::Duration;

use e2e::{assert_fresh_request_served, Host, Origin, RawConn};

/// Where the fault is: in the head (the origin must see nothing), or in a chunked body
/// (the head may already have been forwarded when the fault is found).
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    Head,
    Body,
}

fn check(name: &str, request: &[u8], status: u16, fault: Fault) {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    // The host may close before reading everything (e.g. an oversized head); the
    // response is what matters, so a failed write is not a failure.
    let _ = conn.send(request);
    let resp = conn.read_response(false).unwrap_or_else(|e| panic!("{name}: no response: {e}"));
    assert_eq!(resp.status, status, "{name}: status");
    assert!(conn.is_closed(Duration::from_secs(5)), "{name}: connection left open after {status}");
    if fault == Fault::Head {
        let seen: Vec<String> = origin.requests().iter().map(|r| format!("{} {}", r.method, r.target)).collect();
        assert!(seen.is_empty(), "{name}: origin received {seen:?}");
    }
    assert_fresh_request_served(host.addr());
}

/// `POST /echo` with the given extra header lines and raw body.
fn post(headers: &str, body: &str) -> Vec<u8> {
    format!("POST /echo HTTP/1.1\r\nHost: e2e.test\r\n{headers}\r\n{body}").into_bytes()
}

/// `GET /bytes?n=1` with the given extra header lines.
fn get(headers: &str) -> Vec<u8> {
    format!("GET /bytes?n=1 HTTP/1.1\r\nHost: e2e.test\r\n{headers}\r\n").into_bytes()
}

macro_rules! malformed {
    ($($name:ident: $request:expr => $status:literal, $fault:ident;)+) => {$(
        #[test]
        fn $name() {
            check(stringify!($name), &$request, $status, Fault::$fault);
        }
    )+};
}

malformed! {
    content_length_and_transfer_encoding:
        post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n") => 400, Head;
    transfer_encoding_chunked_twice:
        post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n") => 400, Head;
    transfer_encoding_chunked_chunked_list:
        post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n") => 400, Head;
    transfer_encoding_gzip_only:
        post("Transfer-Encoding: gzip\r\n", "abc") => 400, Head;
    space_before_colon:
        post("Content-Length : 5\r\n", "hello") => 400, Head;
    obs_fold_continuation_line:
        get("X-Folded: a\r\n b\r\n") => 400, Head;
    content_length_with_plus_sign:
        post("Content-Length: +5\r\n", "hello") => 400, Head;
    content_length_list:
        post("Content-Length: 1,2\r\n", "ab") => 400, Head;
    differing_duplicate_content_length:
        post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!") => 400, Head;
    content_length_not_a_number:
        post("Content-Length: abc\r\n", "abc") => 400, Head;
    bad_header_name:
        get("X@Bad: 1\r\n") => 400, Head;
    missing_host_in_http11:
        *b"GET /bytes?n=1 HTTP/1.1\r\nX-A: 1\r\n\r\n" => 400, Head;
    two_host_headers:
        get("Host: other.test\r\n") => 400, Head;
    http_2_0_in_request_line:
        *b"GET /bytes?n=1 HTTP/2.0\r\nHost: e2e.test\r\n\r\n" => 505, Head;
    http_2_connection_preface:
        *b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" => 505, Head;
    http_0_9_in_request_line:
        *b"GET /bytes?n=1 HTTP/0.9\r\nHost: e2e.test\r\n\r\n" => 400, Head;
    two_digit_minor_version:
        *b"GET /bytes?n=1 HTTP/1.20\r\nHost: e2e.test\r\n\r\n" => 400, Head;
    garbage_request_line:
        *b"this is not http at all\r\n\r\n" => 400, Head;
    nul_in_header_value:
        get("X-Nul: a\0b\r\n") => 400, Head;
    invalid_chunk_size:
        post("Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n") => 400, Body;
    overflowing_chunk_size:
        post("Transfer-Encoding: chunked\r\n", "fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n") => 400, Body;
    bare_lf_in_chunked_framing:
        post("Transfer-Encoding: chunked\r\n", "5\nhello\n0\n\n") => 400, Body;
    head_too_large:
        get(&format!("X-Big: {}\r\n", "a".repeat(40 * 1024))) => 431, Head;
    too_many_headers:
        get(&(0..150).map(|i| format!("X-H{i}: v\r\n")).collect::<String>()) => 431, Head;
}

/// The control group: a head that is large but within the limits is served, so the 431
/// cases above fail for their size and not for something else.
#[test]
fn large_head_within_limits_is_served() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    let fields: String = (0..60).map(|i| format!("X-H{i}: {}\r\n", "v".repeat(200))).collect();
    conn.send(&get(&fields)).expect("send");
    let resp = conn.read_response(false).expect("response");
    assert_eq!(resp.status, 200, "a 12 KiB head with 62 fields is within the defaults");
    assert_eq!(origin.requests().len(), 1);
    let seen = &origin.requests()[0];
    assert_eq!(seen.header("X-H59").map(str::len), Some(200), "last field forwarded intact");
}

/// RFC 9110 section 2.5: a later minor of HTTP/1 is served as HTTP/1.1, keep-alive
/// included, and forwarded as HTTP/1.1 (the host sends its own version).
#[test]
fn a_later_http_1_minor_is_served_as_1_1() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    for _ in 0..2 {
        conn.send(b"GET /bytes?n=5 HTTP/1.2\r\nHost: e2e.test\r\n\r\n").expect("send");
        let resp = conn.read_response(false).expect("response");
        assert_eq!((resp.minor_version, resp.status, resp.body.len()), (1, 200, 5));
        assert_eq!(resp.header("connection"), None, "an HTTP/1.1 connection persists");
    }
    let seen = origin.requests();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|r| r.minor_version == 1 && r.target == "/bytes?n=5"), "{seen:?}");
}
