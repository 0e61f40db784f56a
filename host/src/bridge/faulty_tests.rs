//! The faulty plugin (`plugins/faulty`), built and loaded through the real
//! loader: each fault is noticed, charged to the plugin in its counters,
//! and leaves nothing behind (no live transform or buffer).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::{test_options, HookResult, TxnPlugins, TxnView};
use crate::h1::head::{BodyKind, Headers, RequestHead, ResponseHead, Version};
use crate::plugins::runtime_dir::RuntimeDir;
use crate::plugins::{load_generation, Generation, StatsSnapshot};
use crate::transform::tests::serial;
use crate::transform::{live_counts, Chain, Fault, RunStatus};
use e2e::fixtures::{self, Scratch};

/// The response body every transaction here carries: several pushes, below
/// the default water mark.
const BODY_LEN: usize = 10_000;
/// Bytes pushed into the chain at a time.
const PIECE: usize = 1_000;

/// What one transaction through a generation did.
#[derive(Debug)]
pub(super) struct Outcome {
    /// What `read_response_headers` said.
    pub hook: HookResult,
    /// Every byte the chain put out.
    pub out: Vec<u8>,
    /// The chain's fault, if any.
    pub fault: Option<Fault>,
    /// Every announced byte went out.
    pub done: bool,
    /// The driver gave up: three rounds without any progress.
    pub stalled: bool,
}

pub(super) fn body() -> Vec<u8> {
    (0..BODY_LEN).map(|i| (i % 251) as u8).collect()
}

/// Loads a generation of one plugin line, `so` then `args`.
pub(super) fn generation(scratch: &Scratch, so: &Path, args: &str) -> Result<Arc<Generation>, Vec<String>> {
    let config = scratch.write("plugin.config", &format!("{} {args}\n", so.display()));
    let rt = RuntimeDir::create(Some(&scratch.0)).expect("runtime dir");
    load_generation(&config, &test_options(&scratch.0, &rt)).map(Arc::new)
}

/// One GET with a 200 response of [`body`] (known length) through `generation`.
pub(super) fn run_txn(generation: &Arc<Generation>) -> Outcome {
    let mut request =
        RequestHead { method: "GET".into(), target: "/".into(), version: Version::Http11, headers: Headers::default() };
    let mut response =
        ResponseHead { version: Version::Http11, status: 200, reason: "OK".into(), headers: Headers::default() };
    let mut txn = TxnPlugins::new(generation.clone());
    let mut view = TxnView::request(&mut request, BodyKind::Empty).response(&mut response, BodyKind::Chunked);
    let hook = txn.read_response_headers(&mut view);
    let mut outcome = Outcome { hook, out: Vec::new(), fault: None, done: false, stalled: false };
    if outcome.hook == HookResult::Continue {
        if let Some(mut chain) = txn.take_response_chain() {
            drive(&mut chain, &body(), &mut outcome);
        }
    }
    txn.txn_close(&mut view);
    outcome
}

/// Feeds `input` and takes output until done, a fault, or no progress.
fn drive(chain: &mut Chain, input: &[u8], o: &mut Outcome) {
    chain.start(Some(input.len() as u64));
    chain.run();
    let (mut pushed, mut idle) = (0, 0);
    while !chain.output_done() && chain.fault().is_none() && idle < 3 {
        let mut progress = false;
        let room = chain.input_space().min(PIECE).min(input.len() - pushed);
        if room > 0 {
            chain.push_input(Bytes::copy_from_slice(&input[pushed..pushed + room]));
            pushed += room;
            progress = true;
            if pushed == input.len() {
                chain.end_input();
            }
        }
        while chain.run() == RunStatus::MoreWork {}
        for block in chain.take_output(4096) {
            o.out.extend_from_slice(&block);
            progress = true;
        }
        while chain.run() == RunStatus::MoreWork {}
        idle = if progress { 0 } else { idle + 1 };
    }
    o.fault = chain.fault();
    o.done = chain.output_done();
    o.stalled = idle >= 3;
}

/// Runs one transaction through `faulty ARG` and returns it with the
/// plugin's counters and last panic message once everything is dropped.
fn faulty_txn(arg: &str) -> (Outcome, StatsSnapshot, Option<String>) {
    let so = fixtures::faulty(); // built before taking the lock: it can take a while
    let _g = serial();
    let scratch = Scratch::new(&format!("faulty-{arg}"));
    let generation = generation(&scratch, &so, arg).expect("faulty loads");
    let outcome = run_txn(&generation);
    assert_eq!(live_counts(), (0, 0), "{arg}: every transform and buffer is gone");
    let module = &generation.modules()[0];
    (outcome, module.snapshot(), module.last_panic())
}

fn fault(what: &str) -> Option<Fault> {
    Some(Fault { plugin: "plugin-faulty".into(), what: what.into() })
}

/// The counters expected after one transaction, given the fault counts.
fn counted(bytes_in: u64, bytes_out: u64, aborts: u64, panics: u64, protocol_errors: u64) -> StatsSnapshot {
    StatsSnapshot {
        name: "plugin-faulty".into(),
        transactions: 1,
        bytes_in,
        bytes_out,
        aborts,
        panics,
        protocol_errors,
    }
}

#[test]
fn without_a_fault_it_is_a_pass_through() {
    let (o, stats, panic) = faulty_txn("");
    assert!(o.done && o.fault.is_none() && o.out == body(), "{:?}", o.fault);
    assert_eq!(stats, counted(10_000, 10_000, 0, 0, 0));
    assert_eq!(panic, None);
}

#[test]
fn a_panic_in_a_hook_fails_the_transaction_and_is_counted_with_its_message() {
    let (o, stats, panic) = faulty_txn("panic-hook");
    let message = "plugin plugin-faulty panicked in read_response_headers: \
                   faulty: panic-hook in read_response_headers, as configured"
        .to_string();
    assert_eq!(o.hook, HookResult::Fail { status: 500, message });
    assert_eq!(stats, counted(0, 0, 0, 1, 0));
    assert_eq!(panic.as_deref(), Some("faulty: panic-hook in read_response_headers, as configured"));
}

#[test]
fn a_panic_on_data_aborts_the_chain() {
    let (o, stats, panic) = faulty_txn("panic-data");
    assert_eq!(o.fault, fault("panicked handling event 1: faulty: panic-data on its first data event, as configured"));
    assert!(o.out.is_empty() && !o.done);
    assert_eq!(stats, counted(0, 0, 1, 1, 0));
    assert_eq!(panic.as_deref(), Some("faulty: panic-data on its first data event, as configured"));
}

#[test]
fn a_panic_in_destroy_is_counted_and_spares_the_response() {
    let (o, stats, panic) = faulty_txn("panic-destroy");
    assert!(o.done && o.fault.is_none() && o.out == body());
    assert_eq!(stats, counted(10_000, 10_000, 0, 1, 0));
    assert_eq!(panic.as_deref(), Some("faulty: panic-destroy, as configured"));
}

#[test]
fn a_transform_that_never_reenables_stalls_its_chain_and_is_aborted() {
    let (o, stats, _) = faulty_txn("never-reenable");
    // Nothing moves and nothing is queued: the chain faults at once rather than wait for a timeout.
    let what = "stalled: left 10000 input bytes unconsumed with nothing scheduled (no reenable, no WRITE_READY)";
    assert_eq!(o.fault, fault(what), "{o:?}");
    assert!(o.out.is_empty() && !o.done);
    assert_eq!(stats, counted(0, 0, 1, 0, 1));
}

#[test]
fn write_complete_with_bytes_to_do_is_a_protocol_error() {
    let (o, stats, _) = faulty_txn("early-complete");
    assert_eq!(o.fault, fault("sent WRITE_COMPLETE with bytes still to do (ntodo > 0)"));
    assert!(!o.done);
    assert_eq!(stats, counted(500, 0, 1, 0, 1));
}

#[test]
fn writing_past_nbytes_is_a_protocol_error() {
    let (o, stats, _) = faulty_txn("past-nbytes");
    assert_eq!(o.fault, fault("wrote more than the 10000 bytes it announced"));
    assert!(!o.done);
    assert_eq!((stats.aborts, stats.panics, stats.protocol_errors), (1, 0, 1));
}

#[test]
fn using_vios_after_close_is_a_protocol_error() {
    let (o, stats, _) = faulty_txn("use-after-close");
    // The body was complete; the fault is noticed when the chain closes it.
    assert!(o.done && o.fault.is_none() && o.out == body());
    assert_eq!(stats, counted(10_000, 10_000, 0, 0, 1));
}
