//! The built-in sample origin: serves `examples/site/` (compiled in) plus a
//! generated 4 MiB text file on an ephemeral loopback port, so that
//! `plugin-host run` with no `--origin` has something real to proxy to.
//! It is a separate blocking server on its own threads; requests still take
//! the full proxy path through a socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

const LARGE_BYTES: usize = 4 * 1024 * 1024;

fn file(path: &str) -> Option<(&'static str, Vec<u8>)> {
    Some(match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", include_bytes!("../../examples/site/index.html").to_vec()),
        "/style.css" => ("text/css", include_bytes!("../../examples/site/style.css").to_vec()),
        "/data.json" => ("application/json", include_bytes!("../../examples/site/data.json").to_vec()),
        "/large.txt" => ("text/plain; charset=utf-8", large_text()),
        _ => return None,
    })
}

fn large_text() -> Vec<u8> {
    static TEXT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let text = TEXT.get_or_init(|| {
        let line = b"The quick brown fox jumps over the lazy dog; plugin-host streams this line.\n";
        line.iter().copied().cycle().take(LARGE_BYTES).collect()
    });
    text.clone()
}

/// Starts the sample origin; returns its address.
pub fn start() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new().name("sample-origin".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = std::thread::Builder::new().name("sample-origin-conn".into()).spawn(move || serve(stream));
        }
    })?;
    Ok(addr)
}

fn serve(stream: TcpStream) {
    let Ok(write_half) = stream.try_clone() else { return };
    let mut out = write_half;
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            head.extend_from_slice(&line);
            if line == b"\r\n" || line == b"\n" || head.len() > 64 * 1024 {
                break;
            }
        }
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut fields);
        if !matches!(req.parse(&head), Ok(httparse::Status::Complete(_))) {
            return;
        }
        let method = req.method.unwrap_or("GET").to_string();
        let path = req.path.unwrap_or("/").split('?').next().unwrap_or("/").to_string();
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).to_string())
        };
        let body_len: u64 = header("content-length").and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
            || header("transfer-encoding").is_some();
        let if_none_match = header("if-none-match");
        if std::io::copy(&mut (&mut reader).take(body_len), &mut std::io::sink()).is_err() {
            return;
        }
        let response = respond(&method, &path, if_none_match.as_deref());
        if out.write_all(&response).is_err() || close {
            return;
        }
    }
}

fn respond(method: &str, path: &str, if_none_match: Option<&str>) -> Vec<u8> {
    let (status, ctype, body) = match (method, file(path)) {
        ("GET" | "HEAD", Some((ctype, body))) => (200, ctype, body),
        ("GET" | "HEAD", None) => (404, "text/plain", b"not found\n".to_vec()),
        _ => (405, "text/plain", b"only GET and HEAD\n".to_vec()),
    };
    let etag =
        format!("\"{:x}-{:x}\"", body.len(), body.iter().fold(0u32, |h, &b| h.wrapping_mul(31).wrapping_add(b as u32)));
    if status == 200 && if_none_match == Some(etag.as_str()) {
        return format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n").into_bytes();
    }
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nETag: {etag}\r\nServer: plugin-host-sample-origin\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(&body);
    }
    out
}
