//! Plugins: the plugin.config parser and the runtime directory of plugin copies.

pub mod config;
pub mod runtime_dir;
