//! `plugin-host reload`: asks a running host to reload through its admin
//! endpoint (`POST /reload`) and reports the outcome, like `nginx -s reload`
//! but synchronous: it returns once the new generation serves, or with
//! every refusal when nothing changed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// What the host answered: whether the reload took effect, and its summary
/// (the one-line outcome, then one refusal a line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The new generation serves.
    pub ok: bool,
    /// What to print.
    pub text: String,
}

/// Sends `POST /reload` to the admin endpoint at `admin` and waits up to `timeout`.
pub fn reload(admin: SocketAddr, timeout: Duration) -> Result<Answer, String> {
    let mut stream = TcpStream::connect_timeout(&admin, timeout).map_err(|e| {
        format!("cannot reach the admin endpoint {admin} ({e}); is the host running with --admin-listen {admin}?")
    })?;
    let _ = stream.set_read_timeout(Some(timeout));
    stream
        .write_all(b"POST /reload HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("sending the reload request to {admin}: {e}"))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| format!("reading the reload outcome from {admin}: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("{admin} sent no HTTP response"))?;
    let ok = head.starts_with("HTTP/1.1 200");
    let summary = json_field(body, "summary").ok_or_else(|| format!("{admin} answered without a summary: {body}"))?;
    Ok(Answer { ok, text: summary })
}

/// The string value of `"key":"..."` in a flat JSON object, unescaped.
fn json_field(body: &str, key: &str) -> Option<String> {
    let start = body.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut out = String::new();
    let mut chars = body[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::json_field;

    #[test]
    fn the_summary_is_unescaped() {
        let body =
            r#"{"ok":false,"summary":"reload refused (1 error(s)):\nplugin.config:2: \"x\" \u0041","errors":[]}"#;
        assert_eq!(
            json_field(body, "summary").as_deref(),
            Some("reload refused (1 error(s)):\nplugin.config:2: \"x\" A")
        );
        assert_eq!(json_field(body, "missing"), None);
    }
}
