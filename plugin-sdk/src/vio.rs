//! VIOs: one IO operation in progress (`TSVIO`).
//!
//! A VIO names a buffer (through a reader for writes), the vconnection doing
//! the work, the continuation to call back, `nbytes` (the total, `i64::MAX`
//! when unknown: [`UNKNOWN_LEN`]) and `ndone` (progress). The user of a write
//! VIO fills its buffer and calls [`Vio::reenable`]; the implementor
//! consumes, advances `ndone` and calls back the continuation with
//! `WRITE_READY` / `WRITE_COMPLETE` ([`Vio::call_cont`]).
//!
//! [`Vio::consume_into`] and [`Vio::pass_through`] are the protocol's common
//! step as single calls.

use crate::buffer::{Buffer, Reader};
use crate::event::Event;
use crate::ffi::Handle;
use crate::io::{host_call, Io};
use crate::vconn::VConn;

/// `nbytes` of an operation of unknown length (`INT64_MAX`).
pub const UNKNOWN_LEN: i64 = i64::MAX;

/// A stored VIO handle: valid for the transform's whole life.
///
/// Ids are `!Send` and `!Sync`: a transform keeps one in its own fields,
/// and cannot put it in a `static` or in plugin-global state (which are
/// shared between threads), where it would outlive its transaction. The host
/// refuses an id used in any transaction but its own (a protocol error
/// naming the plugin); see [`crate::testing`] for the same check in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VioId(pub(crate) Handle, pub(crate) crate::io::NotSend);

/// A VIO (`TSVIO`).
#[derive(Clone, Copy)]
pub struct Vio<'a> {
    pub(crate) io: Io<'a>,
    pub(crate) h: Handle,
}

/// What [`Vio::pass_through`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Moved this many bytes; more input is expected.
    Moved(i64),
    /// Nothing to move; waiting for the upstream.
    Waiting,
    /// The input is complete (or shut down) and the output is told its length.
    Complete,
}

impl<'a> Vio<'a> {
    /// The storable id of this VIO.
    pub fn id(&self) -> VioId {
        VioId(self.h, std::marker::PhantomData)
    }

    /// The operation's buffer; `None` once the operation was shut down
    /// (`TSVIOBufferGet` returning NULL).
    pub fn buffer(&self) -> Option<Buffer<'a>> {
        let h = host_call!(self.io, vio_buffer, self.h);
        (h != 0).then_some(Buffer { io: self.io, h })
    }

    /// The operation's reader (write VIOs); `None` once shut down.
    pub fn reader(&self) -> Option<Reader<'a>> {
        let h = host_call!(self.io, vio_reader, self.h);
        (h != 0).then_some(Reader { io: self.io, h })
    }

    /// The vconnection doing the operation (`TSVIOVConnGet`).
    pub fn vconn(&self) -> VConn<'a> {
        VConn { io: self.io, h: host_call!(self.io, vio_vconn, self.h) }
    }

    /// The continuation called back about progress (`TSVIOContGet`);
    /// `None` when it is the host itself.
    pub fn cont(&self) -> Option<VConn<'a>> {
        let h = host_call!(self.io, vio_cont, self.h);
        (h != 0).then_some(VConn { io: self.io, h })
    }

    /// Total bytes of the operation ([`UNKNOWN_LEN`] if unknown).
    pub fn nbytes(&self) -> i64 {
        host_call!(self.io, vio_nbytes_get, self.h)
    }

    /// `nbytes` as a length, `None` if unknown.
    pub fn known_nbytes(&self) -> Option<u64> {
        let n = self.nbytes();
        (n != UNKNOWN_LEN).then(|| u64::try_from(n).unwrap_or(0))
    }

    /// Sets the total (`TSVIONBytesSet`), e.g. to `ndone` at end of stream.
    pub fn set_nbytes(&self, nbytes: i64) {
        host_call!(self.io, vio_nbytes_set, self.h, nbytes);
    }

    /// Bytes done (`TSVIONDoneGet`).
    pub fn ndone(&self) -> i64 {
        host_call!(self.io, vio_ndone_get, self.h)
    }

    /// Sets bytes done (`TSVIONDoneSet`).
    pub fn set_ndone(&self, ndone: i64) {
        host_call!(self.io, vio_ndone_set, self.h, ndone);
    }

    /// `nbytes - ndone` (`TSVIONTodoGet`).
    pub fn ntodo(&self) -> i64 {
        host_call!(self.io, vio_ntodo, self.h)
    }

    /// Tells the vconnection the buffer changed (`TSVIOReenable`). The host
    /// queues an `Immediate` event; it is never delivered inside this call.
    pub fn reenable(&self) {
        host_call!(self.io, vio_reenable, self.h);
    }

    /// Sends `event` about this VIO to its continuation
    /// (`TSContCall(TSVIOContGet(vio), event, vio)`), queued like `reenable`.
    pub fn call_cont(&self, event: Event) {
        host_call!(self.io, vio_cont_call, self.h, event.code());
    }

    /// The four calls at the heart of a transform, on an input (write) VIO:
    /// copy `min(ntodo, avail)` bytes from its reader into `out` (sharing
    /// blocks), consume them, and advance `ndone`. Returns the count.
    pub fn consume_into(&self, out: &Buffer<'_>) -> i64 {
        let Some(reader) = self.reader() else {
            return 0;
        };
        let towrite = self.ntodo().min(reader.avail());
        if towrite <= 0 {
            return 0;
        }
        let copied = out.copy_from(&reader, towrite, 0);
        reader.consume(copied);
        self.set_ndone(self.ndone() + copied);
        copied
    }

    /// One whole step of a pass-through transform on this input VIO, writing
    /// to `output`: [`consume_into`](Self::consume_into) the output buffer,
    /// then reenable the output and send the upstream `WRITE_READY`, or, when
    /// the input is done (or shut down), set the output's `nbytes` to the
    /// bytes passed, reenable it and send the upstream `WRITE_COMPLETE`.
    pub fn pass_through(&self, output: &Vio<'_>) -> Step {
        let Some(out_buf) = output.buffer() else {
            return Step::Complete;
        };
        if self.buffer().is_none() {
            output.set_nbytes(self.ndone());
            output.reenable();
            return Step::Complete;
        }
        let moved = self.consume_into(&out_buf);
        if self.ntodo() > 0 {
            if moved > 0 {
                output.reenable();
                self.call_cont(Event::VConnWriteReady);
                return Step::Moved(moved);
            }
            return Step::Waiting;
        }
        output.set_nbytes(self.ndone());
        output.reenable();
        self.call_cont(Event::VConnWriteComplete);
        Step::Complete
    }
}
