//! The `/text` route: compressible text with the status, Content-Type and extra fields a
//! test asks for, streamed in constant memory, optionally pausing after the first bytes.
//!
//! `/text?n=&seed=&framing=&status=&ct=&h=Name:Value&pause_after=&pause_ms=`: `ct` is the
//! Content-Type (percent-encoded; default `text/html; charset=utf-8`, `none` for no field),
//! `h` repeats, one extra field each; the body pauses `pause_ms` after `pause_after` bytes.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::request::Request;
use super::routes::{Framing, Reply};
use crate::text::write_text;

/// Builds the reply for a `/text` request.
pub fn route(req: &Request, framing: Framing) -> Reply {
    let query = req.target.split_once('?').map_or("", |(_, q)| q);
    let params: Vec<(String, String)> =
        query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), percent_decode(v))).collect();
    let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let num = |key: &str, default: u64| get(key).and_then(|v| v.parse().ok()).unwrap_or(default);
    let status = u16::try_from(num("status", 200)).unwrap_or(200);
    let mut headers = Vec::new();
    match get("ct") {
        Some("none") => {}
        Some(ct) => headers.push(("Content-Type".to_string(), ct.to_string())),
        None => headers.push(("Content-Type".to_string(), "text/html; charset=utf-8".to_string())),
    }
    for (_, field) in params.iter().filter(|(k, _)| k == "h") {
        if let Some((name, value)) = field.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let framing = if matches!(status, 204 | 304) { Framing::NoBody } else { framing };
    Reply::Text {
        status,
        headers,
        n: usize::try_from(num("n", 0)).unwrap_or(0),
        seed: num("seed", 1),
        framing,
        pause: (usize::try_from(num("pause_after", 0)).unwrap_or(0), Duration::from_millis(num("pause_ms", 0))),
    }
}

/// Writes the body of a [`Reply::Text`]; `Ok(false)` if the origin was stopped first.
pub fn write_text_body(
    out: &mut impl Write,
    framing: Framing,
    n: usize,
    seed: u64,
    (pause_after, pause): (usize, Duration),
    stop: &AtomicBool,
) -> io::Result<bool> {
    if framing == Framing::NoBody {
        return Ok(true);
    }
    let finished = write_text(n, seed, |sent, bytes| {
        let mut pieces = vec![bytes];
        if !pause.is_zero() && sent < pause_after && pause_after < sent + bytes.len() {
            let (a, b) = bytes.split_at(pause_after - sent);
            pieces = vec![a, b];
        }
        for (i, p) in pieces.iter().enumerate() {
            if i == 1 {
                out.flush()?;
                let until = Instant::now() + pause;
                while Instant::now() < until {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(false);
                    }
                    thread::sleep(Duration::from_millis(10));
                }
            }
            if framing == Framing::Chunked {
                write!(out, "{:x}\r\n", p.len())?;
                out.write_all(p)?;
                out.write_all(b"\r\n")?;
            } else {
                out.write_all(p)?;
            }
        }
        Ok(!stop.load(Ordering::Relaxed))
    })?;
    if finished && framing == Framing::Chunked {
        out.write_all(b"0\r\n\r\n")?;
    }
    out.flush()?;
    Ok(finished)
}

/// Decodes `%XX` escapes and `+` (as a space); bad escapes are kept as they are.
fn percent_decode(v: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        {
            (b'%', Some(hi), Some(lo)) => Some((hi * 16 + lo) as u8),
            _ => None,
        };
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
