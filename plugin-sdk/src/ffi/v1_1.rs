//! ABI 1.1, frozen: the tables as plugins built against plugin-sdk ABI 1.1
//! have them. **Not meant to be used directly**: the host checks a 1.1
//! plugin's layout against [`AbiRoot`] here and reads only this much of its
//! entry table.
//!
//! Type and field names match the 1.1 originals exactly: the layout check
//! compares names, so a frozen copy must be indistinguishable from the
//! original. Never edit this file; a new minor adds a new frozen module.
//! Field docs are those of the current tables (`super::HostTable`,
//! `super::PluginTable`), which keep every 1.1 field, in order.

use std::ffi::c_void;

use abi_stable::StableAbi;

use super::{ByteSlice, ErrorBuf, Handle, IoCtx, OwnedBytes, StaticStr, TxnCtx};

/// The 1.1 host table: [`super::HostTable`] up to `txn_add_transform`.
#[repr(C)]
#[derive(StableAbi)]
pub struct HostTable {
    /// `size_of::<HostTable>()` as built by the host.
    pub size: usize,
    /// The host's ABI minor version.
    pub abi_minor: u32,
    /// Log `msg` at `level` (0 error, 1 warn, 2 info, 3 debug).
    pub log: unsafe extern "C" fn(level: u32, msg: ByteSlice),

    /// The transform currently handling an event.
    pub transform_self: unsafe extern "C" fn(io: *mut IoCtx) -> Handle,
    /// The output vconnection of the current transform.
    pub transform_output_vconn: unsafe extern "C" fn(io: *mut IoCtx) -> Handle,
    /// Starts a write of `nbytes` (`i64::MAX`: unknown) from `reader` into `vconn`.
    pub vconn_write: unsafe extern "C" fn(io: *mut IoCtx, vconn: Handle, reader: Handle, nbytes: i64) -> Handle,
    /// Starts a read into `buffer`; transforms do not support it (returns 0).
    pub vconn_read: unsafe extern "C" fn(io: *mut IoCtx, vconn: Handle, buffer: Handle, nbytes: i64) -> Handle,
    /// Closes `vconn` normally (propagates down the chain).
    pub vconn_close: unsafe extern "C" fn(io: *mut IoCtx, vconn: Handle) -> i32,
    /// Aborts `vconn` with `error` (propagates down the chain).
    pub vconn_abort: unsafe extern "C" fn(io: *mut IoCtx, vconn: Handle, error: i32) -> i32,
    /// Shuts down the read and/or write side of `vconn` (non-zero = yes).
    pub vconn_shutdown: unsafe extern "C" fn(io: *mut IoCtx, vconn: Handle, read: u8, write: u8) -> i32,
    /// One of [`closed`]'s values.
    pub vconn_closed: unsafe extern "C" fn(io: *mut IoCtx, vconn: Handle) -> i32,
    /// The read VIO of `vconn` (0 if none).
    pub vconn_read_vio: unsafe extern "C" fn(io: *mut IoCtx, vconn: Handle) -> Handle,
    /// The write VIO of `vconn` (0 if none).
    pub vconn_write_vio: unsafe extern "C" fn(io: *mut IoCtx, vconn: Handle) -> Handle,

    /// The VIO's buffer (0 once the operation is shut down).
    pub vio_buffer: unsafe extern "C" fn(io: *mut IoCtx, vio: Handle) -> Handle,
    /// The VIO's reader (write VIOs; 0 once shut down).
    pub vio_reader: unsafe extern "C" fn(io: *mut IoCtx, vio: Handle) -> Handle,
    /// The vconnection the VIO operates on.
    pub vio_vconn: unsafe extern "C" fn(io: *mut IoCtx, vio: Handle) -> Handle,
    /// The VIO's continuation (the vconnection that started it; 0 = the host).
    pub vio_cont: unsafe extern "C" fn(io: *mut IoCtx, vio: Handle) -> Handle,
    /// Total bytes of the operation (`i64::MAX`: unknown).
    pub vio_nbytes_get: unsafe extern "C" fn(io: *mut IoCtx, vio: Handle) -> i64,
    /// Sets the total bytes.
    pub vio_nbytes_set: unsafe extern "C" fn(io: *mut IoCtx, vio: Handle, nbytes: i64) -> i32,
    /// Bytes done so far.
    pub vio_ndone_get: unsafe extern "C" fn(io: *mut IoCtx, vio: Handle) -> i64,
    /// Sets bytes done.
    pub vio_ndone_set: unsafe extern "C" fn(io: *mut IoCtx, vio: Handle, ndone: i64) -> i32,
    /// `nbytes - ndone`.
    pub vio_ntodo: unsafe extern "C" fn(io: *mut IoCtx, vio: Handle) -> i64,
    /// Wakes the VIO's vconnection; the event is queued, never delivered inside this call.
    pub vio_reenable: unsafe extern "C" fn(io: *mut IoCtx, vio: Handle) -> i32,
    /// Sends `event` to the VIO's continuation (queued, as `TSContCall` on the VIO's continuation).
    pub vio_cont_call: unsafe extern "C" fn(io: *mut IoCtx, vio: Handle, event: u32) -> i32,

    /// Creates an IO buffer owned by the current transform.
    pub buffer_create: unsafe extern "C" fn(io: *mut IoCtx) -> Handle,
    /// Destroys an IO buffer (and its readers).
    pub buffer_destroy: unsafe extern "C" fn(io: *mut IoCtx, buffer: Handle) -> i32,
    /// The buffer's water mark in bytes.
    pub buffer_water_mark_get: unsafe extern "C" fn(io: *mut IoCtx, buffer: Handle) -> i64,
    /// Sets the water mark.
    pub buffer_water_mark_set: unsafe extern "C" fn(io: *mut IoCtx, buffer: Handle, mark: i64) -> i32,
    /// Appends a copy of `bytes`.
    pub buffer_append_copy: unsafe extern "C" fn(io: *mut IoCtx, buffer: Handle, bytes: ByteSlice) -> i32,
    /// Appends plugin-owned bytes without copying; ownership moves to the host
    /// even when the call fails (the host then releases them at once).
    pub buffer_append_owned: unsafe extern "C" fn(io: *mut IoCtx, buffer: Handle, bytes: OwnedBytes) -> i32,
    /// Appends `n` bytes of `reader` starting `offset` bytes in, sharing blocks. Returns bytes copied.
    pub buffer_copy: unsafe extern "C" fn(io: *mut IoCtx, dst: Handle, reader: Handle, n: i64, offset: i64) -> i64,
    /// Allocates a reader at the buffer's current start.
    pub reader_alloc: unsafe extern "C" fn(io: *mut IoCtx, buffer: Handle) -> Handle,
    /// Frees a reader.
    pub reader_free: unsafe extern "C" fn(io: *mut IoCtx, reader: Handle) -> i32,
    /// Bytes readable.
    pub reader_avail: unsafe extern "C" fn(io: *mut IoCtx, reader: Handle) -> i64,
    /// Block `index` of the readable bytes into `out`; returns 1, or 0 past the last block.
    pub reader_block: unsafe extern "C" fn(io: *mut IoCtx, reader: Handle, index: usize, out: *mut ByteSlice) -> i32,
    /// Consumes `n` bytes (at most `avail`).
    pub reader_consume: unsafe extern "C" fn(io: *mut IoCtx, reader: Handle, n: i64) -> i32,

    /// Value `index` of header `name` of [`message`] `msg` into `out`; 1 found, 0 not.
    pub txn_header_get:
        unsafe extern "C" fn(txn: *mut TxnCtx, msg: u32, name: ByteSlice, index: usize, out: *mut ByteSlice) -> i32,
    /// Field `index` (name, value); 1 found, 0 past the end.
    pub txn_header_at: unsafe extern "C" fn(
        txn: *mut TxnCtx,
        msg: u32,
        index: usize,
        name: *mut ByteSlice,
        value: *mut ByteSlice,
    ) -> i32,
    /// Replaces every value of `name` with `value`.
    pub txn_header_set: unsafe extern "C" fn(txn: *mut TxnCtx, msg: u32, name: ByteSlice, value: ByteSlice) -> i32,
    /// Adds a value of `name`.
    pub txn_header_append: unsafe extern "C" fn(txn: *mut TxnCtx, msg: u32, name: ByteSlice, value: ByteSlice) -> i32,
    /// Removes every value of `name`; 1 if any was there.
    pub txn_header_remove: unsafe extern "C" fn(txn: *mut TxnCtx, msg: u32, name: ByteSlice) -> i32,
    /// The request method into `out`.
    pub txn_method: unsafe extern "C" fn(txn: *mut TxnCtx, out: *mut ByteSlice) -> i32,
    /// The request target (URL) into `out`.
    pub txn_url: unsafe extern "C" fn(txn: *mut TxnCtx, out: *mut ByteSlice) -> i32,
    /// The response status, 0 before a response exists.
    pub txn_status_get: unsafe extern "C" fn(txn: *mut TxnCtx) -> i32,
    /// Sets the response status.
    pub txn_status_set: unsafe extern "C" fn(txn: *mut TxnCtx, status: u16) -> i32,
    /// Fails the transaction with `status` and a message for the log.
    pub txn_fail: unsafe extern "C" fn(txn: *mut TxnCtx, status: u16, msg: ByteSlice) -> i32,
    /// Adds a transform instance in [`direction`] `dir`. On [`STATUS_OK`] the
    /// host owns `instance` and will call `transform_destroy` on it exactly
    /// once; otherwise ownership stays with the plugin.
    pub txn_add_transform: unsafe extern "C" fn(txn: *mut TxnCtx, dir: u32, instance: *mut c_void) -> i32,
}

/// The 1.1 entry table: [`super::PluginTable`] up to `panic_message`.
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
    /// Runs hook [`hook_id`] `hook` for one transaction.
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
    /// [`STATUS_PANIC`], on the same thread: writes the panic's message
    /// into `out` and returns 1, or returns 0 if there is none. Absent
    /// from 1.0 plugins, whose panics the host reports without a message.
    pub panic_message: unsafe extern "C" fn(out: ErrorBuf) -> i32,
}

/// The 1.1 root of every boundary type (see [`super::AbiRoot`]).
#[repr(C)]
#[derive(StableAbi)]
pub struct AbiRoot {
    /// The host table, 1.1 edition.
    pub host: HostTable,
    /// The plugin table, 1.1 edition.
    pub plugin: PluginTable,
    /// Owned bytes.
    pub owned: OwnedBytes,
    /// Error buffer.
    pub err: ErrorBuf,
    /// Static strings.
    pub name: StaticStr,
}
