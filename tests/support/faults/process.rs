//! Runs of `plugin-host` that must end on their own (`check`, a `run` that must refuse to
//! start), bounded so a host that serves instead of exiting fails the test rather than
//! hanging it.

use std::io::Read;
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
    run_to_exit_in(None, args, timeout)
}

/// [`run_to_exit`] in the working directory `dir` (default: the test's own).
pub fn run_to_exit_in(dir: Option<&std::path::Path>, args: &[&str], timeout: Duration) -> Finished {
    let bin = host_binary();
    assert!(bin.is_file(), "plugin-host not found at {}: run `cargo build --workspace` first", bin.display());
    let mut command = Command::new(&bin);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command
        .args(args)
        // The host colours a terminal only; NO_COLOR keeps these checks plain even run from one.
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
