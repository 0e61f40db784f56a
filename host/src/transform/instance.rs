//! A transform instance: a plugin-owned object the host must destroy exactly
//! once, through the plugin's own `transform_destroy`.

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

use plugin_sdk::ffi::{Handle, IoCtx, STATUS_PANIC};

use super::plugin::PluginRef;

/// Live transform instances in the process (see [`super::live_counts`]).
pub(super) static LIVE_TRANSFORMS: AtomicUsize = AtomicUsize::new(0);

/// One transform instance; destroyed on drop.
pub struct Instance {
    plugin: PluginRef,
    ptr: *mut c_void,
    alive: bool,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("plugin", &self.plugin.name()).field("alive", &self.alive).finish()
    }
}

impl Instance {
    /// Takes ownership of `ptr`, an instance `plugin` handed over in `txn_add_transform`.
    pub(crate) fn new(plugin: PluginRef, ptr: *mut c_void) -> Self {
        LIVE_TRANSFORMS.fetch_add(1, Ordering::Relaxed);
        Instance { plugin, ptr, alive: true }
    }

    pub(crate) fn plugin(&self) -> &PluginRef {
        &self.plugin
    }

    /// Delivers one event, entering the plugin at `now` (a coarse clock
    /// reading taken moments ago); returns the plugin's status and the
    /// reading taken once it returned.
    pub(super) fn call_at(&self, io: *mut IoCtx, event: u32, vio: Handle, now: u64) -> (i32, u64) {
        if !self.alive {
            return (plugin_sdk::ffi::STATUS_OK, now);
        }
        // SAFETY: `ptr` is a live instance of this plugin (alive), `io`
        // points at the chain's state for this call.
        unsafe { self.plugin.transform_event(self.ptr, io, event, vio, now) }
    }

    /// Destroys the instance (idempotent).
    pub(super) fn destroy(&mut self) {
        if !self.alive {
            return;
        }
        self.alive = false;
        LIVE_TRANSFORMS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: destroyed exactly once (alive flag), by its own plugin.
        let status = unsafe { self.plugin.transform_destroy(self.ptr) };
        if status == STATUS_PANIC {
            self.plugin.count_panic("transform destroy");
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.destroy();
    }
}
