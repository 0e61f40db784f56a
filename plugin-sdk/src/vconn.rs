//! VConnections and the raw transform interface.
//!
//! A transform is a vconnection the upstream writes into (its *input VIO* is
//! the write VIO on itself) and which writes into its *output vconnection*
//! (the next transform, or the host's terminating transform). It is driven by
//! events: implement [`Transform::on_event`]; [`TransformCx`] gives access to
//! the transform's VIOs and lets it create buffers.
//!
//! The rules of the protocol (Traffic Server's, as its vconnection docs and `null_transform.c` give them):
//! - On the first event, create an output buffer and reader and `write` the
//!   output vconnection; keep the returned VIO.
//! - Each event: if the input VIO has no buffer, the upstream shut down: set
//!   the output `nbytes` to what was written and reenable the output.
//! - Copy what is readable (at most `ntodo`), consume it, advance `ndone`.
//! - More to come: reenable the output and send the input's continuation
//!   `WRITE_READY`. Done: set the output `nbytes`, reenable it, send
//!   `WRITE_COMPLETE`.
//! - On `WRITE_COMPLETE` from the output, shut its write side down.
//! - Once [`TransformCx::is_closed`], do nothing: the host destroys the
//!   instance (drops it) right after.

use crate::buffer::{Buffer, BufferId, Reader, ReaderId};
use crate::event::Event;
use crate::ffi::{closed, ByteSlice, Handle};
use crate::io::{host_call, Io};
use crate::message::{Message, Refused};
use crate::vio::{Vio, VioId};

/// A stored vconnection handle.
/// Not `Send`, like [`VioId`](crate::VioId), so it stays with its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VConnId(pub(crate) Handle, pub(crate) crate::io::NotSend);

/// Whether a vconnection was closed (`TSVConnClosedGet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Still open.
    Open,
    /// Closed normally.
    Closed,
    /// Aborted.
    Aborted,
}

/// A vconnection (`TSVConn`).
#[derive(Clone, Copy)]
pub struct VConn<'a> {
    pub(crate) io: Io<'a>,
    pub(crate) h: Handle,
}

impl<'a> VConn<'a> {
    /// The storable id.
    pub fn id(&self) -> VConnId {
        VConnId(self.h, std::marker::PhantomData)
    }

    /// Starts writing `nbytes` ([`UNKNOWN_LEN`](crate::UNKNOWN_LEN) if not
    /// known) from `reader` into this vconnection (`TSVConnWrite`); the
    /// calling transform is the continuation called back about progress.
    pub fn write(&self, reader: &Reader<'_>, nbytes: i64) -> Vio<'a> {
        Vio { io: self.io, h: host_call!(self.io, vconn_write, self.h, reader.h, nbytes) }
    }

    /// Starts reading into `buffer` (`TSVConnRead`). Transforms and the
    /// terminating transform only accept writes, so in this host this returns
    /// `None`; it exists for fidelity with the model.
    pub fn read(&self, buffer: &Buffer<'_>, nbytes: i64) -> Option<Vio<'a>> {
        let h = host_call!(self.io, vconn_read, self.h, buffer.h, nbytes);
        (h != 0).then_some(Vio { io: self.io, h })
    }

    /// Closes normally (`TSVConnClose`); propagates down the chain. After
    /// this the caller gets no more events about it.
    pub fn close(&self) {
        host_call!(self.io, vconn_close, self.h);
    }

    /// Closes abnormally with `error` (`TSVConnAbort`).
    pub fn abort(&self, error: i32) {
        host_call!(self.io, vconn_abort, self.h, error);
    }

    /// Shuts down the read and/or write side (`TSVConnShutdown`): no more
    /// events about that side.
    pub fn shutdown(&self, read: bool, write: bool) {
        host_call!(self.io, vconn_shutdown, self.h, u8::from(read), u8::from(write));
    }

    /// Whether it was closed.
    pub fn closed(&self) -> Closed {
        match host_call!(self.io, vconn_closed, self.h) {
            closed::OPEN => Closed::Open,
            closed::ABORTED => Closed::Aborted,
            _ => Closed::Closed,
        }
    }

    /// Its read VIO (`TSVConnReadVIOGet`).
    pub fn read_vio(&self) -> Option<Vio<'a>> {
        let h = host_call!(self.io, vconn_read_vio, self.h);
        (h != 0).then_some(Vio { io: self.io, h })
    }

    /// Its write VIO (`TSVConnWriteVIOGet`).
    pub fn write_vio(&self) -> Option<Vio<'a>> {
        let h = host_call!(self.io, vconn_write_vio, self.h);
        (h != 0).then_some(Vio { io: self.io, h })
    }
}

/// A transform on the raw VIO layer. One instance per transaction and
/// direction; dropped by the host when the transaction's chain ends.
/// For most transforms, [`StreamTransform`](crate::StreamTransform) is easier.
pub trait Transform: 'static {
    /// Handles one event. `cx` is valid for this call only.
    fn on_event(&mut self, cx: &mut TransformCx<'_>, event: Event);
}

/// What a transform can reach while handling an event.
pub struct TransformCx<'a> {
    pub(crate) io: Io<'a>,
    pub(crate) vio: Handle,
}

impl<'a> TransformCx<'a> {
    /// This transform as a vconnection (`contp`).
    pub fn this(&self) -> VConn<'a> {
        VConn { io: self.io, h: host_call!(self.io, transform_self) }
    }

    /// Whether this transform was closed (`TSVConnClosedGet(contp)`).
    pub fn is_closed(&self) -> bool {
        self.this().closed() != Closed::Open
    }

    /// The output vconnection (`TSTransformOutputVConnGet`).
    pub fn output_vconn(&self) -> VConn<'a> {
        VConn { io: self.io, h: host_call!(self.io, transform_output_vconn) }
    }

    /// The input VIO: the write VIO on this transform
    /// (`TSVConnWriteVIOGet(contp)`). `None` before the upstream started.
    pub fn input_vio(&self) -> Option<Vio<'a>> {
        self.this().write_vio()
    }

    /// The VIO the event is about (`edata`), if any.
    pub fn event_vio(&self) -> Option<Vio<'a>> {
        (self.vio != 0).then_some(Vio { io: self.io, h: self.vio })
    }

    /// Creates an IO buffer (`TSIOBufferCreate`), destroyed with this
    /// transform at the latest.
    pub fn new_buffer(&self) -> Buffer<'a> {
        Buffer { io: self.io, h: host_call!(self.io, buffer_create) }
    }

    /// Rebinds a stored VIO id to this callback.
    pub fn vio(&self, id: VioId) -> Vio<'a> {
        Vio { io: self.io, h: id.0 }
    }

    /// Rebinds a stored buffer id.
    pub fn buffer(&self, id: BufferId) -> Buffer<'a> {
        Buffer { io: self.io, h: id.0 }
    }

    /// Rebinds a stored reader id.
    pub fn reader(&self, id: ReaderId) -> Reader<'a> {
        Reader { io: self.io, h: id.0 }
    }

    /// Rebinds a stored vconnection id.
    pub fn vconn(&self, id: VConnId) -> VConn<'a> {
        VConn { io: self.io, h: id.0 }
    }

    /// Replaces the message this chain carries with `msg`, if its head has
    /// not left yet (no transform of the chain may have started the final
    /// output). The chain then ends: this transform gets its closed event
    /// and no more data. See [`crate::message`].
    ///
    /// ```
    /// use plugin_sdk::{Event, Message, Transform, TransformCx};
    /// /// Answers every request body with 403 instead of forwarding it.
    /// struct Deny;
    /// impl Transform for Deny {
    ///     fn on_event(&mut self, cx: &mut TransformCx<'_>, _event: Event) {
    ///         if !cx.is_closed() {
    ///             let _ = cx.replace(&Message::new(403).body("denied\n"));
    ///         }
    ///     }
    /// }
    /// let out = plugin_sdk::testing::FakeHost::new().run(Deny, &[b"body"]);
    /// assert_eq!(out.replaced.map(|m| m.status), Some(403));
    /// ```
    pub fn replace(&self, msg: &Message) -> Result<(), Refused> {
        let mut fields = Vec::with_capacity(msg.headers.len() * 2);
        for (name, value) in &msg.headers {
            fields.push(ByteSlice::new(name.as_bytes()));
            fields.push(ByteSlice::new(value.as_bytes()));
        }
        let status = host_call!(
            self.io,
            transform_replace,
            msg.status,
            fields.as_ptr(),
            fields.len(),
            ByteSlice::new(&msg.body)
        );
        Refused::from_status(status).map_or(Ok(()), Err)
    }
}
