//! The state of one chain behind the host functions: vconnections (the
//! transforms, then the terminating transform), their write VIOs, IO buffers,
//! readers, and the event queue.
//!
//! Handles given to plugins are `kind << 56 | serial << 24 | (index + 1)`:
//! `serial` names the chain (a process-wide counter, so no two live chains
//! share one) and `index` its slot, never reused within the chain. A handle
//! kept from another transaction, or past its chain's end, carries another
//! serial and is refused as a protocol error naming the plugin, on every
//! call that takes one; a stale handle within the chain finds an empty slot.
//! Every rule a plugin can break is checked here and recorded as the
//! chain's [`Fault`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use plugin_sdk::ffi::{closed, event_code, Handle};

use super::buffer::IoBuffer;
use super::plugin::PluginRef;
use super::Fault;

pub(super) const KIND_VCONN: u64 = 1;
pub(super) const KIND_VIO: u64 = 2;
pub(super) const KIND_BUFFER: u64 = 3;
pub(super) const KIND_READER: u64 = 4;

/// `nbytes` of an operation of unknown length.
pub(super) const UNKNOWN: i64 = i64::MAX;

/// Bits of a handle below the serial: the slot index + 1.
const SERIAL_SHIFT: u32 = 24;
const INDEX_MASK: u64 = (1 << SERIAL_SHIFT) - 1;
/// Slots of one kind a chain may create (the index must fit its bits).
pub(super) const MAX_SLOTS: usize = INDEX_MASK as usize - 1;

/// The next chain's serial; 0 is never used, so no handle of a live chain is 0.
static NEXT_SERIAL: AtomicU32 = AtomicU32::new(1);

fn next_serial() -> u32 {
    loop {
        let s = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
        if s != 0 {
            return s;
        }
    }
}

/// (bare name, with article) of a handle kind, for messages.
fn noun(kind: u64) -> (&'static str, &'static str) {
    match kind {
        KIND_VCONN => ("vconnection", "a vconnection"),
        KIND_VIO => ("VIO", "a VIO"),
        KIND_BUFFER => ("IO buffer", "an IO buffer"),
        _ => ("reader", "a reader"),
    }
}

/// Who an event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// The host, as the writer into the first transform.
    Host,
    /// A transform (index) or the terminus (index == transform count).
    VConn(usize),
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Pending {
    pub target: Target,
    pub event: u32,
    pub vio: Handle,
}

/// A write operation into a vconnection.
#[derive(Debug, Default)]
pub(super) struct WriteVio {
    /// Started (`write` was called), even if later shut down.
    pub started: bool,
    /// Shut down: no buffer, no more events about it.
    pub shut: bool,
    /// The writer: `None` = the host.
    pub cont: Option<usize>,
    pub nbytes: i64,
    pub ndone: i64,
    pub reader: usize,
}

#[derive(Debug, Default)]
pub(super) struct VConnState {
    /// 0 open, 1 closed, 2 aborted (`plugin_sdk::ffi::closed`).
    pub closed: i32,
    pub write: WriteVio,
    /// An `Immediate` is already queued: reenables coalesce.
    pub immediate_queued: bool,
    /// An event held back because the output buffer is above its water mark.
    pub deferred: Option<(u32, Handle)>,
    /// Terminus only: WRITE_COMPLETE was sent.
    pub complete_sent: bool,
    /// Transform only: destroyed; events to it are dropped.
    pub gone: bool,
}

#[derive(Debug)]
pub(super) struct BufferSlot {
    pub buf: IoBuffer,
    pub readers: Vec<usize>,
    /// The transform that created it (`None`: the host); only it may destroy it.
    pub owner: Option<usize>,
}

#[derive(Debug)]
pub(super) struct ReaderState {
    pub buffer: usize,
    pub pos: u64,
}

/// See the module docs.
pub(super) struct State {
    pub vconns: Vec<VConnState>,
    pub buffers: Vec<Option<BufferSlot>>,
    pub readers: Vec<Option<ReaderState>>,
    pub queue: VecDeque<Pending>,
    /// The transform whose callback is running.
    pub current: Option<usize>,
    /// Blocks lent to the running callback (`reader_block`).
    pub pinned: Vec<Bytes>,
    pub fault: Option<Fault>,
    pub plugins: Vec<PluginRef>,
    pub water_mark: usize,
    /// The terminus output length as announced when the last transform started writing.
    pub announced: Option<i64>,
    /// The message a transform put in place of this chain's, if any.
    pub replacement: Option<super::Replacement>,
    /// This chain's serial, carried in every handle it gives out.
    pub serial: u32,
    /// Bytes appended or consumed so far: how the busy-loop check sees movement.
    pub moved: u64,
    /// The running transform was already closed when its callback began.
    pub entered_closed: bool,
    /// Storage of destroyed buffers, reused by the next ones (see [`super::pool`]).
    spare: Spare,
    /// Empty between calls: the blocks one `buffer_copy` moves.
    pub scratch: Vec<Bytes>,
    /// Events per transform in the current [`super::Chain::run`], one per
    /// plugin: pooled with the state so a chain does not allocate it.
    pub run_counts: Vec<u64>,
    /// Empty storage for the blocks a chain hands out, lent to the chain
    /// while it lives (see [`super::Chain::take_output`]).
    pub out_spare: Vec<Bytes>,
}

/// Empty allocations of destroyed buffers, kept for the next ones.
#[derive(Default)]
struct Spare {
    blocks: Vec<VecDeque<Bytes>>,
    readers: Vec<Vec<usize>>,
}

/// Spare buffer storage a state keeps at most; more is freed.
const MAX_SPARE_BUFFERS: usize = 16;
/// Slots of a kind past which a state is not worth keeping for reuse.
const MAX_POOLED_SLOTS: usize = 64;

impl State {
    pub fn new(plugins: Vec<PluginRef>, water_mark: usize) -> Self {
        let vconns = (0..=plugins.len()).map(|_| VConnState::default()).collect();
        let plugins_len = plugins.len();
        State {
            vconns,
            buffers: Vec::new(),
            readers: Vec::new(),
            queue: VecDeque::new(),
            current: None,
            pinned: Vec::new(),
            fault: None,
            plugins,
            water_mark,
            announced: None,
            replacement: None,
            serial: next_serial(),
            moved: 0,
            entered_closed: false,
            spare: Spare::default(),
            scratch: Vec::new(),
            run_counts: vec![0; plugins_len],
            out_spare: Vec::new(),
        }
    }

    /// Makes a state emptied by [`State::clear`] as good as new for a chain
    /// of `plugins`, with a fresh serial (so no handle of its last chain works).
    pub fn reuse(&mut self, plugins: impl Iterator<Item = PluginRef>, water_mark: usize) {
        debug_assert!(self.plugins.is_empty() && self.buffers.is_empty(), "reuse after clear");
        self.plugins.extend(plugins);
        self.vconns.resize_with(self.plugins.len() + 1, VConnState::default);
        self.run_counts.clear();
        self.run_counts.resize(self.plugins.len(), 0);
        self.water_mark = water_mark;
        self.serial = next_serial();
    }

    /// Drops everything the chain held (blocks, plugins, fault), keeping
    /// the allocations; says whether the state is small enough to keep.
    pub fn clear(&mut self) -> bool {
        self.vconns.clear();
        for slot in self.buffers.drain(..).flatten() {
            Self::stash(&mut self.spare, slot);
        }
        self.readers.clear();
        self.queue.clear();
        self.current = None;
        self.pinned.clear();
        self.fault = None;
        self.plugins.clear();
        self.announced = None;
        self.replacement = None;
        self.moved = 0;
        self.entered_closed = false;
        self.buffers.capacity() <= MAX_POOLED_SLOTS
            && self.readers.capacity() <= MAX_POOLED_SLOTS
            && self.queue.capacity() <= MAX_POOLED_SLOTS
            && self.pinned.capacity() <= MAX_POOLED_SLOTS
            && self.out_spare.capacity() <= MAX_POOLED_SLOTS
    }

    /// Destroys a buffer, keeping its empty storage for the next one.
    pub fn free_buffer(&mut self, slot: BufferSlot) {
        Self::stash(&mut self.spare, slot);
    }

    fn stash(spare: &mut Spare, slot: BufferSlot) {
        let BufferSlot { buf, mut readers, .. } = slot;
        let blocks = buf.into_storage();
        if spare.blocks.len() < MAX_SPARE_BUFFERS && blocks.capacity() <= MAX_POOLED_SLOTS {
            spare.blocks.push(blocks);
        }
        if spare.readers.len() < MAX_SPARE_BUFFERS && readers.capacity() <= MAX_POOLED_SLOTS {
            readers.clear();
            spare.readers.push(readers);
        }
    }

    /// The handle of slot `index` of `kind` in this chain.
    pub fn handle(&self, kind: u64, index: usize) -> Handle {
        (kind << 56) | (u64::from(self.serial) << SERIAL_SHIFT) | (index as u64 + 1)
    }

    /// The handle of vconn `vc`'s write VIO.
    pub fn vio_handle(&self, vc: usize) -> Handle {
        self.handle(KIND_VIO, vc)
    }

    /// The slot `h` names if it is a `kind` handle of this chain; anything
    /// else is a violation saying which (a handle of another chain is named
    /// as such, not as garbage). Whether the slot is live is the caller's check.
    #[inline]
    pub fn index_of(&mut self, kind: u64, h: Handle) -> Option<usize> {
        // Every plugin call checks at least one handle: the good case stays
        // three compares, the messages live out of line.
        if h >> 56 == kind && h & INDEX_MASK != 0 && (h >> SERIAL_SHIFT) as u32 == self.serial {
            return Some((h & INDEX_MASK) as usize - 1);
        }
        self.bad_handle(kind, h);
        None
    }

    #[cold]
    #[inline(never)]
    fn bad_handle(&mut self, kind: u64, h: Handle) {
        let (bare, with_article) = noun(kind);
        if h >> 56 != kind || h & INDEX_MASK == 0 {
            self.violation(format!("used an invalid {bare} handle {h:#x}"));
        } else {
            self.violation(format!(
                "used {with_article} handle ({h:#x}) of another transaction: one kept from an earlier \
                 transaction or past its transform's close"
            ));
        }
    }

    pub fn terminus(&self) -> usize {
        self.plugins.len()
    }

    // ----- faults -----

    /// Records a broken rule against the running transform (first fault wins,
    /// and only it is counted: one fault per chain, however many calls broke rules).
    pub fn violation(&mut self, what: impl Into<String>) {
        let plugin = match self.current.and_then(|i| self.plugins.get(i)) {
            Some(m) => {
                if self.fault.is_none() {
                    m.stats().protocol_errors.fetch_add(1, Ordering::Relaxed);
                }
                m.name().to_string()
            }
            None => "host".to_string(),
        };
        self.set_fault(Fault { plugin, what: what.into() });
    }

    pub fn set_fault(&mut self, fault: Fault) {
        if self.fault.is_none() {
            tracing::warn!(plugin = %fault.plugin, "transform chain fault: {}", fault.what);
            self.fault = Some(fault);
        }
    }

    pub fn caller(&mut self) -> Option<usize> {
        if self.current.is_none() {
            self.violation("called an IO function outside a transform callback");
        }
        self.current
    }

    // ----- events -----

    pub fn push(&mut self, target: Target, event: u32, vio: Handle) {
        if let Target::VConn(i) = target {
            if event == event_code::IMMEDIATE {
                if self.vconns[i].immediate_queued {
                    return;
                }
                self.vconns[i].immediate_queued = true;
            }
        }
        self.queue.push_back(Pending { target, event, vio });
    }

    pub fn schedule_immediate(&mut self, vc: usize) {
        self.push(Target::VConn(vc), event_code::IMMEDIATE, 0);
    }

    // ----- buffers and readers -----

    pub fn new_buffer(&mut self) -> usize {
        let owner = self.current;
        let buf = IoBuffer::with_storage(self.spare.blocks.pop().unwrap_or_default(), self.water_mark);
        let readers = self.spare.readers.pop().unwrap_or_default();
        self.buffers.push(Some(BufferSlot { buf, readers, owner }));
        self.buffers.len() - 1
    }

    pub fn new_reader(&mut self, buffer: usize) -> Option<usize> {
        let slot = self.buffers.get_mut(buffer)?.as_mut()?;
        let pos = slot.buf.start();
        slot.readers.push(self.readers.len());
        self.readers.push(Some(ReaderState { buffer, pos }));
        Some(self.readers.len() - 1)
    }

    pub fn buffer_idx(&mut self, h: Handle) -> Option<usize> {
        let i = self.index_of(KIND_BUFFER, h)?;
        if !matches!(self.buffers.get(i), Some(Some(_))) {
            self.violation(format!("used an IO buffer handle {h:#x} after the buffer was destroyed"));
            return None;
        }
        Some(i)
    }

    pub fn reader_idx(&mut self, h: Handle) -> Option<usize> {
        let i = self.index_of(KIND_READER, h)?;
        if !self.reader_ok(i) {
            self.violation(format!("used a reader handle {h:#x} after the reader (or its buffer) was freed"));
            return None;
        }
        Some(i)
    }

    /// A transform that was closed reading or filling a buffer: it must only
    /// clean up (free its readers and buffers) once it sees its closed flag.
    /// Closed *during* the callback (its own `transform_replace`) it may
    /// finish what it was doing.
    pub fn refuse_after_close(&mut self, what: &str) -> bool {
        let closed = self.current.is_some() && self.entered_closed;
        if closed {
            self.violation(format!("{what} after it was closed"));
        }
        closed
    }

    pub fn reader_ok(&self, r: usize) -> bool {
        matches!(self.readers.get(r), Some(Some(rs)) if matches!(self.buffers.get(rs.buffer), Some(Some(_))))
    }

    /// (buffer index, position) of a live reader.
    pub fn reader_at(&self, r: usize) -> Option<(usize, u64)> {
        let rs = self.readers.get(r)?.as_ref()?;
        self.buffers.get(rs.buffer)?.as_ref()?;
        Some((rs.buffer, rs.pos))
    }

    pub fn buffer_of_reader(&self, r: usize) -> Option<usize> {
        self.reader_at(r).map(|(b, _)| b)
    }

    pub fn avail(&self, r: usize) -> u64 {
        match self.reader_at(r) {
            Some((b, pos)) => self.buffers[b].as_ref().map_or(0, |s| s.buf.avail_from(pos)),
            None => 0,
        }
    }

    pub fn append(&mut self, buffer: usize, data: Bytes) {
        if let Some(Some(slot)) = self.buffers.get_mut(buffer) {
            self.moved += data.len() as u64;
            slot.buf.append(data);
            if slot.readers.is_empty() {
                // Nobody can ever read these bytes: do not hold them.
                slot.buf.clear();
            }
        }
    }

    /// Takes up to `n` bytes from reader `r` as shared blocks and consumes them.
    #[cfg(test)]
    pub fn take(&mut self, r: usize, n: u64) -> Vec<Bytes> {
        let mut out = Vec::new();
        self.take_into(r, n, &mut out);
        out
    }

    /// Takes up to `n` bytes from reader `r` as shared blocks appended to
    /// `out`, and consumes them; returns the bytes taken.
    pub fn take_into(&mut self, r: usize, n: u64, out: &mut Vec<Bytes>) -> u64 {
        let Some((b, pos)) = self.reader_at(r) else {
            return 0;
        };
        let before = out.len();
        if let Some(s) = self.buffers[b].as_ref() {
            s.buf.slices_into(pos, n, out);
        }
        let taken: u64 = out[before..].iter().map(|s| s.len() as u64).sum();
        self.consume(r, taken);
        taken
    }

    pub fn consume(&mut self, r: usize, n: u64) {
        let Some((b, _)) = self.reader_at(r) else {
            return;
        };
        if let Some(Some(rs)) = self.readers.get_mut(r) {
            rs.pos += n;
            self.moved += n;
        }
        self.trim(b);
    }

    pub fn trim(&mut self, b: usize) {
        let Some(Some(slot)) = self.buffers.get(b) else {
            return;
        };
        let min = slot.readers.iter().filter_map(|r| self.readers[*r].as_ref().map(|rs| rs.pos)).min();
        if let Some(Some(slot)) = self.buffers.get_mut(b) {
            match min {
                Some(min) => slot.buf.trim(min),
                None => slot.buf.clear(),
            }
        }
    }

    /// Whether the buffer read by vconn `vc`'s write VIO is above its water mark.
    pub fn input_over_mark(&self, vc: usize) -> bool {
        let w = &self.vconns[vc].write;
        if !w.started || w.shut {
            return false;
        }
        match self.reader_at(w.reader) {
            Some((b, _)) => self.buffers[b].as_ref().is_some_and(|s| self.avail(w.reader) > s.buf.water_mark as u64),
            None => false,
        }
    }

    pub fn water_mark_of_reader(&self, r: usize) -> u64 {
        self.reader_at(r).and_then(|(b, _)| self.buffers[b].as_ref()).map_or(0, |s| s.buf.water_mark as u64)
    }

    /// Live write VIO of `vc` (started, not shut, reader valid).
    pub fn live_reader(&self, vc: usize) -> Option<usize> {
        let w = &self.vconns.get(vc)?.write;
        (w.started && !w.shut && self.reader_ok(w.reader)).then_some(w.reader)
    }

    /// The terminus write is complete: every announced byte was taken.
    pub fn output_done(&self) -> bool {
        let w = &self.vconns[self.terminus()].write;
        w.started && w.nbytes != UNKNOWN && w.ndone == w.nbytes
    }
}

// ----- stalls -----

impl State {
    /// Records a fault if the chain can never move again. Call it whenever
    /// a run of the chain ends with no event queued; `input_open` says the
    /// host may still push input (not ended, and there is space for it). It
    /// is asked last, only when the cheaper checks have not settled it.
    ///
    /// Stuck: nothing queued, no input coming, output not done and nothing
    /// in it for the client to take. Plugins have no timers, so no callback
    /// will ever run again: waiting would hang the transaction. The fault
    /// goes to the transform nearest the output that left work undone.
    pub fn check_stall(&mut self, input_open: impl FnOnce(&State) -> bool) -> bool {
        if self.fault.is_some()
            || !self.queue.is_empty()
            || !self.vconns[0].write.started
            || self.output_done()
            || self.output_takeable() > 0
            // Every transform closed (a replaced message): nothing is owed.
            || self.vconns.iter().all(|v| v.closed != closed::OPEN)
            || input_open(self)
        {
            return false;
        }
        let culprit = (0..self.terminus()).rev().find_map(|k| self.left_work(k).map(|why| (k, why)));
        let (blamed, what) = match culprit {
            Some((k, why)) => (Some(k), why),
            None => match (0..self.terminus()).find(|k| !self.input_done(*k)) {
                Some(k) => (Some(k), "stalled: waiting for input that can never come (nothing left to read)".into()),
                None => (None, "stalled with nothing left to run".into()),
            },
        };
        let running = std::mem::replace(&mut self.current, blamed);
        self.violation(what);
        self.current = running;
        true
    }

    /// Bytes the terminus could hand the client now.
    fn output_takeable(&self) -> u64 {
        let t = self.terminus();
        let w = &self.vconns[t].write;
        self.live_reader(t).map_or(0, |r| self.avail(r).min((w.nbytes - w.ndone).max(0) as u64))
    }

    /// Transform `k`'s input is over: shut down, or every byte done.
    fn input_done(&self, k: usize) -> bool {
        let w = &self.vconns[k].write;
        w.started && (w.shut || w.ndone == w.nbytes)
    }

    /// Why transform `k` is holding the chain up, if it is: input it could
    /// take (its output has room) but did not, or an input that ended
    /// without its output being completed.
    fn left_work(&self, k: usize) -> Option<String> {
        let avail = self.live_reader(k).map_or(0, |r| self.avail(r));
        if avail > 0 && !self.input_over_mark(k + 1) {
            return Some(format!(
                "stalled: left {avail} input bytes unconsumed with nothing scheduled (no reenable, no WRITE_READY)"
            ));
        }
        let out = &self.vconns[k + 1].write;
        let written = out.ndone + self.live_reader(k + 1).map_or(0, |r| self.avail(r) as i64);
        let output_done = out.started && (out.shut || (out.nbytes != UNKNOWN && written >= out.nbytes));
        (self.input_done(k) && !output_done)
            .then(|| "stalled: its input ended but it never completed its output".into())
    }
}

#[cfg(test)]
mod stall_tests {
    use super::*;
    use crate::transform::tests::{null_plugin, serial};

    /// One transform between the host's write of `input` (known length)
    /// and the terminus, its events already delivered and ignored.
    fn one_transform(input: &[u8]) -> State {
        let mut st = State::new(vec![null_plugin()], 16);
        let b = st.new_buffer();
        let r = st.new_reader(b).expect("a fresh buffer takes a reader");
        st.vconns[0].write =
            WriteVio { started: true, shut: false, cont: None, nbytes: input.len() as i64, ndone: 0, reader: r };
        st.append(b, Bytes::copy_from_slice(input));
        st
    }

    /// The transform starts writing `nbytes` into the terminus and passes `n` input bytes.
    fn pass(st: &mut State, nbytes: i64, n: u64) {
        let t = st.terminus();
        if !st.vconns[t].write.started {
            let b = st.new_buffer();
            let r = st.new_reader(b).expect("a fresh buffer takes a reader");
            st.vconns[t].write = WriteVio { started: true, shut: false, cont: Some(0), nbytes, ndone: 0, reader: r };
        }
        let r_in = st.vconns[0].write.reader;
        let data = st.take(r_in, n);
        st.vconns[0].write.ndone += n as i64;
        let b_out = st.buffer_of_reader(st.vconns[t].write.reader).expect("live output buffer");
        for d in data {
            st.append(b_out, d);
        }
    }

    #[test]
    fn unconsumed_input_with_nothing_queued_is_a_stall_charged_to_the_transform() {
        let _g = serial(); // buffers count in the process-wide live counters
        let mut st = one_transform(b"0123456789");
        assert!(!st.check_stall(|_| true), "more input may come: not stuck");
        st.schedule_immediate(0);
        assert!(!st.check_stall(|_| false), "an event is queued: not stuck");
        st.queue.clear();
        let before = st.plugins[0].stats().protocol_errors.load(Ordering::Relaxed);
        assert!(st.check_stall(|_| false));
        let fault = st.fault.clone().expect("a fault");
        assert_eq!(fault.plugin, "plugin-null");
        assert_eq!(
            fault.what,
            "stalled: left 10 input bytes unconsumed with nothing scheduled (no reenable, no WRITE_READY)"
        );
        assert_eq!(st.plugins[0].stats().protocol_errors.load(Ordering::Relaxed), before + 1);
        assert!(!st.check_stall(|_| false), "a faulted chain is not checked again");
    }

    #[test]
    fn output_for_the_client_or_a_finished_body_is_not_a_stall() {
        let _g = serial(); // buffers count in the process-wide live counters
        let mut st = one_transform(b"0123456789");
        pass(&mut st, 10, 10);
        assert!(!st.check_stall(|_| false), "10 bytes wait for the client");
        let r = st.vconns[1].write.reader;
        st.take(r, 10);
        st.vconns[1].write.ndone = 10;
        assert!(st.output_done());
        assert!(!st.check_stall(|_| false));
        assert!(st.fault.is_none());
    }

    #[test]
    fn an_input_that_ended_without_a_completed_output_is_a_stall() {
        let _g = serial(); // buffers count in the process-wide live counters
        let mut st = one_transform(b"abc");
        pass(&mut st, UNKNOWN, 3);
        let r = st.vconns[1].write.reader;
        st.take(r, 3);
        st.vconns[1].write.ndone = 3;
        // Every byte passed and taken, but the output length was never set.
        assert!(st.check_stall(|_| false));
        let fault = st.fault.clone().expect("a fault");
        assert_eq!(fault.what, "stalled: its input ended but it never completed its output");
    }
}
