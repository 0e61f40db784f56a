//! Plugins written in C (`examples/c-*`), built with the system C compiler
//! against `plugin-sdk/include/plugin_host.h` into
//! `<workspace>/target/c-plugins/`, once per test process. Warnings are
//! errors: the example is what C authors copy.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::plugins::workspace_dir;

/// The flags every C plugin is built with (and the example's own comment shows).
pub const CFLAGS: [&str; 9] =
    ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-shared", "-fPIC"];

/// `examples/c-null/null.c` built as `libc_null.so`.
pub fn c_null() -> PathBuf {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    SO.get_or_init(|| build("examples/c-null/null.c", "libc_null.so")).clone()
}

/// `examples/c-null/null.c` with `edit` applied (`(from, to)`, `from` found exactly once),
/// built as `lib<name>.so`: a C plugin whose descriptor is wrong in one way.
pub fn c_null_edited(name: &str, edit: (&str, &str)) -> PathBuf {
    let root = workspace_dir();
    let text = std::fs::read_to_string(root.join("examples/c-null/null.c")).expect("read examples/c-null/null.c");
    assert_eq!(text.matches(edit.0).count(), 1, "null.c changed: update the edit {:?}", edit.0);
    let dir = c_plugin_dir();
    let source = dir.join(format!("{name}.c"));
    std::fs::write(&source, text.replace(edit.0, edit.1)).unwrap_or_else(|e| panic!("write {}: {e}", source.display()));
    build(&source.display().to_string(), &format!("lib{name}.so"))
}

fn c_plugin_dir() -> PathBuf {
    let dir = workspace_dir().join("target/c-plugins");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Compiles one C source file (relative to the workspace, or absolute) into a shared object.
pub fn build(source: &str, so: &str) -> PathBuf {
    let root = workspace_dir();
    let out = c_plugin_dir().join(so);
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let result = Command::new(&cc)
        .args(CFLAGS)
        .arg("-I")
        .arg(root.join("plugin-sdk/include"))
        .arg(root.join(source))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("run {cc:?} ({e}): the C plugin tests need a C compiler (.ci/run installs gcc)"));
    assert!(result.status.success(), "{cc:?} {source} failed:\n{}", String::from_utf8_lossy(&result.stderr));
    out
}
