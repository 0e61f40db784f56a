//! `flush true` end to end: an event stream reaches the client, decodable, while the origin
//! is still holding the rest of the body back.

use e2e::chunked::{read_crlf_line, read_exact_into};
use e2e::gzip::{decode_prefix, head_text, request_bytes, GzipHost};
use e2e::text::text;
use e2e::{assert_same_bytes, RawConn};

/// Bytes the origin sends before it pauses (for longer than the test can wait).
const FIRST: usize = 5000;
const TOTAL: usize = 200_000;

#[test]
fn flushed_output_decodes_before_the_origin_sends_the_rest() {
    let gz = GzipHost::start(Some("flush true\nsupported-algorithms gzip,deflate,br,zstd\n"));
    for coding in ["gzip", "deflate", "br", "zstd"] {
        let target =
            format!("/text?n={TOTAL}&seed=5&framing=chunked&ct=text%2Fevent-stream&pause_after={FIRST}&pause_ms=60000");
        let mut conn = RawConn::connect(gz.host.addr());
        conn.send(&request_bytes("GET", &target, "HTTP/1.1", &[("Accept-Encoding", coding)])).expect("send");
        let resp = conn.read_response_head().expect("head");
        assert_eq!(resp.header("content-encoding"), Some(coding), "{}", head_text(&resp));
        assert_eq!(resp.header("transfer-encoding"), Some("chunked"), "{}", head_text(&resp));
        let written_before = gz.origin.bytes_written();
        // Read chunks as they come until what arrived decodes to the first part.
        let mut body = Vec::new();
        let mut decoded = Vec::new();
        while decoded.len() < FIRST {
            let line = read_crlf_line(conn.reader()).unwrap_or_else(|e| {
                panic!("{coding}: only {} of {FIRST} bytes decodable before the pause: {e}", decoded.len())
            });
            let size = u64::from_str_radix(std::str::from_utf8(&line).unwrap_or("0"), 16).unwrap_or(0);
            assert!(size > 0, "{coding}: the body ended early");
            read_exact_into(conn.reader(), size, &mut body).expect("chunk data");
            read_crlf_line(conn.reader()).expect("chunk end");
            decoded = decode_prefix(coding, &body);
        }
        assert_same_bytes(&decoded[..FIRST], &text(FIRST, 5), coding);
        // The origin is still paused: what decoded was flushed, not the end of the body.
        assert!(gz.origin.bytes_written() < written_before + TOTAL as u64 / 2, "{coding}: the origin sent the rest");
    }
}
