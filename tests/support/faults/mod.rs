//! Support for the plugin-fault end-to-end tests: a host started on a `plugin.config` of
//! the test's own with its admin endpoint on, `/stats` read back, one request classified
//! by how it ended, and the process seen from outside (pid, resident memory).
//!
//! - [`process`]: bounded runs of `plugin-host check` / a refused `run`; pid and VmRSS.
//! - [`abi`]: plugins built against a different ABI (the host's loader fixtures, mirrored).
//! - [`holding_origin`]: an origin that sends the start of a body, then nothing more.
//!
//! Self-contained on purpose: it only uses the public API of the other support modules.

pub mod abi;
pub mod holding_origin;
pub mod process;

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub use holding_origin::HoldingOrigin;

use crate::admin::{fetch_stats, Stats};
use crate::client::{get_request, RawConn, RawResponse};
use crate::host::{host_binary, Host, HostBuilder};

/// How long the host may take to print its admin line after its listening line.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on a wait for the host to settle (counters reaching their final values).
pub const SETTLE: Duration = Duration::from_secs(10);
/// How long to wait for the host to close a connection it should close.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// A workspace plugin built by `cargo build --workspace`, e.g. `built_plugin("faulty")`
/// for `libplugin_faulty.so`: it sits next to the `plugin-host` binary.
#[track_caller]
pub fn built_plugin(name: &str) -> PathBuf {
    let bin = host_binary();
    let so = bin.with_file_name(format!("libplugin_{name}.so"));
    assert!(so.is_file(), "{} not found: run `cargo build --workspace` first", so.display());
    so
}

/// A fresh directory for one test (its plugin.config, the host's runtime directory),
/// removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `<tmp>/plugin-host-e2e-faults-<pid>-<n>-<tag>`.
    pub fn new(tag: &str) -> ScratchDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("plugin-host-e2e-faults-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        ScratchDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `lines` (one plugin line each) as `plugin.config`; returns its path.
    pub fn write_config(&self, lines: &[String]) -> PathBuf {
        let path = self.0.join("plugin.config");
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `plugin-host run` on a plugin.config of its own, with `--admin-listen` on loopback.
/// Dereferences to the [`Host`] (address, logs, exit).
pub struct PluginHost {
    host: Host,
    admin: SocketAddr,
    config: PathBuf,
    // Declared after `host`: the runtime directory goes only once the process is gone.
    _scratch: ScratchDir,
}

impl PluginHost {
    /// Starts `builder` (e.g. `HostBuilder::new(origin.addr())`) with `lines` as its
    /// plugin.config, its runtime directory in a scratch directory, and an admin endpoint.
    pub fn start(builder: HostBuilder, lines: &[String]) -> PluginHost {
        let scratch = ScratchDir::new("host");
        let config = scratch.write_config(lines);
        let runtime = scratch.path().join("runtime");
        std::fs::create_dir_all(&runtime).unwrap_or_else(|e| panic!("create {}: {e}", runtime.display()));
        let host = builder
            .opt("--config", config.display())
            .opt("--runtime-dir", runtime.display())
            .opt("--admin-listen", "127.0.0.1:0")
            .start();
        // The admin line is stdout's second line; the Host keeps it with the logs.
        let line = host.wait_for_log(ADMIN_TIMEOUT, |l| l.starts_with("admin on "));
        let admin = line.as_deref().and_then(|l| l.trim().strip_prefix("admin on ")?.parse().ok());
        let admin = admin.unwrap_or_else(|| panic!("no `admin on ADDR` line; logs:\n{}", host.logs()));
        PluginHost { host, admin, config, _scratch: scratch }
    }

    /// The plugin.config this host runs.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// `GET /stats`, parsed.
    #[track_caller]
    pub fn stats(&self) -> Stats {
        fetch_stats(self.admin).unwrap_or_else(|e| panic!("GET /stats: {e}; logs:\n{}", self.logs()))
    }

    /// Polls `/stats` until `done` holds (bounded by [`SETTLE`]); returns the last answer
    /// either way, so the caller's assertion shows what it saw.
    pub fn stats_when(&self, done: impl Fn(&Stats) -> bool) -> Stats {
        let deadline = Instant::now() + SETTLE;
        loop {
            let stats = self.stats();
            if done(&stats) || Instant::now() >= deadline {
                return stats;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// `/stats` once nothing is live any more (or [`SETTLE`] passed): a response can reach
    /// the client a moment before its transaction is torn down.
    pub fn settled_stats(&self) -> Stats {
        self.stats_when(|s| s.live() == (0, 0, 0))
    }

    /// The host's process id.
    #[track_caller]
    pub fn pid(&self) -> u32 {
        process::host_pid(&self.config).unwrap_or_else(|| panic!("no plugin-host child runs {}", self.config.display()))
    }

    /// The host's resident memory (VmRSS), in KiB.
    #[track_caller]
    pub fn rss_kib(&self) -> u64 {
        let pid = self.pid();
        process::rss_kib(pid).unwrap_or_else(|| panic!("no VmRSS for pid {pid}"))
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

/// One request on a fresh connection, and how it ended.
#[derive(Debug)]
pub struct Exchange {
    /// The response; `None` if not even a head came back (the error says why).
    pub response: Result<RawResponse, String>,
    /// Whether the host closed the connection after it (within a bounded wait). Only
    /// looked at when the response was not a complete 200: a served response keeps the
    /// connection open, and waiting for a close that never comes would only cost time.
    pub closed: bool,
}

impl Exchange {
    /// `GET target` on a fresh connection to `addr`; reads the response, then (unless it
    /// was served) whether the connection was closed.
    pub fn get(addr: SocketAddr, target: &str) -> Exchange {
        let mut conn = RawConn::connect(addr);
        if let Err(e) = conn.send(&get_request(target)) {
            return Exchange { response: Err(format!("send: {e}")), closed: true };
        }
        let response = conn.read_response(false).map_err(|e| e.to_string());
        let served = response.as_ref().is_ok_and(|r| r.complete && r.status == 200);
        Exchange { response, closed: !served && conn.is_closed(CLOSE_WAIT) }
    }

    /// What happened, in the contract's terms.
    pub fn outcome(&self) -> Outcome {
        match &self.response {
            Err(e) => Outcome::NoHead(e.clone()),
            Ok(r) if r.complete && r.status == 200 => Outcome::Served,
            Ok(r) if r.complete => Outcome::ErrorPage(r.status),
            Ok(r) => Outcome::Cut { status: r.status, got: r.body.len() },
        }
    }
}

/// How one exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200 and a complete body (its bytes are checked separately).
    Served,
    /// A complete non-200 response: an error page.
    ErrorPage(u16),
    /// A head, then the connection ended before the body was complete.
    Cut {
        /// The status of the head.
        status: u16,
        /// Body bytes received before the cut.
        got: usize,
    },
    /// Not even a response head.
    NoHead(String),
}
