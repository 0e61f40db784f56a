//! Writing heads out: request line or status line, fields, final CRLF.
//!
//! Heads reaching here may have been edited by plugins, so writing is the
//! last line of defence against header injection: a field whose name is not
//! a token is dropped, and CR, LF or NUL inside a value is replaced by SP
//! (the option RFC 9110 section 5.5 gives a recipient that forwards).

use super::head::{Headers, RequestHead, ResponseHead};

/// See [`super::head::write_request`].
pub(super) fn write_request(head: &RequestHead, out: &mut Vec<u8>) {
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
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.push(b' ');
    // Three digits always: httparse and the parser refuse anything else on
    // the way in, and a plugin-set status is clamped rather than sent short.
    let status = head.status.min(999);
    out.extend_from_slice(format!("{status:03}").as_bytes());
    out.push(b' ');
    let reason = if head.reason.is_empty() { canonical_reason(head.status) } else { &head.reason };
    out.extend(reason.bytes().map(|b| if is_line_breaking(b) { b' ' } else { b }));
    out.extend_from_slice(b"\r\n");
    write_fields(&head.headers, out);
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
    for (name, value) in headers.iter() {
        if !is_token(name) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend(value.iter().map(|&b| if is_line_breaking(b) { b' ' } else { b }));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

fn is_line_breaking(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b'\0')
}

/// RFC 9110 section 5.6.2 token: the only valid field name.
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::head::Version;

    fn headers(fields: &[(&str, &[u8])]) -> Headers {
        let mut h = Headers::new();
        for (name, value) in fields {
            h.append(name, *value);
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

        head.reason.clear();
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
