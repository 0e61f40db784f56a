//! Where access log lines end up: a file opened `O_APPEND | O_CREAT`
//! (mode 0644) or standard error, shared by every worker behind one lock.
//!
//! Workers hand over whole buffers of whole lines, at most once per 64 KiB
//! or per second each, so the lock is cold. Under it a buffer goes out in
//! one `write` to a file (`O_APPEND` keeps it whole), and to standard error
//! in pieces of at most `PIPE_BUF` bytes cut at line ends, since the
//! `tracing` logs share that pipe and the kernel keeps only writes up to
//! `PIPE_BUF` from interleaving.
//!
//! `reopen` (SIGUSR1, for logrotate) opens the path again and swaps the new
//! file in under the lock. Each reopen starts a new *epoch*: a worker's
//! buffer holds lines of one epoch only, and lines of the epoch before are
//! written to the file they were meant for (the renamed one), which is kept
//! open for [`KEEP_PREVIOUS`] after the swap, longer than any buffer waits.

use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long the file before a reopen stays open for buffers of its epoch.
const KEEP_PREVIOUS: Duration = Duration::from_secs(5);
/// Writes to a pipe up to this size are atomic (POSIX `PIPE_BUF` on Linux).
const PIPE_BUF: usize = 4096;

/// The shared destination of every worker's lines.
pub struct Sink {
    path: Option<PathBuf>,
    epoch: AtomicU64,
    files: Mutex<Files>,
}

struct Files {
    current: Option<File>,
    /// The file before the last reopen, and when it was replaced.
    previous: Option<(File, Instant)>,
}

impl Sink {
    /// Standard error.
    pub fn stderr() -> Sink {
        Sink { path: None, epoch: AtomicU64::new(0), files: Mutex::new(Files { current: None, previous: None }) }
    }

    /// The file at `path`, created if missing; the error names the path.
    pub fn open(path: &Path) -> io::Result<Sink> {
        let file = open_append(path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open the access log {}: {e}", path.display())))?;
        Ok(Sink {
            path: Some(path.to_path_buf()),
            epoch: AtomicU64::new(0),
            files: Mutex::new(Files { current: Some(file), previous: None }),
        })
    }

    /// The file's path; `None` for standard error.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The current epoch: it changes on every successful reopen.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Opens the path again and writes new lines there; on failure the old
    /// file stays. A no-op (`Ok(false)`) for standard error.
    pub fn reopen(&self) -> io::Result<bool> {
        let Some(path) = self.path.as_deref() else { return Ok(false) };
        let file = open_append(path)?;
        let mut files = self.files.lock();
        let old = files.current.replace(file);
        files.previous = old.map(|f| (f, Instant::now()));
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Ok(true)
    }

    /// Writes `lines` (whole lines only) formatted during `epoch`.
    pub fn write(&self, epoch: u64, lines: &[u8]) -> io::Result<()> {
        debug_assert!(lines.last().is_none_or(|&b| b == b'\n'), "a buffer holds whole lines only");
        let mut files = self.files.lock();
        if files.previous.as_ref().is_some_and(|(_, since)| since.elapsed() >= KEEP_PREVIOUS) {
            files.previous = None;
        }
        let current = self.epoch.load(Ordering::Acquire);
        let Files { current: file, previous } = &mut *files;
        let target = match (epoch + 1 == current, previous.as_mut(), file.as_mut()) {
            (true, Some((old, _)), _) => Some(old),
            (_, _, f) => f,
        };
        match target {
            Some(f) => f.write_all(lines),
            None => write_pipe(&mut io::stderr().lock(), lines),
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).mode(0o644).open(path)
}

/// Writes `lines` in pieces of at most [`PIPE_BUF`] bytes cut at line ends
/// (a single longer line goes alone), so no other writer's line lands inside one.
fn write_pipe(out: &mut impl Write, mut lines: &[u8]) -> io::Result<()> {
    while !lines.is_empty() {
        let window = &lines[..lines.len().min(PIPE_BUF)];
        let cut = match window.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => lines.iter().position(|&b| b == b'\n').map_or(lines.len(), |i| i + 1),
        };
        out.write_all(&lines[..cut])?;
        lines = &lines[cut..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each write call.
    struct Calls(Vec<Vec<u8>>);
    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn pipe_writes_end_at_line_ends_and_stay_under_pipe_buf() {
        let line = [b'a'; 99];
        let mut lines = Vec::new();
        for _ in 0..100 {
            lines.extend_from_slice(&line);
            lines.push(b'\n');
        }
        let long = vec![b'b'; PIPE_BUF * 2];
        lines.extend_from_slice(&long);
        lines.push(b'\n');
        let mut calls = Calls(Vec::new());
        write_pipe(&mut calls, &lines).expect("write");
        assert_eq!(calls.0.concat(), lines);
        for call in &calls.0 {
            assert_eq!(call.last(), Some(&b'\n'));
            assert!(call.len() <= PIPE_BUF || call.len() == long.len() + 1, "{}", call.len());
        }
        assert_eq!(calls.0.len(), 4, "three pipe-sized pieces of short lines, one long line alone");
    }

    #[test]
    fn lines_of_the_epoch_before_a_reopen_go_to_the_renamed_file() {
        let dir = std::env::temp_dir().join(format!("plugin-host-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (path, rotated) = (dir.join("a.log"), dir.join("a.log.1"));
        let sink = Sink::open(&path).expect("open");
        let before = sink.epoch();
        sink.write(before, b"one\n").expect("write");
        std::fs::rename(&path, &rotated).expect("rename");
        assert!(sink.reopen().expect("reopen"));
        let after = sink.epoch();
        assert_ne!(before, after);
        // A worker's buffer filled before the signal, flushed after it.
        sink.write(before, b"two\n").expect("write");
        sink.write(after, b"three\n").expect("write");
        assert_eq!(std::fs::read(&rotated).expect("rotated"), b"one\ntwo\n");
        assert_eq!(std::fs::read(&path).expect("new"), b"three\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
