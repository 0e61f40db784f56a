//! Loader, ABI checks and hooks. The dynamic test loads the real
//! `libplugin_null.so` from `cargo build -p plugin-null` when it is there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi_stable::StableAbi;
use bytes::Bytes;
use plugin_sdk::export::Tables;
use plugin_sdk::ffi::{AbiRoot, ByteSlice, PluginModule, PluginTable, StaticStr, ABI_MAJOR, ABI_MINOR};
use plugin_sdk::{Plugin, Txn};

use super::{test_options, HookResult, TxnPlugins, TxnView, HOST_TABLE};
use crate::h1::head::{BodyKind, Headers, RequestHead, ResponseHead, Version};
use crate::plugins::module::Module;
use crate::plugins::runtime_dir::RuntimeDir;
use crate::plugins::{load_generation, Generation};
use crate::transform::tests::serial;
use crate::transform::{live_counts, RunStatus};

/// Defines an entry function returning a descriptor for plugin type `$ty`
/// with the given versions, panic flag and layout.
macro_rules! test_entry {
    ($entry:ident, $ty:ty, $major:expr, $minor:expr, $unwind:expr, $layout:expr) => {
        unsafe extern "C" fn $entry() -> *const PluginModule {
            static TABLE: PluginTable = Tables::<$ty>::TABLE;
            static MODULE: PluginModule = PluginModule {
                size: std::mem::size_of::<PluginModule>(),
                abi_major: $major,
                abi_minor: $minor,
                panic_unwind: $unwind,
                name: StaticStr::new(stringify!($entry)),
                sdk_version: StaticStr::new(plugin_sdk::SDK_VERSION),
                layout: Some($layout),
                table: &TABLE as *const PluginTable,
            };
            &MODULE
        }
    };
}

/// Panics in read_request_headers; fails in read_response_headers; tries a
/// too-late transform in send_response_headers.
struct Rude;
impl Plugin for Rude {
    fn init(_: &[String]) -> Result<Self, String> {
        Ok(Rude)
    }
    fn read_request_headers(&self, _txn: &mut Txn<'_>) {
        panic!("Rude panics on purpose");
    }
    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        assert_eq!(txn.method(), "GET");
        assert_eq!(txn.url(), "/x");
        assert_eq!(txn.status(), Some(200));
        assert!(txn.set_status(203));
        txn.fail(403, "not today");
    }
    fn send_response_headers(&self, txn: &mut Txn<'_>) {
        assert_eq!(
            txn.add_response_transform(plugin_null::NullTransform::default()),
            Err(plugin_sdk::Refused::TooLate),
            "too late to add"
        );
    }
}

const ROOT: &abi_stable::type_layout::TypeLayout = <AbiRoot as StableAbi>::LAYOUT;
test_entry!(rude_entry, Rude, ABI_MAJOR, ABI_MINOR, 1, ROOT);
test_entry!(major_entry, Rude, ABI_MAJOR + 1, 0, 1, ROOT);
test_entry!(minor_entry, Rude, ABI_MAJOR, ABI_MINOR + 1, 1, ROOT);
test_entry!(abort_entry, Rude, ABI_MAJOR, ABI_MINOR, 0, ROOT);
test_entry!(layout_entry, Rude, ABI_MAJOR, ABI_MINOR, 1, <ByteSlice as StableAbi>::LAYOUT);

fn init_err(entry: plugin_sdk::ffi::EntryFn) -> String {
    Module::init(Path::new("/p/x.so"), entry, None, &[], &HOST_TABLE).expect_err("must be refused")
}

fn null_module() -> Arc<Module> {
    let m = Module::init(Path::new("null(static)"), plugin_null::plugin_host_module, None, &[], &HOST_TABLE);
    Arc::new(m.expect("the null plugin initialises with no args"))
}

#[test]
fn descriptors_are_checked_with_one_line_messages() {
    assert_eq!(
        init_err(major_entry),
        format!(
            "plugin /p/x.so: built against plugin-sdk ABI 2.0, this host speaks 1.{ABI_MINOR}; \
             rebuild it against this host's plugin-sdk"
        )
    );
    assert_eq!(
        init_err(minor_entry),
        format!(
            "plugin /p/x.so: built against plugin-sdk ABI 1.{}, newer than this host's 1.{ABI_MINOR}; \
             upgrade the host, or rebuild the plugin against this host's plugin-sdk",
            ABI_MINOR + 1
        )
    );
    assert_eq!(
        init_err(abort_entry),
        "plugin /p/x.so: built with panic = \"abort\", so a panic in it would kill the whole proxy; \
         rebuild it with panic = \"unwind\" (the default)"
    );
    assert_eq!(
        init_err(layout_entry),
        format!(
            "plugin /p/x.so: its ABI 1.{ABI_MINOR} types differ from this host's (AbiRoot: type ByteSlice in the \
             plugin where this host has AbiRoot); rebuild it against this host's plugin-sdk"
        )
    );
}

fn request() -> RequestHead {
    RequestHead { method: "GET".into(), target: "/x".into(), version: Version::Http11, headers: Headers::default() }
}

fn response() -> ResponseHead {
    ResponseHead { version: Version::Http11, status: 200, reason: "OK".into(), headers: Headers::default() }
}

#[test]
fn hooks_run_in_order_and_failures_stop_the_transaction() {
    let _g = serial();
    let rude = Arc::new(Module::init(Path::new("rude"), rude_entry, None, &[], &HOST_TABLE).expect("rude loads"));
    let generation = Arc::new(Generation::from_modules(vec![null_module(), rude.clone()]));
    let mut txn = TxnPlugins::new(generation.clone());
    let (mut req, mut resp) = (request(), response());
    let r = txn.read_request_headers(&mut TxnView::request(&mut req, BodyKind::Empty));
    assert!(matches!(r, HookResult::Fail { status: 500, ref message } if message.contains("panicked")), "{r:?}");
    assert_eq!(rude.snapshot().panics, 1);
    let r = txn
        .read_response_headers(&mut TxnView::request(&mut req, BodyKind::Empty).response(&mut resp, BodyKind::Chunked));
    assert!(matches!(r, HookResult::Fail { status: 403, ref message } if message.contains("not today")), "{r:?}");
    assert_eq!(resp.status, 203);
    let r = txn
        .send_response_headers(&mut TxnView::request(&mut req, BodyKind::Empty).response(&mut resp, BodyKind::Chunked));
    assert_eq!(r, HookResult::Continue);
    // null (first in order) added its response transform before rude failed.
    let chain = txn.take_response_chain().expect("null added a response transform");
    assert_eq!(chain.plugin_names(), vec!["plugin-null".to_string()]);
    assert!(txn.take_response_chain().is_none());
    drop(chain);
    drop(txn);
    assert_eq!(live_counts(), (0, 0));
    assert_eq!(generation.stats()[1].transactions, 1);
}

fn built_null() -> Option<PathBuf> {
    let so = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/libplugin_null.so");
    so.exists().then_some(so)
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plugin-host-test-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn loads_the_built_null_plugin_through_the_real_loader() {
    let Some(so) = built_null() else {
        eprintln!("skipped: run `cargo build -p plugin-null` first");
        return;
    };
    let _g = serial();
    let dir = temp_dir("load");
    let rt = RuntimeDir::create(Some(&dir)).expect("runtime dir");
    let config = dir.join("plugin.config");
    std::fs::write(&config, format!("{} response\n", so.display())).expect("write config");
    let generation = Arc::new(load_generation(&config, &test_options(&dir, &rt)).expect("loads"));
    assert!(generation.modules()[0].is_dynamic());
    let mut txn = TxnPlugins::new(generation.clone());
    let (mut req, mut resp) = (request(), response());
    let mut view = TxnView::request(&mut req, BodyKind::Empty).response(&mut resp, BodyKind::Chunked);
    assert_eq!(txn.read_response_headers(&mut view), HookResult::Continue);
    let mut chain = txn.take_response_chain().expect("a response transform");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
    chain.start(Some(data.len() as u64));
    let mut out = Vec::new();
    let mut pushed = 0;
    while !chain.output_done() {
        let n = chain.input_space().min(data.len() - pushed).min(9_999);
        if n > 0 {
            chain.push_input(Bytes::copy_from_slice(&data[pushed..pushed + n]));
            pushed += n;
        }
        while chain.run() == RunStatus::MoreWork {}
        out.extend(chain.take_output(8_192).flat_map(|b| b.to_vec()));
        assert_eq!(chain.fault(), None);
    }
    assert!(out == data);
    drop(chain);
    drop(txn);
    assert_eq!(generation.stats()[0].bytes_in, 100_000);
    assert_eq!(live_counts(), (0, 0));
    drop(generation);

    std::fs::write(&config, format!("{} sideways\n", so.display())).expect("write config");
    let errs = load_generation(&config, &test_options(&dir, &rt)).expect_err("bad argument");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].contains("plugin.config:1") && errs[0].contains("\"sideways\""), "{}", errs[0]);
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_load_options_water_mark_bounds_every_chain_buffer() {
    let _g = serial();
    let generation = Arc::new(Generation::from_modules(vec![null_module(), null_module()]).with_water_mark(20_000));
    let mut txn = TxnPlugins::new(generation.clone());
    let (mut req, mut resp) = (request(), response());
    let mut view = TxnView::request(&mut req, BodyKind::Empty).response(&mut resp, BodyKind::Chunked);
    assert_eq!(txn.read_response_headers(&mut view), HookResult::Continue);
    let mut chain = txn.take_response_chain().expect("two response transforms");
    chain.start(None);
    assert_eq!(chain.input_space(), 20_000, "the first buffer stops at the mark");
    // Nobody takes output: every buffer fills to its mark and input stops.
    let mut pushed = 0;
    for _ in 0..100 {
        let room = chain.input_space();
        if room == 0 {
            break;
        }
        chain.push_input(Bytes::from(vec![1u8; room]));
        pushed += room;
        while chain.run() == RunStatus::MoreWork {}
    }
    assert_eq!(chain.input_space(), 0);
    assert!(pushed <= 3 * 20_000 * 2, "three buffers of a 20,000-byte mark held {pushed} bytes");
    drop(chain);
    drop(txn);
    assert_eq!(live_counts(), (0, 0));
}
