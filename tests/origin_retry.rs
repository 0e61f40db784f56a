//! A pooled origin connection that the origin has given up on is retried
//! once on a fresh connection for idempotent requests, and never for others.
//!
//! The origin here answers the first request on each connection and closes
//! the connection, without a byte, when a second request arrives on it: the
//! proxy's pooled connection looks healthy until it is used.

use e2e::{get_request, Host, HostBuilder, RawConn};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct OneShotOrigin {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    Some(head)
}

fn one_shot_origin() -> OneShotOrigin {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64).flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut stream = stream;
                stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
                if read_head(&mut stream).is_none() {
                    return;
                }
                let body = b"fresh";
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body));
                // The second request on this connection gets a close, not an answer.
                let _ = read_head(&mut stream);
            });
        }
    });
    OneShotOrigin { addr, accepted }
}

fn request(host: &Host, req: &[u8]) -> u16 {
    let mut conn = RawConn::connect(host.addr());
    conn.send(req).expect("send");
    conn.read_response(false).expect("response").status
}

#[test]
fn idempotent_request_on_a_stale_pooled_connection_is_retried_once() {
    let origin = one_shot_origin();
    let host = HostBuilder::new(origin.addr).threads(1).start();
    for i in 0..5 {
        assert_eq!(request(&host, &get_request("/x")), 200, "GET {i}");
    }
    // Each GET after the first met a stale pooled connection, then a fresh one.
    let accepted = origin.accepted.load(Ordering::SeqCst);
    assert!(accepted >= 5, "every GET was answered on a fresh origin connection (accepted {accepted})");
}

#[test]
fn non_idempotent_request_is_not_retried() {
    let origin = one_shot_origin();
    let host = HostBuilder::new(origin.addr).threads(1).start();
    assert_eq!(request(&host, &get_request("/warm")), 200);
    let post = b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi";
    assert_eq!(request(&host, post), 502, "a POST on a stale connection is not replayed");
}
