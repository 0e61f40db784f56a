//! Origin failures: refused, reset before the head, stalled, reset in the middle of a body.

use std::time::Duration;

use e2e::{
    agent, assert_fresh_request_served, assert_same_bytes, closed_port_addr, get_request, pattern, read_body, Host,
    HostBuilder, Origin, RawConn,
};

#[test]
fn refused_origin_gives_502() {
    let host = Host::start(closed_port_addr());
    let agent = agent();
    for attempt in 0..2 {
        let resp = agent.get(host.url("/bytes?n=1")).call().unwrap_or_else(|e| panic!("attempt {attempt}: {e}"));
        assert_eq!(resp.status(), 502, "attempt {attempt}: origin port closed");
    }
}

#[test]
fn origin_reset_before_head_gives_502() {
    let origin = Origin::start();
    let host = Host::start(origin.addr());
    let resp = agent().get(host.url("/reset")).call().expect("a response, not a dropped connection");
    assert_eq!(resp.status(), 502);
    assert_fresh_request_served(host.addr());
}

#[test]
fn stalled_origin_gives_504() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).opt("--inactivity-timeout-ms", 1000).start();
    let resp = agent().get(host.url("/stall")).call().expect("a response, not a dropped connection");
    assert_eq!(resp.status(), 504);
    assert_fresh_request_served(host.addr());
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
