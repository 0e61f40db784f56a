//! The state of one chain behind the host functions: vconnections (the
//! transforms, then the terminating transform), their write VIOs, IO buffers,
//! readers, and the event queue.
//!
//! Handles given to plugins are `kind << 56 | (index + 1)`; slots are never
//! reused within a chain, so a stale handle finds an empty slot and becomes a
//! protocol error instead of touching the wrong object. Every rule a plugin
//! can break is checked here and recorded as the chain's [`Fault`].

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use plugin_sdk::ffi::{event_code, Handle};

use super::buffer::IoBuffer;
use super::Fault;
use crate::plugins::module::Module;

const KIND_VCONN: u64 = 1;
const KIND_VIO: u64 = 2;
const KIND_BUFFER: u64 = 3;
const KIND_READER: u64 = 4;

/// `nbytes` of an operation of unknown length.
pub(super) const UNKNOWN: i64 = i64::MAX;

pub(super) fn handle(kind: u64, index: usize) -> Handle {
    (kind << 56) | (index as u64 + 1)
}

fn index_of(kind: u64, h: Handle) -> Option<usize> {
    (h >> 56 == kind && h & 0x00ff_ffff_ffff_ffff != 0)
        .then(|| (h & 0x00ff_ffff_ffff_ffff) as usize - 1)
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
struct BufferSlot {
    buf: IoBuffer,
    readers: Vec<usize>,
}

#[derive(Debug)]
struct ReaderState {
    buffer: usize,
    pos: u64,
}

/// See the module docs.
pub(super) struct State {
    pub vconns: Vec<VConnState>,
    buffers: Vec<Option<BufferSlot>>,
    readers: Vec<Option<ReaderState>>,
    pub queue: VecDeque<Pending>,
    /// The transform whose callback is running.
    pub current: Option<usize>,
    /// Blocks lent to the running callback (`reader_block`).
    pub pinned: Vec<Bytes>,
    pub fault: Option<Fault>,
    pub modules: Vec<Arc<Module>>,
    pub water_mark: usize,
    /// The terminus output length as announced when the last transform started writing.
    pub announced: Option<i64>,
}

impl State {
    pub fn new(modules: Vec<Arc<Module>>, water_mark: usize) -> Self {
        let vconns = (0..=modules.len()).map(|_| VConnState::default()).collect();
        State {
            vconns,
            buffers: Vec::new(),
            readers: Vec::new(),
            queue: VecDeque::new(),
            current: None,
            pinned: Vec::new(),
            fault: None,
            modules,
            water_mark,
            announced: None,
        }
    }

    pub fn terminus(&self) -> usize {
        self.modules.len()
    }

    // ----- faults -----

    /// Records a broken rule against the running transform (first fault wins).
    pub fn violation(&mut self, what: impl Into<String>) {
        let plugin = match self.current.and_then(|i| self.modules.get(i)) {
            Some(m) => {
                m.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                m.name().to_string()
            }
            None => "host".to_string(),
        };
        self.set_fault(Fault {
            plugin,
            what: what.into(),
        });
    }

    pub fn set_fault(&mut self, fault: Fault) {
        if self.fault.is_none() {
            tracing::warn!(plugin = %fault.plugin, "transform chain fault: {}", fault.what);
            self.fault = Some(fault);
        }
    }

    fn caller(&mut self) -> Option<usize> {
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
        self.buffers.push(Some(BufferSlot {
            buf: IoBuffer::new(self.water_mark),
            readers: Vec::new(),
        }));
        self.buffers.len() - 1
    }

    pub fn new_reader(&mut self, buffer: usize) -> Option<usize> {
        let slot = self.buffers.get_mut(buffer)?.as_mut()?;
        let pos = slot.buf.start();
        slot.readers.push(self.readers.len());
        self.readers.push(Some(ReaderState { buffer, pos }));
        Some(self.readers.len() - 1)
    }

    fn buffer_idx(&mut self, h: Handle) -> Option<usize> {
        let i = index_of(KIND_BUFFER, h).filter(|i| matches!(self.buffers.get(*i), Some(Some(_))));
        if i.is_none() {
            self.violation(format!("used an invalid IO buffer handle {h:#x}"));
        }
        i
    }

    fn reader_idx(&mut self, h: Handle) -> Option<usize> {
        let i = index_of(KIND_READER, h).filter(|i| self.reader_ok(*i));
        if i.is_none() {
            self.violation(format!("used an invalid reader handle {h:#x}"));
        }
        i
    }

    fn reader_ok(&self, r: usize) -> bool {
        matches!(self.readers.get(r), Some(Some(rs)) if matches!(self.buffers.get(rs.buffer), Some(Some(_))))
    }

    /// (buffer index, position) of a live reader.
    fn reader_at(&self, r: usize) -> Option<(usize, u64)> {
        let rs = self.readers.get(r)?.as_ref()?;
        self.buffers.get(rs.buffer)?.as_ref()?;
        Some((rs.buffer, rs.pos))
    }

    pub fn buffer_of_reader(&self, r: usize) -> Option<usize> {
        self.reader_at(r).map(|(b, _)| b)
    }

    pub fn avail(&self, r: usize) -> u64 {
        match self.reader_at(r) {
            Some((b, pos)) => self.buffers[b]
                .as_ref()
                .map_or(0, |s| s.buf.avail_from(pos)),
            None => 0,
        }
    }

    pub fn append(&mut self, buffer: usize, data: Bytes) {
        if let Some(Some(slot)) = self.buffers.get_mut(buffer) {
            slot.buf.append(data);
            if slot.readers.is_empty() {
                // Nobody can ever read these bytes: do not hold them.
                slot.buf.clear();
            }
        }
    }

    /// Takes up to `n` bytes from reader `r` as shared blocks and consumes them.
    pub fn take(&mut self, r: usize, n: u64) -> Vec<Bytes> {
        let Some((b, pos)) = self.reader_at(r) else {
            return Vec::new();
        };
        let out = self.buffers[b]
            .as_ref()
            .map_or_else(Vec::new, |s| s.buf.slices_from(pos, n));
        let taken: u64 = out.iter().map(|s| s.len() as u64).sum();
        self.consume(r, taken);
        out
    }

    pub fn consume(&mut self, r: usize, n: u64) {
        let Some((b, _)) = self.reader_at(r) else {
            return;
        };
        if let Some(Some(rs)) = self.readers.get_mut(r) {
            rs.pos += n;
        }
        self.trim(b);
    }

    fn trim(&mut self, b: usize) {
        let Some(Some(slot)) = self.buffers.get(b) else {
            return;
        };
        let min = slot
            .readers
            .iter()
            .filter_map(|r| self.readers[*r].as_ref().map(|rs| rs.pos))
            .min();
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
            Some((b, _)) => self.buffers[b]
                .as_ref()
                .is_some_and(|s| self.avail(w.reader) > s.buf.water_mark as u64),
            None => false,
        }
    }

    pub fn water_mark_of_reader(&self, r: usize) -> u64 {
        self.reader_at(r)
            .and_then(|(b, _)| self.buffers[b].as_ref())
            .map_or(0, |s| s.buf.water_mark as u64)
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

    // ----- host functions (IO), called through host_fns -----

    pub fn transform_self(&mut self) -> Handle {
        self.caller().map_or(0, |c| handle(KIND_VCONN, c))
    }

    pub fn transform_output(&mut self) -> Handle {
        self.caller().map_or(0, |c| handle(KIND_VCONN, c + 1))
    }

    fn vconn_idx(&mut self, h: Handle) -> Option<usize> {
        let i = index_of(KIND_VCONN, h).filter(|i| *i < self.vconns.len());
        if i.is_none() {
            self.violation(format!("used an invalid vconnection handle {h:#x}"));
        }
        i
    }

    /// The caller's output vconnection, if `h` names it.
    fn own_output(&mut self, h: Handle, what: &str) -> Option<usize> {
        let c = self.caller()?;
        let vc = self.vconn_idx(h)?;
        if vc != c + 1 {
            self.violation(format!(
                "tried to {what} a vconnection other than its output"
            ));
            return None;
        }
        Some(vc)
    }

    pub fn vconn_write(&mut self, vc: Handle, reader: Handle, nbytes: i64) -> Handle {
        let Some(vc) = self.own_output(vc, "write") else {
            return 0;
        };
        let Some(r) = self.reader_idx(reader) else {
            return 0;
        };
        if nbytes < 0 {
            self.violation(format!("started a write of {nbytes} bytes"));
            return 0;
        }
        if self.vconns[vc].write.started {
            self.violation("started a second write on its output vconnection");
            return 0;
        }
        self.vconns[vc].write = WriteVio {
            started: true,
            shut: false,
            cont: self.current,
            nbytes,
            ndone: 0,
            reader: r,
        };
        if vc == self.terminus() {
            self.announced = Some(nbytes);
        }
        self.schedule_immediate(vc);
        handle(KIND_VIO, vc)
    }

    /// Closes `vc` and everything after it.
    pub fn vconn_close(&mut self, vc: Handle, how: i32) -> i32 {
        let Some(first) = self.own_output(vc, "close") else {
            return 1;
        };
        for k in first..self.vconns.len() {
            if self.vconns[k].closed == 0 {
                self.vconns[k].closed = how;
                self.schedule_immediate(k);
            }
        }
        let t = self.terminus();
        if how != 1 {
            self.violation("aborted its output vconnection");
        } else if first == t {
            // Closing the terminus normally ends the output with what it holds.
            if let Some(r) = self.live_reader(t) {
                let rest = self.avail(r) as i64;
                let w = &mut self.vconns[t].write;
                w.nbytes = w.ndone + rest;
            }
        } else if !self.output_done() {
            self.violation("closed its output vconnection before the end of the body");
        }
        0
    }

    pub fn vconn_shutdown(&mut self, vc: Handle, write: bool) -> i32 {
        let Some(vc) = self.own_output(vc, "shut down") else {
            return 1;
        };
        if !write {
            return 0;
        }
        let w = &self.vconns[vc].write;
        if w.started && !w.shut && w.nbytes - w.ndone > 0 {
            self.violation("shut down its output before the output took all its bytes");
        }
        self.vconns[vc].write.shut = true;
        0
    }

    pub fn vconn_closed(&mut self, vc: Handle) -> i32 {
        self.vconn_idx(vc).map_or(0, |i| self.vconns[i].closed)
    }

    pub fn vconn_write_vio(&mut self, vc: Handle) -> Handle {
        match self.vconn_idx(vc) {
            Some(i) if self.vconns[i].write.started => handle(KIND_VIO, i),
            _ => 0,
        }
    }

    fn vio_idx(&mut self, h: Handle) -> Option<usize> {
        let i =
            index_of(KIND_VIO, h).filter(|i| self.vconns.get(*i).is_some_and(|v| v.write.started));
        if i.is_none() {
            self.violation(format!("used an invalid VIO handle {h:#x}"));
        }
        i
    }

    pub fn vio_buffer(&mut self, vio: Handle) -> Handle {
        let Some(v) = self.vio_idx(vio) else { return 0 };
        self.live_reader(v)
            .and_then(|r| self.buffer_of_reader(r))
            .map_or(0, |b| handle(KIND_BUFFER, b))
    }

    pub fn vio_reader(&mut self, vio: Handle) -> Handle {
        let Some(v) = self.vio_idx(vio) else { return 0 };
        self.live_reader(v).map_or(0, |r| handle(KIND_READER, r))
    }

    pub fn vio_vconn(&mut self, vio: Handle) -> Handle {
        self.vio_idx(vio).map_or(0, |v| handle(KIND_VCONN, v))
    }

    pub fn vio_cont(&mut self, vio: Handle) -> Handle {
        self.vio_idx(vio)
            .and_then(|v| self.vconns[v].write.cont)
            .map_or(0, |c| handle(KIND_VCONN, c))
    }

    pub fn vio_nbytes(&mut self, vio: Handle) -> i64 {
        self.vio_idx(vio).map_or(0, |v| self.vconns[v].write.nbytes)
    }

    pub fn vio_ndone(&mut self, vio: Handle) -> i64 {
        self.vio_idx(vio).map_or(0, |v| self.vconns[v].write.ndone)
    }

    pub fn vio_ntodo(&mut self, vio: Handle) -> i64 {
        self.vio_idx(vio).map_or(0, |v| {
            let w = &self.vconns[v].write;
            w.nbytes - w.ndone
        })
    }

    pub fn vio_set_nbytes(&mut self, vio: Handle, nbytes: i64) -> i32 {
        let Some(v) = self.vio_idx(vio) else { return 1 };
        let w = &self.vconns[v].write;
        if nbytes < w.ndone {
            self.violation(format!("set nbytes to {nbytes}, below ndone {}", w.ndone));
            return 1;
        }
        if v == self.terminus() && w.nbytes != UNKNOWN && nbytes != w.nbytes {
            // The client may already have been promised this length.
            self.violation(format!(
                "changed its announced output length from {} to {nbytes}",
                w.nbytes
            ));
            return 1;
        }
        self.vconns[v].write.nbytes = nbytes;
        0
    }

    pub fn vio_set_ndone(&mut self, vio: Handle, ndone: i64) -> i32 {
        let Some(v) = self.vio_idx(vio) else { return 1 };
        if self.current != Some(v) {
            self.violation("set ndone on a VIO it does not implement");
            return 1;
        }
        let w = &self.vconns[v].write;
        if ndone < 0 || ndone > w.nbytes {
            self.violation(format!("set ndone to {ndone}, outside 0..={}", w.nbytes));
            return 1;
        }
        self.vconns[v].write.ndone = ndone;
        0
    }

    pub fn vio_reenable(&mut self, vio: Handle) -> i32 {
        let Some(v) = self.vio_idx(vio) else { return 1 };
        self.schedule_immediate(v);
        0
    }

    pub fn vio_cont_call(&mut self, vio: Handle, event: u32) -> i32 {
        let Some(v) = self.vio_idx(vio) else { return 1 };
        if self.current != Some(v) {
            self.violation("called back the continuation of a VIO it does not implement");
            return 1;
        }
        let w = &self.vconns[v].write;
        let known = [
            event_code::IMMEDIATE,
            event_code::ERROR,
            event_code::VCONN_WRITE_READY,
            event_code::VCONN_WRITE_COMPLETE,
            event_code::VCONN_EOS,
        ];
        if !known.contains(&event) {
            self.violation(format!("sent event {event}, which a writer cannot receive"));
            return 1;
        }
        if event == event_code::VCONN_WRITE_COMPLETE && w.nbytes - w.ndone > 0 {
            self.violation("sent WRITE_COMPLETE with bytes still to do (ntodo > 0)");
            return 1;
        }
        let target = w.cont.map_or(Target::Host, Target::VConn);
        self.push(target, event, vio);
        0
    }

    pub fn buffer_create(&mut self) -> Handle {
        if self.caller().is_none() {
            return 0;
        }
        handle(KIND_BUFFER, self.new_buffer())
    }

    pub fn buffer_destroy(&mut self, b: Handle) -> i32 {
        let Some(b) = self.buffer_idx(b) else {
            return 1;
        };
        if let Some(slot) = self.buffers[b].take() {
            for r in slot.readers {
                self.readers[r] = None;
            }
        }
        0
    }

    pub fn water_mark(&mut self, b: Handle) -> i64 {
        self.buffer_idx(b)
            .and_then(|b| self.buffers[b].as_ref())
            .map_or(0, |s| s.buf.water_mark as i64)
    }

    pub fn set_water_mark(&mut self, b: Handle, mark: i64) -> i32 {
        let Some(b) = self.buffer_idx(b) else {
            return 1;
        };
        if let Some(Some(slot)) = self.buffers.get_mut(b) {
            slot.buf.water_mark = usize::try_from(mark).unwrap_or(0);
        }
        0
    }

    pub fn append_handle(&mut self, b: Handle, data: Bytes) -> i32 {
        let Some(b) = self.buffer_idx(b) else {
            return 1;
        };
        self.append(b, data);
        0
    }

    pub fn buffer_copy(&mut self, dst: Handle, reader: Handle, n: i64, offset: i64) -> i64 {
        let (Some(d), Some(r)) = (self.buffer_idx(dst), self.reader_idx(reader)) else {
            return 0;
        };
        if n < 0 || offset < 0 {
            self.violation(format!("copied {n} bytes at offset {offset}"));
            return 0;
        }
        let Some((b, pos)) = self.reader_at(r) else {
            return 0;
        };
        let (n, offset) = (n as u64, offset as u64);
        let avail = self.avail(r);
        if offset.saturating_add(n) > avail {
            self.violation(format!(
                "copied {n} bytes at offset {offset} from a reader with {avail} available"
            ));
            return 0;
        }
        let slices = self.buffers[b]
            .as_ref()
            .map_or_else(Vec::new, |s| s.buf.slices_from(pos + offset, n));
        let mut copied = 0i64;
        for s in slices {
            copied += s.len() as i64;
            self.append(d, s);
        }
        copied
    }

    pub fn reader_alloc(&mut self, b: Handle) -> Handle {
        let Some(b) = self.buffer_idx(b) else {
            return 0;
        };
        self.new_reader(b).map_or(0, |r| handle(KIND_READER, r))
    }

    pub fn reader_free(&mut self, r: Handle) -> i32 {
        let Some(r) = self.reader_idx(r) else {
            return 1;
        };
        let b = self.buffer_of_reader(r);
        self.readers[r] = None;
        if let Some(b) = b {
            if let Some(Some(slot)) = self.buffers.get_mut(b) {
                slot.readers.retain(|x| *x != r);
            }
            self.trim(b);
        }
        0
    }

    pub fn reader_avail(&mut self, r: Handle) -> i64 {
        self.reader_idx(r).map_or(0, |r| self.avail(r) as i64)
    }

    pub fn reader_block(&mut self, r: Handle, index: usize) -> Option<Bytes> {
        let r = self.reader_idx(r)?;
        let (b, pos) = self.reader_at(r)?;
        let block = self.buffers[b].as_ref()?.buf.block_from(pos, index)?;
        self.pinned.push(block.clone());
        Some(block)
    }

    pub fn reader_consume(&mut self, r: Handle, n: i64) -> i32 {
        let Some(r) = self.reader_idx(r) else {
            return 1;
        };
        let avail = self.avail(r);
        if n < 0 || n as u64 > avail {
            self.violation(format!(
                "consumed {n} bytes from a reader with {avail} available"
            ));
            return 1;
        }
        self.consume(r, n as u64);
        0
    }
}

/// The handle of vconn `vc`'s write VIO.
pub(super) fn handle_vio(vc: usize) -> Handle {
    handle(KIND_VIO, vc)
}
