//! The ABI checks a plugin's descriptor must pass before the host trusts
//! it, and the host's own copy of the plugin's entry table.
//!
//! In order, stopping at the first failure (one line per plugin):
//!
//! 1. the entry symbol returned a descriptor;
//! 2. same ABI major as the host;
//! 3. a minor no newer than the host's (older is fine);
//! 4. a descriptor as large as this major's;
//! 5. built with `panic = "unwind"`;
//! 6. boundary types laid out exactly as in the frozen layout of the
//!    plugin's own minor (abi_stable's check; see `plugin_sdk::ffi::v1_0`),
//!    for a descriptor that carries a layout;
//! 7. an entry table exactly as large as that minor's.
//!
//! **C plugins** (`include/plugin_host.h` in plugin-sdk) carry no layout:
//! C cannot produce abi_stable's `TypeLayout`, so their descriptor's
//! `layout` is null. Rather than trust a layout a C plugin could only fake,
//! the host skips step 6 for them and says so: the descriptor size, the
//! versions and the table size (steps 2 to 4 and 7) are all that vouch for
//! a C plugin, and the header (generated from `ffi.rs`, checked fresh by a
//! test) is what keeps its structs equal to ours. Rust plugins always carry
//! a layout (`declare_plugin!`), so they keep the full check.
//!
//! The table is then copied, only as far as the plugin declared it, over a
//! table of defaults, so entries appended by later minors are present in
//! the copy as harmless stand-ins (`panic_message`: "no message").

use std::ffi::c_void;
use std::mem::size_of;
use std::path::Path;

use abi_stable::abi_stability::abi_checking::{check_layout_compatibility, AbiInstability, AbiInstabilityErrors};
use abi_stable::type_layout::{TLFieldOrFunction, TypeLayout};
use abi_stable::StableAbi;
use plugin_sdk::ffi::{
    self, v1_0, v1_1, v1_2, AbiRoot, ByteSlice, EntryFn, ErrorBuf, Handle, HostTable, IoCtx, PluginModule, PluginTable,
    TxnCtx, ABI_MAJOR, ABI_MINOR,
};

/// Longest layout summary kept in a refusal, in bytes.
const SUMMARY_CAP: usize = 160;

/// What the host knows of each minor of its major: the layout plugins of
/// that minor were built with, and the size of their entry table. The
/// array length follows `ABI_MINOR`, so bumping it without adding the new
/// minor here does not compile.
struct Minor {
    root: &'static TypeLayout,
    table_size: usize,
}

static MINORS: [Minor; ABI_MINOR as usize + 1] = [
    Minor { root: <v1_0::AbiRoot as StableAbi>::LAYOUT, table_size: size_of::<v1_0::PluginTable>() },
    Minor { root: <v1_1::AbiRoot as StableAbi>::LAYOUT, table_size: size_of::<v1_1::PluginTable>() },
    Minor { root: <v1_2::AbiRoot as StableAbi>::LAYOUT, table_size: size_of::<v1_2::PluginTable>() },
    Minor { root: <AbiRoot as StableAbi>::LAYOUT, table_size: size_of::<PluginTable>() },
];

/// A descriptor that passed every check.
pub(crate) struct Checked {
    /// The plugin's name (its crate name).
    pub name: String,
    /// The ABI minor it was built against.
    pub minor: u32,
    /// Its entry points, with defaults for entries its minor lacks.
    pub table: PluginTable,
}

/// Calls `entry` and checks the descriptor it returns. Errors are one line:
/// `plugin PATH: what is wrong; what to do`.
///
/// # Safety
/// `entry` must be a function of the [`EntryFn`] signature (the symbol's
/// name is all that vouches for that) whose library stays loaded.
pub(crate) unsafe fn check(path: &Path, entry: EntryFn) -> Result<Checked, String> {
    let fail = |what: String| Err(format!("plugin {}: {what}", path.display()));
    // SAFETY: the caller vouches for the signature.
    let desc = unsafe { entry() };
    if desc.is_null() {
        return fail("its entry symbol returned no descriptor; rebuild it with plugin-sdk's declare_plugin!".into());
    }
    // SAFETY: the first four fields are the same in every ABI version, so
    // they are read one by one before the size says the rest is there.
    let (size, major, minor, unwind) = unsafe {
        (
            std::ptr::addr_of!((*desc).size).read(),
            std::ptr::addr_of!((*desc).abi_major).read(),
            std::ptr::addr_of!((*desc).abi_minor).read(),
            std::ptr::addr_of!((*desc).panic_unwind).read(),
        )
    };
    if major != ABI_MAJOR {
        return fail(format!(
            "built against plugin-sdk ABI {major}.{minor}, this host speaks {ABI_MAJOR}.{ABI_MINOR}; \
             rebuild it against this host's plugin-sdk"
        ));
    }
    let Some(known) = MINORS.get(minor as usize) else {
        return fail(format!(
            "built against plugin-sdk ABI {major}.{minor}, newer than this host's {ABI_MAJOR}.{ABI_MINOR}; \
             upgrade the host, or rebuild the plugin against this host's plugin-sdk"
        ));
    };
    if size < size_of::<PluginModule>() {
        return fail(format!(
            "its descriptor is {size} bytes, ABI {major}.{minor} needs {}; rebuild it against this host's plugin-sdk",
            size_of::<PluginModule>()
        ));
    }
    if unwind != 1 {
        return fail(
            "built with panic = \"abort\", so a panic in it would kill the whole proxy; \
             rebuild it with panic = \"unwind\" (the default)"
                .into(),
        );
    }
    // SAFETY: the size check above: the whole descriptor is there (and
    // `layout` is an `Option`, so a C plugin's null is a valid `None`).
    let desc: &PluginModule = unsafe { &*desc };
    // No layout: a C plugin (module doc); checked by versions and sizes only.
    if let Some(layout) = desc.layout {
        if let Err(e) = check_layout_compatibility(known.root, layout) {
            return fail(format!(
                "its ABI {major}.{minor} types differ from this host's ({}); rebuild it against this host's plugin-sdk",
                summarize(&e)
            ));
        }
    }
    if desc.table.is_null() {
        return fail(
            "its descriptor has no entry table; rebuild it with plugin-sdk's declare_plugin! \
             (or, in C, point `table` at a PH_PluginTable)"
                .into(),
        );
    }
    // SAFETY: the layout check (for a C plugin, its header) vouches that
    // `table` points at a table of this minor, whose first field is its
    // size; a plugin that lies here could as well crash in any entry.
    let table_size = unsafe { std::ptr::addr_of!((*desc.table).size).read() };
    if table_size != known.table_size {
        return fail(format!(
            "its entry table is {table_size} bytes, ABI {major}.{minor} has {}; rebuild it against this host's plugin-sdk",
            known.table_size
        ));
    }
    let mut table = DEFAULTS;
    // SAFETY: `table_size` is one of the known minors' sizes, all at most
    // `size_of::<PluginTable>()` and ending on a field boundary, and the
    // layout check said those bytes are the same fields as ours.
    unsafe {
        std::ptr::copy_nonoverlapping(desc.table.cast::<u8>(), std::ptr::addr_of_mut!(table).cast::<u8>(), table_size);
    }
    // SAFETY: a StaticStr points at the plugin's 'static data.
    let name = unsafe { ByteSlice { ptr: desc.name.ptr, len: desc.name.len }.as_slice() };
    Ok(Checked { name: one_line(&String::from_utf8_lossy(name), 80), minor, table })
}

/// The host's view of a plugin table before the plugin's prefix is copied
/// over it: every entry a harmless stand-in. Only stand-ins for entries
/// newer than the plugin's minor survive the copy.
const DEFAULTS: PluginTable = PluginTable {
    size: size_of::<PluginTable>(),
    init: absent_init,
    fini: absent_ok,
    hook: absent_hook,
    transform_event: absent_event,
    transform_destroy: absent_ok,
    panic_message: absent_panic_message,
    txn_state_drop: absent_ok,
    counter_at: absent_counter,
    hooks_wanted: absent_hooks_wanted,
};

unsafe extern "C" fn absent_init(
    _host: *const HostTable,
    _args: *const ByteSlice,
    _nargs: usize,
    _state_out: *mut *mut c_void,
    _err: ErrorBuf,
) -> i32 {
    ffi::STATUS_ERROR
}
unsafe extern "C" fn absent_ok(_: *mut c_void) -> i32 {
    ffi::STATUS_OK
}
unsafe extern "C" fn absent_hook(_: *const HostTable, _: *mut c_void, _: u32, _: *mut TxnCtx) -> i32 {
    ffi::STATUS_OK
}
unsafe extern "C" fn absent_event(_: *const HostTable, _: *mut c_void, _: *mut IoCtx, _: u32, _: Handle) -> i32 {
    ffi::STATUS_BAD_ARG
}
/// ABI 1.0 plugins cannot say why they panicked.
unsafe extern "C" fn absent_panic_message(_: ErrorBuf) -> i32 {
    0
}
/// Plugins older than ABI 1.2 have no counters of their own.
unsafe extern "C" fn absent_counter(_: *mut c_void, _: usize, _: *mut ByteSlice, _: *mut u64) -> i32 {
    0
}
/// Plugins older than ABI 1.3 cannot say which hooks they want: every one.
unsafe extern "C" fn absent_hooks_wanted(_: *mut c_void) -> u32 {
    u32::MAX
}

/// One short clause out of abi_stable's multi-page layout report: where
/// the first difference is and what it is.
pub(crate) fn summarize(e: &AbiInstabilityErrors) -> String {
    let Some(first) = e.errors.iter().next() else {
        return "no details".into();
    };
    let mut at = String::from("AbiRoot");
    for step in first.stack_trace.iter() {
        at.push('.');
        at.push_str(match &step.expected {
            TLFieldOrFunction::Field(f) => f.name(),
            TLFieldOrFunction::Function(f) => f.name.as_str(),
        });
    }
    let what = first.errs.iter().next().map_or_else(|| "differs".to_string(), describe);
    one_line(&format!("{at}: {what}"), SUMMARY_CAP)
}

fn describe(difference: &AbiInstability) -> String {
    match difference {
        AbiInstability::FieldCountMismatch(ef) => {
            format!("{} fields in the plugin, {} in this host", ef.found, ef.expected)
        }
        AbiInstability::UnexpectedField(ef) => {
            format!("field `{}` in the plugin where this host has `{}`", ef.found.name(), ef.expected.name())
        }
        AbiInstability::Name(ef) => format!("type {} in the plugin where this host has {}", ef.found, ef.expected),
        AbiInstability::Size(ef) => format!("{} bytes in the plugin, {} in this host", ef.found, ef.expected),
        AbiInstability::Alignment(ef) => {
            format!("aligned to {} in the plugin, {} in this host", ef.found, ef.expected)
        }
        AbiInstability::PackageVersion(ef) => {
            format!("plugin-sdk {} in the plugin, {} in this host", ef.found, ef.expected)
        }
        other => {
            // The variant's name says what kind of difference it is; its
            // payload is the multi-line dump we keep out of the message.
            let debug = format!("{other:?}");
            let kind = debug.split(['(', '{', ' ']).next().unwrap_or("layout");
            format!("{kind} differs")
        }
    }
}

/// `text` on one line (control characters become spaces), at most `cap`
/// bytes (cut on a char boundary, with an ellipsis).
pub(crate) fn one_line(text: &str, cap: usize) -> String {
    let mut line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if line.len() > cap {
        let mut cut = cap;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line
}

#[cfg(test)]
mod tests {
    //! The C-plugin rule: a descriptor without a layout is checked by its
    //! versions and sizes only; everything else about it is checked as for
    //! Rust. Descriptors here are built the way `examples/c-null` builds
    //! its own, as plain statics.

    use super::*;
    use plugin_sdk::ffi::StaticStr;

    /// A C plugin's entry table: the host's defaults, `size` as declared.
    const fn c_table(size: usize) -> PluginTable {
        PluginTable { size, ..DEFAULTS }
    }

    /// Defines an entry returning a descriptor with these fields.
    macro_rules! entry {
        ($entry:ident, major $major:expr, minor $minor:expr, unwind $unwind:expr, layout $layout:expr, table $table:expr) => {
            unsafe extern "C" fn $entry() -> *const PluginModule {
                static TABLE: PluginTable = $table;
                static MODULE: PluginModule = PluginModule {
                    size: size_of::<PluginModule>(),
                    abi_major: $major,
                    abi_minor: $minor,
                    panic_unwind: $unwind,
                    name: StaticStr::new("c-null"),
                    sdk_version: StaticStr::new("c"),
                    layout: $layout,
                    table: &TABLE as *const PluginTable,
                };
                &MODULE
            }
        };
    }

    const CURRENT: usize = size_of::<PluginTable>();
    entry!(c_current, major ABI_MAJOR, minor ABI_MINOR, unwind 1, layout None, table c_table(CURRENT));
    entry!(c_minor_0, major ABI_MAJOR, minor 0, unwind 1, layout None, table c_table(size_of::<v1_0::PluginTable>()));
    entry!(c_short_table, major ABI_MAJOR, minor ABI_MINOR, unwind 1, layout None, table c_table(CURRENT - 8));
    entry!(c_major_2, major ABI_MAJOR + 1, minor 0, unwind 1, layout None, table c_table(CURRENT));
    entry!(c_unwind_0, major ABI_MAJOR, minor ABI_MINOR, unwind 0, layout None, table c_table(CURRENT));
    entry!(
        rust_wrong_layout,
        major ABI_MAJOR, minor ABI_MINOR, unwind 1,
        layout Some(<ByteSlice as StableAbi>::LAYOUT), table c_table(CURRENT)
    );

    fn checked(entry: EntryFn) -> Result<Checked, String> {
        // SAFETY: every entry above has the EntryFn signature and is static.
        unsafe { check(Path::new("/p/libc_null.so"), entry) }
    }

    #[test]
    fn a_c_plugin_without_a_layout_passes_on_versions_and_table_size() {
        let c = checked(c_current).expect("a C plugin of this minor loads");
        assert_eq!((c.name.as_str(), c.minor, c.table.size), ("c-null", ABI_MINOR, CURRENT));
    }

    #[test]
    fn a_c_plugin_of_an_older_minor_gets_the_defaults_for_newer_entries() {
        let c = checked(c_minor_0).expect("a C plugin of minor 0 loads");
        assert_eq!(c.minor, 0);
        // `size` comes from the plugin's prefix; entries past it are the
        // host's stand-ins: no panic message, no counters.
        assert_eq!(c.table.size, size_of::<v1_0::PluginTable>());
        let (mut name, mut value) = (ByteSlice::EMPTY, 0u64);
        // SAFETY: the stand-in ignores its arguments.
        assert_eq!(unsafe { (c.table.counter_at)(std::ptr::null_mut(), 0, &mut name, &mut value) }, 0);
    }

    #[test]
    fn without_a_layout_the_table_size_is_what_refuses_a_c_plugin() {
        let e = checked(c_short_table).err().expect("refused");
        assert_eq!(
            e,
            format!(
                "plugin /p/libc_null.so: its entry table is {} bytes, ABI 1.{ABI_MINOR} has {CURRENT}; \
                 rebuild it against this host's plugin-sdk",
                CURRENT - 8
            )
        );
    }

    #[test]
    fn a_c_plugin_is_refused_on_versions_and_panic_flag_like_any_other() {
        let e = checked(c_major_2).err().expect("refused");
        assert!(e.contains("built against plugin-sdk ABI 2.0, this host speaks 1."), "{e}");
        let e = checked(c_unwind_0).err().expect("refused");
        assert!(e.contains("built with panic = \"abort\""), "{e}");
    }

    #[test]
    fn a_descriptor_with_a_layout_still_has_it_checked() {
        let e = checked(rust_wrong_layout).err().expect("a wrong layout is refused");
        assert!(e.contains("types differ from this host's (AbiRoot: type ByteSlice"), "{e}");
    }
}
