//! Every fault of the test-only `faulty` plugin, through the real binary: a chain
//! `null`, `faulty MODE once`, `null` in front of a real origin. The faulted transaction
//! ends as the contract says (an error page, a cut connection, or served when the fault
//! spares the response), a log line names the plugin, the plugin's own counter goes up
//! and no one else's; the next request, on a fresh connection, is served byte-exact
//! through the same chain, and nothing is left live. `panic-init` is refused at start-up.

use std::time::Duration;

use e2e::faults::process::run_to_exit;
use e2e::faults::{Exchange, HoldingOrigin, Outcome};
use e2e::plugins::{write_plugin_config, ScratchDir, SETTLE_TIMEOUT};
use e2e::{assert_same_bytes, pattern, HostBuilder, Origin};
use e2e::{built_plugin, PluginHost};

/// Response bodies: several reads and data events, beyond one buffer's water mark.
const BODY: usize = 256 * 1024;

/// What the client must see of the faulted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// A complete 500 error page, then the connection is closed.
    ErrorPage,
    /// The error page if the head had not gone out yet, else a cut body; closed either way.
    ErrorPageOrCut,
    /// The fault spares the response: 200, byte-exact.
    Served,
}

/// One mode's expectations.
struct Case {
    mode: &'static str,
    client: Client,
    /// Fragments that must all appear in one WARN or ERROR line of the host's log.
    log: Vec<String>,
    /// The faulty plugin's `(aborts, panics, protocol_errors)` after both transactions.
    faults: (u64, u64, u64),
}

fn url(seed: u64) -> String {
    format!("/bytes?n={BODY}&seed={seed}")
}

fn chain(mode: &str) -> Vec<String> {
    let (null, faulty) = (built_plugin("null"), built_plugin("faulty"));
    vec![null.display().to_string(), format!("{} {mode} once", faulty.display()), null.display().to_string()]
}

fn run(case: Case) {
    let origin = Origin::start();
    // Longer than the client's read timeout: a fault the host only noticed when the
    // transaction timed out would fail the test instead of passing late.
    let builder = HostBuilder::new(origin.addr()).opt("--inactivity-timeout-ms", 60_000);
    let host = PluginHost::start(builder, &chain(case.mode));
    let mode = case.mode;

    let first = Exchange::get(host.addr(), &url(1));
    let outcome = first.outcome();
    eprintln!("{mode}: the faulted transaction ended as {outcome:?}, connection closed: {}", first.closed);
    match (case.client, &outcome) {
        (Client::Served, Outcome::Served) => {
            let body = first.response.as_ref().map(|r| r.body.as_slice()).unwrap_or_default();
            assert_same_bytes(body, &pattern(BODY, 1), &format!("{mode}: the spared response"));
        }
        (Client::ErrorPage | Client::ErrorPageOrCut, Outcome::ErrorPage(500)) => {
            assert!(first.closed, "{mode}: the connection stays open after the error page");
        }
        (Client::ErrorPageOrCut, Outcome::Cut { status: 200, got }) => {
            assert!(first.closed, "{mode}: the cut connection was not closed");
            assert!(*got < BODY, "{mode}: cut after {got} bytes, which is the whole body");
            let body = first.response.as_ref().map(|r| r.body.as_slice()).unwrap_or_default();
            assert_same_bytes(body, &pattern(BODY, 1)[..*got], &format!("{mode}: the bytes before the cut"));
        }
        _ => panic!("{mode}: expected {:?}, the transaction ended as {outcome:?}; logs:\n{}", case.client, host.logs()),
    }

    let wanted = |line: &str| {
        (line.contains("WARN") || line.contains("ERROR")) && case.log.iter().all(|f| line.contains(f.as_str()))
    };
    let line = host.wait_for_log(SETTLE_TIMEOUT, wanted);
    assert!(line.is_some(), "{mode}: no WARN/ERROR line with all of {:?}; logs:\n{}", case.log, host.logs());

    let second = Exchange::get(host.addr(), &url(2));
    assert_eq!(second.outcome(), Outcome::Served, "{mode}: the next request, on a fresh connection");
    let body = second.response.as_ref().map(|r| r.body.as_slice()).unwrap_or_default();
    assert_same_bytes(body, &pattern(BODY, 2), &format!("{mode}: the next response"));

    let stats = host.wait_idle();
    let names: Vec<&str> = stats.plugins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["plugin-null", "plugin-faulty", "plugin-null"], "{mode}: plugins in config order");
    let faulty = stats.plugin(1);
    assert_eq!(faulty.faults(), case.faults, "{mode}: faulty's (aborts, panics, protocol_errors): {faulty:?}");
    assert_eq!(faulty.transactions, 2, "{mode}: {faulty:?}");
    assert!(faulty.bytes_out >= BODY as u64, "{mode}: the second body went through faulty: {faulty:?}");
    for null in [stats.plugin(0), stats.plugin(2)] {
        assert_eq!((null.panics, null.protocol_errors), (0, 0), "{mode}: charged to null: {null:?}");
        assert!(null.aborts <= 1, "{mode}: null aborted at most with the faulted chain: {null:?}");
    }
}

fn aborting(what: &str) -> Vec<String> {
    vec![format!("plugin plugin-faulty: {what}"), "; aborting this transaction".into()]
}

#[test]
fn a_panic_in_a_hook_fails_the_transaction_with_a_500() {
    run(Case {
        mode: "panic-hook",
        client: Client::ErrorPage,
        log: vec!["plugin plugin-faulty panicked in read_response_headers: \
                   faulty: panic-hook in read_response_headers, as configured"
            .into()],
        faults: (0, 1, 0),
    });
}

#[test]
fn a_panic_on_data_aborts_the_transaction() {
    run(Case {
        mode: "panic-data",
        client: Client::ErrorPageOrCut,
        log: aborting("panicked handling event ")
            .into_iter()
            .chain(["faulty: panic-data on its first data event, as configured".into()])
            .collect(),
        faults: (1, 1, 0),
    });
}

#[test]
fn a_panic_in_destroy_is_counted_and_spares_the_response() {
    run(Case {
        mode: "panic-destroy",
        client: Client::Served,
        log: vec!["plugin-faulty".into(), "faulty: panic-destroy, as configured".into()],
        faults: (0, 1, 0),
    });
}

#[test]
fn a_transform_that_never_reenables_is_seen_stalled_at_once() {
    run(Case { mode: "never-reenable", client: Client::ErrorPageOrCut, log: aborting("stalled: "), faults: (1, 0, 1) });
}

#[test]
fn write_complete_with_bytes_to_do_aborts_the_transaction() {
    run(Case {
        mode: "early-complete",
        client: Client::ErrorPageOrCut,
        log: aborting("sent WRITE_COMPLETE with bytes still to do (ntodo > 0)"),
        faults: (1, 0, 1),
    });
}

#[test]
fn writing_past_nbytes_aborts_the_transaction() {
    run(Case {
        mode: "past-nbytes",
        client: Client::ErrorPageOrCut,
        log: aborting(&format!("wrote more than the {BODY} bytes it announced")),
        faults: (1, 0, 1),
    });
}

#[test]
fn using_vios_after_close_is_counted_and_spares_the_response() {
    run(Case {
        mode: "use-after-close",
        client: Client::Served,
        log: vec!["transform chain fault: ".into(), " after it was closed".into(), "plugin=plugin-faulty".into()],
        faults: (0, 0, 1),
    });
}

#[test]
fn a_transform_sitting_on_input_while_the_origin_holds_is_named_at_the_inactivity_timeout() {
    // Part of the body, then nothing: the chain's input stays open, so only the
    // transaction's inactivity timeout can end it, and it must name the plugin holding
    // the bytes rather than blame the origin.
    const SENT: usize = 16 * 1024;
    let origin = HoldingOrigin::start(BODY, SENT, 3);
    let builder = HostBuilder::new(origin.addr()).opt("--inactivity-timeout-ms", 500);
    let host = PluginHost::start(builder, &chain("never-reenable"));

    let first = Exchange::get(host.addr(), "/held");
    let outcome = first.outcome();
    eprintln!("held: the transaction ended as {outcome:?}, connection closed: {}", first.closed);
    let cut = matches!(outcome, Outcome::Cut { status: 200, got: 0 });
    assert!(outcome == Outcome::ErrorPage(500) || cut, "ended as {outcome:?}; logs:\n{}", host.logs());
    assert!(first.closed, "the connection stays open after the fault");
    let wanted = aborting("stopped making progress (inactivity timeout)");
    let line =
        host.wait_for_log(SETTLE_TIMEOUT, |l| l.contains("WARN") && wanted.iter().all(|f| l.contains(f.as_str())));
    assert!(line.is_some(), "no WARN line with all of {wanted:?}; logs:\n{}", host.logs());
    assert!(!host.logs().contains("transaction inactivity timeout"), "the origin was blamed:\n{}", host.logs());

    let stats = host.wait_idle();
    assert_eq!(stats.plugin(1).faults(), (1, 0, 1), "faulty's (aborts, panics, protocol_errors): {stats:?}");
    for null in [stats.plugin(0), stats.plugin(2)] {
        assert_eq!((null.panics, null.protocol_errors), (0, 0), "charged to null: {null:?}");
    }
}

/// The refusal line of a plugin whose init panics, at `config:line`.
fn panic_init_refusal(config: &std::path::Path, line: usize) -> String {
    format!(
        "{}:{line}: plugin {}: init panicked (faulty: panic-init, as configured) with arguments \
         [\"panic-init\"]; fix the plugin",
        config.display(),
        built_plugin("faulty").display()
    )
}

#[test]
fn a_panic_in_init_keeps_the_host_from_starting() {
    let origin = Origin::start();
    let scratch = ScratchDir::new("panic-init");
    let lines =
        [built_plugin("null").display().to_string(), format!("{} panic-init", built_plugin("faulty").display())];
    let config = write_plugin_config(scratch.path(), &lines);
    let config_arg = config.display().to_string();
    let origin_arg = origin.addr().to_string();
    let runtime = scratch.path().display().to_string();
    let expected = panic_init_refusal(&config, 2);

    let args = ["run", "--listen", "127.0.0.1:0", "--origin", &origin_arg, "--config", &config_arg];
    let run = run_to_exit(&[&args[..], &["--runtime-dir", &runtime]].concat(), Duration::from_secs(20));
    assert!(run.status.is_some(), "run with a panicking init is still running: {run:?}");
    assert!(!run.success(), "run with a panicking init exited 0: {run:?}");
    assert!(!run.stdout.contains("listening on"), "it started serving: {run:?}");
    // Other lines may come and go (the plugin's panic message from its panic hook, logs):
    // the refusals are the lines that start with the config path.
    let refusals = |stderr: &str| -> Vec<String> {
        stderr.lines().map(str::trim).filter(|l| l.starts_with(&format!("{config_arg}:"))).map(String::from).collect()
    };
    assert_eq!(
        refusals(&run.stderr),
        std::slice::from_ref(&expected),
        "one line for the one refusal; stderr:\n{}",
        run.stderr
    );

    let check = run_to_exit(&["check", "--config", &config_arg, "--runtime-dir", &runtime], Duration::from_secs(20));
    assert_eq!(check.code(), Some(1), "{check:?}");
    assert_eq!(refusals(&check.stderr), [expected], "stderr:\n{}", check.stderr);
    assert!(check.stdout.is_empty(), "check printed on stdout: {check:?}");
    assert_eq!(origin.accepted(), 0, "a host that refused to start reached the origin");
}
