//! A message body in flight: decoder, then the transform chain if the
//! transaction has one, then the encoder, with bounded buffering.
//!
//! Without a chain the encoder exists from the start (the head was sent with
//! the framing the origin declared). With one, the head waits until the last
//! transform starts its output: `pump` returns [`Pump::NeedHead`] with the
//! length the transform announced, the caller sends the head with framing to
//! match and hands back the encoder with [`BodyPipe::set_encoder`].

use crate::h1::decode::{DecodeError, Decoder};
use crate::h1::encode::{EncodeError, Encoder};
use crate::h1::write_queue::WriteQueue;
use crate::transform::{Chain, Fault, Replacement, RunStatus};
use bytes::{Bytes, BytesMut};

/// What one `pump` achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum Pump {
    /// Nothing could move.
    Idle,
    /// Bytes moved; pump again.
    Progress,
    /// The chain hit its per-run event bound; pump again from the event loop.
    MoreWork,
    /// The chain started its output with this length (`None`: unknown); send the head.
    NeedHead(Option<u64>),
    /// The whole body went out.
    Done,
    /// A transform replaced the whole message before its head left: send
    /// this instead. The chain is gone; what is left of the input is unread.
    Replace(Replacement),
}

/// Why a body stopped.
#[derive(Debug)]
pub enum PipeError {
    /// The sender's framing is broken.
    Decode(DecodeError),
    /// The sender closed before the body was complete.
    Truncated,
    /// More or fewer bytes came out than the head declared.
    Encode(EncodeError),
    /// A plugin panicked or broke the VIO protocol.
    Plugin(Fault),
}

/// See the module docs.
pub struct BodyPipe {
    dec: Decoder,
    chain: Option<Chain>,
    enc: Option<Encoder>,
    input_ended: bool,
    done: bool,
}

impl BodyPipe {
    /// A body relayed as is, its head already sent.
    pub fn direct(dec: Decoder, enc: Encoder) -> Self {
        BodyPipe { dec, chain: None, enc: Some(enc), input_ended: false, done: false }
    }

    /// A body through `chain`, whose input is `input_len` bytes long if known.
    pub fn through(dec: Decoder, mut chain: Chain, input_len: Option<u64>) -> Self {
        chain.start(input_len);
        BodyPipe { dec, chain: Some(chain), enc: None, input_ended: false, done: false }
    }

    /// The encoder for the head that was sent after [`Pump::NeedHead`].
    pub fn set_encoder(&mut self, enc: Encoder) {
        self.enc = Some(enc);
    }

    /// True once the whole body went out.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// See [`Chain::charge_stall`]; `None` without a chain.
    pub fn charge_stall(&self) -> Option<Fault> {
        self.chain.as_ref().and_then(Chain::charge_stall)
    }

    /// Body bytes still to come from the sender, for a Content-Length body;
    /// `None` for any other framing.
    pub fn input_left(&self) -> Option<u64> {
        self.dec.remaining()
    }

    /// True when the sender's side has been read to its end.
    pub fn input_complete(&self) -> bool {
        self.dec.is_done()
    }

    /// Moves what can move from `src` (the sender's read buffer) to `out`
    /// while `out` holds less than `cap` (one read, or what a chain has
    /// ready, may take it past `cap`; nothing more is added then).
    pub fn pump(
        &mut self,
        src: &mut BytesMut,
        src_eof: bool,
        out: &mut WriteQueue,
        cap: usize,
    ) -> Result<Pump, PipeError> {
        if self.done {
            return Ok(Pump::Done);
        }
        if self.chain.is_some() {
            return self.pump_chain(src, src_eof, out, cap);
        }
        let Some(enc) = self.enc.as_mut() else { return Ok(Pump::Idle) };
        let mut moved = false;
        while out.len() < cap {
            match next_input(&mut self.dec, src, src_eof)? {
                Input::Chunk(chunk) => {
                    enc.encode(chunk, out).map_err(PipeError::Encode)?;
                    moved = true;
                }
                Input::End => {
                    enc.finish(out).map_err(PipeError::Encode)?;
                    self.done = true;
                    return Ok(Pump::Done);
                }
                Input::Wait => break,
            }
        }
        Ok(if moved { Pump::Progress } else { Pump::Idle })
    }

    fn pump_chain(
        &mut self,
        src: &mut BytesMut,
        src_eof: bool,
        out: &mut WriteQueue,
        cap: usize,
    ) -> Result<Pump, PipeError> {
        let Some(chain) = self.chain.as_mut() else { return Ok(Pump::Idle) };
        let mut moved = false;
        let mut status;
        loop {
            while !self.input_ended && chain.input_space() > 0 {
                match next_input(&mut self.dec, src, src_eof)? {
                    Input::Chunk(chunk) => chain.push_input(chunk),
                    Input::End => {
                        chain.end_input();
                        self.input_ended = true;
                    }
                    Input::Wait => break,
                }
                moved = true;
            }
            // Below the cap the client side takes what the chain has, as
            // the direct path takes a whole read: limiting each take to the
            // room left would send the client a piece of at most `cap` per
            // drive (18 sends per 1 MiB at a 64 KiB cap, against 6 without
            // a chain). The queue stays bounded by the cap plus what one
            // buffer of the chain holds.
            let room = if out.len() < cap { usize::MAX } else { 0 };
            chain.set_downstream_space(room);
            status = chain.run();
            if let Some(fault) = chain.fault() {
                return Err(PipeError::Plugin(fault));
            }
            if let Some(replacement) = chain.take_replacement() {
                self.chain = None;
                self.done = true;
                return Ok(Pump::Replace(replacement));
            }
            let Some(enc) = self.enc.as_mut() else {
                return Ok(match chain.output_started() {
                    Some(len) => Pump::NeedHead(len),
                    None if moved => Pump::Progress,
                    None if status == RunStatus::MoreWork => Pump::MoreWork,
                    None => Pump::Idle,
                });
            };
            let mut took = false;
            if room > 0 {
                for block in chain.take_output(room) {
                    took = true;
                    enc.encode(block, out).map_err(PipeError::Encode)?;
                }
                if took {
                    moved = true;
                    // Taking output queues WRITE_READY for the last transform: deliver it now.
                    status = chain.run();
                }
                if let Some(fault) = chain.fault() {
                    return Err(PipeError::Plugin(fault));
                }
            }
            if chain.output_done() {
                enc.finish(out).map_err(PipeError::Encode)?;
                self.done = true;
                return Ok(Pump::Done);
            }
            // Round again while bytes flow end to end and more input is
            // already read, until the queue reaches the cap.
            if !took || self.input_ended || src.is_empty() || out.len() >= cap {
                break;
            }
        }
        Ok(if moved {
            Pump::Progress
        } else if status == RunStatus::MoreWork {
            Pump::MoreWork
        } else {
            Pump::Idle
        })
    }
}

/// One step of the sender's side of a body.
enum Input {
    /// Body bytes.
    Chunk(Bytes),
    /// The body is complete.
    End,
    /// Nothing more until the next read.
    Wait,
}

/// Decodes the next step from `src`; the sender closing early is `Truncated`.
fn next_input(dec: &mut Decoder, src: &mut BytesMut, src_eof: bool) -> Result<Input, PipeError> {
    Ok(match dec.decode(src).map_err(PipeError::Decode)? {
        Some(chunk) => Input::Chunk(chunk),
        None if dec.is_done() || (src_eof && dec.on_eof().is_ok()) => Input::End,
        None if src_eof => return Err(PipeError::Truncated),
        None => Input::Wait,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::head::BodyKind;
    use crate::transform::tests::{null_chain, pattern};

    #[test]
    fn below_its_bound_the_client_queue_takes_all_a_chain_has_ready_in_one_pump() {
        // One read of 200 KiB, a 64 KiB bound: the direct path would queue the
        // whole read at once, and so must a null chain (not 64 KiB a drive).
        let (mark, body) = (64 * 1024, pattern(200 * 1024));
        let len = body.len() as u64;
        let mut pipe = BodyPipe::through(Decoder::new(BodyKind::Length(len)), null_chain(1, mark), Some(len));
        let mut src = BytesMut::from(&body[..]);
        let mut out = WriteQueue::default();
        assert_eq!(pipe.pump(&mut src, false, &mut out, mark).expect("pump"), Pump::NeedHead(Some(len)));
        pipe.set_encoder(Encoder::new(BodyKind::Length(len)));
        assert_eq!(pipe.pump(&mut src, false, &mut out, mark).expect("pump"), Pump::Done);
        assert_eq!(out.len(), body.len(), "the whole body in one pump, past the bound");
        let mut sent = Vec::new();
        out.write_to(&mut sent).expect("write");
        assert_eq!(sent, body);
        // At the bound, nothing more is taken.
        let mut pipe = BodyPipe::through(Decoder::new(BodyKind::Length(len)), null_chain(1, mark), Some(len));
        let mut src = BytesMut::from(&body[..]);
        let mut full = WriteQueue::default();
        full.push(Bytes::from(vec![0u8; mark]));
        assert_eq!(pipe.pump(&mut src, false, &mut full, mark).expect("pump"), Pump::NeedHead(Some(len)));
        pipe.set_encoder(Encoder::new(BodyKind::Length(len)));
        assert_ne!(pipe.pump(&mut src, false, &mut full, mark).expect("pump"), Pump::Done);
        assert_eq!(full.len(), mark, "a queue at its bound takes nothing");
    }
}
