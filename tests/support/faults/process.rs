//! The host as a process: runs of `plugin-host` that must end on their own (`check`, a
//! `run` that must refuse to start), bounded so a host that serves instead of exiting
//! fails the test rather than hanging it; and the resident memory of a running host.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::host::host_binary;

/// How often a bounded wait looks at the process.
const POLL: Duration = Duration::from_millis(20);

/// What a run of the binary that ended (or was ended) left behind.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status; `None` if it was still running at the deadline and was killed.
    pub status: Option<ExitStatus>,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Finished {
    /// Whether it exited on its own with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Its exit code, if it exited on its own with one.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// stderr's lines, without trailing whitespace.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().map(str::trim_end).collect()
    }
}

/// Runs `plugin-host ARGS` and waits up to `timeout` for it to exit; kills it past that.
pub fn run_to_exit(args: &[&str], timeout: Duration) -> Finished {
    let bin = host_binary();
    assert!(bin.is_file(), "plugin-host not found at {}: run `cargo build --workspace` first", bin.display());
    let mut child = Command::new(&bin)
        .args(args)
        // tracing colours its output even into a pipe; the checks compare plain text.
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    // Readers on their own threads: a chatty child must not block on a full pipe.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_bounded(&mut child, timeout);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let join = |h: thread::JoinHandle<String>| h.join().unwrap_or_default();
    Finished { status, stdout: join(stdout), stderr: join(stderr) }
}

fn drain(source: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut s) = source {
            let _ = s.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL);
    }
}

/// The pid of the running `plugin-host` child of this test process whose command line
/// names `config`. [`crate::Host`] keeps its `Child` to itself; every host these helpers
/// start has a config file of its own, so the config path identifies the process.
pub fn host_pid(config: &Path) -> Option<u32> {
    let me = std::process::id();
    let config = config.to_str()?;
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        if parent_pid(pid)? != me {
            return None;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        cmdline.split(|&b| b == 0).any(|arg| arg == config.as_bytes()).then_some(pid)
    })
}

/// Field 4 of `/proc/PID/stat`, read after the command name (which may hold spaces).
fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// `VmRSS` of `pid` in KiB (Linux `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
