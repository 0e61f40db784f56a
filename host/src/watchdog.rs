//! The watchdog: a thread that watches how long each worker has been inside
//! a plugin callback (each worker publishes it, see
//! [`crate::plugins::current`]) and contains a callback that does not return.
//!
//! - Past the first limit (`--watchdog-warn-ms`) it logs a WARN naming the
//!   plugin, the callback and the time, counts it (`/stats`:
//!   `stuck_callbacks`), and stops that worker's listener from taking new
//!   connections: `shutdown(SHUT_RD)` on a listening socket takes it out of
//!   the kernel's `SO_REUSEPORT` group, so new connections go to the other
//!   workers. Connections already in its accept queue are accepted first
//!   and handed to a worker that is not stuck (reset only if none is), so
//!   they are not left hanging. When the callback returns, the worker
//!   listens again (on the same port: `main` binds every listener to its
//!   port by number, since one bound to port 0 would lose it when stopped).
//! - Past the second limit (`--watchdog-exit-ms`) it exits the process with
//!   [`EXIT_STUCK`] and a message saying why: a thread stuck in foreign code
//!   cannot be stopped or recovered in-process, so the supervisor restarts
//!   the host.
//! - After SIGTERM, once the drain timeout (plus [`DRAIN_GRACE`] for the
//!   workers' own orderly exit) has passed, it exits with [`EXIT_DRAIN`]
//!   whatever the workers are doing: a stuck worker cannot hold shutdown.
//!
//! It only reads atomics and takes one short lock per worker, so it costs
//! the workers nothing.

use crate::plugins::current::{self, CallSlot};
use crate::shared::Shared;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit status when a callback ran past the second limit (EX_SOFTWARE).
pub const EXIT_STUCK: i32 = 70;
/// Exit status when the drain deadline passed with workers still running.
pub const EXIT_DRAIN: i32 = 75;
/// Time past the drain timeout the workers get to close their connections
/// and return before the watchdog ends the process.
pub const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// The listen backlog `main` binds with, used again when a listener resumes.
pub const LISTEN_BACKLOG: usize = 1024;

/// The two limits on a single plugin callback.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Past this: WARN, count, stop the worker's listener.
    pub warn: Duration,
    /// Past this: exit the process non-zero.
    pub exit: Duration,
}

/// One worker as the watchdog sees it.
#[derive(Debug)]
pub struct WorkerWatch {
    call: Arc<CallSlot>,
    /// The worker's listening socket while it has one; locked by whoever
    /// acts on it, so the watchdog never shuts down an fd the worker closed.
    listener: Mutex<Option<RawFd>>,
    /// The watchdog stopped the listener; the worker listens again once back.
    paused: AtomicBool,
    /// `entered_ns` of the call last flagged, so one call is flagged once.
    flagged: AtomicU64,
    /// Connections taken from a stuck worker's queue for this one to serve.
    inbox: Mutex<Vec<(std::net::TcpStream, std::net::SocketAddr)>>,
}

static WORKERS: Mutex<Vec<Arc<WorkerWatch>>> = Mutex::new(Vec::new());
static STUCK: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

impl WorkerWatch {
    /// Registers the calling thread, a worker named `name` listening on
    /// `listener`: it publishes its plugin calls from now on.
    pub fn register(name: &str, listener: RawFd) -> Arc<WorkerWatch> {
        let watch = Arc::new(WorkerWatch {
            call: current::register_worker(name),
            listener: Mutex::new(Some(listener)),
            paused: AtomicBool::new(false),
            flagged: AtomicU64::new(0),
            inbox: Mutex::new(Vec::new()),
        });
        WORKERS.lock().push(watch.clone());
        watch
    }

    /// The worker is about to close its listener (drain): hands it back.
    pub fn listener_closed(&self) {
        *self.listener.lock() = None;
    }

    /// Whether the watchdog has stopped this worker's listener.
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// The worker is back in its loop: if its listener was stopped, takes
    /// it back into the `SO_REUSEPORT` group with `listen` again.
    pub fn resume(&self) {
        if !self.paused() {
            return;
        }
        let guard = self.listener.lock();
        self.paused.store(false, Ordering::Release);
        let Some(fd) = *guard else { return };
        // SAFETY: the fd is the worker's live listener (the lock keeps it so).
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&fd);
        match sock.listen(LISTEN_BACKLOG as i32) {
            Ok(()) => {
                tracing::info!(worker = %self.call.worker, "worker is back from the plugin; taking new connections")
            }
            Err(e) => tracing::warn!(worker = %self.call.worker, error = %e, "could not listen again"),
        }
    }

    /// Connections the watchdog handed to this worker (see the module docs).
    pub fn take_inbox(&self) -> Vec<(std::net::TcpStream, std::net::SocketAddr)> {
        std::mem::take(&mut *self.inbox.lock())
    }

    /// Stops the listener; returns the connections that were queued on it.
    fn pause(&self) -> Vec<(std::net::TcpStream, std::net::SocketAddr)> {
        let guard = self.listener.lock();
        let mut queued = Vec::new();
        let Some(fd) = *guard else { return queued };
        if self.paused.swap(true, Ordering::AcqRel) {
            return queued; // Already stopped (an earlier call of the same drive).
        }
        // SAFETY: as in `resume`.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&fd);
        // Bounded by the backlog; the listener is non-blocking, so an empty queue ends it.
        for _ in 0..LISTEN_BACKLOG {
            match sock.accept() {
                Ok((conn, peer)) => {
                    if let Some(peer) = peer.as_socket() {
                        queued.push((std::net::TcpStream::from(conn), peer));
                    }
                }
                Err(_) => break,
            }
        }
        if let Err(e) = sock.shutdown(std::net::Shutdown::Read) {
            tracing::warn!(worker = %self.call.worker, error = %e, "could not stop the stuck worker's listener");
        }
        queued
    }
}

/// Callbacks flagged past the first limit, per plugin, since start.
pub fn stuck_counts() -> Vec<(&'static str, u64)> {
    STUCK.lock().iter().map(|(k, v)| (*k, *v)).collect()
}

/// Starts the watchdog thread.
pub fn spawn(shared: Arc<Shared>, limits: Limits, drain_timeout: Duration) -> std::io::Result<()> {
    let tick = (limits.warn.min(limits.exit) / 4).clamp(Duration::from_millis(5), Duration::from_millis(100));
    std::thread::Builder::new().name("watchdog".into()).spawn(move || {
        let mut drain_started: Option<Instant> = None;
        loop {
            std::thread::sleep(tick);
            if drain_started.is_none() && shared.shutting_down.load(Ordering::Acquire) {
                drain_started = Some(Instant::now());
            }
            let workers = WORKERS.lock().clone();
            if drain_started.is_some_and(|t| t.elapsed() >= drain_timeout + DRAIN_GRACE) {
                let busy: Vec<String> = workers.iter().filter_map(|w| describe(w, current::now_ns())).collect();
                let why = if busy.is_empty() { "workers still closing".to_string() } else { busy.join("; ") };
                exit_now(EXIT_DRAIN, &format!("the drain timeout ({drain_timeout:?}) passed ({why}): exiting anyway"));
            }
            for w in &workers {
                check(w, &workers, limits, &shared);
            }
        }
    })?;
    Ok(())
}

fn describe(w: &WorkerWatch, now: u64) -> Option<String> {
    let call = w.call.in_call()?;
    let ms = now.saturating_sub(call.entered_ns) / 1_000_000;
    Some(format!("{} is inside plugin {}'s {} for {ms} ms", w.call.worker, call.plugin, call.callback))
}

fn check(w: &WorkerWatch, workers: &[Arc<WorkerWatch>], limits: Limits, shared: &Shared) {
    let Some(call) = w.call.in_call() else { return };
    let ran = Duration::from_nanos(current::now_ns().saturating_sub(call.entered_ns));
    if ran >= limits.exit {
        exit_now(
            EXIT_STUCK,
            &format!(
                "plugin {} has been inside its {} for {} ms on {} (limit {} ms); a thread stuck in a plugin \
                 cannot be recovered in-process: exiting for the supervisor to restart the host",
                call.plugin,
                call.callback,
                ran.as_millis(),
                w.call.worker,
                limits.exit.as_millis()
            ),
        );
    }
    if ran >= limits.warn && w.flagged.swap(call.entered_ns, Ordering::AcqRel) != call.entered_ns {
        // Stop the listener first: once the WARN is out, no new connection goes to this worker.
        let queued = w.pause();
        if !queued.is_empty() {
            hand_over(queued, workers, &w.call.worker, shared);
        }
        *STUCK.lock().entry(call.plugin).or_insert(0) += 1;
        tracing::warn!(
            plugin = call.plugin,
            callback = call.callback,
            worker = %w.call.worker,
            "plugin {} has been inside its {} for {} ms (limit {} ms); {} stops taking new connections until it returns",
            call.plugin,
            call.callback,
            ran.as_millis(),
            limits.warn.as_millis(),
            w.call.worker
        );
    }
}

/// Gives connections taken from a stuck worker to one that is not in a
/// plugin call and still listening; without one they are closed (reset).
fn hand_over(
    queued: Vec<(std::net::TcpStream, std::net::SocketAddr)>,
    workers: &[Arc<WorkerWatch>],
    from: &str,
    shared: &Shared,
) {
    let healthy = workers.iter().find(|o| o.call.in_call().is_none() && !o.paused() && o.listener.lock().is_some());
    match healthy {
        Some(to) => {
            tracing::info!(from, to = %to.call.worker, n = queued.len(), "queued connections handed to another worker");
            to.inbox.lock().extend(queued);
            shared.wake_all();
        }
        None => tracing::warn!(from, n = queued.len(), "no healthy worker: queued connections closed"),
    }
}

/// Logs `why` and ends the process at once: no destructor or atexit
/// handler runs, since one could wait on the stuck thread.
fn exit_now(code: i32, why: &str) -> ! {
    tracing::error!("{why}");
    eprintln!("plugin-host: {why}");
    // SAFETY: _exit only ends the process.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::current::Calling;
    use crate::plugins::Generation;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::sync::mpsc;

    #[test]
    fn a_stuck_worker_is_counted_its_listener_stopped_its_queue_handed_over_and_resumed() {
        // Bound to its port by number, as `main` binds workers' listeners: a socket bound
        // to port 0 gives its port up when stopped.
        let addr = TcpListener::bind("127.0.0.1:0").and_then(|p| p.local_addr()).expect("a free port");
        let listener = TcpListener::bind(addr).expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let fd = listener.as_raw_fd();
        // A worker inside a plugin callback until told to return.
        let (inside_tx, inside_rx) = mpsc::channel();
        let (leave_tx, leave_rx) = mpsc::channel::<()>();
        let stuck = std::thread::spawn(move || {
            let watch = WorkerWatch::register("worker-stuck", fd);
            let calling = Calling::enter("plugin-x", "a transform event");
            inside_tx.send(watch.clone()).expect("report");
            let _ = leave_rx.recv_timeout(Duration::from_secs(10));
            drop(calling);
            watch
        });
        let healthy = std::thread::spawn(|| WorkerWatch::register("worker-healthy", -1)).join().expect("register");
        let w = inside_rx.recv_timeout(Duration::from_secs(10)).expect("the worker is inside");
        let queued = TcpStream::connect(addr).expect("a connection waiting in the accept queue");
        // connect() returns on the SYN-ACK; the listener queues the connection when it takes
        // the ACK, which a loaded machine may process later (in ksoftirqd).
        let mut ready = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd, for the duration of the call.
        assert_eq!(unsafe { libc::poll(&mut ready, 1, 10_000) }, 1, "the connection reaches the accept queue");

        let shared = Shared::new(Arc::new(Generation::from_modules(Vec::new())));
        let limits = Limits { warn: Duration::from_millis(1), exit: Duration::from_secs(3600) };
        // Wait on the clock the watchdog reads, not a fixed sleep: the coarse clock moves in
        // ticks (4 ms at HZ=250, 10 ms at HZ=100, later on a starved VM).
        let entered = w.call.in_call().expect("published").entered_ns;
        let deadline = Instant::now() + Duration::from_secs(10);
        while current::now_ns().saturating_sub(entered) < 2 * limits.warn.as_nanos() as u64 && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        let workers = vec![w.clone(), healthy.clone()];
        check(&w, &workers, limits, &shared);
        assert!(w.paused(), "past the first limit the listener is stopped");
        assert!(stuck_counts().iter().any(|(p, n)| *p == "plugin-x" && *n >= 1), "{:?}", stuck_counts());
        let handed = healthy.take_inbox();
        assert_eq!(handed.len(), 1, "the queued connection goes to the healthy worker");
        assert_eq!(handed[0].1, queued.local_addr().expect("client addr"));
        assert!(TcpStream::connect(addr).is_err(), "a stopped listener takes no new connection");
        check(&w, &workers, limits, &shared);
        assert_eq!(
            stuck_counts().iter().find(|(p, _)| *p == "plugin-x").map(|(_, n)| *n),
            Some(1),
            "one call, one flag"
        );

        leave_tx.send(()).expect("leave");
        let w = stuck.join().expect("the worker thread");
        w.resume();
        assert!(!w.paused());
        assert!(TcpStream::connect(addr).is_ok(), "back from the plugin, the listener takes connections again");
        drop(listener);
    }
}
