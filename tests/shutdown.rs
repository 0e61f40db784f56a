//! SIGTERM/SIGINT: stop accepting, finish what is in flight, exit 0.

use std::io::Read;
use std::thread;
use std::time::Duration;

use e2e::{agent, assert_same_bytes, get_request, pattern, HostBuilder, Origin, RawConn};

/// Generous bound on how long the host may take to exit after the signal; the drain
/// timeout in these tests is 10 s and in-flight work takes ~1.5 s.
const EXIT_WAIT: Duration = Duration::from_secs(30);

#[test]
fn sigterm_lets_in_flight_response_finish_then_exits_zero() {
    const N: usize = 2_000_000;
    let origin = Origin::start();
    let mut host = HostBuilder::new(origin.addr()).opt("--drain-timeout-ms", 10_000).start();
    let url = host.url(&format!("/slow?n={N}&seed=9&delay_ms=1500"));
    // call() returns once the head is in: the transaction is then surely in flight.
    let resp = agent().get(&url).call().expect("response head from the slow origin");
    assert_eq!(resp.status(), 200);
    let reader = thread::spawn(move || {
        let mut body = Vec::new();
        let result = resp.into_body().into_reader().read_to_end(&mut body);
        (result.map_err(|e| e.to_string()), body)
    });
    host.sigterm();
    assert!(stops_accepting(host.addr()), "host kept serving new connections after SIGTERM");
    let (result, body) = reader.join().expect("reader thread");
    assert!(result.is_ok(), "in-flight body cut by SIGTERM after {} bytes: {result:?}", body.len());
    assert_same_bytes(&body, &pattern(N, 9), "in-flight body across SIGTERM");
    let status = host.wait_exit(EXIT_WAIT);
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM: {status:?}");
}

/// Probes (bounded) until a new connection is refused or closed without an answer.
/// Early probes may still be served: the signal is handled asynchronously.
fn stops_accepting(addr: std::net::SocketAddr) -> bool {
    for _ in 0..100 {
        let Some(mut conn) = RawConn::connect_or_none(addr) else {
            return true;
        };
        let _ = conn.stream().set_read_timeout(Some(Duration::from_secs(2)));
        if conn.send(&get_request("/bytes?n=1")).is_err() || conn.read_response(false).is_err() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn sigterm_with_idle_keepalive_connection_exits_zero() {
    let origin = Origin::start();
    let mut host = HostBuilder::new(origin.addr()).opt("--drain-timeout-ms", 10_000).start();
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request("/bytes?n=100&seed=1")).expect("send");
    let resp = conn.read_response(false).expect("response");
    assert_eq!(resp.status, 200);
    // The connection is now idle between requests: it must not hold up the exit.
    host.sigterm();
    let status = host.wait_exit(EXIT_WAIT);
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM: {status:?}");
    assert!(conn.is_closed(Duration::from_secs(5)), "idle client connection not closed at exit");
}

#[test]
fn sigint_exits_zero() {
    let origin = Origin::start();
    let mut host = HostBuilder::new(origin.addr()).start();
    host.signal(libc::SIGINT);
    let status = host.wait_exit(EXIT_WAIT);
    assert_eq!(status.code(), Some(0), "exit status after SIGINT: {status:?}");
}
