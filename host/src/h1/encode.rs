//! Body encoders: framing out.

use super::head::BodyKind;
use super::write_queue::WriteQueue;
use bytes::Bytes;

/// Why a body could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// More bytes than the declared Content-Length.
    TooLong,
    /// Finished before the declared Content-Length.
    TooShort,
}

/// Encodes one message body.
#[derive(Debug)]
pub struct Encoder {
    _todo: (),
}

impl Encoder {
    /// An encoder for `kind`.
    pub fn new(kind: BodyKind) -> Self {
        todo!()
    }
    /// Frames `data` onto `out`.
    pub fn encode(&mut self, data: Bytes, out: &mut WriteQueue) -> Result<(), EncodeError> {
        todo!()
    }
    /// Ends the body.
    pub fn finish(&mut self, out: &mut WriteQueue) -> Result<(), EncodeError> {
        todo!()
    }
}
