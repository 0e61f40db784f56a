//! The checked-in C header is what `ffi.rs` generates now: a change to the
//! ABI without `cargo run -p c-header` fails here, naming the first
//! differing line. The header must also compile as C and as C++.

use std::process::Command;

#[test]
fn the_checked_in_header_is_what_ffi_rs_generates() {
    let root = c_header::workspace();
    let want = c_header::generate(&root).expect("generate the header");
    let path = root.join(c_header::HEADER);
    let have = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    if have != want {
        let (n, (h, w)) = have
            .lines()
            .chain(std::iter::repeat("<end of file>"))
            .zip(want.lines().chain(std::iter::repeat("<end of file>")))
            .enumerate()
            .find(|(_, (h, w))| h != w)
            .unwrap_or((0, ("", "")));
        panic!(
            "{} is stale: run `cargo run -p c-header` and commit it.\nfirst difference, line {}:\n  checked in: {h}\n  generated:  {w}",
            path.display(),
            n + 1
        );
    }
}

#[test]
fn the_header_compiles_as_strict_c_and_cpp() {
    let root = c_header::workspace();
    let dir = std::env::temp_dir().join(format!("c-header-compile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let c = dir.join("h.c");
    std::fs::write(&c, "#include \"plugin_host.h\"\nint main(void) { return sizeof(PH_PluginModule) == 0; }\n")
        .expect("write");
    let include = root.join("plugin-sdk/include");
    for (compiler, std) in [("cc", "-std=c11"), ("c++", "-std=c++17")] {
        let lang = if compiler == "cc" { "c" } else { "c++" };
        let out = Command::new(compiler)
            .args(["-x", lang, std, "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only", "-I"])
            .arg(&include)
            .arg(&c)
            .output();
        match out {
            Ok(out) => assert!(out.status.success(), "{compiler}: {}", String::from_utf8_lossy(&out.stderr)),
            Err(e) if compiler == "c++" && e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("note: no c++ compiler; the header's C++ guards are not compiled")
            }
            Err(e) => panic!("run {compiler} ({e}): .ci/run installs a C compiler"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
