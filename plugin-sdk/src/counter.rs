//! Named counters a plugin keeps and the host reports under the plugin's
//! entry in `/stats` (and `/metrics`).
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
//!
//! # Many counters, the busiest shown
//!
//! A plugin with one counter per rule (per pattern, per route) may have
//! thousands; `/stats` would drown in them. A [`CounterGroup`] keeps one
//! counter per name, all of them counting, and the host is shown only the
//! `k` largest, largest first (ties: the earlier name first; counters still
//! at zero are not shown). The host is shown every plain [`Counter`] first,
//! in registration order, then each group's ranking, in registration order.
//!
//! ```
//! use plugin_sdk::{Counter, CounterGroup, Plugin};
//!
//! pub struct Routes {
//!     requests: Counter,
//!     per_route: CounterGroup,
//! }
//!
//! impl Plugin for Routes {
//!     fn init(_args: &[String]) -> Result<Self, String> {
//!         let names = ["route:/a", "route:/b", "route:/c"].map(String::from).to_vec();
//!         Ok(Routes { requests: Counter::register("requests"), per_route: CounterGroup::register_top(names, 2) })
//!     }
//! }
//!
//! let (plugin, counters) = plugin_sdk::testing::init_plugin::<Routes>(&[]).expect("init");
//! plugin.requests.add(6);
//! plugin.per_route.add(0, 1);
//! plugin.per_route.add(2, 5);
//! plugin.per_route.add(1, 1);
//! let shown = [("requests", 6), ("route:/c", 5), ("route:/a", 1)].map(|(n, v)| (n.to_string(), v));
//! assert_eq!(counters.values(), shown.to_vec());
//! ```

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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

/// What one `init` registered, in order.
#[derive(Default)]
struct Registry {
    counters: Vec<Counter>,
    groups: Vec<CounterGroup>,
}

thread_local! {
    /// The registry of the `init` running on this thread, if any. A plain
    /// pointer, so the thread-local has no destructor (see `export`).
    static REGISTRY: Cell<*mut Registry> = const { Cell::new(std::ptr::null_mut()) };
}

/// Hands `f` the registry of the `init` running on this thread, if any.
fn with_registry(f: impl FnOnce(&mut Registry)) {
    REGISTRY.with(|r| {
        let reg = r.get();
        if !reg.is_null() {
            // SAFETY: set by `collect` to a Registry alive for the whole init call on this thread.
            f(unsafe { &mut *reg });
        }
    });
}

impl Counter {
    /// Registers a counter named `name` (lower_snake_case, unique in this
    /// plugin; the host shows it as is). Call it during
    /// [`Plugin::init`](crate::Plugin::init): a counter registered at any
    /// other time still counts, but is not reported.
    pub fn register(name: &str) -> Counter {
        let counter = Counter(Arc::new(Inner { name: name.to_string(), value: AtomicU64::new(0) }));
        with_registry(|r| r.counters.push(counter.clone()));
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

struct Group {
    names: Vec<String>,
    values: Vec<AtomicU64>,
    top: usize,
    /// The ranking the host is being shown: taken when a read of the
    /// counters reaches the group's first place, reused for its next places,
    /// so one read sees one list, without a name twice.
    shown: Mutex<Vec<(usize, u64)>>,
}

/// Counters `0..names.len()`, of which the host is shown the `k` largest.
/// Cloning it shares the values. See the [module docs](self).
#[derive(Clone)]
pub struct CounterGroup(Arc<Group>);

impl std::fmt::Debug for CounterGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CounterGroup({} counters, top {})", self.len(), self.0.top)
    }
}

impl CounterGroup {
    /// Registers one counter per name (each unique in this plugin, shown as
    /// is), of which the host is shown the `k` largest; `k` 0 shows none,
    /// and the counters still count. Call it during
    /// [`Plugin::init`](crate::Plugin::init), as [`Counter::register`].
    pub fn register_top(names: Vec<String>, k: usize) -> CounterGroup {
        let values = names.iter().map(|_| AtomicU64::new(0)).collect();
        let group = CounterGroup(Arc::new(Group { names, values, top: k, shown: Mutex::new(Vec::new()) }));
        with_registry(|r| r.groups.push(group.clone()));
        group
    }

    /// Adds `n` to counter `index` (nothing if there is no such counter).
    pub fn add(&self, index: usize, n: u64) {
        if let Some(v) = self.0.values.get(index) {
            v.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The value of counter `index` now (0 if there is no such counter).
    pub fn get(&self, index: usize) -> u64 {
        self.0.values.get(index).map_or(0, |v| v.load(Ordering::Relaxed))
    }

    /// How many counters the group has.
    pub fn len(&self) -> usize {
        self.0.values.len()
    }

    /// Whether the group has no counters.
    pub fn is_empty(&self) -> bool {
        self.0.values.is_empty()
    }

    /// The `k` largest counters now, as `(index, value)`: largest first,
    /// ties by index, none at zero.
    pub fn top(&self) -> Vec<(usize, u64)> {
        let mut ranked: Vec<(usize, u64)> =
            self.0.values.iter().map(|v| v.load(Ordering::Relaxed)).enumerate().filter(|&(_, v)| v > 0).collect();
        let by_rank = |a: &(usize, u64), b: &(usize, u64)| b.1.cmp(&a.1).then(a.0.cmp(&b.0));
        if ranked.len() > self.0.top && self.0.top > 0 {
            ranked.select_nth_unstable_by(self.0.top - 1, by_rank);
        }
        ranked.truncate(self.0.top);
        ranked.sort_unstable_by(by_rank);
        ranked
    }

    /// Place `place` of the ranking shown, as name and value; place 0 takes
    /// a new ranking. The name lives as long as the group.
    fn shown_at(&self, place: usize) -> Option<(&str, u64)> {
        let mut shown = self.0.shown.lock().unwrap_or_else(PoisonError::into_inner);
        if place == 0 {
            *shown = self.top();
        }
        let &(index, value) = shown.get(place)?;
        Some((self.0.names.get(index)?.as_str(), value))
    }

    /// How many places the ranking last taken has.
    fn shown_len(&self) -> usize {
        self.0.shown.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// The counters one plugin registered during its `init`.
#[derive(Default, Clone)]
pub struct Counters {
    counters: Vec<Counter>,
    groups: Vec<CounterGroup>,
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters").field("counters", &self.counters).field("groups", &self.groups).finish()
    }
}

impl Counters {
    /// Runs `init`, collecting every counter it registers on this thread.
    pub(crate) fn collect<T>(init: impl FnOnce() -> T) -> (T, Counters) {
        let mut registered = Registry::default();
        let outer = REGISTRY.with(|r| r.replace(&mut registered));
        // Restores the outer registry even if `init` panics.
        struct Restore(*mut Registry);
        impl Drop for Restore {
            fn drop(&mut self) {
                REGISTRY.with(|r| r.set(self.0));
            }
        }
        let restore = Restore(outer);
        let out = init();
        drop(restore);
        (out, Counters { counters: registered.counters, groups: registered.groups })
    }

    /// Place `index` of what the host is shown, as name and value: the
    /// counters, then each group's ranking. Read places 0, 1, ... in order
    /// until `None`: reaching a group's first place ranks the group anew.
    /// The name lives as long as these counters.
    pub(crate) fn at(&self, index: usize) -> Option<(&str, u64)> {
        if let Some(c) = self.counters.get(index) {
            return Some((c.name(), c.get()));
        }
        let mut place = index - self.counters.len();
        for group in &self.groups {
            if place == 0 {
                if let Some(shown) = group.shown_at(0) {
                    return Some(shown);
                }
                continue;
            }
            let len = group.shown_len();
            if place < len {
                return group.shown_at(place);
            }
            place -= len;
        }
        None
    }

    /// What the host is shown now, in its order: every counter's name and
    /// value, then each group's ranking.
    pub fn values(&self) -> Vec<(String, u64)> {
        (0..).map_while(|i| self.at(i)).map(|(n, v)| (n.to_string(), v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn a_group_shows_its_top_k_largest_first_ties_by_index_no_zeros() {
        let ((plain, group), counters) =
            Counters::collect(|| (Counter::register("plain"), CounterGroup::register_top(names(6), 3)));
        plain.add(9);
        assert_eq!(counters.values(), vec![("plain".to_string(), 9)], "zeros are not shown");
        for (i, n) in [(1, 2), (4, 7), (2, 2), (5, 1), (3, 2)] {
            group.add(i, n);
        }
        group.add(99, 1); // no such counter: ignored, not a panic
        let want = [("plain", 9), ("c4", 7), ("c1", 2), ("c2", 2)].map(|(n, v)| (n.to_string(), v));
        assert_eq!(counters.values(), want.to_vec());
        assert_eq!((group.get(3), group.get(99), group.len()), (2, 0, 6));
    }

    #[test]
    fn one_read_sees_one_ranking_even_if_values_change_during_it() {
        let (group, counters) = Counters::collect(|| CounterGroup::register_top(names(3), 2));
        group.add(0, 5);
        group.add(1, 4);
        assert_eq!(counters.at(0), Some(("c0", 5)));
        // c1 overtakes c0 mid-read: the read goes on with the ranking it took.
        group.add(1, 10);
        assert_eq!(counters.at(1), Some(("c1", 4)));
        assert_eq!(counters.at(2), None);
        assert_eq!(counters.values(), [("c1", 14), ("c0", 5)].map(|(n, v)| (n.to_string(), v)).to_vec());
    }

    #[test]
    fn groups_follow_each_other_and_k_zero_shows_none() {
        let ((a, none, b), counters) = Counters::collect(|| {
            let a = CounterGroup::register_top(names(2), 5);
            let none = CounterGroup::register_top(vec!["hidden".into()], 0);
            let b = CounterGroup::register_top(vec!["b0".into(), "b1".into()], 1);
            (a, none, b)
        });
        none.add(0, 100);
        assert!(counters.values().is_empty(), "{:?}", counters.values());
        a.add(1, 1);
        b.add(0, 1);
        b.add(1, 3);
        let want = [("c1", 1), ("b1", 3)].map(|(n, v)| (n.to_string(), v));
        assert_eq!(counters.values(), want.to_vec());
        assert_eq!(none.get(0), 100);
    }

    #[test]
    fn outside_init_a_group_counts_without_being_registered() {
        let g = CounterGroup::register_top(names(2), 2);
        g.add(1, 3);
        assert_eq!(g.top(), vec![(1, 3)]);
        let ((), counters) = Counters::collect(|| ());
        assert!(counters.values().is_empty());
    }
}
