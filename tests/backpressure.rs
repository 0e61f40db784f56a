//! Backpressure: a client that stops reading stops the origin read, instead of the host
//! buffering the whole body (per-transaction memory is bounded by configuration).

use std::thread;
use std::time::Duration;

use e2e::{assert_same_bytes, get_request, pattern, HostBuilder, Origin, RawConn};

const BODY: usize = 64 * 1024 * 1024;
/// Kernel socket buffers on both legs (loopback autotuning reaches a few MiB each) plus
/// the host's own buffer: far less than the body, so a host that buffers it all fails.
const MAX_IN_FLIGHT: u64 = 32 * 1024 * 1024;

#[test]
fn stalled_client_stops_the_origin_read() {
    let origin = Origin::start();
    let host = HostBuilder::new(origin.addr()).opt("--buffer-bytes", 256 * 1024).start();
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request(&format!("/bytes?n={BODY}&seed=31&framing=chunked"))).expect("send");
    // The client reads nothing yet. Wait (bounded) until the origin makes no more progress.
    let mut last = 0;
    let mut stable = 0;
    for _ in 0..200 {
        thread::sleep(Duration::from_millis(100));
        let now = origin.bytes_written();
        stable = if now == last && now > 0 { stable + 1 } else { 0 };
        last = now;
        if stable >= 5 {
            break;
        }
    }
    eprintln!("origin progress while the client read nothing: {last} of {BODY} bytes");
    assert!(
        last < MAX_IN_FLIGHT,
        "origin wrote {last} of {BODY} bytes to a client that read nothing: the host is not applying backpressure"
    );
    let resp = conn.read_response(false).expect("response once the client reads");
    assert!(resp.complete, "{:?}", resp.body_error);
    assert_same_bytes(&resp.body, &pattern(BODY, 31), "body after the stall");
}
