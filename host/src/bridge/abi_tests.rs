//! Plugins built against a deliberately different plugin-sdk (a patched
//! copy, see [`fixtures`]), loaded through the real loader: each refusal is
//! exactly one line, and every refusal of a file is reported together;
//! a plugin of an older minor loads and runs.

use std::mem::{align_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::faulty_tests::{body, generation, run_txn};
use plugin_sdk::ffi::AbiRoot;

use super::{test_options, HookResult};
use crate::plugins::load_generation;
use crate::plugins::loader;
use crate::plugins::runtime_dir::RuntimeDir;
use crate::transform::live_counts;
use crate::transform::tests::serial;
use e2e::fixtures::{self, Scratch};

use e2e::faults::abi::{changed_layout, major_2, minor_0, minor_1, minor_2, minor_4, panic_abort};

#[test]
fn every_refusal_in_a_config_is_reported_on_one_line_in_line_order() {
    let (major, minor, layout, abort) = (major_2(), minor_4(), changed_layout(), panic_abort());
    let (no_symbol, faulty) = (fixtures::not_a_plugin(), fixtures::faulty());
    let _g = serial();
    let scratch = Scratch::new("abi-refusals");
    let text = scratch.write("notes.so", "These are notes about a plugin, not a plugin: no ELF header here.\n");
    let lines = [
        "# every way a plugin line can be refused".to_string(),
        major.display().to_string(),
        minor.display().to_string(),
        abort.display().to_string(),
        layout.display().to_string(),
        no_symbol.display().to_string(),
        text.display().to_string(),
        format!("{} panic-init", faulty.display()),
        format!("{} sideways", faulty.display()),
        "missing.so".to_string(),
        format!("{}   # fine: loaded, checked, then unloaded with the rest", faulty.display()),
    ];
    let config = scratch.write("plugin.config", &(lines.join("\n") + "\n"));
    let rt = RuntimeDir::create(Some(&scratch.0)).expect("runtime dir");
    let errors = load_generation(&config, &test_options(&scratch.0, &rt)).expect_err("refused");
    let at = |line: usize, so: &Path| format!("{}:{line}: plugin {}", config.display(), so.display());
    let expected = [
        format!(
            "{}: built against plugin-sdk ABI 2.3, this host speaks 1.3; rebuild it against this host's plugin-sdk",
            at(2, &major)
        ),
        format!(
            "{}: built against plugin-sdk ABI 1.4, newer than this host's 1.3; upgrade the host, or rebuild the plugin \
             against this host's plugin-sdk",
            at(3, &minor)
        ),
        format!(
            "{}: built with panic = \"abort\", so a panic in it would kill the whole proxy; rebuild it with \
             panic = \"unwind\" (the default)",
            at(4, &abort)
        ),
        format!(
            "{}: its ABI 1.3 types differ from this host's (AbiRoot: {} bytes in the plugin, {} in this host); \
             rebuild it against this host's plugin-sdk",
            at(5, &layout),
            // One more field, of one byte, padded to the alignment.
            size_of::<AbiRoot>() + align_of::<AbiRoot>(),
            size_of::<AbiRoot>()
        ),
        format!(
            "{}: has no `plugin_host_module` symbol, so it is not a plugin-host plugin; declare it with plugin-sdk's \
             declare_plugin!",
            at(6, &no_symbol)
        ),
        format!(
            "{}: not a shared object for this platform (invalid ELF header); point plugin.config at the plugin's .so",
            at(7, &text)
        ),
        format!(
            "{}: init panicked (faulty: panic-init, as configured) with arguments [\"panic-init\"]; fix the plugin",
            at(8, &faulty)
        ),
        format!(
            "{}: init refused its arguments [\"sideways\"]: unknown argument \"sideways\": faulty takes \
             a fault listed in its README.md, or nothing; then `once`, or panic-every=N",
            at(9, &faulty)
        ),
        format!(
            "{}:10: plugin missing.so not found (looked in {}); check the path or --plugin-dir",
            config.display(),
            scratch.0.join("missing.so").display()
        ),
    ];
    for (got, want) in errors.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    assert!(errors.iter().all(|e| !e.contains('\n')));
    // The good line's plugin was loaded and is gone again, with the rest.
    assert_eq!(live_counts(), (0, 0));
}

#[test]
fn a_plugin_of_abi_1_1_as_released_loads_and_runs() {
    let so = minor_1();
    let _g = serial();
    let scratch = Scratch::new("abi-minor-1");
    let gen = generation(&scratch, &so, "").expect("an ABI 1.1 plugin loads");
    assert_eq!(gen.modules()[0].abi_minor(), 1);
    let o = run_txn(&gen);
    assert!(o.done && o.fault.is_none() && o.out == body(), "{:?}", o.fault);
    // No counters of its own: the host's default entry answers "none".
    assert!(gen.modules()[0].plugin_counters().is_empty());
    drop(gen);
    assert_eq!(live_counts(), (0, 0));
}

#[test]
fn a_plugin_of_abi_1_2_as_released_loads_and_is_called_on_every_hook() {
    use plugin_sdk::ffi::hook_id;
    let so = minor_2();
    let _g = serial();
    let scratch = Scratch::new("abi-minor-2");
    let gen = generation(&scratch, &so, "").expect("an ABI 1.2 plugin loads");
    let module = &gen.modules()[0];
    assert_eq!(module.abi_minor(), 2);
    // It cannot say which hooks it wants: the host's default asks for all.
    for hook in [hook_id::READ_REQUEST_HEADERS, hook_id::READ_RESPONSE_HEADERS, hook_id::SEND_RESPONSE_HEADERS] {
        assert!(module.wants(hook), "hook {hook}");
    }
    assert!(module.wants(hook_id::TXN_CLOSE));
    let o = run_txn(&gen);
    assert!(o.done && o.fault.is_none() && o.out == body(), "{:?}", o.fault);
    drop(gen);
    assert_eq!(live_counts(), (0, 0));
}

#[test]
fn a_plugin_of_an_older_minor_loads_and_runs_without_the_newer_entries() {
    let so = minor_0();
    let _g = serial();
    let scratch = Scratch::new("abi-older-minor");
    let gen = generation(&scratch, &so, "").expect("an ABI 1.0 plugin loads");
    assert_eq!(gen.modules()[0].abi_minor(), 0);
    let o = run_txn(&gen);
    assert!(o.done && o.fault.is_none() && o.out == body(), "{:?}", o.fault);
    drop(gen);

    // A 1.0 plugin has no panic_message entry: the host's default stands
    // in, and the panic is counted without a message.
    let gen = generation(&scratch, &so, "panic-hook").expect("loads");
    let o = run_txn(&gen);
    let message = "plugin abi-fixture-minor-0 panicked in read_response_headers".to_string();
    assert_eq!(o.hook, HookResult::Fail { status: 500, message });
    let module = &gen.modules()[0];
    assert_eq!(module.snapshot().panics, 1);
    assert_eq!(module.last_panic(), None);
    drop(gen);
    assert_eq!(live_counts(), (0, 0));
}

/// Root can mount a tmpfs; anyone else skips (the start-up refusal of a
/// noexec runtime directory is tested in `runtime_dir` on real mounts).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"]).arg(dir).output().ok()?;
        ok.status.success().then(|| Tmpfs(dir.to_path_buf()))
    }

    fn remount_noexec(&self) -> bool {
        let out = Command::new("mount").args(["-o", "remount,noexec"]).arg(&self.0).output();
        out.is_ok_and(|o| o.status.success())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_runtime_directory_remounted_noexec_is_named_in_the_refusal() {
    let so = fixtures::faulty();
    let scratch = Scratch::new("abi-noexec");
    let Some(mount) = Tmpfs::mount(&scratch.0.join("mnt")) else {
        eprintln!("note: cannot mount a tmpfs here (not root?); noexec load refusal not exercised");
        return;
    };
    let rt = RuntimeDir::create(Some(&mount.0)).expect("exec allowed at first");
    assert!(mount.remount_noexec(), "remount noexec");
    let e = loader::open(&so, &[], &test_options(&mount.0, &rt)).expect_err("cannot be mapped executable");
    assert_eq!(
        e,
        format!(
            "plugin {}: cannot be mapped executable: runtime directory {} is on a filesystem mounted noexec; \
             pass --runtime-dir with a directory on a filesystem that allows exec",
            so.display(),
            rt.path().display()
        )
    );
    drop(rt);
    let e = RuntimeDir::create(Some(&mount.0)).expect_err("refused at start-up too").to_string();
    assert!(e.contains("mounted noexec") && !e.contains('\n'), "{e}");
}
