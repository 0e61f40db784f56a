//! A strict, independent HTTP/1.1 chunked-coding reader and writer (RFC 9112 section 7.1).
//!
//! The origin uses it to read chunked request bodies and the raw client to read chunked
//! responses. It deliberately shares no code with the proxy, so a framing bug in the proxy
//! cannot be hidden by the same bug on the test side. Bare LF line endings are refused.

use std::io::{self, BufRead, Read, Write};

/// Largest chunk-size line accepted (size, extensions and CRLF); RFC 9112 sets no limit,
/// but anything longer is an attack or a bug for our purposes.
const MAX_LINE: usize = 4096;

/// Reads one CRLF-terminated line (without the CRLF). A bare LF or a line longer than
/// [`MAX_LINE`] is `InvalidData`; EOF before the line ends is `UnexpectedEof`.
pub fn read_crlf_line(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = Read::take(&mut *r, MAX_LINE as u64).read_until(b'\n', &mut line)?;
    if n == 0 || line.last() != Some(&b'\n') {
        if n >= MAX_LINE {
            return Err(invalid("line too long"));
        }
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF inside a line"));
    }
    line.pop();
    if line.pop() != Some(b'\r') {
        return Err(invalid("bare LF line ending"));
    }
    Ok(line)
}

/// Reads a whole chunked body, appending the data to `out`. On error `out` keeps what was
/// read so far, which is what the reset tests need to see.
pub fn read_chunked(r: &mut impl BufRead, out: &mut Vec<u8>) -> io::Result<()> {
    loop {
        let line = read_crlf_line(r)?;
        let size = parse_chunk_size(&line)?;
        if size == 0 {
            // Trailer section: fields until an empty line.
            while !read_crlf_line(r)?.is_empty() {}
            return Ok(());
        }
        read_exact_into(r, size, out)?;
        if !read_crlf_line(r)?.is_empty() {
            return Err(invalid("chunk data longer than its size"));
        }
    }
}

/// Appends exactly `n` bytes from `r` to `out`; on EOF or error `out` keeps the partial data.
pub fn read_exact_into(r: &mut impl BufRead, n: u64, out: &mut Vec<u8>) -> io::Result<()> {
    let got = io::copy(&mut Read::take(&mut *r, n), out)?;
    if got < n {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("EOF after {got} of {n} body bytes")));
    }
    Ok(())
}

/// Parses `1*HEXDIG [ chunk-ext ]`, refusing an empty size, non-hex digits and overflow.
fn parse_chunk_size(line: &[u8]) -> io::Result<u64> {
    let size_part = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = trim_bws(size_part);
    if digits.is_empty() || digits.len() > 15 {
        return Err(invalid("chunk size empty or too long"));
    }
    let text = std::str::from_utf8(digits).map_err(|_| invalid("chunk size not ASCII"))?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("chunk size not hex"));
    }
    u64::from_str_radix(text, 16).map_err(|_| invalid("chunk size not hex"))
}

/// Trailing whitespace before `;` is allowed by RFC 9112 (BWS before chunk-ext).
fn trim_bws(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|c| *c != b' ' && *c != b'\t').map_or(0, |i| i + 1);
    &b[..end]
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Writes `body` chunked, with chunk sizes cycling through `sizes` so that decoders see
/// tiny, odd and large chunks in one body, then the last chunk.
pub fn write_chunked(w: &mut impl Write, body: &[u8], sizes: &[usize]) -> io::Result<()> {
    let mut rest = body;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
        write!(w, "{:x}\r\n", chunk.len())?;
        w.write_all(chunk)?;
        w.write_all(b"\r\n")?;
        rest = tail;
    }
    w.write_all(b"0\r\n\r\n")
}

/// Chunk sizes used when an origin or client writes chunked bodies.
pub const CHUNK_SIZES: &[usize] = &[1, 7, 4096, 65536, 333, 16384];

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        read_chunked(&mut &input[..], &mut out).map(|()| out)
    }

    #[test]
    fn round_trips_through_writer() {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut wire = Vec::new();
        write_chunked(&mut wire, &body, CHUNK_SIZES).expect("write to Vec");
        assert_eq!(decode(&wire).expect("decode"), body);
    }

    #[test]
    fn accepts_extensions_and_trailers() {
        let wire = b"5;name=v\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(decode(wire).expect("decode"), b"hello");
    }

    #[test]
    fn refuses_bad_framing() {
        for bad in [
            &b"5\nhello\r\n0\r\n\r\n"[..],
            b"zz\r\nhello\r\n0\r\n\r\n",
            b"ffffffffffffffffff\r\n",
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"5\r\nhel",
        ] {
            assert!(decode(bad).is_err(), "accepted {:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn keeps_partial_data_on_error() {
        let mut out = Vec::new();
        let res = read_chunked(&mut &b"5\r\nhello\r\n5\r\nwor"[..], &mut out);
        assert!(res.is_err());
        assert_eq!(out, b"hellowor");
    }
}
