//! Untransformed response bodies relayed with `splice(2)` (`--splice on`, the default):
//! byte for byte, with keep-alive, cuts, early client closes, HTTP/1.0, bodiless
//! responses, transforms and the byte counters checked on the real host. The
//! `plugin_host_client_spliced_bytes_total` counter tells which path a body took.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use e2e::metrics::scrape;
use e2e::plugins::SETTLE_TIMEOUT;
use e2e::{assert_same_bytes, get_request, null_chain, pattern, HostBuilder, Origin, PluginHost, RawConn};

const MIB: usize = 1024 * 1024;

/// A host without plugins (an empty plugin.config) and with its admin endpoint, one worker.
fn host(origin: SocketAddr, extra: &[(&str, &str)]) -> PluginHost {
    let mut b = HostBuilder::new(origin).threads(1).opt("--access-log-format", "kv");
    for (k, v) in extra {
        b = b.opt(k, v);
    }
    PluginHost::start(b, &[])
}

fn metric(host: &PluginHost, name: &str) -> f64 {
    scrape(host.admin()).value(name, &[])
}

/// Waits (bounded) until `/metrics` shows `name` as `done` wants it (counters land a
/// moment after the response reached the client); returns what it shows last.
fn settle(host: &PluginHost, name: &str, done: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let v = metric(host, name);
        if done(v) || Instant::now() >= deadline {
            return v;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn spliced(host: &PluginHost) -> f64 {
    metric(host, "plugin_host_client_spliced_bytes_total")
}

/// The value of `key=` in a `kv` access log line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// Sends `request` on a new connection and reads everything until the host closes it.
fn exchange(addr: SocketAddr, request: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    s.write_all(request.as_bytes()).expect("send");
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("read to the close");
    all
}

fn split_head(all: &[u8]) -> (&str, &[u8]) {
    let end = all.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole head") + 4;
    (std::str::from_utf8(&all[..end]).expect("ASCII head"), &all[end..])
}

#[test]
fn content_length_bodies_of_1_and_16_mib_arrive_exactly_and_the_connection_stays_alive() {
    let origin = Origin::start();
    let host = host(origin.addr(), &[]);
    let mut conn = RawConn::connect(host.addr());
    for (seed, n) in [(1u64, MIB), (2, 16 * MIB)] {
        conn.send(&get_request(&format!("/bytes?n={n}&seed={seed}"))).expect("send");
        let resp = conn.read_response(false).expect("response");
        assert_eq!(resp.status, 200);
        assert!(resp.complete, "{n} B body incomplete: {:?}", resp.body_error);
        assert_eq!(resp.header("content-length"), Some(n.to_string().as_str()));
        assert_same_bytes(&resp.body, &pattern(n, seed), &format!("spliced {n} B body"));
    }
    // The same client connection, and the same origin connection, carry the next request.
    conn.send(&get_request("/bytes?n=100&seed=3")).expect("send");
    let small = conn.read_response(false).expect("third response");
    assert!(small.complete);
    assert_same_bytes(&small.body, &pattern(100, 3), "small body after spliced ones");
    assert_eq!(origin.accepted(), 1, "the origin connection was not kept alive after spliced bodies");
    let moved = settle(&host, "plugin_host_client_spliced_bytes_total", |v| v >= (15 * MIB) as f64);
    // Only what the host had read before switching to the pipe is not spliced.
    assert!(moved >= (15 * MIB) as f64 && moved <= (17 * MIB) as f64, "spliced bytes: {moved}");
}

#[test]
fn close_delimited_body_to_an_http_1_0_client_is_spliced() {
    let origin = Origin::start();
    let host = host(origin.addr(), &[]);
    let n = 16 * MIB;
    let all = exchange(host.addr(), &format!("GET /bytes?n={n}&seed=7&framing=close HTTP/1.0\r\nHost: t\r\n\r\n"));
    let (head, body) = split_head(&all);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding"), "{head}");
    assert_same_bytes(body, &pattern(n, 7), "close-delimited body to HTTP/1.0");
    let moved = settle(&host, "plugin_host_client_spliced_bytes_total", |v| v > (15 * MIB) as f64);
    assert!(moved > (15 * MIB) as f64, "spliced bytes: {moved}");
}

#[test]
fn http_1_0_client_gets_a_content_length_body_and_the_close() {
    let origin = Origin::start();
    let host = host(origin.addr(), &[]);
    let all = exchange(host.addr(), &format!("GET /bytes?n={MIB}&seed=8 HTTP/1.0\r\nHost: t\r\n\r\n"));
    let (head, body) = split_head(&all);
    assert!(head.contains(&format!("Content-Length: {MIB}")), "{head}");
    assert_same_bytes(body, &pattern(MIB, 8), "1 MiB body to HTTP/1.0");
}

/// Declares `declared` bytes, sends `sent` of them, waits `hold`, then closes (a FIN, not a reset).
fn cutting_origin(declared: usize, sent: usize, hold: Duration) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut head = [0u8; 4096];
            let _ = s.read(&mut head);
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\n\r\n");
            let _ = s.write_all(&pattern(sent, 9));
            thread::sleep(hold);
            let _ = s.shutdown(Shutdown::Both);
        }
    });
    addr
}

#[test]
fn origin_closing_before_content_length_cuts_the_client_connection() {
    let host = host(cutting_origin(4 * MIB, MIB, Duration::ZERO), &[]);
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request("/cut")).expect("send");
    let resp = conn.read_response(false).expect("head");
    assert_eq!(resp.status, 200);
    assert!(!resp.complete, "a cut body ({} B) was passed off as complete", resp.body.len());
    assert!(resp.body.len() <= MIB, "more bytes than the origin sent: {}", resp.body.len());
    assert_same_bytes(&resp.body, &pattern(MIB, 9)[..resp.body.len()], "bytes before the cut");
    assert!(conn.is_closed(Duration::from_secs(10)), "client connection left open after a cut body");
    let line = host
        .wait_for_log(Duration::from_secs(10), |l| l.starts_with("access ") && l.contains("target=/cut"))
        .expect("access line of the cut transaction");
    assert_eq!(field(&line, "outcome"), Some("aborted"), "{line}");
}

#[test]
fn an_origin_that_stalls_mid_body_is_cut_at_the_inactivity_timeout() {
    // The origin holds the connection far longer than the host's inactivity timeout.
    let host = host(cutting_origin(4 * MIB, MIB, Duration::from_secs(30)), &[("--inactivity-timeout-ms", "300")]);
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request("/stall-mid-body")).expect("send");
    let resp = conn.read_response(false).expect("head");
    assert!(!resp.complete, "a stalled body ({} B) was passed off as complete", resp.body.len());
    assert_same_bytes(&resp.body, &pattern(MIB, 9)[..resp.body.len()], "bytes before the stall");
    assert!(conn.is_closed(Duration::from_secs(10)), "client connection left open after the timeout");
    let moved = settle(&host, "plugin_host_client_spliced_bytes_total", |v| v > 0.0);
    assert!(moved > 0.0, "the stalled body did not take the splice path");
}

#[test]
fn client_closing_mid_body_leaves_the_host_serving_and_the_origin_connection_unused() {
    let origin = Origin::start();
    let host = host(origin.addr(), &[]);
    {
        let mut s = TcpStream::connect(host.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
        s.write_all(&get_request(&format!("/bytes?n={}&seed=4", 64 * MIB))).expect("send");
        let mut first = vec![0u8; 256 * 1024];
        let mut got = 0;
        while got < first.len() {
            match s.read(&mut first[got..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        assert!(got > 0, "nothing arrived before the close");
    }
    let line = host
        .wait_for_log(Duration::from_secs(15), |l| l.starts_with("access ") && l.contains("seed=4"))
        .expect("access line of the abandoned transaction");
    assert_eq!(field(&line, "outcome"), Some("aborted"), "{line}");
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request(&format!("/bytes?n={MIB}&seed=5"))).expect("send");
    let resp = conn.read_response(false).expect("next response");
    assert!(resp.complete);
    assert_same_bytes(&resp.body, &pattern(MIB, 5), "body after an abandoned one");
    assert_eq!(origin.accepted(), 2, "the origin connection of the abandoned body was reused");
}

#[test]
fn head_204_and_304_have_no_body_and_the_connection_goes_on() {
    let origin = Origin::start();
    let host = host(origin.addr(), &[]);
    let mut conn = RawConn::connect(host.addr());
    conn.send(format!("HEAD /bytes?n={MIB}&seed=1 HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).expect("send");
    let head = conn.read_response(true).expect("HEAD response");
    assert_eq!(head.header("content-length"), Some(MIB.to_string().as_str()));
    for status in [204, 304] {
        conn.send(&get_request(&format!("/status/{status}"))).expect("send");
        let resp = conn.read_response(false).expect("response");
        assert_eq!(resp.status, status);
        assert!(resp.body.is_empty());
    }
    conn.send(&get_request("/bytes?n=10&seed=2")).expect("send");
    let resp = conn.read_response(false).expect("last response");
    assert_same_bytes(&resp.body, &pattern(10, 2), "body after bodiless responses");
    assert_eq!(spliced(&host), 0.0);
}

#[test]
fn bodies_that_a_transform_or_chunking_touches_take_the_buffered_path() {
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()).threads(1), &null_chain(1, None));
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request(&format!("/bytes?n={}&seed=6", 4 * MIB))).expect("send");
    let resp = conn.read_response(false).expect("response");
    assert!(resp.complete);
    assert_same_bytes(&resp.body, &pattern(4 * MIB, 6), "body through the null transform");
    let sent = settle(&host, "plugin_host_client_sent_bytes_total", |v| v > (4 * MIB) as f64);
    assert!(sent > (4 * MIB) as f64, "sent bytes: {sent}");
    assert_eq!(spliced(&host), 0.0, "a transformed body was spliced");
    drop(host);
    let plain = self::host(origin.addr(), &[]);
    let mut conn = RawConn::connect(plain.addr());
    for framing in ["chunked", "close"] {
        conn.send(&get_request(&format!("/bytes?n={}&seed=7&framing={framing}", 4 * MIB))).expect("send");
        let resp = conn.read_response(false).expect("response");
        assert!(resp.complete, "{framing}");
        assert_eq!(resp.header("transfer-encoding"), Some("chunked"), "{framing} to an HTTP/1.1 client");
        assert_same_bytes(&resp.body, &pattern(4 * MIB, 7), framing);
    }
    let sent = settle(&plain, "plugin_host_client_sent_bytes_total", |v| v > (8 * MIB) as f64);
    assert!(sent > (8 * MIB) as f64, "sent bytes: {sent}");
    assert_eq!(spliced(&plain), 0.0, "a chunked body was spliced");
}

#[test]
fn small_bodies_and_splice_off_are_not_spliced() {
    let origin = Origin::start();
    let host = host(origin.addr(), &[("--splice", "off")]);
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request(&format!("/bytes?n={}&seed=3", 4 * MIB))).expect("send");
    assert_same_bytes(&conn.read_response(false).expect("response").body, &pattern(4 * MIB, 3), "--splice off");
    assert_eq!(spliced(&host), 0.0);
    drop(host);
    let host = self::host(origin.addr(), &[]);
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request("/bytes?n=65535&seed=3")).expect("send");
    assert_same_bytes(&conn.read_response(false).expect("response").body, &pattern(65535, 3), "under the threshold");
    assert_eq!(spliced(&host), 0.0, "a body under --splice-min-bytes was spliced");
}

#[test]
fn access_log_and_metrics_count_exactly_what_the_client_received() {
    let origin = Origin::start();
    let host = host(origin.addr(), &[]);
    let sent_before = metric(&host, "plugin_host_client_sent_bytes_total");
    let n = 16 * MIB;
    let all =
        exchange(host.addr(), &format!("GET /bytes?n={n}&seed=11 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    let (_, body) = split_head(&all);
    assert_same_bytes(body, &pattern(n, 11), "16 MiB body");
    let line = host
        .wait_for_log(Duration::from_secs(10), |l| l.starts_with("access ") && l.contains("seed=11"))
        .expect("access line");
    assert_eq!(field(&line, "bytes_out"), Some(all.len().to_string().as_str()), "{line}");
    let want = sent_before + all.len() as f64;
    assert_eq!(settle(&host, "plugin_host_client_sent_bytes_total", |v| v == want), want);
    let moved = settle(&host, "plugin_host_client_spliced_bytes_total", |v| v > (15 * MIB) as f64);
    assert!(moved > (15 * MIB) as f64, "spliced bytes: {moved}");
}
