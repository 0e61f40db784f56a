//! The scanner at size: 1,000 patterns over a 16 MiB body with planted matches, some of
//! them straddling 64 KiB boundaries (where the host's reads and blocks tend to split),
//! in report mode (every plant counted once) and replace mode (every plant replaced, the
//! rest byte for byte).

use e2e::scanner::{counters, expect, scanner_host, wait_for_match_counts};
use e2e::trickle::{TrickleFraming, TrickleOrigin, TrickleReply};
use e2e::{assert_same_bytes, curl, pattern};
use std::time::Duration;

const BODY: usize = 16 * 1024 * 1024;
const PATTERNS: usize = 1000;
/// One plant every this many bytes.
const SPACING: usize = 4093;

/// Pattern `i`: 14 bytes a pseudo-random filler will not produce by chance.
fn token(i: usize) -> Vec<u8> {
    format!("<tok-{i:04}-x7q>").into_bytes()
}

/// The body, the same body with each plant replaced by `R{i}`, and the plant count.
fn planted() -> (Vec<u8>, Vec<u8>, u64) {
    let filler = pattern(BODY, 99);
    let (mut body, mut replaced) = (Vec::with_capacity(BODY), Vec::with_capacity(BODY));
    let (mut f, mut n) = (0, 0usize);
    while body.len() < BODY {
        let pos = body.len();
        // A plant starts 6 bytes before every 64 KiB boundary of the body, the others
        // SPACING apart.
        let mut straddle = (pos / 65536 + 1) * 65536 - 6;
        if straddle < pos {
            straddle += 65536;
        }
        let gap = (straddle - pos).min(SPACING);
        let take = gap.min(BODY - pos);
        body.extend_from_slice(&filler[f..f + take]);
        replaced.extend_from_slice(&filler[f..f + take]);
        f += take;
        if body.len() < BODY {
            body.extend_from_slice(&token(n % PATTERNS));
            replaced.extend_from_slice(format!("R{}", n % PATTERNS).as_bytes());
            n += 1;
        }
    }
    (body, replaced, n as u64)
}

fn patterns_file(replace: bool) -> Vec<u8> {
    let mut text = b"# 1,000 tokens\n".to_vec();
    for i in 0..PATTERNS {
        text.extend_from_slice(&token(i));
        if replace {
            text.extend_from_slice(format!("\tR{i}").as_bytes());
        }
        text.push(b'\n');
    }
    text
}

fn fetch(url: &str) -> Vec<u8> {
    let out = curl(&["--http1.1", url]);
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn a_thousand_patterns_over_sixteen_mebibytes() {
    let (body, replaced, plants) = planted();
    assert!(plants > 4000, "{plants} plants");
    for (mode, framing) in [("report", TrickleFraming::Length), ("replace", TrickleFraming::Chunked)] {
        let origin =
            TrickleOrigin::start(TrickleReply::new(body.clone(), 61 * 1024).framing(framing).pause(Duration::ZERO));
        let host = scanner_host(origin.addr(), &patterns_file(mode == "replace"), &format!("--mode {mode}"));
        let got = fetch(&host.url("/big"));
        let want = if mode == "replace" { &replaced } else { &body };
        assert_same_bytes(&got, want, mode);
        let stats = host.wait_idle();
        assert_eq!(wait_for_match_counts(&host, "response of GET /big", 1), [plants], "{mode}");
        let want = [("bytes_scanned", body.len() as u64), ("matches", plants), ("bodies_matched", 1)];
        assert_eq!(counters(&stats, 0, &["bytes_scanned", "matches", "bodies_matched"]), expect(&want), "{mode}");
    }
}
