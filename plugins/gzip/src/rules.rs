//! When to compress: the request half (decided when the request head is
//! read: enabled, allowed URL, Range, Accept-Encoding) and the response half
//! (status, Content-Encoding, no-transform, media type, length), with the
//! header edits each outcome makes.
//!
//! A response is *compressible* when everything but the client's
//! Accept-Encoding (and the range rules) says yes; such a response carries
//! `Vary: Accept-Encoding` whether or not this client got it compressed,
//! since another client would get another representation.

use crate::config::{RangeRequest, Settings};
use crate::fields::{no_transform, vary_accept_encoding, weaken_etag, Fields};
use crate::glob::matches;
use crate::negotiate::{choose, Coding};
use crate::stats::Skip;

/// What the request half decided: a coding, or why not.
pub type Verdict = Result<Coding, Skip>;

/// The request half. May remove Range or Accept-Encoding from the request,
/// as `range-request` and `remove-accept-encoding` say.
pub fn on_request(s: &Settings, url: &str, req: &mut impl Fields) -> Verdict {
    if !s.enabled || !url_allowed(s, url) {
        return Err(Skip::Disabled);
    }
    let accept = req.values("accept-encoding");
    let verdict = if !accept.is_empty() && req.has("range") {
        match s.range_request {
            RangeRequest::None => choose(accept.iter().map(Vec::as_slice), &s.algorithms).ok_or(Skip::NotAccepted),
            RangeRequest::NoCompression => Err(Skip::Range),
            RangeRequest::RemoveRange => {
                req.remove("range");
                choose(accept.iter().map(Vec::as_slice), &s.algorithms).ok_or(Skip::NotAccepted)
            }
            RangeRequest::RemoveAcceptEncoding => {
                req.remove("accept-encoding");
                Err(Skip::Range)
            }
        }
    } else if no_transform(req) {
        Err(Skip::NoTransform)
    } else {
        choose(accept.iter().map(Vec::as_slice), &s.algorithms).ok_or(Skip::NotAccepted)
    };
    if s.remove_accept_encoding {
        req.remove("accept-encoding");
    }
    verdict
}

/// Whether `allow` lets `url` be compressed: the first matching pattern
/// decides (`!` excludes); with no match, only a list of nothing but
/// exclusions allows (Traffic Server refuses then, which makes an
/// exclusion-only list refuse everything).
fn url_allowed(s: &Settings, url: &str) -> bool {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    for pattern in &s.allow {
        let (exclude, glob) = pattern.strip_prefix('!').map_or((false, pattern.as_str()), |g| (true, g));
        if matches(glob, path, false) {
            return !exclude;
        }
    }
    s.allow.iter().all(|p| p.starts_with('!'))
}

/// Whether the media type is listed; the last matching pattern decides
/// (`!` excludes), as in Traffic Server.
fn type_compressible(s: &Settings, content_type: &str) -> bool {
    let bare = content_type.split(';').next().unwrap_or("").trim();
    let mut verdict = false;
    for pattern in &s.content_types {
        let (exclude, glob) = pattern.strip_prefix('!').map_or((false, pattern.as_str()), |g| (true, g));
        let target = if s.ignore_type_parameters && !glob.contains(';') { bare } else { content_type };
        if matches(glob, target, true) {
            verdict = !exclude;
        }
    }
    verdict
}

/// The response half: checks the response and edits its head. `Some`:
/// compress the body with that coding (Content-Encoding is set,
/// Content-Length and Accept-Ranges removed, Vary merged, the ETag weak).
pub fn on_response(s: &Settings, verdict: Verdict, status: u16, resp: &mut impl Fields) -> Result<Coding, Skip> {
    if verdict == Err(Skip::Disabled) {
        return Err(Skip::Disabled);
    }
    if status == 206 || resp.has("content-range") {
        // A part of a representation: compressing it would garble the whole.
        return Err(Skip::Range);
    }
    if !s.status_codes.contains(&status) {
        return Err(Skip::Status);
    }
    if resp.has("content-encoding") {
        return Err(Skip::Encoded);
    }
    if verdict == Err(Skip::NoTransform) || no_transform(resp) {
        return Err(Skip::NoTransform);
    }
    match resp.text("content-type") {
        // A 304 need not repeat Content-Type; it stands for the 200 it validates.
        None if status == 304 => {}
        Some(t) if type_compressible(s, &t) => {}
        _ => return Err(Skip::Type),
    }
    if let Some(len) = resp.text("content-length").and_then(|l| l.parse::<u64>().ok()) {
        if len == 0 || len < s.minimum_content_length {
            return Err(Skip::Size);
        }
    }
    vary_accept_encoding(resp);
    let coding = verdict?;
    weaken_etag(resp);
    if matches!(status, 100..=199 | 204 | 304) {
        // No body here: the validators match the compressed variant, but a
        // Content-Encoding would describe bytes that are not sent.
        return Err(Skip::Status);
    }
    resp.set("Content-Encoding", coding.name().as_bytes());
    resp.remove("content-length");
    resp.remove("accept-ranges");
    Ok(coding)
}

#[cfg(test)]
mod tests;
