//! Writing the test origin's replies with the framing each route asks for.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::cycle::write_cycle_body;
use super::request::Request;
use super::routes::{reason, Framing, Reply};
use super::text::write_text_body;
use crate::chunked::{write_chunked, CHUNK_SIZES};

/// Longest a `/stall` request holds its connection if the origin is never dropped.
const STALL_LIMIT: Duration = Duration::from_secs(120);
/// Pieces a `/slow` body is sent in.
const SLOW_PIECES: usize = 10;

/// What the connection does after a reply.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    /// Read the next request.
    KeepAlive,
    /// Close the connection (FIN).
    Close,
    /// Close with a TCP reset (SO_LINGER 0).
    Reset,
}

/// Writes `reply` to `req` on `out`.
pub fn send(out: &mut impl Write, req: &Request, reply: Reply, stop: &AtomicBool) -> io::Result<After> {
    let client_keeps_alive =
        if req.minor_version >= 1 { !req.connection_has("close") } else { req.connection_has("keep-alive") };
    let head_only = req.method.eq_ignore_ascii_case("HEAD");
    // An HTTP/1.0 recipient cannot decode chunked: fall back to close-delimited.
    let fit = |f: Framing| {
        if f == Framing::Chunked && req.minor_version == 0 {
            Framing::Close
        } else {
            f
        }
    };
    match reply {
        Reply::Full { status, headers, body, framing } => {
            let framing = fit(framing);
            let mut w = BufWriter::with_capacity(64 * 1024, out);
            let keep = write_head(&mut w, status, &headers, framing, body.len(), client_keeps_alive, req)?;
            if !head_only {
                write_body(&mut w, framing, &body)?;
            }
            w.flush()?;
            Ok(if keep { After::KeepAlive } else { After::Close })
        }
        Reply::Slow { body, delay_ms, framing } => {
            let framing = fit(framing);
            let keep = write_head(out, 200, &[], framing, body.len(), client_keeps_alive, req)?;
            out.flush()?;
            if head_only {
                return Ok(if keep { After::KeepAlive } else { After::Close });
            }
            let piece = body.len().div_ceil(SLOW_PIECES).max(1);
            let pause = Duration::from_millis(delay_ms / SLOW_PIECES as u64);
            for part in body.chunks(piece) {
                if stop.load(Ordering::Relaxed) {
                    return Ok(After::Close);
                }
                thread::sleep(pause);
                if framing == Framing::Chunked {
                    write!(out, "{:x}\r\n", part.len())?;
                    out.write_all(part)?;
                    out.write_all(b"\r\n")?;
                } else {
                    out.write_all(part)?;
                }
                out.flush()?;
            }
            if framing == Framing::Chunked {
                out.write_all(b"0\r\n\r\n")?;
            }
            out.flush()?;
            Ok(if keep { After::KeepAlive } else { After::Close })
        }
        Reply::Cycle { n, seed, framing } => {
            let framing = fit(framing);
            let keep = write_head(out, 200, &[], framing, n, client_keeps_alive, req)?;
            let finished = head_only || write_cycle_body(out, framing, n, seed, stop)?;
            out.flush()?;
            Ok(if keep && finished { After::KeepAlive } else { After::Close })
        }
        Reply::Text { status, headers, n, seed, framing, pause } => {
            let framing = fit(framing);
            let keep = write_head(out, status, &headers, framing, n, client_keeps_alive, req)?;
            let finished = head_only || write_text_body(out, framing, n, seed, pause, stop)?;
            out.flush()?;
            Ok(if keep && finished { After::KeepAlive } else { After::Close })
        }
        Reply::Stall => {
            let deadline = Instant::now() + STALL_LIMIT;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            Ok(After::Close)
        }
        Reply::ResetNow => Ok(After::Reset),
        Reply::ResetMidBody { body } => {
            write_head(out, 200, &[], Framing::Length, body.len(), true, req)?;
            out.write_all(&body[..body.len() / 2])?;
            out.flush()?;
            // Let the proxy read the partial body before the reset discards it in flight;
            // the test is about what happens after bytes have started to flow.
            thread::sleep(Duration::from_millis(200));
            Ok(After::Reset)
        }
    }
}

/// Writes the status line and headers; returns whether the connection stays open after.
fn write_head(
    w: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
    framing: Framing,
    len: usize,
    client_keeps_alive: bool,
    req: &Request,
) -> io::Result<bool> {
    write!(w, "HTTP/1.1 {status} {}\r\n", reason(status))?;
    for (name, value) in headers {
        write!(w, "{name}: {value}\r\n")?;
    }
    match framing {
        Framing::Length => write!(w, "Content-Length: {len}\r\n")?,
        Framing::Chunked => w.write_all(b"Transfer-Encoding: chunked\r\n")?,
        Framing::Close | Framing::NoBody => {}
    }
    let keep = client_keeps_alive && framing != Framing::Close;
    if !keep {
        w.write_all(b"Connection: close\r\n")?;
    } else if req.minor_version == 0 {
        w.write_all(b"Connection: keep-alive\r\n")?;
    }
    w.write_all(b"\r\n")?;
    Ok(keep)
}

fn write_body(w: &mut impl Write, framing: Framing, body: &[u8]) -> io::Result<()> {
    match framing {
        Framing::Length | Framing::Close => w.write_all(body),
        Framing::Chunked => write_chunked(w, body, CHUNK_SIZES),
        Framing::NoBody => Ok(()),
    }
}
