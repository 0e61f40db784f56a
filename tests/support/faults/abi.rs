//! Plugins built against a deliberately different `plugin-sdk`, for the end-to-end ABI
//! tests and the host's loader tests (both call these, so whichever suite runs first
//! builds each `.so` and the other reuses it). Older minors are built against the SDK
//! as it was released, taken from this repository's history.

use std::path::PathBuf;

use crate::fixtures::{sdk_build, sdk_variant, Patch, Sdk};

const FFI: &str = "ffi.rs";

/// The last commit whose `plugin-sdk` spoke ABI 1.1.
pub const SDK_1_1: Sdk = Sdk::Commit("83627f87ca93c1f5caace9727d2212309c3c55d3");
/// The last commit whose `plugin-sdk` spoke ABI 1.2.
pub const SDK_1_2: Sdk = Sdk::Commit("cffdf0a4e6f3c2ef87701c0c40426b3f1da8a166");

fn replace(file: &'static str, from: &'static str, to: &'static str) -> Patch {
    Patch::replace(file, from, to)
}

/// Built against ABI 2.x: a different major.
pub fn major_2() -> PathBuf {
    sdk_variant("major_2", &[replace(FFI, "pub const ABI_MAJOR: u32 = 1;", "pub const ABI_MAJOR: u32 = 2;")], false)
}

/// Built against ABI 1.4: a newer minor than the host's.
pub fn minor_4() -> PathBuf {
    sdk_variant("minor_4", &[replace(FFI, "pub const ABI_MINOR: u32 = 3;", "pub const ABI_MINOR: u32 = 4;")], false)
}

/// Built against plugin-sdk ABI 1.2 as released: no `hooks_wanted` entry.
pub fn minor_2() -> PathBuf {
    sdk_build("minor_2", SDK_1_2, &[], false)
}

/// Built against plugin-sdk ABI 1.1 as released.
pub fn minor_1() -> PathBuf {
    sdk_build("minor_1", SDK_1_1, &[], false)
}

/// Built against ABI 1.0 as it was: the 1.1 SDK with minor 0 and no `panic_message` entry.
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
    sdk_build("minor_0", SDK_1_1, &patches, false)
}

/// Same version numbers, but a boundary type changed: what a plugin built
/// against an SDK edited without a version bump looks like.
pub fn changed_layout() -> PathBuf {
    let p = [replace(
        FFI,
        "    /// Static strings.\n    pub name: StaticStr,\n}",
        "    /// Static strings.\n    pub name: StaticStr,\n    /// Unknown to the host.\n    pub extra: u8,\n}",
    )];
    sdk_variant("changed_layout", &p, false)
}

/// Built with `panic = "abort"`.
pub fn panic_abort() -> PathBuf {
    sdk_variant("panic_abort", &[], true)
}
