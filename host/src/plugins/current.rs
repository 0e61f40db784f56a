//! Which plugin this thread is calling into, and in which entry point, so
//! that what the plugin says through the host (its log lines) carries its
//! name without the plugin passing it, and so that faults can name the
//! callback they happened in.
//!
//! A worker thread also *publishes* it: [`register_worker`] gives the
//! thread a [`CallSlot`] of atomics that says since when it has been inside
//! which plugin's callback, so another thread (the watchdog) can see a
//! callback that never returns. Entering a callback costs one coarse clock
//! read ([`crate::clock`]) and three relaxed-or-release stores, leaving it
//! one more read; in a run of calls (a chain's events, a transaction's
//! hooks) each call enters at the reading the one before left with, so
//! the run reads the clock once per call. Names are interned once, when a module is loaded
//! ([`CallId`]), so entering a callback looks nothing up and the slot holds
//! small numbers, never a pointer into a plugin's memory that could be
//! unloaded while the watchdog reads it.

use parking_lot::Mutex;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

thread_local! {
    /// The plugin name (borrowed from its module, alive for the call) and
    /// the entry point. No destructor: a `Cell` of plain pointers.
    static CURRENT: Cell<Option<(*const str, &'static str)>> = const { Cell::new(None) };
    /// This worker's published slot, if the thread is a worker: a plain
    /// reference (no destructor, no borrow flag) to the slot, which
    /// [`register_worker`] leaks so it lives as long as the process.
    static SLOT: Cell<Option<&'static CallSlot>> = const { Cell::new(None) };
    /// The last callback on this thread that ran for [`LONG_CALL`] or more.
    static LAST_LONG: Cell<Option<LongCall>> = const { Cell::new(None) };
}

/// A callback this long is remembered (see [`long_call_since`]), so a
/// timeout it caused on other transactions of the worker can name it.
pub const LONG_CALL: Duration = Duration::from_millis(100);

/// Every distinct plugin and callback name seen, by id. Bounded by the
/// names plugin.config lines have ever carried: each is leaked once.
static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
/// Every worker's slot, in registration order.
static SLOTS: Mutex<Vec<Arc<CallSlot>>> = Mutex::new(Vec::new());

/// Nanoseconds on the coarse monotonic clock ([`crate::clock`]), never 0
/// (0 means "not inside").
pub fn now_ns() -> u64 {
    crate::clock::coarse_ns()
}

fn intern(name: &str) -> u32 {
    let mut names = NAMES.lock();
    match names.iter().position(|n| *n == name) {
        Some(i) => i as u32,
        None => {
            names.push(Box::leak(name.to_string().into_boxed_str()));
            (names.len() - 1) as u32
        }
    }
}

/// One plugin's entry point with both names interned: what a worker
/// publishes while inside it. Made once per module and entry point (at
/// load), so a call only stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallId {
    /// `plugin id << 32 | callback id`.
    ids: u64,
    callback: &'static str,
}

impl CallId {
    /// Interns `plugin` and `callback` (a lock and a scan: not per call).
    pub(crate) fn new(plugin: &str, callback: &'static str) -> CallId {
        CallId { ids: (u64::from(intern(plugin)) << 32) | u64::from(intern(callback)), callback }
    }
}

fn name_of(id: u32) -> &'static str {
    NAMES.lock().get(id as usize).copied().unwrap_or("?")
}

/// What a worker publishes about the plugin callback it is in.
#[derive(Debug)]
pub struct CallSlot {
    /// The worker thread's name, for the log.
    pub worker: String,
    /// [`now_ns`] when the current callback began; 0 outside plugins.
    entered: AtomicU64,
    /// `plugin id << 32 | callback id` of the current callback.
    ids: AtomicU64,
}

/// A callback a worker is in, as another thread sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InCall {
    /// [`now_ns`] when it began: the same value means the same call.
    pub entered_ns: u64,
    /// The plugin's name.
    pub plugin: &'static str,
    /// The entry point ("a transform event", "read_response_headers", ...).
    pub callback: &'static str,
}

impl CallSlot {
    /// The callback the worker is in now, if any.
    pub fn in_call(&self) -> Option<InCall> {
        // Read the time, the names, then the time again: if it changed, the
        // call ended (or another began) while reading, and the next look sees it.
        let entered_ns = self.entered.load(Ordering::Acquire);
        let ids = self.ids.load(Ordering::Acquire);
        if entered_ns == 0 || self.entered.load(Ordering::Acquire) != entered_ns {
            return None;
        }
        Some(InCall { entered_ns, plugin: name_of((ids >> 32) as u32), callback: name_of(ids as u32) })
    }

    fn publish(&self, entered: u64, ids: u64) {
        // Clear first so a reader never pairs the new names with the old time.
        self.entered.store(0, Ordering::Release);
        self.ids.store(ids, Ordering::Release);
        self.entered.store(entered, Ordering::Release);
    }
}

/// Makes this thread a worker that publishes its plugin calls; returns its slot.
pub fn register_worker(worker: &str) -> Arc<CallSlot> {
    let slot = Arc::new(CallSlot { worker: worker.to_string(), entered: AtomicU64::new(0), ids: AtomicU64::new(0) });
    // Leaked, so the thread-local can hold it by reference: one per worker thread started.
    let kept: &'static Arc<CallSlot> = Box::leak(Box::new(slot.clone()));
    SLOTS.lock().push(slot.clone());
    SLOT.with(|s| s.set(Some(&**kept)));
    slot
}

/// Every registered worker's slot.
pub fn workers() -> Vec<Arc<CallSlot>> {
    SLOTS.lock().clone()
}

#[derive(Debug, Clone, Copy)]
struct LongCall {
    ids: u64,
    started: Instant,
    ended: Instant,
}

/// The last plugin callback on this thread that ran for [`LONG_CALL`] or
/// more and ended after `since`: (plugin, callback, how long it ran).
pub fn long_call_since(since: Instant) -> Option<(&'static str, &'static str, Duration)> {
    let long = LAST_LONG.with(Cell::get)?;
    (long.ended > since)
        .then(|| (name_of((long.ids >> 32) as u32), name_of(long.ids as u32), long.ended.duration_since(long.started)))
}

/// Marks this thread as inside a plugin's entry point until dropped; nested
/// calls restore the outer one.
pub(crate) struct Calling {
    outer: Option<(*const str, &'static str)>,
    /// What the slot said before this call, restored on drop; `None` on a
    /// thread that publishes nothing.
    published: Option<(u64, u64, u64)>,
    /// [`now_ns`] at entry.
    started_ns: u64,
}

impl Calling {
    /// Enters `plugin`'s entry point `callback`, interning both names: for
    /// calls made once (init, fini) or in tests; the hot paths keep a [`CallId`].
    /// `plugin` must outlive the guard.
    pub(crate) fn enter(plugin: &str, callback: &'static str) -> Calling {
        Calling::enter_id(plugin, CallId::new(plugin, callback))
    }

    /// Enters the entry point `id` of `plugin` (the name `id` was made
    /// from). `plugin` must outlive the guard.
    pub(crate) fn enter_id(plugin: &str, id: CallId) -> Calling {
        Calling::enter_id_at(plugin, id, now_ns())
    }

    /// [`Calling::enter_id`] at `now`: a [`now_ns`] reading the caller took
    /// moments ago, typically the [`Calling::leave`] of the call before, so
    /// that a run of calls reads the clock once per call instead of twice.
    /// The clock's tick (milliseconds) dwarfs the host work in between.
    pub(crate) fn enter_id_at(plugin: &str, id: CallId, now: u64) -> Calling {
        let outer = CURRENT.with(|c| c.replace(Some((plugin as *const str, id.callback))));
        // `try_with`: a plugin called while the thread is being torn down publishes nothing.
        let published = SLOT.try_with(|s| {
            let slot = s.get()?;
            let ids = id.ids;
            let before = (slot.entered.load(Ordering::Relaxed), slot.ids.load(Ordering::Relaxed));
            slot.publish(now, ids);
            Some((before.0, before.1, ids))
        });
        let published = published.ok().flatten();
        Calling { outer, published, started_ns: now }
    }

    /// Leaves the entry point; returns the [`now_ns`] reading taken on the
    /// way out, for the caller's next [`Calling::enter_id_at`].
    pub(crate) fn leave(mut self) -> u64 {
        let now = self.exit();
        // `exit` did what `drop` would: nothing is left to release.
        std::mem::forget(self);
        now
    }

    fn exit(&mut self) -> u64 {
        CURRENT.with(|c| c.set(self.outer));
        let now = now_ns();
        if let Some((entered, ids, mine)) = self.published {
            if let Ok(Some(slot)) = SLOT.try_with(Cell::get) {
                slot.publish(entered, ids);
            }
            let ran = now.saturating_sub(self.started_ns);
            if ran >= LONG_CALL.as_nanos() as u64 {
                // Rare, so the precise clock: callers compare it with their own `Instant`s.
                let ended = Instant::now();
                let ran = Duration::from_nanos(ran);
                let started = ended.checked_sub(ran).unwrap_or(ended);
                let _ = LAST_LONG.try_with(|l| l.set(Some(LongCall { ids: mine, started, ended })));
            }
        }
        now
    }
}

impl Drop for Calling {
    fn drop(&mut self) {
        self.exit();
    }
}

/// Runs `f` with the name of the plugin this thread is calling into and the
/// entry point, if any.
pub fn with_current<T>(f: impl FnOnce(Option<(&str, &'static str)>) -> T) -> T {
    let now = CURRENT.with(Cell::get);
    // SAFETY: the name is borrowed from a module that outlives the `Calling`
    // guard that set it, and the guard is still alive while it is set.
    f(now.map(|(name, callback)| (unsafe { &*name }, callback)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_publishes_the_callback_it_is_in_and_restores_the_outer_one() {
        std::thread::spawn(|| {
            let slot = register_worker("worker-test");
            assert_eq!(slot.in_call(), None);
            let outer = Calling::enter("plugin-a", "read_request_headers");
            let a = slot.in_call().expect("inside plugin-a");
            assert_eq!((a.plugin, a.callback), ("plugin-a", "read_request_headers"));
            {
                let _inner = Calling::enter("plugin-b", "a transform event");
                let b = slot.in_call().expect("inside plugin-b");
                assert_eq!((b.plugin, b.callback), ("plugin-b", "a transform event"));
            }
            assert_eq!(slot.in_call(), Some(a), "the outer call is published again, with its own start");
            drop(outer);
            assert_eq!(slot.in_call(), None);
        })
        .join()
        .expect("the worker thread");
    }
}
