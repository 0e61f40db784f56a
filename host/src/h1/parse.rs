//! Parsing request and response heads with httparse, plus the checks httparse
//! leaves to us: head size and field count limits, the request-target forms
//! of RFC 9112 section 3.2 (the absolute form split by `target`), and the Host rules of RFC 9112 section 3.2.
//!
//! Framing (Content-Length, Transfer-Encoding) is judged separately, in
//! `framing`, because a response's framing depends on the request method.

use super::head::{known, HeadError, HeadSpares, Headers, Limits, RequestHead, ResponseHead, Version};
use super::target::split_absolute;
use bytes::{Bytes, BytesMut};
use httparse::Status;
use std::borrow::Cow;
use std::mem::MaybeUninit;

/// See [`super::head::parse_request`].
pub(super) fn parse_request(buf: &[u8], limits: &Limits) -> Result<Option<(RequestHead, usize)>, HeadError> {
    Ok(request_shape(buf, limits, &mut HeadSpares::default())?.map(|(mut head, len)| {
        head.headers.attach(Bytes::copy_from_slice(&buf[..len]));
        (head, len)
    }))
}

/// See [`super::head::take_request`].
pub(super) fn take_request(
    buf: &mut BytesMut,
    limits: &Limits,
    spares: &mut HeadSpares,
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    Ok(request_shape(buf, limits, spares)?.map(|(mut head, len)| {
        head.headers.attach(buf.split_to(len).freeze());
        (head, len)
    }))
}

/// See [`super::head::parse_response`].
pub(super) fn parse_response(buf: &[u8], limits: &Limits) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    Ok(response_shape(buf, limits, &mut HeadSpares::default())?.map(|(mut head, len)| {
        head.headers.attach(Bytes::copy_from_slice(&buf[..len]));
        (head, len)
    }))
}

/// See [`super::head::take_response`].
pub(super) fn take_response(
    buf: &mut BytesMut,
    limits: &Limits,
    spares: &mut HeadSpares,
) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    Ok(response_shape(buf, limits, spares)?.map(|(mut head, len)| {
        head.headers.attach(buf.split_to(len).freeze());
        (head, len)
    }))
}

/// A request head whose fields are ranges of `buf`, not yet attached to
/// the bytes they point into (the caller decides whether to copy them or
/// split them off its buffer), and the head's length. The field list and
/// the target string are taken from `spares` once the head is complete.
fn request_shape(
    buf: &[u8],
    limits: &Limits,
    spares: &mut HeadSpares,
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    request_in(head_window(buf, limits), buf, limits, spares)
}

/// [`request_shape`] once httparse refused the version (see [`as_minor_one`]).
/// Out of line, so the per-request path keeps one copy of the parse.
#[cold]
#[inline(never)]
fn request_of_newer_minor(
    window: &[u8],
    buf: &[u8],
    limits: &Limits,
    spares: &mut HeadSpares,
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    let line = &window[..window.iter().position(|&b| b == b'\n').unwrap_or(window.len())];
    let at = line.iter().enumerate().filter(|(_, &b)| b == b' ').nth(1).map(|(i, _)| i + 1);
    let copy = as_minor_one(window, at, b"\r\n")?;
    request_in(&copy, buf, limits, spares)
}

/// [`request_shape`] over `window`, the head's bytes or a copy of them
/// that differs only in the version's minor digit.
fn request_in(
    window: &[u8],
    buf: &[u8],
    limits: &Limits,
    spares: &mut HeadSpares,
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    with_header_slots(limits, |slots| {
        let mut req = httparse::Request::new(&mut []);
        let status = match parser_config().parse_request_with_uninit_headers(&mut req, window, slots) {
            Ok(status) => status,
            Err(httparse::Error::Version) => return request_of_newer_minor(window, buf, limits, spares),
            Err(e) => return Err(map_error(e, window)),
        };
        let len = match status {
            Status::Complete(len) => len,
            Status::Partial => return incomplete(buf, limits),
        };
        let method = req.method.unwrap_or_default();
        let target = req.path.unwrap_or_default();
        if method.is_empty() {
            return Err(HeadError::Malformed("empty method"));
        }
        let version = version_of(req.version)?;
        check_target(method, target)?;
        check_host(version, req.headers)?;
        let headers = field_ranges(window, req.headers, spares.fields());
        let head = RequestHead { method: method_of(method), target: spares.target(target), version, headers };
        Ok(Some((head, len)))
    })
}

/// The method as a static string when it is one of RFC 9110's (no
/// allocation for nearly every request), else a copy.
fn method_of(method: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];
    match KNOWN.iter().find(|k| **k == method) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(method.to_owned()),
    }
}

/// The reason phrase, static when it is the usual one for `status`.
fn reason_of(status: u16, reason: &str) -> Cow<'static, str> {
    let usual = super::head::canonical_reason(status);
    if usual == reason {
        Cow::Borrowed(usual)
    } else {
        Cow::Owned(reason.to_owned())
    }
}

/// [`request_shape`] for a response head.
fn response_shape(
    buf: &[u8],
    limits: &Limits,
    spares: &mut HeadSpares,
) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    response_in(head_window(buf, limits), buf, limits, spares)
}

/// [`request_of_newer_minor`] for a response head.
#[cold]
#[inline(never)]
fn response_of_newer_minor(
    window: &[u8],
    buf: &[u8],
    limits: &Limits,
    spares: &mut HeadSpares,
) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    let copy = as_minor_one(window, Some(0), b" ")?;
    response_in(&copy, buf, limits, spares)
}

/// [`response_shape`] over `window`; see [`request_in`].
fn response_in(
    window: &[u8],
    buf: &[u8],
    limits: &Limits,
    spares: &mut HeadSpares,
) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    with_header_slots(limits, |slots| {
        let mut res = httparse::Response::new(&mut []);
        let status = match parser_config().parse_response_with_uninit_headers(&mut res, window, slots) {
            Ok(status) => status,
            Err(httparse::Error::Version) => return response_of_newer_minor(window, buf, limits, spares),
            Err(e) => return Err(map_error(e, window)),
        };
        let len = match status {
            Status::Complete(len) => len,
            Status::Partial => return incomplete(buf, limits),
        };
        let version = version_of(res.version)?;
        let status = res.code.unwrap_or_default();
        // httparse takes any three digits; RFC 9110 section 15 defines 1xx..5xx.
        if !(100..=599).contains(&status) {
            return Err(HeadError::Malformed("invalid status code"));
        }
        let head = ResponseHead {
            version,
            status,
            reason: reason_of(status, res.reason.unwrap_or_default()),
            headers: field_ranges(window, res.headers, spares.fields()),
        };
        Ok(Some((head, len)))
    })
}

/// The part of `buf` a head may occupy. Parsing only this much means a
/// complete result is within the limit by construction, and a partial one
/// over a longer `buf` is a head that cannot fit.
fn head_window<'b>(buf: &'b [u8], limits: &Limits) -> &'b [u8] {
    &buf[..buf.len().min(limits.max_head_bytes)]
}

fn incomplete<T>(buf: &[u8], limits: &Limits) -> Result<Option<T>, HeadError> {
    if buf.len() > limits.max_head_bytes {
        Err(HeadError::TooLarge)
    } else {
        Ok(None)
    }
}

/// Field slots kept on the stack: enough for any ordinary head, and no
/// allocation per parse (a 3 KiB `Vec` per head cost more than the parse).
const STACK_SLOTS: usize = 128;

/// Runs `parse` with room for exactly `max_headers` fields: httparse
/// reports `TooManyHeaders` when it meets one field more than it has slots
/// for. Past [`STACK_SLOTS`] the slots come from the heap.
fn with_header_slots<'b, T>(limits: &Limits, parse: impl FnOnce(&mut [MaybeUninit<httparse::Header<'b>>]) -> T) -> T {
    if limits.max_headers <= STACK_SLOTS {
        let mut slots = [const { MaybeUninit::uninit() }; STACK_SLOTS];
        parse(&mut slots[..limits.max_headers])
    } else {
        parse(&mut vec![MaybeUninit::uninit(); limits.max_headers])
    }
}

/// The strict configuration: the defaults already refuse obs-fold and
/// whitespace before the colon (both smuggling vectors, RFC 9112 sections
/// 5.1 and 5.2); the settings are spelled out so a dependency update that
/// changed a default could not loosen them silently.
fn parser_config() -> httparse::ParserConfig {
    let mut config = httparse::ParserConfig::default();
    config
        .allow_obsolete_multiline_headers_in_responses(false)
        .allow_spaces_after_header_name_in_responses(false)
        .allow_multiple_spaces_in_request_line_delimiters(false)
        .allow_multiple_spaces_in_response_status_delimiters(false)
        .allow_space_before_first_header_name(false)
        .ignore_invalid_headers_in_requests(false)
        .ignore_invalid_headers_in_responses(false);
    config
}

fn map_error(error: httparse::Error, window: &[u8]) -> HeadError {
    use httparse::Error as E;
    match error {
        E::TooManyHeaders => HeadError::TooManyHeaders,
        // A folded line starts with SP/HTAB, which httparse sees as a bad
        // name; say what it really is so an operator can find the sender.
        E::HeaderName if has_obs_fold(window) => HeadError::Malformed("obs-fold line folding"),
        E::HeaderName => HeadError::Malformed("invalid header name"),
        E::HeaderValue => HeadError::Malformed("invalid header value"),
        E::NewLine => HeadError::Malformed("invalid line ending"),
        E::Status => HeadError::Malformed("invalid status line"),
        E::Token => HeadError::Malformed("invalid request line"),
        E::Version => HeadError::Malformed(UNSUPPORTED_VERSION),
    }
}

const UNSUPPORTED_VERSION: &str = "unsupported HTTP version";

/// httparse takes only `HTTP/1.0` and `HTTP/1.1`. For the version token
/// at `at` (followed by one of `ends`, or the end of the bytes so far) it
/// refused: a later minor of 1 (`HTTP/1.2`) is read as 1.1, as RFC 9110
/// section 2.5 asks of a recipient, so this returns a copy of `window`
/// with the minor digit made `1`, to parse again; another major
/// (`HTTP/2.0`, `HTTP/3.0`) is [`HeadError::VersionNotSupported`];
/// anything else stays malformed. Only a refused head pays for the copy.
fn as_minor_one(window: &[u8], at: Option<usize>, ends: &[u8]) -> Result<Vec<u8>, HeadError> {
    let malformed = HeadError::Malformed(UNSUPPORTED_VERSION);
    let Some(v) = at.and_then(|at| window.get(at..)) else { return Err(malformed) };
    let well_formed = v.len() >= 8
        && v.starts_with(b"HTTP/")
        && v[5].is_ascii_digit()
        && v[6] == b'.'
        && v[7].is_ascii_digit()
        && v.get(8).is_none_or(|b| ends.contains(b));
    match (well_formed, v.get(5), v.get(7)) {
        (true, Some(b'1'), Some(b'2'..=b'9')) => {
            let mut copy = window.to_vec();
            copy[window.len() - v.len() + 7] = b'1';
            Ok(copy)
        }
        (true, Some(b'2'..=b'9'), _) => Err(HeadError::VersionNotSupported),
        _ => Err(malformed),
    }
}

fn has_obs_fold(window: &[u8]) -> bool {
    window.windows(2).any(|w| w[0] == b'\n' && (w[1] == b' ' || w[1] == b'\t'))
}

fn version_of(minor: Option<u8>) -> Result<Version, HeadError> {
    match minor {
        Some(0) => Ok(Version::Http10),
        Some(1) => Ok(Version::Http11),
        _ => Err(HeadError::Malformed(UNSUPPORTED_VERSION)),
    }
}

/// The fields as offsets into `window`, which every httparse slice points
/// into, listed in `spare`'s storage.
fn field_ranges(window: &[u8], fields: &[httparse::Header<'_>], spare: Headers) -> Headers {
    // httparse has already trimmed OWS around the value and refused
    // NUL, CR and LF inside it; the remaining bytes pass as they are.
    // A head is at most `max_head_bytes` long, far below u32::MAX.
    let base = window.as_ptr() as usize;
    let range = |s: &[u8]| {
        let start = (s.as_ptr() as usize).wrapping_sub(base);
        debug_assert!(start + s.len() <= window.len(), "an httparse slice outside the head");
        (start as u32, (start + s.len()) as u32)
    };
    Headers::received(
        spare,
        fields.iter().map(|f| (range(f.name.as_bytes()), range(f.value), known::of_token(f.name.as_bytes()))),
    )
}

/// RFC 9112 section 3.2: the form of the target must fit the method.
fn check_target(method: &str, target: &str) -> Result<(), HeadError> {
    if !target.is_ascii() {
        return Err(HeadError::Malformed("non-ASCII request target"));
    }
    if method == "CONNECT" {
        return if is_authority_form(target) {
            Ok(())
        } else {
            Err(HeadError::Malformed("CONNECT target is not host:port"))
        };
    }
    if target.starts_with('/') || split_absolute(target).map_err(HeadError::Malformed)?.is_some() {
        Ok(())
    } else if target == "*" {
        if method == "OPTIONS" {
            Ok(())
        } else {
            Err(HeadError::Malformed("asterisk-form target outside OPTIONS"))
        }
    } else {
        Err(HeadError::Malformed("invalid request target"))
    }
}

/// `host:port` with a non-empty host and a decimal port; IPv6 hosts are bracketed.
fn is_authority_form(target: &str) -> bool {
    let Some((host, port)) = target.rsplit_once(':') else {
        return false;
    };
    let host_ok = !host.is_empty() && !host.contains(['/', '?', '#', '@']);
    let port_ok = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    host_ok && port_ok
}

/// RFC 9112 section 3.2: an HTTP/1.1 request carries exactly one Host; a
/// request with several is refused by any version, since two proxies could
/// each pick a different one.
fn check_host(version: Version, fields: &[httparse::Header<'_>]) -> Result<(), HeadError> {
    let mut hosts = fields.iter().filter(|f| f.name.eq_ignore_ascii_case("host")).map(|f| f.value);
    match (hosts.next(), hosts.next()) {
        (None, _) if version == Version::Http11 => Err(HeadError::Malformed("missing Host")),
        (Some(_), Some(_)) => Err(HeadError::Malformed("multiple Host fields")),
        (Some(host), None) if host.contains(&b',') => Err(HeadError::Malformed("Host holds a list")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_head_bytes: 256, max_headers: 4 };

    fn req(raw: &[u8]) -> Result<Option<(RequestHead, usize)>, HeadError> {
        parse_request(raw, &LIMITS)
    }

    fn req_err(raw: &[u8]) -> HeadError {
        match req(raw) {
            Err(e) => e,
            Ok(other) => panic!("accepted {:?}: {other:?}", String::from_utf8_lossy(raw)),
        }
    }

    fn fields(h: &Headers) -> Vec<(&str, &[u8])> {
        h.iter().collect()
    }

    #[test]
    fn parses_a_request_exactly() {
        let raw = b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nX-Pad:  \t v a \t\r\nAccept: */*\r\n\r\nNEXT";
        let (head, len) = req(raw).expect("valid").expect("complete");
        assert_eq!(len, raw.len() - 4);
        assert_eq!(head.method, "GET");
        assert_eq!(head.target, "/a?b=c");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(
            fields(&head.headers),
            vec![("Host", &b"example.com"[..]), ("X-Pad", &b"v a"[..]), ("Accept", &b"*/*"[..])]
        );
    }

    #[test]
    fn keeps_obs_text_bytes_in_values() {
        let raw = b"GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xc3\xa9\xff\r\n\r\n";
        let (head, _) = req(raw).expect("valid").expect("complete");
        assert_eq!(head.headers.get("x-name"), Some(&b"caf\xc3\xa9\xff"[..]));
    }

    #[test]
    fn accepts_other_target_forms_and_methods() {
        for raw in [
            &b"get / HTTP/1.1\r\nHost: h\r\n\r\n"[..],
            b"GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
            b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
            b"CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
            b"GET / HTTP/1.0\r\n\r\n",
        ] {
            let parsed = req(raw);
            assert!(matches!(parsed, Ok(Some(_))), "{:?}: {parsed:?}", String::from_utf8_lossy(raw));
        }
        let (head, _) = req(b"get / HTTP/1.0\r\n\r\n").expect("valid").expect("complete");
        assert_eq!(head.method, "get", "methods are case-sensitive: kept as sent");
        assert_eq!(head.version, Version::Http10);
    }

    #[test]
    fn a_later_minor_of_http_1_is_read_as_1_1() {
        let raw = b"POST /a HTTP/1.2\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
        let (head, len) = req(raw).expect("valid").expect("complete");
        assert_eq!(len, raw.len() - 3);
        assert_eq!((&*head.method, &*head.target, head.version), ("POST", "/a", Version::Http11));
        assert_eq!(fields(&head.headers), vec![("Host", &b"h"[..]), ("Content-Length", &b"3"[..])]);
        assert_eq!(req(b"GET / HTTP/1.9\r\nHost: h\r\n").expect("valid").map(|(_, n)| n), None, "still partial");
        let mut buf = BytesMut::from(&b"GET /x HTTP/1.5\r\nHost: h\r\n\r\nNEXT"[..]);
        let (head, _) = take_request(&mut buf, &LIMITS, &mut HeadSpares::default()).expect("valid").expect("complete");
        assert_eq!((head.headers.get("host"), &buf[..]), (Some(&b"h"[..]), &b"NEXT"[..]));

        let (head, _) =
            parse_response(b"HTTP/1.3 204 Nothing\r\nX: y\r\n\r\n", &LIMITS).expect("valid").expect("complete");
        assert_eq!((head.version, head.status, &*head.reason), (Version::Http11, 204, "Nothing"));
        assert_eq!(fields(&head.headers), vec![("X", &b"y"[..])]);
    }

    #[test]
    fn incomplete_heads_wait_for_more() {
        assert_eq!(req(b"").expect("valid").map(|(_, n)| n), None);
        assert_eq!(req(b"GET / HTTP/1.1\r\nHost: h\r\n").expect("valid").map(|(_, n)| n), None);
        assert_eq!(req(b"GET / HT").expect("valid").map(|(_, n)| n), None);
    }

    #[test]
    fn rejects_malformed_and_smuggling_heads() {
        let m = HeadError::Malformed;
        let cases: &[(&[u8], HeadError)] = &[
            (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", m("invalid header name")),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", m("obs-fold line folding")),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n", m("obs-fold line folding")),
            (b"GET / HTTP/1.1\r\nHost: h\r\nBad(name): v\r\n\r\n", m("invalid header name")),
            (b"GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", m("invalid header name")),
            (b"GET / HTTP/1.1\r\nX-A: v\r\n\r\n", m("missing Host")),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", m("multiple Host fields")),
            (b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", m("multiple Host fields")),
            (b"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", m("Host holds a list")),
            (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", HeadError::VersionNotSupported),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HeadError::VersionNotSupported),
            (b"GET / HTTP/3.0\r\nHost: h\r\n\r\n", HeadError::VersionNotSupported),
            (b"GET / HTTP/0.9\r\nHost: h\r\n\r\n", m("unsupported HTTP version")),
            (b"GET / HTTP/1.10\r\nHost: h\r\n\r\n", m("invalid line ending")),
            (b"GET / HTTP/1.20\r\nHost: h\r\n\r\n", m("unsupported HTTP version")),
            (b"GET / HTTP/1.x\r\nHost: h\r\n\r\n", m("unsupported HTTP version")),
            (b"GET / HTTP/2\r\nHost: h\r\n\r\n", m("unsupported HTTP version")),
            (b"GET / http/1.1\r\nHost: h\r\n\r\n", m("unsupported HTTP version")),
            (b"GET / HTTP/1.2\r\nX-A: v\r\n\r\n", m("missing Host")),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n", m("invalid header value")),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", m("invalid header value")),
            (b" / HTTP/1.1\r\nHost: h\r\n\r\n", m("invalid request line")),
            (b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", m("invalid request line")),
            (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", m("non-ASCII request target")),
            (b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", m("asterisk-form target outside OPTIONS")),
            (b"GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n", m("invalid request target")),
            (b"GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", m("invalid request target")),
            (
                b"GET http://evil@good/ HTTP/1.1\r\nHost: good\r\n\r\n",
                m("userinfo in the request target (RFC 9110 section 4.2.4)"),
            ),
            (b"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", m("CONNECT target is not host:port")),
            (b"CONNECT h:port HTTP/1.1\r\nHost: h\r\n\r\n", m("CONNECT target is not host:port")),
        ];
        for (raw, want) in cases {
            assert_eq!(&req_err(raw), want, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn enforces_head_size_limit() {
        let mut long = b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: ".to_vec();
        long.resize(LIMITS.max_head_bytes + 1, b'a');
        // Incomplete and already over the limit.
        assert_eq!(req_err(&long), HeadError::TooLarge);
        // Complete but over the limit.
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(req_err(&long), HeadError::TooLarge);
        // Exactly at the limit is fine.
        let mut exact = b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: ".to_vec();
        exact.resize(LIMITS.max_head_bytes - 4, b'a');
        exact.extend_from_slice(b"\r\n\r\n");
        let (_, len) = req(&exact).expect("valid").expect("complete");
        assert_eq!(len, LIMITS.max_head_bytes);
    }

    #[test]
    fn enforces_field_count_limit() {
        let four = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(req(four).expect("valid").map(|(h, _)| h.headers.len()), Some(4));
        let five = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
        assert_eq!(req_err(five), HeadError::TooManyHeaders);
    }

    #[test]
    fn a_head_in_spare_storage_holds_only_its_own_fields_and_target() {
        let mut spares = HeadSpares::default();
        let mut buf = BytesMut::from(
            &b"GET /first/long/target HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\n\r\nGET /s HTTP/1.1\r\nHost: b\r\n\r\n"[..],
        );
        let (first, _) = take_request(&mut buf, &LIMITS, &mut spares).expect("valid").expect("complete");
        assert_eq!(fields(&first.headers).len(), 3);
        spares.keep_fields(first.headers);
        spares.keep_target(first.target);
        assert_eq!(spares.held(), (1, 1));

        // Neither a partial head nor a refused one takes the spares.
        let mut partial = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: h\r\n"[..]);
        assert!(take_request(&mut partial, &LIMITS, &mut spares).expect("valid").is_none());
        let mut refused = BytesMut::from(&b"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n"[..]);
        assert!(take_request(&mut refused, &LIMITS, &mut spares).is_err());
        assert_eq!(spares.held(), (1, 1));

        let (second, len) = take_request(&mut buf, &LIMITS, &mut spares).expect("valid").expect("complete");
        assert_eq!(spares.held(), (0, 0), "the second head took both");
        assert_eq!((len, buf.len()), (28, 0));
        assert_eq!(second.target, "/s");
        assert_eq!(fields(&second.headers), vec![("Host", &b"b"[..])]);

        spares.keep_fields(second.headers);
        let mut response = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"[..]);
        let (head, _) = take_response(&mut response, &LIMITS, &mut spares).expect("valid").expect("complete");
        assert_eq!(spares.held(), (0, 0), "a response head takes a spare list too");
        assert_eq!(fields(&head.headers), vec![("Content-Length", &b"0"[..])]);
    }

    #[test]
    fn parses_a_response_exactly() {
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc";
        let (head, len) = parse_response(raw, &LIMITS).expect("valid").expect("complete");
        assert_eq!(len, raw.len() - 3);
        assert_eq!((head.version, head.status), (Version::Http11, 404));
        assert_eq!(head.reason, "Not Found");
        assert_eq!(fields(&head.headers), vec![("Content-Length", &b"3"[..])]);

        let (head, _) = parse_response(b"HTTP/1.0 200\r\n\r\n", &LIMITS).expect("valid").expect("complete");
        assert_eq!((head.version, head.status, &*head.reason), (Version::Http10, 200, ""));
    }

    #[test]
    fn rejects_bad_responses() {
        let m = HeadError::Malformed;
        let cases: &[(&[u8], HeadError)] = &[
            (b"HTTP/1.1 099 Odd\r\n\r\n", m("invalid status code")),
            (b"HTTP/1.1 20 OK\r\n\r\n", m("invalid status line")),
            (b"HTTP/2 200 OK\r\n\r\n", m("unsupported HTTP version")),
            (b"HTTP/2.0 200 OK\r\n\r\n", HeadError::VersionNotSupported),
            (b"HTTP/1.22 200 OK\r\n\r\n", m("unsupported HTTP version")),
            (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", m("obs-fold line folding")),
            (b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", m("invalid header name")),
        ];
        for (raw, want) in cases {
            assert_eq!(
                parse_response(raw, &LIMITS).map(|o| o.map(|(_, n)| n)),
                Err(want.clone()),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
