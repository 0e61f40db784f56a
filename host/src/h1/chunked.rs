//! The chunked transfer coding decoder (RFC 9112 section 7.1), one state per
//! syntactic position, one `read_<state>` function per state.
//!
//! ```text
//! Size --hex--> Size
//! Size, SizeLws --SP/HTAB--> SizeLws
//! Size, SizeLws --";"--> Extension --any but CR/LF--> Extension
//! Size, SizeLws, Extension --CR--> SizeLf
//! SizeLf --LF, size > 0--> Body --size bytes--> BodyCr --CR--> BodyLf --LF--> Size
//! SizeLf --LF, size = 0--> EndCr --CR--> EndLf --LF--> End
//! EndCr --any but CR/LF--> Trailer --CR--> TrailerLf --LF--> EndCr
//! ```
//!
//! Only CRLF ends a line: a bare LF anywhere in the framing is refused,
//! because parsers that disagree on line ends disagree on where a message
//! ends (request smuggling). Extensions and trailers are skipped, within
//! bounds, and never returned.

use super::decode::DecodeError;
use bytes::{Buf, Bytes, BytesMut};

/// chunk-size has no bound in RFC 9112 section 7.1; 16 hex digits fill a u64,
/// and a longer size line (even of leading zeros) is an attack, not a body.
const MAX_SIZE_DIGITS: u32 = 16;
/// "A recipient SHOULD limit the total length of chunk extensions received
/// from an input stream to a reasonable length" (RFC 9112 section 7.1.1):
/// per chunk line, whitespace included.
const MAX_EXTENSION_BYTES: usize = 4 * 1024;
/// The trailer section is discarded, but must still be read to its end; this
/// bounds how much a peer can make us read for nothing.
const MAX_TRAILER_BYTES: usize = 8 * 1024;

const BARE_LF: DecodeError = DecodeError::InvalidChunk("bare LF in chunked framing");

/// Where the decoder is in the chunked syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading chunk-size hex digits.
    Size,
    /// Whitespace after the size, before `;` or CR.
    SizeLws,
    /// Inside chunk extensions, up to CR.
    Extension,
    /// Expecting the LF ending the chunk-size line.
    SizeLf,
    /// Inside chunk data.
    Body,
    /// Expecting the CR after chunk data.
    BodyCr,
    /// Expecting the LF after chunk data.
    BodyLf,
    /// Inside a trailer field line, up to CR.
    Trailer,
    /// Expecting the LF ending a trailer field line.
    TrailerLf,
    /// At the start of a trailer-section line: CR ends the message.
    EndCr,
    /// Expecting the final LF.
    EndLf,
    /// The whole message body has been read.
    End,
}

/// Decodes a chunked body, handing out chunk data as zero-copy splits.
#[derive(Debug)]
pub(super) struct ChunkedDecoder {
    state: State,
    /// The size being read, then the bytes left in the current chunk.
    size: u64,
    /// Hex digits read for the current size.
    digits: u32,
    /// Bytes of whitespace and extensions on the current size line.
    extension_len: usize,
    /// Bytes of the trailer section so far.
    trailer_len: usize,
}

impl ChunkedDecoder {
    pub(super) fn new() -> Self {
        ChunkedDecoder { state: State::Size, size: 0, digits: 0, extension_len: 0, trailer_len: 0 }
    }

    pub(super) fn is_done(&self) -> bool {
        self.state == State::End
    }

    /// Consumes framing from `buf` and returns the next piece of chunk data,
    /// which never crosses a chunk boundary. `Ok(None)`: `buf` is used up or
    /// the body is complete; bytes after the body stay in `buf`.
    pub(super) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
        loop {
            if self.state == State::End || buf.is_empty() {
                return Ok(None);
            }
            if self.state == State::Body {
                return Ok(Some(self.read_body(buf)));
            }
            let byte = buf[0];
            buf.advance(1);
            self.state = match self.state {
                State::Size => self.read_size(byte)?,
                State::SizeLws => self.read_size_lws(byte)?,
                State::Extension => self.read_extension(byte)?,
                State::SizeLf => self.read_size_lf(byte)?,
                State::BodyCr => read_body_cr(byte)?,
                State::BodyLf => self.read_body_lf(byte)?,
                State::Trailer => self.read_trailer(byte)?,
                State::TrailerLf => read_trailer_lf(byte)?,
                State::EndCr => self.read_end_cr(byte)?,
                State::EndLf => read_end_lf(byte)?,
                State::Body | State::End => {
                    unreachable!("Body and End are handled before reading a byte")
                }
            };
        }
    }

    fn read_size(&mut self, byte: u8) -> Result<State, DecodeError> {
        if let Some(digit) = char::from(byte).to_digit(16) {
            self.digits += 1;
            if self.digits > MAX_SIZE_DIGITS {
                return Err(DecodeError::InvalidChunkSize);
            }
            self.size = self
                .size
                .checked_mul(16)
                .and_then(|n| n.checked_add(u64::from(digit)))
                .ok_or(DecodeError::InvalidChunkSize)?;
            return Ok(State::Size);
        }
        if self.digits == 0 {
            return Err(DecodeError::InvalidChunkSize);
        }
        match byte {
            b' ' | b'\t' => self.count_extension(State::SizeLws),
            b';' => self.count_extension(State::Extension),
            b'\r' => Ok(State::SizeLf),
            b'\n' => Err(BARE_LF),
            _ => Err(DecodeError::InvalidChunkSize),
        }
    }

    fn read_size_lws(&mut self, byte: u8) -> Result<State, DecodeError> {
        match byte {
            b' ' | b'\t' => self.count_extension(State::SizeLws),
            b';' => self.count_extension(State::Extension),
            b'\r' => Ok(State::SizeLf),
            b'\n' => Err(BARE_LF),
            _ => Err(DecodeError::InvalidChunkSize),
        }
    }

    fn read_extension(&mut self, byte: u8) -> Result<State, DecodeError> {
        match byte {
            b'\r' => Ok(State::SizeLf),
            b'\n' => Err(BARE_LF),
            _ => self.count_extension(State::Extension),
        }
    }

    fn read_size_lf(&mut self, byte: u8) -> Result<State, DecodeError> {
        if byte != b'\n' {
            return Err(DecodeError::InvalidChunk("missing LF after chunk size"));
        }
        self.digits = 0;
        self.extension_len = 0;
        Ok(if self.size == 0 { State::EndCr } else { State::Body })
    }

    fn read_body(&mut self, buf: &mut BytesMut) -> Bytes {
        debug_assert!(self.size > 0, "Body state with nothing left in the chunk");
        let n = usize::try_from(self.size).map_or(buf.len(), |size| size.min(buf.len()));
        // n <= buf.len() <= usize::MAX, so the widening cannot lose bits.
        self.size -= n as u64;
        if self.size == 0 {
            self.state = State::BodyCr;
        }
        buf.split_to(n).freeze()
    }

    fn read_body_lf(&mut self, byte: u8) -> Result<State, DecodeError> {
        if byte != b'\n' {
            return Err(DecodeError::InvalidChunk("missing CRLF after chunk data"));
        }
        self.size = 0;
        Ok(State::Size)
    }

    fn read_trailer(&mut self, byte: u8) -> Result<State, DecodeError> {
        match byte {
            b'\r' => self.count_trailer(State::TrailerLf),
            b'\n' => Err(BARE_LF),
            _ => self.count_trailer(State::Trailer),
        }
    }

    fn read_end_cr(&mut self, byte: u8) -> Result<State, DecodeError> {
        match byte {
            b'\r' => Ok(State::EndLf),
            b'\n' => Err(BARE_LF),
            _ => self.count_trailer(State::Trailer),
        }
    }

    fn count_extension(&mut self, next: State) -> Result<State, DecodeError> {
        self.extension_len += 1;
        if self.extension_len > MAX_EXTENSION_BYTES {
            return Err(DecodeError::InvalidChunk("chunk extensions too long"));
        }
        Ok(next)
    }

    fn count_trailer(&mut self, next: State) -> Result<State, DecodeError> {
        self.trailer_len += 1;
        if self.trailer_len > MAX_TRAILER_BYTES {
            return Err(DecodeError::InvalidChunk("trailer section too large"));
        }
        Ok(next)
    }
}

fn read_body_cr(byte: u8) -> Result<State, DecodeError> {
    match byte {
        b'\r' => Ok(State::BodyLf),
        _ => Err(DecodeError::InvalidChunk("missing CRLF after chunk data")),
    }
}

fn read_trailer_lf(byte: u8) -> Result<State, DecodeError> {
    match byte {
        b'\n' => Ok(State::EndCr),
        _ => Err(DecodeError::InvalidChunk("missing LF after trailer field")),
    }
}

fn read_end_lf(byte: u8) -> Result<State, DecodeError> {
    match byte {
        b'\n' => Ok(State::End),
        _ => Err(DecodeError::InvalidChunk("missing LF after last chunk")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Valid bodies: (wire bytes, decoded body, bytes left after the body).
    const VALID: &[(&[u8], &[u8], &[u8])] = &[
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello", b""),
        (b"0\r\n\r\n", b"", b""),
        (b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n", b"Wikipedia in\r\n\r\nchunks.", b""),
        (b"5;name=value;flag\r\nhello\r\n0;last\r\n\r\n", b"hello", b""),
        (b"5 \t;a=\"q;x\"\r\nhello\r\n0 \r\n\r\n", b"hello", b""),
        (b"5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n", b"hello", b""),
        (b"A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", b"0123456789abcdefghij", b""),
        (b"0005\r\nhello\r\n000\r\n\r\n", b"hello", b""),
        (b"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", b"hello", b"GET / HTTP/1.1\r\n\r\n"),
        (b"7\r\n0\r\n\r\n\x00\xff\r\n0\r\n\r\n0\r\n\r\n", b"0\r\n\r\n\x00\xff", b"0\r\n\r\n"),
    ];

    /// Drains `buf` through `dec`, appending body bytes to `body`; returns the pieces' sizes.
    fn drain(dec: &mut ChunkedDecoder, buf: &mut BytesMut, body: &mut Vec<u8>) -> Result<Vec<usize>, DecodeError> {
        let mut pieces = Vec::new();
        while let Some(piece) = dec.decode(buf)? {
            assert!(!piece.is_empty(), "decode must not return empty pieces");
            pieces.push(piece.len());
            body.extend_from_slice(&piece);
        }
        Ok(pieces)
    }

    fn decode_whole(input: &[u8]) -> Result<(Vec<u8>, bool, BytesMut), DecodeError> {
        let mut dec = ChunkedDecoder::new();
        let mut buf = BytesMut::from(input);
        let mut body = Vec::new();
        drain(&mut dec, &mut buf, &mut body)?;
        Ok((body, dec.is_done(), buf))
    }

    #[test]
    fn decodes_valid_bodies_whole() {
        for (input, body, rest) in VALID {
            let (got, done, left) = decode_whole(input).expect("valid");
            assert!(done, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(&got[..], *body);
            assert_eq!(&left[..], *rest);
        }
    }

    #[test]
    fn pieces_never_cross_chunks_and_share_memory() {
        let mut dec = ChunkedDecoder::new();
        let mut buf = BytesMut::from(&b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let first = dec.decode(&mut buf).expect("valid").expect("data");
        assert_eq!(&first[..], b"Wiki");
        // Zero-copy: the piece is a view into the input allocation.
        assert_eq!(first.as_ptr() as usize, base + 3);
        let second = dec.decode(&mut buf).expect("valid").expect("data");
        assert_eq!(&second[..], b"pedia");
        assert_eq!(second.as_ptr() as usize, base + 12);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert!(dec.is_done());
        assert!(buf.is_empty());
    }

    #[test]
    fn consumes_framing_when_returning_none() {
        let mut dec = ChunkedDecoder::new();
        let mut buf = BytesMut::from(&b"5;ext\r\n"[..]);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert!(buf.is_empty(), "size line must be consumed");
        assert!(!dec.is_done());
    }

    #[test]
    fn every_split_point_gives_the_same_result() {
        for (input, body, rest) in VALID {
            let name = String::from_utf8_lossy(input);
            for split in 0..=input.len() {
                let mut dec = ChunkedDecoder::new();
                let mut buf = BytesMut::from(&input[..split]);
                let mut got = Vec::new();
                drain(&mut dec, &mut buf, &mut got).expect("valid first part");
                buf.extend_from_slice(&input[split..]);
                drain(&mut dec, &mut buf, &mut got).expect("valid second part");
                assert!(dec.is_done(), "{name:?} split at {split}");
                assert_eq!(&got[..], *body, "{name:?} split at {split}");
                assert_eq!(&buf[..], *rest, "{name:?} split at {split}");
            }

            let mut dec = ChunkedDecoder::new();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for &byte in input.iter() {
                buf.extend_from_slice(&[byte]);
                drain(&mut dec, &mut buf, &mut got).expect("valid byte");
            }
            assert!(dec.is_done(), "{name:?} byte by byte");
            assert_eq!(&got[..], *body, "{name:?} byte by byte");
            assert_eq!(&buf[..], *rest, "{name:?} byte by byte");
        }
    }

    #[test]
    fn rejects_invalid_framing() {
        let size = DecodeError::InvalidChunkSize;
        let chunk = DecodeError::InvalidChunk;
        let long_ext = [&b"4;"[..], &[b'a'; MAX_EXTENSION_BYTES][..], b"\r\nWiki\r\n0\r\n\r\n"].concat();
        let long_trailer = [&b"0\r\nX: "[..], &[b'a'; MAX_TRAILER_BYTES][..], b"\r\n\r\n"].concat();
        let cases: Vec<(&[u8], DecodeError)> = vec![
            (b"zz\r\n", size.clone()),
            (b"\r\n", size.clone()),
            (b";ext\r\n", size.clone()),
            (b"-1\r\n", size.clone()),
            (b"+1\r\n", size.clone()),
            (b"0x4\r\n", size.clone()),
            (b"4 x\r\n", size.clone()),
            (b"11111111111111111\r\n", size.clone()),
            (b"00000000000000001\r\n", size.clone()),
            (b"4\nWiki\r\n0\r\n\r\n", chunk("bare LF in chunked framing")),
            (b"4;a\nWiki\r\n0\r\n\r\n", chunk("bare LF in chunked framing")),
            (b"4 \nWiki\r\n0\r\n\r\n", chunk("bare LF in chunked framing")),
            (b"4\r\r\nWiki\r\n0\r\n\r\n", chunk("missing LF after chunk size")),
            (b"4\r\nWiki\n0\r\n\r\n", chunk("missing CRLF after chunk data")),
            (b"4\r\nWikiX\r\n0\r\n\r\n", chunk("missing CRLF after chunk data")),
            (b"4\r\nWiki\rX0\r\n\r\n", chunk("missing CRLF after chunk data")),
            (b"0\r\n\n", chunk("bare LF in chunked framing")),
            (b"0\r\n\rX", chunk("missing LF after last chunk")),
            (b"0\r\nX: y\n\r\n", chunk("bare LF in chunked framing")),
            (b"0\r\nX: y\r\r\n", chunk("missing LF after trailer field")),
            (&long_ext, chunk("chunk extensions too long")),
            (&long_trailer, chunk("trailer section too large")),
        ];
        for (input, want) in cases {
            let got = decode_whole(input).map(|(body, done, _)| (body, done));
            assert_eq!(got, Err(want), "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn accepts_largest_size_and_bounded_extensions() {
        let mut dec = ChunkedDecoder::new();
        let mut buf = BytesMut::from(&b"FFFFFFFFFFFFFFFF\r\nab"[..]);
        let piece = dec.decode(&mut buf).expect("16 digits fit").expect("data");
        assert_eq!(&piece[..], b"ab");
        assert!(!dec.is_done());

        let ext = [&b"4;"[..], &[b'a'; MAX_EXTENSION_BYTES - 1][..], b"\r\nWiki\r\n0\r\n\r\n"].concat();
        let (body, done, _) = decode_whole(&ext).expect("extension at the limit");
        assert_eq!((&body[..], done), (&b"Wiki"[..], true));
    }
}
