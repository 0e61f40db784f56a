//! Events a transform receives, as Traffic Server names them.
//!
//! ```
//! use plugin_sdk::Event;
//! assert_eq!(Event::from_code(101), Some(Event::VConnWriteReady));
//! assert_eq!(Event::VConnWriteReady.code(), 101);
//! ```

use crate::ffi::event_code as code;

/// An event delivered to a transform (its continuation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// Sent when a VIO of this vconnection was reenabled, on `write` to it, or
    /// on close: "re-examine your VIOs and your closed flag".
    Immediate,
    /// The downstream placed data in the buffer of a read operation.
    VConnReadReady,
    /// The downstream consumed data of our write and wants more.
    VConnWriteReady,
    /// A read operation has read all its `nbytes`.
    VConnReadComplete,
    /// A write operation has written all its `nbytes`: shut the output down.
    VConnWriteComplete,
    /// A read hit the end of the stream before `nbytes`.
    VConnEos,
    /// Something failed; pass it upstream.
    Error,
}

impl Event {
    /// The wire code of the event (Traffic Server's numbers).
    pub fn code(self) -> u32 {
        match self {
            Event::Immediate => code::IMMEDIATE,
            Event::VConnReadReady => code::VCONN_READ_READY,
            Event::VConnWriteReady => code::VCONN_WRITE_READY,
            Event::VConnReadComplete => code::VCONN_READ_COMPLETE,
            Event::VConnWriteComplete => code::VCONN_WRITE_COMPLETE,
            Event::VConnEos => code::VCONN_EOS,
            Event::Error => code::ERROR,
        }
    }

    /// The event for a wire code, `None` if unknown.
    pub fn from_code(c: u32) -> Option<Event> {
        Some(match c {
            code::IMMEDIATE => Event::Immediate,
            code::VCONN_READ_READY => Event::VConnReadReady,
            code::VCONN_WRITE_READY => Event::VConnWriteReady,
            code::VCONN_READ_COMPLETE => Event::VConnReadComplete,
            code::VCONN_WRITE_COMPLETE => Event::VConnWriteComplete,
            code::VCONN_EOS => Event::VConnEos,
            code::ERROR => Event::Error,
            _ => return None,
        })
    }
}
