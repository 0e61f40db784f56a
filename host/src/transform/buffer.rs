//! IO buffers: a queue of `Bytes` blocks with any number of readers, each at
//! its own absolute position, and a water mark.
//!
//! Appending a reader's bytes to another buffer clones `Bytes` handles (a
//! reference count each), so a body crosses a chain of transforms without
//! its bytes being copied. Blocks before the slowest reader are dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

/// Live IO buffers in the process (see [`super::live_counts`]).
pub(super) static LIVE_BUFFERS: AtomicUsize = AtomicUsize::new(0);

/// One IO buffer.
#[derive(Debug)]
pub(super) struct IoBuffer {
    blocks: VecDeque<Bytes>,
    /// Absolute offset of the first byte of `blocks[0]`.
    base: u64,
    /// Absolute offset one past the last byte written.
    end: u64,
    /// Level above which the producer is held back.
    pub water_mark: usize,
}

impl IoBuffer {
    #[cfg(test)]
    pub fn new(water_mark: usize) -> Self {
        IoBuffer::with_storage(VecDeque::new(), water_mark)
    }

    /// A buffer on the (empty) block queue of one destroyed before, so a
    /// chain's buffers allocate nothing once its state is reused.
    pub fn with_storage(blocks: VecDeque<Bytes>, water_mark: usize) -> Self {
        debug_assert!(blocks.is_empty(), "a buffer's storage comes back empty");
        LIVE_BUFFERS.fetch_add(1, Ordering::Relaxed);
        IoBuffer { blocks, base: 0, end: 0, water_mark }
    }

    /// Destroys the buffer (its blocks are dropped) and returns its block
    /// queue, empty, for [`IoBuffer::with_storage`].
    pub fn into_storage(mut self) -> VecDeque<Bytes> {
        let mut blocks = std::mem::take(&mut self.blocks);
        blocks.clear();
        blocks
    }

    /// Absolute offset a new reader starts at.
    pub fn start(&self) -> u64 {
        self.base
    }

    pub fn append(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.end += data.len() as u64;
        self.blocks.push_back(data);
    }

    /// Bytes readable from absolute position `pos`.
    pub fn avail_from(&self, pos: u64) -> u64 {
        self.end.saturating_sub(pos)
    }

    /// The readable bytes from `pos` as shared blocks, at most `max` bytes.
    #[cfg(test)]
    pub fn slices_from(&self, pos: u64, max: u64) -> Vec<Bytes> {
        let mut out = Vec::new();
        self.slices_into(pos, max, &mut out);
        out
    }

    /// Up to `max` bytes readable from `pos`, as shared slices of the
    /// blocks, appended to `out` (which the caller reuses).
    pub fn slices_into(&self, pos: u64, max: u64, out: &mut Vec<Bytes>) {
        let mut left = max.min(self.avail_from(pos));
        let mut at = self.base;
        for block in &self.blocks {
            if left == 0 {
                break;
            }
            let len = block.len() as u64;
            if at + len <= pos {
                at += len;
                continue;
            }
            let skip = pos.saturating_sub(at);
            let take = (len - skip).min(left);
            // Offsets fit usize: they index an in-memory block.
            out.push(block.slice(skip as usize..(skip + take) as usize));
            left -= take;
            at += len;
        }
    }

    /// Block `index` of the bytes readable from `pos`.
    pub fn block_from(&self, pos: u64, index: usize) -> Option<Bytes> {
        let mut at = self.base;
        let mut seen = 0usize;
        for block in &self.blocks {
            let len = block.len() as u64;
            if at + len <= pos {
                at += len;
                continue;
            }
            if seen == index {
                let skip = pos.saturating_sub(at) as usize;
                return Some(block.slice(skip..));
            }
            seen += 1;
            at += len;
        }
        None
    }

    /// Drops blocks wholly before `min_pos` (the slowest reader).
    pub fn trim(&mut self, min_pos: u64) {
        while let Some(front) = self.blocks.front() {
            let len = front.len() as u64;
            if self.base + len > min_pos {
                break;
            }
            self.base += len;
            self.blocks.pop_front();
        }
    }

    /// Drops everything (no reader left).
    pub fn clear(&mut self) {
        self.blocks.clear();
        self.base = self.end;
    }
}

impl Drop for IoBuffer {
    fn drop(&mut self) {
        LIVE_BUFFERS.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_and_blocks_skip_consumed_bytes() {
        let mut b = IoBuffer::new(16);
        b.append(Bytes::from_static(b"hello"));
        b.append(Bytes::from_static(b" world"));
        assert_eq!(b.avail_from(3), 8);
        let got: Vec<u8> = b.slices_from(3, 5).iter().flat_map(|s| s.to_vec()).collect();
        assert_eq!(got, b"lo wo");
        assert_eq!(b.block_from(3, 0).as_deref(), Some(&b"lo"[..]));
        assert_eq!(b.block_from(3, 1).as_deref(), Some(&b" world"[..]));
        assert_eq!(b.block_from(3, 2), None);
        b.trim(6);
        assert_eq!(b.start(), 5);
        assert_eq!(b.block_from(6, 0).as_deref(), Some(&b"world"[..]));
    }
}
