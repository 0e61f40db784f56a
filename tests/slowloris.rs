//! A client that sends its head one byte at a time is cut off by `--head-timeout-ms`.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use e2e::{assert_fresh_request_served, HostBuilder, Origin};

/// At most this many bytes are dripped; a 2 s head timeout should end it after ~2.
const MAX_BYTES: usize = 20;

#[test]
fn head_sent_one_byte_per_second_is_closed() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).opt("--head-timeout-ms", 2000).start();
    let mut stream = TcpStream::connect(host.addr()).expect("connect");
    // Each wait for the peer doubles as the one-second pause between bytes.
    stream.set_read_timeout(Some(Duration::from_secs(1))).expect("set_read_timeout");
    let head = b"GET /bytes?n=1 HTTP/1.1\r\nHost: e2e.test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    let mut answer = Vec::new();
    for &byte in head.iter().take(MAX_BYTES) {
        if stream.write_all(&[byte]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match stream.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            // A 408 before the close is fine; keep going until the close itself.
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(
        closed,
        "connection still open after {MAX_BYTES} bytes at one per second (got {:?})",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        answer.is_empty() || String::from_utf8_lossy(&answer).split(' ').nth(1) == Some("408"),
        "unexpected answer to an unfinished head: {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(origin.requests().is_empty(), "an unfinished head reached the origin");
    assert_fresh_request_served(host.addr());
}
