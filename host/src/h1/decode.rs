//! Body decoders: framing in.
//!
//! A [`Decoder`] is made from the [`BodyKind`] that `head::request_framing`
//! or `head::response_framing` chose, and is fed the connection's read
//! buffer. Body bytes come out as zero-copy splits of that buffer; framing
//! bytes are consumed; bytes after the end of the body (a pipelined next
//! message) are left where they are.
//!
//! States: `Empty` (done from the start), `Length` (counting down),
//! `Chunked` (the state machine in `chunked`), `CloseDelimited` (until
//! [`Decoder::on_eof`]).

use super::chunked::ChunkedDecoder;
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

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::InvalidChunkSize => f.write_str("invalid chunk size"),
            DecodeError::InvalidChunk(what) => write!(f, "invalid chunked body: {what}"),
            DecodeError::Truncated => f.write_str("connection closed before the body ended"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one message body.
#[derive(Debug)]
pub struct Decoder {
    state: State,
}

#[derive(Debug)]
enum State {
    /// Nothing (more) to read.
    Done,
    /// This many body bytes still to come.
    Length(u64),
    Chunked(ChunkedDecoder),
    /// Everything until the peer closes.
    UntilEof,
}

impl Decoder {
    /// Body bytes still expected, for a Content-Length body; `None` otherwise.
    pub fn remaining(&self) -> Option<u64> {
        match &self.state {
            State::Length(n) => Some(*n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// A decoder for a body framed as `kind`.
    pub fn new(kind: BodyKind) -> Self {
        let state = match kind {
            BodyKind::Empty | BodyKind::Length(0) => State::Done,
            BodyKind::Length(n) => State::Length(n),
            BodyKind::Chunked => State::Chunked(ChunkedDecoder::new()),
            BodyKind::CloseDelimited => State::UntilEof,
        };
        Decoder { state }
    }
    /// Takes the next body bytes out of `buf`. `Ok(None)`: more input needed, or done.
    ///
    /// Call it until it returns `Ok(None)`, then check [`Decoder::is_done`].
    /// Never returns an empty `Bytes`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
        match &mut self.state {
            State::Done => Ok(None),
            State::Length(_) | State::UntilEof if buf.is_empty() => Ok(None),
            State::Length(remaining) => {
                let n = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
                // n <= buf.len(), so it fits a u64 on every supported target.
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.state = State::Done;
                }
                Ok(Some(buf.split_to(n).freeze()))
            }
            State::Chunked(chunked) => chunked.decode(buf),
            State::UntilEof => Ok(Some(buf.split().freeze())),
        }
    }
    /// True once the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        match &self.state {
            State::Done => true,
            State::Chunked(chunked) => chunked.is_done(),
            State::Length(_) | State::UntilEof => false,
        }
    }
    /// The peer closed its side.
    ///
    /// Completes a close-delimited body; a length-delimited or chunked body
    /// that is not complete yet was cut short.
    pub fn on_eof(&mut self) -> Result<(), DecodeError> {
        if self.is_done() {
            return Ok(());
        }
        match self.state {
            State::UntilEof => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(DecodeError::Truncated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(dec: &mut Decoder, buf: &mut BytesMut) -> Vec<u8> {
        let mut body = Vec::new();
        while let Some(piece) = dec.decode(buf).expect("valid") {
            body.extend_from_slice(&piece);
        }
        body
    }

    #[test]
    fn empty_is_done_at_once_and_leaves_bytes() {
        for kind in [BodyKind::Empty, BodyKind::Length(0)] {
            let mut dec = Decoder::new(kind);
            assert!(dec.is_done());
            let mut buf = BytesMut::from(&b"GET /next"[..]);
            assert_eq!(dec.decode(&mut buf), Ok(None));
            assert_eq!(&buf[..], b"GET /next");
            assert_eq!(dec.on_eof(), Ok(()));
        }
    }

    #[test]
    fn length_stops_at_the_end_leaving_pipelined_bytes() {
        let mut dec = Decoder::new(BodyKind::Length(5));
        assert_eq!(dec.remaining(), Some(5));
        let mut buf = BytesMut::from(&b"he"[..]);
        assert_eq!(drain(&mut dec, &mut buf), b"he");
        assert_eq!(dec.remaining(), Some(3));
        assert!(!dec.is_done());
        buf.extend_from_slice(b"lloGET / HTTP/1.1\r\n");
        let base = buf.as_ptr() as usize;
        let piece = dec.decode(&mut buf).expect("valid").expect("data");
        assert_eq!(&piece[..], b"llo");
        assert_eq!(piece.as_ptr() as usize, base, "zero-copy split");
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert!(dec.is_done());
        assert_eq!(dec.remaining(), Some(0));
        assert_eq!(&buf[..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn truncated_bodies_are_errors() {
        let mut dec = Decoder::new(BodyKind::Length(5));
        let mut buf = BytesMut::from(&b"abc"[..]);
        assert_eq!(drain(&mut dec, &mut buf), b"abc");
        assert_eq!(dec.on_eof(), Err(DecodeError::Truncated));

        let mut dec = Decoder::new(BodyKind::Chunked);
        let mut buf = BytesMut::from(&b"5\r\nhello\r\n"[..]);
        assert_eq!(drain(&mut dec, &mut buf), b"hello");
        assert_eq!(dec.on_eof(), Err(DecodeError::Truncated));
    }

    #[test]
    fn chunked_through_the_decoder() {
        let mut dec = Decoder::new(BodyKind::Chunked);
        assert_eq!(dec.remaining(), None);
        let mut buf = BytesMut::from(&b"3\r\nabc\r\n0\r\n\r\nrest"[..]);
        assert_eq!(drain(&mut dec, &mut buf), b"abc");
        assert!(dec.is_done());
        assert_eq!(dec.on_eof(), Ok(()));
        assert_eq!(&buf[..], b"rest");
    }

    #[test]
    fn close_delimited_takes_everything_until_eof() {
        let mut dec = Decoder::new(BodyKind::CloseDelimited);
        let mut buf = BytesMut::from(&b"abc"[..]);
        assert_eq!(drain(&mut dec, &mut buf), b"abc");
        buf.extend_from_slice(b"def");
        assert_eq!(drain(&mut dec, &mut buf), b"def");
        assert!(!dec.is_done());
        assert_eq!(dec.on_eof(), Ok(()));
        assert!(dec.is_done());
        buf.extend_from_slice(b"late");
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert_eq!(&buf[..], b"late");
    }
}
