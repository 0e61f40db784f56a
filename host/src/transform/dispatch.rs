//! Choosing the next event to deliver: backpressure gating, events for the
//! host (the writer into the first transform) and the terminating transform,
//! which the engine handles itself.
//!
//! Gating: an `Immediate` or `WRITE_READY` for a transform whose output
//! buffer is above its water mark is held back (one per transform, the last
//! wins) and released once the downstream has consumed below the mark. So a
//! slow client stops the chain instead of growing its buffers.

use plugin_sdk::ffi::event_code;

use super::state::{State, Target};
use super::Fault;

/// A transform event to deliver: (transform index, event code, VIO handle).
pub(super) type Delivery = (usize, u32, u64);

impl State {
    /// The next event for a plugin, handling host and terminus events on the
    /// way. `None`: nothing to deliver (or the chain faulted).
    pub fn next_delivery(&mut self) -> Option<Delivery> {
        loop {
            if self.fault.is_some() {
                return None;
            }
            self.release_deferred();
            let p = self.queue.pop_front()?;
            let t = self.terminus();
            match p.target {
                Target::Host => {
                    if p.event == event_code::ERROR {
                        let plugin = self.plugins.first().map_or_else(String::new, |m| m.name().to_string());
                        self.set_fault(Fault { plugin, what: "reported an error on its input".into() });
                    }
                }
                Target::VConn(i) if i == t => {
                    if p.event == event_code::IMMEDIATE {
                        self.vconns[i].immediate_queued = false;
                    }
                    self.terminus_event();
                }
                Target::VConn(i) => {
                    if p.event == event_code::IMMEDIATE {
                        self.vconns[i].immediate_queued = false;
                    }
                    if self.vconns[i].gone {
                        continue;
                    }
                    let gated = p.event == event_code::IMMEDIATE || p.event == event_code::VCONN_WRITE_READY;
                    if self.vconns[i].closed == 0 && gated && self.input_over_mark(i + 1) {
                        self.vconns[i].deferred = Some((p.event, p.vio));
                        continue;
                    }
                    return Some((i, p.event, p.vio));
                }
            }
        }
    }

    /// Requeues held-back events whose transform's output has drained.
    fn release_deferred(&mut self) {
        for i in 0..self.terminus() {
            if self.vconns[i].deferred.is_some() && !self.input_over_mark(i + 1) {
                if let Some((event, vio)) = self.vconns[i].deferred.take() {
                    self.push(Target::VConn(i), event, vio);
                }
            }
        }
    }

    /// The terminating transform woke up (write started, reenabled, closed):
    /// tell the writer it is complete once every announced byte was taken.
    fn terminus_event(&mut self) {
        let t = self.terminus();
        let v = &self.vconns[t];
        if !v.write.started || v.write.shut || v.complete_sent || v.closed != 0 {
            return;
        }
        self.check_overrun();
        let w = &self.vconns[t].write;
        if w.nbytes - w.ndone == 0 {
            let cont = w.cont;
            self.vconns[t].complete_sent = true;
            self.push(cont.map_or(Target::Host, Target::VConn), event_code::VCONN_WRITE_COMPLETE, self.vio_handle(t));
        }
    }

    /// The last transform wrote more than it announced: those bytes can never
    /// be sent, and the length the client was told is wrong.
    pub fn check_overrun(&mut self) {
        let t = self.terminus();
        let w = &self.vconns[t].write;
        if w.nbytes == super::state::UNKNOWN {
            return;
        }
        let Some(r) = self.live_reader(t) else { return };
        let (nbytes, ndone) = (w.nbytes, w.ndone);
        if ndone + self.avail(r) as i64 > nbytes {
            let last = t.checked_sub(1);
            self.current = last;
            self.violation(format!("wrote more than the {nbytes} bytes it announced"));
            self.current = None;
        }
    }
}
