//! Access log lines, written straight into a worker's buffer: no `tracing`,
//! no `format!`, no allocation per line (numbers go through `itoa`, the time
//! is re-rendered once a second).
//!
//! Formats (`--access-log-format`):
//!
//! - `common`: `%h - - [%t] "%r" %>s %b` (NCSA Common Log Format).
//! - `combined`: `common` plus `"%{Referer}i" "%{User-Agent}i"`, what nginx
//!   and Apache write by default.
//! - `json`: one object a line with every field below.
//! - `kv`: `access time=... peer=... method=... target=... status=...
//!   bytes_in=... bytes_out=... duration_ms=... origin=... outcome=...`.
//!
//! Escaping follows nginx: in `common`, `combined` and `kv`, `"`, `\` and
//! bytes below 0x20 or from 0x7f up are written `\xHH` (nginx's
//! `escape=default`; `kv` also escapes spaces so a value never splits). In
//! `json` strings, `"` and `\` are backslash-escaped, control bytes are
//! `\n`, `\r`, `\t` or `\u00HH`, valid UTF-8 passes through, and each byte
//! of an invalid UTF-8 sequence is `\u00HH` (its Latin-1 reading) so that
//! the line stays valid JSON.

use super::{Origin, Outcome, Record, RequestLine};
use crate::h1::date::civil_from_days;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The `--access-log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// NCSA Common Log Format.
    Common,
    /// Common plus Referer and User-Agent (nginx's and Apache's default).
    Combined,
    /// One JSON object a line, every field.
    Json,
    /// `access key=value ...`, the host's historical line.
    Kv,
}

const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// The current second in both forms the formats use, rendered only when the
/// second changes. Times are UTC: the offset is always `+0000`, so lines
/// from hosts in different zones sort and compare as they are.
#[derive(Debug, Clone)]
pub struct Clock {
    second: u64,
    /// `01/Dec/2026:22:38:14 +0000`, for `[%t]`.
    clf: [u8; 26],
    /// `2026-12-01T22:38:14+00:00`, for `json` and `kv`.
    iso: [u8; 25],
}

impl Default for Clock {
    fn default() -> Self {
        let mut clock = Clock { second: u64::MAX, clf: [0; 26], iso: [0; 25] };
        clock.set(0);
        clock
    }
}

impl Clock {
    /// Moves the clock to `now`, re-rendering only if the second changed.
    pub fn at(&mut self, now: SystemTime) -> &Clock {
        // A clock before 1970 is a broken clock: say 1970 rather than drop a line.
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.set(second);
        }
        self
    }

    fn set(&mut self, second: u64) {
        self.second = second;
        let (year, month, day) = civil_from_days(second / 86_400);
        let year = year.min(9999);
        let in_day = second % 86_400;
        let (h, m, s) = (in_day / 3600, in_day / 60 % 60, in_day % 60);
        self.clf = *b"01/Jan/1970:00:00:00 +0000";
        two(&mut self.clf[0..2], day);
        self.clf[3..6].copy_from_slice(MONTHS[(month - 1) as usize]);
        four(&mut self.clf[7..11], year);
        two(&mut self.clf[12..14], h);
        two(&mut self.clf[15..17], m);
        two(&mut self.clf[18..20], s);
        self.iso = *b"1970-01-01T00:00:00+00:00";
        four(&mut self.iso[0..4], year);
        two(&mut self.iso[5..7], month);
        two(&mut self.iso[8..10], day);
        two(&mut self.iso[11..13], h);
        two(&mut self.iso[14..16], m);
        two(&mut self.iso[17..19], s);
    }
}

fn two(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

fn four(out: &mut [u8], n: u64) {
    two(&mut out[0..2], n / 100);
    two(&mut out[2..4], n % 100);
}

/// Appends one line (with its `\n`) for `rec` in `format`.
pub fn write_line(out: &mut Vec<u8>, format: Format, clock: &Clock, rec: &Record) {
    match format {
        Format::Common => common(out, clock, rec),
        Format::Combined => {
            common(out, clock, rec);
            out.extend_from_slice(b" \"");
            quoted_or_dash(out, rec.referer);
            out.extend_from_slice(b"\" \"");
            quoted_or_dash(out, rec.user_agent);
            out.push(b'"');
        }
        Format::Json => json(out, clock, rec),
        Format::Kv => kv(out, clock, rec),
    }
    out.push(b'\n');
}

fn common(out: &mut Vec<u8>, clock: &Clock, rec: &Record) {
    ip(out, rec);
    out.extend_from_slice(b" - - [");
    out.extend_from_slice(&clock.clf);
    out.extend_from_slice(b"] \"");
    match rec.request {
        RequestLine::Parsed { method, target, version } => {
            escape_default(out, method.as_bytes(), false);
            out.push(b' ');
            escape_default(out, target.as_bytes(), false);
            out.push(b' ');
            out.extend_from_slice(version.as_bytes());
        }
        RequestLine::Raw(line) if !line.is_empty() => escape_default(out, line, false),
        RequestLine::Raw(_) => out.push(b'-'),
    }
    out.extend_from_slice(b"\" ");
    number(out, u64::from(rec.status));
    out.push(b' ');
    if rec.bytes_out == 0 {
        out.push(b'-');
    } else {
        number(out, rec.bytes_out);
    }
}

fn quoted_or_dash(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) if !v.is_empty() => escape_default(out, v, false),
        _ => out.push(b'-'),
    }
}

fn kv(out: &mut Vec<u8>, clock: &Clock, rec: &Record) {
    out.extend_from_slice(b"access time=");
    out.extend_from_slice(&clock.iso);
    out.extend_from_slice(b" peer=");
    ip(out, rec);
    let (method, target): (&[u8], &[u8]) = match rec.request {
        RequestLine::Parsed { method, target, .. } => (method.as_bytes(), target.as_bytes()),
        RequestLine::Raw(_) => (b"-", b"-"),
    };
    out.extend_from_slice(b" method=");
    escape_default(out, method, true);
    out.extend_from_slice(b" target=");
    escape_default(out, target, true);
    out.extend_from_slice(b" status=");
    number(out, u64::from(rec.status));
    out.extend_from_slice(b" bytes_in=");
    number(out, rec.bytes_in);
    out.extend_from_slice(b" bytes_out=");
    number(out, rec.bytes_out);
    out.extend_from_slice(b" duration_ms=");
    number(out, rec.duration.as_millis() as u64);
    out.extend_from_slice(b" origin=");
    out.extend_from_slice(rec.origin.as_str().as_bytes());
    out.extend_from_slice(b" outcome=");
    out.extend_from_slice(rec.outcome.as_str().as_bytes());
}

fn json(out: &mut Vec<u8>, clock: &Clock, rec: &Record) {
    out.extend_from_slice(b"{\"time\":\"");
    out.extend_from_slice(&clock.iso);
    out.extend_from_slice(b"\",\"remote_addr\":\"");
    ip(out, rec);
    out.extend_from_slice(b"\",\"request\":\"");
    match rec.request {
        RequestLine::Parsed { method, target, version } => {
            escape_json(out, method.as_bytes());
            out.push(b' ');
            escape_json(out, target.as_bytes());
            out.push(b' ');
            out.extend_from_slice(version.as_bytes());
            out.extend_from_slice(b"\",\"method\":\"");
            escape_json(out, method.as_bytes());
            out.extend_from_slice(b"\",\"target\":\"");
            escape_json(out, target.as_bytes());
            out.extend_from_slice(b"\",\"protocol\":\"");
            out.extend_from_slice(version.as_bytes());
            out.push(b'"');
        }
        RequestLine::Raw(line) => {
            escape_json(out, line);
            out.extend_from_slice(b"\",\"method\":null,\"target\":null,\"protocol\":null");
        }
    }
    out.extend_from_slice(b",\"status\":");
    number(out, u64::from(rec.status));
    out.extend_from_slice(b",\"bytes_in\":");
    number(out, rec.bytes_in);
    out.extend_from_slice(b",\"bytes_out\":");
    number(out, rec.bytes_out);
    out.extend_from_slice(b",\"duration_ms\":");
    number(out, rec.duration.as_millis() as u64);
    out.extend_from_slice(b",\"referer\":");
    json_or_null(out, rec.referer);
    out.extend_from_slice(b",\"user_agent\":");
    json_or_null(out, rec.user_agent);
    out.extend_from_slice(b",\"origin\":\"");
    out.extend_from_slice(rec.origin.as_str().as_bytes());
    out.extend_from_slice(b"\",\"outcome\":\"");
    out.extend_from_slice(rec.outcome.as_str().as_bytes());
    out.extend_from_slice(b"\"}");
}

fn json_or_null(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => {
            out.push(b'"');
            escape_json(out, v);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn ip(out: &mut Vec<u8>, rec: &Record) {
    // Writing into a Vec cannot fail; Display of an address does not allocate.
    let _ = write!(out, "{}", rec.peer);
}

fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// nginx's `escape=default`: `"`, `\`, bytes < 0x20 and >= 0x7f as `\xHH`;
/// `space` also escapes the space (for `kv`, whose values end at one).
fn escape_default(out: &mut Vec<u8>, value: &[u8], space: bool) {
    let needs = |b: u8| b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) || (space && b == b' ');
    let mut rest = value;
    while let Some(i) = rest.iter().position(|&b| needs(b)) {
        out.extend_from_slice(&rest[..i]);
        let b = rest[i];
        out.extend_from_slice(&[b'\\', b'x', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

/// The inside of a JSON string (RFC 8259 section 7) for arbitrary bytes.
fn escape_json(out: &mut Vec<u8>, value: &[u8]) {
    for chunk in value.utf8_chunks() {
        let valid = chunk.valid().as_bytes();
        let mut rest = valid;
        while let Some(i) = rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f) {
            out.extend_from_slice(&rest[..i]);
            match rest[i] {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b => unicode_escape(out, b),
            }
            rest = &rest[i + 1..];
        }
        out.extend_from_slice(rest);
        for &b in chunk.invalid() {
            unicode_escape(out, b);
        }
    }
}

fn unicode_escape(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::New => "new",
            Origin::Reused => "reused",
            Origin::None => "none",
        }
    }
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed => "failed",
            Outcome::Aborted => "aborted",
            Outcome::Refused => "refused",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    fn record<'a>(target: &'a str, ua: Option<&'a [u8]>) -> Record<'a> {
        Record {
            peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
            request: RequestLine::Parsed { method: "GET", target, version: "HTTP/1.1" },
            status: 200,
            bytes_in: 40,
            bytes_out: 0,
            duration: Duration::from_millis(7),
            origin: Origin::Reused,
            outcome: Outcome::Done,
            referer: None,
            user_agent: ua,
        }
    }

    fn line(format: Format, rec: &Record) -> String {
        let mut clock = Clock::default();
        clock.at(UNIX_EPOCH + Duration::from_secs(784_111_777));
        let mut out = Vec::new();
        write_line(&mut out, format, &clock, rec);
        String::from_utf8(out).expect("every format writes UTF-8")
    }

    #[test]
    fn combined_matches_nginx() {
        let rec = record("/a?b=1", Some(b"curl/8 \"x\"\x01\xff"));
        assert_eq!(
            line(Format::Combined, &rec),
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /a?b=1 HTTP/1.1\" 200 - \"-\" \
             \"curl/8 \\x22x\\x22\\x01\\xFF\"\n"
        );
    }

    #[test]
    fn raw_request_lines_are_escaped_and_empty_ones_are_a_dash() {
        let mut rec = record("/", None);
        rec.request = RequestLine::Raw(b"GET /\\\xc3 HTTP/1.1");
        rec.bytes_out = 120;
        assert_eq!(
            line(Format::Common, &rec),
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /\\x5C\\xC3 HTTP/1.1\" 200 120\n"
        );
        rec.request = RequestLine::Raw(b"");
        assert!(line(Format::Common, &rec).contains(" \"-\" 200 120"));
    }

    #[test]
    fn kv_keeps_one_token_per_field() {
        let rec = record("/x\"y", None);
        assert_eq!(
            line(Format::Kv, &rec),
            "access time=1994-11-06T08:49:37+00:00 peer=127.0.0.1 method=GET target=/x\\x22y status=200 \
             bytes_in=40 bytes_out=0 duration_ms=7 origin=reused outcome=done\n"
        );
    }

    #[test]
    fn json_escapes_quotes_controls_and_invalid_utf8() {
        let rec = record("/q\"\\", Some("é\"\n\x7f".as_bytes()));
        let text = line(Format::Json, &rec);
        assert!(text.contains(r#""target":"/q\"\\""#), "{text}");
        assert!(text.contains(r#""user_agent":"é\"\n\u007F""#), "{text}");
        assert!(text.contains(r#""referer":null"#), "{text}");
        let mut out = Vec::new();
        escape_json(&mut out, b"a\xffb\xc3");
        assert_eq!(out, b"a\\u00FFb\\u00C3");
    }

    #[test]
    fn the_clock_renders_both_forms() {
        let mut clock = Clock::default();
        let c = clock.at(UNIX_EPOCH + Duration::from_secs(951_782_400));
        assert_eq!(&c.clf, b"29/Feb/2000:00:00:00 +0000");
        assert_eq!(&c.iso, b"2000-02-29T00:00:00+00:00");
    }
}
