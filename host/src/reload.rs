//! Hot reload: SIGHUP, `POST /reload` on the admin endpoint, or
//! `plugin-host reload` re-reads `plugin.config`, loads and initialises a
//! whole new generation on this module's thread (the workers keep serving
//! meanwhile), and swaps it in with one store only if every line loaded.
//!
//! ```text
//! SIGHUP / POST /reload -> queue -> reload thread: load generation N+1
//!     every line loaded -> swap: new transactions (and the next request on a
//!                          keep-alive connection) get N+1; in-flight ones
//!                          finish on N, whose plugins are finalised when
//!                          its last transaction and transform are gone
//!     anything refused  -> nothing changes; counted, logged, answered
//! ```
//!
//! Requests are served one at a time, in order, so two reloads in quick
//! succession both happen and the last file read wins. A reload during a
//! graceful shutdown is ignored with a log line. Unchanged plugin files are
//! not mapped again (see `plugins::images`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::bridge::HOST_TABLE;
use crate::plugins::images::Images;
use crate::plugins::runtime_dir::RuntimeDir;
use crate::plugins::{load_generation, Generation, LoadOptions};
use crate::shared::Shared;

/// Where generations come from: the configuration and everything loading it needs.
pub struct Source {
    /// The plugin.config read at start and by every reload.
    pub config: PathBuf,
    /// Relative plugin paths resolve against this folder.
    pub plugin_dir: PathBuf,
    /// Where unique copies of plugin files go.
    pub runtime: RuntimeDir,
    /// Plugin images mapped so far, reused for unchanged files.
    pub images: Arc<Images>,
    /// The water mark of every chain buffer (`--buffer-bytes`).
    pub water_mark: usize,
}

impl Source {
    /// Loads the configuration as generation `number`; every refusal on failure.
    pub fn load(&self, number: u64) -> Result<Arc<Generation>, Vec<String>> {
        let opts = LoadOptions {
            plugin_dir: &self.plugin_dir,
            runtime: &self.runtime,
            images: &self.images,
            host: &HOST_TABLE,
            water_mark: self.water_mark,
        };
        load_generation(&self.config, &opts).map(|g| Arc::new(g.with_number(number)))
    }
}

/// What one reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Generation `generation`, of `plugins` plugins, now serves new transactions.
    Swapped {
        /// Its number.
        generation: u64,
        /// How many plugin lines it has.
        plugins: usize,
    },
    /// Nothing changed; each refusal, one line each (as `plugin-host check` prints them).
    Refused(Vec<String>),
    /// Not attempted, and why.
    Ignored(String),
}

impl Outcome {
    /// One line for the operator.
    pub fn summary(&self) -> String {
        match self {
            Outcome::Swapped { generation, plugins } => {
                format!("reloaded: generation {generation} serves new transactions, {plugins} plugin(s)")
            }
            Outcome::Refused(errors) => {
                format!("reload refused, nothing changed ({} error(s)):\n{}", errors.len(), errors.join("\n"))
            }
            Outcome::Ignored(why) => format!("reload ignored: {why}"),
        }
    }
}

struct Request {
    reply: Option<mpsc::Sender<Outcome>>,
}

/// A handle that queues reloads for the reload thread.
#[derive(Clone)]
pub struct Reloads {
    tx: mpsc::Sender<Request>,
    images: Arc<Images>,
}

impl Reloads {
    /// Plugin images mapped so far.
    pub fn images(&self) -> usize {
        self.images.count()
    }

    /// Queues a reload and returns at once (for signals).
    pub fn request(&self) {
        let _ = self.tx.send(Request { reply: None });
    }

    /// Queues a reload and waits up to `timeout` for its outcome.
    pub fn request_and_wait(&self, timeout: Duration) -> Option<Outcome> {
        let (reply, outcome) = mpsc::channel();
        self.tx.send(Request { reply: Some(reply) }).ok()?;
        outcome.recv_timeout(timeout).ok()
    }
}

/// Starts the reload thread serving `source` for `shared`.
pub fn spawn(source: Source, shared: Arc<Shared>) -> std::io::Result<Reloads> {
    let (tx, rx) = mpsc::channel::<Request>();
    let images = source.images.clone();
    std::thread::Builder::new().name("reload".into()).spawn(move || {
        for request in rx {
            let outcome = reload(&source, &shared);
            if let Some(reply) = request.reply {
                let _ = reply.send(outcome);
            }
        }
    })?;
    Ok(Reloads { tx, images })
}

fn reload(source: &Source, shared: &Shared) -> Outcome {
    if shared.shutting_down.load(Ordering::Acquire) {
        tracing::info!("reload ignored: a graceful shutdown is in progress");
        return Outcome::Ignored("a graceful shutdown is in progress".into());
    }
    let current = shared.generation().number();
    tracing::info!(config = %source.config.display(), "reloading plugins");
    match source.load(current + 1) {
        Ok(generation) => {
            let (number, plugins) = (generation.number(), generation.modules().len());
            for m in generation.modules() {
                tracing::info!(plugin = m.name(), path = %m.path().display(), generation = number, "plugin loaded");
            }
            shared.set_generation(generation);
            shared.reloads.succeeded.fetch_add(1, Ordering::Relaxed);
            tracing::info!(generation = number, plugins, images = source.images.count(), "reloaded plugin.config");
            Outcome::Swapped { generation: number, plugins }
        }
        Err(errors) => {
            shared.reloads.failed.fetch_add(1, Ordering::Relaxed);
            *shared.reloads.last_failure.lock() = Some(errors.join("; "));
            // One line per refusal, so each is whole in a log collector.
            for e in &errors {
                tracing::warn!("reload refused, generation {current} keeps serving: {e}");
            }
            Outcome::Refused(errors)
        }
    }
}
