//! Every rule of the request and response halves, on plain field lists.

use super::*;
use crate::fields::FieldList;

fn settings(algorithms: &[Coding]) -> Settings {
    Settings { algorithms: algorithms.to_vec(), ..Settings::default() }
}

fn html(len: &str) -> FieldList {
    FieldList::of(&[("Content-Type", "text/html; charset=utf-8"), ("Content-Length", len), ("ETag", "\"v1\"")])
}

#[test]
fn a_compressible_response_is_compressed_with_its_head_rewritten() {
    let s = settings(&[Coding::Brotli, Coding::Gzip]);
    let mut req = FieldList::of(&[("Accept-Encoding", "gzip, br;q=0.9")]);
    let verdict = on_request(&s, "/index.html", &mut req);
    assert_eq!(verdict, Ok(Coding::Gzip));
    let mut resp = html("5000");
    resp.0.push(("Accept-Ranges".into(), b"bytes".to_vec()));
    resp.0.push(("Vary".into(), b"Origin".to_vec()));
    assert_eq!(on_response(&s, verdict, 200, &mut resp), Ok(Coding::Gzip));
    assert_eq!(resp.text("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(resp.text("content-length"), None);
    assert_eq!(resp.text("accept-ranges"), None);
    assert_eq!(resp.text("vary").as_deref(), Some("Origin, Accept-Encoding"));
    assert_eq!(resp.text("etag").as_deref(), Some("W/\"v1\""));
    assert_eq!(req.text("accept-encoding").as_deref(), Some("gzip, br;q=0.9"), "kept without remove-accept-encoding");
}

#[test]
fn not_accepted_still_varies_but_changes_nothing_else() {
    let s = settings(&[Coding::Gzip]);
    for ae in [None, Some("br"), Some("gzip;q=0"), Some("identity")] {
        let mut req = FieldList::default();
        if let Some(ae) = ae {
            req.set("Accept-Encoding", ae.as_bytes());
        }
        let verdict = on_request(&s, "/", &mut req);
        assert_eq!(verdict, Err(Skip::NotAccepted), "{ae:?}");
        let mut resp = html("5000");
        assert_eq!(on_response(&s, verdict, 200, &mut resp), Err(Skip::NotAccepted));
        assert_eq!(resp.text("vary").as_deref(), Some("Accept-Encoding"));
        assert_eq!(resp.text("etag").as_deref(), Some("\"v1\""), "identity keeps its strong ETag");
        assert_eq!(resp.text("content-length").as_deref(), Some("5000"));
    }
}

#[test]
fn each_skip_rule_has_its_reason_and_leaves_the_head_alone() {
    let s = settings(&[Coding::Gzip]);
    let ok = Ok(Coding::Gzip);
    let cases: Vec<(u16, FieldList, Skip)> = vec![
        (500, html("5000"), Skip::Status),
        (200, FieldList::of(&[("Content-Type", "image/png"), ("Content-Length", "5000")]), Skip::Type),
        (200, FieldList::of(&[("Content-Length", "5000")]), Skip::Type),
        (200, html("1023"), Skip::Size),
        (200, html("0"), Skip::Size),
        (200, FieldList::of(&[("Content-Type", "text/css"), ("Content-Encoding", "gzip")]), Skip::Encoded),
        (
            200,
            FieldList::of(&[("Content-Type", "text/css"), ("Cache-Control", "public, no-transform")]),
            Skip::NoTransform,
        ),
        (206, FieldList::of(&[("Content-Type", "text/css"), ("Content-Range", "bytes 0-9/100")]), Skip::Range),
        (200, FieldList::of(&[("Content-Type", "text/css"), ("Content-Range", "bytes 0-9/100")]), Skip::Range),
    ];
    for (status, mut resp, why) in cases {
        let before = resp.clone();
        assert_eq!(on_response(&s, ok, status, &mut resp), Err(why), "{status} {before:?}");
        assert_eq!(resp, before, "a skipped response is not edited ({why:?})");
    }
}

#[test]
fn types_match_without_parameters_with_exclusions_and_case() {
    let mut s = settings(&[Coding::Gzip]);
    s.content_types = vec!["text/*".into(), "!text/event-stream".into(), "*json".into(), "*ml;*".into()];
    for (t, yes) in [
        ("text/html", true),
        ("TEXT/Plain; charset=utf-8", true),
        ("text/event-stream", false),
        ("application/problem+json", true),
        ("image/png", false),
        ("application/xml; charset=utf-8", true),
        ("application/xml", false),
    ] {
        assert_eq!(type_compressible(&s, t), yes, "{t}");
    }
    s.ignore_type_parameters = false;
    assert!(!type_compressible(&s, "application/json; charset=utf-8"));
}

#[test]
fn default_types_cover_text_json_javascript_xml_svg() {
    let s = Settings::default();
    for t in [
        "text/html",
        "text/css",
        "application/json",
        "application/ld+json",
        "application/javascript",
        "application/xml",
        "application/atom+xml",
        "image/svg+xml",
    ] {
        assert!(type_compressible(&s, t), "{t}");
    }
    for t in ["image/png", "application/octet-stream", "video/mp4", "application/zip"] {
        assert!(!type_compressible(&s, t), "{t}");
    }
}

#[test]
fn unknown_length_is_compressed_and_the_minimum_is_configurable() {
    let mut s = settings(&[Coding::Gzip]);
    let mut chunked = FieldList::of(&[("Content-Type", "text/plain")]);
    assert_eq!(on_response(&s, Ok(Coding::Gzip), 200, &mut chunked), Ok(Coding::Gzip));
    s.minimum_content_length = 1;
    assert_eq!(on_response(&s, Ok(Coding::Gzip), 200, &mut html("1")), Ok(Coding::Gzip));
    assert_eq!(on_response(&s, Ok(Coding::Gzip), 200, &mut html("0")), Err(Skip::Size));
}

#[test]
fn no_transform_on_the_request_is_honoured_too() {
    let s = settings(&[Coding::Gzip]);
    let mut req = FieldList::of(&[("Accept-Encoding", "gzip"), ("Cache-Control", "no-transform")]);
    let verdict = on_request(&s, "/", &mut req);
    assert_eq!(verdict, Err(Skip::NoTransform));
    assert_eq!(on_response(&s, verdict, 200, &mut html("5000")), Err(Skip::NoTransform));
}

#[test]
fn disabled_and_disallowed_urls_are_left_alone() {
    let mut s = settings(&[Coding::Gzip]);
    s.enabled = false;
    let mut req = FieldList::of(&[("Accept-Encoding", "gzip")]);
    assert_eq!(on_request(&s, "/", &mut req), Err(Skip::Disabled));
    let mut resp = html("5000");
    assert_eq!(on_response(&s, Err(Skip::Disabled), 200, &mut resp), Err(Skip::Disabled));
    assert_eq!(resp, html("5000"), "disabled: not even Vary");

    s.enabled = true;
    s.allow = vec!["!*/private/*".into(), "/static/*".into()];
    for (url, allowed) in
        [("/static/a.js", true), ("/static/private/a.js", false), ("/other", false), ("http://h/static/x?y=1", true)]
    {
        assert_eq!(on_request(&s, url, &mut req.clone()) != Err(Skip::Disabled), allowed, "{url}");
    }
    s.allow = vec!["!*.png".into()];
    assert_eq!(on_request(&s, "/a.html", &mut req.clone()), Ok(Coding::Gzip), "exclusions only: the rest is allowed");
    assert_eq!(on_request(&s, "/a.png", &mut req.clone()), Err(Skip::Disabled));
}

#[test]
fn range_request_modes() {
    let req = FieldList::of(&[("Accept-Encoding", "gzip"), ("Range", "bytes=0-99")]);
    let with = |mode| Settings { range_request: mode, ..settings(&[Coding::Gzip]) };

    let mut r = req.clone();
    assert_eq!(on_request(&with(RangeRequest::NoCompression), "/", &mut r), Err(Skip::Range));
    assert_eq!(r, req, "no-compression changes no header");

    let mut r = req.clone();
    assert_eq!(on_request(&with(RangeRequest::RemoveRange), "/", &mut r), Ok(Coding::Gzip));
    assert_eq!(r.text("range"), None);

    let mut r = req.clone();
    assert_eq!(on_request(&with(RangeRequest::RemoveAcceptEncoding), "/", &mut r), Err(Skip::Range));
    assert_eq!((r.text("accept-encoding"), r.text("range").as_deref()), (None, Some("bytes=0-99")));

    let mut r = req.clone();
    let s = with(RangeRequest::None);
    let verdict = on_request(&s, "/", &mut r);
    assert_eq!(verdict, Ok(Coding::Gzip));
    assert_eq!(r, req);
    // The origin honoured the Range: a 206 is never wrapped, whatever the mode.
    let mut part = FieldList::of(&[("Content-Type", "text/plain"), ("Content-Range", "bytes 0-99/5000")]);
    assert_eq!(on_response(&s, verdict, 206, &mut part), Err(Skip::Range));
    // It ignored it and sent everything: that compresses.
    assert_eq!(on_response(&s, verdict, 200, &mut html("5000")), Ok(Coding::Gzip));
}

#[test]
fn remove_accept_encoding_hides_it_from_the_origin_but_still_negotiates() {
    let s = Settings { remove_accept_encoding: true, ..settings(&[Coding::Gzip]) };
    let mut req = FieldList::of(&[("Accept-Encoding", "gzip"), ("Accept-Encoding", "br")]);
    assert_eq!(on_request(&s, "/", &mut req), Ok(Coding::Gzip));
    assert_eq!(req.values("accept-encoding").len(), 0);
}

#[test]
fn no_body_statuses_get_vary_and_a_weak_etag_but_no_content_encoding() {
    let s = Settings { status_codes: vec![200, 204, 304], ..settings(&[Coding::Gzip]) };
    let mut not_modified = FieldList::of(&[("ETag", "\"v1\"")]);
    assert_eq!(on_response(&s, Ok(Coding::Gzip), 304, &mut not_modified), Err(Skip::Status));
    assert_eq!(not_modified.text("content-encoding"), None);
    assert_eq!(not_modified.text("etag").as_deref(), Some("W/\"v1\""));
    assert_eq!(not_modified.text("vary").as_deref(), Some("Accept-Encoding"));
    let mut no_content = FieldList::of(&[("Content-Type", "text/plain")]);
    assert_eq!(on_response(&s, Ok(Coding::Gzip), 204, &mut no_content), Err(Skip::Status));
    assert_eq!(no_content.text("content-encoding"), None);
}
