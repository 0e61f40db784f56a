//! The `extern "C"` entry points [`declare_plugin!`](crate::declare_plugin)
//! exports. **Not meant to be used directly.**
//!
//! Each shim only rebuilds types from pointers and calls a safe `*_impl`
//! under `catch_unwind`; a panic becomes [`STATUS_PANIC`], never an unwind
//! across `extern "C"`. The panic's message is kept for the host, which
//! asks for it through `panic_message` (and gets it in `init`'s error
//! buffer when `init` panicked).

use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::counter::Counters;
use crate::event::Event;
use crate::ffi::{
    hook_id, ByteSlice, ErrorBuf, Handle, HostTable, IoCtx, PluginTable, TxnCtx, STATUS_BAD_ARG, STATUS_ERROR,
    STATUS_OK, STATUS_PANIC,
};
use crate::io::Io;
use crate::plugin::Plugin;
use crate::txn::Txn;
use crate::vconn::{Transform, TransformCx};

pub use abi_stable::StableAbi;

/// Longest panic message kept for the host, in bytes.
const PANIC_MESSAGE_CAP: usize = 512;

/// The last panic caught on this thread: (bytes, length). A plain array,
/// not a `String`: a thread-local with a destructor would make glibc pin
/// this library in memory for as long as the host's worker threads live,
/// so an old generation could never be unloaded.
struct LastPanic {
    text: [u8; PANIC_MESSAGE_CAP],
    len: usize,
}

thread_local! {
    static LAST_PANIC: RefCell<LastPanic> =
        const { RefCell::new(LastPanic { text: [0; PANIC_MESSAGE_CAP], len: 0 }) };
}

/// Silences this library's own copy of std's panic output. Every panic in
/// plugin code is caught at the boundary and its message handed to the host,
/// which logs it with the plugin's name; the default hook would also print
/// to the host's stderr (a whole backtrace under `RUST_BACKTRACE`, costing
/// tens of MiB the first time). The hook belongs to this library's std only.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

/// Runs `f`, turning a panic into [`STATUS_PANIC`] and keeping its message.
fn guard(f: impl FnOnce() -> i32) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(status) => status,
        Err(payload) => {
            keep_panic_message(&*payload);
            // A payload whose drop panics must not unwind out of here either.
            if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                std::mem::forget(again);
            }
            STATUS_PANIC
        }
    }
}

/// The text of a panic: what `panic!` was given, when it was a string.
fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a panic without a message"
    }
}

fn keep_panic_message(payload: &(dyn Any + Send)) {
    let text = panic_text(payload);
    let n = floor_char_boundary(text, PANIC_MESSAGE_CAP);
    let _ = LAST_PANIC.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            last.text[..n].copy_from_slice(&text.as_bytes()[..n]);
            last.len = n;
        }
    });
}

/// Takes the kept panic message out into `out`; false if there was none.
fn take_panic_message(out: &ErrorBuf) -> bool {
    LAST_PANIC
        .try_with(|last| {
            let Ok(mut last) = last.try_borrow_mut() else {
                return false;
            };
            let n = std::mem::take(&mut last.len);
            if n == 0 {
                return false;
            }
            // Kept bytes were cut on a char boundary of a `str`.
            write_error(out, std::str::from_utf8(&last.text[..n]).unwrap_or("a panic"));
            true
        })
        .unwrap_or(false)
}

/// The largest `n <= max` that is a char boundary of `s`.
fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    n
}

/// What the global state pointer the host keeps points at: the plugin
/// value and the counters its `init` registered.
struct PluginState<P> {
    plugin: P,
    counters: Counters,
}

/// The plugin table for plugin type `P`.
pub struct Tables<P>(PhantomData<P>);

impl<P: Plugin> Tables<P> {
    /// The entry points, for a `static`.
    pub const TABLE: PluginTable = PluginTable {
        size: std::mem::size_of::<PluginTable>(),
        init: init::<P>,
        fini: fini::<P>,
        hook: hook::<P>,
        transform_event,
        transform_destroy,
        panic_message,
        txn_state_drop,
        counter_at: counter_at::<P>,
        hooks_wanted: hooks_wanted::<P>,
    };
}

/// [`crate::ffi::PluginTable::panic_message`].
pub(crate) unsafe extern "C" fn panic_message(out: ErrorBuf) -> i32 {
    guard(|| i32::from(take_panic_message(&out)))
}

unsafe extern "C" fn init<P: Plugin>(
    host: *const HostTable,
    args: *const ByteSlice,
    nargs: usize,
    state_out: *mut *mut c_void,
    err: ErrorBuf,
) -> i32 {
    quiet_panics();
    let status = guard(|| {
        if host.is_null() || state_out.is_null() || (args.is_null() && nargs != 0) {
            return STATUS_BAD_ARG;
        }
        // SAFETY: the host passes `nargs` valid slices, read during this call.
        let raw = if nargs == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(args, nargs) } };
        let args: Vec<String> =
            raw.iter().map(|a| String::from_utf8_lossy(unsafe { a.as_slice() }).into_owned()).collect();
        // SAFETY: host table is static in the host.
        match init_impl::<P>(unsafe { &*host }, &args) {
            Ok(state) => {
                // SAFETY: checked non-null above.
                unsafe { *state_out = state };
                STATUS_OK
            }
            Err(msg) => {
                write_error(&err, &msg);
                STATUS_ERROR
            }
        }
    });
    if status == STATUS_PANIC {
        // The host reads why init panicked where it reads why it failed.
        take_panic_message(&err);
    }
    status
}

fn init_impl<P: Plugin>(host: &HostTable, args: &[String]) -> Result<*mut c_void, String> {
    // The host refuses plugins of a newer minor, so this only trips on a
    // host that lies about its version; never call past its table.
    if host.size < std::mem::size_of::<HostTable>() {
        return Err(format!(
            "the host's function table ({} bytes) is older than this plugin's plugin-sdk needs ({} bytes); \
             rebuild the plugin against the host's plugin-sdk",
            host.size,
            std::mem::size_of::<HostTable>()
        ));
    }
    // SAFETY: the host's table is static in the host, for the library's whole life.
    crate::log::set_host(unsafe { &*(host as *const HostTable) });
    let (plugin, counters) = Counters::collect(|| P::init(args));
    Ok(Box::into_raw(Box::new(PluginState { plugin: plugin?, counters })) as *mut c_void)
}

fn write_error(err: &ErrorBuf, msg: &str) {
    if err.ptr.is_null() || err.len.is_null() {
        return;
    }
    // Truncate on a char boundary so the host always gets valid UTF-8.
    let n = floor_char_boundary(msg, err.cap);
    // SAFETY: the host gave `cap` writable bytes and a writable `len`.
    unsafe {
        std::ptr::copy_nonoverlapping(msg.as_ptr(), err.ptr, n);
        *err.len = n;
    }
}

unsafe extern "C" fn fini<P: Plugin>(state: *mut c_void) -> i32 {
    guard(|| {
        if state.is_null() {
            return STATUS_BAD_ARG;
        }
        // SAFETY: `state` came from init::<P> and the host calls fini once.
        drop(unsafe { Box::from_raw(state as *mut PluginState<P>) });
        STATUS_OK
    })
}

unsafe extern "C" fn hook<P: Plugin>(host: *const HostTable, state: *mut c_void, hook: u32, txn: *mut TxnCtx) -> i32 {
    guard(|| {
        if host.is_null() || state.is_null() || txn.is_null() {
            return STATUS_BAD_ARG;
        }
        // SAFETY: state is our P (shared, hooks take &self); host and txn are
        // valid for this call.
        let (state, mut txn) = unsafe { (&*(state as *const PluginState<P>), Txn::new(&*host, txn)) };
        hook_impl(&state.plugin, hook, &mut txn)
    })
}

fn hook_impl<P: Plugin>(plugin: &P, hook: u32, txn: &mut Txn<'_>) -> i32 {
    match hook {
        hook_id::READ_REQUEST_HEADERS => plugin.read_request_headers(txn),
        hook_id::READ_RESPONSE_HEADERS => plugin.read_response_headers(txn),
        hook_id::SEND_RESPONSE_HEADERS => plugin.send_response_headers(txn),
        hook_id::TXN_CLOSE => plugin.txn_close(txn),
        _ => return STATUS_BAD_ARG,
    }
    STATUS_OK
}

/// `transform` as an instance pointer, the way [`Txn::add_transform`](crate::Txn::add_transform)
/// hands it to the host: for a host's own tests that call a linked plugin's
/// `transform_event` and `transform_destroy` directly (this SDK's shims take
/// any `Transform`). Plugin authors add transforms through `Txn`.
pub fn transform_into_raw<T: crate::Transform>(transform: T) -> *mut c_void {
    crate::instance::into_raw(transform)
}

pub(crate) unsafe extern "C" fn transform_event(
    host: *const HostTable,
    instance: *mut c_void,
    io: *mut IoCtx,
    event: u32,
    vio: Handle,
) -> i32 {
    guard(|| {
        if host.is_null() || instance.is_null() || io.is_null() {
            return STATUS_BAD_ARG;
        }
        // SAFETY: `instance` came from Txn::add_transform (`instance::into_raw`)
        // and the host never calls it concurrently; host and io are valid for this call.
        let (transform, io) = unsafe { (crate::instance::as_transform(instance), Io::new(&*host, io)) };
        transform_event_impl(transform, io, event, vio)
    })
}

fn transform_event_impl(transform: &mut dyn Transform, io: Io<'_>, event: u32, vio: Handle) -> i32 {
    let Some(event) = Event::from_code(event) else {
        return STATUS_BAD_ARG;
    };
    let mut cx = TransformCx { io, vio };
    transform.on_event(&mut cx, event);
    STATUS_OK
}

pub(crate) unsafe extern "C" fn transform_destroy(instance: *mut c_void) -> i32 {
    guard(|| {
        if instance.is_null() {
            return STATUS_BAD_ARG;
        }
        // SAFETY: as in transform_event; the host calls destroy exactly once.
        unsafe { crate::instance::destroy(instance) };
        STATUS_OK
    })
}

/// [`crate::ffi::PluginTable::txn_state_drop`].
pub(crate) unsafe extern "C" fn txn_state_drop(state: *mut c_void) -> i32 {
    guard(|| {
        if state.is_null() {
            return STATUS_BAD_ARG;
        }
        // SAFETY: `state` came from Txn::state (a boxed Box<dyn Any>) and the
        // host drops it exactly once.
        drop(unsafe { Box::from_raw(state as *mut Box<dyn Any>) });
        STATUS_OK
    })
}

/// [`crate::ffi::PluginTable::hooks_wanted`].
unsafe extern "C" fn hooks_wanted<P: Plugin>(state: *mut c_void) -> u32 {
    // On a panic, every hook: the plugin then behaves as before 1.3.
    let mut wanted = crate::Hooks::ALL.bits();
    let _ = guard(|| {
        if state.is_null() {
            return STATUS_BAD_ARG;
        }
        // SAFETY: state is our PluginState<P>, created by init and alive until fini.
        let state = unsafe { &*(state as *const PluginState<P>) };
        wanted = state.plugin.hooks().bits();
        STATUS_OK
    });
    wanted
}

/// [`crate::ffi::PluginTable::counter_at`].
unsafe extern "C" fn counter_at<P: Plugin>(
    state: *mut c_void,
    index: usize,
    name: *mut ByteSlice,
    value: *mut u64,
) -> i32 {
    guard(|| {
        if state.is_null() || name.is_null() || value.is_null() {
            return 0;
        }
        // SAFETY: `state` came from init::<P> and lives until fini; the host
        // passes live out-pointers for the call.
        let state = unsafe { &*(state as *const PluginState<P>) };
        let Some((counter, now)) = state.counters.at(index) else { return 0 };
        // SAFETY: as above; the name lives in the counters, which live until fini.
        unsafe {
            *name = ByteSlice::new(counter.as_bytes());
            *value = now;
        }
        1
    })
}
