//! The bridge between transactions and plugins: the hooks of one
//! transaction, run in `plugin.config` order, and the host functions
//! plugins call during them.
//!
//! - [`hooks`]: [`TxnPlugins`], one transaction's hooks and the chains they build.
//! - `txn_host`: the transaction half of the host function table.
//! - [`host_table`]: the one [`HOST_TABLE`] every plugin receives (the
//!   engine's IO functions and the transaction functions).
//!
//! Data path, one way: transaction -> {h1, engine, bridge} -> the SDK's raw
//! ABI. The bridge uses the loader's generations and modules; neither the
//! loader nor the engine knows the bridge.

pub(crate) mod hooks;
pub(crate) mod host_table;
mod txn_host;

/// A long plugin callback on this worker, for blaming a timeout it caused.
pub(crate) use crate::plugins::current::long_call_since;
pub(crate) use hooks::{HookResult, TxnPlugins, TxnView};
pub use host_table::HOST_TABLE;

#[cfg(test)]
mod abi_tests;
#[cfg(test)]
mod faulty_tests;
#[cfg(test)]
mod loader_tests;

/// Load options for tests: relative paths against `plugin_dir`, copies in `rt`.
#[cfg(test)]
pub(crate) fn test_options<'a>(
    plugin_dir: &'a std::path::Path,
    rt: &'a crate::plugins::runtime_dir::RuntimeDir,
) -> crate::plugins::LoadOptions<'a> {
    // A cache of its own per load, as a fresh host has (leaked: a few bytes a test).
    let images = Box::leak(Box::new(crate::plugins::images::Images::new(usize::MAX)));
    crate::plugins::LoadOptions {
        plugin_dir,
        runtime: rt,
        images,
        host: &HOST_TABLE,
        water_mark: crate::transform::DEFAULT_WATER_MARK,
    }
}
