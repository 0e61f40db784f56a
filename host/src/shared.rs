//! State shared by every worker thread: shutdown flag, connection count,
//! the wakers that let the signal thread interrupt each `Poll`, the current
//! plugin generation and what reloads did.

use crate::plugins::Generation;
use arc_swap::ArcSwap;
use mio::Waker;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use crate::metrics::Metrics;
use crate::reload::{Outcome, Reloads};

/// What reloads did so far.
#[derive(Debug, Default)]
pub struct ReloadStats {
    /// Reloads that swapped in a new generation.
    pub succeeded: AtomicU64,
    /// Reloads that changed nothing because something was refused.
    pub failed: AtomicU64,
    /// Why the last failed reload failed.
    pub last_failure: Mutex<Option<String>>,
}

/// Process-wide flags and counters; per-transaction state never lives here.
pub struct Shared {
    /// Set once by SIGTERM/SIGINT: stop accepting, drain, exit.
    pub shutting_down: AtomicBool,
    /// Open client connections across all workers.
    pub connections: AtomicUsize,
    wakers: Mutex<Vec<Waker>>,
    /// The plugins new transactions start with; a transaction keeps the one it began with.
    generation: ArcSwap<Generation>,
    /// Every generation swapped in so far, while something still holds it.
    generations: Mutex<Vec<Weak<Generation>>>,
    /// What reloads did.
    pub reloads: ReloadStats,
    /// Every worker's per-transaction numbers, for `GET /metrics`.
    pub metrics: Metrics,
    /// The reload thread's queue; unset when the host runs without plugins.
    reloader: OnceLock<Reloads>,
}

impl Shared {
    /// Shared state serving `generation`.
    pub fn new(generation: Arc<Generation>) -> Self {
        Shared {
            shutting_down: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            wakers: Mutex::new(Vec::new()),
            generations: Mutex::new(vec![Arc::downgrade(&generation)]),
            generation: ArcSwap::new(generation),
            reloads: ReloadStats::default(),
            metrics: Metrics::default(),
            reloader: OnceLock::new(),
        }
    }

    /// Connects the reload thread (once, at start).
    pub fn set_reloader(&self, reloads: Reloads) {
        let _ = self.reloader.set(reloads);
    }

    /// Plugin images mapped so far (0 without plugins).
    pub fn plugin_images(&self) -> usize {
        self.reloader.get().map_or(0, Reloads::images)
    }

    /// Queues a reload (SIGHUP); says why in the log if reloads are off.
    pub fn request_reload(&self) {
        match self.reloader.get() {
            Some(r) => r.request(),
            None => tracing::warn!("reload ignored: the host runs with --no-plugins; restart it with --config"),
        }
    }

    /// Queues a reload and waits for its outcome (`POST /reload`).
    pub fn reload_and_wait(&self, timeout: std::time::Duration) -> Outcome {
        match self.reloader.get() {
            Some(r) => r.request_and_wait(timeout).unwrap_or_else(|| {
                Outcome::Ignored(format!("no outcome within {} s; see the host's log", timeout.as_secs()))
            }),
            None => Outcome::Ignored("the host runs with --no-plugins; restart it with --config".into()),
        }
    }

    /// The current generation of plugins.
    pub fn generation(&self) -> Arc<Generation> {
        self.generation.load_full()
    }

    /// The current generation for a new transaction, `None` when it has no
    /// plugins. Only a generation with plugins is kept (an `Arc` clone, an
    /// atomic add on a count every worker shares); without plugins a
    /// transaction reads the slot through arc-swap's thread-local guard and
    /// writes nothing shared.
    pub fn generation_for_txn(&self) -> Option<Arc<Generation>> {
        let current = self.generation.load();
        (!current.is_empty()).then(|| arc_swap::Guard::into_inner(current))
    }

    /// Swaps in a new generation in one store; transactions in flight keep theirs.
    pub fn set_generation(&self, generation: Arc<Generation>) -> Arc<Generation> {
        let mut live = self.generations.lock();
        live.retain(|g| g.strong_count() > 0);
        live.push(Arc::downgrade(&generation));
        self.generation.swap(generation)
    }

    /// The generations still alive (the current one and any old one a
    /// transaction or transform still holds), oldest first.
    pub fn live_generations(&self) -> Vec<Arc<Generation>> {
        self.generations.lock().iter().filter_map(Weak::upgrade).collect()
    }

    /// Registers a worker's waker.
    pub fn add_waker(&self, waker: Waker) {
        self.wakers.lock().push(waker);
    }

    /// Interrupts every worker's poll so it looks at the flags.
    pub fn wake_all(&self) {
        for w in self.wakers.lock().iter() {
            if let Err(e) = w.wake() {
                tracing::warn!(error = %e, "could not wake a worker");
            }
        }
    }

    /// Starts a graceful shutdown.
    pub fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.wake_all();
    }
}
