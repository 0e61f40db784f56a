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
use std::sync::Arc;

use parking_lot::Mutex;
use plugin_sdk::ffi::{self, ByteSlice, EntryFn, ErrorBuf, Handle, HostTable, IoCtx, PluginTable, TxnCtx};

use super::abi::{self, one_line};
use super::current::{CallId, Calling};
use crate::transform::{PluginStats, TransformPlugin};

/// Longest message kept from a plugin (`init` error, panic message), in bytes.
const MESSAGE_CAP: usize = 1024;
/// Longest plugin message quoted in a one-line refusal, in bytes.
const QUOTE_CAP: usize = 300;
/// Most counters of one plugin shown in `/stats`.
const MAX_COUNTERS: usize = 256;

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
    /// The `plugin.config` line it was loaded from (`None`: built in, as in tests).
    config_line: Option<usize>,
    /// The ABI minor the plugin was built against.
    abi_minor: u32,
    /// The hooks the plugin asked for (ABI 1.3; older plugins get all), as
    /// a mask of `1 << hook_id`.
    hooks: u32,
    /// The host's copy of the plugin's entry points (its declared prefix,
    /// defaults after it); the pointers lead into `library`.
    table: PluginTable,
    /// The plugin-global state returned by `init`; `Send + Sync` by the SDK's contract.
    state: *mut c_void,
    /// The host functions passed to every entry point.
    host: &'static HostTable,
    pub(crate) stats: PluginStats,
    /// The message of the last panic caught in this plugin, if it said one.
    last_panic: Mutex<Option<String>>,
    /// Its entry points as a worker publishes them, interned at load.
    calls: Calls,
    /// Declared last: dropped after `Drop::drop` ran `fini`. Shared with
    /// every module of the same image (see `images`), which stays mapped.
    library: Option<Arc<libloading::Library>>,
}

// SAFETY: `table` holds pointers to the plugin's code; `state` is the
// plugin's `Plugin` value, which the SDK requires to be `Send + Sync`.
unsafe impl Send for Module {}
// SAFETY: as above.
unsafe impl Sync for Module {}

/// A module's entry points, each a [`CallId`] made once at load.
#[derive(Debug)]
struct Calls {
    /// By `hook_id` - 1.
    hooks: [CallId; 4],
    event: CallId,
    destroy: CallId,
    state_drop: CallId,
}

impl Calls {
    fn new(name: &str) -> Calls {
        let id = |callback| CallId::new(name, callback);
        Calls {
            hooks: HOOK_NAMES.map(id),
            event: id("a transform event"),
            destroy: id("transform destroy"),
            state_drop: id("txn state drop"),
        }
    }
}

/// The callback names of the hooks, by `hook_id` - 1.
const HOOK_NAMES: [&str; 4] = ["read_request_headers", "read_response_headers", "send_response_headers", "txn_close"];

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("name", &self.name).field("path", &self.path).finish()
    }
}

impl Module {
    /// Checks the descriptor `entry` returns and runs the plugin's `init`
    /// with `args`, passing it `host`, the table every later call passes too.
    /// `library` (if any) is the library `entry` lives in.
    /// Errors are one line: `plugin PATH: what is wrong; what to do`.
    pub fn init(
        path: &Path,
        entry: EntryFn,
        library: Option<Arc<libloading::Library>>,
        args: &[String],
        host: &'static HostTable,
    ) -> Result<Module, String> {
        // SAFETY: the entry symbol has the declared signature (checked by
        // name only: the descriptor's versions and layout are checked in
        // `abi::check`), and `library` stays loaded while we use it.
        let checked = unsafe { abi::check(path, entry)? };
        let shown = path.display();
        let arg_slices: Vec<ByteSlice> = args.iter().map(|a| ByteSlice::new(a.as_bytes())).collect();
        let mut state: *mut c_void = std::ptr::null_mut();
        let mut err = vec![0u8; MESSAGE_CAP];
        let mut err_len = 0usize;
        let err_buf = ErrorBuf { ptr: err.as_mut_ptr(), cap: err.len(), len: &mut err_len };
        let calling = Calling::enter(&checked.name, "init");
        // SAFETY: all pointers are live for the call; the SDK shim catches panics.
        let status = unsafe { (checked.table.init)(host, arg_slices.as_ptr(), arg_slices.len(), &mut state, err_buf) };
        drop(calling);
        let message = one_line(&String::from_utf8_lossy(&err[..err_len.min(err.len())]), QUOTE_CAP);
        match status {
            ffi::STATUS_OK if !state.is_null() => {}
            ffi::STATUS_OK => {
                return Err(format!("plugin {shown}: init reported success but returned no state; fix the plugin"))
            }
            ffi::STATUS_PANIC => {
                let message = if message.is_empty() { "no message".to_string() } else { message };
                return Err(format!(
                    "plugin {shown}: init panicked ({message}) with arguments {args:?}; fix the plugin"
                ));
            }
            _ if message.is_empty() => {
                return Err(format!(
                    "plugin {shown}: init refused its arguments {args:?} without saying why (status {status}); \
                     see the plugin's documentation"
                ))
            }
            _ => return Err(format!("plugin {shown}: init refused its arguments {args:?}: {message}")),
        }
        let calling = Calling::enter(&checked.name, "hooks_wanted");
        // SAFETY: `state` is the live state init just returned; the SDK shim catches panics.
        let hooks = unsafe { (checked.table.hooks_wanted)(state) };
        drop(calling);
        Ok(Module {
            calls: Calls::new(&checked.name),
            name: checked.name,
            path: path.to_path_buf(),
            config_line: None,
            abi_minor: checked.minor,
            hooks,
            table: checked.table,
            state,
            host,
            stats: PluginStats::default(),
            last_panic: Mutex::new(None),
            library,
        })
    }

    /// The plugin's name (its crate name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's path as configured.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the `plugin.config` line this module was loaded from.
    pub fn with_config_line(mut self, line: usize) -> Self {
        self.config_line = Some(line);
        self
    }

    /// The `plugin.config` line this module was loaded from, if it was.
    pub fn config_line(&self) -> Option<usize> {
        self.config_line
    }

    /// The ABI minor the plugin was built against (at most the host's).
    pub fn abi_minor(&self) -> u32 {
        self.abi_minor
    }

    /// The hooks the plugin asked for, a mask of `1 << hook_id`.
    pub fn hooks(&self) -> u32 {
        self.hooks
    }

    /// Whether the plugin asked for hook `hook` (a `plugin_sdk::ffi::hook_id`).
    pub fn wants(&self, hook: u32) -> bool {
        mask_has(self.hooks, hook)
    }

    /// Runs hook `hook` (a `plugin_sdk::ffi::hook_id`) on the transaction
    /// behind `txn`, entered at `now`, a coarse clock reading taken moments
    /// ago (see `Calling::enter_id_at`); returns the status and the reading
    /// taken once the plugin returned, for the next hook call.
    ///
    /// # Safety
    /// `txn` must be a context the host's transaction functions understand,
    /// valid for the call.
    pub(crate) unsafe fn call_hook_at(&self, hook: u32, txn: *mut TxnCtx, now: u64) -> (i32, u64) {
        let calling = match self.calls.hooks.get((hook as usize).wrapping_sub(1)) {
            Some(id) => Calling::enter_id_at(&self.name, *id, now),
            None => Calling::enter_id_at(&self.name, CallId::new(&self.name, "a hook"), now),
        };
        let status = (self.table.hook)(self.host, self.state, hook, txn);
        (status, calling.leave())
    }

    /// Drops a per-transaction state the plugin stored (once per state).
    pub(crate) fn drop_txn_state(&self, state: *mut c_void) {
        let calling = Calling::enter_id(&self.name, self.calls.state_drop);
        // SAFETY: `state` came from this plugin's txn_state_set, dropped once.
        let status = unsafe { (self.table.txn_state_drop)(state) };
        drop(calling);
        if status == ffi::STATUS_PANIC {
            self.count_panic("txn state drop");
        }
    }

    /// The counters the plugin registered (ABI 1.2), with their values now.
    pub fn plugin_counters(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for index in 0..MAX_COUNTERS {
            let (mut name, mut value) = (ByteSlice::EMPTY, 0u64);
            // SAFETY: the state lives until fini (self is alive); out-pointers are live locals.
            let found = unsafe { (self.table.counter_at)(self.state, index, &mut name, &mut value) };
            if found != 1 {
                break;
            }
            // SAFETY: the plugin keeps counter names alive until fini.
            let name = String::from_utf8_lossy(unsafe { name.as_slice() });
            out.push((one_line(&name, QUOTE_CAP), value));
        }
        out
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
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

    /// Counts one panic and says so in the log, with the panic's message
    /// when the plugin can give it. Call it right after the entry point
    /// returned `STATUS_PANIC`, on the same thread (the SDK keeps the
    /// message per thread). Returns the message.
    pub(crate) fn count_panic(&self, during: &str) -> Option<String> {
        self.stats.panics.fetch_add(1, Ordering::Relaxed);
        let message = self.take_panic_message();
        match &message {
            Some(m) => tracing::error!(plugin = %self.name, "plugin panicked in {during}: {m}"),
            None => tracing::error!(plugin = %self.name, "plugin panicked in {during} (it gave no message)"),
        }
        if message.is_some() {
            *self.last_panic.lock() = message.clone();
        }
        message
    }

    /// The message of the last panic counted, if the plugin gave one
    /// (plugins built against ABI 1.0 cannot).
    pub fn last_panic(&self) -> Option<String> {
        self.last_panic.lock().clone()
    }

    /// Asks the plugin why it just panicked (ABI 1.1; the 1.0 default says nothing).
    fn take_panic_message(&self) -> Option<String> {
        let mut buf = vec![0u8; MESSAGE_CAP];
        let mut len = 0usize;
        let out = ErrorBuf { ptr: buf.as_mut_ptr(), cap: buf.len(), len: &mut len };
        // SAFETY: `out` is live for the call; the SDK shim catches panics.
        let found = unsafe { (self.table.panic_message)(out) };
        (found == 1).then(|| one_line(&String::from_utf8_lossy(&buf[..len.min(buf.len())]), QUOTE_CAP))
    }

    /// Whether the plugin lives in a dynamically loaded library.
    pub fn is_dynamic(&self) -> bool {
        self.library.is_some()
    }
}

impl TransformPlugin for Module {
    fn name(&self) -> &str {
        &self.name
    }

    fn stats(&self) -> &PluginStats {
        &self.stats
    }

    unsafe fn transform_event(
        &self,
        instance: *mut c_void,
        io: *mut IoCtx,
        event: u32,
        vio: Handle,
        now: u64,
    ) -> (i32, u64) {
        let calling = Calling::enter_id_at(&self.name, self.calls.event, now);
        let status = (self.table.transform_event)(self.host, instance, io, event, vio);
        (status, calling.leave())
    }

    unsafe fn transform_destroy(&self, instance: *mut c_void) -> i32 {
        let _calling = Calling::enter_id(&self.name, self.calls.destroy);
        (self.table.transform_destroy)(instance)
    }

    fn count_panic(&self, during: &str) -> Option<String> {
        Module::count_panic(self, during)
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let calling = Calling::enter(&self.name, "fini");
        // SAFETY: `state` came from this table's init; fini runs once, before
        // the library field is dropped.
        let status = unsafe { (self.table.fini)(self.state) };
        drop(calling);
        if status == ffi::STATUS_PANIC {
            self.count_panic("fini");
        }
    }
}

/// Whether `mask` (of `1 << hook_id`, as `hooks_wanted` returns) holds `hook`.
pub(super) fn mask_has(mask: u32, hook: u32) -> bool {
    1u32.checked_shl(hook).is_some_and(|bit| mask & bit != 0)
}
