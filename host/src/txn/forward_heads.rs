//! The heads the proxy writes: the request head the origin sees and the
//! response head the client sees, each with hop-by-hop fields removed and
//! framing re-declared to match what the proxy's own encoder will send.

use crate::h1::head::{hop_by_hop, known, BodyKind, HeadBlock, HeadWriter, RequestHead, ResponseHead, Version};
use crate::h1::target::{split_absolute, without_fragment};
use crate::session::ClientIo;
use bytes::{Bytes, BytesMut};
use std::borrow::Cow;
use std::fmt::Write;

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
/// responses keep because it describes the representation, not this body,
/// and which a body that kept its length is declared with again.
pub fn frame_response(
    out: &mut ResponseHead,
    len: BodyLen,
    method: &str,
    original_length: Option<Bytes>,
    client: Version,
) -> BodyKind {
    // The Content-Length the head still has (a plugin's) or the origin's,
    // for the common case where the body keeps its length: re-setting it
    // shares those bytes instead of copying new ones.
    let declared = out.headers.get_shared("content-length");
    out.headers.remove("content-length");
    out.headers.remove("transfer-encoding");
    match len {
        BodyLen::None => {
            if method == "HEAD" || out.status == 304 {
                if let Some(cl) = original_length {
                    out.headers.set_static("Content-Length", cl);
                }
            } else if out.status != 204 {
                // An empty body still needs its end marked on a keep-alive connection.
                out.headers.set_trusted("Content-Length", "0");
            }
            BodyKind::Empty
        }
        BodyLen::Known(n) => {
            let mut digits = [0u8; 20];
            let digits = decimal(n, &mut digits);
            match [declared, original_length].into_iter().flatten().find(|v| v.as_ref() == digits) {
                Some(v) => out.headers.set_trusted("Content-Length", v),
                None => out.headers.set_trusted("Content-Length", Bytes::copy_from_slice(digits)),
            }
            BodyKind::Length(n)
        }
        BodyLen::Unknown if client == Version::Http11 => {
            out.headers.set_trusted("Transfer-Encoding", "chunked");
            BodyKind::Chunked
        }
        BodyLen::Unknown => BodyKind::CloseDelimited,
    }
}

/// `n` in decimal, written into the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// Rewrites `up`'s target to the origin form, the fragment dropped.
pub fn origin_form(up: &mut RequestHead) {
    // RFC 9112 section 3.2.2: the authority of an absolute-form target replaces Host. The
    // parser already refused a target that does not split; a plugin-set one that does not is
    // forwarded as it stands, for the origin to judge.
    if let Ok(Some(absolute)) = split_absolute(&up.target) {
        up.headers.set("Host", absolute.authority.as_bytes().to_vec());
        up.target = absolute.origin_form;
    } else if up.target.contains('#') {
        up.target = without_fragment(&up.target).to_owned();
    }
}

/// The request head as the origin sees it: origin-form target, hop-by-hop
/// fields removed, Via and X-Forwarded-For added, framing re-declared.
/// `upgrade`: the client's `Upgrade` value, forwarded with `Connection:
/// upgrade` when the client asked to switch protocols (see [`super::tunnel`]).
///
/// Written in one pass over the client's head into one buffer sized for
/// it, without an edited copy of the head: fields keep their order, Host
/// and X-Forwarded-For their place (the latter gains the client's address
/// after every earlier hop), and the proxy's own fields come last. The head
/// is split off the worker's `block`.
pub fn upstream_request(
    head: &RequestHead,
    framing: BodyKind,
    upgrade: Option<&[u8]>,
    io: &ClientIo,
    block: &mut HeadBlock,
) -> Bytes {
    // RFC 9112 section 3.2.2: the authority of an absolute-form target replaces Host. The
    // parser already refused a target that does not split; a plugin-set one that does not is
    // forwarded as it stands, for the origin to judge.
    let (authority, target) = match split_absolute(&head.target) {
        Ok(Some(absolute)) => (Some(absolute.authority), Cow::Owned(absolute.origin_form)),
        _ => (None, Cow::Borrowed(without_fragment(&head.target))),
    };
    let hop = hop_by_hop(&head.headers);
    let had_length = head.headers.contains("content-length");
    // The proxy's own fields: Host (rarely), X-Forwarded-For, Via, framing.
    const OWN_FIELDS: usize = 160;
    let mut w =
        HeadWriter::request(&head.method, &target, Version::Http11, head.headers.wire_len() + OWN_FIELDS, block);
    let (mut host, mut xff) = (false, false);
    for field in head.headers.wire() {
        let (name, tag) = (field.name, field.known);
        if tag == known::EXPECT || hop.holds(tag, name) {
            continue;
        }
        if tag == known::HOST {
            match authority {
                Some(_) if host => {}
                Some(a) => w.field("Host", &[a.as_bytes()]),
                None => w.copy(field),
            }
            host = true;
        } else if tag == known::X_FORWARDED_FOR {
            if !xff {
                // RFC 9110 section 5.3: several X-Forwarded-For lines are one list.
                w.field_with("X-Forwarded-For", |out| {
                    for prev in head.headers.get_all("x-forwarded-for") {
                        out.extend_from_slice(prev);
                        out.extend_from_slice(b", ");
                    }
                    push_ip(out, io.peer.ip());
                });
            }
            xff = true;
        } else {
            w.copy(field);
        }
    }
    if !host {
        match authority {
            Some(a) => w.field("Host", &[a.as_bytes()]),
            None => w.field_with("Host", |out| {
                if let Ok(addr) = io.stream.local_addr() {
                    let _ = write!(out, "{addr}");
                }
            }),
        }
    }
    if !xff {
        w.field_with("X-Forwarded-For", |out| push_ip(out, io.peer.ip()));
    }
    w.field_literal("Via", if head.version == Version::Http10 { b"1.0 plugin-host" } else { b"1.1 plugin-host" });
    if let Some(protocols) = upgrade {
        w.field_literal("Connection", b"upgrade");
        w.field("Upgrade", &[protocols]);
    }
    match framing {
        BodyKind::Length(n) => w.field_with("Content-Length", |out| {
            out.extend_from_slice(decimal(n, &mut [0; 20]));
        }),
        BodyKind::Empty if had_length => w.field("Content-Length", &[b"0"]),
        BodyKind::Empty => {}
        BodyKind::Chunked | BodyKind::CloseDelimited => w.field("Transfer-Encoding", &[b"chunked"]),
    }
    w.finish()
}

/// The client's address as X-Forwarded-For writes it. IPv4 (every request
/// on a v4 listener) is written digit by digit: the formatting machinery's
/// `Display` for it showed in the per-request profile.
fn push_ip(out: &mut BytesMut, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b".");
                }
                out.extend_from_slice(decimal(u64::from(octet), &mut [0; 20]));
            }
        }
        ip => {
            let _ = write!(out, "{ip}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::head::Headers;

    fn response(fields: &[(&'static str, &'static str)]) -> ResponseHead {
        let mut headers = Headers::new();
        for (name, value) in fields {
            headers.append_static(name, *value);
        }
        ResponseHead { version: Version::Http11, status: 200, reason: "OK".into(), headers }
    }

    #[test]
    fn a_body_that_kept_its_length_is_declared_with_the_origins_bytes() {
        let original = Bytes::from(b"1024".to_vec());
        let mut out = response(&[("Server", "s")]);
        let kind = frame_response(&mut out, BodyLen::Known(1024), "GET", Some(original.clone()), Version::Http11);
        assert_eq!(kind, BodyKind::Length(1024));
        let declared = out.headers.get_shared("content-length").expect("declared");
        assert_eq!(declared.as_ptr(), original.as_ptr(), "shared, not copied");

        // A length that changed is written afresh; a plugin's equal value is kept.
        let mut out = response(&[("Content-Length", "7")]);
        frame_response(&mut out, BodyLen::Known(12), "GET", Some(original.clone()), Version::Http11);
        assert_eq!(out.headers.get_all("content-length").collect::<Vec<_>>(), [&b"12"[..]]);
        let mut out = response(&[("Content-Length", "12"), ("X-A", "1")]);
        frame_response(&mut out, BodyLen::Known(12), "GET", Some(original), Version::Http11);
        assert_eq!(out.headers.iter().collect::<Vec<_>>(), [("X-A", &b"1"[..]), ("Content-Length", &b"12"[..])]);
    }

    #[test]
    fn a_client_address_is_written_as_display_writes_it() {
        for ip in ["127.0.0.1", "0.0.0.0", "255.255.255.255", "10.200.3.45", "::1", "2001:db8::8a2e:370:7334"] {
            let ip: std::net::IpAddr = ip.parse().expect("an address");
            let mut out = BytesMut::new();
            push_ip(&mut out, ip);
            assert_eq!(&out[..], ip.to_string().as_bytes());
        }
    }

    #[test]
    fn decimal_matches_to_string() {
        for n in [0, 7, 10, 65_536, 1_048_576, u64::MAX] {
            let mut buf = [0u8; 20];
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
