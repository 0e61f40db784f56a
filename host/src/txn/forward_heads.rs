//! The heads the proxy writes: the request head the origin sees and the
//! response head the client sees, each with hop-by-hop fields removed and
//! framing re-declared to match what the proxy's own encoder will send.

use crate::h1::head::{strip_hop_by_hop, write_request, BodyKind, RequestHead, ResponseHead, Version};
use crate::h1::target::{split_absolute, without_fragment};
use crate::session::ClientIo;
use bytes::Bytes;

/// How long the body after a response head is, as far as the proxy knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLen {
    /// No body (HEAD, 1xx, 204, 304, or a zero-length body).
    None,
    /// Exactly this many bytes.
    Known(u64),
    /// Unknown until it ends.
    Unknown,
}

/// Declares the client-side framing on `out` and returns the encoder kind.
/// `original_length` is the origin's Content-Length, which HEAD and 304
/// responses keep because it describes the representation, not this body.
pub fn frame_response(
    out: &mut ResponseHead,
    len: BodyLen,
    method: &str,
    original_length: Option<Vec<u8>>,
    client: Version,
) -> BodyKind {
    out.headers.remove("content-length");
    out.headers.remove("transfer-encoding");
    match len {
        BodyLen::None => {
            if method == "HEAD" || out.status == 304 {
                if let Some(cl) = original_length {
                    out.headers.set("Content-Length", cl);
                }
            } else if out.status != 204 {
                // An empty body still needs its end marked on a keep-alive connection.
                out.headers.set("Content-Length", "0");
            }
            BodyKind::Empty
        }
        BodyLen::Known(n) => {
            out.headers.set("Content-Length", n.to_string());
            BodyKind::Length(n)
        }
        BodyLen::Unknown if client == Version::Http11 => {
            out.headers.set("Transfer-Encoding", "chunked");
            BodyKind::Chunked
        }
        BodyLen::Unknown => BodyKind::CloseDelimited,
    }
}

/// The request head as the origin sees it: origin-form target, hop-by-hop
/// fields removed, Via and X-Forwarded-For added, framing re-declared.
pub fn upstream_request(head: &RequestHead, framing: BodyKind, io: &ClientIo) -> Bytes {
    let mut up = RequestHead {
        method: head.method.clone(),
        target: head.target.clone(),
        version: Version::Http11,
        headers: head.headers.clone(),
    };
    // RFC 9112 section 3.2.2: the authority of an absolute-form target replaces Host. The
    // parser already refused a target that does not split; a plugin-set one that does not is
    // forwarded as it stands, for the origin to judge.
    if let Ok(Some(absolute)) = split_absolute(&head.target) {
        up.headers.set("Host", absolute.authority.as_bytes().to_vec());
        up.target = absolute.origin_form;
    } else if head.target.contains('#') {
        up.target = without_fragment(&head.target).to_owned();
    }
    let had_length = up.headers.get("content-length").is_some();
    strip_hop_by_hop(&mut up.headers);
    up.headers.remove("expect");
    if up.headers.get("host").is_none() {
        up.headers.set("Host", io.stream.local_addr().map(|a| a.to_string()).unwrap_or_default());
    }
    let ip = io.peer.ip().to_string();
    let xff = match up.headers.get("x-forwarded-for") {
        Some(prev) => format!("{}, {ip}", String::from_utf8_lossy(prev)),
        None => ip,
    };
    up.headers.set("X-Forwarded-For", xff);
    up.headers.append("Via", if head.version == Version::Http10 { "1.0 plugin-host" } else { "1.1 plugin-host" });
    match framing {
        BodyKind::Length(n) => up.headers.set("Content-Length", n.to_string()),
        BodyKind::Empty if had_length => up.headers.set("Content-Length", "0"),
        BodyKind::Empty => {}
        BodyKind::Chunked | BodyKind::CloseDelimited => up.headers.set("Transfer-Encoding", "chunked"),
    }
    let mut out = Vec::with_capacity(512);
    write_request(&up, &mut out);
    Bytes::from(out)
}
