//! A test-only plugin that breaks the plugin rules on purpose, one way per
//! `plugin.config` argument (see `README.md`), so tests can check that the
//! host notices, counts and survives each fault. Without an argument it is
//! the null transform on responses.
//!
//! The transform is `plugins/null`'s, step for step; each fault is one
//! marked deviation from it.
//!
//! Which transactions commit the fault is the second half of the
//! configuration ([`When`]): every one, only the first (`once`, so a test
//! can check that the next transaction is served normally), or every Nth
//! (`panic-every=N`, for soak tests).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use plugin_sdk::{declare_plugin, BufferId, Closed, Event, Plugin, ReaderId, Transform, TransformCx, Txn, VioId};

/// What `past-nbytes` writes after the bytes it announced.
pub const PAST_NBYTES_EXTRA: &[u8] = b"faulty: past nbytes";

/// The fault a `faulty` plugin commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// None: a well-behaved pass-through.
    None,
    /// Panics in `init`.
    PanicInit,
    /// Panics in `read_response_headers`.
    PanicHook,
    /// Panics on the first data event of its transform.
    PanicData,
    /// Panics when its transform is dropped.
    PanicDestroy,
    /// Its transform ignores every event.
    NeverReenable,
    /// Sends `WRITE_COMPLETE` upstream with `ntodo > 0`.
    EarlyComplete,
    /// Writes more than the `nbytes` it announced.
    PastNbytes,
    /// Uses its VIOs after it was closed.
    UseAfterClose,
    /// Never returns from `read_response_headers`.
    LoopHook,
    /// Never returns from its first data event.
    LoopData,
    /// Takes [`SLOW_EVENT`] on every event, then does `null`'s work.
    SlowEvents,
    /// Reenables its own input VIO on every event and does nothing else.
    ReenableSelf,
    /// Passes bytes like `null`, and reenables its own input VIO on every event.
    ReenableSelfMoving,
    /// Keeps its input VIO's handle in a `static` and uses it in the next transaction.
    StashHandle,
    /// Passes bytes, but once closed appends to its output buffer and reads its input.
    IoAfterClose,
    /// Holds its worker for [`BLOCK`] in its first data event, then passes bytes.
    Block,
}

/// How long a `block` transform holds its worker.
pub const BLOCK: Duration = Duration::from_millis(1_500);

/// How long a `slow-events` callback takes.
pub const SLOW_EVENT: Duration = Duration::from_millis(25);

/// Handles kept across transactions by `stash-handle`.
struct Stash(Option<VioId>);
// SAFETY (of the fault, not of memory): the SDK makes ids `!Send` so that
// this takes an `unsafe impl` on purpose; a handle is a plain number and
// the host refuses it in any transaction but its own.
unsafe impl Send for Stash {}
static STASH: Mutex<Stash> = Mutex::new(Stash(None));

impl Fault {
    /// Every fault with its `plugin.config` argument.
    pub const ALL: [(&'static str, Fault); 16] = [
        ("panic-init", Fault::PanicInit),
        ("panic-hook", Fault::PanicHook),
        ("panic-data", Fault::PanicData),
        ("panic-destroy", Fault::PanicDestroy),
        ("never-reenable", Fault::NeverReenable),
        ("early-complete", Fault::EarlyComplete),
        ("past-nbytes", Fault::PastNbytes),
        ("use-after-close", Fault::UseAfterClose),
        ("loop-hook", Fault::LoopHook),
        ("loop-data", Fault::LoopData),
        ("slow-events", Fault::SlowEvents),
        ("reenable-self", Fault::ReenableSelf),
        ("reenable-self-moving", Fault::ReenableSelfMoving),
        ("stash-handle", Fault::StashHandle),
        ("io-after-close", Fault::IoAfterClose),
        ("block", Fault::Block),
    ];

    /// The fault named `arg`, if it names one.
    fn named(arg: &str) -> Option<Fault> {
        Fault::ALL.iter().find(|(name, _)| *name == arg).map(|(_, f)| *f)
    }
}

/// Which transactions commit the plugin's fault, counted in the order they
/// reach `read_response_headers` (1, 2, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every transaction.
    Always,
    /// The first transaction only (`once` after the fault).
    Once,
    /// Transactions N, 2N, 3N, ... (`panic-every=N`, a `panic-data` fault).
    Every(u64),
}

impl When {
    /// Whether transaction number `n` (from 1) commits the fault.
    fn applies_to(self, n: u64) -> bool {
        match self {
            When::Always => true,
            When::Once => n == 1,
            When::Every(every) => n.is_multiple_of(every),
        }
    }
}

/// The argument that faults every Nth transaction: `panic-every=N`.
const PANIC_EVERY: &str = "panic-every=";

/// Parses the `plugin.config` arguments: nothing, a fault, a fault then
/// `once`, or `panic-every=N`.
fn parse_args(args: &[String]) -> Result<(Fault, When), String> {
    let names = || Fault::ALL.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
    match args {
        [] => Ok((Fault::None, When::Always)),
        [arg] => match arg.strip_prefix(PANIC_EVERY) {
            Some(n) => match n.parse::<u64>() {
                Ok(every) if every > 0 => Ok((Fault::PanicData, When::Every(every))),
                _ => Err(format!("{arg:?}: panic-every takes a whole number of transactions, 1 or more")),
            },
            // This message is quoted whole by the host's refusal tests: keep it in step with them.
            // The host cuts long init errors, so this names the README rather than all the faults.
            None => Fault::named(arg).map(|f| (f, When::Always)).ok_or_else(|| {
                format!(
                    "unknown argument {arg:?}: faulty takes a fault listed in its README.md, or nothing; \
                     then `once`, or panic-every=N"
                )
            }),
        },
        [arg, once] if once == "once" => match Fault::named(arg) {
            Some(f) => Ok((f, When::Once)),
            None => Err(format!("unknown argument {arg:?} before `once`: it takes one of {}", names())),
        },
        _ => Err(format!(
            "faulty takes one fault, optionally followed by `once`, or `panic-every=N`; got {args:?}: \
             keep one of {}",
            names()
        )),
    }
}

/// The plugin: which fault it commits, and in which transactions.
#[derive(Debug)]
pub struct FaultyPlugin {
    fault: Fault,
    when: When,
    /// Transactions seen so far by `read_response_headers`, across worker
    /// threads: the number [`When`] is applied to.
    seen: AtomicU64,
}

impl FaultyPlugin {
    /// The fault the next transaction commits ([`Fault::None`] if spared).
    fn next_fault(&self) -> Fault {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if self.when.applies_to(n) {
            self.fault
        } else {
            Fault::None
        }
    }
}

impl Plugin for FaultyPlugin {
    fn init(args: &[String]) -> Result<Self, String> {
        let (fault, when) = parse_args(args)?;
        if fault == Fault::PanicInit {
            panic!("faulty: panic-init, as configured");
        }
        Ok(FaultyPlugin { fault, when, seen: AtomicU64::new(0) })
    }

    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        let fault = self.next_fault();
        if fault == Fault::PanicHook {
            panic!("faulty: panic-hook in read_response_headers, as configured");
        }
        if fault == Fault::LoopHook {
            endless();
        }
        // Refused only for a response without a body, which has nothing to break.
        let _ = txn.add_response_transform(FaultyTransform::new(fault));
    }
}

declare_plugin!(FaultyPlugin);

/// FAULT: never returns. It sleeps rather than spins so that a test does not
/// burn a core; to the host it is the same, a callback that never comes back.
fn endless() -> ! {
    loop {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One transform instance: `null`'s, with the plugin's fault.
pub struct FaultyTransform {
    fault: Fault,
    /// The write VIO on our output vconnection, once started.
    output: Option<VioId>,
    /// `io-after-close`: our output buffer and input reader, kept for the fault.
    kept: Option<(BufferId, ReaderId)>,
    /// It has had an event (`stash-handle` acts on the first).
    seen_event: bool,
    /// `block`: it has held its worker once.
    blocked: bool,
}

impl FaultyTransform {
    /// A transform committing `fault` (those of its transform, if any).
    pub fn new(fault: Fault) -> Self {
        FaultyTransform { fault, output: None, kept: None, seen_event: false, blocked: false }
    }
}

impl Drop for FaultyTransform {
    fn drop(&mut self) {
        // Never while unwinding already: that would abort the process, which
        // is not the fault under test.
        if self.fault == Fault::PanicDestroy && !std::thread::panicking() {
            panic!("faulty: panic-destroy, as configured");
        }
    }
}

impl Transform for FaultyTransform {
    fn on_event(&mut self, cx: &mut TransformCx<'_>, event: Event) {
        if self.fault == Fault::SlowEvents {
            std::thread::sleep(SLOW_EVENT); // FAULT: a slow callback, every time.
        }
        let first_event = !std::mem::replace(&mut self.seen_event, true);
        if cx.this().closed() != Closed::Open {
            match self.fault {
                Fault::UseAfterClose => self.use_after_close(cx),
                Fault::IoAfterClose => self.io_after_close(cx),
                _ => {}
            }
            return;
        }
        match self.fault {
            Fault::NeverReenable => return, // FAULT: ignores the event; nothing ever moves.
            Fault::ReenableSelf => {
                // FAULT: asks to be called again at once, every time, and moves nothing.
                if let Some(input) = cx.input_vio() {
                    input.reenable();
                }
                return;
            }
            Fault::StashHandle if first_event => stash_or_use(cx),
            _ => {}
        }
        match event {
            Event::Error => {
                if let Some(input) = cx.input_vio() {
                    input.call_cont(Event::Error);
                }
            }
            Event::VConnWriteComplete => cx.output_vconn().shutdown(false, true),
            _ => self.handle_transform(cx),
        }
        if self.fault == Fault::ReenableSelfMoving {
            if let Some(input) = cx.input_vio() {
                // FAULT: one more event for itself, whether or not there is work.
                input.reenable();
            }
        }
    }
}

/// FAULT (`stash-handle`), on a transform's first event: keeps its input
/// VIO's id in a static if none is kept, else uses the kept one (from the
/// previous transaction), as a plugin that cached "the" VIO would.
fn stash_or_use(cx: &TransformCx<'_>) {
    let mut stash = STASH.lock().unwrap_or_else(|p| p.into_inner());
    match stash.0.take() {
        Some(old) => {
            let _ = cx.vio(old).ndone();
        }
        None => stash.0 = cx.input_vio().map(|v| v.id()),
    }
}

impl FaultyTransform {
    /// FAULT: what a handler that forgot the closed check goes on to do.
    fn use_after_close(&self, cx: &TransformCx<'_>) {
        if let Some(input) = cx.input_vio() {
            input.set_ndone(input.ndone());
            input.reenable();
        }
        if let Some(id) = self.output {
            cx.vio(id).reenable();
        }
    }

    /// FAULT: fills and reads buffers after its closed event.
    fn io_after_close(&self, cx: &TransformCx<'_>) {
        if let Some((buffer, reader)) = self.kept {
            cx.buffer(buffer).append(b"faulty: after close");
            let _ = cx.reader(reader).avail();
        }
    }

    /// `null`'s data step, with the data faults.
    fn handle_transform(&mut self, cx: &TransformCx<'_>) {
        let Some(input) = cx.input_vio() else { return };
        let output = match self.output {
            Some(id) => cx.vio(id),
            None => {
                let buffer = cx.new_buffer();
                let reader = buffer.alloc_reader();
                let vio = cx.output_vconn().write(&reader, input.nbytes());
                self.output = Some(vio.id());
                vio
            }
        };
        let Some(out_buffer) = output.buffer() else {
            return;
        };
        let Some(in_reader) = input.reader() else {
            output.set_nbytes(input.ndone());
            output.reenable();
            return;
        };
        if self.fault == Fault::IoAfterClose {
            self.kept = Some((out_buffer.id(), in_reader.id()));
        }

        let mut towrite = input.ntodo().min(in_reader.avail());
        if towrite > 0 {
            match self.fault {
                Fault::PanicData => panic!("faulty: panic-data on its first data event, as configured"),
                Fault::LoopData => endless(),
                // FAULT: a blocking call in a callback; every socket of the worker waits.
                Fault::Block if !std::mem::replace(&mut self.blocked, true) => std::thread::sleep(BLOCK),
                // FAULT: pass half, then claim to be done: ntodo stays > 0.
                Fault::EarlyComplete => towrite /= 2,
                _ => {}
            }
            out_buffer.copy_from(&in_reader, towrite, 0);
            in_reader.consume(towrite);
            input.set_ndone(input.ndone() + towrite);
            if self.fault == Fault::EarlyComplete {
                input.call_cont(Event::VConnWriteComplete);
                return;
            }
        }

        if input.ntodo() > 0 {
            if towrite > 0 {
                output.reenable();
                input.call_cont(Event::VConnWriteReady);
            }
        } else {
            output.set_nbytes(input.ndone());
            if self.fault == Fault::PastNbytes {
                // FAULT: bytes past the nbytes just (re)announced.
                out_buffer.append(PAST_NBYTES_EXTRA);
            }
            output.reenable();
            input.call_cont(Event::VConnWriteComplete);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_sdk::testing::FakeHost;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_choose_one_fault() {
        for (name, fault) in Fault::ALL {
            assert_eq!(parse_args(&args(&[name])), Ok((fault, When::Always)));
            assert_eq!(parse_args(&args(&[name, "once"])), Ok((fault, When::Once)));
        }
        assert_eq!(parse_args(&[]), Ok((Fault::None, When::Always)));
        assert_eq!(parse_args(&args(&["panic-every=10"])), Ok((Fault::PanicData, When::Every(10))));
        let e = parse_args(&args(&["sideways"])).expect_err("unknown");
        assert_eq!(
            e,
            "unknown argument \"sideways\": faulty takes a fault listed in its README.md, or nothing; then \
             `once`, or panic-every=N"
        );
        let e = parse_args(&args(&["panic-data", "panic-hook"])).expect_err("two");
        assert!(e.starts_with("faulty takes one fault, optionally followed by `once`"), "{e}");
        let e = parse_args(&args(&["sideways", "once"])).expect_err("unknown before once");
        assert!(e.starts_with("unknown argument \"sideways\" before `once`"), "{e}");
        for bad in ["panic-every=0", "panic-every=", "panic-every=x", "panic-every=-3"] {
            let e = parse_args(&args(&[bad])).expect_err(bad);
            assert!(e.ends_with("panic-every takes a whole number of transactions, 1 or more"), "{e}");
        }
    }

    #[test]
    fn the_fault_is_committed_in_the_chosen_transactions() {
        let plugin = |a: &[&str]| FaultyPlugin::init(&args(a)).expect("init");
        let faults = |p: &FaultyPlugin| (0..6).map(|_| p.next_fault()).collect::<Vec<_>>();
        let (d, n) = (Fault::PanicData, Fault::None);
        assert_eq!(faults(&plugin(&["panic-data"])), [d; 6]);
        assert_eq!(faults(&plugin(&["panic-data", "once"])), [d, n, n, n, n, n]);
        assert_eq!(faults(&plugin(&["panic-every=3"])), [n, n, d, n, n, d]);
        assert_eq!(faults(&plugin(&[])), [n; 6]);
    }

    #[test]
    fn without_a_fault_it_passes_bytes_through() {
        let out = FakeHost::new().run(FaultyTransform::new(Fault::None), &[b"hello ", b"world"]);
        assert_eq!(out.bytes, b"hello world");
        assert!(out.complete && out.errors.is_empty(), "{out:?}");
    }

    #[test]
    fn the_fake_host_sees_the_data_faults() {
        let out = FakeHost::new().run(FaultyTransform::new(Fault::PanicData), &[b"hello"]);
        assert!(out.bytes.is_empty() && !out.complete, "{out:?}");
        assert!(!out.errors.is_empty(), "{out:?}");
        let out = FakeHost::new().run(FaultyTransform::new(Fault::EarlyComplete), &[b"hello ", b"world"]);
        assert!(!out.complete, "{out:?}");
        assert!(!out.errors.is_empty(), "{out:?}");
    }

    fn has(out: &plugin_sdk::testing::FakeOutput, all: &[&str]) -> bool {
        out.errors.iter().any(|e| all.iter().all(|f| e.contains(f)))
    }

    /// The faults the host reports (tests/plugin_containment.rs), reported
    /// by the fake host in the same words: bounded, never looped on.
    #[test]
    fn the_fake_host_reports_the_containment_faults_as_the_host_does() {
        let out = FakeHost::new().run(FaultyTransform::new(Fault::ReenableSelf), &[b"hello"]);
        assert!(has(&out, &["kept rescheduling itself", "without moving a byte"]), "{out:?}");
        assert!(!out.complete, "{out:?}");

        // Moving bytes while it spins is slow, not stuck: served.
        let out = FakeHost::new().run(FaultyTransform::new(Fault::ReenableSelfMoving), &[b"hello ", b"world"]);
        assert_eq!(out.bytes, b"hello world", "{out:?}");
        assert!(out.errors.is_empty(), "{out:?}");

        let out = FakeHost::new().run(FaultyTransform::new(Fault::IoAfterClose), &[b"hello"]);
        assert_eq!(out.bytes, b"hello", "closed only after the whole body: {out:?}");
        assert!(has(&out, &["appended to an IO buffer after it was closed"]), "{out:?}");

        let out = FakeHost::new().run(FaultyTransform::new(Fault::UseAfterClose), &[b"hello"]);
        assert!(has(&out, &[" after it was closed"]), "{out:?}");

        // The first run keeps its input VIO's id; the second uses it.
        let first = FakeHost::new().run(FaultyTransform::new(Fault::StashHandle), &[b"hello"]);
        assert!(first.errors.is_empty() && first.complete, "{first:?}");
        let second = FakeHost::new().run(FaultyTransform::new(Fault::StashHandle), &[b"hello"]);
        assert!(has(&second, &["used a VIO handle (", ") of another transaction"]), "{second:?}");
    }
}
