//! A plugin written in C (`examples/c-null`, against `plugin-sdk/include/plugin_host.h`)
//! through the real binary: `check` accepts it, its init refuses bad arguments in its own
//! words, it serves and is counted under its own name. A C plugin carries no abi_stable
//! layout, so the host checks it by ABI version and sizes only: the descriptors edited
//! here show those checks still refuse what is wrong. (The byte-exact chain tests of the
//! C null are in `transform_bodies.rs`, beside the Rust null's.)

use std::path::Path;
use std::time::Duration;

use e2e::c_plugins::{c_null, c_null_edited};
use e2e::faults::process::{run_to_exit, Finished};
use e2e::faults::{Exchange, Outcome};
use e2e::plugins::{write_plugin_config, ScratchDir};
use e2e::{assert_same_bytes, pattern, HostBuilder, Origin, PluginHost};

const EXIT_WITHIN: Duration = Duration::from_secs(30);

fn check(lines: &[String]) -> (Finished, std::path::PathBuf, ScratchDir) {
    let scratch = ScratchDir::new("c-check");
    let config = write_plugin_config(scratch.path(), lines);
    let (c, rt) = (config.display().to_string(), scratch.path().display().to_string());
    (run_to_exit(&["check", "--config", &c, "--runtime-dir", &rt], EXIT_WITHIN), config, scratch)
}

fn refusal(config: &Path, line: usize, so: &Path, what: &str) -> String {
    format!("{}:{line}: plugin {}: {what}", config.display(), so.display())
}

#[test]
fn check_accepts_the_c_null_and_reports_its_own_refusal_of_arguments() {
    let so = c_null();
    let (out, config, _s) = check(&[so.display().to_string(), format!("{} sideways", so.display())]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    let want = refusal(
        &config,
        2,
        &so,
        "init refused its arguments [\"sideways\"]: unknown argument: c-null takes no arguments \
         (both directions), `request` or `response`",
    );
    assert!(out.stderr.lines().any(|l| l.trim() == want), "want {want:?}; stderr:\n{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 2, "one refusal and the summary; stderr:\n{}", out.stderr);

    let (out, config, _s) = check(&[format!("{} response", so.display())]);
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout, format!("{}: ok, 1 plugin(s)\n", config.display()));
}

#[test]
fn the_c_null_serves_and_is_counted_under_its_name() {
    const BODY: usize = 300 * 1024;
    let origin = Origin::start();
    let host = PluginHost::start(HostBuilder::new(origin.addr()), &[c_null().display().to_string()]);
    let served = Exchange::get(host.addr(), &format!("/bytes?n={BODY}&seed=3"));
    assert_eq!(served.outcome(), Outcome::Served);
    let body = served.response.as_ref().map(|r| r.body.as_slice()).unwrap_or_default();
    assert_same_bytes(body, &pattern(BODY, 3), "through the C null");
    let stats = host.wait_idle();
    let p = stats.plugin(0);
    assert_eq!(p.name, "c-null");
    assert_eq!((p.transactions, p.bytes_in, p.bytes_out), (1, BODY as u64, BODY as u64));
    assert_eq!(p.faults(), (0, 0, 0));
}

#[test]
fn without_a_layout_versions_and_sizes_still_refuse_a_wrong_c_descriptor() {
    let short =
        c_null_edited("c_short_table", (".size = sizeof(PH_PluginTable),", ".size = sizeof(PH_PluginTable) - 8,"));
    let newer = c_null_edited("c_minor_9", (".abi_minor = PH_ABI_MINOR,", ".abi_minor = 9,"));
    let small = c_null_edited("c_small_descriptor", (".size = sizeof(PH_PluginModule),", ".size = 16,"));
    let lines = [&short, &newer, &small].map(|so| so.display().to_string());
    let (out, config, _s) = check(&lines);
    assert_eq!(out.code(), Some(1), "{out:?}");
    let table = std::mem::size_of::<plugin_sdk::ffi::PluginTable>();
    let descriptor = std::mem::size_of::<plugin_sdk::ffi::PluginModule>();
    let want = [
        refusal(
            &config,
            1,
            &short,
            &format!(
                "its entry table is {} bytes, ABI 1.3 has {table}; rebuild it against this host's plugin-sdk",
                table - 8
            ),
        ),
        refusal(
            &config,
            2,
            &newer,
            "built against plugin-sdk ABI 1.9, newer than this host's 1.3; upgrade the host, or rebuild the plugin \
             against this host's plugin-sdk",
        ),
        refusal(
            &config,
            3,
            &small,
            &format!(
                "its descriptor is 16 bytes, ABI 1.3 needs {descriptor}; rebuild it against this host's plugin-sdk"
            ),
        ),
    ];
    let got: Vec<&str> =
        out.stderr.lines().map(str::trim).filter(|l| l.starts_with(&*config.to_string_lossy())).collect();
    assert_eq!(got, want, "stderr:\n{}", out.stderr);
}
