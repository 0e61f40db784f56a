//! The compressing transform, on the SDK's raw VIO layer.
//!
//! It has the shape of Traffic Server's null transform (consume what is
//! readable, advance `ndone`, wake the output, ask the upstream for more),
//! with a compressor between input and output, and one choice the easy layer
//! cannot make: *when to start the output*, which is when the host sends the
//! response head.
//!
//! States:
//! - **Holding** (only for a declared input length of at most
//!   [`HOLD_LIMIT`], and never with `flush`): compressed bytes are kept
//!   back. When the input completes, the output starts with its exact
//!   length, so the client gets a Content-Length instead of chunks.
//! - **Streaming**: the output started with an unknown length (the host
//!   sends chunked to HTTP/1.1 and close-delimited to HTTP/1.0); every event
//!   passes on what the compressor produced, flushed first if `flush` is on.
//! - **Done**: the compressor is finished and the output's length set.
//!
//! Memory per response: the compressor's window, at most [`HOLD_LIMIT`]
//! held, and what the buffers' water marks let in; never the body size,
//! since the host stops sending events while the output is over its mark.

use std::sync::Arc;

use plugin_sdk::{Closed, Event, Transform, TransformCx, Vio, VioId, UNKNOWN_LEN};

use crate::encoder::Encoder;
use crate::stats::Stats;

/// Largest declared input length whose output is held for an exact
/// Content-Length: small enough to bound memory, large enough for most
/// pages.
pub const HOLD_LIMIT: u64 = 64 * 1024;

/// One response's compressor.
pub struct Compress {
    encoder: Option<Encoder>,
    flush: bool,
    stats: Arc<Stats>,
    /// `None` until the output started; `Some` while streaming and after.
    output: Option<VioId>,
    /// Compressed bytes kept back while holding.
    held: Vec<u8>,
    written: i64,
}

impl Compress {
    /// A transform around `encoder`; `flush` as configured.
    pub fn new(encoder: Encoder, flush: bool, stats: Arc<Stats>) -> Compress {
        Compress { encoder: Some(encoder), flush, stats, output: None, held: Vec::new(), written: 0 }
    }

    /// Whether to hold the output back for an input of this declared length.
    fn holds(&self, input: &Vio<'_>) -> bool {
        self.output.is_none() && !self.flush && input.known_nbytes().is_some_and(|n| n <= HOLD_LIMIT)
    }

    /// Starts the output (the host then sends the head) with `nbytes`.
    fn start<'a>(&mut self, cx: &TransformCx<'a>, nbytes: i64) -> Vio<'a> {
        let buffer = cx.new_buffer();
        let vio = cx.output_vconn().write(&buffer.alloc_reader(), nbytes);
        self.output = Some(vio.id());
        vio
    }

    /// Passes `bytes` on (or keeps them while holding).
    fn emit(&mut self, cx: &TransformCx<'_>, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let Some(out) = self.output.map(|id| cx.vio(id)) else {
            self.held.extend_from_slice(&bytes);
            return;
        };
        self.written += i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        self.stats.bytes_out.add(bytes.len() as u64);
        if let Some(buffer) = out.buffer() {
            // The Vec goes to the host as it is: no copy.
            buffer.append_owned(bytes);
        }
    }

    /// Compresses what the input has; true if anything was consumed.
    fn consume(&mut self, input: &Vio<'_>) -> std::io::Result<bool> {
        let Some(reader) = input.reader() else { return Ok(false) };
        let Some(encoder) = self.encoder.as_mut() else { return Ok(false) };
        let mut left = input.ntodo().min(reader.avail());
        let total = left;
        for block in reader.blocks() {
            if left <= 0 {
                break;
            }
            let take = block.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            encoder.write(&block[..take])?;
            left -= i64::try_from(take).unwrap_or(i64::MAX);
        }
        let done = total - left.max(0);
        if done > 0 {
            if self.flush {
                encoder.flush()?;
            }
            reader.consume(done);
            input.set_ndone(input.ndone() + done);
            self.stats.bytes_in.add(done as u64);
        }
        Ok(done > 0)
    }

    fn step(&mut self, cx: &TransformCx<'_>) -> std::io::Result<()> {
        let Some(input) = cx.input_vio() else { return Ok(()) };
        if self.encoder.is_none() {
            return Ok(()); // Done: only WRITE_COMPLETE is still to come.
        }
        if !self.holds(&input) && self.output.is_none() {
            self.start(cx, UNKNOWN_LEN);
        }
        let moved = self.consume(&input)?;
        let produced = self.encoder.as_mut().map(Encoder::take).unwrap_or_default();
        self.emit(cx, produced);
        // No reader: the upstream shut its write down, so this is all there is.
        let ended = input.reader().is_none() || input.ntodo() <= 0;
        if !ended {
            if moved {
                if let Some(out) = self.output.map(|id| cx.vio(id)) {
                    out.reenable();
                }
                input.call_cont(Event::VConnWriteReady);
            }
            return Ok(());
        }
        let last = self.encoder.take().map(Encoder::finish).transpose()?.unwrap_or_default();
        self.emit(cx, last);
        let out = match self.output {
            Some(id) => cx.vio(id),
            None => {
                let held = std::mem::take(&mut self.held);
                let out = self.start(cx, i64::try_from(held.len()).unwrap_or(i64::MAX));
                self.emit(cx, held);
                out
            }
        };
        out.set_nbytes(self.written);
        out.reenable();
        if input.reader().is_some() {
            input.call_cont(Event::VConnWriteComplete);
        }
        Ok(())
    }
}

impl Transform for Compress {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, event: Event) {
        // Once closed, the host destroys us as soon as we return.
        if cx.this().closed() != Closed::Open {
            return;
        }
        match event {
            Event::Error => {
                if let Some(input) = cx.input_vio() {
                    input.call_cont(Event::Error);
                }
            }
            Event::VConnWriteComplete => cx.output_vconn().shutdown(false, true),
            _ => {
                if self.step(cx).is_err() {
                    // A compressor fault: the body cannot be completed
                    // truthfully, so the transaction is aborted.
                    self.encoder = None;
                    cx.output_vconn().abort(1);
                    if let Some(input) = cx.input_vio() {
                        input.call_cont(Event::Error);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
