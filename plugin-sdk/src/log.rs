//! Logging through the host: lines go to the host's log (its `tracing`
//! output) with the plugin's name added by the host, at the host's level
//! filter. Use the macros [`log_error!`](crate::log_error),
//! [`log_warn!`](crate::log_warn), [`log_info!`](crate::log_info) and
//! [`log_debug!`](crate::log_debug), which take `format!` arguments:
//!
//! ```
//! use plugin_sdk::{log_info, log_warn};
//! let (url, matches) = ("/index.html", 3);
//! log_info!("scanned {url}: {matches} matches");
//! log_warn!("pattern file has {} duplicate lines", 2);
//! # assert_eq!(plugin_sdk::testing::take_logs().len(), 2);
//! ```
//!
//! Outside the host (unit tests), lines are kept for
//! [`testing::take_logs`](crate::testing::take_logs) instead.

use std::sync::atomic::{AtomicPtr, Ordering};

use crate::ffi::{ByteSlice, HostTable};

/// How important a line is; the host maps these to its log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something failed.
    Error,
    /// Something is wrong but handled.
    Warn,
    /// Normal operation worth a line.
    Info,
    /// Detail for debugging.
    Debug,
}

/// The host table, stored at `init`: the host passes the same static table
/// to every call, and log lines may come from anywhere in the plugin.
static HOST: AtomicPtr<HostTable> = AtomicPtr::new(std::ptr::null_mut());

pub(crate) fn set_host(host: &'static HostTable) {
    HOST.store(host as *const HostTable as *mut HostTable, Ordering::Release);
}

/// Writes one line at `level`. The macros call this.
pub fn write(level: Level, args: std::fmt::Arguments<'_>) {
    let text = args.to_string();
    let host = HOST.load(Ordering::Acquire);
    if host.is_null() {
        crate::testing::keep_log(level, text);
        return;
    }
    let code = match level {
        Level::Error => 0,
        Level::Warn => 1,
        Level::Info => 2,
        Level::Debug => 3,
    };
    // SAFETY: the host table is static in the host and outlives this library.
    unsafe { ((*host).log)(code, ByteSlice::new(text.as_bytes())) };
}

/// Logs at error level through the host. See [`crate::log`].
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($arg)*)) };
}

/// Logs at warn level through the host. See [`crate::log`].
#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($arg)*)) };
}

/// Logs at info level through the host. See [`crate::log`].
#[macro_export]
macro_rules! log_info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($arg)*)) };
}

/// Logs at debug level through the host. See [`crate::log`].
#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, format_args!($($arg)*)) };
}
