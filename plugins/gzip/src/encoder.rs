//! One streaming compressor per response, whatever the coding: write input,
//! take what came out, flush on demand, finish.
//!
//! Each backend writes into a `Vec` it owns; [`Encoder::take`] hands that
//! `Vec` over whole (the transform gives it to the host without copying),
//! so the encoder keeps only its window and a small staging buffer. Writing
//! into a `Vec` cannot fail for want of space; an `Err` here is a backend
//! fault.

use std::io::{self, Write};

use brotli::enc::BrotliEncoderParams;
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;

use crate::config::Settings;
use crate::negotiate::Coding;

/// zstd's window: 1 MiB bounds memory per response and stays far below the
/// 8 MB limit RFC 9659 sets for zstd in HTTP, whatever the level.
const ZSTD_WINDOW_LOG: u32 = 20;
/// Brotli's staging buffer between its state and our `Vec`.
const BROTLI_BUFFER: usize = 16 * 1024;

/// A compressor for one coding.
pub enum Encoder {
    /// gzip.
    Gzip(GzEncoder<Vec<u8>>),
    /// deflate, in the zlib wrapper HTTP means by it.
    Deflate(ZlibEncoder<Vec<u8>>),
    /// br (boxed: its state is large).
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    /// zstd.
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    /// A compressor for `coding` at the levels of `settings`.
    pub fn new(coding: Coding, settings: &Settings) -> io::Result<Encoder> {
        Ok(match coding {
            Coding::Gzip => Encoder::Gzip(GzEncoder::new(Vec::new(), Compression::new(settings.gzip_level))),
            Coding::Deflate => Encoder::Deflate(ZlibEncoder::new(Vec::new(), Compression::new(settings.gzip_level))),
            Coding::Brotli => {
                let params = BrotliEncoderParams {
                    quality: settings.brotli_level as i32,
                    lgwin: settings.brotli_lgwin as i32,
                    ..BrotliEncoderParams::default()
                };
                Encoder::Brotli(Box::new(brotli::CompressorWriter::with_params(Vec::new(), BROTLI_BUFFER, &params)))
            }
            Coding::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(Vec::new(), settings.zstd_level)?;
                enc.window_log(ZSTD_WINDOW_LOG)?;
                Encoder::Zstd(enc)
            }
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Encoder::Gzip(e) => e,
            Encoder::Deflate(e) => e,
            Encoder::Brotli(e) => e.as_mut(),
            Encoder::Zstd(e) => e,
        }
    }

    fn sink(&mut self) -> &mut Vec<u8> {
        match self {
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Deflate(e) => e.get_mut(),
            Encoder::Brotli(e) => e.get_mut(),
            Encoder::Zstd(e) => e.get_mut(),
        }
    }

    /// Compresses `input`; output appears in [`take`](Self::take) when the
    /// backend has a block ready.
    pub fn write(&mut self, input: &[u8]) -> io::Result<()> {
        self.writer().write_all(input)
    }

    /// Emits everything written so far in a form the client can decode now
    /// (zlib's `Z_SYNC_FLUSH`, `BROTLI_OPERATION_FLUSH`, `ZSTD_e_flush`).
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer().flush()
    }

    /// The compressed bytes produced since the last call.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(self.sink())
    }

    /// Ends the stream; returns the last bytes (trailer included).
    pub fn finish(self) -> io::Result<Vec<u8>> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Deflate(e) => e.finish(),
            // into_inner runs BROTLI_OPERATION_FINISH before giving the Vec back.
            Encoder::Brotli(e) => Ok(e.into_inner()),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Read;

    pub(crate) fn decode(coding: Coding, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Coding::Gzip => flate2::read::GzDecoder::new(bytes).read_to_end(&mut out),
            Coding::Deflate => flate2::read::ZlibDecoder::new(bytes).read_to_end(&mut out),
            Coding::Brotli => brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out),
            Coding::Zstd => zstd::stream::read::Decoder::new(bytes).and_then(|mut d| d.read_to_end(&mut out)),
        }
        .unwrap_or_else(|e| panic!("{coding:?} output does not decode: {e}"));
        out
    }

    fn text(n: usize) -> Vec<u8> {
        b"<p>plugin-host compresses this paragraph, again and again.</p>\n".iter().copied().cycle().take(n).collect()
    }

    #[test]
    fn every_coding_round_trips_and_shrinks_text() {
        let input = text(100_000);
        for coding in Coding::ALL {
            let mut enc = Encoder::new(coding, &Settings::default()).expect("encoder");
            let mut out = Vec::new();
            for piece in input.chunks(7_000) {
                enc.write(piece).expect("write");
                out.extend(enc.take());
            }
            out.extend(enc.finish().expect("finish"));
            assert_eq!(decode(coding, &out), input, "{coding:?}");
            assert!(out.len() < input.len() / 10, "{coding:?}: {} bytes", out.len());
        }
    }

    #[test]
    fn flush_makes_everything_written_decodable_before_the_end() {
        for coding in Coding::ALL {
            let mut enc = Encoder::new(coding, &Settings::default()).expect("encoder");
            enc.write(b"data: first event\n\n").expect("write");
            enc.flush().expect("flush");
            let early = enc.take();
            assert!(!early.is_empty(), "{coding:?}: a flush must emit bytes");
            // A streaming decoder given only the flushed prefix yields the event.
            let mut got = vec![0u8; 64];
            let n = match coding {
                Coding::Gzip => flate2::read::GzDecoder::new(&early[..]).read(&mut got),
                Coding::Deflate => flate2::read::ZlibDecoder::new(&early[..]).read(&mut got),
                Coding::Brotli => brotli::Decompressor::new(&early[..], 4096).read(&mut got),
                Coding::Zstd => zstd::stream::read::Decoder::new(&early[..]).and_then(|mut d| d.read(&mut got)),
            }
            .unwrap_or_else(|e| panic!("{coding:?}: {e}"));
            assert_eq!(&got[..n], b"data: first event\n\n", "{coding:?}");
        }
    }

    #[test]
    fn empty_input_is_a_valid_empty_stream() {
        for coding in Coding::ALL {
            let enc = Encoder::new(coding, &Settings::default()).expect("encoder");
            let out = enc.finish().expect("finish");
            assert!(!out.is_empty(), "{coding:?}");
            assert_eq!(decode(coding, &out), b"", "{coding:?}");
        }
    }
}
