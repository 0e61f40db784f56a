//! Plugins in the end-to-end tests: where the built workspace plugins are, writing a
//! `plugin.config` into a scratch folder, and a host started with that configuration (and a
//! runtime directory of its own) and its admin server, whose `/stats` the tests read.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::admin::{fetch_stats, wait_for_stats, Stats};
use crate::host::{host_binary, Host, HostBuilder};
use crate::memory::rss_bytes;

/// How long the host may take to print its `admin on ADDR` line after `listening on`.
const ADMIN_LINE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long counters may take to settle once the clients are done.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The workspace root (the folder above `tests/`).
pub fn workspace_dir() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// A workspace plugin built by `cargo build --workspace`, e.g. `built_plugin("faulty")` for
/// `libplugin_faulty.so`: it sits in the same target folder as the host binary under test.
#[track_caller]
pub fn built_plugin(name: &str) -> PathBuf {
    let host = host_binary();
    let path = host.with_file_name(format!("libplugin_{name}.so"));
    assert!(
        path.is_file(),
        "{} not found (beside the host binary {}): run `cargo build --workspace` first",
        path.display(),
        host.display()
    );
    path
}

/// `libplugin_null.so`, from the same target folder as the host binary under test.
pub fn null_plugin_path() -> PathBuf {
    built_plugin("null")
}

/// `n` plugin.config lines loading the null plugin, each with `arg` if given
/// (`response` or `request`; none = both directions).
pub fn null_chain(n: usize, arg: Option<&str>) -> Vec<String> {
    let path = null_plugin_path();
    let path = path.to_str().filter(|p| !p.contains(char::is_whitespace)).unwrap_or_else(|| {
        panic!(
            "null plugin path {} is not plain UTF-8 without spaces; plugin.config needs it as one word",
            path.display()
        )
    });
    (0..n).map(|_| arg.map_or_else(|| path.to_string(), |a| format!("{path} {a}"))).collect()
}

/// A fresh folder under the temp directory, removed with its contents on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `<tmp>/plugin-host-e2e-<pid>-<n>-<tag>`.
    pub fn new(tag: &str) -> ScratchDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("plugin-host-e2e-{}-{n}-{tag}", std::process::id()));
        // A leftover from a crashed run with a recycled pid would only hold stale files.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        ScratchDir(path)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `lines` as `<dir>/plugin.config` and returns its path. Nothing else is written, so
/// `lines[i]` is config line `i + 1`, as the host's refusals number it.
pub fn write_plugin_config(dir: &Path, lines: &[String]) -> PathBuf {
    let path = dir.join("plugin.config");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// A host running a `plugin.config` of its own, with its runtime directory (where plugins
/// are copied before loading) in the same scratch folder and its admin server on loopback.
/// Dereferences to the [`Host`] (address, pid, logs, signals, exit).
pub struct PluginHost {
    host: Host,
    admin: SocketAddr,
    config: PathBuf,
    // Declared after `host`: the folder goes only once the process is gone.
    _scratch: ScratchDir,
}

impl PluginHost {
    /// Writes `lines` as the plugin.config, then starts `builder` with `--config`,
    /// `--runtime-dir` and `--admin-listen 127.0.0.1:0`, and waits for the `admin on ADDR` line.
    pub fn start(builder: HostBuilder, lines: &[String]) -> PluginHost {
        let scratch = ScratchDir::new("host");
        let config = write_plugin_config(scratch.path(), lines);
        let runtime = scratch.path().join("runtime");
        std::fs::create_dir_all(&runtime).unwrap_or_else(|e| panic!("create {}: {e}", runtime.display()));
        let host = builder
            .opt("--config", config.display())
            .opt("--runtime-dir", runtime.display())
            .opt("--admin-listen", "127.0.0.1:0")
            .start();
        let line = host.wait_for_log(ADMIN_LINE_TIMEOUT, |l| l.starts_with("admin on ")).unwrap_or_else(|| {
            panic!("plugin-host did not print `admin on ADDR` within {ADMIN_LINE_TIMEOUT:?}; logs:\n{}", host.logs())
        });
        let admin = line
            .trim()
            .strip_prefix("admin on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("admin line {line:?} is not `admin on ADDR`"));
        PluginHost { host, admin, config, _scratch: scratch }
    }

    /// The admin server's address.
    pub fn admin(&self) -> SocketAddr {
        self.admin
    }

    /// The plugin.config this host runs.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// `/stats` now; panics (with the host's logs) if it cannot be read.
    #[track_caller]
    pub fn stats(&self) -> Stats {
        fetch_stats(self.admin).unwrap_or_else(|e| panic!("{e}; host logs:\n{}", self.host.logs()))
    }

    /// Polls `/stats` until `done` holds; panics with the last document after `timeout`.
    #[track_caller]
    pub fn wait_for_stats(&self, timeout: Duration, done: impl Fn(&Stats) -> bool) -> Stats {
        wait_for_stats(self.admin, timeout, done).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Polls until nothing is live (no transaction, transform or buffer), for at most
    /// [`SETTLE_TIMEOUT`]; panics with the last document otherwise. A response can reach the
    /// client a moment before its transaction is torn down, hence the wait.
    #[track_caller]
    pub fn wait_idle(&self) -> Stats {
        self.wait_for_stats(SETTLE_TIMEOUT, Stats::is_idle)
    }

    /// The host's resident memory (VmRSS) in bytes; panics if it cannot be read.
    #[track_caller]
    pub fn rss_bytes(&self) -> u64 {
        let pid = self.pid();
        rss_bytes(pid).unwrap_or_else(|| panic!("no VmRSS for plugin-host pid {pid}"))
    }
}

impl Deref for PluginHost {
    type Target = Host;

    fn deref(&self) -> &Host {
        &self.host
    }
}

impl DerefMut for PluginHost {
    fn deref_mut(&mut self) -> &mut Host {
        &mut self.host
    }
}
