//! The config file: every key, sections, defaults, and each mistake's message.

use super::*;

fn parse(text: &str) -> Result<Config, String> {
    Config::parse("compress.config", text)
}

#[test]
fn every_key_is_read() {
    let text = "\
# a comment
enabled true
remove-accept-encoding true   # trailing comment
compressible-content-type text/*
compressible-content-type !text/event-stream
compressible-content-type application/json
content_type_ignore_parameters false
compressible-status-code 200, 206 ,404
minimum-content-length 860
range-request remove-range
supported-algorithms zstd,br, gzip,deflate
flush true
allow /static/*
allow !*.png
cache false
gzip-level 1
brotli-level 4
brotli-lgwin 18
zstd-level 19
";
    let c = parse(text).expect("valid");
    let g = &c.global;
    assert!(g.enabled && g.remove_accept_encoding && g.flush && !g.ignore_type_parameters);
    assert_eq!(g.content_types, ["text/*", "!text/event-stream", "application/json"]);
    assert_eq!(g.status_codes, [200, 206, 404]);
    assert_eq!(g.minimum_content_length, 860);
    assert_eq!(g.range_request, RangeRequest::RemoveRange);
    assert_eq!(g.algorithms, [Coding::Zstd, Coding::Brotli, Coding::Gzip, Coding::Deflate]);
    assert_eq!(g.allow, ["/static/*", "!*.png"]);
    assert_eq!((g.gzip_level, g.brotli_level, g.brotli_lgwin, g.zstd_level), (1, 4, 18, 19));
    assert_eq!(c.notices.len(), 1);
    assert!(c.notices[0].starts_with("compress.config:15: `cache` is ignored"), "{:?}", c.notices);
}

#[test]
fn traffic_server_spellings_are_accepted() {
    let c = parse("compressible-status-codes 200\ngzip-compression-level 9\nbrotli-compression-level 11\nzstd-compression-level 22\nrange-request true\n").expect("valid");
    assert_eq!(c.global.status_codes, [200]);
    assert_eq!((c.global.gzip_level, c.global.brotli_level, c.global.zstd_level), (9, 11, 22));
    assert_eq!(c.global.range_request, RangeRequest::None);
    assert_eq!(parse("range-request false").expect("valid").global.range_request, RangeRequest::NoCompression);
}

#[test]
fn sections_inherit_the_global_settings_and_override_lists() {
    let text = "\
minimum-content-length 10
compressible-content-type text/*
[WWW.Example.com]
flush true
compressible-content-type application/json
compressible-content-type text/css
[off.example.com]
enabled false
";
    let c = parse(text).expect("valid");
    let www = c.for_host(Some(b"www.example.com:8080"));
    assert!(www.flush);
    assert_eq!(www.minimum_content_length, 10);
    assert_eq!(www.content_types, ["application/json", "text/css"]);
    assert!(!c.for_host(Some(b"OFF.example.com")).enabled);
    let other = c.for_host(Some(b"other.example.com"));
    assert_eq!(other, &c.global);
    assert_eq!(c.for_host(None), &c.global);
    assert_eq!(c.global.content_types, ["text/*"]);
}

#[test]
fn no_file_means_the_defaults() {
    let c = parse("").expect("empty is valid");
    assert_eq!(c.global, Settings::default());
    assert_eq!(c.global.minimum_content_length, 1024);
    assert_eq!(c.global.gzip_level, 6);
}

#[test]
fn mistakes_name_the_line_and_the_fix() {
    let cases = [
        ("enabled yes", "compress.config:1: enabled: \"yes\" is not a boolean; write true or false"),
        ("\n\nbogus 1", "compress.config:3: unknown key \"bogus\"; the keys are:"),
        ("flush", "compress.config:1: flush needs a value"),
        ("allow /a /b", "compress.config:1: allow takes one value"),
        ("gzip-level 10", "compress.config:1: gzip-level: \"10\" is not a whole number from 1 to 9"),
        ("zstd-level 0", "zstd-level: \"0\" is not a whole number from 1 to 22"),
        ("brotli-lgwin 25", "brotli-lgwin"),
        ("minimum-content-length -1", "minimum-content-length: \"-1\""),
        ("supported-algorithms gzip,lzma", "compress.config:1: supported-algorithms: unknown algorithm \"lzma\""),
        ("supported-algorithms x-gzip", "unknown algorithm \"x-gzip\""),
        ("compressible-status-code 200,abc", "\"abc\" is not a status code"),
        ("compressible-status-code 99", "\"99\" is not a status code"),
        ("compressible-status-code", "needs a comma list"),
        ("range-request some", "range-request: unknown value \"some\""),
        ("[a]\nflush true\n[A]", "compress.config:3: section [a] repeats the one at line 1"),
        ("[]", "bad section line"),
        ("[a] flush", "bad section line"),
        ("cache maybe", "cache: \"maybe\" is not a boolean"),
    ];
    for (text, want) in cases {
        let err = parse(text).expect_err(text);
        assert!(err.contains(want), "{text:?}: {err}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let err = Config::load("/nonexistent/compress.config").expect_err("missing");
    assert!(err.starts_with("/nonexistent/compress.config: cannot read"), "{err}");
}
