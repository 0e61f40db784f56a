//! Support for the end-to-end tests: the real `plugin-host` binary on loopback sockets.
//!
//! - [`host`]: spawn the binary, learn its port, read its logs, signal it, reap it.
//! - [`origin`]: a real HTTP/1.1 origin (std::net, thread per connection) whose answers
//!   are chosen by path, and which counts connections and records request heads.
//! - [`client`]: a ureq agent, a raw-socket client with its own response parser, and curl.
//! - [`faults`]: a host on a plugin.config of the test's own, its `/stats`, its memory.
//! - [`chunked`] and [`pattern`]: framing and deterministic bodies, independent of the
//!   proxy's own code so both sides cannot share a bug.
//!
//! Every wait in here is bounded in count and time; nothing asserts on durations.

pub mod chunked;
pub mod client;
pub mod faults;
pub mod host;
pub mod origin;
pub mod pattern;

pub use client::{agent, assert_fresh_request_served, curl, get_request, read_body, RawConn, RawResponse};
pub use host::{Host, HostBuilder};
pub use origin::{closed_port_addr, Origin};
pub use pattern::{assert_same_bytes, pattern};

/// Sizes every framing is tested with: empty, one byte, 64 KiB, 16 MiB.
pub const BODY_SIZES: [usize; 4] = [0, 1, 64 * 1024, 16 * 1024 * 1024];
