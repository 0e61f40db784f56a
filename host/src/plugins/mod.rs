//! The loader: configuration, loading and generations. It knows nothing of
//! transactions (that is the bridge's job); the engine sees its
//! modules only as `crate::transform::PluginRef`.
//!
//! - [`config`]: the `plugin.config` parser.
//! - [`runtime_dir`]: the private directory of unique plugin copies.
//! - [`loader`]: opens one plugin and checks it.
//! - `abi`: the descriptor checks (versions, panic strategy, layouts).
//! - [`module`]: a loaded plugin, its counters, its entry points.
//! - [`generation`]: the plugins of one configuration.
//! - [`images`]: plugin files mapped once per content, never unloaded.
//! - [`current`]: which plugin this thread is calling into, published per worker.

pub(crate) mod abi;
pub mod config;
pub mod current;
pub(crate) mod generation;
pub mod images;
pub(crate) mod loader;
pub(crate) mod module;
pub mod runtime_dir;

pub(crate) use current::with_current;
pub use generation::{load_generation, Generation, LoadOptions};
pub use module::{Module, StatsSnapshot};
