//! The access log: one line per transaction, cheap enough to leave on.
//!
//! Each worker formats its lines into its own [`WorkerLog`] buffer (no
//! `tracing`, no allocation per line) and hands the buffer to the shared
//! [`Sink`] when it nears [`BUFFER_BYTES`], when [`FLUSH_EVERY`] has passed
//! since the last hand-over (the event loop calls [`WorkerLog::tick`] on
//! its timer sweep, so an idle worker flushes too), and when the worker
//! exits after a graceful drain. This is nginx's `access_log ... buffer=64k
//! flush=1s`. A crash loses what the buffers held: up to a second, or about
//! 64 KiB, of lines per worker.
//!
//! - `format`: the line formats and their escaping.
//! - `sink`: the file or standard error, and the SIGUSR1 reopen.

mod format;
mod sink;

pub use format::Format;
pub use sink::Sink;

use format::Clock;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A worker's buffer is handed to the sink once it holds this much.
pub const BUFFER_BYTES: usize = 64 * 1024;
/// ... or once this long has passed since it was last handed over.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Room for one more typical line past the threshold, so the buffer does
/// not grow for one; a longer line grows it once.
const SLACK: usize = 4 * 1024;

/// Where the lines go (`--access-log`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard error, beside the other logs.
    Stderr,
    /// A file, appended to.
    File(PathBuf),
    /// No access log.
    Off,
}

impl Destination {
    /// The `--access-log` parser: `stderr`, `off`, or a path.
    pub fn parse(value: &str) -> Result<Destination, String> {
        match value {
            "" => Err("expected a path, `stderr` or `off`".into()),
            "stderr" | "-" => Ok(Destination::Stderr),
            "off" => Ok(Destination::Off),
            path => Ok(Destination::File(PathBuf::from(path))),
        }
    }

    /// Opens the sink at start-up; `None` when the log is off.
    pub fn open(&self) -> std::io::Result<Option<Arc<Sink>>> {
        Ok(match self {
            Destination::Stderr => Some(Arc::new(Sink::stderr())),
            Destination::File(path) => Some(Arc::new(Sink::open(path)?)),
            Destination::Off => None,
        })
    }
}

/// What every worker needs to start its [`WorkerLog`].
#[derive(Clone)]
pub struct AccessLog {
    /// `None`: the access log is off.
    pub sink: Option<Arc<Sink>>,
    /// The line format.
    pub format: Format,
}

/// How the request line is known.
#[derive(Debug, Clone, Copy)]
pub enum RequestLine<'a> {
    /// Parsed: method, target, version, as the client sent them.
    Parsed {
        /// The method token.
        method: &'a str,
        /// The request target.
        target: &'a str,
        /// `HTTP/1.0` or `HTTP/1.1`.
        version: &'a str,
    },
    /// The raw first line of a head that did not parse (empty if none).
    Raw(&'a [u8]),
}

/// Which origin connection served the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A fresh connection.
    New,
    /// One taken from the keep-alive pool.
    Reused,
    /// None: the request was refused before reaching the origin.
    None,
}

/// How the transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Request and response complete.
    Done,
    /// An error page was sent.
    Failed,
    /// Cut short: the client connection was closed mid-way.
    Aborted,
    /// Answered with an error before a transaction started (bad head, CONNECT, a plugin's refusal).
    Refused,
}

/// One line's fields, borrowed from the transaction.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The client's address.
    pub peer: IpAddr,
    /// The request line.
    pub request: RequestLine<'a>,
    /// The status sent (0: none was).
    pub status: u16,
    /// Bytes read from the client: head and body.
    pub bytes_in: u64,
    /// Bytes queued to the client: head and body.
    pub bytes_out: u64,
    /// From the request head to the end.
    pub duration: Duration,
    /// The origin connection.
    pub origin: Origin,
    /// How it ended.
    pub outcome: Outcome,
    /// The `Referer` field, if any.
    pub referer: Option<&'a [u8]>,
    /// The `User-Agent` field, if any.
    pub user_agent: Option<&'a [u8]>,
}

/// One worker's buffer of lines, flushed into the shared sink.
pub struct WorkerLog {
    sink: Option<Arc<Sink>>,
    format: Format,
    buf: Vec<u8>,
    /// The sink epoch the buffered lines belong to (see `sink`).
    epoch: u64,
    last_flush: Instant,
    clock: Clock,
}

impl WorkerLog {
    /// A worker's log for `config`.
    pub fn new(config: &AccessLog) -> WorkerLog {
        let capacity = if config.sink.is_some() { BUFFER_BYTES + SLACK } else { 0 };
        WorkerLog {
            epoch: config.sink.as_ref().map_or(0, |s| s.epoch()),
            sink: config.sink.clone(),
            format: config.format,
            buf: Vec::with_capacity(capacity),
            last_flush: Instant::now(),
            clock: Clock::default(),
        }
    }

    /// True when the lines show Referer and User-Agent (combined, json), so
    /// the caller looks those headers up only then.
    pub fn shows_agent(&self) -> bool {
        self.sink.is_some() && matches!(self.format, Format::Combined | Format::Json)
    }

    /// Appends the line for `rec`; flushes if the buffer is full.
    pub fn record(&mut self, rec: &Record) {
        let Some(sink) = self.sink.as_ref() else { return };
        let epoch = sink.epoch();
        if epoch != self.epoch {
            // Lines from before a reopen go to the file they were meant for.
            self.flush();
            self.epoch = epoch;
        }
        let clock = self.clock.at(SystemTime::now());
        format::write_line(&mut self.buf, self.format, clock, rec);
        if self.buf.len() >= BUFFER_BYTES {
            self.flush();
        }
    }

    /// The event loop's timer: flushes once [`FLUSH_EVERY`] has passed.
    pub fn tick(&mut self, now: Instant) {
        if now.saturating_duration_since(self.last_flush) >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Hands every buffered line to the sink.
    pub fn flush(&mut self) {
        self.last_flush = Instant::now();
        let Some(sink) = self.sink.as_ref() else { return };
        if self.buf.is_empty() {
            return;
        }
        if let Err(e) = sink.write(self.epoch, &self.buf) {
            let lines = self.buf.iter().filter(|&&b| b == b'\n').count();
            let place = sink.path().map_or_else(|| "standard error".to_string(), |p| p.display().to_string());
            tracing::warn!(lines, "access log: writing to {place} failed, lines lost: {e}");
        }
        self.buf.clear();
    }
}

impl Drop for WorkerLog {
    fn drop(&mut self) {
        // A worker that returns (drained, or failed) leaves nothing behind.
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse() {
        assert_eq!(Destination::parse("stderr"), Ok(Destination::Stderr));
        assert_eq!(Destination::parse("-"), Ok(Destination::Stderr));
        assert_eq!(Destination::parse("off"), Ok(Destination::Off));
        assert_eq!(Destination::parse("/var/log/a.log"), Ok(Destination::File("/var/log/a.log".into())));
        assert!(Destination::parse("").is_err());
    }
}
