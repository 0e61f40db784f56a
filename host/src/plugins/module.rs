//! One loaded, initialised plugin: its tables, its global state, its
//! counters, and the library they live in.
//!
//! A `Module` is held by `Arc` by its generation, by every transform
//! instance it created and by every block of plugin-owned bytes still in
//! flight, so the library outlives every pointer into it. Dropping the last
//! `Arc` calls the plugin's `fini`, then unloads the library.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use abi_stable::abi_stability::abi_checking::{check_layout_compatibility, AbiInstabilityErrors};
use abi_stable::StableAbi;
use plugin_sdk::ffi::{self, AbiRoot, ByteSlice, EntryFn, ErrorBuf, PluginModule, PluginTable};

use super::host_table::HOST_TABLE;

/// Longest `init` error message kept.
const INIT_ERROR_CAP: usize = 1024;

/// Per-plugin counters, shared by every worker thread.
#[derive(Debug, Default)]
pub struct PluginStats {
    /// Transactions whose hooks ran this plugin.
    pub transactions: AtomicU64,
    /// Body bytes that entered this plugin's transforms.
    pub bytes_in: AtomicU64,
    /// Body bytes that left this plugin's transforms.
    pub bytes_out: AtomicU64,
    /// Transform chains with this plugin torn down before the end of the body.
    pub aborts: AtomicU64,
    /// Panics caught in this plugin's code.
    pub panics: AtomicU64,
    /// Protocol errors (bad handles, broken VIO rules) charged to this plugin.
    pub protocol_errors: AtomicU64,
}

/// A copy of [`PluginStats`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// The plugin's name.
    pub name: String,
    /// See [`PluginStats`].
    pub transactions: u64,
    /// See [`PluginStats`].
    pub bytes_in: u64,
    /// See [`PluginStats`].
    pub bytes_out: u64,
    /// See [`PluginStats`].
    pub aborts: u64,
    /// See [`PluginStats`].
    pub panics: u64,
    /// See [`PluginStats`].
    pub protocol_errors: u64,
}

/// A loaded plugin. See the module docs.
pub struct Module {
    name: String,
    path: PathBuf,
    /// Points into the library's static data (or the host binary for
    /// statically linked plugins); valid while `library` is loaded.
    table: *const PluginTable,
    /// The plugin-global state returned by `init`; `Send + Sync` by the SDK's contract.
    state: *mut c_void,
    pub(crate) stats: PluginStats,
    /// Declared last: dropped after `Drop::drop` ran `fini`.
    library: Option<libloading::Library>,
}

// SAFETY: `table` points at immutable static data; `state` is the plugin's
// `Plugin` value, which the SDK requires to be `Send + Sync`.
unsafe impl Send for Module {}
// SAFETY: as above.
unsafe impl Sync for Module {}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("name", &self.name).field("path", &self.path).finish()
    }
}

impl Module {
    /// Checks the descriptor `entry` returns and runs the plugin's `init`
    /// with `args`. `library` (if any) is the library `entry` lives in.
    /// Errors are one line: plugin path, what is wrong, what to do.
    pub fn init(
        path: &Path,
        entry: EntryFn,
        library: Option<libloading::Library>,
        args: &[String],
    ) -> Result<Module, String> {
        let shown = path.display();
        // SAFETY: the entry symbol has the declared signature (checked by
        // name only: the descriptor's versions and layout are checked next).
        let desc = unsafe { entry() };
        if desc.is_null() {
            return Err(format!(
                "{shown}: its entry symbol returned no descriptor; rebuild it with plugin-sdk's declare_plugin!"
            ));
        }
        // SAFETY: the first fields of PluginModule never change across ABI
        // versions; the rest is read only after the checks below.
        let desc: &PluginModule = unsafe { &*desc };
        check_descriptor(path, desc)?;
        let table: &PluginTable = desc.table;
        // SAFETY: StaticStr points at the plugin's 'static data.
        let name = String::from_utf8_lossy(unsafe { ByteSlice { ptr: desc.name.ptr, len: desc.name.len }.as_slice() })
            .into_owned();

        let arg_slices: Vec<ByteSlice> = args.iter().map(|a| ByteSlice::new(a.as_bytes())).collect();
        let mut state: *mut c_void = std::ptr::null_mut();
        let mut err = vec![0u8; INIT_ERROR_CAP];
        let mut err_len = 0usize;
        let err_buf = ErrorBuf { ptr: err.as_mut_ptr(), cap: err.len(), len: &mut err_len };
        // SAFETY: all pointers are live for the call; the SDK shim catches panics.
        let status = unsafe { (table.init)(&HOST_TABLE, arg_slices.as_ptr(), arg_slices.len(), &mut state, err_buf) };
        match status {
            ffi::STATUS_OK if !state.is_null() => {}
            ffi::STATUS_OK => return Err(format!("{shown}: init returned no state; this is a bug in the plugin")),
            ffi::STATUS_PANIC => return Err(format!("{shown}: init panicked; see the log above and fix the plugin")),
            _ => {
                let msg = String::from_utf8_lossy(&err[..err_len.min(err.len())]);
                return Err(format!("{shown}: refused its arguments {args:?}: {msg}"));
            }
        }
        Ok(Module { name, path: path.to_path_buf(), table, state, stats: PluginStats::default(), library })
    }

    /// The plugin's name (its crate name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's path as configured.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugin's entry points.
    pub(crate) fn table(&self) -> &PluginTable {
        // SAFETY: valid while the library is loaded, i.e. while self lives.
        unsafe { &*self.table }
    }

    pub(crate) fn state(&self) -> *mut c_void {
        self.state
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.stats;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            name: self.name.clone(),
            transactions: get(&s.transactions),
            bytes_in: get(&s.bytes_in),
            bytes_out: get(&s.bytes_out),
            aborts: get(&s.aborts),
            panics: get(&s.panics),
            protocol_errors: get(&s.protocol_errors),
        }
    }

    /// Counts one panic and says so in the log.
    pub(crate) fn count_panic(&self, during: &str) {
        self.stats.panics.fetch_add(1, Ordering::Relaxed);
        tracing::error!(plugin = %self.name, "plugin panicked during {during}; transaction aborted");
    }

    /// Whether the plugin lives in a dynamically loaded library.
    pub fn is_dynamic(&self) -> bool {
        self.library.is_some()
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        // SAFETY: `state` came from this table's init; fini runs once, before
        // the library field is dropped.
        let status = unsafe { (self.table().fini)(self.state) };
        if status == ffi::STATUS_PANIC {
            tracing::error!(plugin = %self.name, "plugin panicked in fini");
        }
    }
}

/// The checks before trusting a descriptor.
fn check_descriptor(path: &Path, desc: &PluginModule) -> Result<(), String> {
    let shown = path.display();
    if desc.abi_major != ffi::ABI_MAJOR {
        return Err(format!(
            "{shown}: built for plugin ABI {}.{}, this host speaks {}.{}; rebuild the plugin against this host's plugin-sdk",
            desc.abi_major,
            desc.abi_minor,
            ffi::ABI_MAJOR,
            ffi::ABI_MINOR
        ));
    }
    if desc.abi_minor > ffi::ABI_MINOR {
        return Err(format!(
            "{shown}: built for plugin ABI {}.{}, newer than this host's {}.{}; upgrade the host or rebuild the plugin against its plugin-sdk",
            desc.abi_major,
            desc.abi_minor,
            ffi::ABI_MAJOR,
            ffi::ABI_MINOR
        ));
    }
    if desc.size < std::mem::size_of::<PluginModule>() {
        return Err(format!(
            "{shown}: its descriptor is truncated ({} bytes); rebuild it against this host's plugin-sdk",
            desc.size
        ));
    }
    if desc.panic_unwind != 1 {
        return Err(format!(
            "{shown}: built with panic = \"abort\", so one panic would kill the proxy; build it with panic = \"unwind\" (the default)"
        ));
    }
    if let Err(e) = check_layout_compatibility(<AbiRoot as StableAbi>::LAYOUT, desc.layout) {
        return Err(format!(
            "{shown}: its ABI types differ from this host's ({}); rebuild it against this host's plugin-sdk",
            summarize(&e)
        ));
    }
    if desc.table.size < std::mem::size_of::<PluginTable>() {
        return Err(format!(
            "{shown}: its entry table is truncated ({} bytes); rebuild it against this host's plugin-sdk",
            desc.table.size
        ));
    }
    Ok(())
}

/// One line out of abi_stable's multi-page layout report: where the first
/// difference is and what it is.
pub(crate) fn summarize(e: &AbiInstabilityErrors) -> String {
    let Some(first) = e.errors.iter().next() else {
        return "no details".into();
    };
    let path: Vec<String> = first.stack_trace.iter().map(|ef| ef.found.to_string()).collect();
    let what = first.errs.iter().next().map(|a| format!("{a:?}")).unwrap_or_default();
    let mut line = format!("at {}: {}", if path.is_empty() { "the root type".into() } else { path.join(" > ") }, what);
    line.retain(|c| c != '\n');
    if line.len() > 200 {
        let mut cut = 200;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line
}
