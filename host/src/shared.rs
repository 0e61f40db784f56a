//! State shared by every worker thread: shutdown flag, connection count,
//! and the wakers that let the signal thread interrupt each `Poll`.

use mio::Waker;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Process-wide flags and counters; per-transaction state never lives here.
#[derive(Default)]
pub struct Shared {
    /// Set once by SIGTERM/SIGINT: stop accepting, drain, exit.
    pub shutting_down: AtomicBool,
    /// Open client connections across all workers.
    pub connections: AtomicUsize,
    wakers: Mutex<Vec<Waker>>,
}

impl Shared {
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
