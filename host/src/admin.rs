//! The admin endpoint (`--admin-listen`): `GET /stats` answers a JSON
//! object with the process's live counters and every plugin's counters, so
//! operators and tests read the same numbers; `POST /reload` reloads the
//! plugins and answers when it is done (200 with the new generation, 409
//! with every refusal, 503 if it was not attempted). It should listen on
//! loopback only.
//!
//! It stays off the proxy's hot path: an accept thread of its own hands each
//! connection to a short-lived thread, so a silent or trickling client
//! delays nobody else, and the workers' event loops never see admin
//! traffic. Each connection is bounded: at most [`MAX_HEAD_BYTES`] of head,
//! read within [`HEAD_DEADLINE`] in total (not per read, so trickling does
//! not extend it), and at most [`MAX_CONNECTIONS`] served at once; past
//! that a connection is closed at once rather than queued.

use crate::reload::Outcome;
use crate::shared::Shared;
use crate::transform::live_counts;
use crate::txn::LIVE_TRANSACTIONS;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest admin request head; `GET /stats` needs a few dozen bytes.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Time a client has to send its whole head.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(2);
/// Bytes read and dropped after refusing a head, so the refusal is not lost to a reset.
const LINGER_BYTES: usize = 64 * 1024;
/// Admin connections served at the same time.
pub const MAX_CONNECTIONS: usize = 16;
/// How long `POST /reload` waits for its outcome (loading runs plugin `init`s).
pub const RELOAD_WAIT: Duration = Duration::from_secs(60);

/// A reload's outcome as JSON: `ok`, the one-line `summary`, and the
/// generation or the refusals.
fn reload_json(outcome: &Outcome) -> String {
    let detail = match outcome {
        Outcome::Swapped { generation, plugins } => format!("\"generation\":{generation},\"plugins\":{plugins}"),
        Outcome::Refused(errors) => {
            let list: Vec<String> = errors.iter().map(|e| json_string(e)).collect();
            format!("\"errors\":[{}]", list.join(","))
        }
        Outcome::Ignored(why) => format!("\"ignored\":{}", json_string(why)),
    };
    format!(
        "{{\"ok\":{},\"summary\":{},{detail}}}\n",
        matches!(outcome, Outcome::Swapped { .. }),
        json_string(&outcome.summary())
    )
}

/// Binds the admin listener and serves it on a thread; returns its address.
pub fn start(addr: SocketAddr, shared: Arc<Shared>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    let busy = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new().name("admin".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            if busy.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                busy.fetch_sub(1, Ordering::AcqRel);
                tracing::debug!("admin connection limit reached; closing a connection");
                continue;
            }
            let (shared, done) = (shared.clone(), busy.clone());
            let spawned = std::thread::Builder::new().name("admin-conn".into()).spawn(move || {
                if let Err(e) = serve(stream, &shared) {
                    tracing::debug!(error = %e, "admin request failed");
                }
                done.fetch_sub(1, Ordering::AcqRel);
            });
            if let Err(e) = spawned {
                // The closure never ran: give its slot back here.
                busy.fetch_sub(1, Ordering::AcqRel);
                tracing::warn!(error = %e, "cannot start an admin connection thread");
            }
        }
    })?;
    Ok(local)
}

fn serve(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let Some(head) = read_head(&mut stream)? else {
        respond(&mut stream, "431 Request Header Fields Too Large", "{\"error\":\"request head too large\"}\n")?;
        return linger(stream);
    };
    let request_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(request_line);
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
    match (method, path) {
        (_, "/stats") => respond(&mut stream, "200 OK", &stats_json(shared)),
        ("POST", "/reload") => {
            let outcome = shared.reload_and_wait(RELOAD_WAIT);
            let status = match outcome {
                Outcome::Swapped { .. } => "200 OK",
                Outcome::Refused(_) => "409 Conflict",
                Outcome::Ignored(_) => "503 Service Unavailable",
            };
            respond(&mut stream, status, &reload_json(&outcome))
        }
        (_, "/reload") => respond(&mut stream, "405 Method Not Allowed", "{\"error\":\"use POST /reload\"}\n"),
        _ => respond(&mut stream, "404 Not Found", "{\"error\":\"not found; try GET /stats or POST /reload\"}\n"),
    }
}

/// Reads up to the blank line ending the head. `Ok(None)`: over
/// [`MAX_HEAD_BYTES`]; `Err`: not complete within [`HEAD_DEADLINE`] (a read
/// timeout), or the client left.
fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let deadline = Instant::now() + HEAD_DEADLINE;
    let mut head = Vec::with_capacity(256);
    let mut block = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "admin request head not complete in time"));
        }
        stream.set_read_timeout(Some(left))?;
        let n = stream.read(&mut block)?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "admin client closed mid-head"));
        }
        head.extend_from_slice(&block[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD_BYTES {
            return Ok(None);
        }
    }
}

/// Closing with unread bytes would reset the connection and could destroy the
/// 431 before the client reads it; so, like any server's lingering close, stop
/// sending, then read and drop what is in flight, bounded in bytes and time.
fn linger(mut stream: TcpStream) -> std::io::Result<()> {
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(HEAD_DEADLINE))?;
    let mut block = [0u8; 4096];
    let mut left = LINGER_BYTES;
    while left > 0 {
        match stream.read(&mut block)? {
            0 => break,
            n => left = left.saturating_sub(n),
        }
    }
    Ok(())
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    stream.set_write_timeout(Some(HEAD_DEADLINE))?;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The counters as one JSON object.
pub fn stats_json(shared: &Shared) -> String {
    let (transforms, buffers) = live_counts();
    let generation = shared.generation();
    let r = &shared.reloads;
    let last_failure = r.last_failure.lock().as_deref().map_or_else(|| "null".to_string(), json_string);
    let live: Vec<String> = shared
        .live_generations()
        .iter()
        .map(|g| format!("{{\"number\":{},\"transactions\":{}}}", g.number(), g.txns()))
        .collect();
    let mut out = format!(
        "{{\"connections\":{},\"live_transactions\":{},\"live_transforms\":{},\"live_buffers\":{},\"chain_water_mark\":{},\
         \"generation\":{},\"reloads\":{{\"succeeded\":{},\"failed\":{},\"last_failure\":{last_failure}}},\
         \"generations\":[{}],\"plugin_images\":{},\"plugins\":[",
        shared.connections.load(Ordering::Relaxed),
        LIVE_TRANSACTIONS.load(Ordering::Relaxed),
        transforms,
        buffers,
        generation.water_mark(),
        generation.number(),
        r.succeeded.load(Ordering::Relaxed),
        r.failed.load(Ordering::Relaxed),
        live.join(","),
        shared.plugin_images(),
    );
    for (i, module) in generation.modules().iter().enumerate() {
        let s = module.snapshot();
        let counters: Vec<String> =
            module.plugin_counters().iter().map(|(name, value)| format!("{}:{value}", json_string(name))).collect();
        let _ = write!(
            out,
            "{}{{\"name\":{},\"path\":{},\"transactions\":{},\"bytes_in\":{},\"bytes_out\":{},\"aborts\":{},\"panics\":{},\"protocol_errors\":{},\"counters\":{{{}}}}}",
            if i == 0 { "" } else { "," },
            json_string(&s.name),
            json_string(&module.path().display().to_string()),
            s.transactions,
            s.bytes_in,
            s.bytes_out,
            s.aborts,
            s.panics,
            s.protocol_errors,
            counters.join(",")
        );
    }
    // Plugin callbacks the watchdog flagged past its first limit (see `watchdog`).
    let stuck: Vec<String> =
        crate::watchdog::stuck_counts().iter().map(|(name, n)| format!("{}:{n}", json_string(name))).collect();
    let _ = writeln!(out, "],\"stuck_callbacks\":{{{}}}}}", stuck.join(","));
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000ad\"");
    }
}
