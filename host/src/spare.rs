//! Storage a client connection needs only while a transaction runs, kept by
//! its worker between transactions: the transaction's box, the write
//! queue's block list, and the field lists and target strings of heads
//! (see [`HeadSpares`]). An idle keep-alive connection then holds none of
//! them (with 10,000 of them, that is most of their memory), and a busy one
//! takes them back from the worker's spares instead of allocating per
//! request. The worker's [`HeadBlock`], which the heads it sends are split
//! off, lives here too, for the same reason.
//!
//! Every list is bounded ([`MAX_SPARE`], [`crate::h1::head::MAX_SPARE_HEADS`]):
//! the spares cover the transactions a worker finishes between two it
//! starts, not every connection it holds.

use crate::h1::head::{HeadBlock, HeadSpares};
use crate::h1::write_queue::WriteQueue;
use crate::txn::Txn;
use std::mem::MaybeUninit;

/// Spares of each kind a worker keeps at most (as the chain-state pool).
const MAX_SPARE: usize = 64;

/// A write queue's block list longer than this (a response queued as many
/// chunks) goes back to the allocator instead of the spares.
const MAX_SPARE_BLOCKS: usize = 16;

/// One worker's spare transaction boxes, write-queue and head storage.
#[derive(Default)]
pub struct Spares {
    txns: BoxSpares<Txn>,
    queues: Vec<WriteQueue>,
    /// Field lists and targets of finished heads, for the next ones parsed.
    pub heads: HeadSpares,
    /// Where the heads the worker sends are written.
    pub head_block: HeadBlock,
}

impl Spares {
    /// Boxes a new transaction, in a spare box if there is one.
    pub fn boxed(&mut self, txn: Txn) -> Box<Txn> {
        self.txns.boxed(txn)
    }

    /// Takes a finished transaction out of its box and keeps the box.
    pub fn unboxed(&mut self, txn: Box<Txn>) -> Txn {
        self.txns.unboxed(txn)
    }

    /// Gives `queue` a spare block list if it has none (a transaction is starting).
    pub fn lend_queue(&mut self, queue: &mut WriteQueue) {
        if queue.block_capacity() > 0 {
            return;
        }
        if let Some(spare) = self.queues.pop() {
            *queue = spare;
        }
    }

    /// Takes the block list of an empty `queue` back (its connection went idle).
    pub fn reclaim_queue(&mut self, queue: &mut WriteQueue) {
        if !queue.is_empty() || queue.block_capacity() == 0 {
            return;
        }
        let taken = std::mem::take(queue);
        if taken.block_capacity() <= MAX_SPARE_BLOCKS && self.queues.len() < MAX_SPARE {
            self.queues.push(taken);
        }
    }
}

/// Spare allocations for boxes of `T`: a value moves out of its box and the
/// box's memory waits, uninitialised, for the next value.
struct BoxSpares<T> {
    spare: Vec<Box<MaybeUninit<T>>>,
}

impl<T> Default for BoxSpares<T> {
    fn default() -> Self {
        BoxSpares { spare: Vec::new() }
    }
}

impl<T> BoxSpares<T> {
    fn boxed(&mut self, value: T) -> Box<T> {
        match self.spare.pop() {
            Some(mut storage) => {
                storage.write(value);
                // SAFETY: `write` just initialised the box's whole value.
                unsafe { storage.assume_init() }
            }
            None => Box::new(value),
        }
    }

    fn unboxed(&mut self, boxed: Box<T>) -> T {
        let raw = Box::into_raw(boxed);
        // SAFETY: `raw` came from a `Box<T>`, so it is aligned and holds an
        // initialised `T`, read (moved out) exactly once here. The box is then
        // owned as `MaybeUninit<T>`, which has `T`'s layout and never drops a
        // `T`, so the moved-out value is not dropped twice.
        let (value, storage) = unsafe { (raw.read(), Box::from_raw(raw.cast::<MaybeUninit<T>>())) };
        if self.spare.len() < MAX_SPARE {
            self.spare.push(storage);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::cell::Cell;
    use std::rc::Rc;

    /// Counts its drops, so a value dropped twice or never shows.
    struct Counted(Rc<Cell<u32>>, [u64; 8]);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn a_box_is_reused_and_each_value_dropped_once() {
        let drops = Rc::new(Cell::new(0));
        let mut spares = BoxSpares::default();
        let first = spares.boxed(Counted(drops.clone(), [1; 8]));
        let addr = &*first as *const Counted;
        let value = spares.unboxed(first);
        assert_eq!(value.1, [1; 8]);
        assert_eq!(drops.get(), 0, "moving out of the box drops nothing");
        drop(value);
        assert_eq!(drops.get(), 1);

        let second = spares.boxed(Counted(drops.clone(), [2; 8]));
        assert_eq!(&*second as *const Counted, addr, "the spare box holds the next value");
        assert_eq!(second.1, [2; 8]);
        drop(second);
        assert_eq!(drops.get(), 2);
        assert!(spares.spare.is_empty(), "a box dropped as a value is not a spare");
    }

    #[test]
    fn spares_are_bounded() {
        let drops = Rc::new(Cell::new(0));
        let mut spares = BoxSpares::default();
        let boxes: Vec<_> = (0..MAX_SPARE + 5).map(|_| Box::new(Counted(drops.clone(), [0; 8]))).collect();
        for b in boxes {
            drop(spares.unboxed(b));
        }
        assert_eq!(spares.spare.len(), MAX_SPARE);
        assert_eq!(drops.get(), (MAX_SPARE + 5) as u32);
    }

    #[test]
    fn an_idle_queue_gives_its_storage_back_and_a_busy_one_keeps_it() {
        let mut spares = Spares::default();
        let mut queue = WriteQueue::default();
        spares.lend_queue(&mut queue);
        assert!(queue.block_capacity() == 0, "no spare yet");

        queue.push(Bytes::from_static(b"busy"));
        spares.reclaim_queue(&mut queue);
        assert!(queue.block_capacity() > 0, "bytes still queued: nothing is taken");
        assert_eq!(queue.len(), 4);

        queue.clear();
        spares.reclaim_queue(&mut queue);
        assert!(queue.block_capacity() == 0, "an empty queue holds no storage");

        let mut next = WriteQueue::default();
        spares.lend_queue(&mut next);
        assert!(next.block_capacity() > 0, "the next connection gets the spare");
        next.push(Bytes::from_static(b"x"));
        assert_eq!(next.len(), 1);
    }

    #[test]
    fn a_long_block_list_is_freed_not_kept() {
        let mut spares = Spares::default();
        let mut queue = WriteQueue::default();
        for _ in 0..MAX_SPARE_BLOCKS * 2 {
            queue.push(Bytes::from_static(b"chunk"));
        }
        queue.clear();
        spares.reclaim_queue(&mut queue);
        assert!(queue.block_capacity() == 0);
        assert!(spares.queues.is_empty());
    }
}
