//! Process signals: SIGTERM and SIGINT start a graceful drain; SIGHUP
//! reloads the plugins (see `reload`).

use crate::shared::Shared;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::Arc;

/// Starts the thread that turns signals into flags and wakes the workers.
pub fn spawn(shared: Arc<Shared>) -> anyhow::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for sig in signals.forever() {
            if sig == SIGHUP {
                tracing::info!("SIGHUP: reloading plugin.config");
                shared.request_reload();
                continue;
            }
            tracing::info!(signal = sig, "shutting down: no new connections, draining in-flight transactions");
            shared.shut_down();
        }
    })?;
    Ok(())
}
