//! Bodies through chains of 1, 2 and 5 null transforms arrive byte for byte, with the
//! framing the contract promises, for the Rust null (`plugins/null`), the C null
//! (`examples/c-null`, built with the system C compiler) and chains mixing them:
//!
//! - a Content-Length response keeps its Content-Length (the null transform declares its
//!   output length equal to its input length);
//! - a chunked or close-delimited response goes to an HTTP/1.1 client chunked, and to an
//!   HTTP/1.0 client close-delimited (`Connection: close`, neither Content-Length nor
//!   Transfer-Encoding);
//! - a request body reaches the origin framed as the client framed it.
//!
//! One latitude is allowed: a chunked or close-delimited body small enough to arrive whole
//! with its head may be declared with a `Content-Length` equal to its size (the host knows
//! the length before it writes the head; observed for 0 and 1 B). Bodies of at least
//! [`ALWAYS_STREAMED`] cannot be known that early without buffering them, so for those the
//! contract's framing is required exactly. A Content-Length that disagrees with the body
//! is never accepted.
//!
//! Each test then checks in `/stats` that every transform of the chain really carried
//! every byte (so a host that skipped the chain would fail), and that nothing is left live.

use e2e::admin::Stats;
use e2e::c_plugins::c_null;
use e2e::chunked::{write_chunked, CHUNK_SIZES};
use e2e::plugins::SETTLE_TIMEOUT;
use e2e::{assert_same_bytes, null_chain, pattern, HostBuilder, Origin, PluginHost, RawConn, RawResponse, BODY_SIZES};
use std::time::Duration;

/// Bodies at least this large must keep the framing the contract gives unknown lengths.
const ALWAYS_STREAMED: usize = 1024 * 1024;
/// How long an HTTP/1.0 response's connection may stay open after its body.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// What the framing headers of a response head say.
struct Framing<'a> {
    content_length: Option<&'a str>,
    chunked: bool,
    transfer_encoding: bool,
    connection_close: bool,
}

fn framing_of(resp: &RawResponse) -> Framing<'_> {
    let te = resp.header("transfer-encoding");
    Framing {
        content_length: resp.header("content-length").map(str::trim),
        chunked: te.is_some_and(|v| v.rsplit(',').next().is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))),
        transfer_encoding: te.is_some(),
        connection_close: resp
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("close")),
    }
}

/// Asserts the contract's framing for a response of `size` bytes that the origin sent with
/// `origin_framing`, to a client speaking HTTP/1.`client_minor`.
#[track_caller]
fn assert_response_framing(resp: &RawResponse, origin_framing: &str, size: usize, client_minor: u8, what: &str) {
    let f = framing_of(resp);
    let fields = &resp.headers;
    assert!(!(f.content_length.is_some() && f.transfer_encoding), "{what}: both Content-Length and TE: {fields:?}");
    if client_minor == 0 {
        assert!(!f.transfer_encoding, "{what}: Transfer-Encoding sent to an HTTP/1.0 client: {fields:?}");
    }
    let exact = size.to_string();
    if let Some(cl) = f.content_length {
        assert_eq!(cl, exact, "{what}: Content-Length disagrees with the body: {fields:?}");
    }
    if size < ALWAYS_STREAMED && f.content_length.is_some() {
        // Known whole before the head was written: see the module doc.
        return;
    }
    match (origin_framing, client_minor) {
        ("length", _) => {
            assert_eq!(f.content_length, Some(exact.as_str()), "{what}: Content-Length not kept: {fields:?}")
        }
        (_, 1) => assert!(
            f.chunked && f.content_length.is_none(),
            "{what}: unknown-length body to an HTTP/1.1 client must be chunked: {fields:?}"
        ),
        _ => assert!(
            f.content_length.is_none() && f.connection_close,
            "{what}: unknown-length body to an HTTP/1.0 client must be close-delimited: {fields:?}"
        ),
    }
}

/// `n` plugin.config lines loading the C null transform (both directions).
fn c_null_chain(n: usize) -> Vec<String> {
    (0..n).map(|_| c_null().display().to_string()).collect()
}

/// GETs every size in every origin framing through the null transforms of `lines`,
/// from an HTTP/1.1 client (one keep-alive connection per framing, so a wrong length
/// breaks the next response) and from HTTP/1.0 clients (a connection each).
fn responses_through_chain(lines: &[String]) {
    let chain = lines.len();
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), lines);
    let (mut requests, mut bytes) = (0u64, 0u64);
    for framing in ["length", "chunked", "close"] {
        let mut conn = RawConn::connect(host.addr());
        for (seed, &size) in (1u64..).zip(BODY_SIZES.iter()) {
            let what = format!("chain of {chain}, {framing} response of {size} B, HTTP/1.1");
            let target = format!("/bytes?n={size}&seed={seed}&framing={framing}");
            conn.send(format!("GET {target} HTTP/1.1\r\nHost: e2e.test\r\n\r\n").as_bytes()).expect("send");
            let head = conn.read_response_head().unwrap_or_else(|e| panic!("{what}: head: {e}"));
            assert_eq!(head.status, 200, "{what}");
            assert_response_framing(&head, framing, size, 1, &what);
            let resp = conn.read_response_body(head, false);
            assert!(resp.complete, "{what}: {:?}", resp.body_error);
            assert_same_bytes(&resp.body, &pattern(size, seed), &what);
            requests += 1;
            bytes += size as u64;
        }
        for (seed, &size) in (20u64..).zip(BODY_SIZES.iter()) {
            let what = format!("chain of {chain}, {framing} response of {size} B, HTTP/1.0");
            let mut conn = RawConn::connect(host.addr());
            let target = format!("/bytes?n={size}&seed={seed}&framing={framing}");
            conn.send(format!("GET {target} HTTP/1.0\r\nHost: e2e.test\r\n\r\n").as_bytes()).expect("send");
            let head = conn.read_response_head().unwrap_or_else(|e| panic!("{what}: head: {e}"));
            assert_eq!(head.status, 200, "{what}");
            assert_response_framing(&head, framing, size, 0, &what);
            let resp = conn.read_response_body(head, false);
            assert!(resp.complete, "{what}: {:?}", resp.body_error);
            assert_same_bytes(&resp.body, &pattern(size, seed), &what);
            // No keep-alive was asked for: the host closes, and sends nothing past the body.
            assert!(conn.is_closed(CLOSE_WAIT), "{what}: connection not closed after the body, or bytes past it");
            requests += 1;
            bytes += size as u64;
        }
    }
    assert_chain_carried(&host, chain, requests, bytes);
}

/// POSTs every size to `/echo` with a Content-Length or a chunked body through the null
/// transforms of `lines` (which transform the request and the echoed response).
fn request_bodies_through_chain(lines: &[String]) {
    let chain = lines.len();
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), lines);
    let (mut requests, mut bytes) = (0u64, 0u64);
    for req_framing in ["length", "chunked"] {
        let mut conn = RawConn::connect(host.addr());
        for (seed, &size) in (40u64..).zip(BODY_SIZES.iter()) {
            let what = format!("chain of {chain}, {req_framing} request body of {size} B");
            let body = pattern(size, seed);
            // The echo comes back in the same framing the request used.
            let mut wire = format!("POST /echo?framing={req_framing} HTTP/1.1\r\nHost: e2e.test\r\n").into_bytes();
            if req_framing == "length" {
                wire.extend_from_slice(format!("Content-Length: {size}\r\n\r\n").as_bytes());
                wire.extend_from_slice(&body);
            } else {
                wire.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                write_chunked(&mut wire, &body, CHUNK_SIZES).expect("write to a Vec");
            }
            conn.send(&wire).unwrap_or_else(|e| panic!("{what}: send: {e}"));
            let head = conn.read_response_head().unwrap_or_else(|e| panic!("{what}: head: {e}"));
            assert_eq!(head.status, 200, "{what}");
            // A small chunked body may reach the origin with its exact length (module doc);
            // X-Req-Len below says whether the length was right.
            let origin_framing = head.header("x-req-framing");
            let known_early = size < ALWAYS_STREAMED && origin_framing == Some("length");
            assert!(
                origin_framing == Some(req_framing) || known_early,
                "{what}: the origin received a {origin_framing:?} body"
            );
            assert_eq!(head.header("x-req-len"), Some(size.to_string().as_str()), "{what}: length the origin received");
            assert_response_framing(&head, req_framing, size, 1, &format!("{what}, echo"));
            let resp = conn.read_response_body(head, false);
            assert!(resp.complete, "{what}: echo: {:?}", resp.body_error);
            assert_same_bytes(&resp.body, &body, &what);
            requests += 1;
            // Through each transform twice: the request body and its echo.
            bytes += 2 * size as u64;
        }
    }
    assert_chain_carried(&host, chain, requests, bytes);
}

/// Every plugin of the chain took part in every transaction and passed exactly `bytes`
/// (in = out), nothing panicked or broke the protocol, and nothing is left live.
#[track_caller]
fn assert_chain_carried(host: &PluginHost, chain: usize, requests: u64, bytes: u64) {
    let settled =
        |s: &Stats| s.is_idle() && s.plugins.iter().all(|p| p.transactions >= requests && p.bytes_out >= bytes);
    let stats = wait_for_settled(host, settled);
    assert_eq!(stats.plugins.len(), chain, "one /stats entry per plugin.config line: {stats:#?}");
    for (i, p) in stats.plugins.iter().enumerate() {
        let what = format!("plugin #{i} of a chain of {chain} ({})", p.path);
        assert_eq!(p.transactions, requests, "{what}: transactions");
        assert_eq!((p.bytes_in, p.bytes_out), (bytes, bytes), "{what}: bytes in and out");
        assert_eq!((p.aborts, p.panics, p.protocol_errors), (0, 0, 0), "{what}: aborts, panics, protocol errors");
    }
}

/// Waits (bounded) for counters that are updated when a transaction ends.
fn wait_for_settled(host: &PluginHost, settled: impl Fn(&Stats) -> bool) -> Stats {
    match e2e::admin::wait_for_stats(host.admin(), SETTLE_TIMEOUT, &settled) {
        Ok(stats) => stats,
        // Report the document as it is; the assertions that follow say what is wrong.
        Err(_) => host.stats(),
    }
}

#[test]
fn responses_through_1_null_transform() {
    responses_through_chain(&null_chain(1, None));
}

#[test]
fn responses_through_2_null_transforms() {
    responses_through_chain(&null_chain(2, None));
}

#[test]
fn responses_through_5_null_transforms() {
    responses_through_chain(&null_chain(5, None));
}

#[test]
fn request_bodies_through_1_null_transform() {
    request_bodies_through_chain(&null_chain(1, None));
}

#[test]
fn request_bodies_through_2_null_transforms() {
    request_bodies_through_chain(&null_chain(2, None));
}

#[test]
fn request_bodies_through_5_null_transforms() {
    request_bodies_through_chain(&null_chain(5, None));
}

#[test]
fn responses_through_1_c_null_transform() {
    responses_through_chain(&c_null_chain(1));
}

#[test]
fn responses_through_5_c_null_transforms() {
    responses_through_chain(&c_null_chain(5));
}

#[test]
fn request_bodies_through_1_c_null_transform() {
    request_bodies_through_chain(&c_null_chain(1));
}

#[test]
fn request_bodies_through_5_c_null_transforms() {
    request_bodies_through_chain(&c_null_chain(5));
}

/// Rust, C, Rust: blocks shared across plugins of both languages still arrive byte for byte.
fn mixed_chain() -> Vec<String> {
    let rust = null_chain(2, None);
    vec![rust[0].clone(), c_null_chain(1).remove(0), rust[1].clone()]
}

#[test]
fn responses_through_a_chain_of_rust_and_c_null_transforms() {
    responses_through_chain(&mixed_chain());
}

#[test]
fn request_bodies_through_a_chain_of_rust_and_c_null_transforms() {
    request_bodies_through_chain(&mixed_chain());
}

/// A response the origin declares empty (`Content-Length: 0`) ends its transactions
/// cleanly: the chain the plugins asked for is not counted as aborted.
#[test]
fn empty_content_length_response_is_not_an_abort() {
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &null_chain(1, Some("response")));
    let mut conn = RawConn::connect(host.addr());
    conn.send(b"GET /bytes?n=0&framing=length HTTP/1.1\r\nHost: e2e.test\r\n\r\n").expect("send");
    let resp = conn.read_response(false).expect("response");
    assert_eq!((resp.status, resp.header("content-length")), (200, Some("0")), "{:?}", resp.headers);
    drop(conn);
    let stats = wait_for_settled(&host, |s| s.is_idle() && s.plugins.iter().all(|p| p.transactions >= 1));
    assert_eq!(stats.plugins.len(), 1, "{stats:#?}");
    assert_eq!(stats.plugins[0].aborts, 0, "a complete empty response counted as an abort: {stats:#?}");
}
