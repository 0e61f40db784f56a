//! Plugins: configuration, loading, generations and per-transaction hooks.
//!
//! - [`config`]: the `plugin.config` parser.
//! - [`runtime_dir`]: the private directory of unique plugin copies.
//! - [`loader`]: opens one plugin and checks it.
//! - `abi`: the descriptor checks (versions, panic strategy, layouts).
//! - [`module`]: a loaded plugin, its counters, the ABI checks.
//! - [`generation`]: the plugins of one configuration.
//! - [`hooks`]: one transaction's hooks and the chains they build.
//! - `txn_host` and `host_table`: the host functions plugins call.

pub(crate) mod abi;
pub mod config;
pub mod generation;
pub mod hooks;
pub(crate) mod host_table;
pub mod loader;
pub mod module;
pub mod runtime_dir;
pub(crate) mod txn_host;

// The API the transaction integrates; unused until txn.rs does.
#[allow(unused_imports)]
pub use generation::{load_generation, Generation};
#[allow(unused_imports)]
pub use hooks::{HookResult, TxnPlugins, TxnView};
#[allow(unused_imports)]
pub use module::{Module, StatsSnapshot};
#[cfg(test)]
mod abi_tests;
#[cfg(test)]
mod faulty_tests;
#[cfg(test)]
mod tests;
