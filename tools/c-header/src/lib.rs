//! The C header of the plugin ABI, `plugin-sdk/include/plugin_host.h`,
//! generated from `plugin-sdk/src/ffi.rs` with cbindgen (as a library: see
//! `Cargo.toml`). `cargo run -p c-header` rewrites the header; the test in
//! `tests/fresh.rs` fails while the checked-in header differs from what
//! `ffi.rs` generates, so the two cannot drift apart.
//!
//! cbindgen reads a *C view* of `ffi.rs` ([`c_view`]): C has no modules, so
//! the constants of `ffi`'s inner modules are flattened with the module's
//! name (`ffi::event_code::IMMEDIATE` is `PH_EVENT_CODE_IMMEDIATE`); the two
//! context types become opaque structs; the frozen `v1_*` tables stay out
//! (the header is the current ABI only). Everything is prefixed `PH_`.

use std::path::{Path, PathBuf};

/// Where the header lives, relative to the workspace root.
pub const HEADER: &str = "plugin-sdk/include/plugin_host.h";
/// Its source, relative to the workspace root.
pub const SOURCE: &str = "plugin-sdk/src/ffi.rs";

/// The preamble: what `ffi.rs`'s module doc says, for C authors, plus what
/// only a C plugin needs to know (its descriptor, the checks it gets).
const PREAMBLE: &str = include_str!("preamble.h");

/// The workspace root (two levels above this crate).
pub fn workspace() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).unwrap_or(here).to_path_buf()
}

/// The header `ffi.rs` in `workspace` generates.
pub fn generate(workspace: &Path) -> Result<String, String> {
    let source = workspace.join(SOURCE);
    let text = std::fs::read_to_string(&source).map_err(|e| format!("read {}: {e}", source.display()))?;
    let view = c_view(&text)?;
    // cbindgen parses files, not strings: the view goes to a scratch file.
    let scratch = std::env::temp_dir().join(format!("c-header-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("create {}: {e}", scratch.display()))?;
    let view_path = scratch.join("ffi.rs");
    std::fs::write(&view_path, view).map_err(|e| format!("write {}: {e}", view_path.display()))?;
    let bindings = cbindgen::Builder::new().with_config(config()).with_src(&view_path).generate();
    let _ = std::fs::remove_dir_all(&scratch);
    let mut out = Vec::new();
    bindings.map_err(|e| format!("cbindgen: {e}"))?.write(&mut out);
    String::from_utf8(out).map_err(|e| format!("cbindgen wrote non-UTF-8: {e}"))
}

fn config() -> cbindgen::Config {
    let mut c = cbindgen::Config {
        language: cbindgen::Language::C,
        header: Some(PREAMBLE.trim_end().to_string()),
        autogen_warning: Some(
            "/* Generated from plugin-sdk/src/ffi.rs by `cargo run -p c-header`; do not edit. */".into(),
        ),
        include_guard: Some("PLUGIN_HOST_H".into()),
        after_includes: Some(
            "\n/* abi_stable's type layout: opaque to C. A C plugin's descriptor has none (NULL). */\n\
             typedef struct PH_TypeLayout PH_TypeLayout;"
                .into(),
        ),
        cpp_compat: true,
        usize_is_size_t: true,
        documentation: true,
        documentation_style: cbindgen::DocumentationStyle::C99,
        style: cbindgen::Style::Both,
        sys_includes: vec!["stddef.h".into(), "stdint.h".into()],
        no_includes: true,
        line_length: 100,
        ..Default::default()
    };
    c.export.prefix = Some("PH_".into());
    // No extern functions name them (the host finds the entry symbol by
    // name), so the roots are listed; what they use comes along.
    c.export.include = ["PluginModule", "EntryFn", "OwnedBytes", "HostTable", "PluginTable"].map(String::from).to_vec();
    c.export.rename.insert("TypeLayout".into(), "PH_TypeLayout".into());
    c.export.renaming_overrides_prefixing = true;
    c
}

/// `ffi.rs` as cbindgen should read it (see the module doc). Fails when
/// `ffi.rs` no longer has a shape this relies on, so a change there is
/// noticed here rather than producing a wrong header.
pub fn c_view(ffi: &str) -> Result<String, String> {
    let mut text = ffi.to_string();
    for ctx in ["IoCtx", "TxnCtx"] {
        // Without repr(C), cbindgen declares the struct opaque, as it is.
        let from = format!("#[repr(C)]\n#[derive(StableAbi)]\npub struct {ctx} {{");
        let to = format!("#[derive(StableAbi)]\npub struct {ctx} {{");
        if !text.contains(&from) {
            return Err(format!("ffi.rs: no `{from}`: update tools/c-header"));
        }
        text = text.replace(&from, &to);
    }
    // The one function a plugin defines, for C compilers to check its
    // definition against; in Rust, `declare_plugin!` writes it.
    text.push_str(
        "\n/// The entry symbol (`plugin_host_module`) every plugin defines: returns its\n\
         /// static descriptor. The host calls it at load, before any other entry.\n\
         #[no_mangle]\npub extern \"C\" fn plugin_host_module() -> *const PluginModule {\n    loop {}\n}\n",
    );
    flatten_modules(&text)
}

/// Inner modules of constants flattened into prefixed constants; the
/// frozen `v1_*` modules dropped.
fn flatten_modules(text: &str) -> Result<String, String> {
    let mut out: Vec<String> = Vec::new();
    let mut module: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("pub mod v1_") && line.ends_with(';') {
            continue; // the frozen tables of older minors
        }
        if let Some(name) = line.strip_prefix("pub mod ").and_then(|l| l.strip_suffix(" {")) {
            // The module's own doc is not the first constant's.
            for prev in out.iter_mut().rev().take_while(|l| l.starts_with("///")) {
                prev.replace_range(..3, "//");
            }
            module = Some(name.to_uppercase());
            continue;
        }
        match &module {
            Some(_) if line == "}" => module = None,
            Some(m) => match line.trim_start().strip_prefix("pub const ") {
                Some(rest) => out.push(format!("pub const {m}_{rest}")),
                None => out.push(line.trim_start().to_string()),
            },
            None => out.push(line.to_string()),
        }
    }
    if module.is_some() {
        return Err("ffi.rs: an inner module is not closed by a `}` line of its own: update tools/c-header".into());
    }
    Ok(out.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::flatten_modules;

    #[test]
    fn inner_constants_take_the_module_name_and_its_doc_is_no_constant_doc() {
        let rust =
            "pub mod v1_0;\n/// Codes.\npub mod event_code {\n    /// First.\n    pub const IMMEDIATE: u32 = 1;\n}\n\
                    pub const ABI_MAJOR: u32 = 1;\n";
        let want = "// Codes.\n/// First.\npub const EVENT_CODE_IMMEDIATE: u32 = 1;\npub const ABI_MAJOR: u32 = 1;\n";
        assert_eq!(flatten_modules(rust).as_deref(), Ok(want));
    }

    #[test]
    fn an_unclosed_module_is_an_error_not_a_wrong_header() {
        assert!(flatten_modules("pub mod body {\n    pub const NONE: i32 = 0;\n").is_err());
    }
}
