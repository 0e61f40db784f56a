//! A generation: the plugins of one `plugin.config`, loaded and initialised,
//! in order. Transactions hold it by `Arc` from start to end, so a reload
//! builds a new generation beside the old one and the old one goes away (its
//! libraries unloaded) when its last transaction and transform are gone.

use std::path::Path;
use std::sync::Arc;

use super::config;
use super::hooks::TxnPlugins;
use super::loader;
use super::module::{Module, StatsSnapshot};
use super::runtime_dir::RuntimeDir;
use crate::transform::DEFAULT_WATER_MARK;

/// See the module docs.
#[derive(Debug)]
pub struct Generation {
    modules: Vec<Arc<Module>>,
    water_mark: usize,
}

/// Parses `config`, loads every plugin from a unique copy in `rt` and
/// initialises it. Returns every error (config and plugin), one line each.
pub fn load_generation(config: &Path, plugin_dir: &Path, rt: &RuntimeDir) -> Result<Arc<Generation>, Vec<String>> {
    let lines = config::parse_file(config, plugin_dir)
        .map_err(|errs| errs.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
    let mut modules = Vec::new();
    let mut errors = Vec::new();
    for line in &lines {
        match loader::load(line, rt) {
            Ok(m) => modules.push(Arc::new(m)),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(Arc::new(Generation::from_modules(modules)))
    } else {
        // `modules` drop here: the plugins that did load are finalised and unloaded.
        Err(errors)
    }
}

impl Generation {
    /// A generation of already loaded modules, in chain order.
    pub fn from_modules(modules: Vec<Arc<Module>>) -> Self {
        Generation { modules, water_mark: DEFAULT_WATER_MARK }
    }

    /// Sets the water mark of every buffer in this generation's chains.
    pub fn with_water_mark(mut self, bytes: usize) -> Self {
        self.water_mark = bytes.max(1);
        self
    }

    /// Starts a transaction.
    pub fn begin_txn(self: &Arc<Self>) -> TxnPlugins {
        TxnPlugins::new(self.clone())
    }

    /// No plugin configured.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// The plugins, in order.
    pub fn modules(&self) -> &[Arc<Module>] {
        &self.modules
    }

    pub(crate) fn water_mark(&self) -> usize {
        self.water_mark
    }

    /// Every plugin's counters, in order.
    pub fn stats(&self) -> Vec<StatsSnapshot> {
        self.modules.iter().map(|m| m.stats()).collect()
    }
}
