//! Request and response heads: the types the rest of the host passes around,
//! and the entry points to parse them ([`parse_request`], [`parse_response`]),
//! decide their body framing (RFC 9112 section 6.3: [`request_framing`],
//! [`response_framing`]), strip hop-by-hop headers and write them out.
//!
//! The functions at the bottom are the whole API; each delegates to a
//! sibling module split by responsibility: `parse` (bytes to heads),
//! `framing` (heads to [`BodyKind`], connection policy), `write_head`
//! (heads to bytes, [`HeadWriter`], [`HeadBlock`]) and `fields` ([`Headers`]).
//! [`HeadSpares`] keeps the storage of finished heads for the next ones parsed.

use super::{framing, parse, write_head};
use bytes::BytesMut;
use std::borrow::Cow;

pub(super) use super::fields::list_elements;
pub use super::fields::{Headers, WireField};
pub use super::framing::HopByHop;
pub(crate) use super::known;
pub use super::write_head::{HeadBlock, HeadWriter};

/// HTTP version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

impl Version {
    /// The version as it appears on the wire: `HTTP/1.0` or `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The method token, case-sensitive (`GET` and `get` differ); the
    /// standard methods are static strings.
    pub method: Cow<'static, str>,
    /// The request target as sent: origin-, absolute-, authority- or asterisk-form.
    pub target: String,
    /// The version of the request line.
    pub version: Version,
    /// The header fields.
    pub headers: Headers,
}

/// A parsed response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// The version of the status line.
    pub version: Version,
    /// The three-digit status code.
    pub status: u16,
    /// The reason phrase; empty if absent or not plain ASCII; static when
    /// it is the usual one for the status.
    pub reason: Cow<'static, str>,
    /// The header fields.
    pub headers: Headers,
}

/// Limits on a head.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of the whole head, request line and final CRLF included.
    pub max_head_bytes: usize,
    /// Number of header fields.
    pub max_headers: usize,
}

/// Why a head was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    /// The head exceeds `max_head_bytes` (431).
    TooLarge,
    /// More than `max_headers` fields (431).
    TooManyHeaders,
    /// A well-formed HTTP version of a major other than 1, such as
    /// `HTTP/2.0` on a plain connection (505, RFC 9110 section 15.6.6).
    VersionNotSupported,
    /// Anything else: syntax, obs-fold, ambiguous framing (400). The text says what.
    Malformed(&'static str),
}

impl HeadError {
    /// The status to answer a client with.
    ///
    /// For a response head from an origin the proxy answers 502 instead;
    /// that choice belongs to the caller, which knows the direction.
    pub fn status(&self) -> u16 {
        match self {
            // RFC 6585 section 5: Request Header Fields Too Large.
            HeadError::TooLarge | HeadError::TooManyHeaders => 431,
            HeadError::VersionNotSupported => 505,
            HeadError::Malformed(_) => 400,
        }
    }
}

impl std::fmt::Display for HeadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeadError::TooLarge => f.write_str("head too large"),
            HeadError::TooManyHeaders => f.write_str("too many header fields"),
            HeadError::VersionNotSupported => f.write_str("unsupported HTTP major version"),
            HeadError::Malformed(what) => write!(f, "malformed head: {what}"),
        }
    }
}

impl std::error::Error for HeadError {}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body at all.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes (responses only).
    CloseDelimited,
}

/// Parses a request head from the start of `buf`. `Ok(None)`: incomplete.
///
/// On success returns the head and its length: the body, or the next
/// pipelined request, starts at that offset. Refuses (see [`HeadError`]):
/// heads over `max_head_bytes` (even incomplete ones), more than
/// `max_headers` fields, obs-fold, whitespace before a colon, invalid names
/// or values (NUL, CR, LF), versions other than 1.0 and 1.1, a target whose
/// form does not fit the method, a missing Host on HTTP/1.1, several Hosts.
/// Framing fields are judged later by [`request_framing`].
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Option<(RequestHead, usize)>, HeadError> {
    parse::parse_request(buf, limits)
}

/// [`parse_request`] on a read buffer: a complete head is split off the
/// front of `buf` without copying (its fields become ranges of it), and
/// what follows it stays in `buf`. Its field list and target string come
/// from `spares` when it has some.
pub fn take_request(
    buf: &mut BytesMut,
    limits: &Limits,
    spares: &mut HeadSpares,
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    parse::take_request(buf, limits, spares)
}

/// Parses a response head from the start of `buf`. `Ok(None)`: incomplete.
///
/// Same limits and field rules as [`parse_request`]; the status must be
/// 100..=599.
pub fn parse_response(buf: &[u8], limits: &Limits) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    parse::parse_response(buf, limits)
}

/// [`parse_response`] on a read buffer, splitting the head off and taking
/// its storage from `spares` as [`take_request`] does.
pub fn take_response(
    buf: &mut BytesMut,
    limits: &Limits,
    spares: &mut HeadSpares,
) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    parse::take_response(buf, limits, spares)
}

/// Storage of finished heads (field lists, request targets) for the next
/// heads a worker parses, so that a head parsed on a busy worker allocates
/// nothing.
///
/// Bounded like the worker's other spares: at most [`MAX_SPARE_HEADS`] of
/// each, and a list or target too large to be typical is freed instead.
#[derive(Default)]
pub struct HeadSpares {
    fields: Vec<Headers>,
    targets: Vec<String>,
}

/// Spare field lists and targets a worker keeps at most, each.
pub const MAX_SPARE_HEADS: usize = 64;
/// Fields a spare list may have room for; a longer one is freed.
const MAX_SPARE_FIELDS: usize = 64;
/// Bytes a spare target may have room for.
const MAX_SPARE_TARGET: usize = 2048;

impl HeadSpares {
    /// Keeps the storage of a finished head's fields; the fields, and the
    /// head bytes they point into, are let go of now.
    pub fn keep_fields(&mut self, headers: Headers) {
        if self.fields.len() < MAX_SPARE_HEADS {
            self.fields.extend(headers.into_spare(MAX_SPARE_FIELDS));
        }
    }

    /// Keeps the storage of a finished request's target.
    pub fn keep_target(&mut self, mut target: String) {
        let cap = target.capacity();
        if cap > 0 && cap <= MAX_SPARE_TARGET && self.targets.len() < MAX_SPARE_HEADS {
            target.clear();
            self.targets.push(target);
        }
    }

    /// Spare field lists and targets held (for tests).
    #[cfg(test)]
    pub fn held(&self) -> (usize, usize) {
        (self.fields.len(), self.targets.len())
    }

    pub(super) fn fields(&mut self) -> Headers {
        self.fields.pop().unwrap_or_default()
    }

    pub(super) fn target(&mut self, text: &str) -> String {
        let mut target = self.targets.pop().unwrap_or_default();
        target.push_str(text);
        target
    }
}

/// The body framing of a request, refusing anything ambiguous.
///
/// Accepted: no framing fields (`Empty`: requests are never close-delimited),
/// one valid Content-Length (`Length`, or `Empty` for 0), or exactly
/// `Transfer-Encoding: chunked` on HTTP/1.1. Everything else is `Malformed`:
/// TE together with CL, TE on HTTP/1.0, a final coding other than chunked,
/// chunked twice, any other coding (this proxy does not decode them), and
/// Content-Length values that are not plain decimal or that disagree
/// (identical duplicates count as one).
pub fn request_framing(head: &RequestHead) -> Result<BodyKind, HeadError> {
    framing::request_framing(head)
}

/// The body framing of a response to a request with `method`.
///
/// In the order of RFC 9112 section 6.3: a response to HEAD and any 1xx, 204
/// or 304 has no body whatever its fields say; then a Transfer-Encoding of
/// `chunked` wins over any Content-Length; then Content-Length (`Malformed`
/// if invalid or disagreeing); then until close. `chunked` applied twice is
/// refused (RFC 9112 section 6.1 forbids it; it is a desync trick), and so is
/// any other transfer coding (`gzip, chunked`, `gzip`): the proxy decodes
/// none but chunked and re-frames every body, so relaying it would hand the
/// client a body still in a coding its new framing no longer declares.
pub fn response_framing(method: &str, head: &ResponseHead) -> Result<BodyKind, HeadError> {
    framing::response_framing(method, head)
}

/// Whether the connection may stay open after this message.
///
/// HTTP/1.1 persists unless `Connection: close`; HTTP/1.0 only with
/// `Connection: keep-alive` (RFC 9112 section 9.3).
pub fn keep_alive(version: Version, headers: &Headers) -> bool {
    framing::keep_alive(version, headers)
}

/// Whether an origin connection may go back to the pool after this
/// response, once its body (framed as `kind`) has been read to the end.
///
/// Not after a close-delimited body, `Connection: close`, or an HTTP/1.0
/// response without keep-alive; and, by RFC 9112 section 6.1, never after a
/// response whose framing is suspect even though it was read: one with
/// both Transfer-Encoding and Content-Length (a smuggling pattern: the
/// origin, or something before it, may read that message differently), or
/// any Transfer-Encoding in HTTP/1.0 ("treat the message as if the framing
/// is faulty ... and close the connection").
pub fn origin_may_persist(head: &ResponseHead, kind: BodyKind) -> bool {
    framing::origin_may_persist(head, kind)
}

/// Removes hop-by-hop fields, framing fields included.
///
/// First every field named in a Connection value, then Connection,
/// Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade and Proxy-Connection.
/// Content-Length goes too: the proxy re-decides the framing of everything
/// it sends (a transform may change the length), so the caller sets
/// Content-Length or Transfer-Encoding afresh to match its encoder.
pub fn strip_hop_by_hop(headers: &mut Headers) {
    framing::strip_hop_by_hop(headers)
}

/// The names [`strip_hop_by_hop`] would remove from a head, for a writer
/// that skips them instead of removing them.
pub fn hop_by_hop(headers: &Headers) -> HopByHop {
    framing::HopByHop::of(headers)
}

/// Appends the request head's bytes.
///
/// `METHOD SP target SP HTTP/1.x CRLF`, then `name: value CRLF` per field,
/// then CRLF. Fields with a name that is not a token are dropped, and CR,
/// LF or NUL in a value become SP, so a plugin-edited head cannot inject
/// lines.
pub fn write_request(head: &RequestHead, out: &mut Vec<u8>) {
    write_head::write_request(head, out)
}

/// Appends the response head's bytes.
///
/// The status line carries `head.version` as given (a proxy speaks its own
/// version, so the caller normally sets HTTP/1.1); an empty reason is
/// replaced by [`canonical_reason`]. Fields as in [`write_request`].
pub fn write_response(head: &ResponseHead, out: &mut Vec<u8>) {
    write_head::write_response(head, out)
}

/// The response head's bytes as [`write_response`] writes them, split off
/// the worker's `block` instead of a buffer of their own.
pub fn response_bytes(head: &ResponseHead, block: &mut HeadBlock) -> bytes::Bytes {
    write_head::response_bytes(head, block)
}

/// The reason phrase RFC 9110 section 15 gives `status`; empty for codes it
/// does not define (a status line may carry an empty reason).
pub fn canonical_reason(status: u16) -> &'static str {
    write_head::canonical_reason(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_spares_are_bounded() {
        let limits = Limits { max_head_bytes: 16 * 1024, max_headers: 128 };
        let parsed = |fields: usize, target_len: usize| {
            let mut raw = format!("GET /{} HTTP/1.1\r\nHost: h\r\n", "t".repeat(target_len));
            for i in 1..fields {
                raw.push_str(&format!("X-{i}: v\r\n"));
            }
            raw.push_str("\r\n");
            parse_request(raw.as_bytes(), &limits).expect("valid").expect("complete").0
        };
        let mut spares = HeadSpares::default();
        let huge = parsed(MAX_SPARE_FIELDS + 1, MAX_SPARE_TARGET + 1);
        spares.keep_fields(huge.headers);
        spares.keep_target(huge.target);
        assert_eq!(spares.held(), (0, 0), "storage too large to be typical is freed");
        spares.keep_fields(Headers::new());
        spares.keep_target(String::new());
        assert_eq!(spares.held(), (0, 0), "no storage, nothing kept");
        for _ in 0..MAX_SPARE_HEADS + 3 {
            let head = parsed(3, 10);
            spares.keep_fields(head.headers);
            spares.keep_target(head.target);
        }
        assert_eq!(spares.held(), (MAX_SPARE_HEADS, MAX_SPARE_HEADS));
    }

    #[test]
    fn status_codes() {
        assert_eq!(HeadError::TooLarge.status(), 431);
        assert_eq!(HeadError::TooManyHeaders.status(), 431);
        assert_eq!(HeadError::Malformed("x").status(), 400);
        assert_eq!(HeadError::VersionNotSupported.status(), 505);
    }
}
