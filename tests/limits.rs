//! `--max-connections`: a connection over the limit is closed at once, the
//! ones within it are served, and a slot freed by a close is reused.

use e2e::{get_request, HostBuilder, Origin, RawConn};
use std::time::Duration;

fn served(conn: &mut RawConn) -> bool {
    conn.send(&get_request("/bytes?n=100")).is_ok() && conn.read_response(false).is_ok_and(|r| r.status == 200)
}

#[test]
fn connections_over_the_limit_are_refused_and_freed_slots_reused() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).threads(1).opt("--max-connections", 2).start();
    let mut first = RawConn::connect(host.addr());
    let mut second = RawConn::connect(host.addr());
    assert!(served(&mut first) && served(&mut second), "two connections within the limit are served");

    let mut third = RawConn::connect(host.addr());
    assert!(!served(&mut third), "a third connection over the limit gets no response");
    assert!(third.is_closed(Duration::from_secs(5)), "the host closed the connection over the limit");
    // The log is read on another thread: wait (bounded) for the line rather than race it.
    let logged = host.wait_for_log(Duration::from_secs(10), |l| l.contains("connection limit reached"));
    assert!(logged.is_some(), "the refusal is logged");

    drop(first);
    // The host notices the close on its next event; a new connection then fits (bounded retries).
    let fits = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        let mut again = RawConn::connect(host.addr());
        served(&mut again)
    });
    assert!(fits, "a slot freed by a closed connection is reused");
    assert!(served(&mut second), "the connection within the limit still works");
}
