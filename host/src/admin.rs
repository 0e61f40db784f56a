//! The admin endpoint (`--admin-listen`): `GET /stats` answers a JSON
//! object with the process's live counters and every plugin's counters, so
//! operators and tests read the same numbers. It runs on its own blocking
//! thread, off the workers' event loops, and should listen on loopback only.

use crate::shared::Shared;
use crate::transform::live_counts;
use crate::txn::LIVE_TRANSACTIONS;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Binds the admin listener and serves it on a thread; returns its address.
pub fn start(addr: SocketAddr, shared: Arc<Shared>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new().name("admin".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Err(e) = serve(stream, &shared) {
                tracing::debug!(error = %e, "admin request failed");
            }
        }
    })?;
    Ok(local)
}

fn serve(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the rest of the head; the admin API takes no request bodies.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 && line != "\r\n" && line != "\n" {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/stats" => ("200 OK", stats_json(shared)),
        _ => ("404 Not Found", "{\"error\":\"not found; try GET /stats\"}\n".to_string()),
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The counters as one JSON object.
pub fn stats_json(shared: &Shared) -> String {
    let (transforms, buffers) = live_counts();
    let generation = shared.generation();
    let mut out = format!(
        "{{\"connections\":{},\"live_transactions\":{},\"live_transforms\":{},\"live_buffers\":{},\"chain_water_mark\":{},\"plugins\":[",
        shared.connections.load(Ordering::Relaxed),
        LIVE_TRANSACTIONS.load(Ordering::Relaxed),
        transforms,
        buffers,
        generation.water_mark()
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
    out.push_str("]}\n");
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
