//! What the engine needs of a plugin, and no more: its name, the counters
//! the engine keeps for it, and its transform entry points. The loader
//! implements [`TransformPlugin`] for its loaded modules; the engine holds
//! each by [`PluginRef`], which also keeps the plugin's library loaded for
//! as long as an instance, a chain or a block of its bytes needs it.

use std::ffi::c_void;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use plugin_sdk::ffi::{Handle, IoCtx};

/// Per-plugin counters, shared by every worker thread. The engine counts
/// bytes, aborts and the faults it sees; the loader and the bridge count
/// transactions and the faults of hooks.
#[derive(Debug, Default)]
pub struct PluginStats {
    /// Transactions whose hooks ran this plugin.
    pub transactions: AtomicU64,
    /// Body bytes that entered this plugin's transforms.
    pub bytes_in: AtomicU64,
    /// Body bytes that left this plugin's transforms.
    pub bytes_out: AtomicU64,
    /// Transform chains with this plugin torn down before the end of the body.
    pub aborts: AtomicU64,
    /// Panics caught in this plugin's code.
    pub panics: AtomicU64,
    /// Protocol errors (bad handles, broken VIO rules) charged to this plugin.
    pub protocol_errors: AtomicU64,
}

/// A plugin as the VIO engine sees it. See the module docs.
pub trait TransformPlugin: Send + Sync {
    /// The plugin's name, for faults and the log.
    fn name(&self) -> &str;

    /// The counters the engine adds to.
    fn stats(&self) -> &PluginStats;

    /// Delivers `event` about `vio` to `instance`, entering the plugin at
    /// `now`, a [`crate::clock::coarse_ns`] reading taken moments ago.
    /// Returns the plugin's status and a reading taken once it returned, so
    /// a chain's run of events reads the clock once per event.
    ///
    /// # Safety
    /// `instance` must be a live instance this plugin handed over, and `io`
    /// a context valid for the call.
    unsafe fn transform_event(
        &self,
        instance: *mut c_void,
        io: *mut IoCtx,
        event: u32,
        vio: Handle,
        now: u64,
    ) -> (i32, u64);

    /// Destroys `instance`; returns the plugin's status.
    ///
    /// # Safety
    /// `instance` must be a live instance of this plugin, destroyed once.
    unsafe fn transform_destroy(&self, instance: *mut c_void) -> i32;

    /// Counts a panic the plugin just reported (right after the call that
    /// returned it, on the same thread), logs it, and returns its message.
    fn count_panic(&self, during: &str) -> Option<String>;
}

/// A shared handle on a plugin; see [`TransformPlugin`].
pub type PluginRef = Arc<dyn TransformPlugin>;
