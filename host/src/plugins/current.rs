//! Which plugin this thread is calling into, and in which entry point, so
//! that what the plugin says through the host (its log lines) carries its
//! name without the plugin passing it, and so that faults can name the
//! callback they happened in.

use std::cell::Cell;

thread_local! {
    /// The plugin name (borrowed from its module, alive for the call) and
    /// the entry point. No destructor: a `Cell` of plain pointers.
    static CURRENT: Cell<Option<(*const str, &'static str)>> = const { Cell::new(None) };
}

/// Marks this thread as inside a plugin's entry point until dropped; nested
/// calls restore the outer one.
pub(crate) struct Calling {
    outer: Option<(*const str, &'static str)>,
}

impl Calling {
    /// Enters `plugin`'s entry point `callback`. `plugin` must outlive the guard.
    pub(crate) fn enter(plugin: &str, callback: &'static str) -> Calling {
        let outer = CURRENT.with(|c| c.replace(Some((plugin as *const str, callback))));
        Calling { outer }
    }
}

impl Drop for Calling {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.outer));
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
