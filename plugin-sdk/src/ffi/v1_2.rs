//! ABI 1.2, frozen: the tables as plugins built against plugin-sdk ABI 1.2
//! have them. **Not meant to be used directly**: the host checks a 1.2
//! plugin's layout against [`AbiRoot`] here and reads only this much of its
//! entry table.
//!
//! Type and field names match the 1.2 originals exactly: the layout check
//! compares names, so a frozen copy must be indistinguishable from the
//! original. Never edit this file; a new minor adds a new frozen module.
//! 1.3 appended to the entry table only, so the host table and the other
//! boundary types are shared with the current ABI until a minor changes them.

use std::ffi::c_void;

use abi_stable::StableAbi;

use super::{ByteSlice, ErrorBuf, Handle, HostTable, IoCtx, OwnedBytes, StaticStr, TxnCtx};

/// The 1.2 entry table: [`super::PluginTable`] up to `counter_at`.
#[repr(C)]
#[derive(StableAbi)]
pub struct PluginTable {
    /// `size_of::<PluginTable>()` as built by the plugin.
    pub size: usize,
    /// Creates the plugin-global state from `args`; stores it in `state_out`
    /// (plugin-owned until `fini`). On error writes a message into `err`.
    pub init: unsafe extern "C" fn(
        host: *const HostTable,
        args: *const ByteSlice,
        nargs: usize,
        state_out: *mut *mut c_void,
        err: ErrorBuf,
    ) -> i32,
    /// Drops the plugin-global state. Called once, after every instance is destroyed.
    pub fini: unsafe extern "C" fn(state: *mut c_void) -> i32,
    /// Runs hook [`super::hook_id`] `hook` for one transaction.
    pub hook: unsafe extern "C" fn(host: *const HostTable, state: *mut c_void, hook: u32, txn: *mut TxnCtx) -> i32,
    /// Delivers `event` about `vio` (0 if none) to a transform instance.
    pub transform_event: unsafe extern "C" fn(
        host: *const HostTable,
        instance: *mut c_void,
        io: *mut IoCtx,
        event: u32,
        vio: Handle,
    ) -> i32,
    /// Drops a transform instance. Called once per instance the host accepted.
    pub transform_destroy: unsafe extern "C" fn(instance: *mut c_void) -> i32,
    /// ABI 1.1. Right after another entry of this table returned
    /// [`super::STATUS_PANIC`], on the same thread: writes the panic's message
    /// into `out` and returns 1, or returns 0 if there is none. Absent
    /// from 1.0 plugins, whose panics the host reports without a message.
    pub panic_message: unsafe extern "C" fn(out: ErrorBuf) -> i32,
    /// ABI 1.2. Drops a per-transaction state stored with `txn_state_set`.
    /// Called once per stored state, on the transaction's thread.
    pub txn_state_drop: unsafe extern "C" fn(state: *mut c_void) -> i32,
    /// ABI 1.2. Counter `index` of the plugin whose global state is
    /// `state`: its name into `name` (valid until `fini`) and its value
    /// into `value`; returns 1, or 0 past the last counter. May be called
    /// from any thread, concurrently with hooks and transforms. The host
    /// reads indices 0, 1, ... in order until 0 is returned; which counters
    /// sit at which index may change from one such read to the next (the
    /// SDK ranks a `CounterGroup` anew when a read reaches its first index).
    pub counter_at:
        unsafe extern "C" fn(state: *mut c_void, index: usize, name: *mut ByteSlice, value: *mut u64) -> i32,
}

/// The 1.2 root of every boundary type (see [`super::AbiRoot`]).
#[repr(C)]
#[derive(StableAbi)]
pub struct AbiRoot {
    /// The host table.
    pub host: HostTable,
    /// The plugin table, 1.2 edition.
    pub plugin: PluginTable,
    /// Owned bytes.
    pub owned: OwnedBytes,
    /// Error buffer.
    pub err: ErrorBuf,
    /// Static strings.
    pub name: StaticStr,
}
