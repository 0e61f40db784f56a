//! A plugin rebuilt and copied over the same path is loaded fresh on the next start: the
//! host must not run a stale copy of the old code (dlopen caches by path and inode, and a
//! copy over an existing file keeps its inode).
//!
//! The test writes a tiny plugin crate, builds it with cargo into its own target folder
//! (`<workspace>/target/e2e-plugins`, so the SDK's dependencies are built once and reused,
//! and never the workspace's own target folder, whose lock the outer `cargo test` holds),
//! and copies the `.so` to the same `<tmp>/marker.so` for builds A and B.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e::plugins::{workspace_dir, write_plugin_config, ScratchDir};
use e2e::{get_request, HostBuilder, Origin, RawConn};

/// Time the host gets to exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

const MANIFEST: &str = r#"[package]
name = "e2e-marker-plugin"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
plugin-sdk = { path = "SDK_PATH" }

# Not part of any enclosing workspace.
[workspace]
"#;

const SOURCE: &str = r#"//! Marks every response with the build it came from.
use plugin_sdk::{declare_plugin, Plugin, Txn};

pub struct Marker;

impl Plugin for Marker {
    fn init(_args: &[String]) -> Result<Self, String> {
        Ok(Marker)
    }

    fn send_response_headers(&self, txn: &mut Txn<'_>) {
        txn.response().set("X-Plugin-Build", "BUILD");
    }
}

declare_plugin!(Marker);
"#;

/// Writes the marker crate for `build` into `dir` (sources only change in the marker).
fn write_crate(dir: &Path, build: &str) {
    let sdk = workspace_dir().join("plugin-sdk");
    let sdk = sdk.to_str().unwrap_or_else(|| panic!("SDK path {} is not UTF-8", sdk.display()));
    std::fs::create_dir_all(dir.join("src")).expect("create the crate's src/");
    std::fs::write(dir.join("Cargo.toml"), MANIFEST.replace("SDK_PATH", &sdk.replace('\\', "\\\\")))
        .expect("write Cargo.toml");
    std::fs::write(dir.join("src/lib.rs"), SOURCE.replace("BUILD", build)).expect("write src/lib.rs");
    // The workspace's lock file pins the SDK's dependencies to the versions already built
    // and downloaded, so the build needs no registry and reuses the cache.
    let lock = workspace_dir().join("Cargo.lock");
    if lock.is_file() {
        std::fs::copy(&lock, dir.join("Cargo.lock")).expect("copy Cargo.lock");
    }
}

/// Builds the crate in `dir` and returns the built `.so`.
fn build_crate(dir: &Path) -> PathBuf {
    let target = workspace_dir().join("target/e2e-plugins");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        // Whatever the outer cargo set for this test process is not for this build.
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", PathBuf::from(&cargo).display()));
    assert!(
        out.status.success(),
        "building the marker plugin failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let so = target.join("debug/libe2e_marker_plugin.so");
    assert!(so.is_file(), "cargo succeeded but {} is missing", so.display());
    so
}

/// Starts a host on `config`, asks for one response, and returns its `X-Plugin-Build`.
fn build_marker_seen(origin: &Origin, config: &Path) -> Option<String> {
    let mut host = HostBuilder::new(origin.addr()).opt("--config", config.display()).start();
    let mut conn = RawConn::connect(host.addr());
    conn.send(&get_request("/bytes?n=100&seed=3")).expect("send");
    let resp = conn.read_response(false).unwrap_or_else(|e| panic!("response: {e}; logs:\n{}", host.logs()));
    assert_eq!(resp.status, 200, "logs:\n{}", host.logs());
    assert!(resp.complete, "{:?}", resp.body_error);
    let marker = resp.header("x-plugin-build").map(str::to_string);
    drop(conn);
    host.sigterm();
    host.wait_exit(EXIT_TIMEOUT);
    marker
}

#[test]
fn rebuilt_plugin_copied_over_the_same_path_is_loaded_fresh() {
    let src = ScratchDir::new("marker-src");
    let run = ScratchDir::new("marker-run");
    let installed = run.path().join("marker.so");
    // A relative path: resolved against the config's folder.
    let config = write_plugin_config(run.path(), &["marker.so".to_string()]);
    let origin = Origin::start();

    for build in ["A", "B"] {
        write_crate(src.path(), build);
        let so = build_crate(src.path());
        // fs::copy truncates and rewrites an existing file: same path, same inode.
        std::fs::copy(&so, &installed).unwrap_or_else(|e| panic!("copy to {}: {e}", installed.display()));
        let seen = build_marker_seen(&origin, &config);
        assert_eq!(seen.as_deref(), Some(build), "X-Plugin-Build after installing build {build}");
    }
}
