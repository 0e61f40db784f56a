//! The IO half of the host function table: `extern "C"` shims that rebuild
//! the chain state from the context pointer and call [`State`]'s methods.
//!
//! Each shim runs under `catch_unwind` (a host bug must not unwind into
//! plugin code) and returns a neutral value when the state is unavailable.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use plugin_sdk::ffi::{ByteSlice, Handle, IoCtx, OwnedBytes};

use super::plugin::PluginRef;
use super::state::State;

/// What the IO context pointer points at: one chain's state.
pub(super) struct ChainCell {
    pub state: RefCell<State>,
}

impl ChainCell {
    pub fn ctx(&self) -> *mut IoCtx {
        self as *const ChainCell as *mut IoCtx
    }
}

/// Runs `f` on the state behind `io`; `fallback` if the pointer is null,
/// the state is busy (a re-entrant call) or `f` panicked.
fn with<T>(io: *mut IoCtx, fallback: T, f: impl FnOnce(&mut State) -> T) -> T {
    if io.is_null() {
        return fallback;
    }
    // SAFETY: the host passes plugins only pointers to a live `ChainCell`, and
    // only for the duration of a callback into the plugin.
    let shared = unsafe { &*(io as *const ChainCell) };
    let Ok(mut state) = shared.state.try_borrow_mut() else {
        return fallback;
    };
    catch_unwind(AssertUnwindSafe(|| f(&mut state))).unwrap_or(fallback)
}

pub(crate) unsafe extern "C" fn transform_self(io: *mut IoCtx) -> Handle {
    with(io, 0, |s| s.transform_self())
}
pub(crate) unsafe extern "C" fn transform_output_vconn(io: *mut IoCtx) -> Handle {
    with(io, 0, |s| s.transform_output())
}
pub(crate) unsafe extern "C" fn vconn_write(io: *mut IoCtx, vc: Handle, reader: Handle, nbytes: i64) -> Handle {
    with(io, 0, |s| s.vconn_write(vc, reader, nbytes))
}
/// Transforms accept only writes; a read returns no VIO.
pub(crate) unsafe extern "C" fn vconn_read(_io: *mut IoCtx, _vc: Handle, _b: Handle, _n: i64) -> Handle {
    0
}
pub(crate) unsafe extern "C" fn vconn_close(io: *mut IoCtx, vc: Handle) -> i32 {
    with(io, 1, |s| s.vconn_close(vc, plugin_sdk::ffi::closed::CLOSED))
}
pub(crate) unsafe extern "C" fn vconn_abort(io: *mut IoCtx, vc: Handle, _error: i32) -> i32 {
    with(io, 1, |s| s.vconn_close(vc, plugin_sdk::ffi::closed::ABORTED))
}
pub(crate) unsafe extern "C" fn vconn_shutdown(io: *mut IoCtx, vc: Handle, _read: u8, write: u8) -> i32 {
    with(io, 1, |s| s.vconn_shutdown(vc, write != 0))
}
pub(crate) unsafe extern "C" fn vconn_closed(io: *mut IoCtx, vc: Handle) -> i32 {
    with(io, 0, |s| s.vconn_closed(vc))
}
/// Transforms have no read operations.
pub(crate) unsafe extern "C" fn vconn_read_vio(_io: *mut IoCtx, _vc: Handle) -> Handle {
    0
}
pub(crate) unsafe extern "C" fn vconn_write_vio(io: *mut IoCtx, vc: Handle) -> Handle {
    with(io, 0, |s| s.vconn_write_vio(vc))
}
pub(crate) unsafe extern "C" fn vio_buffer(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |s| s.vio_buffer(vio))
}
pub(crate) unsafe extern "C" fn vio_reader(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |s| s.vio_reader(vio))
}
pub(crate) unsafe extern "C" fn vio_vconn(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |s| s.vio_vconn(vio))
}
pub(crate) unsafe extern "C" fn vio_cont(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |s| s.vio_cont(vio))
}
pub(crate) unsafe extern "C" fn vio_nbytes_get(io: *mut IoCtx, vio: Handle) -> i64 {
    with(io, 0, |s| s.vio_nbytes(vio))
}
pub(crate) unsafe extern "C" fn vio_nbytes_set(io: *mut IoCtx, vio: Handle, n: i64) -> i32 {
    with(io, 1, |s| s.vio_set_nbytes(vio, n))
}
pub(crate) unsafe extern "C" fn vio_ndone_get(io: *mut IoCtx, vio: Handle) -> i64 {
    with(io, 0, |s| s.vio_ndone(vio))
}
pub(crate) unsafe extern "C" fn vio_ndone_set(io: *mut IoCtx, vio: Handle, n: i64) -> i32 {
    with(io, 1, |s| s.vio_set_ndone(vio, n))
}
pub(crate) unsafe extern "C" fn vio_ntodo(io: *mut IoCtx, vio: Handle) -> i64 {
    with(io, 0, |s| s.vio_ntodo(vio))
}
pub(crate) unsafe extern "C" fn vio_reenable(io: *mut IoCtx, vio: Handle) -> i32 {
    with(io, 1, |s| s.vio_reenable(vio))
}
pub(crate) unsafe extern "C" fn vio_cont_call(io: *mut IoCtx, vio: Handle, event: u32) -> i32 {
    with(io, 1, |s| s.vio_cont_call(vio, event))
}
pub(crate) unsafe extern "C" fn buffer_create(io: *mut IoCtx) -> Handle {
    with(io, 0, |s| s.buffer_create())
}
pub(crate) unsafe extern "C" fn buffer_destroy(io: *mut IoCtx, b: Handle) -> i32 {
    with(io, 1, |s| s.buffer_destroy(b))
}
pub(crate) unsafe extern "C" fn buffer_water_mark_get(io: *mut IoCtx, b: Handle) -> i64 {
    with(io, 0, |s| s.water_mark(b))
}
pub(crate) unsafe extern "C" fn buffer_water_mark_set(io: *mut IoCtx, b: Handle, mark: i64) -> i32 {
    with(io, 1, |s| s.set_water_mark(b, mark))
}
pub(crate) unsafe extern "C" fn buffer_append_copy(io: *mut IoCtx, b: Handle, bytes: ByteSlice) -> i32 {
    // SAFETY: the plugin lends `bytes` for this call.
    let data = Bytes::copy_from_slice(unsafe { bytes.as_slice() });
    with(io, 1, |s| s.append_handle(b, data))
}

/// Plugin-owned bytes inside a `Bytes`: releases them through the plugin's
/// callback on drop, and keeps the plugin's library loaded until then.
struct PluginBytes {
    bytes: OwnedBytes,
    _plugin: Option<PluginRef>,
}

// SAFETY: the SDK contract makes `release` callable from any thread, and the
// bytes are immutable while the host holds them.
unsafe impl Send for PluginBytes {}

impl AsRef<[u8]> for PluginBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the plugin keeps ptr..ptr+len alive until release.
        unsafe { ByteSlice { ptr: self.bytes.ptr, len: self.bytes.len }.as_slice() }
    }
}

impl Drop for PluginBytes {
    fn drop(&mut self) {
        // SAFETY: called exactly once, as the contract says.
        unsafe { (self.bytes.release)(self.bytes.owner) }
    }
}

pub(crate) unsafe extern "C" fn buffer_append_owned(io: *mut IoCtx, b: Handle, bytes: OwnedBytes) -> i32 {
    // Wrap first: whatever happens next, dropping the wrapper releases them.
    let mut owned = PluginBytes { bytes, _plugin: None };
    with(io, 1, move |s| {
        owned._plugin = s.current.and_then(|c| s.plugins.get(c).cloned());
        s.append_handle(b, Bytes::from_owner(owned))
    })
}
pub(crate) unsafe extern "C" fn buffer_copy(io: *mut IoCtx, dst: Handle, r: Handle, n: i64, off: i64) -> i64 {
    with(io, 0, |s| s.buffer_copy(dst, r, n, off))
}
pub(crate) unsafe extern "C" fn reader_alloc(io: *mut IoCtx, b: Handle) -> Handle {
    with(io, 0, |s| s.reader_alloc(b))
}
pub(crate) unsafe extern "C" fn reader_free(io: *mut IoCtx, r: Handle) -> i32 {
    with(io, 1, |s| s.reader_free(r))
}
pub(crate) unsafe extern "C" fn reader_avail(io: *mut IoCtx, r: Handle) -> i64 {
    with(io, 0, |s| s.reader_avail(r))
}
pub(crate) unsafe extern "C" fn reader_block(io: *mut IoCtx, r: Handle, index: usize, out: *mut ByteSlice) -> i32 {
    if out.is_null() {
        return 0;
    }
    // The block is pinned in the state until the callback returns.
    match with(io, None, |s| s.reader_block(r, index)) {
        Some(block) => {
            // SAFETY: `out` is a live pointer from the plugin for this call.
            unsafe { *out = ByteSlice { ptr: block.as_ptr(), len: block.len() } };
            1
        }
        None => 0,
    }
}
pub(crate) unsafe extern "C" fn reader_consume(io: *mut IoCtx, r: Handle, n: i64) -> i32 {
    with(io, 1, |s| s.reader_consume(r, n))
}

pub(crate) unsafe extern "C" fn transform_replace(
    io: *mut IoCtx,
    status: u16,
    fields: *const ByteSlice,
    nfields: usize,
    body: ByteSlice,
) -> i32 {
    if !nfields.is_multiple_of(2) || (fields.is_null() && nfields != 0) {
        return plugin_sdk::ffi::STATUS_BAD_ARG;
    }
    // SAFETY: the plugin lends `nfields` slices and the body for this call.
    let (fields, body) =
        unsafe { (if nfields == 0 { &[][..] } else { std::slice::from_raw_parts(fields, nfields) }, body.as_slice()) };
    let mut headers = Vec::with_capacity(nfields / 2);
    for pair in fields.chunks(2) {
        // SAFETY: as above.
        let (name, value) = unsafe { (pair[0].as_slice(), pair[1].as_slice()) };
        let Ok(name) = std::str::from_utf8(name) else { return plugin_sdk::ffi::STATUS_BAD_ARG };
        headers.push((name.to_string(), value.to_vec()));
    }
    let body = Bytes::copy_from_slice(body);
    with(io, plugin_sdk::ffi::STATUS_ERROR, |s| s.replace(status, headers, body))
}
