//! A queue of byte blocks written to a socket with vectored writes.
//!
//! Blocks are `Bytes`, so heads, chunk framing and body blocks shared with
//! IO buffers are all queued without copying; `writev` sends up to
//! [`MAX_IOVECS`] of them per call.

use bytes::{Buf, Bytes};
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;

/// Blocks per `write_vectored` call: enough to cover a head plus many chunks,
/// far below IOV_MAX (1024 on Linux).
pub const MAX_IOVECS: usize = 64;

/// Blocks waiting to be written, oldest first.
#[derive(Debug, Default)]
pub struct WriteQueue {
    bufs: VecDeque<Bytes>,
    len: usize,
}

impl WriteQueue {
    /// Appends a block (empty blocks are dropped).
    pub fn push(&mut self, b: Bytes) {
        if b.is_empty() {
            return;
        }
        self.len += b.len();
        self.bufs.push_back(b);
    }
    /// Appends an owned buffer (a written head, typically) without copying it.
    pub fn push_vec(&mut self, v: Vec<u8>) {
        self.push(Bytes::from(v));
    }
    /// Drops everything queued (the connection is going away).
    pub fn clear(&mut self) {
        self.bufs.clear();
        self.len = 0;
    }
    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Blocks the list has room for without growing; 0 when it holds no
    /// allocation (it keeps one once used).
    pub fn block_capacity(&self) -> usize {
        self.bufs.capacity()
    }
    /// Writes as much as `w` takes (vectored). Returns bytes written; stops on
    /// `WouldBlock` (returned as Ok with what was written so far).
    ///
    /// A write of 0 bytes while data is queued is `WriteZero`: the peer can
    /// take no more. Other errors are returned as they are; what was written
    /// before them has already left the queue.
    pub fn write_to<W: io::Write>(&mut self, w: &mut W) -> io::Result<usize> {
        let mut total = 0;
        while !self.is_empty() {
            // A stack array, not a Vec: this runs on every writable event.
            // Left uninitialised: filling all 64 slots cost more than the
            // rest of a small response's write (128 stores for one block).
            let mut slices = [const { MaybeUninit::<IoSlice<'_>>::uninit() }; MAX_IOVECS];
            let mut count = 0;
            for (slot, block) in slices.iter_mut().zip(&self.bufs) {
                slot.write(IoSlice::new(block));
                count += 1;
            }
            // SAFETY: the first `count` slots were written just above, and
            // `MaybeUninit<T>` has the layout of `T`.
            let slices = unsafe { std::slice::from_raw_parts(slices.as_ptr().cast::<IoSlice<'_>>(), count) };
            match w.write_vectored(slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.advance(n);
                    total += n;
                }
                // The socket buffer is full: the event loop calls again on writable.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // A signal arrived before anything was written: just retry.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// Drops `n` written bytes from the front: whole blocks are popped, a
    /// partly written one is advanced in place.
    fn advance(&mut self, mut n: usize) {
        debug_assert!(n <= self.len, "writer reported more bytes than were offered");
        self.len -= n.min(self.len);
        while n > 0 {
            let Some(front) = self.bufs.front_mut() else {
                break;
            };
            if front.len() <= n {
                n -= front.len();
                self.bufs.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that follows a script: each step takes at most so many bytes,
    /// or fails with an error kind.
    struct Scripted {
        steps: VecDeque<Result<usize, io::ErrorKind>>,
        written: Vec<u8>,
        max_slices_seen: usize,
    }

    impl Scripted {
        fn new(steps: &[Result<usize, io::ErrorKind>]) -> Self {
            Scripted { steps: steps.iter().copied().collect(), written: Vec::new(), max_slices_seen: 0 }
        }
    }

    impl io::Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.max_slices_seen = self.max_slices_seen.max(bufs.len());
            let limit = match self.steps.pop_front() {
                Some(Ok(limit)) => limit,
                Some(Err(kind)) => return Err(kind.into()),
                None => return Err(io::ErrorKind::WouldBlock.into()),
            };
            let mut taken = 0;
            for b in bufs {
                let n = b.len().min(limit - taken);
                self.written.extend_from_slice(&b[..n]);
                taken += n;
            }
            Ok(taken)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn queue(blocks: &[&'static [u8]]) -> WriteQueue {
        let mut q = WriteQueue::default();
        for b in blocks {
            q.push(Bytes::from_static(b));
        }
        q
    }

    #[test]
    fn push_drops_empty_blocks_and_counts() {
        let mut q = queue(&[b"ab", b"", b"cde"]);
        q.push_vec(b"fg".to_vec());
        q.push_vec(Vec::new());
        assert_eq!(q.len(), 7);
        assert_eq!(q.bufs.len(), 3);
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.bufs.len(), 0);
    }

    #[test]
    fn partial_writes_then_would_block() {
        let mut q = queue(&[b"hello", b" ", b"world"]);
        let mut w = Scripted::new(&[Ok(3), Ok(4)]);
        assert_eq!(q.write_to(&mut w).expect("would block is not an error"), 7);
        assert_eq!(w.written, b"hello w");
        assert_eq!(q.len(), 4);
        assert_eq!(q.bufs.len(), 1, "finished blocks popped, partial one advanced");

        let mut w = Scripted::new(&[Ok(100)]);
        assert_eq!(q.write_to(&mut w).expect("ok"), 4);
        assert_eq!(w.written, b"orld");
        assert!(q.is_empty());
    }

    #[test]
    fn retries_interrupted_and_reports_write_zero() {
        let mut q = queue(&[b"abc"]);
        let mut w = Scripted::new(&[Err(io::ErrorKind::Interrupted), Ok(1), Ok(0)]);
        let err = q.write_to(&mut w).expect_err("zero-length write");
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
        assert_eq!(w.written, b"a");
        assert_eq!(q.len(), 2);

        let mut w = Scripted::new(&[Err(io::ErrorKind::BrokenPipe)]);
        let err = q.write_to(&mut w).expect_err("broken pipe");
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn offers_at_most_max_iovecs_per_call() {
        let mut q = WriteQueue::default();
        for i in 0..(MAX_IOVECS * 2 + 3) {
            q.push(Bytes::from(vec![b'a' + (i % 26) as u8]));
        }
        let want: Vec<u8> = q.bufs.iter().flat_map(|b| b.iter().copied()).collect();
        let mut w = Scripted::new(&[Ok(usize::MAX), Ok(usize::MAX), Ok(usize::MAX)]);
        assert_eq!(q.write_to(&mut w).expect("ok"), want.len());
        assert_eq!(w.max_slices_seen, MAX_IOVECS);
        assert_eq!(w.written, want);
        assert!(q.is_empty());
    }
}
