//! The C ABI between the host and a plugin. **Not meant to be used directly**:
//! plugin authors use the safe wrappers ([`crate::vio`], [`crate::vconn`],
//! [`crate::buffer`], [`crate::txn`]) and [`crate::declare_plugin!`].
//!
//! Only `#[repr(C)]` types and `extern "C"` function-pointer types live here.
//! Rules every item follows:
//!
//! - **Handles** ([`Handle`]) are opaque non-zero numbers naming host objects
//!   (vconnections, VIOs, IO buffers, readers). `0` means "none". The host
//!   validates every handle it receives: each carries the serial of the
//!   transform chain (the transaction's body) that gave it out, so a handle
//!   kept from another transaction or past its transform's close, and one
//!   of a freed object, is a protocol error charged to the plugin on every
//!   call, never undefined behaviour and never another transaction's object.
//! - **Context pointers** ([`IoCtx`], [`TxnCtx`]) are owned by the host and
//!   valid only for the duration of the call that passed them.
//! - **Borrowed bytes** ([`ByteSlice`]) handed *to* the host are read during the
//!   call only. Slices handed *to* the plugin (header values, buffer blocks)
//!   stay valid until the plugin's callback returns, and no longer.
//! - **Owned bytes** ([`OwnedBytes`]) move from plugin to host; the host calls
//!   the release callback exactly once, possibly on another thread, possibly
//!   after the plugin callback returned (but before the library is unloaded).
//! - Memory is freed by the side that allocated it. No Rust-layout type
//!   (`Vec`, `String`, `Box<dyn _>`) crosses.
//! - Tables are size-prefixed: a newer minor version only appends fields, and
//!   the reader of a table checks `size` before touching a field.
//!
//! # Versions
//!
//! [`ABI_MAJOR`] changes when anything already published changes; the host
//! refuses a plugin of any other major. [`ABI_MINOR`] grows when fields are
//! appended to [`PluginTable`] or [`HostTable`]. The host loads plugins of
//! its own minor or older: it checks the plugin's layout against the frozen
//! layout of the plugin's minor ([`v1_0`] and so on), copies only the
//! `size` bytes of the plugin's table the plugin declared, and fills the
//! entries a plugin is too old to have with safe defaults. It refuses a
//! plugin of a newer minor, whose host functions it does not have.
//!
//! | ABI | change                                                  |
//! |-----|---------------------------------------------------------|
//! | 1.0 | first version                                           |
//! | 1.1 | [`PluginTable::panic_message`] appended                 |
//! | 1.2 | per-transaction state, body info, message replacement, |
//! |     | plugin counters: [`HostTable::txn_state_get`] and on,   |
//! |     | [`PluginTable::txn_state_drop`] and on                  |
//! | 1.3 | [`PluginTable::hooks_wanted`] appended: the host calls  |
//! |     | only the hooks a plugin asks for                        |
//!
//! To add minor `1.n`: freeze the current tables and [`AbiRoot`] as module
//! `v1_{n-1}` (same type and field names, so the layout check compares
//! like with like), append the new fields, bump [`ABI_MINOR`], and give the
//! host the frozen layout and a default for each new plugin entry.
//! - Every plugin entry point runs under `catch_unwind` and reports a panic as
//!   [`STATUS_PANIC`]; host functions do the same in the other direction.

use std::ffi::c_void;

use abi_stable::StableAbi;

/// The exported symbol every plugin defines (see [`crate::declare_plugin!`]).
pub const ENTRY_SYMBOL: &str = "plugin_host_module";

/// ABI major version: the host refuses a plugin whose major differs.
pub const ABI_MAJOR: u32 = 1;
/// ABI minor version: a plugin's minor must be <= the host's.
pub const ABI_MINOR: u32 = 3;

pub mod v1_0;
pub mod v1_1;
pub mod v1_2;

/// Signature of the exported entry symbol. Returns a pointer to a static
/// descriptor that lives as long as the library is loaded.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginModule;

/// An opaque host object id; `0` is "none".
pub type Handle = u64;

/// Success.
pub const STATUS_OK: i32 = 0;
/// The operation failed; for `init`, the error buffer holds why.
pub const STATUS_ERROR: i32 = 1;
/// The callee panicked; the panic was caught at the boundary.
pub const STATUS_PANIC: i32 = 2;
/// The callee received an argument it does not understand (unknown event
/// code, unknown hook id).
pub const STATUS_BAD_ARG: i32 = 3;
/// ABI 1.2. `txn_add_transform`: the message has no body, so a transform
/// would never run; the plugin keeps the instance.
pub const STATUS_NO_BODY: i32 = 4;
/// ABI 1.2. `txn_add_transform`: too late in the transaction for a
/// transform in that direction; `transform_replace`: the head has left.
pub const STATUS_TOO_LATE: i32 = 5;

/// `txn_body` results: whether a message has a body.
pub mod body {
    /// No body (a request without framing, a response to HEAD, 1xx, 204, 304).
    pub const NONE: i32 = 0;
    /// A body of the length stored in `len_out`.
    pub const LENGTH: i32 = 1;
    /// A body of unknown length (chunked, or delimited by the connection's close).
    pub const UNKNOWN: i32 = 2;
    /// No such message yet (the response, before it was read).
    pub const ABSENT: i32 = -1;
}

/// Event codes (Traffic Server's numbers).
pub mod event_code {
    /// `TS_EVENT_IMMEDIATE`.
    pub const IMMEDIATE: u32 = 1;
    /// `TS_EVENT_ERROR`.
    pub const ERROR: u32 = 3;
    /// `TS_EVENT_VCONN_READ_READY`.
    pub const VCONN_READ_READY: u32 = 100;
    /// `TS_EVENT_VCONN_WRITE_READY`.
    pub const VCONN_WRITE_READY: u32 = 101;
    /// `TS_EVENT_VCONN_READ_COMPLETE`.
    pub const VCONN_READ_COMPLETE: u32 = 102;
    /// `TS_EVENT_VCONN_WRITE_COMPLETE`.
    pub const VCONN_WRITE_COMPLETE: u32 = 103;
    /// `TS_EVENT_VCONN_EOS`.
    pub const VCONN_EOS: u32 = 104;
}

/// Transaction hook ids.
pub mod hook_id {
    /// The client request head has been read.
    pub const READ_REQUEST_HEADERS: u32 = 1;
    /// The origin response head has been read.
    pub const READ_RESPONSE_HEADERS: u32 = 2;
    /// The response head is about to be sent to the client.
    pub const SEND_RESPONSE_HEADERS: u32 = 3;
    /// The transaction is over.
    pub const TXN_CLOSE: u32 = 4;
}

/// Which message a header call addresses.
pub mod message {
    /// The client request.
    pub const REQUEST: u32 = 0;
    /// The origin response.
    pub const RESPONSE: u32 = 1;
}

/// Transform directions for `txn_add_transform`.
pub mod direction {
    /// Request body (client to origin).
    pub const REQUEST: u32 = 0;
    /// Response body (origin to client).
    pub const RESPONSE: u32 = 1;
}

/// `vconn_closed` results.
pub mod closed {
    /// Open.
    pub const OPEN: i32 = 0;
    /// Closed normally.
    pub const CLOSED: i32 = 1;
    /// Aborted.
    pub const ABORTED: i32 = 2;
}

/// Opaque: the IO side of one transaction's transform chain (host-owned).
#[repr(C)]
#[derive(StableAbi)]
pub struct IoCtx {
    _opaque: [u8; 0],
}

/// Opaque: one transaction during one hook call (host-owned).
#[repr(C)]
#[derive(StableAbi)]
pub struct TxnCtx {
    _opaque: [u8; 0],
}

/// Borrowed bytes; see the module docs for how long each direction is valid.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct ByteSlice {
    /// First byte; may be dangling when `len == 0`.
    pub ptr: *const u8,
    /// Number of bytes.
    pub len: usize,
}

impl ByteSlice {
    /// An empty slice.
    pub const EMPTY: ByteSlice = ByteSlice { ptr: std::ptr::NonNull::<u8>::dangling().as_ptr(), len: 0 };

    /// Borrows `bytes` for the duration of a call.
    pub fn new(bytes: &[u8]) -> Self {
        ByteSlice { ptr: bytes.as_ptr(), len: bytes.len() }
    }

    /// # Safety
    /// `ptr..ptr+len` must be readable for `'a` (the module's validity rules).
    pub unsafe fn as_slice<'a>(self) -> &'a [u8] {
        if self.len == 0 || self.ptr.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(self.ptr, self.len)
        }
    }
}

/// A `'static` string in the plugin's image (name, version).
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct StaticStr {
    /// UTF-8 bytes.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

// SAFETY: a StaticStr only ever points at immutable 'static data.
unsafe impl Sync for StaticStr {}

impl StaticStr {
    /// Wraps a `'static` string.
    pub const fn new(s: &'static str) -> Self {
        StaticStr { ptr: s.as_ptr(), len: s.len() }
    }
}

/// Plugin-owned bytes handed to the host without copying. The host calls
/// `release(owner)` exactly once when it no longer needs `ptr..ptr+len`.
#[repr(C)]
#[derive(StableAbi)]
pub struct OwnedBytes {
    /// First byte.
    pub ptr: *const u8,
    /// Number of bytes.
    pub len: usize,
    /// Opaque plugin value identifying the allocation.
    pub owner: *mut c_void,
    /// Frees the allocation; must be callable from any thread.
    pub release: unsafe extern "C" fn(owner: *mut c_void),
}

/// A host-provided buffer for a message from the plugin: why `init` failed
/// or panicked, or the message of a panic (`panic_message`).
#[repr(C)]
#[derive(StableAbi)]
pub struct ErrorBuf {
    /// Host memory of `cap` bytes the plugin may write UTF-8 into.
    pub ptr: *mut u8,
    /// Capacity in bytes.
    pub cap: usize,
    /// Where the plugin stores how many bytes it wrote.
    pub len: *mut usize,
}

/// Functions the host offers plugins; passed to every plugin entry point.
/// The host keeps it in static memory. `size` is `size_of::<HostTable>()` of
/// the host's build: a plugin must not call a field past it.
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

    /// ABI 1.2. This plugin's state for this transaction, as stored by
    /// `txn_state_set`; null if none was stored.
    pub txn_state_get: unsafe extern "C" fn(txn: *mut TxnCtx) -> *mut c_void,
    /// ABI 1.2. Stores this plugin's state for this transaction. From then
    /// the host owns `state` and passes it to the plugin's `txn_state_drop`
    /// exactly once, on the transaction's thread, after `txn_close`. Fails
    /// (the plugin keeps `state`) if a state is already stored.
    pub txn_state_set: unsafe extern "C" fn(txn: *mut TxnCtx, state: *mut c_void) -> i32,
    /// ABI 1.2. Whether [`message`] `msg` has a body, by RFC 9112 framing as
    /// received (before hooks edited it): one of [`body`]'s values; for
    /// [`body::LENGTH`] the length goes to `len_out`.
    pub txn_body: unsafe extern "C" fn(txn: *mut TxnCtx, msg: u32, len_out: *mut i64) -> i32,
    /// ABI 1.2. From a transform: replaces the message its chain carries,
    /// before its head has left, with `status`, `nfields / 2` header fields
    /// (`fields` alternates names and values, read during the call) and
    /// `body` (copied). A request transform's replacement is the response
    /// the client gets instead; the origin never sees the request. The
    /// chain ends: every transform gets its closed event, then no more.
    /// [`STATUS_TOO_LATE`] once the head has left; [`STATUS_BAD_ARG`] for a
    /// status outside 200..=599, an odd `nfields` or a bad field.
    pub transform_replace: unsafe extern "C" fn(
        io: *mut IoCtx,
        status: u16,
        fields: *const ByteSlice,
        nfields: usize,
        body: ByteSlice,
    ) -> i32,
}

/// The plugin's entry points. Lives in the plugin's static memory.
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
    /// ABI 1.3. The hooks the plugin whose global state is `state` wants
    /// called, as a mask of `1 << id` over [`hook_id`] (bits the host does
    /// not know are ignored). Asked once, right after a successful `init`;
    /// the host calls [`PluginTable::hook`] only for those hooks, as Traffic
    /// Server calls only the hooks a plugin added. Plugins older than 1.3
    /// get every hook.
    pub hooks_wanted: unsafe extern "C" fn(state: *mut c_void) -> u32,
}

/// Every type whose layout host and plugin must agree on; the host checks
/// `<AbiRoot as StableAbi>::LAYOUT` against the plugin's copy at load.
/// A new minor version adds fields at the end of the tables and freezes a
/// copy of the previous root (see [`v1_0`], [`v1_1`], [`v1_2`]) so the host can check
/// older plugins against the layout they were built with.
#[repr(C)]
#[derive(StableAbi)]
pub struct AbiRoot {
    /// The host table.
    pub host: HostTable,
    /// The plugin table.
    pub plugin: PluginTable,
    /// Owned bytes.
    pub owned: OwnedBytes,
    /// Error buffer.
    pub err: ErrorBuf,
    /// Static strings.
    pub name: StaticStr,
}

/// The static descriptor the entry symbol returns. Its first four fields never
/// change, so any host can read the versions before trusting the rest.
#[repr(C)]
pub struct PluginModule {
    /// `size_of::<PluginModule>()` as built by the plugin.
    pub size: usize,
    /// [`ABI_MAJOR`] of the SDK the plugin was built with.
    pub abi_major: u32,
    /// [`ABI_MINOR`] of the SDK the plugin was built with.
    pub abi_minor: u32,
    /// 1 if the plugin was built with `panic = "unwind"` (required).
    pub panic_unwind: u8,
    /// The plugin's name (its crate name).
    pub name: StaticStr,
    /// The SDK version the plugin was built with.
    pub sdk_version: StaticStr,
    /// `<AbiRoot as StableAbi>::LAYOUT` as compiled into the plugin, which
    /// the host checks field by field against the layout of the plugin's
    /// minor. `None` (a null pointer: `Option<&T>` has the same ABI) says
    /// "a C plugin": C cannot produce an abi_stable layout, so the host
    /// checks such a plugin by its ABI version and table size only (see
    /// `include/plugin_host.h`). A Rust plugin always has a layout.
    pub layout: Option<&'static abi_stable::type_layout::TypeLayout>,
    /// The plugin's entry points: `table.size` bytes of a [`PluginTable`],
    /// which is shorter than this SDK's when the plugin's minor is older.
    /// A raw pointer because the host must not assume the whole struct.
    pub table: *const PluginTable,
}

// SAFETY: a descriptor is immutable static data: its pointers lead only to
// other immutable statics of the plugin (table, strings, layout).
unsafe impl Sync for PluginModule {}
