//! Opening one plugin: a unique byte copy (dlopen caches by path and inode,
//! so a rebuilt `.so` must not be opened in place), the entry symbol, then
//! the checks and `init` of [`Module::init`].

use plugin_sdk::ffi::{EntryFn, ENTRY_SYMBOL};

use super::config::PluginLine;
use super::module::Module;
use super::runtime_dir::RuntimeDir;

/// Loads and initialises the plugin of `line`. The error is one line naming
/// the config line, the plugin, what is wrong and what to do.
pub fn load(line: &PluginLine, rt: &RuntimeDir) -> Result<Module, String> {
    let at = format!("{}:{}", line.file.display(), line.line);
    let path = line.path.display();
    let copy = rt.unique_copy(&line.path).map_err(|e| {
        format!("{at}: {path}: cannot copy it into the runtime directory ({e}); check its permissions and free space")
    })?;
    // SAFETY: loading runs the library's initialisers; plugins are trusted
    // code by configuration, and everything after this is checked.
    let library = unsafe { libloading::Library::new(&copy) }
        .map_err(|e| format!("{at}: {path}: cannot be loaded ({e}); is it a shared object built for this platform?"))?;
    // SAFETY: the symbol's type is checked by the descriptor's versions and
    // layout right after; a wrong symbol of that name is a broken plugin.
    let entry: EntryFn = unsafe { library.get::<EntryFn>(ENTRY_SYMBOL.as_bytes()) }.map(|sym| *sym).map_err(|_| {
        format!("{at}: {path}: has no `{ENTRY_SYMBOL}` symbol; build it with plugin-sdk's declare_plugin!")
    })?;
    Module::init(&line.path, entry, Some(library), &line.args).map_err(|e| format!("{at}: {e}"))
}
