//! A transform instance: a plugin-owned object the host must destroy exactly
//! once, through the plugin's own `transform_destroy`.

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use plugin_sdk::ffi::{Handle, IoCtx, STATUS_PANIC};

use crate::plugins::host_table::HOST_TABLE;
use crate::plugins::module::Module;

/// Live transform instances in the process (see [`super::live_counts`]).
pub(super) static LIVE_TRANSFORMS: AtomicUsize = AtomicUsize::new(0);

/// One transform instance; destroyed on drop.
pub struct Instance {
    module: Arc<Module>,
    ptr: *mut c_void,
    alive: bool,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("plugin", &self.module.name()).field("alive", &self.alive).finish()
    }
}

impl Instance {
    /// Takes ownership of `ptr`, an instance `module` handed over in `txn_add_transform`.
    pub(crate) fn new(module: Arc<Module>, ptr: *mut c_void) -> Self {
        LIVE_TRANSFORMS.fetch_add(1, Ordering::Relaxed);
        Instance { module, ptr, alive: true }
    }

    pub(crate) fn module(&self) -> &Arc<Module> {
        &self.module
    }

    /// Delivers one event; returns the plugin's status.
    pub(super) fn call(&self, io: *mut IoCtx, event: u32, vio: Handle) -> i32 {
        if !self.alive {
            return plugin_sdk::ffi::STATUS_OK;
        }
        // SAFETY: `ptr` is a live instance of this module (alive), `io`
        // points at the chain's state for this call.
        unsafe { (self.module.table().transform_event)(&HOST_TABLE, self.ptr, io, event, vio) }
    }

    /// Destroys the instance (idempotent).
    pub(super) fn destroy(&mut self) {
        if !self.alive {
            return;
        }
        self.alive = false;
        LIVE_TRANSFORMS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: destroyed exactly once (alive flag), with its own module's function.
        let status = unsafe { (self.module.table().transform_destroy)(self.ptr) };
        if status == STATUS_PANIC {
            self.module.count_panic("transform destroy");
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.destroy();
    }
}
