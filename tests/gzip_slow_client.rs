//! A slow client reading a large compressible body through gzip: the host's memory stays
//! bounded by the compressor's window and the water marks, not by the body.
//!
//! The client reads about 1 MiB/s of compressed bytes off the socket, decodes them with
//! Debian's `gzip -dc` as they arrive and checks every decoded byte. `GZIP_SLOW_BYTES`
//! sets the body size (default 32 MiB for CI; the run is 1 GiB:
//! `GZIP_SLOW_BYTES=1073741824 cargo test -p e2e --test gzip_slow_client -- --nocapture`).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use e2e::chunked::{read_crlf_line, read_exact_into};
use e2e::gzip::{head_text, request_bytes, GzipHost};
use e2e::text::write_text;
use e2e::RawConn;

/// The ceiling the issue sets for the host's resident memory.
const RSS_LIMIT: u64 = 64 * 1024 * 1024;
/// The client's reading pace, in compressed bytes per second.
const RATE: f64 = 1024.0 * 1024.0;

/// FNV-1a, 64 bits: enough to tell a wrong byte anywhere in a stream.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[test]
fn host_memory_stays_bounded_for_a_slow_client_of_a_large_compressed_body() {
    let n: usize = std::env::var("GZIP_SLOW_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(32 * 1024 * 1024);
    let gz = GzipHost::start(Some("supported-algorithms gzip\n"));
    let mut conn = RawConn::connect(gz.host.addr());
    let target = format!("/text?n={n}&seed=11&framing=chunked");
    conn.send(&request_bytes("GET", &target, "HTTP/1.1", &[("Accept-Encoding", "gzip")])).expect("send");
    let head = conn.read_response_head().expect("head");
    assert_eq!(head.header("content-encoding"), Some("gzip"), "{}", head_text(&head));

    let mut gunzip = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip -dc (.ci/run installs gzip)");
    let mut stdin = gunzip.stdin.take().expect("gzip stdin");
    let mut stdout = gunzip.stdout.take().expect("gzip stdout");
    let checker = thread::spawn(move || {
        let (mut count, mut hash, mut buf) = (0u64, Fnv::new(), vec![0u8; 64 * 1024]);
        while let Ok(got) = stdout.read(&mut buf) {
            if got == 0 {
                break;
            }
            hash.update(&buf[..got]);
            count += got as u64;
        }
        (count, hash.0)
    });

    let start = Instant::now();
    let (mut wire, mut max_rss, mut last_sample) = (0u64, gz.host.rss_bytes(), Instant::now());
    let mut chunk = Vec::new();
    loop {
        let line = read_crlf_line(conn.reader()).expect("chunk size line");
        let size = u64::from_str_radix(std::str::from_utf8(&line).unwrap_or("x"), 16).expect("hex chunk size");
        if size == 0 {
            read_crlf_line(conn.reader()).expect("end of the chunked body");
            break;
        }
        chunk.clear();
        read_exact_into(conn.reader(), size, &mut chunk).expect("chunk data");
        read_crlf_line(conn.reader()).expect("chunk end");
        stdin.write_all(&chunk).expect("feed gzip -dc");
        wire += size;
        // Pace: never ahead of RATE (sleeping, not asserting on time).
        let due = Duration::from_secs_f64(wire as f64 / RATE);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            thread::sleep(wait);
        }
        if last_sample.elapsed() > Duration::from_millis(200) {
            max_rss = max_rss.max(gz.host.rss_bytes());
            last_sample = Instant::now();
        }
    }
    drop(stdin);
    let (decoded, hash) = checker.join().expect("checker thread");
    assert!(gunzip.wait().expect("gzip exit").success(), "gzip -dc refused the stream");
    let mut expected = Fnv::new();
    write_text(n, 11, |_, piece| {
        expected.update(piece);
        Ok(true)
    })
    .expect("expected text");
    assert_eq!(decoded, n as u64, "decoded length");
    assert_eq!(hash, expected.0, "decoded bytes differ from the origin's");
    eprintln!(
        "slow client: {n} bytes decoded from {wire} on the wire; host RSS peak {:.1} MiB",
        max_rss as f64 / (1024.0 * 1024.0)
    );
    assert!(max_rss < RSS_LIMIT, "host RSS peaked at {max_rss} bytes, over {RSS_LIMIT}");
}
