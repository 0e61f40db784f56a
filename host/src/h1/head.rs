//! Request and response heads: the types the rest of the host passes around,
//! and the entry points to parse them ([`parse_request`], [`parse_response`]),
//! decide their body framing (RFC 9112 section 6.3: [`request_framing`],
//! [`response_framing`]), strip hop-by-hop headers and write them out.
//!
//! The functions at the bottom are the whole API; each delegates to a
//! sibling module split by responsibility: `parse` (bytes to heads),
//! `framing` (heads to [`BodyKind`], connection policy) and `write_head`
//! (heads to bytes).

use super::{framing, parse, write_head};

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

/// Header fields in arrival order; names compare case-insensitively.
///
/// Names keep the case they arrived (or were set) with, since some origins
/// and clients still care; values are raw bytes because RFC 9110 allows
/// obs-text (0x80..=0xFF) in them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, Vec<u8>)>,
}

impl Headers {
    /// An empty set of fields.
    pub fn new() -> Self {
        Self::default()
    }
    /// First value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.position(name).map(|i| self.entries[i].1.as_slice())
    }
    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.entries.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }
    /// True if at least one field is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    /// Replaces every value of `name` with one.
    ///
    /// The new field takes the position of the first existing one, so that
    /// rewriting a header does not reorder the head; otherwise it is appended.
    pub fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self.position(name) {
            Some(first) => {
                self.entries[first] = (name.to_owned(), value);
                let mut index = 0;
                self.entries.retain(|(n, _)| {
                    let keep = index <= first || !n.eq_ignore_ascii_case(name);
                    index += 1;
                    keep
                });
            }
            None => self.entries.push((name.to_owned(), value)),
        }
    }
    /// Adds a value, keeping existing ones.
    pub fn append(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        self.entries.push((name.to_owned(), value.into()));
    }
    /// Removes every value of `name`; true if any was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.entries.len() != before
    }
    /// Keeps only the fields whose name `keep` accepts, in one pass.
    pub fn retain_names(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.entries.retain(|(n, _)| keep(n));
    }
    /// True if any value of `name`, read as a comma-separated list, holds `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).flat_map(list_elements).any(|element| element.eq_ignore_ascii_case(token.as_bytes()))
    }
    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries.iter().position(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// The elements of one comma-separated field value (RFC 9110 section 5.6.1),
/// each trimmed of optional whitespace; empty elements are kept so that
/// callers which must refuse them (Content-Length) can.
pub(super) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

/// `value` without leading and trailing SP / HTAB.
pub(super) fn trim_ows(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &value[start..end]
}

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The method token, case-sensitive (`GET` and `get` differ).
    pub method: String,
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
    /// The reason phrase; empty if absent or not plain ASCII.
    pub reason: String,
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
            HeadError::Malformed(_) => 400,
        }
    }
}

impl std::fmt::Display for HeadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeadError::TooLarge => f.write_str("head too large"),
            HeadError::TooManyHeaders => f.write_str("too many header fields"),
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

/// Parses a response head from the start of `buf`. `Ok(None)`: incomplete.
///
/// Same limits and field rules as [`parse_request`]; the status must be
/// 100..=599.
pub fn parse_response(buf: &[u8], limits: &Limits) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    parse::parse_response(buf, limits)
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

/// The reason phrase RFC 9110 section 15 gives `status`; empty for codes it
/// does not define (a status line may carry an empty reason).
pub fn canonical_reason(status: u16) -> &'static str {
    write_head::canonical_reason(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Headers {
        let mut h = Headers::new();
        h.append("Host", "a");
        h.append("X-One", "1");
        h.append("Accept", "*/*");
        h.append("x-one", "2");
        h
    }

    #[test]
    fn get_is_case_insensitive_and_ordered() {
        let h = sample();
        assert_eq!(h.get("HOST"), Some(&b"a"[..]));
        assert_eq!(h.get_all("X-ONE").collect::<Vec<_>>(), vec![&b"1"[..], &b"2"[..]]);
        assert_eq!(h.get("missing"), None);
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn set_replaces_all_keeping_first_position() {
        let mut h = sample();
        h.set("X-ONE", "3");
        let fields: Vec<_> = h.iter().collect();
        assert_eq!(fields, vec![("Host", &b"a"[..]), ("X-ONE", &b"3"[..]), ("Accept", &b"*/*"[..])]);
        h.set("New", "v");
        assert_eq!(h.iter().last(), Some(("New", &b"v"[..])));
    }

    #[test]
    fn remove_reports_presence() {
        let mut h = sample();
        assert!(h.remove("x-one"));
        assert!(!h.remove("x-one"));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn has_token_splits_lists_and_trims() {
        let mut h = Headers::new();
        h.append("Connection", "Upgrade ,\tKeep-Alive");
        h.append("Connection", "x-foo");
        assert!(h.has_token("connection", "keep-alive"));
        assert!(h.has_token("connection", "upgrade"));
        assert!(h.has_token("connection", "X-FOO"));
        assert!(!h.has_token("connection", "close"));
        assert!(!h.has_token("connection", "keep"));
    }

    #[test]
    fn trim_ows_edges() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
    }

    #[test]
    fn status_codes() {
        assert_eq!(HeadError::TooLarge.status(), 431);
        assert_eq!(HeadError::TooManyHeaders.status(), 431);
        assert_eq!(HeadError::Malformed("x").status(), 400);
    }
}
