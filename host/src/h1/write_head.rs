//! Writing heads out: request line or status line, fields, final CRLF.
//!
//! Heads reaching here may have been edited by plugins, so writing is the
//! last line of defence against header injection: a field whose name is not
//! a token is dropped, and CR, LF or NUL inside a value is replaced by SP
//! (the option RFC 9110 section 5.5 gives a recipient that forwards).
//! Fields as the parser received them were checked on the way in and are
//! copied as they are. Each head is written in one pass, into room reserved
//! once for its whole length: a `Vec` of its own, or a worker's
//! [`HeadBlock`], which the heads the proxy sends are split off.

use super::fields::WireField;
use super::head::{Headers, RequestHead, ResponseHead};
use bytes::{Bytes, BytesMut};
use std::ops::DerefMut;

/// Where a head is written: a `Vec` (error pages, tools) or a [`HeadBlock`]'s
/// `BytesMut`. Writing is generic over it so both get the same bytes.
pub(super) trait HeadOut: DerefMut<Target = [u8]> + Extend<u8> {
    fn put(&mut self, bytes: &[u8]);
    fn put_byte(&mut self, byte: u8);
    fn reserve_head(&mut self, len: usize);
}

impl HeadOut for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_byte(&mut self, byte: u8) {
        self.push(byte);
    }
    fn reserve_head(&mut self, len: usize) {
        self.reserve(len);
    }
}

impl HeadOut for BytesMut {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_byte(&mut self, byte: u8) {
        self.extend_from_slice(&[byte]);
    }
    fn reserve_head(&mut self, len: usize) {
        self.reserve(len);
    }
}

/// One worker's block for the heads it sends, each split off it as a
/// `Bytes` of its exact length: a head costs no allocation of its own.
///
/// When the block is used up, `BytesMut::reserve` takes it back in place
/// if no head split off it is still alive, and otherwise starts a new one
/// (two allocations, the block and its shared count), leaving the old one
/// to be freed with its last head.
#[derive(Default)]
pub struct HeadBlock {
    buf: BytesMut,
}

/// Bytes of a head block: the heads of some forty plain transactions.
const HEAD_BLOCK: usize = 16 * 1024;

impl HeadBlock {
    /// Room for one head of at most `len` bytes (a longer one still fits:
    /// the block grows, it just costs a copy).
    fn room(&mut self, len: usize) -> &mut BytesMut {
        // A head left half written (a writer dropped without `finish`) is discarded.
        self.buf.clear();
        if self.buf.capacity() < len {
            self.buf.reserve(len.max(HEAD_BLOCK));
        }
        &mut self.buf
    }

    /// The head written since [`HeadBlock::room`], split off the block.
    fn take(&mut self) -> Bytes {
        self.buf.split().freeze()
    }
}

/// See [`super::head::write_request`].
pub(super) fn write_request(head: &RequestHead, out: &mut impl HeadOut) {
    out.reserve_head(request_len(head));
    out.put(head.method.as_bytes());
    out.put_byte(b' ');
    out.put(head.target.as_bytes());
    out.put_byte(b' ');
    out.put(head.version.as_str().as_bytes());
    out.put(b"\r\n");
    write_fields(&head.headers, out);
}

/// See [`super::head::write_response`].
pub(super) fn write_response(head: &ResponseHead, out: &mut impl HeadOut) {
    out.reserve_head(response_len(head));
    write_response_line_and_fields(head, out);
}

/// [`write_response`] into room already made for it.
fn write_response_line_and_fields(head: &ResponseHead, out: &mut impl HeadOut) {
    out.put(head.version.as_str().as_bytes());
    out.put_byte(b' ');
    // Three digits always: httparse and the parser refuse anything else on
    // the way in, and a plugin-set status is clamped rather than sent short.
    let status = head.status.min(999);
    out.put(&[b'0' + (status / 100) as u8, b'0' + (status / 10 % 10) as u8, b'0' + (status % 10) as u8]);
    out.put_byte(b' ');
    push_clean(out, reason(head).as_bytes());
    out.put(b"\r\n");
    write_fields(&head.headers, out);
}

/// See [`super::head::response_bytes`].
pub(super) fn response_bytes(head: &ResponseHead, block: &mut HeadBlock) -> Bytes {
    // The block makes the room: measuring the head twice cost as much as writing its line.
    write_response_line_and_fields(head, block.room(response_len(head)));
    block.take()
}

/// The reason phrase written: the head's, or the usual one for its status.
fn reason(head: &ResponseHead) -> &str {
    if head.reason.is_empty() {
        canonical_reason(head.status)
    } else {
        &head.reason
    }
}

/// Bytes [`write_request`] writes for `head` (at most: dropped fields count).
pub(super) fn request_len(head: &RequestHead) -> usize {
    head.method.len() + head.target.len() + 12 + head.headers.wire_len() + 2
}

/// Bytes [`write_response`] writes for `head` (at most, as [`request_len`]):
/// `HTTP/1.1 200 reason CRLF`, the fields, CRLF.
fn response_len(head: &ResponseHead) -> usize {
    13 + reason(head).len() + 2 + head.headers.wire_len() + 2
}

/// A head written line by line into a worker's [`HeadBlock`], for a proxy
/// that forwards a head with edits instead of building an edited copy first.
///
/// Same rules as [`write_request`]: a field whose name is not a token is
/// dropped, CR, LF or NUL in a value becomes SP.
pub struct HeadWriter<'b> {
    block: &'b mut HeadBlock,
}

impl<'b> HeadWriter<'b> {
    /// Starts `METHOD SP target SP version CRLF` in `block`, with room for
    /// `fields_len` more bytes (see [`Headers::wire_len`]) of fields to follow.
    pub fn request(
        method: &str,
        target: &str,
        version: super::head::Version,
        fields_len: usize,
        block: &'b mut HeadBlock,
    ) -> Self {
        let out = block.room(method.len() + target.len() + 12 + fields_len + 2);
        out.put(method.as_bytes());
        out.put_byte(b' ');
        push_clean(out, target.as_bytes());
        out.put_byte(b' ');
        out.put(version.as_str().as_bytes());
        out.put(b"\r\n");
        HeadWriter { block }
    }

    /// Copies a field of a head (checked ones as they are).
    pub fn copy(&mut self, field: WireField<'_>) {
        write_field(field, &mut self.block.buf);
    }

    /// Writes `name: value`, its value the concatenation of `parts`.
    pub fn field(&mut self, name: &'static str, parts: &[&[u8]]) {
        debug_assert!(is_token(name.as_bytes()), "the proxy's own field names are tokens");
        let out = &mut self.block.buf;
        out.put(name.as_bytes());
        out.put(b": ");
        for part in parts {
            push_clean(out, part);
        }
        out.put(b"\r\n");
    }

    /// Writes `name: value` for a literal value, copied without the
    /// line-break check (the literal is the proxy's own).
    pub fn field_literal(&mut self, name: &'static str, value: &'static [u8]) {
        debug_assert!(is_token(name.as_bytes()) && !value.iter().any(|&b| is_line_breaking(b)));
        let out = &mut self.block.buf;
        out.put(name.as_bytes());
        out.put(b": ");
        out.put(value);
        out.put(b"\r\n");
    }

    /// Writes `name: ` and lets `value` append the value (a number, an address).
    pub fn field_with(&mut self, name: &'static str, value: impl FnOnce(&mut BytesMut)) {
        let out = &mut self.block.buf;
        out.put(name.as_bytes());
        out.put(b": ");
        let start = out.len();
        value(out);
        if out[start..].iter().any(|&b| is_line_breaking(b)) {
            out[start..].iter_mut().filter(|b| is_line_breaking(**b)).for_each(|b| *b = b' ');
        }
        out.put(b"\r\n");
    }

    /// Ends the head with its empty line and splits it off the block.
    pub fn finish(self) -> Bytes {
        self.block.buf.put(b"\r\n");
        self.block.take()
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

fn write_fields(headers: &Headers, out: &mut impl HeadOut) {
    for field in headers.wire() {
        write_field(field, out);
    }
    out.put(b"\r\n");
}

/// Appends one `name: value CRLF` line, or nothing for a name that is not a token.
pub(super) fn write_field(field: WireField<'_>, out: &mut impl HeadOut) {
    if field.checked {
        out.put(field.name);
        out.put(b": ");
        out.put(field.value);
    } else {
        if !is_token(field.name) {
            return;
        }
        out.put(field.name);
        out.put(b": ");
        push_clean(out, field.value);
    }
    out.put(b"\r\n");
}

/// Appends `bytes` with CR, LF and NUL turned into SP; copied whole when it holds none.
pub(super) fn push_clean(out: &mut impl HeadOut, bytes: &[u8]) {
    if bytes.iter().any(|&b| is_line_breaking(b)) {
        out.extend(bytes.iter().map(|&b| if is_line_breaking(b) { b' ' } else { b }));
    } else {
        out.put(bytes);
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
    use crate::h1::head::{known, Version};

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

    fn sample_responses() -> Vec<ResponseHead> {
        let fields: &[(&str, &[u8])] = &[("Content-Length", b"3"), ("X-Evil", b"a\r\nb"), ("Bad Name", b"x")];
        vec![
            ResponseHead { version: Version::Http11, status: 200, reason: "".into(), headers: headers(fields) },
            ResponseHead { version: Version::Http10, status: 599, reason: "Odd\n".into(), headers: Headers::new() },
            ResponseHead {
                version: Version::Http11,
                status: 404,
                reason: "Not Found".into(),
                headers: headers(fields),
            },
        ]
    }

    #[test]
    fn a_head_split_off_the_block_equals_one_written_into_a_vec() {
        let mut block = HeadBlock::default();
        let mut heads = sample_responses();
        let long = vec![b'v'; HEAD_BLOCK + 100];
        heads.push(ResponseHead {
            version: Version::Http11,
            status: 200,
            reason: "OK".into(),
            headers: headers(&[("X-Long", &long)]),
        });
        heads.extend(sample_responses());
        for head in heads {
            let mut own = Vec::new();
            write_response(&head, &mut own);
            assert_eq!(response_bytes(&head, &mut block), own);
            assert_eq!(own.capacity(), response_len(&head), "reserved once, never grown");
        }
    }

    #[test]
    fn the_request_writer_writes_each_line_in_one_pass() {
        let mut block = HeadBlock::default();
        let mut w = HeadWriter::request("GET", "/a\rb", Version::Http11, 0, &mut block);
        w.copy(WireField { name: b"Host", value: b"h", checked: true, known: known::HOST });
        w.copy(WireField { name: b"Bad Name", value: b"v", checked: false, known: known::OTHER });
        w.copy(WireField { name: b"X-Set", value: b"a\nb", checked: false, known: known::OTHER });
        w.field("Via", &[b"1.1 ", b"x\0"]);
        w.field_with("X-Num", |out| out.extend_from_slice(b"4\r2"));
        let head = w.finish();
        assert_eq!(head, &b"GET /a b HTTP/1.1\r\nHost: h\r\nX-Set: a b\r\nVia: 1.1 x \r\nX-Num: 4 2\r\n\r\n"[..]);
    }

    #[test]
    fn heads_in_flight_keep_their_bytes_and_a_block_they_left_is_reused() {
        let head = &sample_responses()[0];
        let want = {
            let mut v = Vec::new();
            write_response(head, &mut v);
            v
        };
        let mut block = HeadBlock::default();
        let first = response_bytes(head, &mut block);
        let base = first.as_ptr();
        drop(first);
        // Once every head split off the block is gone, the block serves again
        // when it is used up, instead of a new one.
        for _ in 0..HEAD_BLOCK / want.len() * 3 {
            let next = response_bytes(head, &mut block);
            assert_eq!(next, want);
            assert!((base..base.wrapping_add(HEAD_BLOCK)).contains(&next.as_ptr()), "a head outside the block");
        }

        // More heads than one block holds, all alive: the block is replaced,
        // and every head keeps its own bytes.
        let alive: Vec<Bytes> = (0..HEAD_BLOCK / want.len() * 3).map(|_| response_bytes(head, &mut block)).collect();
        assert!(alive.iter().all(|h| *h == want));
        assert!(alive.iter().any(|h| !(base..base.wrapping_add(HEAD_BLOCK)).contains(&h.as_ptr())));
    }

    #[test]
    fn canonical_reasons() {
        assert_eq!(canonical_reason(404), "Not Found");
        assert_eq!(canonical_reason(431), "Request Header Fields Too Large");
        assert_eq!(canonical_reason(599), "");
    }
}
