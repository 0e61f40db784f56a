//! Plugins built against a deliberately different `plugin-sdk`, for the end-to-end ABI
//! refusal tests: the cases of [`crate::fixtures`], which the host's loader tests build too,
//! so whichever suite runs first builds each `.so` and the other reuses it.

use std::path::PathBuf;

use crate::fixtures::{sdk_variant, Patch};

const FFI: &str = "ffi.rs";

fn replace(file: &'static str, from: &'static str, to: &'static str) -> Patch {
    Patch::replace(file, from, to)
}

/// Built against ABI 2.1: a different major.
pub fn major_2() -> PathBuf {
    sdk_variant("major_2", &[replace(FFI, "pub const ABI_MAJOR: u32 = 1;", "pub const ABI_MAJOR: u32 = 2;")], false)
}

/// Built against ABI 1.2: a newer minor than the host's.
pub fn minor_2() -> PathBuf {
    sdk_variant("minor_2", &[replace(FFI, "pub const ABI_MINOR: u32 = 1;", "pub const ABI_MINOR: u32 = 2;")], false)
}

/// Built against ABI 1.0 as it was: minor 0 and no `panic_message` entry.
pub fn minor_0() -> PathBuf {
    let patches = [
        replace(FFI, "pub const ABI_MINOR: u32 = 1;", "pub const ABI_MINOR: u32 = 0;"),
        Patch {
            file: FFI,
            from: "    /// ABI 1.1. Right after another entry",
            through: "pub panic_message: unsafe extern \"C\" fn(out: ErrorBuf) -> i32,\n",
            to: "",
        },
        replace("export.rs", "        panic_message,\n", ""),
    ];
    sdk_variant("minor_0", &patches, false)
}

/// Built with `panic = "abort"`.
pub fn panic_abort() -> PathBuf {
    sdk_variant("panic_abort", &[], true)
}
