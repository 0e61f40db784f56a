//! Body framing (RFC 9112 section 6) and connection policy: which
//! [`BodyKind`] a head implies, whether the connection may persist, and which
//! fields belong to one hop only.
//!
//! Requests are judged strictly: anything two parsers could read two ways
//! (the root of request smuggling) is refused. Responses follow the fallback
//! rules of RFC 9112 section 6.3, since an origin is trusted a little more and
//! a close-delimited response cannot desynchronise the client connection.

use super::head::{known, list_elements, BodyKind, HeadError, Headers, RequestHead, ResponseHead, Version};

/// Fields that describe one connection, never forwarded (RFC 9110 section
/// 7.6.1, plus Proxy-Connection from pre-standard clients), as bits of
/// their [`known`] tags. Content-Length is here too because the proxy
/// re-decides the framing of every message it sends.
const HOP_BY_HOP: u32 = {
    use known::*;
    bit(CONNECTION)
        | bit(KEEP_ALIVE)
        | bit(TE)
        | bit(TRAILER)
        | bit(TRANSFER_ENCODING)
        | bit(UPGRADE)
        | bit(PROXY_CONNECTION)
        | bit(CONTENT_LENGTH)
};

/// See [`super::head::request_framing`].
pub(super) fn request_framing(head: &RequestHead) -> Result<BodyKind, HeadError> {
    let headers = &head.headers;
    if headers.contains("transfer-encoding") {
        if head.version == Version::Http10 {
            return Err(HeadError::Malformed("Transfer-Encoding in an HTTP/1.0 request"));
        }
        if headers.contains("content-length") {
            return Err(HeadError::Malformed("Transfer-Encoding with Content-Length"));
        }
        let te = TransferCodings::of(headers);
        return if te.chunked > 1 {
            Err(HeadError::Malformed("chunked applied more than once"))
        } else if !te.final_chunked {
            Err(HeadError::Malformed("final transfer coding is not chunked"))
        } else if te.other > 0 {
            Err(HeadError::Malformed("unsupported transfer coding"))
        } else {
            Ok(BodyKind::Chunked)
        };
    }
    Ok(length_kind(content_length(headers)?.unwrap_or(0)))
}

/// See [`super::head::response_framing`].
pub(super) fn response_framing(method: &str, head: &ResponseHead) -> Result<BodyKind, HeadError> {
    let status = head.status;
    if method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(BodyKind::Empty);
    }
    let headers = &head.headers;
    if headers.contains("transfer-encoding") {
        let te = TransferCodings::of(headers);
        return if te.chunked > 1 {
            Err(HeadError::Malformed("chunked applied more than once"))
        } else if te.other > 0 {
            // The proxy decodes no transfer coding but chunked, and re-frames every body:
            // relaying `gzip, chunked` as plain bytes would hand the client a corrupt body.
            Err(HeadError::Malformed("a transfer coding other than chunked"))
        } else if te.final_chunked {
            Ok(BodyKind::Chunked)
        } else {
            Ok(BodyKind::CloseDelimited)
        };
    }
    Ok(match content_length(headers)? {
        Some(n) => length_kind(n),
        None => BodyKind::CloseDelimited,
    })
}

/// See [`super::head::keep_alive`].
pub(super) fn keep_alive(version: Version, headers: &Headers) -> bool {
    if headers.has_token("connection", "close") {
        return false;
    }
    match version {
        Version::Http11 => true,
        Version::Http10 => headers.has_token("connection", "keep-alive"),
    }
}

/// See [`super::head::origin_may_persist`].
pub(super) fn origin_may_persist(head: &ResponseHead, kind: BodyKind) -> bool {
    let headers = &head.headers;
    let suspect_framing = headers.contains("transfer-encoding")
        && (headers.contains("content-length") || head.version == Version::Http10);
    kind != BodyKind::CloseDelimited && !suspect_framing && keep_alive(head.version, headers)
}

/// See [`super::head::strip_hop_by_hop`].
pub(super) fn strip_hop_by_hop(headers: &mut Headers) {
    let hop = HopByHop::of(headers);
    if headers.tags() & HOP_BY_HOP == 0 && hop.named.is_empty() {
        return;
    }
    // One pass over the fields: this runs twice per transaction.
    headers.retain_tagged(|tag, name| !hop.holds(tag, name));
}

/// The names [`strip_hop_by_hop`] removes from one head: the fixed ones and
/// those its Connection fields list.
pub struct HopByHop {
    named: Vec<Vec<u8>>,
}

impl HopByHop {
    /// The hop-by-hop names of `headers`.
    pub fn of(headers: &Headers) -> Self {
        let named = headers
            .get_all("connection")
            .flat_map(list_elements)
            .filter(|name| !name.is_empty() && known::bit(known::of(name)) & HOP_BY_HOP == 0)
            .map(<[u8]>::to_vec)
            .collect();
        HopByHop { named }
    }

    /// True if a field called `name`, whose [`known`] tag is `tag`, belongs
    /// to one hop only.
    pub fn holds(&self, tag: u8, name: &[u8]) -> bool {
        known::bit(tag) & HOP_BY_HOP != 0 || self.named.iter().any(|hop| name.eq_ignore_ascii_case(hop))
    }
}

/// What the Transfer-Encoding fields, read together as one list, hold.
struct TransferCodings {
    /// How many times `chunked` appears.
    chunked: usize,
    /// How many other codings appear.
    other: usize,
    /// Whether the last coding is `chunked`.
    final_chunked: bool,
}

impl TransferCodings {
    fn of(headers: &Headers) -> Self {
        let mut te = TransferCodings { chunked: 0, other: 0, final_chunked: false };
        // Empty list elements are ignored (RFC 9110 section 5.6.1).
        let codings = headers.get_all("transfer-encoding").flat_map(list_elements).filter(|coding| !coding.is_empty());
        for coding in codings {
            te.final_chunked = coding.eq_ignore_ascii_case(b"chunked");
            if te.final_chunked {
                te.chunked += 1;
            } else {
                te.other += 1;
            }
        }
        te
    }
}

/// The one Content-Length all fields agree on, `None` if there is none.
///
/// RFC 9110 section 8.6 lets a recipient accept a list of identical values
/// as one; differing values, or any value that is not plain decimal digits
/// (no sign, no inner space, not empty) or overflows u64, are refused.
fn content_length(headers: &Headers) -> Result<Option<u64>, HeadError> {
    let mut found = None;
    let mut one = |n: u64| match found {
        Some(previous) if previous != n => Err(HeadError::Malformed("conflicting Content-Length values")),
        _ => {
            found = Some(n);
            Ok(())
        }
    };
    for value in headers.get_all("content-length") {
        // The usual value is plain digits, a list of one: no list to split.
        if let Some(n) = parse_decimal(value) {
            one(n)?;
            continue;
        }
        for element in list_elements(value) {
            one(parse_decimal(element).ok_or(HeadError::Malformed("invalid Content-Length"))?)?;
        }
    }
    Ok(found)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = char::from(b).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn length_kind(n: u64) -> BodyKind {
    if n == 0 {
        BodyKind::Empty
    } else {
        BodyKind::Length(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::head::{parse_request, parse_response, Limits};

    const LIMITS: Limits = Limits { max_head_bytes: 1024, max_headers: 16 };

    /// Parses a request head (which must be complete) and judges its framing.
    fn request_kind(raw: &str) -> Result<BodyKind, HeadError> {
        let (head, _) = parse_request(raw.as_bytes(), &LIMITS)?.expect("complete head");
        request_framing(&head)
    }

    fn response_kind(method: &str, raw: &str) -> Result<BodyKind, HeadError> {
        let (head, _) = parse_response(raw.as_bytes(), &LIMITS)?.expect("complete head");
        response_framing(method, &head)
    }

    fn req_with(fields: &str) -> String {
        format!("POST / HTTP/1.1\r\nHost: h\r\n{fields}\r\n")
    }

    #[test]
    fn rejects_smuggling_request_framing() {
        let m = HeadError::Malformed;
        let cases: &[(&str, HeadError)] = &[
            ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", m("Transfer-Encoding with Content-Length")),
            ("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", m("Transfer-Encoding with Content-Length")),
            ("Transfer-Encoding: chunked, chunked\r\n", m("chunked applied more than once")),
            ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", m("chunked applied more than once")),
            ("Transfer-Encoding: gzip\r\n", m("final transfer coding is not chunked")),
            ("Transfer-Encoding: chunked, gzip\r\n", m("final transfer coding is not chunked")),
            ("Transfer-Encoding: gzip, chunked\r\n", m("unsupported transfer coding")),
            ("Transfer-Encoding: xchunked\r\n", m("final transfer coding is not chunked")),
            ("Transfer-Encoding:\r\n", m("final transfer coding is not chunked")),
            ("Content-Length: +5\r\n", m("invalid Content-Length")),
            ("Content-Length: -5\r\n", m("invalid Content-Length")),
            ("Content-Length: 1 2\r\n", m("invalid Content-Length")),
            ("Content-Length: abc\r\n", m("invalid Content-Length")),
            ("Content-Length: 0x10\r\n", m("invalid Content-Length")),
            ("Content-Length:\r\n", m("invalid Content-Length")),
            ("Content-Length: 5,\r\n", m("invalid Content-Length")),
            ("Content-Length: 18446744073709551616\r\n", m("invalid Content-Length")),
            ("Content-Length: 1,2\r\n", m("conflicting Content-Length values")),
            ("Content-Length: 1\r\nContent-Length: 2\r\n", m("conflicting Content-Length values")),
        ];
        for (fields, want) in cases {
            assert_eq!(&request_kind(&req_with(fields)), &Err(want.clone()), "{fields:?}");
        }
        assert_eq!(
            request_kind("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(m("Transfer-Encoding in an HTTP/1.0 request"))
        );
    }

    #[test]
    fn accepts_plain_request_framing() {
        let cases: &[(&str, BodyKind)] = &[
            ("", BodyKind::Empty),
            ("Content-Length: 0\r\n", BodyKind::Empty),
            ("Content-Length: 0005\r\n", BodyKind::Length(5)),
            ("Content-Length: 5, 5\r\n", BodyKind::Length(5)),
            ("Content-Length: 5\r\nContent-Length: 5\r\n", BodyKind::Length(5)),
            ("Content-Length: 18446744073709551615\r\n", BodyKind::Length(u64::MAX)),
            ("Transfer-Encoding: chunked\r\n", BodyKind::Chunked),
            ("Transfer-Encoding: Chunked\r\n", BodyKind::Chunked),
            ("Transfer-Encoding: , chunked\r\n", BodyKind::Chunked),
        ];
        for (fields, want) in cases {
            assert_eq!(request_kind(&req_with(fields)), Ok(*want), "{fields:?}");
        }
    }

    #[test]
    fn response_framing_follows_rfc_order() {
        let m = HeadError::Malformed;
        let cases: &[(&str, &str, Result<BodyKind, HeadError>)] = &[
            ("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", Ok(BodyKind::Empty)),
            ("GET", "HTTP/1.1 100 Continue\r\n\r\n", Ok(BodyKind::Empty)),
            ("GET", "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", Ok(BodyKind::Empty)),
            ("GET", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", Ok(BodyKind::Empty)),
            (
                "GET",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                Ok(BodyKind::Chunked),
            ),
            (
                "GET",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                Err(m("a transfer coding other than chunked")),
            ),
            (
                "GET",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                Err(m("a transfer coding other than chunked")),
            ),
            (
                "GET",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                Err(m("chunked applied more than once")),
            ),
            ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", Ok(BodyKind::Length(7))),
            ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Ok(BodyKind::Empty)),
            ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", Ok(BodyKind::Length(7))),
            ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 7, 8\r\n\r\n", Err(m("conflicting Content-Length values"))),
            ("GET", "HTTP/1.1 200 OK\r\nContent-Length: seven\r\n\r\n", Err(m("invalid Content-Length"))),
            ("GET", "HTTP/1.1 200 OK\r\n\r\n", Ok(BodyKind::CloseDelimited)),
            ("head", "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", Ok(BodyKind::Length(7))),
        ];
        for (method, raw, want) in cases {
            assert_eq!(&response_kind(method, raw), want, "{method} {raw:?}");
        }
    }

    #[test]
    fn origin_connections_close_after_suspect_framing() {
        let persist = |raw: &str| {
            let (head, _) = parse_response(raw.as_bytes(), &LIMITS).expect("valid").expect("complete");
            let kind = response_framing("GET", &head).expect("framed");
            origin_may_persist(&head, kind)
        };
        assert!(persist("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n"));
        assert!(persist("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
        assert!(persist("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n"));
        for raw in [
            // RFC 9112 section 6.1: both fields may be a smuggling attempt; close after it.
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            // Transfer-Encoding in HTTP/1.0 means faulty framing, whatever else is there.
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
            "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
            "HTTP/1.1 200 OK\r\n\r\n",
        ] {
            assert!(!persist(raw), "{raw:?} would be pooled");
        }
    }

    #[test]
    fn keep_alive_by_version() {
        let mut h = Headers::new();
        assert!(keep_alive(Version::Http11, &h));
        assert!(!keep_alive(Version::Http10, &h));
        h.append("Connection", "Keep-Alive");
        assert!(keep_alive(Version::Http10, &h));
        h.append("Connection", "x, CLOSE");
        assert!(!keep_alive(Version::Http11, &h));
        assert!(!keep_alive(Version::Http10, &h));
    }

    #[test]
    fn strips_hop_by_hop_and_named_fields() {
        let mut h = Headers::new();
        for (name, value) in [
            ("Host", "h"),
            ("Connection", "X-Hop, , keep-alive"),
            ("X-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Content-Type", "text/plain"),
            ("TE", "trailers"),
            ("Trailer", "X-T"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "websocket"),
            ("Proxy-Connection", "keep-alive"),
            ("Content-Length", "3"),
            ("connection", "x-other"),
            ("X-Other", "2"),
            ("X-End", "e"),
        ] {
            h.append(name, value);
        }
        strip_hop_by_hop(&mut h);
        let left: Vec<_> = h.iter().collect();
        assert_eq!(left, vec![("Host", &b"h"[..]), ("Content-Type", &b"text/plain"[..]), ("X-End", &b"e"[..])]);
    }
}
