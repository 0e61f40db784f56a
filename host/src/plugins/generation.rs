//! A generation: the plugins of one `plugin.config`, loaded and initialised,
//! in order. Transactions hold it by `Arc` from start to end, so a reload
//! builds a new generation beside the old one and the old one goes away (its
//! libraries unloaded) when its last transaction and transform are gone.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use plugin_sdk::ffi::HostTable;

use super::config;
use super::images::Images;
use super::loader;
use super::module::{Module, StatsSnapshot};
use super::runtime_dir::RuntimeDir;
use crate::transform::DEFAULT_WATER_MARK;

/// How a generation is loaded: where relative plugin paths resolve, where
/// the unique copies go, the host table plugins get, and the water mark of
/// every buffer in the generation's chains (`--buffer-bytes`).
pub struct LoadOptions<'a> {
    /// Relative plugin paths resolve against this folder.
    pub plugin_dir: &'a Path,
    /// Where each plugin's unique copy is written and opened.
    pub runtime: &'a RuntimeDir,
    /// The images already mapped, reused for unchanged plugin files.
    pub images: &'a Images,
    /// The host functions every plugin receives.
    pub host: &'static HostTable,
    /// The water mark of every chain buffer, in bytes.
    pub water_mark: usize,
}

/// See the module docs.
#[derive(Debug)]
pub struct Generation {
    modules: Vec<Arc<Module>>,
    /// The union of the modules' hook masks (`Module::hooks`).
    hooks: u32,
    water_mark: usize,
    /// 1 for the generation the host started with, then one more per successful reload.
    number: u64,
    /// Transactions running on this generation now.
    txns: AtomicUsize,
}

/// Parses `config`, loads every plugin from a unique copy in `rt` and
/// initialises it. On failure returns every refusal in the file, one line
/// each, in line order: config errors and plugin refusals alike, so that
/// `plugin-host check` shows an operator everything to fix in one pass.
/// Plugins on good lines are loaded (and unloaded) even when another line
/// is bad, so their refusals are found too.
pub fn load_generation(config: &Path, opts: &LoadOptions<'_>) -> Result<Generation, Vec<String>> {
    let (lines, mut errors) = parse_all(config, opts.plugin_dir);
    let mut modules = Vec::new();
    for line in &lines {
        match loader::load(line, opts) {
            Ok(m) => modules.push(Arc::new(m)),
            Err(e) => errors.push((line.line, e)),
        }
    }
    if errors.is_empty() {
        Ok(Generation::from_modules(modules).with_water_mark(opts.water_mark))
    } else {
        // `modules` drop here: the plugins that did load are finalised and unloaded.
        errors.sort_by_key(|(line, _)| *line);
        Err(errors.into_iter().map(|(_, e)| e).collect())
    }
}

/// Every plugin line that parses and every config error, each error with
/// its line (0: the whole file). The parser reports either lines or errors;
/// on errors the file is parsed once more with the bad lines blanked, which
/// keeps the numbering and yields the good lines.
fn parse_all(config: &Path, plugin_dir: &Path) -> (Vec<config::PluginLine>, Vec<(usize, String)>) {
    let errors = match config::parse_file(config, plugin_dir) {
        Ok(lines) => return (lines, Vec::new()),
        Err(errors) => errors,
    };
    let numbered: Vec<(usize, String)> = errors.iter().map(|e| (e.line().unwrap_or(0), e.to_string())).collect();
    let Ok(bytes) = std::fs::read(config) else {
        return (Vec::new(), numbered);
    };
    let bad: HashSet<usize> = numbered.iter().map(|(line, _)| *line).collect();
    let text: Vec<String> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, raw)| if bad.contains(&(i + 1)) { String::new() } else { String::from_utf8_lossy(raw).into_owned() })
        .collect();
    let good = config::parse_str(&text.join("\n"), config, plugin_dir).unwrap_or_default();
    (good, numbered)
}

impl Generation {
    /// A generation of already loaded modules, in chain order.
    pub fn from_modules(modules: Vec<Arc<Module>>) -> Self {
        let hooks = modules.iter().fold(0, |any, m| any | m.hooks());
        Generation { modules, hooks, water_mark: DEFAULT_WATER_MARK, number: 1, txns: AtomicUsize::new(0) }
    }

    /// Whether any plugin of the generation asked for hook `hook` (a
    /// `plugin_sdk::ffi::hook_id`): a transaction skips the hooks none did.
    pub fn wants(&self, hook: u32) -> bool {
        super::module::mask_has(self.hooks, hook)
    }

    /// Numbers the generation (see [`Generation::number`]).
    pub fn with_number(mut self, number: u64) -> Self {
        self.number = number;
        self
    }

    /// 1 for the generation the host started with, then one more per successful reload.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Transactions running on this generation now.
    pub fn txns(&self) -> usize {
        self.txns.load(Ordering::Relaxed)
    }

    /// A transaction started on (`true`) or left (`false`) this generation.
    pub fn count_txn(&self, started: bool) {
        if started {
            self.txns.fetch_add(1, Ordering::Relaxed);
        } else {
            self.txns.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Sets the water mark of every buffer in this generation's chains.
    pub fn with_water_mark(mut self, bytes: usize) -> Self {
        self.water_mark = bytes.max(1);
        self
    }

    /// No plugin configured.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// The plugins, in order.
    pub fn modules(&self) -> &[Arc<Module>] {
        &self.modules
    }

    /// The water mark of every buffer in this generation's chains.
    pub fn water_mark(&self) -> usize {
        self.water_mark
    }

    /// Every plugin's counters, in order.
    pub fn stats(&self) -> Vec<StatsSnapshot> {
        self.modules.iter().map(|m| m.snapshot()).collect()
    }
}
