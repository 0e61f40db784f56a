//! A queue of byte blocks written to a socket with vectored writes.

use bytes::Bytes;
use std::collections::VecDeque;
use std::io;

/// Blocks waiting to be written, oldest first.
#[derive(Debug, Default)]
pub struct WriteQueue {
    bufs: VecDeque<Bytes>,
    len: usize,
}

impl WriteQueue {
    /// Appends a block (empty blocks are dropped).
    pub fn push(&mut self, b: Bytes) {
        todo!()
    }
    /// Appends an owned vector.
    pub fn push_vec(&mut self, _v: Vec<u8>) {
        todo!()
    }
    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Writes as much as `w` takes (vectored). Returns bytes written; stops on
    /// `WouldBlock` (returned as Ok with what was written so far).
    pub fn write_to<W: io::Write>(&mut self, w: &mut W) -> io::Result<usize> {
        todo!()
    }
}
