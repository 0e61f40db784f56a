//! Body encoders: framing out, the mirror of `decode`.
//!
//! Data blocks are queued as they are (no copy); chunked framing adds a
//! small size line before each block and a static CRLF after it.
//!
//! States: `Length` (counting down to zero), `Chunked`, `CloseDelimited`,
//! `Empty`, and `Finished` once [`Encoder::finish`] succeeded.

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

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::TooLong => f.write_str("body longer than its declared length"),
            EncodeError::TooShort => f.write_str("body shorter than its declared length"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// The last chunk with an empty trailer section (RFC 9112 section 7.1).
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
const CRLF: &[u8] = b"\r\n";

/// Encodes one message body.
#[derive(Debug)]
pub struct Encoder {
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// This many bytes still to send.
    Length(u64),
    Chunked,
    CloseDelimited,
    /// No (more) body bytes allowed: `Empty`, or after `finish`.
    Finished,
}

impl Encoder {
    /// An encoder for `kind`.
    pub fn new(kind: BodyKind) -> Self {
        let state = match kind {
            BodyKind::Empty => State::Finished,
            BodyKind::Length(n) => State::Length(n),
            BodyKind::Chunked => State::Chunked,
            BodyKind::CloseDelimited => State::CloseDelimited,
        };
        Encoder { state }
    }
    /// Frames `data` onto `out`.
    ///
    /// Empty `data` queues nothing (in particular no zero-size chunk, which
    /// would end a chunked body). On `TooLong` nothing is queued, so the
    /// caller can still abort cleanly.
    pub fn encode(&mut self, data: Bytes, out: &mut WriteQueue) -> Result<(), EncodeError> {
        if data.is_empty() {
            return Ok(());
        }
        match &mut self.state {
            State::Length(remaining) => {
                let len = data.len() as u64;
                if len > *remaining {
                    return Err(EncodeError::TooLong);
                }
                *remaining -= len;
                out.push(data);
            }
            State::Chunked => {
                out.push(Bytes::from(format!("{:X}\r\n", data.len())));
                out.push(data);
                out.push(Bytes::from_static(CRLF));
            }
            State::CloseDelimited => out.push(data),
            State::Finished => return Err(EncodeError::TooLong),
        }
        Ok(())
    }
    /// Ends the body.
    ///
    /// Chunked bodies get their last chunk; a Content-Length body that is
    /// short is `TooShort` (the caller must then close the connection, since
    /// the peer is still waiting for bytes). Finishing twice is harmless.
    pub fn finish(&mut self, out: &mut WriteQueue) -> Result<(), EncodeError> {
        match self.state {
            State::Length(0) | State::CloseDelimited | State::Finished => {}
            State::Length(_) => return Err(EncodeError::TooShort),
            State::Chunked => out.push(Bytes::from_static(LAST_CHUNK)),
        }
        self.state = State::Finished;
        Ok(())
    }
    /// True if this encoder writes the chunked coding.
    #[cfg(test)]
    pub fn is_chunked(&self) -> bool {
        self.state == State::Chunked
    }
    /// True once `finish` succeeded (or from the start, for `Empty`).
    #[cfg(test)]
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::decode::Decoder;
    use bytes::BytesMut;

    /// Everything queued, as one byte string.
    fn queued(out: &mut WriteQueue) -> Vec<u8> {
        let mut bytes = Vec::new();
        out.write_to(&mut bytes).expect("Vec never fails");
        bytes
    }

    #[test]
    fn length_passes_through_and_checks_the_count() {
        let mut enc = Encoder::new(BodyKind::Length(5));
        let mut out = WriteQueue::default();
        enc.encode(Bytes::from_static(b"abc"), &mut out).expect("fits");
        assert_eq!(enc.finish(&mut out), Err(EncodeError::TooShort));
        assert_eq!(enc.encode(Bytes::from_static(b"def"), &mut out), Err(EncodeError::TooLong));
        enc.encode(Bytes::from_static(b"de"), &mut out).expect("fits");
        enc.finish(&mut out).expect("complete");
        assert!(enc.is_finished());
        assert_eq!(queued(&mut out), b"abcde");
    }

    #[test]
    fn empty_and_close_delimited() {
        let mut out = WriteQueue::default();
        let mut enc = Encoder::new(BodyKind::Empty);
        assert_eq!(enc.encode(Bytes::from_static(b"x"), &mut out), Err(EncodeError::TooLong));
        enc.encode(Bytes::new(), &mut out).expect("nothing to send");
        enc.finish(&mut out).expect("empty is complete");

        let mut enc = Encoder::new(BodyKind::CloseDelimited);
        assert!(!enc.is_chunked());
        enc.encode(Bytes::from_static(b"ab"), &mut out).expect("any length");
        enc.encode(Bytes::from_static(b"cd"), &mut out).expect("any length");
        enc.finish(&mut out).expect("complete");
        assert_eq!(enc.encode(Bytes::from_static(b"e"), &mut out), Err(EncodeError::TooLong));
        assert_eq!(queued(&mut out), b"abcd");
    }

    #[test]
    fn chunked_frames_exactly() {
        let mut enc = Encoder::new(BodyKind::Chunked);
        assert!(enc.is_chunked());
        let mut out = WriteQueue::default();
        enc.encode(Bytes::from_static(b"hello"), &mut out).expect("ok");
        enc.encode(Bytes::new(), &mut out).expect("ok");
        enc.encode(Bytes::from(vec![b'x'; 26]), &mut out).expect("ok");
        enc.finish(&mut out).expect("ok");
        enc.finish(&mut out).expect("twice is harmless");
        let mut want = b"5\r\nhello\r\n1A\r\n".to_vec();
        want.extend_from_slice(&[b'x'; 26]);
        want.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(queued(&mut out), want);
    }

    #[test]
    fn chunked_round_trip_split_everywhere() {
        let blocks: [&[u8]; 4] = [b"Wiki", b"", b"pedia in\r\n\r\nchunks.", b"0\r\n\r\n"];
        let mut enc = Encoder::new(BodyKind::Chunked);
        let mut out = WriteQueue::default();
        for block in blocks {
            enc.encode(Bytes::from_static(block), &mut out).expect("ok");
        }
        enc.finish(&mut out).expect("ok");
        let mut wire = queued(&mut out);
        wire.extend_from_slice(b"NEXT");
        let body: Vec<u8> = blocks.concat();

        for split in 0..=wire.len() {
            let mut dec = Decoder::new(BodyKind::Chunked);
            let mut buf = BytesMut::from(&wire[..split]);
            let mut got = Vec::new();
            while let Some(piece) = dec.decode(&mut buf).expect("valid") {
                got.extend_from_slice(&piece);
            }
            buf.extend_from_slice(&wire[split..]);
            while let Some(piece) = dec.decode(&mut buf).expect("valid") {
                got.extend_from_slice(&piece);
            }
            assert!(dec.is_done(), "split at {split}");
            assert_eq!(got, body, "split at {split}");
            assert_eq!(&buf[..], b"NEXT", "split at {split}");
        }
    }
}
