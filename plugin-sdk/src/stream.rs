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
//! # Holding the output
//!
//! A transform whose [`StreamTransform::holds_output`] is true starts with
//! its output held: what it writes is kept, and the message head does not
//! leave, until it calls [`Output::release`] or the input ends (then the
//! output goes out with its exact length, so the client gets a
//! `Content-Length`). Instead it may call [`Output::replace`] to send a
//! whole other message (a block page) while the head has not left. Input
//! keeps flowing while held, so what is held is the transform's to bound
//! (count it with [`Output::written`]); the host's inactivity timeout still
//! applies.
//!
//! ```
//! use plugin_sdk::{Chunk, Message, Output, StreamTransform};
//! /// Blocks any body that mentions "secret"; passes others unchanged.
//! #[derive(Default)]
//! struct Guard { tail: Vec<u8> }
//! impl StreamTransform for Guard {
//!     fn holds_output(&self) -> bool { true }
//!     fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
//!         self.tail.extend_from_slice(chunk); // a real scanner keeps automaton state instead
//!         if self.tail.windows(6).any(|w| w == b"secret") {
//!             let _ = out.replace(&Message::new(403).body("blocked\n"));
//!         } else {
//!             out.pass(chunk);
//!         }
//!     }
//! }
//! let fake = plugin_sdk::testing::FakeHost::new();
//! let out = fake.run_stream(Guard::default(), &[b"top se", b"cret"]);
//! assert_eq!(out.replaced.map(|m| m.status), Some(403));
//! let out = fake.run_stream(Guard::default(), &[b"hello ", b"world"]);
//! assert_eq!((out.bytes.as_slice(), out.nbytes), (&b"hello world"[..], Some(11)));
//! ```
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

use crate::buffer::{Buffer, BufferId, Reader, ReaderId};
use crate::event::Event;
use crate::message::{Message, Refused};
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

    /// True to start with the output held (see the module docs). Default: false.
    fn holds_output(&self) -> bool {
        false
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
    hold: &'o mut Hold,
    cx: &'o TransformCx<'o>,
}

/// Whether a [`StreamAdapter`]'s output is held, going out, or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// Written bytes are kept; the head waits.
    Held,
    /// `release` was called: start the output after this call.
    Releasing,
    /// The output VIO is started.
    Flowing,
    /// The message was replaced: nothing more to do.
    Replaced,
    /// The output was aborted: nothing more to do.
    Aborted,
}

impl Hold {
    /// Replaced or aborted: the adapter does nothing more.
    fn stopped(self) -> bool {
        matches!(self, Hold::Replaced | Hold::Aborted)
    }
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

    /// Bytes written so far (while held: the bytes held).
    pub fn written(&self) -> u64 {
        u64::try_from(*self.written).unwrap_or(0)
    }

    /// Whether the output is still held.
    pub fn is_held(&self) -> bool {
        *self.hold == Hold::Held
    }

    /// Lets held output go: it starts as soon as this call returns, with the
    /// length [`StreamTransform::output_len`] gives (the input is not over
    /// yet). No effect unless held.
    pub fn release(&mut self) {
        if *self.hold == Hold::Held {
            *self.hold = Hold::Releasing;
        }
    }

    /// Replaces the whole message with `msg` (see [`crate::message`]); what
    /// was written is dropped and the transform gets no more data. Refused
    /// with [`Refused::TooLate`] once the output started.
    pub fn replace(&mut self, msg: &Message) -> Result<(), Refused> {
        if *self.hold == Hold::Flowing || self.hold.stopped() {
            return Err(Refused::TooLate);
        }
        self.cx.replace(msg)?;
        *self.hold = Hold::Replaced;
        Ok(())
    }

    /// Gives up on the message on purpose (the output vconnection aborted):
    /// the host aborts the transaction, closing the client connection once
    /// the head has left (a 5xx before), so a cut body is never passed off
    /// as whole; it counts an abort, not a protocol error. The transform
    /// gets no more data. For a message that may still be replaced, prefer
    /// [`Output::replace`].
    ///
    /// ```
    /// use plugin_sdk::{Chunk, Output, StreamTransform};
    /// /// Passes bodies on, but gives up on any longer than 4 bytes.
    /// struct Short;
    /// impl StreamTransform for Short {
    ///     fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
    ///         if out.written() + chunk.len() as u64 > 4 {
    ///             out.abort();
    ///         } else {
    ///             out.pass(chunk);
    ///         }
    ///     }
    /// }
    /// let fake = plugin_sdk::testing::FakeHost::new();
    /// let out = fake.run_stream(Short, &[b"abc", b"de"]);
    /// assert!(out.aborted && !out.complete);
    /// assert_eq!(out.bytes, b"abc");
    /// assert!(out.errors.is_empty(), "an abort on purpose breaks no rule: {:?}", out.errors);
    /// ```
    pub fn abort(&mut self) {
        if !self.hold.stopped() {
            self.cx.output_vconn().abort(0);
            *self.hold = Hold::Aborted;
        }
    }
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Runs a [`StreamTransform`] as a raw [`Transform`].
pub struct StreamAdapter<S> {
    inner: S,
    /// The output buffer and its reader, created on the first event.
    buffer: Option<(BufferId, ReaderId)>,
    output: Option<VioId>,
    hold: Hold,
    written: i64,
    ended: bool,
}

impl<S: StreamTransform> StreamAdapter<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        let hold = if inner.holds_output() { Hold::Held } else { Hold::Releasing };
        StreamAdapter { inner, buffer: None, output: None, hold, written: 0, ended: false }
    }

    /// The output buffer, created on the first event.
    fn buffer<'a>(&mut self, cx: &TransformCx<'a>) -> (Buffer<'a>, Reader<'a>) {
        if let Some((buf, reader)) = self.buffer {
            return (cx.buffer(buf), cx.reader(reader));
        }
        let buf = cx.new_buffer();
        let reader = buf.alloc_reader();
        self.buffer = Some((buf.id(), reader.id()));
        (buf, reader)
    }

    /// Starts the output VIO if a release is due: with the exact length
    /// written once the input ended, else the length the transform declares.
    fn start_output<'a>(&mut self, cx: &TransformCx<'a>, input: &Vio<'a>) -> Option<Vio<'a>> {
        if let Some(vio) = self.output {
            return Some(cx.vio(vio));
        }
        let release = self.hold == Hold::Releasing || (self.hold == Hold::Held && self.ended);
        if !release {
            return None;
        }
        let (_, reader) = self.buffer(cx);
        let nbytes = if self.ended {
            self.written
        } else {
            let declared = self.inner.output_len(input.known_nbytes()).and_then(|n| i64::try_from(n).ok());
            declared.unwrap_or(UNKNOWN_LEN)
        };
        let vio = cx.output_vconn().write(&reader, nbytes);
        self.output = Some(vio.id());
        self.hold = Hold::Flowing;
        Some(vio)
    }

    /// Calls `f` with an [`Output`] on this adapter's buffer.
    fn with_output(&mut self, cx: &TransformCx<'_>, f: impl FnOnce(&mut S, &mut Output<'_>)) {
        let (buf, _) = self.buffer(cx);
        let mut out = Output { buf, written: &mut self.written, hold: &mut self.hold, cx };
        f(&mut self.inner, &mut out);
    }

    fn finish(&mut self, cx: &TransformCx<'_>, input: &Vio<'_>) {
        if !self.ended {
            self.ended = true;
            self.with_output(cx, |inner, out| inner.on_end(out));
        }
        if self.hold.stopped() {
            return;
        }
        if let Some(out_vio) = self.start_output(cx, input) {
            out_vio.set_nbytes(self.written);
            out_vio.reenable();
        }
    }

    fn step(&mut self, cx: &TransformCx<'_>) {
        let Some(input) = cx.input_vio() else { return };
        self.buffer(cx);
        if self.hold.stopped() {
            return;
        }
        let out_vio = self.start_output(cx, &input);
        if self.ended {
            return;
        }
        let Some(reader) = input.reader() else {
            // The upstream shut its write down: no more input will come.
            self.finish(cx, &input);
            return;
        };
        let towrite = input.ntodo().min(reader.avail());
        if towrite > 0 {
            let mut left = towrite;
            let mut offset = 0i64;
            for block in reader.blocks() {
                if left <= 0 || self.hold.stopped() {
                    break;
                }
                let take = block.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let chunk = Chunk { data: &block[..take], reader, offset };
                self.with_output(cx, |inner, out| inner.on_data(&chunk, out));
                offset += len_i64(take);
                left -= len_i64(take);
            }
            if self.hold.stopped() {
                return;
            }
            reader.consume(towrite);
            input.set_ndone(input.ndone() + towrite);
        }
        if input.ntodo() > 0 {
            if towrite > 0 {
                // A release asked for during on_data starts now.
                if let Some(out_vio) = out_vio.or_else(|| self.start_output(cx, &input)) {
                    out_vio.reenable();
                }
                input.call_cont(Event::VConnWriteReady);
            }
        } else {
            self.finish(cx, &input);
            if !self.hold.stopped() {
                input.call_cont(Event::VConnWriteComplete);
            }
        }
    }
}

impl<S: StreamTransform> Transform for StreamAdapter<S> {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, event: Event) {
        if cx.is_closed() || self.hold.stopped() {
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
