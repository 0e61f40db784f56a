//! The plugin's log lines. The SDK does not offer the host's log yet, so
//! they go to the host's standard error with the plugin's name; this is the
//! one place to change when it does.

/// Logs a notice.
pub fn info(message: &str) {
    eprintln!("plugin-gzip: {message}");
}
