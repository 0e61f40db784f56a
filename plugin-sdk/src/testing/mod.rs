//! A fake host, so a transform can be unit-tested without a proxy.
//!
//! It runs one transform between an input it feeds (in the chunks you give,
//! with a known or unknown length) and a terminating vconnection it drains in
//! small pieces, delivering events through the same `extern "C"` shims the
//! real host calls. Water marks default to a few bytes, so `WRITE_READY`
//! and backpressure are exercised even with tiny inputs. Protocol mistakes
//! the fake notices are returned in [`FakeOutput::errors`], in the host's
//! words where the host checks the same rule: a handle of another
//! transaction (an id kept from an earlier run), reads, appends and VIO
//! calls after the closed event, destroying the input's buffer,
//! `WRITE_COMPLETE` with bytes to do, a changed output length, and a
//! transform that keeps rescheduling itself without moving a byte
//! (reported after [`BUSY_EVENTS`] events instead of looping for ever).
//!
//! What the fake cannot report: a callback that never returns or is merely
//! slow runs on the test's own thread, as it would take the host's worker;
//! the host's watchdog (not the fake) names those.
//!
//! ```
//! use plugin_sdk::testing::FakeHost;
//! use plugin_sdk::{Chunk, Output, StreamTransform};
//!
//! struct Null;
//! impl StreamTransform for Null {
//!     fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
//!         out.pass(chunk);
//!     }
//! }
//!
//! let out = FakeHost::new().unknown_length().run_stream(Null, &[b"abc", b"", b"defg"]);
//! assert_eq!(out.bytes, b"abcdefg");
//! assert_eq!(out.nbytes, None); // unknown: the host would send chunked
//! assert!(out.complete && out.errors.is_empty());
//! ```

mod io_fns;
mod state;
mod table;
mod txn;

use std::cell::RefCell;
use std::ffi::c_void;

use crate::counter::Counters;
use crate::export::{transform_destroy, transform_event};
use crate::ffi::{event_code, IoCtx, STATUS_OK};
use crate::log::Level;
use crate::message::Message;
use crate::plugin::Plugin;
use crate::stream::{StreamAdapter, StreamTransform};
use crate::vconn::Transform;
use state::{Fake, FakeCell, FakeVio, TERMINUS, TRANSFORM};
use table::FAKE_TABLE;
pub use txn::FakeTxn;

/// Iterations without progress after which the fake declares a stall.
const STALL_LIMIT: usize = 3;

/// Events a transform may receive in a row without a byte moving before
/// the fake reports it as rescheduling itself (the host bounds the same
/// spinning by time: the inactivity timeout).
pub const BUSY_EVENTS: u64 = 10_000;

/// Events delivered per round, so feeding and draining go on between them.
const EVENTS_PER_ROUND: usize = 64;

/// Settings for one fake run. See the module docs.
#[derive(Debug, Clone)]
pub struct FakeHost {
    water_mark: usize,
    known_length: bool,
    pub(super) take: usize,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost { water_mark: 8, known_length: true, take: 5 }
    }
}

/// What a fake run produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeOutput {
    /// Every byte the transform wrote, in order.
    pub bytes: Vec<u8>,
    /// The output length the transform announced (`None`: unknown).
    pub nbytes: Option<u64>,
    /// The transform started writing its output.
    pub started: bool,
    /// Every announced byte was written and taken, and the input was completed.
    pub complete: bool,
    /// `WRITE_READY` events the transform received.
    pub write_ready: usize,
    /// Protocol errors and panics noticed.
    pub errors: Vec<String>,
    /// The message the transform put in place of this one, if it replaced it.
    pub replaced: Option<Message>,
    /// The transform aborted its output: the host would abort the transaction
    /// (a cut connection, or a 500 before the head), counted as an abort.
    pub aborted: bool,
}

impl FakeHost {
    /// Defaults: water mark 8 bytes, known input length, output taken 5 bytes at a time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the water mark of every buffer.
    pub fn water_mark(mut self, bytes: usize) -> Self {
        self.water_mark = bytes.max(1);
        self
    }

    /// Feeds the input with an unknown length, set only at its end.
    pub fn unknown_length(mut self) -> Self {
        self.known_length = false;
        self
    }

    /// Takes output at most `bytes` at a time.
    pub fn take_size(mut self, bytes: usize) -> Self {
        self.take = bytes.max(1);
        self
    }

    /// Runs a [`StreamTransform`] over `chunks`.
    pub fn run_stream<S: StreamTransform>(&self, stream: S, chunks: &[&[u8]]) -> FakeOutput {
        self.run(StreamAdapter::new(stream), chunks)
    }

    /// Runs a raw [`Transform`] over `chunks`.
    pub fn run<T: Transform>(&self, transform: T, chunks: &[&[u8]]) -> FakeOutput {
        self.run_instance(crate::instance::into_raw(transform), chunks)
    }

    /// Runs `instance` (an SDK instance pointer, as `Txn::add_transform`
    /// hands it to a host) over `chunks`, then destroys it.
    pub(super) fn run_instance(&self, instance: *mut c_void, chunks: &[&[u8]]) -> FakeOutput {
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        let cell = Box::new(FakeCell(RefCell::new(Fake::new(self.water_mark))));
        let io = &*cell as *const FakeCell as *mut IoCtx;
        let input_reader = {
            let f = &mut *cell.0.borrow_mut();
            let b = f.new_buffer(true);
            let r = f.new_reader(b);
            let nbytes = if self.known_length { total as i64 } else { i64::MAX };
            f.vios[TRANSFORM] = FakeVio { started: true, shut: false, nbytes, ndone: 0, reader: r };
            f.push(Some(TRANSFORM), event_code::IMMEDIATE, 0);
            r
        };
        let mut out = FakeOutput::default();
        let mut next_chunk = 0;
        let mut stalls = 0;
        let mut deferred: Option<(u32, u64)> = None;
        let (mut last_moved, mut spin) = (0u64, 0u64);
        loop {
            let mut progress = false;
            {
                let f = &mut *cell.0.borrow_mut();
                let input_buffer = f.readers[input_reader].map(|(b, _)| b);
                if next_chunk < chunks.len() && f.avail(input_reader) <= self.water_mark {
                    if let Some(b) = input_buffer {
                        f.append(b, chunks[next_chunk]);
                    }
                    next_chunk += 1;
                    if next_chunk == chunks.len() && !self.known_length {
                        f.vios[TRANSFORM].nbytes = total as i64;
                    }
                    f.push(Some(TRANSFORM), event_code::IMMEDIATE, 0);
                    progress = true;
                }
            }
            let mut delivered = deliver(&cell, io, instance, &mut deferred, &mut out);
            progress |= self.take_output(&cell, &mut out);
            delivered += deliver(&cell, io, instance, &mut deferred, &mut out);
            progress |= delivered > 0;
            let f = cell.0.borrow();
            if f.moved != last_moved {
                (last_moved, spin) = (f.moved, 0);
            } else {
                spin += delivered as u64;
            }
            let t = f.vios[TERMINUS];
            let done = t.started && t.nbytes != i64::MAX && t.ndone == t.nbytes && next_chunk == chunks.len();
            // Done and only spinning, replaced or aborted: the host ends the transaction here too.
            if done && (f.queue.is_empty() || spin > 0) || !out.errors.is_empty() || f.replaced.is_some() || f.aborted {
                break;
            }
            if spin >= BUSY_EVENTS {
                out.errors.push(format!(
                    "kept rescheduling itself for {spin} events without moving a byte (a reenable or callback \
                     on every event with nothing consumed or written)"
                ));
                break;
            }
            stalls = if progress { 0 } else { stalls + 1 };
            if stalls >= STALL_LIMIT {
                out.errors.push(format!(
                    "stalled: fed {next_chunk}/{} chunks, output {} bytes of {}",
                    chunks.len(),
                    out.bytes.len(),
                    if t.nbytes == i64::MAX { "unknown".to_string() } else { t.nbytes.to_string() }
                ));
                break;
            }
        }
        {
            let f = &mut *cell.0.borrow_mut();
            out.errors.append(&mut f.errors);
            let input = f.vios[TRANSFORM];
            let t = f.vios[TERMINUS];
            out.replaced = f.replaced.take();
            out.aborted = f.aborted;
            out.complete &= input.ndone == input.nbytes && t.ndone == t.nbytes;
            // A replaced message ends the chain normally: the host sends the replacement.
            f.closed[TRANSFORM] = if out.complete || out.replaced.is_some() { 1 } else { 2 };
        }
        // The closed notification, then destruction, as the host does.
        // SAFETY: `instance` is the live boxed transform; FAKE_TABLE and `io` are valid.
        unsafe {
            transform_event(&FAKE_TABLE, instance, io, event_code::IMMEDIATE, 0);
            transform_destroy(instance);
        }
        // What it did after its closed event (reads, appends, VIO calls).
        out.errors.append(&mut cell.0.borrow_mut().errors);
        out
    }

    /// Drains the terminus like a client would: a few bytes at a time.
    fn take_output(&self, cell: &FakeCell, out: &mut FakeOutput) -> bool {
        let f = &mut *cell.0.borrow_mut();
        let t = f.vios[TERMINUS];
        if !t.started || t.shut {
            return false;
        }
        let n = self.take.min(f.avail(t.reader)).min((t.nbytes - t.ndone).max(0) as usize);
        let bytes = f.take(t.reader, n);
        out.bytes.extend_from_slice(&bytes);
        f.vios[TERMINUS].ndone += n as i64;
        let ntodo = f.vios[TERMINUS].nbytes - f.vios[TERMINUS].ndone;
        if ntodo > 0 && n > 0 {
            let h = f.vio_handle(TERMINUS);
            f.push(Some(TRANSFORM), event_code::VCONN_WRITE_READY, h);
        } else if ntodo == 0 && !f.complete_sent {
            f.complete_sent = true;
            let h = f.vio_handle(TERMINUS);
            f.push(Some(TRANSFORM), event_code::VCONN_WRITE_COMPLETE, h);
        }
        n > 0
    }
}

/// Delivers queued events, at most [`EVENTS_PER_ROUND`]; returns how many
/// reached the transform.
fn deliver(
    cell: &FakeCell,
    io: *mut IoCtx,
    instance: *mut c_void,
    deferred: &mut Option<(u32, u64)>,
    out: &mut FakeOutput,
) -> usize {
    let mut any = 0;
    while any < EVENTS_PER_ROUND {
        let next = {
            let f = &mut *cell.0.borrow_mut();
            if deferred.is_some() && !f.over_mark(TERMINUS) {
                if let Some((e, v)) = deferred.take() {
                    f.push(Some(TRANSFORM), e, v);
                }
            }
            let Some((target, event, vio)) = f.queue.pop_front() else {
                break;
            };
            out.started = f.announced.is_some();
            out.nbytes = f.announced.filter(|n| *n != i64::MAX).map(|n| n as u64);
            match target {
                None => {
                    if event == event_code::VCONN_WRITE_COMPLETE {
                        out.complete = true;
                    } else if event == event_code::ERROR {
                        f.errors.push("the transform reported an error upstream".into());
                    }
                    continue;
                }
                Some(TERMINUS) => {
                    let t = f.vios[TERMINUS];
                    if t.started && !t.shut && t.nbytes == t.ndone && !f.complete_sent {
                        f.complete_sent = true;
                        let h = f.vio_handle(TERMINUS);
                        f.push(Some(TRANSFORM), event_code::VCONN_WRITE_COMPLETE, h);
                    }
                    continue;
                }
                Some(_) => {
                    let gated = event == event_code::IMMEDIATE || event == event_code::VCONN_WRITE_READY;
                    if gated && f.over_mark(TERMINUS) {
                        *deferred = Some((event, vio));
                        continue;
                    }
                    (event, vio)
                }
            }
        };
        any += 1;
        if next.0 == event_code::VCONN_WRITE_READY {
            out.write_ready += 1;
        }
        // SAFETY: `instance` is the live boxed transform; no borrow of the cell is held.
        let status = unsafe { transform_event(&FAKE_TABLE, instance, io, next.0, next.1) };
        let f = &mut *cell.0.borrow_mut();
        f.pinned.clear();
        if status != STATUS_OK {
            f.errors.push(format!("the transform returned status {status} (2 = panic) on event {}", next.0));
        }
        if !f.errors.is_empty() {
            out.errors.append(&mut f.errors);
            break;
        }
        if f.replaced.is_some() {
            break;
        }
    }
    any
}

/// Runs `P::init(args)` as the host would, minus the loader: returns the
/// plugin and the counters it registered, so a test can check them.
pub fn init_plugin<P: Plugin>(args: &[&str]) -> Result<(P, Counters), String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let (plugin, counters) = Counters::collect(|| P::init(&args));
    Ok((plugin?, counters))
}

thread_local! {
    /// Lines plugin code logged on this thread outside a host.
    static LOGS: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn keep_log(level: Level, text: String) {
    LOGS.with(|l| l.borrow_mut().push((level, text)));
}

/// Takes the lines logged on this thread (through the `log_*!` macros)
/// since the last call, when no host was there to receive them.
pub fn take_logs() -> Vec<(Level, String)> {
    LOGS.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod txn_tests;
