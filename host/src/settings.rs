//! Run-time settings shared by every worker: the origin, timeouts, limits.

use crate::h1::head::Limits;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything a worker needs to know that the command line decides.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The upstream every request goes to.
    pub origin: SocketAddr,
    /// Time allowed to receive a whole request head (slowloris guard).
    pub head_timeout: Duration,
    /// Time a keep-alive client connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// Time allowed to establish an origin connection.
    pub connect_timeout: Duration,
    /// Time a transaction may make no progress in either direction.
    pub inactivity_timeout: Duration,
    /// Time in-flight transactions get to finish after SIGTERM.
    pub drain_timeout: Duration,
    /// Request and response head limits.
    pub limits: Limits,
    /// Client connections across all workers.
    pub max_connections: usize,
    /// Bytes a transaction may buffer in each direction before it stops
    /// reading from the sender (backpressure).
    pub buffer_bytes: usize,
    /// Idle origin connections kept per worker.
    pub max_idle_origin: usize,
    /// Relay untransformed response bodies with `splice(2)` (see `splice.rs`).
    pub splice: bool,
    /// Smallest Content-Length relayed with `splice(2)`; smaller bodies take the buffered path.
    pub splice_min_bytes: u64,
}
