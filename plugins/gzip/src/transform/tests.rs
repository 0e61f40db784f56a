//! The transform under the SDK's fake host: tiny water marks, every split.

use plugin_sdk::testing::{FakeHost, FakeOutput};

use super::*;
use crate::config::Settings;
use crate::negotiate::Coding;

fn text(n: usize) -> Vec<u8> {
    let words = ["alpha ", "beta ", "gamma ", "delta\n", "<div class=\"x\">", "</div>\n"];
    (0..).map(|i: usize| words[(i * 7 + i / 5) % words.len()]).flat_map(str::bytes).take(n).collect()
}

fn run(host: FakeHost, coding: Coding, flush: bool, chunks: &[&[u8]]) -> (FakeOutput, Arc<Stats>) {
    let stats = Arc::new(Stats::register());
    let encoder = Encoder::new(coding, &Settings::default()).expect("encoder");
    let out = host.run(Compress::new(encoder, flush, stats.clone()), chunks);
    assert!(out.errors.is_empty() && out.complete, "{coding:?}: {:?}", out.errors);
    (out, stats)
}

fn decode(coding: Coding, bytes: &[u8]) -> Vec<u8> {
    crate::encoder::tests::decode(coding, bytes)
}

#[test]
fn every_coding_every_size_known_and_unknown_length() {
    for coding in Coding::ALL {
        for n in [0, 1, 1024, 64 * 1024, 64 * 1024 + 1, 300_000] {
            let data = text(n);
            let mut chunks: Vec<&[u8]> = data.chunks(4096).collect();
            if chunks.is_empty() {
                // The fake ends an unknown-length input only after a chunk.
                chunks.push(b"");
            }
            for host in
                [FakeHost::new().water_mark(4096).take_size(1500), FakeHost::new().unknown_length().water_mark(4096)]
            {
                let (out, stats) = run(host.clone(), coding, false, &chunks);
                assert_eq!(decode(coding, &out.bytes), data, "{coding:?} {n} {host:?}");
                assert_eq!(stats.bytes_in.get(), n as u64);
                assert_eq!(stats.bytes_out.get(), out.bytes.len() as u64);
            }
        }
    }
}

#[test]
fn small_known_bodies_get_an_exact_length_larger_ones_stream() {
    let small = text(HOLD_LIMIT as usize);
    let chunks: Vec<&[u8]> = small.chunks(1000).collect();
    let (out, _) = run(FakeHost::new().water_mark(2048), Coding::Gzip, false, &chunks);
    assert_eq!(out.nbytes, Some(out.bytes.len() as u64), "held: exact length announced");

    let big = text(HOLD_LIMIT as usize + 1);
    let chunks: Vec<&[u8]> = big.chunks(1000).collect();
    let (out, _) = run(FakeHost::new().water_mark(2048), Coding::Gzip, false, &chunks);
    assert_eq!(out.nbytes, None, "over the limit: unknown length, chunked");

    // The fake declares the length with the last chunk: the first event sees it unknown.
    let (out, _) = run(FakeHost::new().unknown_length(), Coding::Gzip, false, &[b"ab", b"c"]);
    assert_eq!(out.nbytes, None, "unknown input length: never held");

    let (out, _) = run(FakeHost::new(), Coding::Gzip, true, &[b"abc"]);
    assert_eq!(out.nbytes, None, "flush: never held");
}

#[test]
fn any_split_of_the_input_decodes_to_the_same_bytes() {
    let data = text(3000);
    for piece in [1, 2, 3, 7, 64, 511, 2999] {
        let chunks: Vec<&[u8]> = data.chunks(piece).collect();
        for coding in Coding::ALL {
            let (out, _) = run(FakeHost::new().water_mark(16).take_size(3), coding, piece % 2 == 1, &chunks);
            assert_eq!(decode(coding, &out.bytes), data, "{coding:?} pieces of {piece}");
        }
    }
}

#[test]
fn flush_sends_each_block_before_the_next_arrives() {
    // With flush, the output after the first event already decodes to the
    // first block: compare against a run that stops feeding there.
    for coding in Coding::ALL {
        let (one, _) = run(FakeHost::new().unknown_length(), coding, true, &[b"data: one\n\n"]);
        let (two, _) = run(FakeHost::new().unknown_length(), coding, true, &[b"data: one\n\n", b"data: two\n\n"]);
        assert_eq!(decode(coding, &two.bytes), b"data: one\n\ndata: two\n\n");
        // Both runs start with the same flushed bytes for the first event
        // (the trailer differs): streaming really emitted it early.
        let flushed = common_prefix(&one.bytes, &two.bytes);
        assert!(flushed > 2, "{coding:?}: first event not flushed on its own ({flushed} common bytes)");
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[test]
fn output_is_smaller_than_input_for_text() {
    let data = text(200_000);
    let chunks: Vec<&[u8]> = data.chunks(16 * 1024).collect();
    for coding in Coding::ALL {
        let (out, stats) = run(FakeHost::new().water_mark(32 * 1024).take_size(8192), coding, false, &chunks);
        assert!(out.bytes.len() * 5 < data.len(), "{coding:?}: {} bytes", out.bytes.len());
        assert_eq!(stats.bytes_out.get(), out.bytes.len() as u64);
    }
}
