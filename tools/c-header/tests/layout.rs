//! The header's structs as the system C compiler lays them out equal the Rust types'
//! layout: sizes, alignments and the offsets of the fields the host reads first. A C
//! plugin has no abi_stable layout for the host to check (see `host/src/plugins/abi.rs`),
//! so this is where a header that compiles but disagrees with the host would be caught.

use std::mem::{align_of, offset_of, size_of};
use std::process::Command;

use plugin_sdk::ffi::{ByteSlice, ErrorBuf, HostTable, OwnedBytes, PluginModule, PluginTable, StaticStr};

/// `(C expression, Rust value)` pairs: every one must print the same number.
fn expected() -> Vec<(&'static str, usize)> {
    vec![
        ("sizeof(PH_ByteSlice)", size_of::<ByteSlice>()),
        ("sizeof(PH_StaticStr)", size_of::<StaticStr>()),
        ("sizeof(PH_OwnedBytes)", size_of::<OwnedBytes>()),
        ("sizeof(PH_ErrorBuf)", size_of::<ErrorBuf>()),
        ("sizeof(PH_HostTable)", size_of::<HostTable>()),
        ("_Alignof(PH_HostTable)", align_of::<HostTable>()),
        ("sizeof(PH_PluginTable)", size_of::<PluginTable>()),
        ("sizeof(PH_PluginModule)", size_of::<PluginModule>()),
        ("_Alignof(PH_PluginModule)", align_of::<PluginModule>()),
        ("offsetof(PH_PluginModule, abi_major)", offset_of!(PluginModule, abi_major)),
        ("offsetof(PH_PluginModule, abi_minor)", offset_of!(PluginModule, abi_minor)),
        ("offsetof(PH_PluginModule, panic_unwind)", offset_of!(PluginModule, panic_unwind)),
        ("offsetof(PH_PluginModule, name)", offset_of!(PluginModule, name)),
        ("offsetof(PH_PluginModule, sdk_version)", offset_of!(PluginModule, sdk_version)),
        ("offsetof(PH_PluginModule, layout)", offset_of!(PluginModule, layout)),
        ("offsetof(PH_PluginModule, table)", offset_of!(PluginModule, table)),
        ("offsetof(PH_PluginTable, init)", offset_of!(PluginTable, init)),
        ("offsetof(PH_PluginTable, panic_message)", offset_of!(PluginTable, panic_message)),
        ("offsetof(PH_PluginTable, counter_at)", offset_of!(PluginTable, counter_at)),
        ("offsetof(PH_HostTable, abi_minor)", offset_of!(HostTable, abi_minor)),
        ("offsetof(PH_HostTable, log)", offset_of!(HostTable, log)),
        ("offsetof(PH_HostTable, txn_add_transform)", offset_of!(HostTable, txn_add_transform)),
        ("offsetof(PH_HostTable, transform_replace)", offset_of!(HostTable, transform_replace)),
        ("offsetof(PH_OwnedBytes, release)", offset_of!(OwnedBytes, release)),
        ("offsetof(PH_ErrorBuf, len)", offset_of!(ErrorBuf, len)),
    ]
}

#[test]
fn the_c_compiler_lays_the_header_out_as_rust_does() {
    let root = c_header::workspace();
    let dir = std::env::temp_dir().join(format!("c-header-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let expected = expected();
    let prints: String =
        expected.iter().map(|(expr, _)| format!("  printf(\"%zu\\n\", (size_t)({expr}));\n")).collect();
    let source = format!(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"plugin_host.h\"\nint main(void) {{\n{prints}  return 0;\n}}\n"
    );
    let (c, exe) = (dir.join("layout.c"), dir.join("layout"));
    std::fs::write(&c, source).expect("write layout.c");
    let built = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-I"])
        .arg(root.join("plugin-sdk/include"))
        .arg(&c)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("run cc ({e}): .ci/run installs a C compiler"));
    assert!(built.status.success(), "cc: {}", String::from_utf8_lossy(&built.stderr));
    let ran = Command::new(&exe).output().expect("run the layout program");
    let printed = String::from_utf8_lossy(&ran.stdout);
    let got: Vec<&str> = printed.lines().collect();
    assert_eq!(got.len(), expected.len(), "output: {printed}");
    for ((expr, rust), c) in expected.iter().zip(got) {
        assert_eq!(c, rust.to_string(), "{expr}: C says {c}, Rust says {rust}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
