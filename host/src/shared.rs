//! State shared by every worker thread: shutdown flag, connection count,
//! and the wakers that let the signal thread interrupt each `Poll`.

use crate::plugins::Generation;
use mio::Waker;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Process-wide flags and counters; per-transaction state never lives here.
pub struct Shared {
    /// Set once by SIGTERM/SIGINT: stop accepting, drain, exit.
    pub shutting_down: AtomicBool,
    /// Open client connections across all workers.
    pub connections: AtomicUsize,
    wakers: Mutex<Vec<Waker>>,
    /// The plugins new transactions start with; a transaction keeps the one it began with.
    generation: RwLock<Arc<Generation>>,
}

impl Shared {
    /// Shared state serving `generation`.
    pub fn new(generation: Arc<Generation>) -> Self {
        Shared {
            shutting_down: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            wakers: Mutex::new(Vec::new()),
            generation: RwLock::new(generation),
        }
    }

    /// The current generation of plugins.
    pub fn generation(&self) -> Arc<Generation> {
        self.generation.read().clone()
    }

    /// Swaps in a new generation; transactions in flight keep theirs.
    pub fn set_generation(&self, generation: Arc<Generation>) -> Arc<Generation> {
        std::mem::replace(&mut *self.generation.write(), generation)
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
