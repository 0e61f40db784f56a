//! ABI refusals end to end: plugins built against a patched `plugin-sdk` (another ABI
//! major, a newer minor, `panic = "abort"`) are each refused by `plugin-host check` with
//! their exact one-line message, and `plugin-host run` with any of them exits non-zero
//! without serving; a plugin of an older minor (1.0) passes `check`, loads and serves.
//!
//! The first run builds the fixture plugins (see `e2e::faults::abi`); later runs, and the
//! host's own loader tests, reuse them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::faults::process::{run_to_exit, Finished};
use e2e::faults::{abi, Exchange, Outcome};
use e2e::plugins::{write_plugin_config, ScratchDir, SETTLE_TIMEOUT};
use e2e::PluginHost;
use e2e::{assert_same_bytes, pattern, HostBuilder, Origin};

/// Bound on one `check` or refused `run`: loading a few plugins takes well under a second.
const EXIT_WITHIN: Duration = Duration::from_secs(30);

fn check(config: &Path, scratch: &ScratchDir) -> Finished {
    let (config, runtime) = (config.display().to_string(), scratch.path().display().to_string());
    run_to_exit(&["check", "--config", &config, "--runtime-dir", &runtime], EXIT_WITHIN)
}

/// The lines of `stderr` that start with `config:`: refusals name their config line first.
fn refusals(stderr: &str, config: &Path) -> Vec<String> {
    let prefix = format!("{}:", config.display());
    stderr.lines().map(str::trim).filter(|l| l.starts_with(&prefix)).map(String::from).collect()
}

/// The refusal of `so` on `config:line` for each kind of ABI mismatch.
fn major_refusal(config: &Path, line: usize, so: &Path) -> String {
    format!(
        "{}:{line}: plugin {}: built against plugin-sdk ABI 2.3, this host speaks 1.3; \
         rebuild it against this host's plugin-sdk",
        config.display(),
        so.display()
    )
}

fn minor_refusal(config: &Path, line: usize, so: &Path) -> String {
    format!(
        "{}:{line}: plugin {}: built against plugin-sdk ABI 1.4, newer than this host's 1.3; \
         upgrade the host, or rebuild the plugin against this host's plugin-sdk",
        config.display(),
        so.display()
    )
}

fn abort_refusal(config: &Path, line: usize, so: &Path) -> String {
    format!(
        "{}:{line}: plugin {}: built with panic = \"abort\", so a panic in it would kill the whole proxy; \
         rebuild it with panic = \"unwind\" (the default)",
        config.display(),
        so.display()
    )
}

type Refusal = fn(&Path, usize, &Path) -> String;

/// The three refused fixtures with their refusal messages.
fn refused() -> [(PathBuf, Refusal); 3] {
    [(abi::major_2(), major_refusal), (abi::minor_4(), minor_refusal), (abi::panic_abort(), abort_refusal)]
}

#[test]
fn check_lists_every_abi_refusal_on_one_line_and_exits_1() {
    let fixtures = refused();
    let scratch = ScratchDir::new("abi-check");
    let mut lines = vec!["# plugins built against another plugin-sdk".to_string()];
    lines.extend(fixtures.iter().map(|(so, _)| so.display().to_string()));
    let config = write_plugin_config(scratch.path(), &lines);

    let out = check(&config, &scratch);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "check printed on stdout: {out:?}");
    let expected: Vec<String> =
        fixtures.iter().enumerate().map(|(i, (so, refusal))| refusal(&config, i + 2, so)).collect();
    let got = refusals(&out.stderr, &config);
    for (got, want) in got.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    assert_eq!(got.len(), expected.len(), "one line per refusal; stderr:\n{}", out.stderr);
    // Nothing else but the summary, last.
    let summary = format!("plugin-host: {}: 3 error(s)", config.display());
    assert_eq!(out.stderr.lines().last(), Some(summary.as_str()), "stderr:\n{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 4, "stderr:\n{}", out.stderr);
}

#[test]
fn run_with_any_refused_plugin_exits_non_zero_without_serving() {
    let origin = Origin::start();
    let origin_arg = origin.addr().to_string();
    for (so, refusal) in refused() {
        let scratch = ScratchDir::new("abi-run");
        let config = write_plugin_config(scratch.path(), &[so.display().to_string()]);
        let (config_arg, runtime) = (config.display().to_string(), scratch.path().display().to_string());
        let args = ["run", "--listen", "127.0.0.1:0", "--origin", &origin_arg, "--config", &config_arg];
        let out = run_to_exit(&[&args[..], &["--runtime-dir", &runtime]].concat(), EXIT_WITHIN);
        assert!(out.status.is_some(), "{}: still running, i.e. serving: {out:?}", so.display());
        assert!(!out.success(), "{}: exited 0: {out:?}", so.display());
        assert!(!out.stdout.contains("listening on"), "{}: it started listening: {out:?}", so.display());
        assert_eq!(refusals(&out.stderr, &config), [refusal(&config, 1, &so)], "stderr:\n{}", out.stderr);
    }
    assert_eq!(origin.accepted(), 0, "a host that refused to start reached the origin");
}

#[test]
fn plugins_of_older_minors_pass_check_load_and_serve() {
    // 1.2 and 1.1 as released (plugins built before SDK 1.3 and 1.2), and 1.0.
    let older = [
        (abi::minor_2(), "abi-fixture-minor-2"),
        (abi::minor_1(), "abi-fixture-minor-1"),
        (abi::minor_0(), "abi-fixture-minor-0"),
    ];
    for (so, name) in older {
        older_minor_serves(&so, name);
    }
}

fn older_minor_serves(so: &Path, name: &str) {
    const BODY: usize = 256 * 1024;
    let scratch = ScratchDir::new(name);
    let config = write_plugin_config(scratch.path(), &[so.display().to_string()]);
    let out = check(&config, &scratch);
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout, format!("{}: ok, 1 plugin(s)\n", config.display()));

    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &[so.display().to_string()]);
    let served = Exchange::get(host.addr(), &format!("/bytes?n={BODY}&seed=10"));
    assert_eq!(served.outcome(), Outcome::Served);
    let body = served.response.as_ref().map(|r| r.body.as_slice()).unwrap_or_default();
    assert_same_bytes(body, &pattern(BODY, 10), name);
    let stats = host.wait_idle();
    let plugin = stats.plugin(0);
    assert_eq!(plugin.name, name);
    assert_eq!((plugin.transactions, plugin.bytes_in, plugin.bytes_out), (1, BODY as u64, BODY as u64));
    assert_eq!(plugin.faults(), (0, 0, 0));
}

#[test]
fn a_panic_in_an_older_minor_plugin_is_caught_without_its_message() {
    // ABI 1.0 has no panic_message entry: the host still catches, counts and names it.
    let so = abi::minor_0();
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &[format!("{} panic-hook", so.display())]);
    let failed = Exchange::get(host.addr(), "/bytes?n=1000&seed=11");
    assert_eq!(failed.outcome(), Outcome::ErrorPage(500));
    assert!(failed.closed, "the connection stays open after the error page");
    let line = host.wait_for_log(SETTLE_TIMEOUT, |l| {
        l.contains("WARN") && l.contains("plugin abi-fixture-minor-0 panicked in read_response_headers")
    });
    assert!(line.is_some(), "no WARN line naming the plugin; logs:\n{}", host.logs());
    let stats = host.wait_idle();
    assert_eq!(stats.plugin(0).faults(), (0, 1, 0), "{stats:?}");
}
