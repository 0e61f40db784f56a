//! Support for the end-to-end tests: the real `plugin-host` binary on loopback sockets.
//!
//! - [`host`]: spawn the binary, learn its port, read its logs, signal it, reap it.
//! - [`origin`]: a real HTTP/1.1 origin (std::net, thread per connection) whose answers
//!   are chosen by path, and which counts connections and records request heads.
//! - [`client`]: a ureq agent, a raw-socket client with its own response parser, and curl.
//! - [`fixtures`]: plugins built with cargo against patched SDK copies (ABI tests);
//!   [`c_plugins`]: plugins written in C, built with the system C compiler.
//! - [`faults`]: one request classified by how it ended, bounded runs that must exit, ABI
//!   fixture plugins, an origin that stops mid-body.
//! - [`chunked`], [`pattern`] and [`text`] (compressible): framing and deterministic bodies, independent of the
//!   proxy's own code so both sides cannot share a bug; [`cycle`]: bodies of any size,
//!   produced and checked as they stream.
//! - [`gzip`]: a host running the gzip plugin, and Debian's decoders for its output.
//! - [`scanner`]: hosts running the scanner plugin with patterns files, its log lines.
//! - [`trickle`]: an origin that writes one fixed body in small timed pieces and records
//!   what it received (the scanner tests).
//! - [`scripted_origin`]: an origin answering every request with the same raw bytes.
//! - [`plugins`]: plugin.config files, the built workspace plugins, a host with its admin
//!   server; [`admin`]: its `/stats` document; [`metrics`]: its `/metrics`, parsed by a real
//!   Prometheus parser and checked against the naming conventions; [`memory`]: the host's RSS.
//!
//! Every wait in here is bounded in count and time; nothing asserts on durations.

pub mod admin;
pub mod c_plugins;
pub mod chunked;
pub mod client;
pub mod cycle;
pub mod faults;
pub mod fixtures;
pub mod gzip;
pub mod host;
pub mod memory;
pub mod metrics;
pub mod origin;
pub mod pattern;
pub mod plugins;
pub mod scanner;
pub mod scripted_origin;
pub mod text;
pub mod trickle;

pub use client::{agent, assert_fresh_request_served, curl, get_request, read_body, RawConn, RawResponse};
pub use host::{Host, HostBuilder};
pub use origin::{closed_port_addr, set_linger_zero, Origin};
pub use pattern::{assert_same_bytes, pattern};
pub use plugins::{built_plugin, null_chain, null_plugin_path, PluginHost};
pub use scripted_origin::ScriptedOrigin;

/// Sizes every framing is tested with: empty, one byte, 64 KiB, 16 MiB.
pub const BODY_SIZES: [usize; 4] = [0, 1, 64 * 1024, 16 * 1024 * 1024];
