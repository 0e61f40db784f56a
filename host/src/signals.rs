//! Process signals: SIGTERM and SIGINT start a graceful drain; SIGHUP
//! reloads the plugins (see `reload`); SIGUSR1 reopens the access log file
//! (for logrotate: rename the file, then signal).

use crate::access_log::Sink;
use crate::shared::Shared;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;
use std::sync::Arc;

/// Starts the thread that turns signals into flags and wakes the workers.
pub fn spawn(shared: Arc<Shared>, access_log: Option<Arc<Sink>>) -> anyhow::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for sig in signals.forever() {
            match sig {
                SIGHUP => {
                    tracing::info!("SIGHUP: reloading plugin.config");
                    shared.request_reload();
                }
                SIGUSR1 => reopen(access_log.as_deref()),
                _ => {
                    tracing::info!(signal = sig, "shutting down: no new connections, draining in-flight transactions");
                    shared.shut_down();
                }
            }
        }
    })?;
    Ok(())
}

/// SIGUSR1: a failed reopen keeps writing to the file already open.
fn reopen(sink: Option<&Sink>) {
    let Some(path) = sink.and_then(Sink::path) else {
        tracing::info!("SIGUSR1: the access log is not a file; nothing to reopen");
        return;
    };
    let shown = path.display();
    match sink.map(Sink::reopen) {
        Some(Ok(_)) => tracing::info!("SIGUSR1: reopened the access log {shown}"),
        Some(Err(e)) => {
            tracing::warn!("SIGUSR1: cannot reopen the access log {shown}: {e}; still writing to the old file")
        }
        None => {}
    }
}
