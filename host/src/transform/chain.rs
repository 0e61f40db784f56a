//! A chain of transforms for one body of one transaction.
//!
//! The caller (the transaction) drives it:
//!
//! 1. [`Chain::start`] once, with the upstream length if known;
//! 2. [`Chain::push_input`] while [`Chain::input_space`] is non-zero, then
//!    [`Chain::end_input`];
//! 3. [`Chain::run`] after each push, take or space change (and again while
//!    it returns [`RunStatus::MoreWork`]): plugins only ever run inside it;
//! 4. once [`Chain::output_started`] is `Some`, [`Chain::take_output`] as
//!    the client can take, until [`Chain::output_done`];
//! 5. check [`Chain::fault`] after `run`: on a fault, abort the transaction
//!    and drop the chain.
//!
//! Dropping the chain closes every transform (aborting them if the output was
//! not done), destroys every instance and frees every buffer.

use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use plugin_sdk::ffi::{closed, event_code, STATUS_OK, STATUS_PANIC};

use super::host_fns::ChainCell;
use super::instance::Instance;
use super::state::{Target, WriteVio, UNKNOWN};
use super::{Fault, Replacement};

/// Events delivered per [`Chain::run`] call at most, so one busy chain
/// cannot starve the other connections of its worker.
pub const MAX_EVENTS_PER_RUN: usize = 10_000;

/// Time one [`Chain::run`] may take before it yields (checked between
/// events, on the coarse clock, so up to one tick more): with slow callbacks the event bound alone could hold the worker
/// for minutes. The worker serves its other sockets, then runs it again.
pub const RUN_BUDGET: Duration = Duration::from_millis(5);

/// How long a chain may keep itself busy (runs that end with events still
/// queued) without a byte moving, unless the caller sets it
/// ([`Chain::set_busy_limit`], the transaction's inactivity timeout).
pub const DEFAULT_BUSY_LIMIT: Duration = Duration::from_secs(30);

/// The default water mark of every buffer in a chain.
pub const DEFAULT_WATER_MARK: usize = 64 * 1024;

/// What [`Chain::run`] left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// No event is queued: the chain waits for input, output taking, or space.
    Idle,
    /// The event bound was hit: call `run` again soon.
    MoreWork,
}

/// See the module docs.
pub struct Chain {
    /// Declared first: instances are destroyed before the buffers they
    /// wrote into are freed.
    instances: Vec<Instance>,
    /// Taken back into the thread's pool at the end of `drop`.
    shared: ManuallyDrop<Box<ChainCell>>,
    input_reader: Option<usize>,
    input_total: u64,
    input_ended: bool,
    downstream_space: usize,
    busy: Busy,
    /// The blocks [`Chain::take_output`] hands out; storage lent by the pooled state.
    out: Vec<Bytes>,
}

/// Runs that ended with work queued and no byte moved, since when, and
/// which transform got the events: a self-rescheduling transform spins its
/// worker without progress, which only the clock can tell from work.
#[derive(Debug)]
struct Busy {
    limit: Duration,
    /// (when the spinning began, `State::moved` then, events per transform);
    /// boxed: only a spinning chain pays for it.
    since: Option<Box<(Instant, u64, Vec<u64>)>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("instances", &self.instances).finish()
    }
}

impl Chain {
    /// A chain of `instances` (at least one), in order, with `water_mark`
    /// on every buffer the host creates and as the default for plugins'.
    pub fn new(instances: Vec<Instance>, water_mark: usize) -> Chain {
        debug_assert!(!instances.is_empty(), "a chain needs at least one transform");
        let shared = super::pool::take(instances.iter().map(|i| i.plugin().clone()), water_mark);
        let out = std::mem::take(&mut shared.state.borrow_mut().out_spare);
        Chain {
            instances,
            shared: ManuallyDrop::new(shared),
            input_reader: None,
            input_total: 0,
            input_ended: false,
            downstream_space: usize::MAX,
            busy: Busy { limit: DEFAULT_BUSY_LIMIT, since: None },
            out,
        }
    }

    /// How long the chain may keep rescheduling itself without moving a
    /// byte before that is a fault of the transform doing it.
    pub fn set_busy_limit(&mut self, limit: Duration) {
        self.busy.limit = limit;
    }

    /// The plugins of the chain, in order.
    #[cfg(test)]
    pub fn plugin_names(&self) -> Vec<String> {
        self.instances.iter().map(|i| i.plugin().name().to_string()).collect()
    }

    /// Upstream body length if known (None = unknown; set later by end_input).
    pub fn start(&mut self, input_nbytes: Option<u64>) {
        if self.input_reader.is_some() {
            return;
        }
        let st = &mut *self.shared.state.borrow_mut();
        let b = st.new_buffer();
        let Some(r) = st.new_reader(b) else { return };
        let nbytes = input_nbytes.and_then(|n| i64::try_from(n).ok()).unwrap_or(UNKNOWN);
        st.vconns[0].write = WriteVio { started: true, shut: false, cont: None, nbytes, ndone: 0, reader: r };
        st.schedule_immediate(0);
        self.input_reader = Some(r);
    }

    /// Bytes that may be pushed before the first transform's input buffer
    /// passes its water mark; 0 while any buffer of the chain is above its
    /// mark (so memory stays bounded whatever the plugins do with it).
    pub fn input_space(&self) -> usize {
        input_space(&self.shared.state.borrow(), self.input_reader, self.input_ended)
    }

    /// Appends to the first transform's input buffer and reenables its write VIO.
    pub fn push_input(&mut self, data: Bytes) {
        let Some(r) = self.input_reader else { return };
        if self.input_ended || data.is_empty() {
            return;
        }
        let st = &mut *self.shared.state.borrow_mut();
        self.input_total += data.len() as u64;
        if let Some(b) = st.buffer_of_reader(r) {
            st.append(b, data);
        }
        st.schedule_immediate(0);
    }

    /// Upstream done: nbytes := total pushed, reenable. Ending with fewer bytes
    /// than announced at `start` is a truncated upstream: drop the chain instead.
    pub fn end_input(&mut self) {
        if self.input_reader.is_none() || self.input_ended {
            return;
        }
        self.input_ended = true;
        let st = &mut *self.shared.state.borrow_mut();
        st.vconns[0].write.nbytes = i64::try_from(self.input_total).unwrap_or(UNKNOWN);
        st.schedule_immediate(0);
    }

    /// Delivers queued events until none is left, [`MAX_EVENTS_PER_RUN`] or
    /// [`RUN_BUDGET`]. A chain that keeps returning [`RunStatus::MoreWork`]
    /// with no byte moving for longer than its busy limit faults, charged
    /// to the transform that took the events.
    pub fn run(&mut self) -> RunStatus {
        // Read at the first event: a run that finds none (after most pushes
        // and takes) reads no clock.
        let (mut started, mut now) = (0, 0);
        let moved_before = {
            let st = &mut *self.shared.state.borrow_mut();
            st.run_counts.fill(0);
            st.moved
        };
        for _ in 0..MAX_EVENTS_PER_RUN {
            let next = {
                let st = &mut *self.shared.state.borrow_mut();
                let next = st.next_delivery();
                if let Some((i, _, _)) = next {
                    st.run_counts[i] += 1;
                }
                next
            };
            let Some((i, event, vio)) = next else {
                self.check_stall();
                self.busy.since = None;
                return RunStatus::Idle;
            };
            if started == 0 {
                started = crate::clock::coarse_ns();
                now = started;
            }
            now = self.deliver(i, event, vio, now);
            if Duration::from_nanos(now.saturating_sub(started)) >= RUN_BUDGET {
                break;
            }
        }
        if self.shared.state.borrow().queue.is_empty() {
            self.check_stall();
            self.busy.since = None;
            return RunStatus::Idle;
        }
        self.check_busy(moved_before);
        RunStatus::MoreWork
    }

    /// A run ended with work queued: resets the busy clock if bytes moved,
    /// else faults the chain once it has spun past the busy limit.
    fn check_busy(&mut self, moved_before: u64) {
        let st = &mut *self.shared.state.borrow_mut();
        // Bytes moved in this run, or since the spinning began (the host
        // pushing input or taking output between runs counts too).
        let moved_since = self.busy.since.as_ref().is_some_and(|b| b.1 != st.moved);
        if st.moved != moved_before || moved_since || st.fault.is_some() {
            self.busy.since = None;
            return;
        }
        let busy =
            self.busy.since.get_or_insert_with(|| Box::new((Instant::now(), st.moved, vec![0; st.run_counts.len()])));
        let (since, _, counts) = &mut **busy;
        for (c, d) in counts.iter_mut().zip(&st.run_counts) {
            *c += d;
        }
        let spun = since.elapsed();
        if spun < self.busy.limit {
            return;
        }
        let culprit = counts.iter().enumerate().max_by_key(|(_, c)| **c).map(|(i, _)| i);
        let events = culprit.map_or(0, |i| counts[i]);
        let running = std::mem::replace(&mut st.current, culprit);
        st.violation(format!(
            "kept rescheduling itself for {} ms ({events} events) without moving a byte (a reenable or \
             callback on every event with nothing consumed or written)",
            spun.as_millis()
        ));
        st.current = running;
    }

    /// Plugins have no timers: a chain left with nothing queued, no input
    /// coming and work undone would hang its transaction, so it faults now.
    fn check_stall(&mut self) {
        let (reader, ended) = (self.input_reader, self.input_ended);
        // Asked last: the state's cheaper checks settle most runs first.
        self.shared.state.borrow_mut().check_stall(|st| input_space(st, reader, ended) > 0);
    }

    /// Calls transform `i` with no borrow of the state held (the plugin calls
    /// back into it), then books the outcome. `now` is a coarse clock
    /// reading taken moments ago; returns the one taken after the call.
    fn deliver(&mut self, i: usize, event: u32, vio: u64, now: u64) -> u64 {
        {
            let st = &mut *self.shared.state.borrow_mut();
            st.current = Some(i);
            st.entered_closed = st.vconns[i].closed != closed::OPEN;
        }
        let (status, now) = self.instances[i].call_at(self.shared.ctx(), event, vio, now);
        let closed_now = {
            let st = &mut *self.shared.state.borrow_mut();
            st.current = None;
            st.pinned.clear();
            if status != STATUS_OK {
                let plugin = self.instances[i].plugin();
                let what = if status == STATUS_PANIC {
                    match plugin.count_panic("a transform event") {
                        Some(msg) => format!("panicked handling event {event}: {msg}"),
                        None => format!("panicked handling event {event}"),
                    }
                } else {
                    plugin.stats().protocol_errors.fetch_add(1, Ordering::Relaxed);
                    format!("refused event {event} (status {status})")
                };
                st.set_fault(Fault { plugin: plugin.name().to_string(), what });
            }
            let closed_now = st.vconns[i].closed != closed::OPEN && !st.vconns[i].gone;
            if closed_now {
                st.vconns[i].gone = true;
            }
            closed_now
        };
        if closed_now {
            // It has seen its closed flag: nothing more will be sent to it.
            self.instances[i].destroy();
        }
        now
    }

    /// `None`: the last transform has not written to the terminating vconn
    /// yet; `Some(n)`: it has, announcing nbytes `n` (`None` = unknown).
    pub fn output_started(&self) -> Option<Option<u64>> {
        let st = self.shared.state.borrow();
        st.announced.map(|n| if n == UNKNOWN { None } else { u64::try_from(n).ok() })
    }

    /// Bytes the terminating transform could take now (ignoring downstream space).
    #[cfg(test)]
    pub fn output_avail(&self) -> usize {
        let st = self.shared.state.borrow();
        let t = st.terminus();
        st.live_reader(t).map_or(0, |r| {
            let w = &st.vconns[t].write;
            (st.avail(r).min((w.nbytes - w.ndone).max(0) as u64)) as usize
        })
    }

    /// The terminating transform consumes up to `max` bytes (and no more than
    /// the downstream space), advancing its VIO and sending the last
    /// transform `WRITE_READY` or `WRITE_COMPLETE`. Call [`Chain::run`] after.
    /// The blocks come out of storage the chain keeps, so taking allocates nothing.
    pub fn take_output(&mut self, max: usize) -> std::vec::Drain<'_, Bytes> {
        self.out.clear();
        self.take_output_into(max);
        self.out.drain(..)
    }

    fn take_output_into(&mut self, max: usize) {
        let st = &mut *self.shared.state.borrow_mut();
        let t = st.terminus();
        if st.fault.is_some() {
            return;
        }
        st.check_overrun();
        let Some(r) = st.live_reader(t) else {
            return;
        };
        let w = &st.vconns[t].write;
        let ntodo = (w.nbytes - w.ndone).max(0) as u64;
        let n = ntodo.min(st.avail(r)).min(max as u64).min(self.downstream_space as u64);
        let taken = st.take_into(r, n, &mut self.out);
        st.vconns[t].write.ndone += taken as i64;
        if self.downstream_space != usize::MAX {
            self.downstream_space -= taken as usize;
        }
        let w = &st.vconns[t].write;
        let target = w.cont.map_or(Target::Host, Target::VConn);
        if w.nbytes - w.ndone > 0 {
            if taken > 0 {
                st.push(target, event_code::VCONN_WRITE_READY, st.vio_handle(t));
            }
        } else if !st.vconns[t].complete_sent {
            st.vconns[t].complete_sent = true;
            st.push(target, event_code::VCONN_WRITE_COMPLETE, st.vio_handle(t));
        }
    }

    /// The terminating VIO is complete: every announced byte was taken.
    pub fn output_done(&self) -> bool {
        self.shared.state.borrow().output_done()
    }

    /// The message a transform put in place of this chain's, once: the
    /// caller sends it instead and drops the chain.
    pub fn take_replacement(&mut self) -> Option<Replacement> {
        self.shared.state.borrow_mut().replacement.take()
    }

    /// A plugin panicked or broke the protocol; the caller aborts the transaction.
    pub fn fault(&self) -> Option<Fault> {
        self.shared.state.borrow().fault.clone()
    }

    /// Called when the transaction has made no progress for the inactivity
    /// timeout: names the transform holding the chain up, if one is, and
    /// counts a protocol error against it. A transform is to blame when it
    /// keeps rescheduling itself without moving a byte, when input waits in
    /// its buffer unconsumed, or when the upstream has ended and its output
    /// is still unfinished.
    pub fn charge_stall(&self) -> Option<Fault> {
        let st = self.shared.state.borrow();
        // Spinning right now: the transform rescheduling itself is why nothing moved.
        if let Some(busy) = &self.busy.since {
            let (since, _, counts) = &**busy;
            let culprit = counts.iter().enumerate().max_by_key(|(_, c)| **c).map_or(0, |(i, _)| i);
            let plugin = &st.plugins[culprit];
            plugin.stats().protocol_errors.fetch_add(1, Ordering::Relaxed);
            let what = format!(
                "kept rescheduling itself for {} ms without moving a byte (inactivity timeout)",
                since.elapsed().as_millis()
            );
            return Some(Fault { plugin: plugin.name().to_string(), what });
        }
        let t = st.terminus();
        let waiting = (0..t).find(|&i| st.live_reader(i).is_some_and(|r| st.avail(r) > 0));
        let unfinished = || {
            (0..t).find(|&i| {
                let w = &st.vconns[i + 1].write;
                !w.started || w.nbytes == UNKNOWN || w.ndone < w.nbytes
            })
        };
        let culprit = waiting.or_else(|| if self.input_ended { unfinished() } else { None })?;
        let plugin = &st.plugins[culprit];
        plugin.stats().protocol_errors.fetch_add(1, Ordering::Relaxed);
        Some(Fault { plugin: plugin.name().to_string(), what: "stopped making progress (inactivity timeout)".into() })
    }

    /// How much the client side can take now; the terminating transform
    /// stops consuming at 0. Unlimited until first set.
    pub fn set_downstream_space(&mut self, n: usize) {
        self.downstream_space = n;
    }
}

/// [`Chain::input_space`] of a chain whose input reader is `reader`.
fn input_space(st: &super::state::State, reader: Option<usize>, ended: bool) -> usize {
    let Some(r) = reader else { return 0 };
    if ended || st.fault.is_some() {
        return 0;
    }
    if (1..=st.terminus()).any(|k| st.input_over_mark(k)) {
        return 0;
    }
    (st.water_mark_of_reader(r).saturating_sub(st.avail(r))) as usize
}

impl Drop for Chain {
    fn drop(&mut self) {
        let faulted = {
            let st = &mut *self.shared.state.borrow_mut();
            // A replaced message ended its chain as it should: not an abort.
            let done = st.output_done() || st.vconns.iter().all(|v| v.closed == closed::CLOSED);
            // A chain that never started (a response without a body) had nothing to abort.
            let aborted = !done && self.input_reader.is_some();
            let how = if aborted { closed::ABORTED } else { closed::CLOSED };
            for i in 0..self.instances.len() {
                let m = self.instances[i].plugin().stats();
                m.bytes_in.fetch_add(st.vconns[i].write.ndone.max(0) as u64, Ordering::Relaxed);
                m.bytes_out.fetch_add(st.vconns[i + 1].write.ndone.max(0) as u64, Ordering::Relaxed);
                if aborted {
                    m.aborts.fetch_add(1, Ordering::Relaxed);
                }
                if st.vconns[i].closed == closed::OPEN {
                    st.vconns[i].closed = how;
                }
            }
            st.queue.clear();
            st.fault.is_some()
        };
        // Let each transform see its closed flag, as the protocol promises,
        // unless the chain faulted (a poisoned instance is not called again).
        let mut now = 0;
        for i in 0..self.instances.len() {
            if !faulted && !self.shared.state.borrow().vconns[i].gone {
                if now == 0 {
                    now = crate::clock::coarse_ns();
                }
                now = self.deliver(i, event_code::IMMEDIATE, 0, now);
            }
            self.instances[i].destroy();
        }
        self.out.clear();
        self.shared.state.borrow_mut().out_spare = std::mem::take(&mut self.out);
        super::pool::give_back_list(std::mem::take(&mut self.instances));
        // SAFETY: taken once, here, and never used again.
        super::pool::give_back(unsafe { ManuallyDrop::take(&mut self.shared) });
    }
}
