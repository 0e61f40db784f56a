//! Containment of plugins that loop, spin, are slow, or outlive their handles, through
//! the real binary with two workers: a chain `null`, `faulty MODE`, `null`. For each mode
//! a WARN line names the plugin, a counter in /stats goes up, new connections are still
//! served (by the other worker when one is stuck), and SIGTERM ends the process within
//! the drain deadline. For the endless loops, the host also exits non-zero at the
//! watchdog's second limit with a message saying why.

use std::thread;
use std::time::{Duration, Instant};

use e2e::admin::Stats;
use e2e::faults::{Exchange, Outcome};
use e2e::plugins::SETTLE_TIMEOUT;
use e2e::{assert_same_bytes, built_plugin, get_request, pattern, HostBuilder, Origin, PluginHost, RawConn};

/// Response bodies: several data events, beyond one buffer's water mark.
const BODY: usize = 256 * 1024;
/// `--drain-timeout-ms` in these tests.
const DRAIN_MS: u64 = 1_000;
/// Time past the drain timeout the process may take to be gone: the watchdog's grace
/// (500 ms), its tick, and a loaded machine's scheduling.
const EXIT_SLACK: Duration = Duration::from_secs(5);
/// `plugin-host`'s exit status when a callback ran past `--watchdog-exit-ms`.
const EXIT_STUCK: i32 = 70;
/// `plugin-host`'s exit status when the drain deadline passed with a worker still busy.
const EXIT_DRAIN: i32 = 75;

fn url(seed: u64) -> String {
    format!("/bytes?n={BODY}&seed={seed}")
}

fn chain(mode: &str) -> Vec<String> {
    let (null, faulty) = (built_plugin("null"), built_plugin("faulty"));
    vec![null.display().to_string(), format!("{} {mode}", faulty.display()), null.display().to_string()]
}

/// Starts the host for `mode` with extra options.
fn start(origin: &Origin, mode: &str, opts: &[(&str, u64)]) -> PluginHost {
    let mut builder = HostBuilder::new(origin.addr()).threads(2).opt("--drain-timeout-ms", DRAIN_MS);
    for (name, value) in opts {
        builder = builder.opt(name, value);
    }
    PluginHost::start(builder, &chain(mode))
}

/// Waits for a WARN line holding every fragment; fails with the logs if none comes.
fn warn_line(host: &PluginHost, fragments: &[&str]) -> String {
    let wanted = |l: &str| l.contains("WARN") && fragments.iter().all(|f| l.contains(f));
    host.wait_for_log(SETTLE_TIMEOUT, wanted)
        .unwrap_or_else(|| panic!("no WARN line with all of {fragments:?}; logs:\n{}", host.logs()))
}

/// `n` requests on fresh connections, each served byte-exact.
fn served(host: &PluginHost, n: u64, what: &str) {
    for seed in 100..100 + n {
        let ex = Exchange::get(host.addr(), &url(seed));
        assert_eq!(ex.outcome(), Outcome::Served, "{what}: request {seed}; logs:\n{}", host.logs());
        let body = ex.response.as_ref().map(|r| r.body.as_slice()).unwrap_or_default();
        assert_same_bytes(body, &pattern(BODY, seed), &format!("{what}: response {seed}"));
    }
}

/// The faulty plugin's counters once `done` holds.
fn stats_when(host: &PluginHost, done: impl Fn(&Stats) -> bool) -> Stats {
    host.wait_for_stats(SETTLE_TIMEOUT, done)
}

/// SIGTERM, then the process must be gone within the drain deadline; returns its exit code.
fn sigterm_exits_in_time(host: &mut PluginHost) -> Option<i32> {
    let sent = Instant::now();
    host.sigterm();
    let status = host.wait_exit(Duration::from_millis(DRAIN_MS) + EXIT_SLACK);
    eprintln!("exited {:?} after SIGTERM, in {:?}", status.code(), sent.elapsed());
    status.code()
}

/// The faulted request, sent from its own thread since it may never be answered.
fn send_in_background(host: &PluginHost, target: String) -> thread::JoinHandle<Exchange> {
    let addr = host.addr();
    thread::spawn(move || Exchange::get(addr, &target))
}

/// A callback that never returns: WARN naming plugin and callback, the stuck counter,
/// others served, and SIGTERM ending the process at the drain deadline (non-zero: a
/// worker never came back).
fn endless(mode: &str, callback: &str) {
    let origin = Origin::start();
    let mut host =
        start(&origin, &format!("{mode} once"), &[("--watchdog-warn-ms", 300), ("--watchdog-exit-ms", 600_000)]);
    let _stuck = send_in_background(&host, url(1));
    let line = warn_line(
        &host,
        &[&format!("plugin plugin-faulty has been inside its {callback} for "), "stops taking new connections"],
    );
    eprintln!("{mode}: {line}");
    let stats = stats_when(&host, |s| s.stuck_callbacks.get("plugin-faulty").is_some_and(|n| *n >= 1));
    assert_eq!(stats.stuck_callbacks.get("plugin-faulty"), Some(&1), "{mode}: {stats:?}");
    served(&host, 6, mode);
    assert_eq!(sigterm_exits_in_time(&mut host), Some(EXIT_DRAIN), "{mode}: logs:\n{}", host.logs());
    let logs = host.logs();
    assert!(
        logs.contains("the drain timeout") && logs.contains(&format!("is inside plugin plugin-faulty's {callback}")),
        "{mode}: no drain-deadline message naming the plugin:\n{logs}"
    );
}

/// The second limit: the host exits by itself, non-zero, saying why.
fn endless_exits(mode: &str, callback: &str) {
    let origin = Origin::start();
    let mut host =
        start(&origin, &format!("{mode} once"), &[("--watchdog-warn-ms", 200), ("--watchdog-exit-ms", 1_500)]);
    let _stuck = send_in_background(&host, url(1));
    warn_line(&host, &["plugin plugin-faulty has been inside its "]);
    served(&host, 2, mode);
    let status = host.wait_exit(SETTLE_TIMEOUT);
    assert_eq!(status.code(), Some(EXIT_STUCK), "{mode}: logs:\n{}", host.logs());
    let want = format!("plugin plugin-faulty has been inside its {callback} for ");
    let logs = host.logs();
    let line = logs
        .lines()
        .find(|l| l.contains(&want) && l.contains("(limit 1500 ms)"))
        .unwrap_or_else(|| panic!("{mode}: no message at the second limit naming the plugin and callback:\n{logs}"));
    assert!(line.contains("cannot be recovered in-process: exiting for the supervisor to restart the host"), "{line}");
}

#[test]
fn an_endless_loop_in_a_hook_is_named_its_worker_stops_accepting_and_sigterm_still_exits() {
    endless("loop-hook", "read_response_headers");
}

#[test]
fn an_endless_loop_in_a_hook_ends_the_process_at_the_second_limit() {
    endless_exits("loop-hook", "read_response_headers");
}

#[test]
fn an_endless_loop_in_a_data_event_is_named_its_worker_stops_accepting_and_sigterm_still_exits() {
    endless("loop-data", "a transform event");
}

#[test]
fn an_endless_loop_in_a_data_event_ends_the_process_at_the_second_limit() {
    endless_exits("loop-data", "a transform event");
}

#[test]
fn slow_callbacks_are_flagged_and_the_worker_still_serves_between_them() {
    // Every callback of the first transaction takes 25 ms: past a 20 ms first limit.
    let origin = Origin::start();
    let mut host = start(&origin, "slow-events once", &[("--watchdog-warn-ms", 20), ("--watchdog-exit-ms", 600_000)]);
    let slow = send_in_background(&host, url(1));
    warn_line(&host, &["plugin plugin-faulty has been inside its a transform event for ", "(limit 20 ms)"]);
    served(&host, 4, "slow-events");
    let slow = slow.join().expect("the slow exchange");
    assert_eq!(slow.outcome(), Outcome::Served, "slow is not a fault; logs:\n{}", host.logs());
    let body = slow.response.as_ref().map(|r| r.body.as_slice()).unwrap_or_default();
    assert_same_bytes(body, &pattern(BODY, 1), "the slow response");
    // Back from its callbacks, the flagged worker listens again: every new connection,
    // whichever listener the kernel picks, is served.
    served(&host, 12, "slow-events, after the slow transaction");
    let stats = stats_when(&host, |s| s.stuck_callbacks.get("plugin-faulty").is_some_and(|n| *n >= 1));
    assert_eq!(stats.plugin(1).faults(), (0, 0, 0), "slow is counted by the watchdog only: {stats:?}");
    assert_eq!(sigterm_exits_in_time(&mut host), Some(0), "logs:\n{}", host.logs());
}

/// A transform that spins without moving bytes: faulted at the inactivity timeout, charged
/// to it, while both workers keep serving.
fn spinning(mode: &str, target: String) {
    let origin = Origin::start();
    let mut host = start(&origin, &format!("{mode} once"), &[("--inactivity-timeout-ms", 1_000)]);
    let faulted = send_in_background(&host, target);
    let line = warn_line(&host, &["plugin plugin-faulty: kept rescheduling itself for ", "without moving a byte"]);
    eprintln!("{mode}: {line}");
    served(&host, 6, mode);
    let faulted = faulted.join().expect("the faulted exchange");
    let outcome = faulted.outcome();
    let ok = outcome == Outcome::ErrorPage(500) || matches!(outcome, Outcome::Cut { status: 200, .. });
    assert!(ok && faulted.closed, "{mode}: ended as {outcome:?}; logs:\n{}", host.logs());
    assert!(!host.logs().contains("transaction inactivity timeout"), "{mode}: the origin was blamed:\n{}", host.logs());
    let stats = host.wait_idle();
    assert_eq!(stats.plugin(1).faults(), (1, 0, 1), "{mode}: faulty's (aborts, panics, protocol_errors): {stats:?}");
    for null in [stats.plugin(0), stats.plugin(2)] {
        assert_eq!((null.panics, null.protocol_errors), (0, 0), "{mode}: charged to null: {null:?}");
    }
    assert_eq!(sigterm_exits_in_time(&mut host), Some(0), "{mode}: logs:\n{}", host.logs());
}

#[test]
fn reenabling_its_own_input_without_moving_data_is_a_fault_of_the_plugin() {
    spinning("reenable-self", url(1));
}

#[test]
fn reenabling_its_own_input_while_moving_data_is_a_fault_once_the_bytes_stop() {
    // The origin sends a tenth of the body, then pauses 3 s: the transform spins meanwhile.
    spinning("reenable-self-moving", format!("/slow?n={BODY}&seed=1&delay_ms=30000"));
}

#[test]
fn a_handle_kept_from_an_earlier_transaction_is_refused_naming_the_plugin() {
    let origin = Origin::start();
    let mut host = start(&origin, "stash-handle", &[]);
    // The first transaction keeps its input VIO's handle in a static: served.
    let first = Exchange::get(host.addr(), &url(1));
    assert_eq!(first.outcome(), Outcome::Served, "logs:\n{}", host.logs());
    // The second uses it: refused, whichever worker it ran on, and its transaction fails.
    let second = Exchange::get(host.addr(), &url(2));
    let outcome = second.outcome();
    let ok = outcome == Outcome::ErrorPage(500) || matches!(outcome, Outcome::Cut { status: 200, .. });
    assert!(ok && second.closed, "ended as {outcome:?}; logs:\n{}", host.logs());
    warn_line(
        &host,
        &["plugin plugin-faulty: used a VIO handle (0x", ") of another transaction", "; aborting this transaction"],
    );
    // The third keeps a handle again: served.
    served(&host, 1, "stash-handle");
    let stats = host.wait_idle();
    assert_eq!(stats.plugin(1).faults(), (1, 0, 1), "faulty's (aborts, panics, protocol_errors): {stats:?}");
    assert_eq!(sigterm_exits_in_time(&mut host), Some(0), "logs:\n{}", host.logs());
}

#[test]
fn reads_and_appends_after_close_are_flagged_and_spare_the_response() {
    let origin = Origin::start();
    let mut host = start(&origin, "io-after-close", &[]);
    served(&host, 3, "io-after-close");
    warn_line(&host, &["transform chain fault: appended to an IO buffer after it was closed", "plugin=plugin-faulty"]);
    let stats = stats_when(&host, |s| s.plugin(1).protocol_errors >= 3 && s.is_idle());
    assert_eq!(stats.plugin(1).faults(), (0, 0, 3), "one per transaction: {stats:?}");
    assert_eq!(sigterm_exits_in_time(&mut host), Some(0), "logs:\n{}", host.logs());
}

#[test]
fn a_timeout_caused_by_a_worker_held_in_a_plugin_names_the_plugin_not_the_origin() {
    // One worker. A: its first body bytes come after 1 s, and the transform then holds
    // the worker for 1.5 s. B: a body arriving every 300 ms, which alone never idles for
    // the 1 s inactivity timeout; it starts before A's block, so the block idles it.
    let origin = Origin::start();
    let builder = HostBuilder::new(origin.addr())
        .threads(1)
        .opt("--inactivity-timeout-ms", 1_000)
        .opt("--drain-timeout-ms", DRAIN_MS);
    let mut host = PluginHost::start(builder, &chain("block once"));
    let mut a = RawConn::connect(host.addr());
    a.send(&get_request(&format!("/slow?n={BODY}&seed=1&delay_ms=10000"))).expect("send A");
    let head = a.read_response_head().expect("A's head, before its body (A is the first transaction)");
    assert_eq!(head.status, 200);
    let mut b = RawConn::connect(host.addr());
    b.send(&get_request(&format!("/slow?n={BODY}&seed=2&delay_ms=3000"))).expect("send B");
    let head = b.read_response_head().expect("B's head");
    assert_eq!(head.status, 200, "logs:\n{}", host.logs());
    let b = b.read_response_body(head, false);
    assert!(!b.complete, "B was served whole although its worker was held for 1.5 s; logs:\n{}", host.logs());
    warn_line(
        &host,
        &["plugin plugin-faulty: held this worker for ", " ms in its a transform event", "(inactivity timeout)"],
    );
    assert!(!host.logs().contains("transaction inactivity timeout"), "the origin was blamed:\n{}", host.logs());
    drop(a);
    assert_eq!(sigterm_exits_in_time(&mut host), Some(0), "logs:\n{}", host.logs());
}
