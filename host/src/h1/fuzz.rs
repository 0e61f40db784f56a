//! Property-based fuzzing of the parsers a peer controls: the request head
//! parser, the absolute-form target splitter and the chunked decoder.
//! What each property covers is written down in `docs/fuzzing.md`.
//!
//! CI runs every property for a bounded number of cases (the default
//! below); a long run by hand sets `PROPTEST_CASES`, e.g.
//! `PROPTEST_CASES=200000 cargo test --release -p host h1::fuzz`.

use super::decode::{DecodeError, Decoder};
use super::encode::Encoder;
use super::head::{
    origin_may_persist, parse_request, parse_response, request_framing, response_framing, write_request,
    write_response, BodyKind, Headers, Limits, RequestHead, Version,
};
use super::target::split_absolute;
use super::write_queue::WriteQueue;
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property when `PROPTEST_CASES` is not set: enough to catch a
/// regression in CI in seconds.
const CI_CASES: u32 = 256;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(CI_CASES);
    // No regression files written into the source tree; a failure prints its minimal case.
    Config { cases, failure_persistence: None, ..Config::default() }
}

const LIMITS: Limits = Limits { max_head_bytes: 4096, max_headers: 32 };

// ---- generators -------------------------------------------------------------

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

fn field_value() -> impl Strategy<Value = Vec<u8>> {
    // Visible ASCII, inner spaces and tabs, obs-text; no leading or trailing whitespace.
    let byte = prop_oneof![0x21u8..=0x7e, Just(b' '), Just(b'\t'), 0x80u8..=0xff];
    (0x21u8..=0x7e, prop::collection::vec(byte, 0..24), 0x21u8..=0x7e).prop_map(|(first, mut mid, last)| {
        mid.insert(0, first);
        mid.push(last);
        mid
    })
}

fn path() -> impl Strategy<Value = String> {
    "(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,8}){0,4}"
}

fn query() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[A-Za-z0-9._~%!$&'()*+,;=:@/?-]{0,12}")
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,10}){0,2}",
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        Just("[::1]".to_string())
    ]
}

fn authority() -> impl Strategy<Value = String> {
    (host(), prop::option::of(0u16..=65535)).prop_map(|(h, p)| match p {
        Some(p) => format!("{h}:{p}"),
        None => h,
    })
}

/// A request head that must parse, as a value and as bytes.
fn valid_request() -> impl Strategy<Value = (RequestHead, Vec<u8>)> {
    let target = prop_oneof![
        (path(), query()).prop_map(|(p, q)| {
            let p = if p.is_empty() { "/".to_string() } else { p };
            q.map_or(p.clone(), |q| format!("{p}?{q}"))
        }),
        ("https?", authority(), path(), query())
            .prop_map(|(s, a, p, q)| format!("{s}://{a}{p}{}", q.map(|q| format!("?{q}")).unwrap_or_default())),
    ];
    let fields = prop::collection::vec((token(), field_value()), 0..8);
    (token(), target, any::<bool>(), fields).prop_map(|(method, target, http11, fields)| {
        let mut headers = Headers::new();
        headers.append("Host", "example.test");
        for (name, value) in fields {
            // One Host only: several are refused by design.
            if !name.eq_ignore_ascii_case("host") {
                headers.append(&name, value);
            }
        }
        let version = if http11 { Version::Http11 } else { Version::Http10 };
        let head = RequestHead { method: method.into(), target, version, headers };
        let mut bytes = Vec::new();
        write_request(&head, &mut bytes);
        (head, bytes)
    })
}

/// A response head that must parse, as bytes: any status, framing fields among the rest.
fn valid_response() -> impl Strategy<Value = Vec<u8>> {
    let framing = prop::sample::select(vec![
        "Content-Length: 5",
        "Content-Length: 0",
        "Transfer-Encoding: chunked",
        "Transfer-Encoding: gzip, chunked",
        "Connection: close",
        "Connection: keep-alive",
    ]);
    let fields = prop::collection::vec(
        prop_oneof![
            framing.prop_map(|f| f.as_bytes().to_vec()),
            (token(), field_value()).prop_map(|(n, v)| [n.as_bytes(), b": ", &v].concat()),
        ],
        0..6,
    );
    (100u16..=599, "[A-Za-z ]{0,12}", any::<bool>(), fields).prop_map(|(status, reason, http11, fields)| {
        let mut raw = format!("HTTP/1.{} {status} {reason}\r\n", u8::from(http11)).into_bytes();
        for field in fields {
            raw.extend_from_slice(&field);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        raw
    })
}

/// `raw` with bytes replaced, inserted or removed at the given places.
fn mutate(mut raw: Vec<u8>, edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
    for (at, byte, op) in edits {
        let at = at % (raw.len() + 1);
        match op {
            0 if at < raw.len() => raw[at] = byte,
            1 => raw.insert(at, byte),
            _ if at < raw.len() => {
                raw.remove(at);
            }
            _ => {}
        }
    }
    raw
}

/// Bytes weighted towards the characters that matter to chunked framing.
fn chunky_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"0123456789abcdefABCDEF".to_vec()),
        3 => prop::sample::select(b"\r\n; \t=\"".to_vec()),
        2 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..max)
}

/// A well-formed chunked body: (encoded bytes, decoded body).
fn chunked_message() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let chunk =
        (prop::collection::vec(any::<u8>(), 1..300), any::<bool>(), prop::option::of("[a-z]{1,6}(=[a-z0-9]{0,6})?"));
    let trailers = prop::collection::vec((token(), field_value()), 0..3);
    (prop::collection::vec(chunk, 0..6), trailers).prop_map(|(chunks, trailers)| {
        let (mut wire, mut body) = (Vec::new(), Vec::new());
        for (data, upper, ext) in chunks {
            let size = if upper { format!("{:X}", data.len()) } else { format!("{:x}", data.len()) };
            wire.extend_from_slice(size.as_bytes());
            if let Some(ext) = ext {
                wire.extend_from_slice(format!(";{ext}").as_bytes());
            }
            wire.extend_from_slice(b"\r\n");
            wire.extend_from_slice(&data);
            wire.extend_from_slice(b"\r\n");
            body.extend_from_slice(&data);
        }
        wire.extend_from_slice(b"0\r\n");
        for (name, value) in trailers {
            wire.extend_from_slice(name.as_bytes());
            wire.extend_from_slice(b": ");
            wire.extend_from_slice(&value);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"\r\n");
        (wire, body)
    })
}

// ---- chunked helpers --------------------------------------------------------

/// Everything a chunked decode produced: body, whether it ended, the error if any, and the
/// bytes left after the body.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    body: Vec<u8>,
    done: bool,
    error: Option<DecodeError>,
    rest: Vec<u8>,
}

/// Feeds `input` to a chunked decoder in pieces cut at `cuts` (sorted, deduplicated by the
/// caller's choice of offsets).
fn decode_in_pieces(input: &[u8], cuts: &[usize]) -> Outcome {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    bounds.push(input.len());
    bounds.sort_unstable();
    let mut dec = Decoder::new(BodyKind::Chunked);
    let (mut buf, mut body, mut fed) = (BytesMut::new(), Vec::new(), 0);
    for bound in bounds {
        buf.extend_from_slice(&input[fed..bound]);
        fed = bound;
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(piece)) => {
                    assert!(!piece.is_empty(), "the decoder returned an empty piece");
                    body.extend_from_slice(&piece);
                }
                Ok(None) => break,
                Err(error) => return Outcome { body, done: false, error: Some(error), rest: Vec::new() },
            }
        }
        if dec.is_done() {
            let mut rest = buf.to_vec();
            rest.extend_from_slice(&input[fed..]);
            return Outcome { body, done: true, error: None, rest };
        }
    }
    Outcome { body, done: false, error: None, rest: buf.to_vec() }
}

// ---- properties -------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Any bytes: the parser returns, and a complete head lies within the buffer and the limit.
    #[test]
    fn request_parser_takes_any_bytes(raw in prop::collection::vec(any::<u8>(), 0..600), max in 16usize..700) {
        let limits = Limits { max_head_bytes: max, max_headers: 8 };
        if let Ok(Some((head, len))) = parse_request(&raw, &limits) {
            prop_assert!(len <= raw.len() && len <= max);
            prop_assert!(!head.method.is_empty());
        }
    }

    /// Generated heads parse to exactly what was written, and no prefix of them is taken for
    /// a complete head or refused: a head split across reads reads the same.
    #[test]
    fn valid_heads_parse_exactly_and_wait_on_every_prefix((head, raw) in valid_request()) {
        let (parsed, len) = parse_request(&raw, &LIMITS).map_err(|e| TestCaseError::fail(e.to_string()))?
            .ok_or_else(|| TestCaseError::fail("incomplete"))?;
        prop_assert_eq!(len, raw.len());
        prop_assert_eq!(&parsed.method, &head.method);
        prop_assert_eq!(&parsed.target, &head.target);
        prop_assert_eq!(parsed.version, head.version);
        prop_assert_eq!(&parsed.headers, &head.headers);
        for cut in 0..raw.len() {
            let prefix = parse_request(&raw[..cut], &LIMITS);
            prop_assert!(matches!(prefix, Ok(None)), "prefix of {} bytes: {:?}", cut, prefix);
        }
    }

    /// A valid head with bytes flipped, inserted or removed: whatever the parser accepts, it
    /// writes back out as a head that parses to the same thing (one reading, never two).
    #[test]
    fn mutated_heads_are_refused_or_read_one_way(
        (_, raw) in valid_request(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let raw = mutate(raw, edits);
        if let Ok(Some((head, _))) = parse_request(&raw, &LIMITS) {
            let mut again = Vec::new();
            write_request(&head, &mut again);
            let (reparsed, len) = parse_request(&again, &LIMITS)
                .map_err(|e| TestCaseError::fail(format!("rewritten head refused: {e}")))?
                .ok_or_else(|| TestCaseError::fail("rewritten head incomplete"))?;
            prop_assert_eq!(len, again.len());
            prop_assert_eq!(request_framing(&reparsed), request_framing(&head));
            prop_assert_eq!(reparsed.method, head.method);
            prop_assert_eq!(reparsed.target, head.target);
            prop_assert_eq!(reparsed.headers, head.headers);
        }
    }

    /// Response heads, valid and mutated: whatever parses is judged (framing, whether the
    /// origin connection may persist) without a panic, and reads the same once rewritten.
    #[test]
    fn response_heads_are_refused_or_read_one_way(
        raw in valid_response(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..4),
        head_request in any::<bool>(),
    ) {
        let raw = mutate(raw, edits);
        if let Ok(Some((head, len))) = parse_response(&raw, &LIMITS) {
            prop_assert!(len <= raw.len());
            prop_assert!((100..=599).contains(&head.status));
            let method = if head_request { "HEAD" } else { "GET" };
            let framing = response_framing(method, &head);
            if let Ok(kind) = framing {
                let _ = origin_may_persist(&head, kind);
            }
            let mut again = Vec::new();
            write_response(&head, &mut again);
            let (reparsed, _) = parse_response(&again, &LIMITS)
                .map_err(|e| TestCaseError::fail(format!("rewritten head refused: {e}")))?
                .ok_or_else(|| TestCaseError::fail("rewritten head incomplete"))?;
            prop_assert_eq!((reparsed.version, reparsed.status), (head.version, head.status));
            prop_assert_eq!(&reparsed.headers, &head.headers);
            prop_assert_eq!(response_framing(method, &reparsed), framing);
        }
    }

    /// Absolute-form targets built from parts split back into those parts (RFC 3986).
    #[test]
    fn absolute_targets_split_into_their_parts(
        scheme in "[hH][tT][tT][pP][sS]?", authority in authority(), path in path(), query in query(),
        fragment in prop::option::of("[a-z/?#]{0,6}"),
    ) {
        let mut target = format!("{scheme}://{authority}{path}");
        if let Some(q) = &query { target.push('?'); target.push_str(q); }
        if let Some(f) = &fragment { target.push('#'); target.push_str(f); }
        let split = split_absolute(&target).map_err(|e| TestCaseError::fail(e.to_string()))?
            .ok_or_else(|| TestCaseError::fail("not absolute"))?;
        prop_assert_eq!(split.authority, authority.as_str());
        let mut want = if path.is_empty() { "/".to_string() } else { path.clone() };
        if let Some(q) = &query { want.push('?'); want.push_str(q); }
        prop_assert_eq!(split.origin_form, want);
        let with_userinfo = format!("{scheme}://user@{authority}{path}");
        prop_assert!(split_absolute(&with_userinfo).is_err());
    }

    /// Any string: a split authority holds no delimiter or userinfo, and the origin form is a path.
    #[test]
    fn absolute_split_takes_any_target(rest in "[ -~]{0,40}") {
        if let Ok(Some(split)) = split_absolute(&format!("http://{rest}")) {
            prop_assert!(!split.authority.is_empty());
            prop_assert!(!split.authority.contains(['/', '?', '#', '@', ' ']));
            prop_assert!(split.origin_form.starts_with('/'));
            prop_assert!(!split.origin_form.contains('#'));
        }
    }

    /// Any bytes: the chunked decoder returns, never yields more than it was given, and
    /// reaches the same outcome however the input is split across reads.
    #[test]
    fn chunked_decoder_is_split_invariant(input in chunky_bytes(400), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let whole = decode_in_pieces(&input, &[]);
        prop_assert!(whole.body.len() + whole.rest.len() <= input.len());
        let pieces = decode_in_pieces(&input, &cuts);
        prop_assert_eq!(pieces, whole);
    }

    /// Well-formed chunked bodies decode to their data, with the next message left untouched,
    /// at any split.
    #[test]
    fn chunked_messages_decode_exactly(
        (wire, body) in chunked_message(),
        next in prop::collection::vec(any::<u8>(), 0..32),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut input = wire;
        input.extend_from_slice(&next);
        let out = decode_in_pieces(&input, &cuts);
        prop_assert_eq!(out.error, None);
        prop_assert!(out.done);
        prop_assert_eq!(out.body, body);
        prop_assert_eq!(out.rest, next);
    }

    /// What the proxy's chunked encoder writes, its decoder reads back.
    #[test]
    fn chunked_encoder_and_decoder_agree(pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..6)) {
        let mut enc = Encoder::new(BodyKind::Chunked);
        let mut queue = WriteQueue::default();
        let mut body = Vec::new();
        for piece in pieces {
            body.extend_from_slice(&piece);
            enc.encode(Bytes::from(piece), &mut queue).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        enc.finish(&mut queue).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut wire = Vec::new();
        while !queue.is_empty() {
            queue.write_to(&mut wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let out = decode_in_pieces(&wire, &[]);
        prop_assert!(out.done);
        prop_assert_eq!(out.body, body);
        prop_assert!(out.rest.is_empty());
    }
}
