//! Client aborts mid-body through a chain of 5 null transforms leave nothing behind: after
//! 10,000 of them (half closed with FIN, half reset; half while the origin is still
//! writing, half after it finished), `/stats` shows no live transaction, transform or
//! buffer, and the host still serves.
//!
//! `ABORTS` overrides the count (e.g. for a longer soak by hand).

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use e2e::{
    assert_fresh_request_served, get_request, null_chain, set_linger_zero, HostBuilder, Origin, PluginHost, RawConn,
};

const DEFAULT_ABORTS: usize = 10_000;
const CLIENT_THREADS: usize = 4;
/// The large response clients abandon: it cannot all be in flight, so the origin is still
/// writing when the client goes away.
const LARGE_BODY: usize = 64 * 1024 * 1024;
/// A response that fits the buffers on the way: the origin has finished, the client has not.
const SMALL_BODY: usize = 192 * 1024;
/// Body bytes each client reads before it goes away.
const READ_BEFORE_ABORT: usize = 4 * 1024;
/// Upper bound on the whole abort phase; a host that hangs fails instead of blocking CI.
const PHASE_LIMIT: Duration = Duration::from_secs(600);

#[test]
fn ten_thousand_client_aborts_leave_nothing_live() {
    let aborts: usize = std::env::var("ABORTS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_ABORTS);
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &null_chain(5, None));
    let addr = host.addr();

    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let failure: Arc<Mutex<Option<String>>> = Arc::default();
    let deadline = Instant::now() + PHASE_LIMIT;
    let clients: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| {
            let (next, done, failure) = (Arc::clone(&next), Arc::clone(&done), Arc::clone(&failure));
            thread::Builder::new()
                .name(format!("abort-client-{t}"))
                .spawn(move || {
                    // Bounded by `aborts` (shared counter) and by the deadline.
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= aborts || Instant::now() >= deadline || has_failed(&failure) {
                            return;
                        }
                        match abort_one(addr, i) {
                            Ok(()) => done.fetch_add(1, Ordering::SeqCst),
                            Err(e) => {
                                failure.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(e);
                                return;
                            }
                        };
                    }
                })
                .expect("spawn a client thread")
        })
        .collect();
    for client in clients {
        let _ = client.join();
    }
    let done = done.load(Ordering::SeqCst);
    if let Some(e) = failure.lock().unwrap_or_else(PoisonError::into_inner).take() {
        panic!("after {done} aborts: {e}; host logs:\n{}", host.logs());
    }
    assert_eq!(done, aborts, "only {done} of {aborts} aborts done within {PHASE_LIMIT:?}");

    let stats = host.wait_idle();
    eprintln!(
        "after {aborts} aborts: connections {}, origin accepted {} connections and wrote {:.1} MiB; plugins {:?}",
        stats.connections,
        origin.accepted(),
        origin.bytes_written() as f64 / (1024.0 * 1024.0),
        stats.plugins.iter().map(|p| (p.transactions, p.aborts)).collect::<Vec<_>>()
    );
    assert_eq!(stats.plugins.len(), 5, "{stats:#?}");
    // Clients that left while the origin was still writing cut every transform short.
    let cut_short = (0..aborts).filter(|i| i % 4 < 2).count() as u64;
    for (i, p) in stats.plugins.iter().enumerate() {
        assert_eq!(p.transactions, aborts as u64, "plugin #{i}: transactions");
        assert!(p.aborts >= cut_short, "plugin #{i}: {} aborts counted, at least {cut_short} expected", p.aborts);
        assert_eq!((p.panics, p.protocol_errors), (0, 0), "plugin #{i}: panics, protocol errors after aborts");
    }
    // Still serving, through the same chain.
    assert_fresh_request_served(addr);
    host.wait_idle();
}

fn has_failed(failure: &Mutex<Option<String>>) -> bool {
    failure.lock().unwrap_or_else(PoisonError::into_inner).is_some()
}

/// One client: request a body, read its head and a few KiB, then go away. `i` picks the
/// body (large or small), the origin's framing (length or chunked) and the way out (FIN
/// or reset), so each combination is tried equally often.
fn abort_one(addr: SocketAddr, i: usize) -> Result<(), String> {
    let mut conn = RawConn::connect_or_none(addr).ok_or_else(|| format!("client {i}: connect refused"))?;
    let size = if i % 4 < 2 { LARGE_BODY } else { SMALL_BODY };
    let framing = if i.is_multiple_of(2) { "length" } else { "chunked" };
    conn.send(&get_request(&format!("/cycle?n={size}&seed={}&framing={framing}", i % 7)))
        .map_err(|e| format!("client {i}: send: {e}"))?;
    let head = conn.read_response_head().map_err(|e| format!("client {i}: head: {e}"))?;
    if head.status != 200 {
        return Err(format!("client {i}: status {} ({:?})", head.status, head.headers));
    }
    let mut some = vec![0u8; READ_BEFORE_ABORT];
    conn.reader().read_exact(&mut some).map_err(|e| format!("client {i}: reading {READ_BEFORE_ABORT} bytes: {e}"))?;
    if (i / 4) % 2 == 1 {
        set_linger_zero(conn.stream());
    }
    Ok(())
}
