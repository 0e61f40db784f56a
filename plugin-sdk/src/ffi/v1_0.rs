//! ABI 1.0, frozen: the tables as plugins built against plugin-sdk ABI 1.0
//! have them. **Not meant to be used directly**: the host checks a 1.0
//! plugin's layout against [`AbiRoot`] here and reads only this much of its
//! entry table.
//!
//! Type and field names match the 1.0 originals exactly: the layout check
//! compares names, so a frozen copy must be indistinguishable from the
//! original. Never edit this file; a new minor adds a new frozen module.
//! Types 1.1 left unchanged ([`HostTable`], [`OwnedBytes`], [`ErrorBuf`],
//! [`StaticStr`]) are shared with later minors until one changes them: the
//! host table is 1.1's ([`super::v1_1::HostTable`], frozen when 1.2 appended
//! to it).

use std::ffi::c_void;

use abi_stable::StableAbi;

use super::v1_1::HostTable;
use super::{ByteSlice, ErrorBuf, Handle, IoCtx, OwnedBytes, StaticStr, TxnCtx};

/// The 1.0 entry table: [`super::PluginTable`] without `panic_message`.
#[repr(C)]
#[derive(StableAbi)]
pub struct PluginTable {
    /// `size_of::<PluginTable>()` as built by the plugin.
    pub size: usize,
    /// See [`super::PluginTable::init`].
    pub init: unsafe extern "C" fn(
        host: *const HostTable,
        args: *const ByteSlice,
        nargs: usize,
        state_out: *mut *mut c_void,
        err: ErrorBuf,
    ) -> i32,
    /// See [`super::PluginTable::fini`].
    pub fini: unsafe extern "C" fn(state: *mut c_void) -> i32,
    /// See [`super::PluginTable::hook`].
    pub hook: unsafe extern "C" fn(host: *const HostTable, state: *mut c_void, hook: u32, txn: *mut TxnCtx) -> i32,
    /// See [`super::PluginTable::transform_event`].
    pub transform_event: unsafe extern "C" fn(
        host: *const HostTable,
        instance: *mut c_void,
        io: *mut IoCtx,
        event: u32,
        vio: Handle,
    ) -> i32,
    /// See [`super::PluginTable::transform_destroy`].
    pub transform_destroy: unsafe extern "C" fn(instance: *mut c_void) -> i32,
}

/// The 1.0 root of every boundary type (see [`super::AbiRoot`]).
#[repr(C)]
#[derive(StableAbi)]
pub struct AbiRoot {
    /// The host table.
    pub host: HostTable,
    /// The plugin table, 1.0 edition.
    pub plugin: PluginTable,
    /// Owned bytes.
    pub owned: OwnedBytes,
    /// Error buffer.
    pub err: ErrorBuf,
    /// Static strings.
    pub name: StaticStr,
}
