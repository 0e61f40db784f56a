//! Plugins built against a deliberately different `plugin-sdk`, for the end-to-end ABI
//! refusal tests. This mirrors the host's loader-test fixtures (`host/src/plugins/
//! fixtures.rs`) file for file: the same tiny plugin, the same patches, the same
//! `<workspace>/target/abi-plugins` target directory and fixture folders, so whichever of
//! the two test suites runs first builds each `.so` and the other reuses it. Never the
//! workspace's own target directory: the `cargo test` running us holds its lock.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};

use crate::plugins::workspace_dir;

/// One edit of the copied SDK: in `file` (relative to `plugin-sdk/src`), replace the text
/// from `from` through `through` (both included; `through` empty: just `from`) with `to`.
pub struct Patch {
    file: &'static str,
    from: &'static str,
    through: &'static str,
    to: &'static str,
}

const FFI: &str = "ffi.rs";

/// Replaces exactly `from` with `to` in `file`.
const fn replace(file: &'static str, from: &'static str, to: &'static str) -> Patch {
    Patch { file, from, through: "", to }
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

/// The tiny plugin built against each SDK variant (the host's fixture, byte for byte):
/// passes response bodies through; `panic-hook` makes it panic in read_response_headers.
const TINY_PLUGIN: &str = r#"
use plugin_sdk::{declare_plugin, Chunk, Output, Plugin, StreamTransform, Txn};

pub struct Pass;

impl StreamTransform for Pass {
    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        out.pass(chunk);
    }
    fn output_len(&self, input_len: Option<u64>) -> Option<u64> {
        input_len
    }
}

pub struct Tiny {
    panic_hook: bool,
}

impl Plugin for Tiny {
    fn init(args: &[String]) -> Result<Self, String> {
        Ok(Tiny { panic_hook: args.iter().any(|a| a == "panic-hook") })
    }
    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        if self.panic_hook {
            panic!("tiny: panic-hook");
        }
        txn.add_response_stream(Pass);
    }
}

declare_plugin!(Tiny);
"#;

fn target_dir() -> PathBuf {
    workspace_dir().join("target/abi-plugins")
}

/// Builds the tiny plugin against a patched copy of `plugin-sdk` as crate
/// `abi_fixture_<case>` and returns its `.so`.
fn sdk_variant(case: &str, patches: &[Patch], panic_abort: bool) -> PathBuf {
    // One build at a time from this process: tests writing the same fixture files at
    // once could hand cargo a half-written one.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(PoisonError::into_inner);
    let dir = target_dir().join("fixtures").join(case);
    // Each copy in a folder of its own name: cargo names path packages' artifacts by
    // their path relative to the workspace, so copies at one path would share a build.
    let sdk = format!("sdk-{case}");
    copy_sdk(&dir.join(&sdk), patches);
    write_crate(&dir, case, &format!("plugin-sdk = {{ path = \"../{sdk}\" }}\n"), &[&sdk, "plugin"]);
    let package = format!("abi-fixture-{}", case.replace('_', "-"));
    run_cargo(&dir.join("Cargo.toml"), &package, panic_abort);
    target_dir().join(format!("debug/libabi_fixture_{case}.so"))
}

/// The fixture's workspace root (the real root's shared sections, so `*.workspace = true`
/// resolve to the same versions) and its `plugin` crate.
fn write_crate(dir: &Path, case: &str, deps: &str, members: &[&str]) {
    let root = std::fs::read_to_string(workspace_dir().join("Cargo.toml")).expect("read the workspace Cargo.toml");
    let members = members.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", ");
    let root: String = root
        .lines()
        .map(|l| if l.starts_with("members = ") { format!("members = [{members}]") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    write_if_changed(&dir.join("Cargo.toml"), &root);
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        // The workspace's locked versions, so --offline finds every one.
        std::fs::copy(workspace_dir().join("Cargo.lock"), &lock).expect("copy Cargo.lock");
    }
    let manifest = format!(
        "[package]\nname = \"abi-fixture-{}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n{deps}",
        case.replace('_', "-")
    );
    write_if_changed(&dir.join("plugin/Cargo.toml"), &manifest);
    write_if_changed(&dir.join("plugin/src/lib.rs"), TINY_PLUGIN);
}

/// Copies `plugin-sdk` (manifest and sources) to `dest`, applying `patches`.
fn copy_sdk(dest: &Path, patches: &[Patch]) {
    let src = workspace_dir().join("plugin-sdk");
    for p in patches {
        assert!(src.join("src").join(p.file).exists(), "patch for a missing SDK file {}", p.file);
    }
    let mut files = vec![PathBuf::from("Cargo.toml")];
    collect_files(&src, Path::new("src"), &mut files);
    for rel in files {
        let mut text = std::fs::read_to_string(src.join(&rel)).expect("read an SDK file");
        for p in patches.iter().filter(|p| rel == Path::new("src").join(p.file)) {
            text = apply(&text, p);
        }
        write_if_changed(&dest.join(&rel), &text);
    }
}

fn collect_files(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(root.join(rel)).expect("list an SDK directory") {
        let entry = entry.expect("an SDK directory entry");
        let rel = rel.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            collect_files(root, &rel, out);
        } else {
            out.push(rel);
        }
    }
}

fn apply(text: &str, p: &Patch) -> String {
    let hint = "the SDK source changed: update this patch (and the host's fixture patch)";
    assert_eq!(text.matches(p.from).count(), 1, "{}: {:?} must occur once; {hint}", p.file, p.from);
    let start = text.find(p.from).unwrap_or_default();
    let end = if p.through.is_empty() {
        start + p.from.len()
    } else {
        let at = text[start..].find(p.through).unwrap_or_else(|| panic!("{}: no {:?}; {hint}", p.file, p.through));
        start + at + p.through.len()
    };
    format!("{}{}{}", &text[..start], p.to, &text[end..])
}

fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return; // keep the mtime: cargo then rebuilds nothing
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create a fixture directory");
    }
    std::fs::write(path, text).expect("write a fixture file");
}

fn run_cargo(manifest: &Path, package: &str, panic_abort: bool) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(manifest)
        .args(["-p", package])
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("CARGO_PROFILE_DEV_PANIC");
    if panic_abort {
        cmd.env("CARGO_PROFILE_DEV_PANIC", "abort");
    }
    let out = cmd.output().expect("run cargo");
    assert!(out.status.success(), "building {package} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}
