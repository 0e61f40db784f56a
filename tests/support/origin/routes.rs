//! What the test origin answers, chosen by the request path and query.
//!
//! | path | answer |
//! | --- | --- |
//! | `/bytes?n=&seed=&framing=` | `n` pattern bytes ([`crate::pattern`]) |
//! | `/echo?framing=` | the request body, with `X-Req-Framing` and `X-Req-Len` |
//! | `/headers` | the request header fields, one `name: value` line each |
//! | `/hop` | a small body plus hop-by-hop response headers the proxy must strip |
//! | `/status/N` | status `N` (no body for 204 and 304) |
//! | `/slow?n=&seed=&delay_ms=&framing=` | `n` pattern bytes in 10 pieces over `delay_ms` |
//! | `/stall` | nothing, ever (until the origin is dropped) |
//! | `/reset` | a TCP reset before any response byte |
//! | `/reset-mid-body?n=&seed=` | a head with `Content-Length: n`, half the body, then a reset |
//! | `/cycle?n=&seed=&framing=` | `n` bytes of [`crate::cycle`], written as produced (any size) |
//! | `[/any/folders]/text?n=&seed=&framing=&status=&ct=&h=&pause_after=&pause_ms=` | compressible [`crate::text`] (see [`super::text`]) |
//!
//! `framing` is `length` (default), `chunked` or `close` (close-delimited).

use super::request::Request;
use crate::pattern::pattern;

/// How a response body is delimited on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends when the origin closes the connection.
    Close,
    /// No body at all (204, 304).
    NoBody,
}

/// What the connection handler should do for one request.
#[derive(Debug)]
pub enum Reply {
    /// Send a complete response.
    Full {
        /// Status code.
        status: u16,
        /// Extra header fields (framing headers are added by the writer).
        headers: Vec<(String, String)>,
        /// Body bytes (ignored for HEAD and [`Framing::NoBody`]).
        body: Vec<u8>,
        /// Body delimitation.
        framing: Framing,
    },
    /// Send `body` in pieces with pauses, over about `delay_ms`.
    Slow {
        /// Body bytes.
        body: Vec<u8>,
        /// Total pause across the pieces.
        delay_ms: u64,
        /// Body delimitation.
        framing: Framing,
    },
    /// Never answer.
    Stall,
    /// Reset the connection before the head.
    ResetNow,
    /// Declare `body.len()` bytes, send half, then reset.
    ResetMidBody {
        /// The whole declared body.
        body: Vec<u8>,
    },
    /// Stream `n` bytes of the cycle for `seed` without holding them.
    Cycle {
        /// Body length.
        n: usize,
        /// Which cycle.
        seed: u64,
        /// Body delimitation.
        framing: Framing,
    },
    /// Stream `n` bytes of [`crate::text`] for `seed` with this status and these fields,
    /// pausing `pause.1` after `pause.0` bytes.
    Text {
        /// Status code.
        status: u16,
        /// Extra header fields.
        headers: Vec<(String, String)>,
        /// Body length.
        n: usize,
        /// Which text.
        seed: u64,
        /// Body delimitation.
        framing: Framing,
        /// Bytes before the pause, and its length.
        pause: (usize, std::time::Duration),
    },
}

/// Chooses the reply for `req`.
pub fn route(req: &Request) -> Reply {
    let framing = match req.query("framing") {
        Some("chunked") => Framing::Chunked,
        Some("close") => Framing::Close,
        _ => Framing::Length,
    };
    let n = usize::try_from(req.query_num("n", 0)).unwrap_or(0);
    let seed = req.query_num("seed", 1);
    let path = req.path();
    match path {
        "/bytes" => ok(pattern(n, seed), framing, Vec::new()),
        "/echo" => {
            let headers = vec![
                ("X-Req-Framing".into(), req.body_framing.as_str().into()),
                ("X-Req-Len".into(), req.body.len().to_string()),
            ];
            ok(req.body.clone(), framing, headers)
        }
        "/headers" => {
            let body: String = req.headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
            ok(body.into_bytes(), Framing::Length, Vec::new())
        }
        "/hop" => {
            let headers = vec![
                ("Connection".into(), "X-Bar".into()),
                ("X-Bar".into(), "1".into()),
                ("Keep-Alive".into(), "timeout=5".into()),
                ("Proxy-Connection".into(), "keep-alive".into()),
                ("X-End-To-End".into(), "kept".into()),
            ];
            ok(b"hop".to_vec(), Framing::Length, headers)
        }
        "/slow" => Reply::Slow { body: pattern(n, seed), delay_ms: req.query_num("delay_ms", 1000), framing },
        "/stall" => Reply::Stall,
        "/reset" => Reply::ResetNow,
        "/reset-mid-body" => Reply::ResetMidBody { body: pattern(n, seed) },
        "/cycle" => Reply::Cycle { n, seed, framing },
        // Any folder: URL-pattern tests need `/static/text` and `/private/text`.
        p if p == "/text" || p.ends_with("/text") => super::text::route(req, framing),
        _ => match path.strip_prefix("/status/").and_then(|s| s.parse::<u16>().ok()) {
            Some(status @ (204 | 304)) => Reply::Full {
                status,
                headers: vec![("ETag".into(), "\"e2e\"".into())],
                body: Vec::new(),
                framing: Framing::NoBody,
            },
            Some(status) => {
                Reply::Full { status, headers: Vec::new(), body: format!("status {status}\n").into_bytes(), framing }
            }
            None => Reply::Full {
                status: 404,
                headers: Vec::new(),
                body: b"no such test route\n".to_vec(),
                framing: Framing::Length,
            },
        },
    }
}

fn ok(body: Vec<u8>, framing: Framing, headers: Vec<(String, String)>) -> Reply {
    Reply::Full { status: 200, headers, body, framing }
}

/// The reason phrase written after `status`.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Other",
    }
}
