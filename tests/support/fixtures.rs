//! Test fixtures: real plugin `.so` files, built with cargo, for the loader
//! tests (the host's unit tests use this module too, as a dev-dependency)
//! and the end-to-end ABI tests. Each is built in its own small workspace under
//! `<workspace>/target/abi-plugins/fixtures/<case>/` (a copy of `plugin-sdk`,
//! patched, and a tiny plugin), all sharing the target directory
//! `<workspace>/target/abi-plugins`, so dependencies build once. Never the
//! workspace's own target directory: the `cargo test` running us holds its
//! lock. Files are rewritten only when their content changes, so a second
//! run rebuilds nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One edit of the copied SDK: in `file` (relative to `plugin-sdk/`),
/// replace the text from `from` through `through` (both included, `from`
/// must occur exactly once) with `to`.
pub struct Patch {
    pub file: &'static str,
    pub from: &'static str,
    pub through: &'static str,
    pub to: &'static str,
}

impl Patch {
    /// Replaces exactly the text `from` with `to`.
    pub const fn replace(file: &'static str, from: &'static str, to: &'static str) -> Patch {
        Patch { file, from, through: "", to }
    }
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    crate::plugins::workspace_dir()
}

fn target_dir() -> PathBuf {
    workspace().join("target/abi-plugins")
}

/// The tiny plugin built against each SDK variant: passes response bodies
/// through; its argument `panic-hook` makes it panic in read_response_headers.
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
        let _ = txn.add_response_stream(Pass);
    }
}

declare_plugin!(Tiny);
"#;

/// A cdylib that exports something, but not the entry symbol.
const NOT_A_PLUGIN: &str = r#"
#[no_mangle]
pub extern "C" fn not_a_plugin_host_module() -> i32 {
    7
}
"#;

/// Which `plugin-sdk` a fixture is built against.
#[derive(Clone, Copy)]
pub enum Sdk {
    /// This workspace's, as it is now.
    Workspace,
    /// This repository's at a past commit (a released ABI minor, frozen in history).
    Commit(&'static str),
}

/// Builds the tiny plugin against a copy of this workspace's `plugin-sdk`
/// with `patches` applied (`panic_abort`: with `CARGO_PROFILE_DEV_PANIC=abort`),
/// as crate `abi_fixture_<case>`. Returns the `.so`.
pub fn sdk_variant(case: &str, patches: &[Patch], panic_abort: bool) -> PathBuf {
    sdk_build(case, Sdk::Workspace, patches, panic_abort)
}

/// Builds the tiny plugin against `sdk` with `patches` applied; see [`sdk_variant`].
pub fn sdk_build(case: &str, sdk_source: Sdk, patches: &[Patch], panic_abort: bool) -> PathBuf {
    let dir = fixture_dir(case);
    // A directory name of its own: cargo names artifacts of path packages by
    // name, version and path *relative to the workspace root*, so copies of
    // plugin-sdk at the same relative path would share (and overwrite) one
    // build in the shared target directory.
    let sdk = format!("sdk-{case}");
    copy_sdk(&dir.join(&sdk), sdk_source, patches);
    let deps = format!("plugin-sdk = {{ path = \"../{sdk}\" }}\n");
    write_crate(&dir, case, &deps, TINY_PLUGIN, &[&sdk, "plugin"]);
    build(&dir, case, panic_abort)
}

/// Builds a cdylib without `declare_plugin!` (and without the SDK).
pub fn not_a_plugin() -> PathBuf {
    let dir = fixture_dir("no_symbol");
    write_crate(&dir, "no_symbol", "", NOT_A_PLUGIN, &["plugin"]);
    build(&dir, "no_symbol", false)
}

/// This workspace's `plugins/faulty`, built once per test process.
pub fn faulty() -> PathBuf {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    SO.get_or_init(|| {
        let manifest = workspace().join("plugins/faulty/Cargo.toml");
        run_cargo(&manifest, "plugin-faulty", false);
        so_path("plugin_faulty")
    })
    .clone()
}

fn fixture_dir(case: &str) -> PathBuf {
    let dir = target_dir().join("fixtures").join(case);
    std::fs::create_dir_all(&dir).expect("create the fixture directory");
    dir
}

/// Writes the fixture workspace root and its `plugin` crate.
fn write_crate(dir: &Path, case: &str, deps: &str, source: &str, members: &[&str]) {
    let root = std::fs::read_to_string(workspace().join("Cargo.toml")).expect("read the workspace Cargo.toml");
    let members = members.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", ");
    // The real root's [workspace.package] and [workspace.dependencies], so the
    // copied SDK's `*.workspace = true` resolve to the very same versions.
    let root: String = root
        .lines()
        .map(|l| if l.starts_with("members = ") { format!("members = [{members}]") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    write_if_changed(&dir.join("Cargo.toml"), &root);
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        // Same locked versions as the workspace, so --offline finds them all.
        std::fs::copy(workspace().join("Cargo.lock"), &lock).expect("copy Cargo.lock");
    }
    let manifest = format!(
        "[package]\nname = \"abi-fixture-{}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n{deps}",
        case.replace('_', "-")
    );
    write_if_changed(&dir.join("plugin/Cargo.toml"), &manifest);
    write_if_changed(&dir.join("plugin/src/lib.rs"), source);
}

/// Copies `plugin-sdk` (manifest and sources) from `sdk` to `dest`, applying `patches`.
fn copy_sdk(dest: &Path, sdk: Sdk, patches: &[Patch]) {
    let files = sdk_files(sdk);
    for (rel, original) in &files {
        let mut text = original.clone();
        for p in patches.iter().filter(|p| *rel == Path::new("src").join(p.file)) {
            text = apply(&text, p);
        }
        write_if_changed(&dest.join(rel), &text);
    }
    for p in patches {
        let rel = Path::new("src").join(p.file);
        assert!(files.iter().any(|(f, _)| *f == rel), "patch for missing SDK file {}", p.file);
    }
}

/// Every file of `plugin-sdk` (its manifest and `src/`) in `sdk`, as (path
/// relative to `plugin-sdk/`, text).
fn sdk_files(sdk: Sdk) -> Vec<(PathBuf, String)> {
    let src = workspace().join("plugin-sdk");
    match sdk {
        Sdk::Workspace => {
            let mut files = vec![PathBuf::from("Cargo.toml")];
            collect_files(&src, Path::new("src"), &mut files);
            files
                .into_iter()
                .map(|rel| {
                    let text = std::fs::read_to_string(src.join(&rel)).expect("read an SDK file");
                    (rel, text)
                })
                .collect()
        }
        Sdk::Commit(commit) => {
            let git = |args: &[&str]| {
                let out = Command::new("git").arg("-C").arg(workspace()).args(args).output().expect("run git");
                assert!(
                    out.status.success(),
                    "git {args:?} failed (the ABI fixtures need this repository's history, not a shallow copy): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            let listed = git(&["ls-tree", "-r", "--name-only", commit, "plugin-sdk"]);
            listed
                .lines()
                .filter_map(|path| {
                    let rel = Path::new(path).strip_prefix("plugin-sdk").ok()?.to_path_buf();
                    (rel == Path::new("Cargo.toml") || rel.starts_with("src")).then_some((rel, path.to_string()))
                })
                .map(|(rel, path)| (rel, git(&["show", &format!("{commit}:{path}")])))
                .collect()
        }
    }
}

fn collect_files(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(root.join(rel)).expect("list an SDK directory");
    for entry in entries {
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
    let hint = "the SDK source changed: update this test's patch";
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

fn build(dir: &Path, case: &str, panic_abort: bool) -> PathBuf {
    run_cargo(&dir.join("Cargo.toml"), &format!("abi-fixture-{}", case.replace('_', "-")), panic_abort);
    so_path(&format!("abi_fixture_{case}"))
}

fn so_path(lib: &str) -> PathBuf {
    target_dir().join(format!("debug/lib{lib}.so"))
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

/// A fresh scratch directory for one test (config files, runtime
/// directory), removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("plugin-host-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }

    /// Writes `text` to `name` in the directory; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write a scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
