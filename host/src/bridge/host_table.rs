//! The one host function table every plugin receives (static, so it
//! outlives every plugin).

use plugin_sdk::ffi::{ByteSlice, HostTable, ABI_MINOR};

use super::txn_host as t;
use crate::plugins::with_current;
use crate::transform::host_fns as io;

/// Logs a plugin message through `tracing`, with the name of the plugin
/// this thread is calling into (`unknown` from a thread of the plugin's own).
unsafe extern "C" fn log(level: u32, msg: ByteSlice) {
    // SAFETY: lent for this call.
    let text = String::from_utf8_lossy(unsafe { msg.as_slice() });
    let _ = std::panic::catch_unwind(|| {
        with_current(|current| {
            let plugin = current.map_or("unknown", |(name, _)| name);
            match level {
                0 => tracing::error!(target: "plugin", plugin = %plugin, "{text}"),
                1 => tracing::warn!(target: "plugin", plugin = %plugin, "{text}"),
                2 => tracing::info!(target: "plugin", plugin = %plugin, "{text}"),
                _ => tracing::debug!(target: "plugin", plugin = %plugin, "{text}"),
            }
        })
    });
}

/// The host's functions.
pub static HOST_TABLE: HostTable = HostTable {
    size: std::mem::size_of::<HostTable>(),
    abi_minor: ABI_MINOR,
    log,
    transform_self: io::transform_self,
    transform_output_vconn: io::transform_output_vconn,
    vconn_write: io::vconn_write,
    vconn_read: io::vconn_read,
    vconn_close: io::vconn_close,
    vconn_abort: io::vconn_abort,
    vconn_shutdown: io::vconn_shutdown,
    vconn_closed: io::vconn_closed,
    vconn_read_vio: io::vconn_read_vio,
    vconn_write_vio: io::vconn_write_vio,
    vio_buffer: io::vio_buffer,
    vio_reader: io::vio_reader,
    vio_vconn: io::vio_vconn,
    vio_cont: io::vio_cont,
    vio_nbytes_get: io::vio_nbytes_get,
    vio_nbytes_set: io::vio_nbytes_set,
    vio_ndone_get: io::vio_ndone_get,
    vio_ndone_set: io::vio_ndone_set,
    vio_ntodo: io::vio_ntodo,
    vio_reenable: io::vio_reenable,
    vio_cont_call: io::vio_cont_call,
    buffer_create: io::buffer_create,
    buffer_destroy: io::buffer_destroy,
    buffer_water_mark_get: io::buffer_water_mark_get,
    buffer_water_mark_set: io::buffer_water_mark_set,
    buffer_append_copy: io::buffer_append_copy,
    buffer_append_owned: io::buffer_append_owned,
    buffer_copy: io::buffer_copy,
    reader_alloc: io::reader_alloc,
    reader_free: io::reader_free,
    reader_avail: io::reader_avail,
    reader_block: io::reader_block,
    reader_consume: io::reader_consume,
    txn_header_get: t::txn_header_get,
    txn_header_at: t::txn_header_at,
    txn_header_set: t::txn_header_set,
    txn_header_append: t::txn_header_append,
    txn_header_remove: t::txn_header_remove,
    txn_method: t::txn_method,
    txn_url: t::txn_url,
    txn_status_get: t::txn_status_get,
    txn_status_set: t::txn_status_set,
    txn_fail: t::txn_fail,
    txn_add_transform: t::txn_add_transform,
    txn_state_get: t::txn_state_get,
    txn_state_set: t::txn_state_set,
    txn_body: t::txn_body,
    transform_replace: io::transform_replace,
};
