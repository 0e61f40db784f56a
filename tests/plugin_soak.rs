//! Soak: 1,000 transactions in a row through `faulty panic-every=10` then `null`. Every
//! 10th transaction's transform panics on its first data: that one gets a 500 (or, had its
//! head gone out, a cut) and a closed connection; every other one is served byte-exact,
//! on a kept-alive connection where the host allows. At the end nothing is live, exactly
//! 100 panics are counted, and the host's resident memory has not grown with the count.
//!
//! The two memory figures are printed on stderr: run with `--nocapture` to see them.

use e2e::client::{get_request, RawConn};
use e2e::{assert_same_bytes, built_plugin, pattern, HostBuilder, Origin, PluginHost};
use std::time::Duration;

const TRANSACTIONS: u64 = 1_000;
/// `panic-every=N`: transactions N, 2N, ... fault.
const EVERY: u64 = 10;
/// Response body per transaction: several data events each.
const BODY: usize = 256 * 1024;
/// The first memory sample is taken after this many transactions: by then the allocator
/// and the host's pools have reached their working size.
const WARM: u64 = 100;
/// How much the resident memory may grow from the first sample to the last.
const RSS_SLACK_KIB: u64 = 8 * 1024;

/// How one transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// Served; the connection may carry the next one.
    KeptAlive,
    /// Served with `Connection: close`.
    Closed,
    /// Faulted: a 500 error page, then a close.
    ErrorPage,
    /// Faulted after its head went out: a cut body, then a close.
    Cut,
}

/// Sends transaction `n` on `conn` and checks how it ended.
fn transaction(conn: &mut RawConn, n: u64) -> Ended {
    let target = format!("/bytes?n={BODY}&seed={n}");
    conn.send(&get_request(&target)).unwrap_or_else(|e| panic!("transaction {n}: send: {e}"));
    let resp = conn.read_response(false).unwrap_or_else(|e| panic!("transaction {n}: no response head: {e}"));
    if n.is_multiple_of(EVERY) {
        let ended = match (resp.status, resp.complete) {
            (500, true) => Ended::ErrorPage,
            (200, false) => Ended::Cut,
            (status, complete) => panic!("faulted transaction {n}: status {status}, body complete: {complete}"),
        };
        if ended == Ended::Cut {
            let got = resp.body.len().min(BODY);
            assert_same_bytes(&resp.body, &pattern(BODY, n)[..got], &format!("transaction {n}, before the cut"));
        }
        assert!(conn.is_closed(Duration::from_secs(10)), "faulted transaction {n}: connection left open");
        return ended;
    }
    assert_eq!(resp.status, 200, "transaction {n}");
    assert!(resp.complete, "transaction {n}: body cut short: {:?}", resp.body_error);
    assert_same_bytes(&resp.body, &pattern(BODY, n), &format!("transaction {n}"));
    if resp.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
        Ended::Closed
    } else {
        Ended::KeptAlive
    }
}

#[test]
fn a_thousand_transactions_with_every_tenth_panicking_leave_nothing_behind() {
    let origin = Origin::start();
    let lines = [
        format!("{} panic-every={EVERY}", built_plugin("faulty").display()),
        built_plugin("null").display().to_string(),
    ];
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &lines);

    let mut conn: Option<RawConn> = None;
    let mut rss_warm = 0;
    let mut ended = Vec::new();
    for n in 1..=TRANSACTIONS {
        let c = conn.get_or_insert_with(|| RawConn::connect(host.addr()));
        let how = transaction(c, n);
        if how != Ended::KeptAlive {
            conn = None;
        }
        ended.push(how);
        if n == WARM {
            rss_warm = host.rss_bytes() / 1024;
        }
    }
    drop(conn);
    let rss_end = host.rss_bytes() / 1024;
    let count = |e: Ended| ended.iter().filter(|&&x| x == e).count();
    eprintln!(
        "{TRANSACTIONS} transactions: {} served kept alive, {} served then closed, {} error pages, {} cut",
        count(Ended::KeptAlive),
        count(Ended::Closed),
        count(Ended::ErrorPage),
        count(Ended::Cut)
    );
    // A plugin panic's backtrace (RUST_BACKTRACE, inherited by the host) costs tens of MiB
    // of symbol tables once, at the first panic: both samples come after it.
    let backtrace = std::env::var("RUST_BACKTRACE").unwrap_or_default();
    eprintln!(
        "plugin-host VmRSS: {rss_warm} KiB after {WARM} transactions, {rss_end} KiB after {TRANSACTIONS} \
         (RUST_BACKTRACE={backtrace:?})"
    );

    let stats = host.wait_idle();
    let (faulty, null) = (stats.plugin(0), stats.plugin(1));
    let faulted = TRANSACTIONS / EVERY;
    assert_eq!(faulty.name, "plugin-faulty");
    assert_eq!(faulty.transactions, TRANSACTIONS, "{faulty:?}");
    assert_eq!(faulty.faults(), (faulted, faulted, 0), "faulty's (aborts, panics, protocol_errors)");
    assert_eq!((null.panics, null.protocol_errors), (0, 0), "charged to null: {null:?}");
    let served = (TRANSACTIONS - faulted) * BODY as u64;
    assert_eq!(null.bytes_out, served, "null passed every served body whole, and nothing else: {null:?}");

    let logs = host.logs();
    let warnings = logs.lines().filter(|l| l.contains("plugin plugin-faulty: panicked handling event ")).count();
    assert_eq!(warnings as u64, faulted, "one WARN line per faulted transaction");

    assert!(
        rss_end <= rss_warm + RSS_SLACK_KIB,
        "resident memory grew from {rss_warm} KiB (after {WARM}) to {rss_end} KiB (after {TRANSACTIONS})"
    );
}
