//! The scanner in replace mode, end to end: Content-Length and chunked origins trickling
//! their bodies, HTTP/1.0 and HTTP/1.1 clients.
//!
//! - Replacements of another length make the output length unknown: an HTTP/1.1 client
//!   gets the body chunked, an HTTP/1.0 client close-delimited, and never a
//!   Content-Length (which would be stale).
//! - Replacements of the same length keep a Content-Length origin's Content-Length.
//! - The replacement is not rescanned; matches split across reads are replaced whole.

use e2e::scanner::{counters, expect, scanner_host};
use e2e::trickle::{TrickleFraming, TrickleOrigin, TrickleReply};
use e2e::{assert_same_bytes, pattern, RawConn, RawResponse};

/// Pattern, replacement: the replacement of `secret` contains `secret` (not rescanned).
const PATTERNS: &[u8] = b"secret\t<secret-redacted>\nabcd\tX\nbc\t\ncde\t[CDE]\n\\x00\\xff\t\\xff\\x00\n";
/// Same-length replacements.
const SAME_LENGTH: &[u8] = b"secret\tSECRET\n\\x00\\xff\t\\xff\\x00\n";

/// `n` segments of filler and planted matches, and what each replacement set makes of them.
fn bodies(n: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (mut body, mut replaced, mut same) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        // Filler bytes 0x80..0xbf cannot form or extend any pattern.
        let filler: Vec<u8> = pattern(29 + i % 13, i as u64).iter().map(|b| 0x80 | (b & 0x3f)).collect();
        for out in [&mut body, &mut replaced, &mut same] {
            out.extend_from_slice(&filler);
        }
        body.extend_from_slice(b"(secret abcd abccde \x00\xff)");
        replaced.extend_from_slice(b"(<secret-redacted> X a[CDE] \xff\x00)");
        same.extend_from_slice(b"(SECRET abcd abccde \xff\x00)");
    }
    (body, replaced, same)
}

fn fetch(host: std::net::SocketAddr, minor: u8) -> RawResponse {
    let mut conn = RawConn::connect(host);
    let req = format!("GET /doc HTTP/1.{minor}\r\nHost: e2e.test\r\n\r\n");
    conn.send(req.as_bytes()).expect("send request");
    conn.read_response(false).expect("response")
}

#[test]
fn other_length_replacements_drop_content_length() {
    let (body, replaced, _) = bodies(80);
    for framing in [TrickleFraming::Length, TrickleFraming::Chunked] {
        let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 11).framing(framing));
        let host = scanner_host(origin.addr(), PATTERNS, "--mode replace");
        for minor in [0, 1] {
            let what = format!("{framing:?} origin, HTTP/1.{minor} client");
            let resp = fetch(host.addr(), minor);
            assert_eq!(resp.status, 200, "{what}");
            assert!(resp.complete, "{what}: {:?}", resp.body_error);
            assert_same_bytes(&resp.body, &replaced, &what);
            assert_eq!(resp.header("content-length"), None, "{what}: a stale Content-Length");
            if minor == 1 {
                assert_eq!(resp.header("transfer-encoding"), Some("chunked"), "{what}");
            } else {
                assert_eq!(resp.header("transfer-encoding"), None, "{what}: HTTP/1.0 cannot take chunked");
            }
        }
        let stats = host.wait_idle();
        // Five matches per segment, 80 segments, two fetches.
        let want = [("scanned", 2), ("matches", 800), ("replaced", 800)];
        assert_eq!(counters(&stats, 0, &["scanned", "matches", "replaced"]), expect(&want), "{framing:?}");
    }
}

#[test]
fn same_length_replacements_keep_content_length() {
    let (body, _, same) = bodies(40);
    let origin = TrickleOrigin::start(TrickleReply::new(body.clone(), 11));
    let host = scanner_host(origin.addr(), SAME_LENGTH, "--mode replace");
    for minor in [0, 1] {
        let resp = fetch(host.addr(), minor);
        assert!(resp.complete, "HTTP/1.{minor}: {:?}", resp.body_error);
        assert_same_bytes(&resp.body, &same, "same-length replacement");
        assert_eq!(resp.header("content-length"), Some(body.len().to_string().as_str()), "HTTP/1.{minor}");
    }
    host.wait_idle();
}
