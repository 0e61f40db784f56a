//! The gzip plugin end to end: bodies of every size, from Content-Length and chunked
//! origins, to HTTP/1.1 and HTTP/1.0 clients and pipelined, in each coding, decoded
//! byte-exact by Debian's own tools; and the same through null + gzip + null.

use e2e::gzip::{decode, fields, head_text, request_bytes, Chain, GzipHost};
use e2e::text::text;
use e2e::{assert_same_bytes, RawConn};

/// Every coding, most preferred first.
const CONFIG: &str = "supported-algorithms gzip,deflate,br,zstd\nminimum-content-length 0\n";
/// 0 B, 1 B, 1 KiB, 64 KiB, 16 MiB.
const SIZES: [usize; 5] = [0, 1, 1024, 64 * 1024, 16 * 1024 * 1024];

#[test]
fn every_coding_every_size_both_origin_framings_http11() {
    let gz = GzipHost::start(Some(CONFIG));
    for coding in ["gzip", "deflate", "br", "zstd"] {
        for n in SIZES {
            for framing in ["length", "chunked"] {
                let target = format!("/text?n={n}&seed={n}&framing={framing}");
                let resp = gz.get(&target, coding);
                let head = head_text(&resp);
                assert_eq!(resp.status, 200, "{head}");
                assert!(resp.complete, "{coding} {target}: {:?}", resp.body_error);
                if n == 0 && framing == "length" {
                    // Content-Length: 0 is never worth compressing.
                    assert!(!resp.has_header("content-encoding"), "{head}");
                    assert_eq!(resp.header("content-length"), Some("0"), "{head}");
                    continue;
                }
                assert_eq!(resp.header("content-encoding"), Some(coding), "{target}\n{head}");
                assert_eq!(fields(&resp, "vary"), ["Accept-Encoding"], "{head}");
                if framing == "length" && n <= 64 * 1024 {
                    // Whole before the head left: an exact length, not chunks.
                    assert_eq!(resp.header("content-length"), Some(resp.body.len().to_string().as_str()), "{head}");
                } else if framing == "length" {
                    assert_eq!(resp.header("transfer-encoding"), Some("chunked"), "{head}");
                    assert!(!resp.has_header("content-length"), "{head}");
                }
                let body = decode(coding, &resp.body);
                assert_same_bytes(&body, &text(n, n as u64), &format!("{coding} {target}"));
                if n >= 1024 {
                    assert!(resp.body.len() * 3 < n, "{coding} {target}: {} bytes compressed", resp.body.len());
                }
            }
        }
    }
}

#[test]
fn http10_clients_get_a_close_delimited_compressed_body() {
    let gz = GzipHost::start(Some(CONFIG));
    for (i, coding) in ["gzip", "deflate", "br", "zstd"].into_iter().enumerate() {
        for n in SIZES {
            // Alternate the origin's framing; the host speaks HTTP/1.1 to the origin either way.
            let framing = if (i + n) % 2 == 0 { "length" } else { "chunked" };
            let mut conn = RawConn::connect(gz.host.addr());
            let target = format!("/text?n={n}&seed=3&framing={framing}");
            conn.send(&request_bytes("GET", &target, "HTTP/1.0", &[("Accept-Encoding", coding)])).expect("send");
            let resp = conn.read_response(false).expect("response");
            let head = head_text(&resp);
            assert!(resp.complete, "{coding} {target}: {:?}", resp.body_error);
            assert!(!resp.has_header("transfer-encoding"), "no chunked to HTTP/1.0: {head}");
            if n == 0 && framing == "length" {
                assert!(!resp.has_header("content-encoding"), "{head}");
                continue;
            }
            assert_eq!(resp.header("content-encoding"), Some(coding), "{target}: {head}");
            if resp.header("content-length").is_none() {
                assert!(
                    conn.is_closed(std::time::Duration::from_secs(10)),
                    "close-delimited body must end with a close"
                );
            }
            assert_same_bytes(&decode(coding, &resp.body), &text(n, 3), &format!("{coding} {target} HTTP/1.0"));
        }
    }
}

#[test]
fn pipelined_requests_each_get_their_own_coding() {
    let gz = GzipHost::start(Some(CONFIG));
    let asks = [("gzip", 5000), ("identity", 3000), ("br", 200_000), ("zstd", 1), ("deflate", 64 * 1024 + 1)];
    let mut batch = Vec::new();
    for (i, (coding, n)) in asks.iter().enumerate() {
        let framing = if i % 2 == 0 { "chunked" } else { "length" };
        batch.extend(request_bytes(
            "GET",
            &format!("/text?n={n}&seed={i}&framing={framing}"),
            "HTTP/1.1",
            &[("Accept-Encoding", coding)],
        ));
    }
    let mut conn = RawConn::connect(gz.host.addr());
    conn.send(&batch).expect("send pipelined batch");
    for (i, (coding, n)) in asks.iter().enumerate() {
        let resp = conn.read_response(false).expect("pipelined response");
        let expected = text(*n, i as u64);
        if *coding == "identity" {
            assert!(!resp.has_header("content-encoding"), "{}", head_text(&resp));
            assert_same_bytes(&resp.body, &expected, "identity");
        } else {
            assert_eq!(resp.header("content-encoding"), Some(*coding), "{}", head_text(&resp));
            assert_same_bytes(&decode(coding, &resp.body), &expected, coding);
        }
    }
}

#[test]
fn null_gzip_null_chain_compresses_once_and_decodes() {
    let gz = GzipHost::start_chain(Some(CONFIG), Chain::BetweenNulls);
    for (n, framing) in
        [(0, "chunked"), (1, "length"), (1024, "chunked"), (64 * 1024, "length"), (16 * 1024 * 1024, "chunked")]
    {
        let resp = gz.get(&format!("/text?n={n}&seed=9&framing={framing}"), "gzip");
        assert_eq!(resp.header("content-encoding"), Some("gzip"), "{}", head_text(&resp));
        assert_same_bytes(&decode("gzip", &resp.body), &text(n, 9), "null+gzip+null");
    }
    let stats = gz.host.wait_idle();
    assert_eq!(stats.plugins.len(), 3, "{stats:?}");
    assert!(stats.plugins.iter().all(|p| p.faults() == (0, 0, 0)), "{stats:?}");
}

#[test]
fn a_client_leaving_mid_body_leaves_nothing_behind() {
    let gz = GzipHost::start(Some(CONFIG));
    for coding in ["gzip", "br", "zstd"] {
        let mut conn = RawConn::connect(gz.host.addr());
        let target = format!("/text?n={}&framing=chunked", 16 * 1024 * 1024);
        conn.send(&request_bytes("GET", &target, "HTTP/1.1", &[("Accept-Encoding", coding)])).expect("send");
        let head = conn.read_response_head().expect("head");
        assert_eq!(head.header("content-encoding"), Some(coding), "{}", head_text(&head));
        let some = conn.read_available(4096);
        assert!(!some.is_empty(), "{coding}: no body bytes before leaving");
        drop(conn);
    }
    let stats = gz.host.wait_idle();
    let gzip = stats.plugins.iter().find(|p| p.name == "plugin-gzip").expect("gzip entry");
    assert_eq!((gzip.panics, gzip.protocol_errors), (0, 0), "{stats:?}");
    // And the host still serves.
    let resp = gz.get("/text?n=5000", "gzip");
    assert_same_bytes(&decode("gzip", &resp.body), &text(5000, 1), "after the aborts");
}

#[test]
fn concurrent_clients_each_decode_their_own_body() {
    let gz = GzipHost::start(Some(CONFIG));
    let addr = gz.host.addr();
    let workers: Vec<_> = (0..16u64)
        .map(|w| {
            std::thread::spawn(move || {
                let coding = ["gzip", "deflate", "br", "zstd"][(w % 4) as usize];
                let mut conn = RawConn::connect(addr);
                for i in 0..4u64 {
                    let n = [1, 5000, 70_000, 300_000][((w + i) % 4) as usize];
                    let seed = w * 10 + i;
                    let framing = if i % 2 == 0 { "chunked" } else { "length" };
                    let target = format!("/text?n={n}&seed={seed}&framing={framing}");
                    conn.send(&request_bytes("GET", &target, "HTTP/1.1", &[("Accept-Encoding", coding)]))
                        .expect("send");
                    let resp = conn.read_response(false).expect("response");
                    assert_eq!(resp.header("content-encoding"), Some(coding), "{}", head_text(&resp));
                    assert_same_bytes(&decode(coding, &resp.body), &text(n, seed), &format!("worker {w} {target}"));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker failed");
    }
}
