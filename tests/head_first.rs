//! A response head the origin sends ahead of its body. The host holds a lone
//! head back for one turn of its event loop, so that a body following at once
//! leaves in the same send. These tests show the hold is bounded: the head
//! reaches the client while the origin still withholds the body, in every
//! framing, and the connection carries the next request after.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::Duration;

use e2e::{get_request, Host, RawConn};

/// How long the origin waits for the test's go-ahead before giving up.
const GO_AHEAD_WAIT: Duration = Duration::from_secs(20);

/// An origin that answers each request on its one connection with `head`, then
/// sends `body` only once the test says so. Returns its address and the sender
/// the test says "go" with.
fn withholding_origin(head: &'static str, body: &'static [u8]) -> (SocketAddr, Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (go, wait): (Sender<()>, Receiver<()>) = mpsc::channel();
    thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else { return };
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut out = stream;
        // Requests without bodies: a head ends at its empty line.
        for _ in 0..2 {
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == "\r\n" {
                    break;
                }
            }
            if out.write_all(head.as_bytes()).is_err() || wait.recv_timeout(GO_AHEAD_WAIT).is_err() {
                return;
            }
            if out.write_all(body).is_err() {
                return;
            }
        }
    });
    (addr, go)
}

fn head_arrives_before_the_body(head: &'static str, body: &'static [u8], expected: &[u8]) {
    let (origin, go) = withholding_origin(head, body);
    let host = Host::start(origin);
    let mut conn = RawConn::connect(host.addr());
    for round in 0..2 {
        conn.send(&get_request("/withheld")).expect("send");
        // The origin sends no body byte until told: a head held for its body never comes.
        let resp = conn
            .read_response_head()
            .unwrap_or_else(|e| panic!("round {round}: no head while the body is withheld: {e}"));
        assert_eq!(resp.status, 200, "round {round}");
        go.send(()).expect("origin thread alive");
        let resp = conn.read_response_body(resp, false);
        assert!(resp.complete, "round {round}: {:?}", resp.body_error);
        assert_eq!(resp.body, expected, "round {round}");
    }
}

#[test]
fn a_content_length_head_arrives_while_the_origin_withholds_the_body() {
    head_arrives_before_the_body("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", b"hello", b"hello");
}

#[test]
fn a_chunked_head_arrives_while_the_origin_withholds_the_body() {
    head_arrives_before_the_body(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"5\r\nhello\r\n0\r\n\r\n",
        b"hello",
    );
}
