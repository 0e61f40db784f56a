//! Request and response heads: parse, check framing (RFC 9112 section 6.3),
//! strip hop-by-hop headers, write out.

/// HTTP version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

/// Header fields in arrival order; names compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, Vec<u8>)>,
}

impl Headers {
    /// First value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        todo!()
    }
    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        std::iter::empty()
    }
    /// Replaces every value of `name` with one.
    pub fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        todo!()
    }
    /// Adds a value, keeping existing ones.
    pub fn append(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        todo!()
    }
    /// Removes every value of `name`; true if any was there.
    pub fn remove(&mut self, name: &str) -> bool {
        todo!()
    }
    /// True if any value of `name`, read as a comma-separated list, holds `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        todo!()
    }
    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct RequestHead {
    pub method: String,
    pub target: String,
    pub version: Version,
    pub headers: Headers,
}

/// A parsed response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: String,
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
    pub fn status(&self) -> u16 {
        todo!()
    }
}

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
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Option<(RequestHead, usize)>, HeadError> {
    todo!()
}

/// Parses a response head from the start of `buf`. `Ok(None)`: incomplete.
pub fn parse_response(buf: &[u8], limits: &Limits) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    todo!()
}

/// The body framing of a request, refusing anything ambiguous.
pub fn request_framing(head: &RequestHead) -> Result<BodyKind, HeadError> {
    todo!()
}

/// The body framing of a response to a request with `method`.
pub fn response_framing(method: &str, head: &ResponseHead) -> Result<BodyKind, HeadError> {
    todo!()
}

/// Whether the connection may stay open after this message.
pub fn keep_alive(version: Version, headers: &Headers) -> bool {
    todo!()
}

/// Removes hop-by-hop fields, framing fields included.
pub fn strip_hop_by_hop(headers: &mut Headers) {
    todo!()
}

/// Appends the request head's bytes.
pub fn write_request(head: &RequestHead, out: &mut Vec<u8>) {
    todo!()
}

/// Appends the response head's bytes.
pub fn write_response(head: &ResponseHead, out: &mut Vec<u8>) {
    todo!()
}

/// Canonical reason phrase.
pub fn canonical_reason(_status: u16) -> &'static str {
    todo!()
}
