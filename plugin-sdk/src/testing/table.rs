//! The fake host's function table: real IO functions, transaction functions
//! that find nothing (hooks are not exercised by the fake).

use std::ffi::c_void;

use crate::ffi::{ByteSlice, HostTable, TxnCtx, ABI_MINOR};

use super::io_fns::*;

unsafe extern "C" fn no_header(_t: *mut TxnCtx, _m: u32, _n: ByteSlice, _i: usize, _o: *mut ByteSlice) -> i32 {
    0
}
unsafe extern "C" fn no_header_at(_t: *mut TxnCtx, _m: u32, _i: usize, _n: *mut ByteSlice, _v: *mut ByteSlice) -> i32 {
    0
}
unsafe extern "C" fn no_set(_t: *mut TxnCtx, _m: u32, _n: ByteSlice, _v: ByteSlice) -> i32 {
    1
}
unsafe extern "C" fn no_remove(_t: *mut TxnCtx, _m: u32, _n: ByteSlice) -> i32 {
    0
}
unsafe extern "C" fn no_str(_t: *mut TxnCtx, _o: *mut ByteSlice) -> i32 {
    0
}
unsafe extern "C" fn no_status(_t: *mut TxnCtx) -> i32 {
    0
}
unsafe extern "C" fn no_status_set(_t: *mut TxnCtx, _s: u16) -> i32 {
    1
}
unsafe extern "C" fn no_fail(_t: *mut TxnCtx, _s: u16, _m: ByteSlice) -> i32 {
    1
}
unsafe extern "C" fn no_add(_t: *mut TxnCtx, _d: u32, _i: *mut c_void) -> i32 {
    1
}

/// See the module docs.
pub(super) static FAKE_TABLE: HostTable = HostTable {
    size: std::mem::size_of::<HostTable>(),
    abi_minor: ABI_MINOR,
    log,
    transform_self,
    transform_output_vconn,
    vconn_write,
    vconn_read,
    vconn_close,
    vconn_abort,
    vconn_shutdown,
    vconn_closed,
    vconn_read_vio,
    vconn_write_vio,
    vio_buffer,
    vio_reader,
    vio_vconn,
    vio_cont,
    vio_nbytes_get,
    vio_nbytes_set,
    vio_ndone_get,
    vio_ndone_set,
    vio_ntodo,
    vio_reenable,
    vio_cont_call,
    buffer_create,
    buffer_destroy,
    buffer_water_mark_get,
    buffer_water_mark_set,
    buffer_append_copy,
    buffer_append_owned,
    buffer_copy,
    reader_alloc,
    reader_free,
    reader_avail,
    reader_block,
    reader_consume,
    txn_header_get: no_header,
    txn_header_at: no_header_at,
    txn_header_set: no_set,
    txn_header_append: no_set,
    txn_header_remove: no_remove,
    txn_method: no_str,
    txn_url: no_str,
    txn_status_get: no_status,
    txn_status_set: no_status_set,
    txn_fail: no_fail,
    txn_add_transform: no_add,
};
