//! Engine tests: chains of null transforms (the real plugin, linked as an
//! rlib and called through its exported entry, not dlopen) on in-memory input.

use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use plugin_sdk::ffi::{Handle, IoCtx, PluginTable};
use plugin_sdk::{Event, Transform, TransformCx};

use super::plugin::{PluginRef, PluginStats, TransformPlugin};
use super::{live_counts, Chain, Instance, RunStatus};
use crate::bridge::HOST_TABLE;

/// The live counters are process-wide: tests that read them run one at a time.
pub(crate) static SERIAL: Mutex<()> = Mutex::new(());

pub(crate) fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The null plugin linked as an rlib: its entry table called directly, no
/// loader, no `init` (transforms need none).
struct LinkedPlugin {
    table: &'static PluginTable,
    stats: PluginStats,
}

impl TransformPlugin for LinkedPlugin {
    fn name(&self) -> &str {
        "plugin-null"
    }
    fn stats(&self) -> &PluginStats {
        &self.stats
    }
    unsafe fn transform_event(
        &self,
        instance: *mut c_void,
        io: *mut IoCtx,
        event: u32,
        vio: Handle,
        _now: u64,
    ) -> (i32, u64) {
        ((self.table.transform_event)(&HOST_TABLE, instance, io, event, vio), crate::clock::coarse_ns())
    }
    unsafe fn transform_destroy(&self, instance: *mut c_void) -> i32 {
        (self.table.transform_destroy)(instance)
    }
    fn count_panic(&self, _during: &str) -> Option<String> {
        self.stats.panics.fetch_add(1, Ordering::Relaxed);
        None
    }
}

pub(crate) fn null_plugin() -> PluginRef {
    // SAFETY: the linked plugin's descriptor and table are statics of this binary.
    let table = unsafe { &*(*plugin_null::plugin_host_module()).table };
    Arc::new(LinkedPlugin { table, stats: PluginStats::default() })
}

/// An instance of `t` run through `plugin`'s table (any SDK plugin's shims
/// handle any `Transform`, as the test binary links one SDK).
pub(crate) fn instance(plugin: &PluginRef, t: impl Transform) -> Instance {
    Instance::new(plugin.clone(), plugin_sdk::export::transform_into_raw(t))
}

/// A chain of `n` null transforms (also for the body pipe's tests).
pub(crate) fn null_chain(n: usize, water_mark: usize) -> Chain {
    let m = null_plugin();
    Chain::new((0..n).map(|_| instance(&m, plugin_null::NullTransform::default())).collect(), water_mark)
}

/// Bytes that differ from block to block, so a misplaced one shows.
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ (i >> 12) as u8).collect()
}

struct Drive {
    piece: usize,
    take: usize,
    space: Option<usize>,
    known: bool,
}

/// Pushes `input` in pieces as space allows, takes output in pieces, until done.
fn drive(chain: &mut Chain, input: &[u8], d: &Drive) -> (Vec<u8>, Option<Option<u64>>) {
    chain.start(d.known.then_some(input.len() as u64));
    // Let the chain start before any input, as a transaction would.
    chain.run();
    let mut pushed = 0;
    let mut out = Vec::new();
    let mut stalls = 0;
    let mut started = chain.output_started();
    while !chain.output_done() {
        let mut progress = false;
        let room = chain.input_space();
        if pushed < input.len() && room > 0 {
            let n = d.piece.min(room).min(input.len() - pushed);
            chain.push_input(Bytes::copy_from_slice(&input[pushed..pushed + n]));
            pushed += n;
            progress = true;
            if pushed == input.len() {
                chain.end_input();
            }
        } else if pushed == input.len() && input.is_empty() {
            chain.end_input();
        }
        while chain.run() == RunStatus::MoreWork {}
        assert_eq!(chain.fault(), None);
        if started.is_none() {
            started = chain.output_started();
        }
        if let Some(space) = d.space {
            chain.set_downstream_space(space);
        }
        for b in chain.take_output(d.take) {
            out.extend_from_slice(&b);
            progress = true;
        }
        while chain.run() == RunStatus::MoreWork {}
        stalls = if progress { 0 } else { stalls + 1 };
        assert!(stalls < 10, "chain stalled: pushed {pushed}/{}, out {}", input.len(), out.len());
    }
    (out, started)
}

fn check(n: usize, len: usize, d: Drive) {
    let _g = serial();
    let input = pattern(len);
    let mut chain = null_chain(n, 4096);
    let (out, started) = drive(&mut chain, &input, &d);
    assert!(out == input, "{n} transforms, {len} bytes: output differs");
    let expect = if d.known { Some(Some(len as u64)) } else { Some(None) };
    assert_eq!(started, expect);
    drop(chain);
    assert_eq!(live_counts(), (0, 0));
}

#[test]
fn null_chains_pass_bytes_unchanged_known_length() {
    for n in [1, 2, 5] {
        for len in [0, 1, 64 * 1024] {
            check(n, len, Drive { piece: 1000, take: 777, space: None, known: true });
        }
    }
}

#[test]
fn null_chains_pass_bytes_unchanged_unknown_length() {
    for n in [1, 2, 5] {
        for len in [0, 1, 64 * 1024] {
            check(n, len, Drive { piece: 333, take: 4096, space: None, known: false });
        }
    }
}

#[test]
fn odd_pieces_and_small_downstream_space() {
    check(2, 64 * 1024 + 7, Drive { piece: 1, take: 3, space: Some(5), known: true });
    check(5, 10_000, Drive { piece: 4097, take: 13, space: Some(11), known: false });
}

#[test]
fn sixteen_mib_through_five_nulls() {
    check(5, 16 << 20, Drive { piece: 65_521, take: 50_000, space: None, known: true });
    check(1, 16 << 20, Drive { piece: 100_003, take: 1 << 20, space: Some(30_000), known: false });
}

#[test]
fn backpressure_bounds_buffers_when_downstream_takes_nothing() {
    let _g = serial();
    let mut chain = null_chain(3, 1024);
    chain.start(None);
    let mut pushed = 0;
    for _ in 0..1000 {
        let room = chain.input_space();
        if room == 0 {
            break;
        }
        chain.push_input(Bytes::from(vec![7u8; room]));
        pushed += room;
        chain.run();
    }
    assert_eq!(chain.input_space(), 0, "the chain must stop accepting input");
    // Bounded by the buffers of the chain, far from the 1000 pushes allowed.
    assert!(pushed <= 4 * 1024 * 2, "pushed {pushed} bytes with nobody reading");
    assert!(chain.output_avail() > 0);
    drop(chain);
    assert_eq!(live_counts(), (0, 0));
}

#[test]
fn dropped_mid_body_leaves_nothing_live() {
    let _g = serial();
    let input = pattern(50_000);
    let mut chain = null_chain(5, 2048);
    chain.start(Some(input.len() as u64));
    chain.push_input(Bytes::copy_from_slice(&input[..1500]));
    chain.run();
    let got: usize = chain.take_output(100).map(|b| b.len()).sum();
    assert_eq!(got, 100);
    chain.run();
    assert!(!chain.output_done());
    let before = live_counts();
    assert!(before.0 >= 5 && before.1 >= 6, "{before:?}");
    drop(chain);
    assert_eq!(live_counts(), (0, 0));
}

/// Panics on its first event.
struct Panicker;
impl Transform for Panicker {
    fn on_event(&mut self, _cx: &mut TransformCx<'_>, _event: Event) {
        panic!("test transform panics on purpose");
    }
}

#[test]
fn a_panicking_transform_faults_the_chain_and_is_counted() {
    let _g = serial();
    let m = null_plugin();
    let mut chain = Chain::new(vec![instance(&m, plugin_null::NullTransform::default()), instance(&m, Panicker)], 4096);
    chain.start(Some(3));
    chain.push_input(Bytes::from_static(b"abc"));
    chain.run();
    let fault = chain.fault().expect("a fault");
    assert!(fault.what.contains("panicked"), "{fault}");
    assert_eq!(m.stats().panics.load(Ordering::Relaxed), 1);
    assert_eq!(chain.take_output(10).len(), 0);
    drop(chain);
    assert_eq!(m.stats().aborts.load(Ordering::Relaxed), 2);
    assert_eq!(live_counts(), (0, 0));
}

/// Breaks the protocol: says WRITE_COMPLETE before consuming anything.
struct EarlyComplete;
impl Transform for EarlyComplete {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, _event: Event) {
        if let Some(input) = cx.input_vio() {
            input.call_cont(Event::VConnWriteComplete);
        }
    }
}

#[test]
fn write_complete_with_bytes_to_do_is_a_protocol_fault() {
    let _g = serial();
    let m = null_plugin();
    let mut chain = Chain::new(vec![instance(&m, EarlyComplete)], 4096);
    chain.start(Some(10));
    chain.push_input(Bytes::from_static(b"0123456789"));
    chain.run();
    let fault = chain.fault().expect("a fault");
    assert!(fault.what.contains("ntodo"), "{fault}");
    assert_eq!(m.stats().protocol_errors.load(Ordering::Relaxed), 1);
    drop(chain);
    assert_eq!(live_counts(), (0, 0));
}

/// Counts events; never writes output.
struct Sink(std::rc::Rc<std::cell::Cell<usize>>);
impl Transform for Sink {
    fn on_event(&mut self, _cx: &mut TransformCx<'_>, _event: Event) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn reenables_coalesce_and_never_recurse() {
    let _g = serial();
    let m = null_plugin();
    let count = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut chain = Chain::new(vec![instance(&m, Sink(count.clone()))], 4096);
    chain.start(None);
    for _ in 0..100 {
        chain.push_input(Bytes::from_static(b"x"));
    }
    assert_eq!(count.get(), 0, "nothing runs outside run()");
    assert_eq!(chain.run(), RunStatus::Idle);
    assert_eq!(count.get(), 1, "queued reenables coalesce into one Immediate");
    assert_eq!(chain.output_started(), None);
    drop(chain);
    // The closed notification on drop.
    assert_eq!(count.get(), 2);
    assert_eq!(live_counts(), (0, 0));
}
