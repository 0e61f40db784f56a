//! The easy layer: data in, data out, end of stream.
//!
//! Implement [`StreamTransform`] and add it with
//! [`Txn::add_response_stream`](crate::Txn::add_response_stream). The
//! [`StreamAdapter`] runs it as a raw [`Transform`]: it creates the output
//! buffer, walks the input blocks, consumes them, advances `ndone`, reenables
//! and signals the upstream, and completes the output at end of stream.
//!
//! `on_data` sees the body in pieces of arbitrary size as they arrive; it is
//! **not** the entire body, and a piece boundary can fall anywhere (inside a
//! word, a UTF-8 sequence or a gzip member).
//!
//! ```
//! use plugin_sdk::{Chunk, Output, StreamTransform};
//! /// Upper-cases ASCII letters.
//! struct Upper;
//! impl StreamTransform for Upper {
//!     fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
//!         out.write_owned(chunk.to_ascii_uppercase());
//!     }
//!     fn output_len(&self, input_len: Option<u64>) -> Option<u64> {
//!         input_len // same length as the input
//!     }
//! }
//! let out = plugin_sdk::testing::FakeHost::new().run_stream(Upper, &[b"ab", b"c"]);
//! assert_eq!(out.bytes, b"ABC");
//! ```

use std::ops::Deref;

use crate::buffer::{Buffer, BufferId, Reader};
use crate::event::Event;
use crate::vconn::{Transform, TransformCx};
use crate::vio::{Vio, VioId, UNKNOWN_LEN};

/// A streaming body transform.
pub trait StreamTransform: 'static {
    /// Called with each piece of input, in order. Write output to `out`.
    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>);

    /// Called once after the last piece (the input is complete or the
    /// upstream shut down). Flush anything held back.
    fn on_end(&mut self, out: &mut Output<'_>) {
        let _ = out;
    }

    /// The output length for an input of `input_len` (`None`: unknown), if
    /// known before any data: lets the host send `Content-Length`. Default:
    /// unknown (the host sends the body chunked). If you return a length, you
    /// must write exactly that many bytes.
    fn output_len(&self, input_len: Option<u64>) -> Option<u64> {
        let _ = input_len;
        None
    }
}

/// A piece of input: the bytes, plus the means to pass them on without copying.
pub struct Chunk<'c> {
    data: &'c [u8],
    reader: Reader<'c>,
    offset: i64,
}

impl Deref for Chunk<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data
    }
}

/// Where a [`StreamTransform`] writes.
pub struct Output<'o> {
    buf: Buffer<'o>,
    written: &'o mut i64,
}

impl Output<'_> {
    /// Appends a copy of `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        self.buf.append(bytes);
        *self.written += len_i64(bytes.len());
    }

    /// Appends `bytes` without copying (the host frees them when sent).
    pub fn write_owned<T: AsRef<[u8]> + Send + 'static>(&mut self, bytes: T) {
        let n = len_i64(bytes.as_ref().len());
        self.buf.append_owned(bytes);
        *self.written += n;
    }

    /// Passes `chunk` on unchanged, sharing its blocks (no copy).
    pub fn pass(&mut self, chunk: &Chunk<'_>) {
        *self.written += self.buf.copy_from(&chunk.reader, len_i64(chunk.data.len()), chunk.offset);
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        u64::try_from(*self.written).unwrap_or(0)
    }
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Runs a [`StreamTransform`] as a raw [`Transform`].
pub struct StreamAdapter<S> {
    inner: S,
    output: Option<(VioId, BufferId)>,
    written: i64,
    ended: bool,
}

impl<S: StreamTransform> StreamAdapter<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        StreamAdapter { inner, output: None, written: 0, ended: false }
    }

    /// The output VIO and buffer, created on the first event.
    fn output<'a>(&mut self, cx: &TransformCx<'a>, input: &Vio<'a>) -> (Vio<'a>, Buffer<'a>) {
        if let Some((vio, buf)) = self.output {
            return (cx.vio(vio), cx.buffer(buf));
        }
        let buf = cx.new_buffer();
        let reader = buf.alloc_reader();
        let nbytes = self.inner.output_len(input.known_nbytes()).and_then(|n| i64::try_from(n).ok());
        let vio = cx.output_vconn().write(&reader, nbytes.unwrap_or(UNKNOWN_LEN));
        self.output = Some((vio.id(), buf.id()));
        (vio, buf)
    }

    fn finish(&mut self, out_vio: &Vio<'_>, buf: Buffer<'_>) {
        if !self.ended {
            self.ended = true;
            self.inner.on_end(&mut Output { buf, written: &mut self.written });
        }
        out_vio.set_nbytes(self.written);
        out_vio.reenable();
    }

    fn step(&mut self, cx: &TransformCx<'_>) {
        let Some(input) = cx.input_vio() else { return };
        let (out_vio, buf) = self.output(cx, &input);
        if self.ended {
            return;
        }
        let Some(reader) = input.reader() else {
            // The upstream shut its write down: no more input will come.
            self.finish(&out_vio, buf);
            return;
        };
        let towrite = input.ntodo().min(reader.avail());
        if towrite > 0 {
            let mut left = towrite;
            let mut offset = 0i64;
            for block in reader.blocks() {
                if left <= 0 {
                    break;
                }
                let take = block.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let chunk = Chunk { data: &block[..take], reader, offset };
                self.inner.on_data(&chunk, &mut Output { buf, written: &mut self.written });
                offset += len_i64(take);
                left -= len_i64(take);
            }
            reader.consume(towrite);
            input.set_ndone(input.ndone() + towrite);
        }
        if input.ntodo() > 0 {
            if towrite > 0 {
                out_vio.reenable();
                input.call_cont(Event::VConnWriteReady);
            }
        } else {
            self.finish(&out_vio, buf);
            input.call_cont(Event::VConnWriteComplete);
        }
    }
}

impl<S: StreamTransform> Transform for StreamAdapter<S> {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, event: Event) {
        if cx.is_closed() {
            return;
        }
        match event {
            Event::Error => {
                if let Some(input) = cx.input_vio() {
                    input.call_cont(Event::Error);
                }
            }
            Event::VConnWriteComplete => cx.output_vconn().shutdown(false, true),
            _ => self.step(cx),
        }
    }
}
