//! Writing heads out: request line or status line, fields, final CRLF.
//!
//! Heads reaching here may have been edited by plugins, so writing is the
//! last line of defence against header injection: a field whose name is not
//! a token is dropped, and CR, LF or NUL inside a value is replaced by SP
//! (the option RFC 9110 section 5.5 gives a recipient that forwards).
//! Fields as the parser received them were checked on the way in and are
//! copied as they are; each head is written into a buffer reserved once
//! for its whole length.

use super::fields::WireField;
use super::head::{Headers, RequestHead, ResponseHead};

/// See [`super::head::write_request`].
pub(super) fn write_request(head: &RequestHead, out: &mut Vec<u8>) {
    out.reserve(request_len(head));
    out.extend_from_slice(head.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.target.as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    write_fields(&head.headers, out);
}

/// See [`super::head::write_response`].
pub(super) fn write_response(head: &ResponseHead, out: &mut Vec<u8>) {
    let reason = if head.reason.is_empty() { canonical_reason(head.status) } else { &head.reason };
    out.reserve(status_line_len(reason) + head.headers.wire_len() + 2);
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.push(b' ');
    // Three digits always: httparse and the parser refuse anything else on
    // the way in, and a plugin-set status is clamped rather than sent short.
    let status = head.status.min(999);
    out.extend_from_slice(&[b'0' + (status / 100) as u8, b'0' + (status / 10 % 10) as u8, b'0' + (status % 10) as u8]);
    out.push(b' ');
    push_clean(out, reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    write_fields(&head.headers, out);
}

/// Bytes [`write_request`] writes for `head` (at most: dropped fields count).
pub(super) fn request_len(head: &RequestHead) -> usize {
    head.method.len() + head.target.len() + 12 + head.headers.wire_len() + 2
}

/// Bytes of a status line with `reason`: `HTTP/1.1 200 reason CRLF`.
fn status_line_len(reason: &str) -> usize {
    13 + reason.len() + 2
}

/// A head written line by line into one buffer, for a proxy that forwards
/// a head with edits instead of building an edited copy first.
///
/// Same rules as [`write_request`]: a field whose name is not a token is
/// dropped, CR, LF or NUL in a value becomes SP.
pub struct HeadWriter {
    out: Vec<u8>,
}

impl HeadWriter {
    /// Starts `METHOD SP target SP version CRLF`, reserving `fields_len`
    /// more bytes (see [`Headers::wire_len`]) for the fields to follow.
    pub fn request(method: &str, target: &str, version: super::head::Version, fields_len: usize) -> Self {
        let mut out = Vec::with_capacity(method.len() + target.len() + 12 + fields_len + 2);
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        push_clean(&mut out, target.as_bytes());
        out.push(b' ');
        out.extend_from_slice(version.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
        HeadWriter { out }
    }

    /// Copies a field of a head (checked ones as they are).
    pub fn copy(&mut self, field: WireField<'_>) {
        write_field(field, &mut self.out);
    }

    /// Writes `name: value`, its value the concatenation of `parts`.
    pub fn field(&mut self, name: &'static str, parts: &[&[u8]]) {
        debug_assert!(is_token(name.as_bytes()), "the proxy's own field names are tokens");
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
        for part in parts {
            push_clean(&mut self.out, part);
        }
        self.out.extend_from_slice(b"\r\n");
    }

    /// Writes `name: ` and lets `value` append the value (a number, an address).
    pub fn field_with(&mut self, name: &'static str, value: impl FnOnce(&mut Vec<u8>)) {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
        let start = self.out.len();
        value(&mut self.out);
        if self.out[start..].iter().any(|&b| is_line_breaking(b)) {
            self.out[start..].iter_mut().filter(|b| is_line_breaking(**b)).for_each(|b| *b = b' ');
        }
        self.out.extend_from_slice(b"\r\n");
    }

    /// Ends the head with its empty line.
    pub fn finish(mut self) -> bytes::Bytes {
        self.out.extend_from_slice(b"\r\n");
        // A Vec filled to its capacity becomes a Bytes without another allocation.
        bytes::Bytes::from(self.out)
    }
}

/// See [`super::head::canonical_reason`].
pub(super) fn canonical_reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

fn write_fields(headers: &Headers, out: &mut Vec<u8>) {
    for field in headers.wire() {
        write_field(field, out);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends one `name: value CRLF` line, or nothing for a name that is not a token.
pub(super) fn write_field(field: WireField<'_>, out: &mut Vec<u8>) {
    if field.checked {
        out.extend_from_slice(field.name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(field.value);
    } else {
        if !is_token(field.name) {
            return;
        }
        out.extend_from_slice(field.name);
        out.extend_from_slice(b": ");
        push_clean(out, field.value);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `bytes` with CR, LF and NUL turned into SP; copied whole when it holds none.
pub(super) fn push_clean(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.iter().any(|&b| is_line_breaking(b)) {
        out.extend(bytes.iter().map(|&b| if is_line_breaking(b) { b' ' } else { b }));
    } else {
        out.extend_from_slice(bytes);
    }
}

fn is_line_breaking(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b'\0')
}

/// RFC 9110 section 5.6.2 token: the only valid field name.
pub(super) fn is_token(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::head::Version;

    fn headers(fields: &[(&str, &[u8])]) -> Headers {
        let mut h = Headers::new();
        for (name, value) in fields {
            h.append(name, value.to_vec());
        }
        h
    }

    #[test]
    fn writes_request_head_exactly() {
        let head = RequestHead {
            method: "POST".into(),
            target: "/up?x=1".into(),
            version: Version::Http11,
            headers: headers(&[("Host", b"h"), ("X-Bin", b"\xff1")]),
        };
        let mut out = b"prefix:".to_vec();
        write_request(&head, &mut out);
        assert_eq!(out, b"prefix:POST /up?x=1 HTTP/1.1\r\nHost: h\r\nX-Bin: \xff1\r\n\r\n");
    }

    #[test]
    fn writes_response_head_exactly() {
        let mut head = ResponseHead {
            version: Version::Http11,
            status: 200,
            reason: "Fine".into(),
            headers: headers(&[("Content-Length", b"3")]),
        };
        let mut out = Vec::new();
        write_response(&head, &mut out);
        assert_eq!(out, b"HTTP/1.1 200 Fine\r\nContent-Length: 3\r\n\r\n");

        head.reason = "".into();
        head.headers = Headers::new();
        out.clear();
        write_response(&head, &mut out);
        assert_eq!(out, b"HTTP/1.1 200 OK\r\n\r\n");

        head.status = 299;
        head.version = Version::Http10;
        out.clear();
        write_response(&head, &mut out);
        assert_eq!(out, b"HTTP/1.0 299 \r\n\r\n");
    }

    #[test]
    fn neutralises_injected_line_breaks() {
        let head = ResponseHead {
            version: Version::Http11,
            status: 502,
            reason: "Bad\r\nX: y".into(),
            headers: headers(&[
                ("X-Evil", b"a\r\nSet-Cookie: s=1"),
                ("Bad Name", b"dropped"),
                ("", b"dropped"),
                ("X-Ok", b"ok"),
            ]),
        };
        let mut out = Vec::new();
        write_response(&head, &mut out);
        assert_eq!(out, &b"HTTP/1.1 502 Bad  X: y\r\nX-Evil: a  Set-Cookie: s=1\r\nX-Ok: ok\r\n\r\n"[..]);
    }

    #[test]
    fn canonical_reasons() {
        assert_eq!(canonical_reason(404), "Not Found");
        assert_eq!(canonical_reason(431), "Request Header Fields Too Large");
        assert_eq!(canonical_reason(599), "");
    }
}
