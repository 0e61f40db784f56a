//! Small, complete error responses the proxy writes itself.

use crate::h1::head::{write_response, Headers, ResponseHead, Version};
use bytes::Bytes;

/// A complete response: status line, Content-Length, a one-line text body.
pub fn render(status: u16, why: &str, close: bool) -> Bytes {
    let reason = crate::h1::head::canonical_reason(status);
    let body = format!("{status} {reason}: {why}\n");
    let mut headers = Headers::default();
    headers.set("Content-Type", "text/plain; charset=utf-8");
    headers.set("Content-Length", body.len().to_string());
    headers.set("Cache-Control", "no-store");
    if close {
        headers.set("Connection", "close");
    }
    let head = ResponseHead { version: Version::Http11, status, reason: reason.to_string().into(), headers };
    let mut out = Vec::with_capacity(160 + body.len());
    write_response(&head, &mut out);
    out.extend_from_slice(body.as_bytes());
    Bytes::from(out)
}
