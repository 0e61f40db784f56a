//! The VIO engine: chains of transform instances, the IO buffers between
//! them, and the terminating transform that hands output to the caller.
//!
//! - [`chain`]: the [`Chain`] the transaction drives (input in, output out).
//! - `state`: vconnections, VIOs, buffers, readers and every protocol check.
//! - `dispatch`: which queued event goes next; backpressure gating.
//! - `ops`: the IO host functions' logic and protocol checks.
//! - `buffer`: IO buffers of shared `Bytes` blocks.
//! - `host_fns`: the IO host functions plugins call.
//! - [`instance`]: a plugin's transform object, destroyed exactly once.
//! - [`plugin`]: the narrow handle on a plugin the engine holds.
//!
//! Single-threaded by design: a transaction, its chain and its buffers live
//! on one worker thread. Knows nothing of sockets, mio, HTTP or the loader:
//! a plugin is a [`PluginRef`], whatever loaded it.
//!
//! ```text
//! host --B0--> T0 --B1--> T1 ... T(n-1) --Bn--> terminus --> take_output()
//! ```

mod buffer;
pub(crate) mod chain;
#[cfg(test)]
mod containment_tests;
mod dispatch;
pub(crate) mod host_fns;
pub(crate) mod instance;
mod ops;
pub(crate) mod plugin;
mod pool;
mod state;
#[cfg(test)]
pub(crate) mod tests;

use std::sync::atomic::Ordering;

use bytes::Bytes;

pub use chain::DEFAULT_WATER_MARK;
pub(crate) use chain::{Chain, RunStatus};
pub(crate) use instance::Instance;
pub use plugin::{PluginRef, PluginStats, TransformPlugin};
pub(crate) use pool::{give_back_list, instance_list};

/// A whole message a transform put in place of the one its chain carries
/// (see `plugin_sdk::ffi::HostTable::transform_replace`). Plain data: the
/// caller frames it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// The plugin that replaced the message.
    pub plugin: String,
    /// A final status, 200 to 599.
    pub status: u16,
    /// Header fields (names checked as tokens, values free of CR, LF and NUL).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body.
    pub body: Bytes,
}

/// Why a chain stopped: a plugin panicked or broke the VIO protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The plugin's name (`host` if no plugin was running).
    pub plugin: String,
    /// What happened, for the log.
    pub what: String,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plugin {}: {}", self.plugin, self.what)
    }
}

/// (live transform instances, live IO buffers) in the process.
pub fn live_counts() -> (usize, usize) {
    (instance::LIVE_TRANSFORMS.load(Ordering::Relaxed), buffer::LIVE_BUFFERS.load(Ordering::Relaxed))
}
