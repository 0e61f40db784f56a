//! The gzip plugin's rules end to end, one test each, with the raw response head checked:
//! what is compressed, what is skipped and why, and the header edits (Content-Encoding,
//! Content-Length, Accept-Ranges, Vary, ETag) that go with each outcome.

use e2e::gzip::{decode, fields, head_text, GzipHost};
use e2e::text::text;
use e2e::{assert_same_bytes, RawResponse};

const HTML: &str = "text%2Fhtml%3B%20charset%3Dutf-8";

#[track_caller]
fn assert_compressed(resp: &RawResponse, coding: &str, n: usize, seed: u64) {
    let head = head_text(resp);
    assert_eq!(resp.header("content-encoding"), Some(coding), "{head}");
    assert!(!resp.has_header("accept-ranges"), "{head}");
    assert_eq!(
        fields(resp, "vary").iter().filter(|v| v.to_ascii_lowercase().contains("accept-encoding")).count(),
        1,
        "{head}"
    );
    assert_same_bytes(&decode(coding, &resp.body), &text(n, seed), coding);
}

#[track_caller]
fn assert_identity(resp: &RawResponse, n: usize, seed: u64, vary: bool) {
    let head = head_text(resp);
    assert!(!resp.has_header("content-encoding"), "{head}");
    assert_eq!(resp.header("content-length"), Some(n.to_string().as_str()), "{head}");
    assert_eq!(fields(resp, "vary") == ["Accept-Encoding"], vary, "Vary: Accept-Encoding expected: {vary}\n{head}");
    assert_same_bytes(&resp.body, &text(n, seed), "identity");
}

#[test]
fn listed_media_types_are_compressed_others_are_not() {
    let gz = GzipHost::start(None);
    for ct in
        [HTML, "text%2Fcss", "application%2Fjson", "application%2Fjavascript", "image%2Fsvg%2Bxml", "APPLICATION%2FXML"]
    {
        let resp = gz.get(&format!("/text?n=5000&ct={ct}"), "gzip");
        assert_compressed(&resp, "gzip", 5000, 1);
    }
    for ct in ["image%2Fpng", "application%2Foctet-stream", "none"] {
        let resp = gz.get(&format!("/text?n=5000&ct={ct}"), "gzip");
        assert_identity(&resp, 5000, 1, false);
    }
}

#[test]
fn a_declared_length_under_the_minimum_is_sent_as_is() {
    let gz = GzipHost::start(None);
    assert_identity(&gz.get("/text?n=1023", "gzip"), 1023, 1, false);
    assert_compressed(&gz.get("/text?n=1024", "gzip"), "gzip", 1024, 1);
    // Unknown length (chunked): nothing to compare with the minimum, so it is compressed.
    assert_compressed(&gz.get("/text?n=10&framing=chunked", "gzip"), "gzip", 10, 1);
}

#[test]
fn statuses_not_listed_are_sent_as_is() {
    let gz = GzipHost::start(None);
    let resp = gz.get("/text?n=5000&status=500", "gzip");
    assert_eq!(resp.status, 500);
    assert_identity(&resp, 5000, 1, false);
    let resp = gz.get("/text?n=5000&status=404", "gzip");
    assert_eq!(resp.status, 404);
    assert_compressed(&resp, "gzip", 5000, 1);
}

#[test]
fn an_encoded_response_is_never_encoded_twice() {
    let gz = GzipHost::start(None);
    let resp = gz.get("/text?n=5000&h=Content-Encoding:br", "gzip, br");
    assert_eq!(fields(&resp, "content-encoding"), ["br"], "{}", head_text(&resp));
    assert_eq!(resp.header("content-length"), Some("5000"));
    assert_same_bytes(&resp.body, &text(5000, 1), "passed through untouched");
}

#[test]
fn no_transform_on_the_response_or_the_request_is_obeyed() {
    let gz = GzipHost::start(None);
    let resp = gz.get("/text?n=5000&h=Cache-Control:public,%20no-transform", "gzip");
    assert_identity(&resp, 5000, 1, false);
    let resp = gz.request("GET", "/text?n=5000", &[("Accept-Encoding", "gzip"), ("Cache-Control", "no-transform")]);
    assert_identity(&resp, 5000, 1, false);
}

#[test]
fn compressing_drops_content_length_and_accept_ranges_and_weakens_the_etag() {
    let gz = GzipHost::start(None);
    let resp = gz.get("/text?n=200000&h=ETag:%22v1%22&h=Accept-Ranges:bytes", "gzip");
    let head = head_text(&resp);
    assert_compressed(&resp, "gzip", 200_000, 1);
    assert!(!resp.has_header("content-length"), "{head}");
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"), "{head}");
    assert_eq!(resp.header("etag"), Some("W/\"v1\""), "{head}");
    let weak = gz.get("/text?n=5000&h=ETag:W%2F%22v2%22", "gzip");
    assert_eq!(weak.header("etag"), Some("W/\"v2\""), "{}", head_text(&weak));
    let identity = gz.get("/text?n=5000&h=ETag:%22v1%22", "identity");
    assert_eq!(identity.header("etag"), Some("\"v1\""), "identity keeps the strong tag: {}", head_text(&identity));
}

#[test]
fn vary_is_merged_never_doubled_and_star_is_left_alone() {
    let gz = GzipHost::start(None);
    let resp = gz.get("/text?n=5000&h=Vary:Origin", "gzip");
    assert_eq!(fields(&resp, "vary"), ["Origin, Accept-Encoding"], "{}", head_text(&resp));
    let resp = gz.get("/text?n=5000&h=Vary:accept-encoding", "gzip");
    assert_eq!(fields(&resp, "vary"), ["accept-encoding"], "{}", head_text(&resp));
    let resp = gz.get("/text?n=5000&h=Vary:*", "gzip");
    assert_eq!(fields(&resp, "vary"), ["*"], "{}", head_text(&resp));
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
}

#[test]
fn a_client_that_accepts_no_coding_gets_identity_with_vary() {
    let gz = GzipHost::start(None);
    assert_identity(&gz.request("GET", "/text?n=5000", &[]), 5000, 1, true);
    for accept in ["gzip;q=0", "identity", "br", "*;q=0", "", "gzip;q=2", ";;,,q=;", "gz\u{ef}p;q=\u{e9}"] {
        assert_identity(&gz.get("/text?n=5000", accept), 5000, 1, true);
    }
}

#[test]
fn q_values_decide_and_ties_follow_supported_algorithms() {
    let gz = GzipHost::start(Some("supported-algorithms br,gzip,zstd\n"));
    for (accept, coding) in [
        ("gzip;q=0.5, br;q=0.4", "gzip"),
        ("gzip, br", "br"),
        ("zstd, gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("GZIP", "gzip"),
        ("*", "br"),
        ("*;q=0.1, br;q=0", "gzip"),
        ("deflate, zstd;q=0.9", "zstd"),
        ("gzip;q=0.001", "gzip"),
    ] {
        let resp = gz.get("/text?n=5000", accept);
        assert_eq!(resp.header("content-encoding"), Some(coding), "{accept}: {}", head_text(&resp));
        assert_same_bytes(&decode(coding, &resp.body), &text(5000, 1), accept);
    }
}

#[test]
fn head_gets_the_headers_a_get_would_get_without_a_stale_length() {
    let gz = GzipHost::start(None);
    let get = gz.get("/text?n=5000&h=ETag:%22v1%22", "gzip");
    let head = gz.request("HEAD", "/text?n=5000&h=ETag:%22v1%22", &[("Accept-Encoding", "gzip")]);
    let text = head_text(&head);
    assert!(head.body.is_empty(), "{text}");
    assert!(!head.has_header("content-length"), "no stale Content-Length: {text}");
    for name in ["content-encoding", "vary", "etag", "content-type"] {
        assert_eq!(head.header(name), get.header(name), "{name}: HEAD {text} vs GET {}", head_text(&get));
    }
    // The connection is still usable: no body was expected or sent.
    let again = gz.request("HEAD", "/text?n=5000", &[]);
    assert_eq!(again.header("content-length"), Some("5000"), "identity HEAD keeps its length: {}", head_text(&again));
}

#[test]
fn no_content_and_not_modified_get_no_invented_content_encoding() {
    let gz = GzipHost::start(None);
    let resp = gz.get("/text?status=204", "gzip");
    assert_eq!(resp.status, 204);
    assert!(!resp.has_header("content-encoding"), "{}", head_text(&resp));
    let resp = gz.get("/text?status=304&ct=none&h=ETag:%22v1%22", "gzip");
    let head = head_text(&resp);
    assert_eq!(resp.status, 304);
    assert!(!resp.has_header("content-encoding"), "{head}");
    // It validates the compressed variant: the same Vary and weak ETag a 200 would carry.
    assert_eq!(fields(&resp, "vary"), ["Accept-Encoding"], "{head}");
    assert_eq!(resp.header("etag"), Some("W/\"v1\""), "{head}");
}

#[test]
fn range_requests_follow_range_request() {
    // Default, no-compression: a Range request is answered uncompressed (the origin here
    // ignores Range and sends all of it), and the answer still varies on Accept-Encoding.
    let gz = GzipHost::start(None);
    let resp = gz.request("GET", "/text?n=5000", &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-99")]);
    assert_identity(&resp, 5000, 1, true);

    // none: the request passes as it is; a 206 is still never compressed.
    let gz = GzipHost::start(Some("range-request none\n"));
    let resp = gz.request(
        "GET",
        "/text?n=5000&status=206&h=Content-Range:bytes%200-4999%2F9000",
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-4999")],
    );
    assert_eq!(resp.status, 206);
    assert!(!resp.has_header("content-encoding"), "{}", head_text(&resp));
    assert_same_bytes(&resp.body, &text(5000, 1), "206 passed through");
    assert_eq!(
        gz.origin.requests().last().and_then(|r| r.header("range").map(str::to_string)).as_deref(),
        Some("bytes=0-4999")
    );

    // remove-range: the origin never sees Range and the whole body is compressed.
    let gz = GzipHost::start(Some("range-request remove-range\n"));
    let resp = gz.request("GET", "/text?n=5000", &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-99")]);
    assert_compressed(&resp, "gzip", 5000, 1);
    let seen = gz.origin.requests();
    assert!(seen.iter().all(|r| r.header("range").is_none()), "the origin saw a Range");

    // remove-accept-encoding: the origin sees Range but no Accept-Encoding; no compression.
    let gz = GzipHost::start(Some("range-request remove-accept-encoding\n"));
    let resp = gz.request("GET", "/text?n=5000", &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-99")]);
    assert!(!resp.has_header("content-encoding"), "{}", head_text(&resp));
    let seen = gz.origin.requests();
    let last = seen.last().expect("a request reached the origin");
    assert!(last.header("accept-encoding").is_none() && last.header("range").is_some(), "{:?}", last.headers);
}

#[test]
fn remove_accept_encoding_hides_it_from_the_origin() {
    let gz = GzipHost::start(Some("remove-accept-encoding true\n"));
    let resp = gz.get("/text?n=5000", "gzip");
    assert_compressed(&resp, "gzip", 5000, 1);
    let seen = gz.origin.requests();
    let last = seen.last().expect("a request reached the origin");
    for (name, _) in &last.headers {
        let name = name.to_ascii_lowercase();
        assert!(
            name != "accept-encoding" && !name.starts_with("x-plugin-gzip"),
            "the origin saw {name}: {:?}",
            last.headers
        );
    }
    // Without the key the origin sees the client's Accept-Encoding as sent.
    let gz = GzipHost::start(None);
    gz.get("/text?n=5000", "gzip;q=0.5");
    let seen = gz.origin.requests();
    assert_eq!(
        seen.last().and_then(|r| r.header("accept-encoding").map(str::to_string)).as_deref(),
        Some("gzip;q=0.5")
    );
}

#[test]
fn enabled_allow_and_host_sections() {
    let config = "\
enabled false
[on.test]
enabled true
allow !*/private/*
allow /static/*
[fast.test]
enabled true
gzip-level 1
[best.test]
enabled true
gzip-level 9
";
    let gz = GzipHost::start(Some(config));
    let get = |host: &str, target: &str| gz.request("GET", target, &[("Host", host), ("Accept-Encoding", "gzip")]);
    assert_identity(&get("e2e.test", "/text?n=5000"), 5000, 1, false);
    assert_identity(&get("on.test", "/text?n=5000"), 5000, 1, false);
    assert_compressed(&get("on.test:8080", "/static/text?n=5000"), "gzip", 5000, 1);
    assert_identity(&get("ON.test", "/static/private/text?n=5000"), 5000, 1, false);
    // Levels per host: the same body, smaller at 9 than at 1.
    let fast = get("fast.test", "/text?n=300000");
    let best = get("best.test", "/text?n=300000");
    assert_compressed(&fast, "gzip", 300_000, 1);
    assert_compressed(&best, "gzip", 300_000, 1);
    assert!(best.body.len() < fast.body.len(), "level 9 {} bytes, level 1 {} bytes", best.body.len(), fast.body.len());
}

#[test]
fn a_config_with_every_key_is_loaded_and_obeyed() {
    let config = "\
# every key once
enabled true
cache true
remove-accept-encoding true
compressible-content-type text/*
compressible-content-type !text/plain
compressible-content-type application/json
content_type_ignore_parameters true
compressible-status-code 200, 410
minimum-content-length 100
range-request remove-range
supported-algorithms zstd,br,gzip,deflate
flush false
allow *
gzip-level 5
brotli-level 3
brotli-lgwin 16
zstd-level 7
";
    let gz = GzipHost::start(Some(config));
    assert_compressed(&gz.get("/text?n=100", "gzip, br, zstd"), "zstd", 100, 1);
    assert_compressed(&gz.get("/text?n=5000&status=410&ct=application%2Fjson", "br"), "br", 5000, 1);
    assert_identity(&gz.get("/text?n=99", "gzip"), 99, 1, false);
    assert_identity(&gz.get("/text?n=5000&status=404", "gzip"), 5000, 1, false);
    assert_identity(&gz.get("/text?n=5000&ct=text%2Fplain", "gzip"), 5000, 1, false);
    assert!(gz.host.logs().contains("`cache` is ignored"), "the ignored key is noted in the log:\n{}", gz.host.logs());
}
