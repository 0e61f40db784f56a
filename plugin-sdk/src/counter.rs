//! Named counters a plugin keeps and the host reports under the plugin's
//! entry in `/stats`.
//!
//! Register each counter once, in [`Plugin::init`](crate::Plugin::init),
//! and keep it in the plugin value; increment it from any hook or transform,
//! on any thread. An increment is one relaxed atomic add on memory the
//! plugin owns: no lock, no call into the host. The host reads the values
//! only when someone asks for `/stats`.
//!
//! ```
//! use plugin_sdk::{Counter, Plugin, Txn};
//!
//! pub struct Seen {
//!     requests: Counter,
//! }
//!
//! impl Plugin for Seen {
//!     fn init(_args: &[String]) -> Result<Self, String> {
//!         Ok(Seen { requests: Counter::register("requests") })
//!     }
//!     fn read_request_headers(&self, _txn: &mut Txn<'_>) {
//!         self.requests.inc();
//!     }
//! }
//!
//! let (plugin, counters) = plugin_sdk::testing::init_plugin::<Seen>(&[]).expect("init");
//! plugin.requests.add(2);
//! assert_eq!(counters.values(), vec![("requests".to_string(), 2)]);
//! ```

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

struct Inner {
    name: String,
    value: AtomicU64,
}

/// A named counter. Cloning it shares the value. See the module docs.
#[derive(Clone)]
pub struct Counter(Arc<Inner>);

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counter({}={})", self.0.name, self.get())
    }
}

thread_local! {
    /// The registry of the `init` running on this thread, if any. A plain
    /// pointer, so the thread-local has no destructor (see `export`).
    static REGISTRY: Cell<*mut Vec<Counter>> = const { Cell::new(std::ptr::null_mut()) };
}

impl Counter {
    /// Registers a counter named `name` (lower_snake_case, unique in this
    /// plugin; the host shows it as is). Call it during
    /// [`Plugin::init`](crate::Plugin::init): a counter registered at any
    /// other time still counts, but is not reported.
    pub fn register(name: &str) -> Counter {
        let counter = Counter(Arc::new(Inner { name: name.to_string(), value: AtomicU64::new(0) }));
        REGISTRY.with(|r| {
            let reg = r.get();
            if !reg.is_null() {
                // SAFETY: set by `collect` to a Vec alive for the whole init call on this thread.
                unsafe { (*reg).push(counter.clone()) };
            }
        });
        counter
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.value.fetch_add(n, Ordering::Relaxed);
    }

    /// The value now.
    pub fn get(&self) -> u64 {
        self.0.value.load(Ordering::Relaxed)
    }

    /// The counter's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }
}

/// The counters one plugin registered during its `init`, in order.
#[derive(Debug, Default, Clone)]
pub struct Counters(Vec<Counter>);

impl Counters {
    /// Runs `init`, collecting every counter it registers on this thread.
    pub(crate) fn collect<T>(init: impl FnOnce() -> T) -> (T, Counters) {
        let mut registered = Vec::new();
        let outer = REGISTRY.with(|r| r.replace(&mut registered));
        // Restores the outer registry even if `init` panics.
        struct Restore(*mut Vec<Counter>);
        impl Drop for Restore {
            fn drop(&mut self) {
                REGISTRY.with(|r| r.set(self.0));
            }
        }
        let restore = Restore(outer);
        let out = init();
        drop(restore);
        (out, Counters(registered))
    }

    /// Counter `index`, if there is one.
    pub(crate) fn get(&self, index: usize) -> Option<&Counter> {
        self.0.get(index)
    }

    /// Every counter's name and value, in registration order.
    pub fn values(&self) -> Vec<(String, u64)> {
        self.0.iter().map(|c| (c.name().to_string(), c.get())).collect()
    }
}
