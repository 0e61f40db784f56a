//! Rewrites `plugin-sdk/include/plugin_host.h` from `plugin-sdk/src/ffi.rs`.
fn main() {
    let root = c_header::workspace();
    let header = c_header::generate(&root).unwrap_or_else(|e| {
        eprintln!("c-header: {e}");
        std::process::exit(1)
    });
    let path = root.join(c_header::HEADER);
    if let Err(e) = std::fs::create_dir_all(path.parent().unwrap_or(&root)).and_then(|()| std::fs::write(&path, header))
    {
        eprintln!("c-header: write {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}
