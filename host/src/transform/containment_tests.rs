//! Engine tests for the containment rules: handles of another chain, IO
//! after close, destroying the input's buffer, runs bounded in time, and a
//! chain spinning without moving bytes.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use plugin_sdk::{Event, ReaderId, Transform, TransformCx, VioId};

use super::tests::{instance, null_plugin, serial};
use super::{live_counts, Chain, RunStatus};

/// Keeps its input VIO's id in `kept`, or, if one is kept, uses that.
struct Keeper(Rc<Cell<Option<VioId>>>);
impl Transform for Keeper {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, _event: Event) {
        match self.0.take() {
            Some(old) => {
                let _ = cx.vio(old).ndone();
            }
            None => self.0.set(cx.input_vio().map(|v| v.id())),
        }
    }
}

#[test]
fn a_handle_of_another_chain_is_refused_naming_the_plugin() {
    let _g = serial();
    let m = null_plugin();
    let kept = Rc::new(Cell::new(None));
    let mut first = Chain::new(vec![instance(&m, Keeper(kept.clone()))], 4096);
    first.start(None);
    first.run();
    assert!(first.fault().is_none() && kept.get().is_some(), "the first chain keeps its id");
    // The same slot number in a second chain: refused, whether or not the first is alive.
    let mut second = Chain::new(vec![instance(&m, Keeper(kept.clone()))], 4096);
    second.start(None);
    second.run();
    let fault = second.fault().expect("a fault");
    assert_eq!(fault.plugin, "plugin-null");
    assert!(
        fault.what.starts_with("used a VIO handle (0x") && fault.what.contains(") of another transaction"),
        "{fault}"
    );
    assert_eq!(m.stats().protocol_errors.load(Ordering::Relaxed), 1);
    drop((first, second));
    assert_eq!(live_counts(), (0, 0));
}

/// Keeps its input reader; reads it once closed.
struct ReadsAfterClose(Option<ReaderId>);
impl Transform for ReadsAfterClose {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, _event: Event) {
        match self.0 {
            Some(r) if cx.is_closed() => {
                let _ = cx.reader(r).avail();
            }
            _ => self.0 = cx.input_vio().and_then(|v| v.reader()).map(|r| r.id()),
        }
    }
}

#[test]
fn reading_after_close_is_a_protocol_error() {
    let _g = serial();
    let m = null_plugin();
    let mut chain = Chain::new(vec![instance(&m, ReadsAfterClose(None))], 4096);
    chain.start(None);
    chain.run();
    assert!(chain.fault().is_none());
    drop(chain); // delivers the closed event
    assert_eq!(m.stats().protocol_errors.load(Ordering::Relaxed), 1);
    assert_eq!(live_counts(), (0, 0));
}

/// Destroys the buffer its input VIO reads.
struct DestroysInput;
impl Transform for DestroysInput {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, _event: Event) {
        if let Some(b) = cx.input_vio().and_then(|v| v.buffer()) {
            b.destroy();
        }
    }
}

#[test]
fn destroying_the_inputs_buffer_is_named_as_such() {
    let _g = serial();
    let m = null_plugin();
    let mut chain = Chain::new(vec![instance(&m, DestroysInput)], 4096);
    chain.start(Some(3));
    chain.push_input(Bytes::from_static(b"abc"));
    chain.run();
    let fault = chain.fault().expect("a fault");
    assert_eq!(fault.what, "destroyed an IO buffer it did not create (its input's buffer)");
    drop(chain);
    assert_eq!(live_counts(), (0, 0));
}

/// Reenables its own input on every event, after `nap`; counts its events.
struct Spinner(Rc<Cell<usize>>, Duration);
impl Transform for Spinner {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, _event: Event) {
        self.0.set(self.0.get() + 1);
        std::thread::sleep(self.1);
        if let Some(input) = cx.input_vio() {
            input.reenable();
        }
    }
}

#[test]
fn a_run_yields_once_its_time_budget_is_spent() {
    let _g = serial();
    let m = null_plugin();
    let count = Rc::new(Cell::new(0));
    // Well past the budget: the run reads the coarse clock, whose tick on a loaded machine
    // (a CI run compiling beside the tests) can lag by more than a few milliseconds.
    let nap = super::chain::RUN_BUDGET + Duration::from_millis(25);
    let mut chain = Chain::new(vec![instance(&m, Spinner(count.clone(), nap))], 4096);
    chain.start(None);
    assert_eq!(chain.run(), RunStatus::MoreWork);
    assert_eq!(count.get(), 1, "one slow callback spends the run's budget");
    drop(chain);
    assert_eq!(live_counts(), (0, 0));
}

#[test]
fn a_chain_rescheduling_itself_without_moving_bytes_faults_its_transform() {
    let _g = serial();
    let m = null_plugin();
    let count = Rc::new(Cell::new(0));
    let mut chain = Chain::new(vec![instance(&m, Spinner(count.clone(), Duration::ZERO))], 4096);
    chain.set_busy_limit(Duration::from_millis(20));
    chain.start(None);
    chain.push_input(Bytes::from_static(b"never consumed"));
    // Bounded: 20 ms of 5 ms runs, with room for a slow machine.
    for _ in 0..10_000 {
        if chain.run() == RunStatus::Idle || chain.fault().is_some() {
            break;
        }
    }
    let fault = chain.fault().expect("a busy-loop fault");
    assert_eq!(fault.plugin, "plugin-null");
    assert!(fault.what.starts_with("kept rescheduling itself for "), "{fault}");
    assert!(fault.what.contains("without moving a byte"), "{fault}");
    assert_eq!(m.stats().protocol_errors.load(Ordering::Relaxed), 1);
    drop(chain);
    assert_eq!(live_counts(), (0, 0));
}
