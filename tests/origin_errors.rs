//! Origin failures: refused, reset before the head, stalled, reset in the middle of a body.

use std::time::Duration;

use e2e::{
    agent, assert_fresh_request_served, assert_same_bytes, closed_port_addr, get_request, pattern, read_body, Host,
    HostBuilder, Origin, RawConn, ScriptedOrigin,
};

/// The status and body of an error page for `target`, read on a raw connection.
fn error_page(host: &Host, target: &str) -> (u16, String) {
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request(target)).expect("send");
    let resp = conn.read_response(false).expect("a response, not a dropped connection");
    (resp.status, String::from_utf8_lossy(&resp.body).into_owned())
}

#[test]
fn refused_origin_gives_502_saying_refused() {
    let host = Host::start(closed_port_addr());
    for attempt in 0..2 {
        let (status, body) = error_page(&host, "/bytes?n=1");
        assert_eq!(status, 502, "attempt {attempt}: origin port closed");
        assert!(body.contains("the origin server refused the connection"), "attempt {attempt}: {body}");
    }
    let line = host.wait_for_log(Duration::from_secs(10), |l| l.contains("refused the connection"));
    assert!(line.is_some_and(|l| l.contains("WARN")), "log:\n{}", host.logs());
}

#[test]
fn origin_reset_before_head_gives_502_saying_reset() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let (status, body) = error_page(&host, "/reset");
    assert_eq!(status, 502);
    assert!(body.contains("the origin server reset the connection"), "{body}");
    assert!(host.wait_for_log(Duration::from_secs(10), |l| l.contains("reset the connection")).is_some());
    assert_fresh_request_served(host.addr());
}

#[test]
fn stalled_origin_gives_504_saying_timed_out() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).opt("--inactivity-timeout-ms", 1000).start();
    let (status, body) = error_page(&host, "/stall");
    assert_eq!(status, 504);
    assert!(body.contains("the origin server timed out"), "{body}");
    assert_fresh_request_served(host.addr());
}

#[test]
fn a_malformed_origin_response_gives_502_saying_bad_response() {
    let origin = ScriptedOrigin::start(b"HTTP/1.1 2000 Odd\r\nContent-Length: 0\r\n\r\n");
    let host = Host::start(origin.addr());
    let (status, body) = error_page(&host, "/");
    assert_eq!(status, 502);
    assert!(body.contains("bad response: the origin server sent a malformed response head"), "{body}");
    assert!(host.wait_for_log(Duration::from_secs(10), |l| l.contains("bad response")).is_some());
}

/// The origin declares 1 MB, sends half, then resets. The client must not be handed
/// something that looks complete: fewer bytes than declared, or no final chunk.
#[test]
fn origin_reset_mid_body_never_looks_complete_raw() {
    const N: usize = 1_000_000;
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request(&format!("/reset-mid-body?n={N}&seed=4"))).expect("send");
    let resp = conn.read_response(false).expect("response head");
    assert_eq!(resp.status, 200, "head was sent by the origin before the reset");
    assert!(!resp.complete, "truncated body presented as complete ({} bytes)", resp.body.len());
    assert!(resp.body.len() < N, "got {} bytes of {N}", resp.body.len());
    if let Some(cl) = resp.header("content-length") {
        assert_eq!(cl, N.to_string(), "declared length changed");
    }
    assert_same_bytes(&resp.body, &pattern(N, 4)[..resp.body.len()], "bytes before the reset");
    assert!(conn.is_closed(Duration::from_secs(10)), "client connection left open after a truncated body");
    assert_fresh_request_served(host.addr());
}

#[test]
fn origin_reset_mid_body_is_an_error_for_ureq() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let mut resp = agent().get(host.url("/reset-mid-body?n=500000&seed=5")).call().expect("response head");
    assert_eq!(resp.status(), 200);
    match read_body(&mut resp) {
        Ok(body) => panic!("ureq read a 'complete' body of {} bytes from a reset origin", body.len()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
