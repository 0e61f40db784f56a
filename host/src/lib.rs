//! The plugin-host proxy as a library: the binary in `main.rs` is its
//! command line. Modules, in data-path order:
//!
//! - [`access_log`]: one line per transaction, buffered per worker.
//! - [`event_loop`]: one mio worker per thread; accept, dispatch, timers.
//! - [`session`]: a client connection; heads, keep-alive, pipelining.
//! - [`txn`]: one transaction; request out, response back.
//! - [`origin`]: origin connections and the per-worker pool.
//! - `spare`: per-worker spare transaction boxes and write-queue storage, so
//!   an idle connection holds neither.
//! - `splice`: kernel pipes that relay untransformed bodies with `splice(2)`.
//! - [`h1`]: HTTP/1.1 framing (knows nothing of plugins or sockets).
//! - [`bridge`]: one transaction's plugin hooks and the host functions
//!   plugins call.
//! - [`plugins`]: the loader: plugin.config, loading, generations.
//! - [`transform`]: the VIO engine: transform chains and their IO buffers.
//! - [`watchdog`]: contains a worker stuck in a plugin callback.
//! - `clock`: the coarse clock read on every plugin call and chain event.
//! - [`reload`]: new generations loaded beside the old one and swapped in.
//! - [`admin`] and [`metrics`]: `/stats`, `/metrics` and `/reload` for operators.
//! - [`offline`]: `run-transform`, one body through a chain without a proxy.
//! - [`cli`] and [`logging`]: the binary's address flags, start-up hints and log set-up.
//! - [`malloc_tune`]: glibc malloc settings that keep body buffers from faulting in again.
//!
//! Dependencies run one way: `txn` -> {`h1`, `transform`, `bridge`};
//! `bridge` -> {`plugins`, `transform`, `h1`}; `plugins` -> `transform`;
//! `transform` and `h1` know none of the others (`.ci/check-deps` checks it).

pub mod access_log;
pub mod admin;
pub mod admin_client;
pub(crate) mod body;
pub mod bridge;
pub mod cli;
pub(crate) mod clock;
pub(crate) mod error_page;
pub mod event_loop;
pub mod h1;
pub(crate) mod io_util;
pub mod logging;
pub mod malloc_tune;
pub mod metrics;
pub mod offline;
pub(crate) mod origin;
pub mod plugins;
pub mod reload;
pub(crate) mod session;
pub mod settings;
pub mod shared;
pub mod signals;
pub(crate) mod spare;
pub(crate) mod splice;
pub mod static_origin;
pub mod transform;
pub(crate) mod txn;
pub mod watchdog;
