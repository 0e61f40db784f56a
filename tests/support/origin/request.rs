//! Reading one HTTP/1.1 request (head and body) from a client of the test origin.
//!
//! This is the origin's own parser: httparse for the head, [`crate::chunked`] for chunked
//! bodies. It is strict where the proxy should have normalised things (it refuses both
//! `Content-Length` and `Transfer-Encoding`), so a proxy that forwards ambiguous framing
//! makes the test fail rather than pass by luck.

use std::io::{self, BufRead, Read, Write};

use crate::chunked::{read_chunked, read_exact_into};

/// Largest request head the origin reads; the proxy's own limit is far below it.
const MAX_HEAD: usize = 256 * 1024;
/// Largest number of header fields the origin parses.
const MAX_HEADERS: usize = 256;

/// How the request body arrived at the origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (no `Content-Length`, no `Transfer-Encoding`).
    None,
    /// `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

impl BodyFraming {
    /// The value of the origin's `X-Req-Framing` response header.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyFraming::None => "none",
            BodyFraming::Length => "length",
            BodyFraming::Chunked => "chunked",
        }
    }
}

/// A request as the origin received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Request target as sent, e.g. `/bytes?n=1`.
    pub target: String,
    /// Minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header fields in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    /// How the body was framed.
    pub body_framing: BodyFraming,
    /// The decoded body.
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether any `Connection` header lists `token` (case-insensitive).
    pub fn connection_has(&self, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The path part of the target.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The value of query parameter `key`, if present.
    pub fn query(&self, key: &str) -> Option<&str> {
        let query = self.target.split_once('?')?.1;
        query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Query parameter `key` parsed as a number, or `default`.
    pub fn query_num(&self, key: &str, default: u64) -> u64 {
        self.query(key).and_then(|v| v.parse().ok()).unwrap_or(default)
    }
}

/// Reads the next request. `Ok(None)` means the peer closed the connection cleanly between
/// requests. Sends `100 Continue` on `w` before reading a body the client is waiting to send.
pub fn read_request(r: &mut impl BufRead, w: &mut impl Write) -> io::Result<Option<Request>> {
    let Some(head) = read_head(r)? else {
        return Ok(None);
    };
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut storage);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(invalid("partial head".into())),
        Err(e) => return Err(invalid(format!("origin could not parse request head: {e}"))),
    }
    let headers: Vec<(String, String)> =
        parsed.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned())).collect();
    let mut req = Request {
        method: parsed.method.unwrap_or_default().to_string(),
        target: parsed.path.unwrap_or_default().to_string(),
        minor_version: parsed.version.unwrap_or_default(),
        headers,
        body_framing: BodyFraming::None,
        body: Vec::new(),
    };
    read_body(&mut req, r, w)?;
    Ok(Some(req))
}

fn read_body(req: &mut Request, r: &mut impl BufRead, w: &mut impl Write) -> io::Result<()> {
    let te = req.header("transfer-encoding").map(str::to_string);
    let cl = req.header("content-length").map(str::to_string);
    req.body_framing = match (&te, &cl) {
        (Some(_), Some(_)) => return Err(invalid("origin got both CL and TE".into())),
        (Some(te), None) if te.trim().eq_ignore_ascii_case("chunked") => BodyFraming::Chunked,
        (Some(te), None) => return Err(invalid(format!("origin got TE {te:?}"))),
        (None, Some(_)) => BodyFraming::Length,
        (None, None) => BodyFraming::None,
    };
    let expects_continue = req.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue && req.body_framing != BodyFraming::None {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
    }
    match req.body_framing {
        BodyFraming::None => Ok(()),
        BodyFraming::Chunked => read_chunked(r, &mut req.body),
        BodyFraming::Length => {
            let n = cl
                .as_deref()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| invalid(format!("origin got bad Content-Length {cl:?}")))?;
            read_exact_into(r, n, &mut req.body)
        }
    }
}

/// Reads up to and including the empty line that ends a head. Tolerates (like most servers)
/// empty lines before the request line, which keep-alive clients sometimes send.
fn read_head(r: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let start = head.len();
        let n = Read::take(&mut *r, (MAX_HEAD - start) as u64).read_until(b'\n', &mut head)?;
        if n == 0 {
            if head.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF inside head"));
        }
        if head.len() >= MAX_HEAD {
            return Err(invalid("request head too large for the origin".into()));
        }
        let line = &head[start..];
        if line == b"\r\n" || line == b"\n" {
            if start == 0 {
                head.clear();
                continue;
            }
            return Ok(Some(head));
        }
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}
