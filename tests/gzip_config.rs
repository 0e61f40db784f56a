//! The gzip plugin's config file through `plugin-host check`: a good file passes, and each
//! kind of mistake is refused with the config file's line named and the fix said.

use std::time::Duration;

use e2e::faults::process::run_to_exit;
use e2e::gzip::gzip_line;
use e2e::plugins::{write_plugin_config, ScratchDir};

/// Runs `plugin-host check` on a plugin.config loading gzip with `config` as its file.
fn check(config: &str) -> (bool, String) {
    let dir = ScratchDir::new("gzip-check");
    let path = dir.path().join("compress.config");
    std::fs::write(&path, config).expect("write compress.config");
    let plugin_config = write_plugin_config(dir.path(), &[gzip_line(Some(&path))]);
    let runtime = dir.path().join("runtime");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let done = run_to_exit(
        &["check", "--config", &plugin_config.display().to_string(), "--runtime-dir", &runtime.display().to_string()],
        Duration::from_secs(30),
    );
    let ok = done.status.is_some_and(|s| s.success());
    (ok, format!("{}{}", done.stdout, done.stderr).replace(&format!("{}/", dir.path().display()), ""))
}

#[test]
fn a_good_config_passes_check() {
    let (ok, out) = check("enabled true\nsupported-algorithms br,gzip\n[a.test]\nflush true\n");
    assert!(ok, "{out}");
    assert!(out.contains("ok, 1 plugin(s)"), "{out}");
}

#[test]
fn each_mistake_is_refused_with_its_line() {
    let cases = [
        ("enabled yes\n", "compress.config:1: enabled: \"yes\" is not a boolean; write true or false"),
        (
            "# comment\nflush true\ncompresible-content-type text/*\n",
            "compress.config:3: unknown key \"compresible-content-type\"",
        ),
        ("gzip-level 0\n", "compress.config:1: gzip-level: \"0\" is not a whole number from 1 to 9"),
        ("\n\nsupported-algorithms gzip,lz4\n", "compress.config:3: supported-algorithms: unknown algorithm \"lz4\""),
        ("range-request maybe\n", "compress.config:1: range-request: unknown value \"maybe\""),
        (
            "compressible-status-code 200,2000\n",
            "compress.config:1: compressible-status-code: \"2000\" is not a status code",
        ),
        ("minimum-content-length\n", "compress.config:1: minimum-content-length needs a value"),
        ("[a.test]\n[a.test]\n", "compress.config:2: section [a.test] repeats the one at line 1"),
    ];
    for (config, want) in cases {
        let (ok, out) = check(config);
        assert!(!ok, "check accepted {config:?}:\n{out}");
        assert!(out.contains(want), "{config:?}: want {want:?} in:\n{out}");
        assert!(out.contains("plugin.config:1"), "the plugin.config line is named too:\n{out}");
    }
}

#[test]
fn a_missing_config_file_is_refused() {
    let dir = ScratchDir::new("gzip-missing");
    let missing = dir.path().join("nope.config");
    let plugin_config = write_plugin_config(dir.path(), &[gzip_line(Some(&missing))]);
    let runtime = dir.path().join("runtime");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let done = run_to_exit(
        &["check", "--config", &plugin_config.display().to_string(), "--runtime-dir", &runtime.display().to_string()],
        Duration::from_secs(30),
    );
    assert!(!done.status.is_some_and(|s| s.success()), "{done:?}");
    assert!(done.stderr.contains("nope.config: cannot read the gzip config file"), "{}", done.stderr);
}
