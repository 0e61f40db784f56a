//! Offline scanner throughput: MiB/s on one core over 1 MiB bodies, fed in 16 KiB
//! blocks (the host's usual read size) to the same scan state the plugin uses, with 1,
//! 100 and 1,000 patterns, report mode (scan only) and replace mode (scan and splice into
//! a Vec standing in for the output buffer). Two pattern sets: one whose patterns share
//! a two-byte stem (the scanner then skips ahead with a packed or `memmem` search), and
//! one of unrelated random words with no common prefix (the DFA's own prefilter), so the
//! figures show both the fast path and the general case.
//!
//! `cargo run --release -p plugin-scanner --example throughput [SECONDS_PER_CELL]`;
//! `bench/scanner.sh` pins it to one core. Not a test: it asserts nothing.

use std::time::{Duration, Instant};

use plugin_scanner::matcher::{Matcher, Scan};

const BODY: usize = 1024 * 1024;
const BLOCK: usize = 16 * 1024;

/// Deterministic text-like filler (lowercase words), so patterns share its alphabet
/// and the prefilter cannot skip everything.
fn body() -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut out = Vec::with_capacity(BODY);
    while out.len() < BODY {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let word_len = 2 + (state % 8) as usize;
        for i in 0..word_len {
            out.push(b'a' + ((state >> (8 + i * 5)) % 26) as u8);
        }
        out.push(b' ');
    }
    out.truncate(BODY);
    out
}

/// Makes `n` patterns.
type PatternSet = fn(usize) -> Vec<Vec<u8>>;

/// `n` patterns of 8 to 15 lowercase letters sharing the stem `zq`; one in a hundred is
/// planted in the body.
fn stem_patterns(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("zq{:x}{}", i * 7919, "xkcd".repeat(1 + i % 3)).into_bytes()).collect()
}

/// `n` random lowercase words of 6 to 12 letters, with no shared prefix.
fn word_patterns(n: usize) -> Vec<Vec<u8>> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = 6 + (state % 7) as usize;
            (0..len).map(|i| b'a' + ((state >> (4 + i * 5)) % 26) as u8).collect()
        })
        .collect()
}

fn measure(seconds: f64, mut pass: impl FnMut()) -> f64 {
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut bytes = 0usize;
    while start.elapsed() < budget {
        pass();
        bytes += BODY;
    }
    bytes as f64 / (1024.0 * 1024.0) / start.elapsed().as_secs_f64()
}

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    println!("set\tpatterns\tmode\tMiB/s\tmatches per MiB");
    let sets: [(&str, PatternSet); 2] = [("stem", stem_patterns), ("words", word_patterns)];
    for (set, make) in sets {
        for n in [1, 100, 1000] {
            run(set, n, &make(n), seconds);
        }
    }
}

fn run(set: &str, n: usize, pats: &[Vec<u8>], seconds: f64) {
    let mut text = body();
    {
        for (i, p) in pats.iter().enumerate().step_by(100) {
            let at = (i * 10_007) % (BODY - p.len());
            text[at..at + p.len()].copy_from_slice(p);
        }
        let m = match Matcher::new(pats, false) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("{set} {n} patterns: {e}");
                return;
            }
        };
        let mut found = 0u64;
        let report = measure(seconds, || {
            let mut scan = Scan::new(&m);
            found = 0;
            for block in text.chunks(BLOCK) {
                scan.feed(&m, block, &mut |_| found += 1);
            }
            scan.finish(&mut |_| found += 1);
        });
        println!("{set}\t{n}\treport\t{report:.0}\t{found}");
        let mut out = Vec::with_capacity(BODY);
        let replace = measure(seconds, || {
            let mut scan = Scan::new(&m);
            out.clear();
            let mut last = 0u64;
            let mut splice = |f: plugin_scanner::matcher::Found, out: &mut Vec<u8>| {
                out.extend_from_slice(&text[last as usize..f.start as usize]);
                out.extend_from_slice(b"[R]");
                last = f.end;
            };
            for block in text.chunks(BLOCK) {
                scan.feed(&m, block, &mut |f| splice(f, &mut out));
            }
            scan.finish(&mut |f| splice(f, &mut out));
            out.extend_from_slice(&text[last as usize..]);
        });
        println!("{set}\t{n}\treplace\t{replace:.0}\t{found}");
    }
}
