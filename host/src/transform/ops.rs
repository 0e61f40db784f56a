//! The IO host functions' logic on [`State`]: what each call a plugin makes
//! does, and the protocol rule it checks (a broken rule is a [`State::violation`]
//! and the call returns a neutral value).

use bytes::Bytes;
use plugin_sdk::ffi::{closed, event_code, Handle, STATUS_BAD_ARG, STATUS_ERROR, STATUS_OK, STATUS_TOO_LATE};

use super::state::{State, Target, WriteVio, KIND_BUFFER, KIND_READER, KIND_VCONN, KIND_VIO, MAX_SLOTS, UNKNOWN};

impl State {
    pub fn transform_self(&mut self) -> Handle {
        self.caller().map_or(0, |c| self.handle(KIND_VCONN, c))
    }

    pub fn transform_output(&mut self) -> Handle {
        self.caller().map_or(0, |c| self.handle(KIND_VCONN, c + 1))
    }

    fn vconn_idx(&mut self, h: Handle) -> Option<usize> {
        let i = self.index_of(KIND_VCONN, h)?;
        if i >= self.vconns.len() {
            self.violation(format!("used an invalid vconnection handle {h:#x}"));
            return None;
        }
        Some(i)
    }

    /// The caller's output vconnection, if `h` names it.
    fn own_output(&mut self, h: Handle, what: &str) -> Option<usize> {
        let c = self.caller()?;
        let vc = self.vconn_idx(h)?;
        if vc != c + 1 {
            self.violation(format!("tried to {what} a vconnection other than its output"));
            return None;
        }
        Some(vc)
    }

    pub fn vconn_write(&mut self, vc: Handle, reader: Handle, nbytes: i64) -> Handle {
        let Some(vc) = self.own_output(vc, "write") else {
            return 0;
        };
        if !self.open_for(vc, "started a write") {
            return 0;
        }
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
        self.vconns[vc].write =
            WriteVio { started: true, shut: false, cont: self.current, nbytes, ndone: 0, reader: r };
        if vc == self.terminus() {
            self.announced = Some(nbytes);
        }
        self.schedule_immediate(vc);
        self.handle(KIND_VIO, vc)
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
            // Aborting its output is how a transform gives up on a transaction on
            // purpose (Traffic Server's TSVConnAbort): the transaction is aborted and
            // counted so, but it is not a broken rule.
            let plugin =
                self.current.and_then(|i| self.plugins.get(i)).map_or("host".to_string(), |p| p.name().to_string());
            self.set_fault(super::Fault {
                plugin,
                what: "aborted the transaction (it aborted its output vconnection)".into(),
            });
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
            Some(i) if self.vconns[i].write.started => self.handle(KIND_VIO, i),
            _ => 0,
        }
    }

    /// A closed transform may only ask whether it is closed, and a VIO of a
    /// closed vconnection is dead: `what` on VIO/vconnection `vc` breaks
    /// the rule if either is closed (Traffic Server would have freed them).
    fn open_for(&mut self, vc: usize, what: &str) -> bool {
        let caller_closed = self.current.is_some_and(|c| self.vconns[c].closed != closed::OPEN);
        if caller_closed {
            self.violation(format!("{what} after it was closed"));
            return false;
        }
        if self.vconns[vc].closed != closed::OPEN {
            self.violation(format!("{what} on a VIO of a closed vconnection"));
            return false;
        }
        true
    }

    /// The VIO of `h`, if it may still be used for `what` (see [`Self::open_for`]).
    fn open_vio(&mut self, h: Handle, what: &str) -> Option<usize> {
        let v = self.vio_idx(h)?;
        self.open_for(v, what).then_some(v)
    }

    fn vio_idx(&mut self, h: Handle) -> Option<usize> {
        let i = self.index_of(KIND_VIO, h)?;
        if !self.vconns.get(i).is_some_and(|v| v.write.started) {
            self.violation(format!("used an invalid VIO handle {h:#x}"));
            return None;
        }
        Some(i)
    }

    pub fn vio_buffer(&mut self, vio: Handle) -> Handle {
        let Some(v) = self.vio_idx(vio) else { return 0 };
        self.live_reader(v).and_then(|r| self.buffer_of_reader(r)).map_or(0, |b| self.handle(KIND_BUFFER, b))
    }

    pub fn vio_reader(&mut self, vio: Handle) -> Handle {
        let Some(v) = self.vio_idx(vio) else { return 0 };
        self.live_reader(v).map_or(0, |r| self.handle(KIND_READER, r))
    }

    pub fn vio_vconn(&mut self, vio: Handle) -> Handle {
        self.vio_idx(vio).map_or(0, |v| self.handle(KIND_VCONN, v))
    }

    pub fn vio_cont(&mut self, vio: Handle) -> Handle {
        self.vio_idx(vio).and_then(|v| self.vconns[v].write.cont).map_or(0, |c| self.handle(KIND_VCONN, c))
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
        let Some(v) = self.open_vio(vio, "set nbytes") else { return 1 };
        let w = &self.vconns[v].write;
        if nbytes < w.ndone {
            self.violation(format!("set nbytes to {nbytes}, below ndone {}", w.ndone));
            return 1;
        }
        if v == self.terminus() && w.nbytes != UNKNOWN && nbytes != w.nbytes {
            // The client may already have been promised this length.
            self.violation(format!("changed its announced output length from {} to {nbytes}", w.nbytes));
            return 1;
        }
        self.vconns[v].write.nbytes = nbytes;
        0
    }

    pub fn vio_set_ndone(&mut self, vio: Handle, ndone: i64) -> i32 {
        let Some(v) = self.open_vio(vio, "set ndone") else { return 1 };
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
        let Some(v) = self.open_vio(vio, "reenabled a VIO") else { return 1 };
        // The writer reenables after writing: the moment to see that it
        // wrote past what it announced (bytes nobody will ever read).
        let w = &self.vconns[v].write;
        if w.cont.is_some() && w.cont == self.current && w.nbytes != UNKNOWN {
            let written = w.ndone + self.live_reader(v).map_or(0, |r| self.avail(r) as i64);
            if written > w.nbytes {
                self.violation(format!("wrote more than the {} bytes it announced", w.nbytes));
                return 1;
            }
        }
        self.schedule_immediate(v);
        0
    }

    pub fn vio_cont_call(&mut self, vio: Handle, event: u32) -> i32 {
        let Some(v) = self.open_vio(vio, "called back a VIO's continuation") else { return 1 };
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
        if self.caller().is_none() || self.refuse_after_close("created an IO buffer") {
            return 0;
        }
        if self.buffers.len() >= MAX_SLOTS {
            self.violation(format!("created more than {MAX_SLOTS} IO buffers in one transaction"));
            return 0;
        }
        let b = self.new_buffer();
        self.handle(KIND_BUFFER, b)
    }

    pub fn buffer_destroy(&mut self, b: Handle) -> i32 {
        let Some(b) = self.buffer_idx(b) else {
            return 1;
        };
        if self.buffers[b].as_ref().is_some_and(|s| s.owner != self.current) {
            // Its writer (the host or the transform before it) still fills it.
            self.violation("destroyed an IO buffer it did not create (its input's buffer)");
            return 1;
        }
        if let Some(slot) = self.buffers[b].take() {
            for &r in &slot.readers {
                self.readers[r] = None;
            }
            self.free_buffer(slot);
        }
        0
    }

    pub fn water_mark(&mut self, b: Handle) -> i64 {
        self.buffer_idx(b).and_then(|b| self.buffers[b].as_ref()).map_or(0, |s| s.buf.water_mark as i64)
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
        if self.refuse_after_close("appended to an IO buffer") {
            return 1;
        }
        let Some(b) = self.buffer_idx(b) else {
            return 1;
        };
        self.append(b, data);
        0
    }

    pub fn buffer_copy(&mut self, dst: Handle, reader: Handle, n: i64, offset: i64) -> i64 {
        if self.refuse_after_close("copied into an IO buffer") {
            return 0;
        }
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
            self.violation(format!("copied {n} bytes at offset {offset} from a reader with {avail} available"));
            return 0;
        }
        // The source and destination live in the same table: gather the
        // blocks first, into storage the state keeps for every copy.
        let mut slices = std::mem::take(&mut self.scratch);
        if let Some(s) = self.buffers[b].as_ref() {
            s.buf.slices_into(pos + offset, n, &mut slices);
        }
        let mut copied = 0i64;
        for s in slices.drain(..) {
            copied += s.len() as i64;
            self.append(d, s);
        }
        self.scratch = slices;
        copied
    }

    pub fn reader_alloc(&mut self, b: Handle) -> Handle {
        let Some(b) = self.buffer_idx(b) else {
            return 0;
        };
        if self.readers.len() >= MAX_SLOTS {
            self.violation(format!("allocated more than {MAX_SLOTS} readers in one transaction"));
            return 0;
        }
        self.new_reader(b).map_or(0, |r| self.handle(KIND_READER, r))
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
        if self.refuse_after_close("read from a reader") {
            return 0;
        }
        self.reader_idx(r).map_or(0, |r| self.avail(r) as i64)
    }

    pub fn reader_block(&mut self, r: Handle, index: usize) -> Option<Bytes> {
        if self.refuse_after_close("read from a reader") {
            return None;
        }
        let r = self.reader_idx(r)?;
        let (b, pos) = self.reader_at(r)?;
        let block = self.buffers[b].as_ref()?.buf.block_from(pos, index)?;
        self.pinned.push(block.clone());
        Some(block)
    }

    pub fn reader_consume(&mut self, r: Handle, n: i64) -> i32 {
        if self.refuse_after_close("consumed from a reader") {
            return 1;
        }
        let Some(r) = self.reader_idx(r) else {
            return 1;
        };
        let avail = self.avail(r);
        if n < 0 || n as u64 > avail {
            self.violation(format!("consumed {n} bytes from a reader with {avail} available"));
            return 1;
        }
        self.consume(r, n as u64);
        0
    }
}

/// A header name a replacement may carry: an RFC 9110 token.
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl State {
    /// `transform_replace`: keeps `status`, `headers` and `body` in place
    /// of the chain's message if its head has not left, then closes every
    /// transform so each sees its closed event and the chain ends.
    pub fn replace(&mut self, status: u16, headers: Vec<(String, Vec<u8>)>, body: Bytes) -> i32 {
        let Some(i) = self.caller() else { return STATUS_ERROR };
        if self.announced.is_some() || self.replacement.is_some() {
            return STATUS_TOO_LATE;
        }
        let bad_value = |v: &[u8]| v.iter().any(|b| matches!(b, b'\r' | b'\n' | 0));
        if !(200..=599).contains(&status) || headers.iter().any(|(n, v)| !is_token(n) || bad_value(v)) {
            return STATUS_BAD_ARG;
        }
        let plugin = self.plugins[i].name().to_string();
        self.replacement = Some(super::Replacement { plugin, status, headers, body });
        for k in 0..self.vconns.len() {
            if self.vconns[k].closed == closed::OPEN {
                self.vconns[k].closed = closed::CLOSED;
                self.schedule_immediate(k);
            }
        }
        STATUS_OK
    }
}
