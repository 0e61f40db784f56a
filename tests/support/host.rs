//! The `plugin-host` process under test: spawn it, learn its port, grep its logs, signal it,
//! and always reap it.
//!
//! The binary is never built here: the tests run against whatever `cargo build --workspace`
//! produced (or `PLUGIN_HOST_BIN`), so a stale or missing binary is reported, not rebuilt.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// How long the host may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a dropped host gets to exit after SIGTERM before it is SIGKILLed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Poll interval for bounded waits on the process and its logs.
const POLL: Duration = Duration::from_millis(20);

/// Where the binary is: `PLUGIN_HOST_BIN`, else next to this test executable's profile
/// directory (which honours `CARGO_TARGET_DIR`), else `<workspace>/target/debug`.
pub fn host_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PLUGIN_HOST_BIN") {
        return PathBuf::from(path);
    }
    // Test executables live in <target>/<profile>/deps/.
    let beside_tests = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.join("plugin-host")));
    if let Some(path) = beside_tests.filter(|p| p.is_file()) {
        return path;
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(&manifest).join("target/debug/plugin-host")
}

/// Arguments for one host process; `run --listen 127.0.0.1:0 --origin ADDR` is implied, and
/// `--no-plugins` unless `--config` is given.
pub struct HostBuilder {
    origin: String,
    listen: String,
    args: Vec<String>,
    threads: u32,
    subcommand: bool,
}

impl HostBuilder {
    /// A host forwarding to `origin`.
    pub fn new(origin: SocketAddr) -> HostBuilder {
        // Two workers: enough to exercise the multi-thread path, few enough for a shared
        // 2-core machine running several test binaries.
        HostBuilder {
            origin: origin.to_string(),
            listen: "127.0.0.1:0".into(),
            args: Vec::new(),
            threads: 2,
            subcommand: true,
        }
    }

    /// Passes `--origin` as written (`:PORT`, `localhost:PORT`) instead of an address.
    pub fn origin_arg(mut self, origin: &str) -> HostBuilder {
        self.origin = origin.to_string();
        self
    }

    /// Passes `--listen` as written instead of `127.0.0.1:0`.
    pub fn listen(mut self, listen: &str) -> HostBuilder {
        self.listen = listen.to_string();
        self
    }

    /// Leaves out the `run` subcommand: the run flags alone.
    pub fn without_run_subcommand(mut self) -> HostBuilder {
        self.subcommand = false;
        self
    }

    /// Adds `--name value`, e.g. `.opt("--head-timeout-ms", 2000)`.
    pub fn opt(mut self, name: &str, value: impl ToString) -> HostBuilder {
        self.args.push(name.to_string());
        self.args.push(value.to_string());
        self
    }

    /// Sets `--threads`.
    pub fn threads(mut self, n: u32) -> HostBuilder {
        self.threads = n;
        self
    }

    /// Spawns the host and waits for its listening line.
    pub fn start(self) -> Host {
        let bin = host_binary();
        assert!(
            bin.is_file(),
            "plugin-host binary not found at {}: run `cargo build --workspace` first \
             (or point PLUGIN_HOST_BIN at it)",
            bin.display()
        );
        // A host given no --config runs without plugins, said explicitly: a missing
        // plugin.config is an error.
        let plugins: &[&str] = if self.args.iter().any(|a| a == "--config") { &[] } else { &["--no-plugins"] };
        let subcommand: &[&str] = if self.subcommand { &["run"] } else { &[] };
        let mut child = Command::new(&bin)
            .args(subcommand)
            .args(["--listen", &self.listen, "--origin", &self.origin])
            .args(["--threads", &self.threads.to_string()])
            .args(plugins)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let logs = Arc::new(Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            spawn_log_reader("host-stderr", stderr, Arc::clone(&logs), None);
        }
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            spawn_stdout_reader(stdout, Arc::clone(&logs), tx);
        }
        let mut host = Host { child, addr: None, logs, exit: None };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => host.addr = Some(parse_listening(&line, &host)),
            Err(_) => panic!(
                "plugin-host did not print `listening on ADDR` within {START_TIMEOUT:?} \
                 (args {:?}); stderr so far:\n{}",
                self.args,
                host.logs()
            ),
        }
        host
    }
}

fn parse_listening(line: &str, host: &Host) -> SocketAddr {
    line.trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("first stdout line was {line:?}, not `listening on ADDR`; stderr:\n{}", host.logs()))
}

fn spawn_stdout_reader(stdout: ChildStdout, logs: Arc<Mutex<String>>, tx: mpsc::Sender<String>) {
    spawn_log_reader("host-stdout", stdout, logs, Some(tx));
}

/// Copies lines into `logs`; the first line also goes to `first` if given.
fn spawn_log_reader(
    name: &str,
    source: impl Read + Send + 'static,
    logs: Arc<Mutex<String>>,
    mut first: Option<mpsc::Sender<String>>,
) {
    let spawned = thread::Builder::new().name(name.into()).spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = Vec::new();
        // Ends at EOF, i.e. when the process exits.
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            // Kept raw: the host writes no colour codes into a pipe, and tests check that.
            let text = String::from_utf8_lossy(&line).into_owned();
            if let Some(tx) = first.take() {
                let _ = tx.send(text);
            } else {
                logs.lock().unwrap_or_else(PoisonError::into_inner).push_str(&text);
            }
            line.clear();
        }
    });
    spawned.expect("spawn host log reader thread");
}

/// A running `plugin-host`; on drop, unless it already exited, stopped with SIGTERM (so it
/// drains and removes its runtime directory), SIGKILLed only if it outlives [`STOP_GRACE`],
/// and reaped.
pub struct Host {
    child: Child,
    addr: Option<SocketAddr>,
    logs: Arc<Mutex<String>>,
    exit: Option<ExitStatus>,
}

impl Host {
    /// A host for `origin` with default options.
    pub fn start(origin: SocketAddr) -> Host {
        HostBuilder::new(origin).start()
    }

    /// The address from the listening line.
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("set by start()")
    }

    /// The process id, e.g. to read `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// Everything the host wrote to stderr (and stdout after the listening line) so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits (bounded) for a log line for which `pred` holds, and returns it.
    pub fn wait_for_log(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.logs().lines().find(|l| pred(l)) {
                return Some(line.to_string());
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Sends `sig` to the process.
    pub fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child,
        // which is not reaped before `exit` is set, so it cannot have been reused.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}): {}", std::io::Error::last_os_error());
    }

    /// Whether the process has exited (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit.is_some()
    }

    /// Waits for the process to exit; panics with its logs if it takes longer than `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        while !self.has_exited() {
            if Instant::now() >= deadline {
                panic!("plugin-host still running {timeout:?} after the wait began; logs:\n{}", self.logs());
            }
            thread::sleep(POLL);
        }
        self.exit.expect("has_exited() returned true")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if !self.has_exited() {
            if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: as in `signal`: our own child, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let deadline = Instant::now() + STOP_GRACE;
            while !self.has_exited() && Instant::now() < deadline {
                thread::sleep(POLL);
            }
        }
        if !self.has_exited() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking() {
            eprintln!("---- plugin-host logs ----\n{}---- end of logs ----", self.logs());
        }
    }
}
