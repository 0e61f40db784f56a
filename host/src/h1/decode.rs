//! Body decoders: framing in.

use super::head::BodyKind;
use bytes::{Bytes, BytesMut};

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A chunk-size line that is not hex, too long, or overflows.
    InvalidChunkSize,
    /// Other chunked syntax error (missing CRLF, oversized extension or trailers).
    InvalidChunk(&'static str),
    /// The peer closed before the body was complete.
    Truncated,
}

/// Decodes one message body.
#[derive(Debug)]
pub struct Decoder {
    _todo: (),
}

impl Decoder {
    /// A decoder for a body framed as `kind`.
    pub fn new(kind: BodyKind) -> Self {
        todo!()
    }
    /// Takes the next body bytes out of `buf`. `Ok(None)`: more input needed, or done.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
        todo!()
    }
    /// True once the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        todo!()
    }
    /// The peer closed its side.
    pub fn on_eof(&mut self) -> Result<(), DecodeError> {
        todo!()
    }
}
