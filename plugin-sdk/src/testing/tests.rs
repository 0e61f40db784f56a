//! The fake host on the easy layer and on hand-written raw transforms.

use super::FakeHost;
use crate::{Chunk, Event, Output, StreamTransform, Transform, TransformCx};

struct Null;
impl StreamTransform for Null {
    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        out.pass(chunk);
    }
    fn output_len(&self, input_len: Option<u64>) -> Option<u64> {
        input_len
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 256) as u8).collect()
}

#[test]
fn stream_null_known_and_unknown_lengths() {
    let data = pattern(1000);
    let chunks: Vec<&[u8]> = data.chunks(37).collect();
    let out = FakeHost::new().run_stream(Null, &chunks);
    assert_eq!(out.bytes, data);
    assert_eq!(out.nbytes, Some(1000));
    assert!(out.complete, "{out:?}");
    assert!(out.write_ready > 10, "small water marks must exercise WRITE_READY: {}", out.write_ready);
    let out = FakeHost::new().unknown_length().take_size(1).run_stream(Null, &chunks);
    assert_eq!(out.bytes, data);
    assert_eq!(out.nbytes, None);
    assert!(out.complete && out.errors.is_empty(), "{out:?}");
}

#[test]
fn empty_input_completes() {
    let out = FakeHost::new().run_stream(Null, &[]);
    assert!(out.bytes.is_empty() && out.complete && out.started, "{out:?}");
    assert_eq!(out.nbytes, Some(0));
}

/// Writes twice its input: with a declared length of the input, a lie.
struct Doubler;
impl StreamTransform for Doubler {
    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        out.write(chunk);
        out.write_owned(chunk.to_vec());
    }
    fn output_len(&self, input_len: Option<u64>) -> Option<u64> {
        input_len
    }
}

#[test]
fn a_wrong_declared_length_is_reported() {
    let out = FakeHost::new().run_stream(Doubler, &[b"abc"]);
    assert!(!out.errors.is_empty(), "{out:?}");
}

/// Holds everything until the end, then writes it reversed.
struct Reverse(Vec<u8>);
impl StreamTransform for Reverse {
    fn on_data(&mut self, chunk: &Chunk<'_>, _out: &mut Output<'_>) {
        self.0.extend_from_slice(chunk);
    }
    fn on_end(&mut self, out: &mut Output<'_>) {
        self.0.reverse();
        out.write_owned(std::mem::take(&mut self.0));
    }
}

#[test]
fn on_end_output_is_delivered_with_unknown_length() {
    let out = FakeHost::new().run_stream(Reverse(Vec::new()), &[b"abc", b"def"]);
    assert_eq!(out.bytes, b"fedcba");
    assert_eq!(out.nbytes, None);
    assert!(out.complete, "{out:?}");
}

/// Panics on the first data.
struct Boom;
impl Transform for Boom {
    fn on_event(&mut self, _cx: &mut TransformCx<'_>, _event: Event) {
        panic!("boom (expected by the test)");
    }
}

#[test]
fn a_panic_is_caught_and_reported() {
    let out = FakeHost::new().run(Boom, &[b"x"]);
    assert!(out.errors.iter().any(|e| e.contains("status 2")), "{out:?}");
}

/// Raw pass-through with the single-call step.
#[derive(Default)]
struct RawPass(Option<crate::VioId>);
impl Transform for RawPass {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, event: Event) {
        if cx.is_closed() {
            return;
        }
        if event == Event::VConnWriteComplete {
            cx.output_vconn().shutdown(false, true);
            return;
        }
        let Some(input) = cx.input_vio() else { return };
        let output = match self.0 {
            Some(id) => cx.vio(id),
            None => {
                let reader = cx.new_buffer().alloc_reader();
                let vio = cx.output_vconn().write(&reader, input.nbytes());
                self.0 = Some(vio.id());
                vio
            }
        };
        input.pass_through(&output);
    }
}

#[test]
fn pass_through_step_moves_every_byte() {
    let data = pattern(300);
    let chunks: Vec<&[u8]> = data.chunks(11).collect();
    for host in [FakeHost::new(), FakeHost::new().unknown_length().water_mark(1)] {
        let out = host.run(RawPass::default(), &chunks);
        assert_eq!(out.bytes, data);
        assert!(out.complete && out.errors.is_empty(), "{out:?}");
    }
}
