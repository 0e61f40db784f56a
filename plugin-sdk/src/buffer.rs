//! IO buffers and their readers.
//!
//! An IO buffer is a queue of byte blocks owned by the host. Writers append
//! (a copy of a slice, plugin-owned bytes without copying, or blocks shared
//! from another buffer's reader without copying); each reader has its own
//! position and sees the bytes after it. A buffer's *water mark* is the level
//! above which its producer should stop filling it.
//!
//! The handles here are valid for the current callback; keep a [`BufferId`]
//! or [`ReaderId`] across callbacks and rebind it with
//! [`TransformCx::buffer`](crate::TransformCx::buffer) /
//! [`TransformCx::reader`](crate::TransformCx::reader).
//! See the raw null transform in the crate docs for a complete use.

use std::ffi::c_void;

use crate::ffi::{ByteSlice, Handle, OwnedBytes};
use crate::io::{host_call, Io};

/// A stored buffer handle: valid for the transform's whole life.
/// Not `Send`, like [`VioId`](crate::VioId), so it stays with its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferId(pub(crate) Handle, pub(crate) crate::io::NotSend);

/// A stored reader handle.
/// Not `Send`, like [`VioId`](crate::VioId), so it stays with its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderId(pub(crate) Handle, pub(crate) crate::io::NotSend);

/// An IO buffer (`TSIOBuffer`).
#[derive(Clone, Copy)]
pub struct Buffer<'a> {
    pub(crate) io: Io<'a>,
    pub(crate) h: Handle,
}

impl<'a> Buffer<'a> {
    /// The storable id of this buffer.
    pub fn id(&self) -> BufferId {
        BufferId(self.h, std::marker::PhantomData)
    }

    /// Allocates a reader positioned at the buffer's current start
    /// (`TSIOBufferReaderAlloc`).
    pub fn alloc_reader(&self) -> Reader<'a> {
        Reader { io: self.io, h: host_call!(self.io, reader_alloc, self.h) }
    }

    /// Appends a copy of `bytes` (`TSIOBufferWrite`).
    pub fn append(&self, bytes: &[u8]) {
        host_call!(self.io, buffer_append_copy, self.h, ByteSlice::new(bytes));
    }

    /// Appends `bytes` without copying them: the host keeps the allocation
    /// and drops it (on any thread) when every reader has consumed it.
    pub fn append_owned<T: AsRef<[u8]> + Send + 'static>(&self, bytes: T) {
        let boxed = Box::new(bytes);
        let slice: &[u8] = (*boxed).as_ref();
        let (ptr, len) = (slice.as_ptr(), slice.len());
        let owned = OwnedBytes { ptr, len, owner: Box::into_raw(boxed) as *mut c_void, release: release_box::<T> };
        host_call!(self.io, buffer_append_owned, self.h, owned);
    }

    /// Appends `n` bytes of `reader`, starting `offset` bytes past its
    /// position, sharing the blocks (no byte is copied); returns how many
    /// were appended (`TSIOBufferCopy`). The reader is not consumed.
    pub fn copy_from(&self, reader: &Reader<'_>, n: i64, offset: i64) -> i64 {
        host_call!(self.io, buffer_copy, self.h, reader.h, n, offset)
    }

    /// The water mark in bytes.
    pub fn water_mark(&self) -> i64 {
        host_call!(self.io, buffer_water_mark_get, self.h)
    }

    /// Sets the water mark: the level above which the producer of this
    /// buffer gets no more `WRITE_READY` until the consumer catches up.
    pub fn set_water_mark(&self, bytes: i64) {
        host_call!(self.io, buffer_water_mark_set, self.h, bytes);
    }

    /// Destroys the buffer and its readers (`TSIOBufferDestroy`). Buffers a
    /// transform created are also destroyed with it.
    pub fn destroy(self) {
        host_call!(self.io, buffer_destroy, self.h);
    }
}

/// Releases a `Box<T>` handed to the host by [`Buffer::append_owned`].
unsafe extern "C" fn release_box<T>(owner: *mut c_void) {
    // Dropping plain data does not panic in practice, but a `T` with a
    // panicking Drop must not unwind into the host.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if !owner.is_null() {
            // SAFETY: `owner` came from Box::<T>::into_raw in append_owned and
            // the host releases it exactly once.
            drop(unsafe { Box::from_raw(owner as *mut T) });
        }
    }));
}

/// A reader of an IO buffer (`TSIOBufferReader`).
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    pub(crate) io: Io<'a>,
    pub(crate) h: Handle,
}

impl<'a> Reader<'a> {
    /// The storable id of this reader.
    pub fn id(&self) -> ReaderId {
        ReaderId(self.h, std::marker::PhantomData)
    }

    /// Bytes available to read (`TSIOBufferReaderAvail`).
    pub fn avail(&self) -> i64 {
        host_call!(self.io, reader_avail, self.h)
    }

    /// The readable bytes as blocks, without copying (`TSIOBufferReaderStart`
    /// / `TSIOBlockReadStart`). The slices stay valid until the callback
    /// returns, even if the reader consumes them meanwhile.
    pub fn blocks(&self) -> Blocks<'a> {
        Blocks { io: self.io, h: self.h, index: 0 }
    }

    /// Marks `n` bytes as read (`TSIOBufferReaderConsume`); at most `avail`.
    pub fn consume(&self, n: i64) {
        host_call!(self.io, reader_consume, self.h, n);
    }

    /// Frees the reader (`TSIOBufferReaderFree`).
    pub fn free(self) {
        host_call!(self.io, reader_free, self.h);
    }
}

/// Iterator over a reader's blocks; see [`Reader::blocks`].
pub struct Blocks<'a> {
    io: Io<'a>,
    h: Handle,
    index: usize,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let mut out = ByteSlice::EMPTY;
        let found = host_call!(self.io, reader_block, self.h, self.index, &mut out);
        if found != 1 {
            return None;
        }
        self.index += 1;
        // SAFETY: the host keeps the block alive until the callback ('a) returns.
        Some(unsafe { out.as_slice() })
    }
}
