//! The fake host's state: one transform (vconn 0) writing into a terminus
//! (vconn 1), buffers as plain byte vectors with block boundaries. Simple on
//! purpose; the real engine lives in the host.
//!
//! Handles are built as the host builds them, `kind << 56 | run serial << 24
//! | (index + 1)`, so an id kept from an earlier run (another transaction)
//! is refused here with the host's words.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::ffi::Handle;

pub(super) const TRANSFORM: usize = 0;
pub(super) const TERMINUS: usize = 1;
pub(super) const KIND_VCONN: u64 = 1;
pub(super) const KIND_VIO: u64 = 2;
pub(super) const KIND_BUFFER: u64 = 3;
pub(super) const KIND_READER: u64 = 4;
const SERIAL_SHIFT: u32 = 24;
const INDEX_MASK: u64 = (1 << SERIAL_SHIFT) - 1;

/// The next run's serial (0 unused, so no live handle is 0).
static NEXT_SERIAL: AtomicU32 = AtomicU32::new(1);

pub(super) struct FakeBuffer {
    pub data: Vec<u8>,
    /// End offsets of the blocks in `data`.
    pub ends: Vec<usize>,
    pub water_mark: usize,
    /// Created by the fake (the transform's input): the transform may not destroy it.
    pub by_host: bool,
}

#[derive(Default, Clone, Copy)]
pub(super) struct FakeVio {
    pub started: bool,
    pub shut: bool,
    pub nbytes: i64,
    pub ndone: i64,
    pub reader: usize,
}

pub(super) struct Fake {
    pub buffers: Vec<Option<FakeBuffer>>,
    /// (buffer, position)
    pub readers: Vec<Option<(usize, usize)>>,
    pub vios: [FakeVio; 2],
    pub closed: [i32; 2],
    /// (target: None = host, event, vio handle)
    pub queue: VecDeque<(Option<usize>, u32, Handle)>,
    pub pinned: Vec<Box<[u8]>>,
    pub errors: Vec<String>,
    pub announced: Option<i64>,
    pub complete_sent: bool,
    pub water_mark: usize,
    /// The message a `transform_replace` put in place of this one.
    pub replaced: Option<crate::message::Message>,
    /// The transform aborted its output (gave up on the transaction).
    pub aborted: bool,
    /// This run's serial, in every handle it gives out.
    pub serial: u32,
    /// Bytes appended or taken so far: how the busy check sees movement.
    pub moved: u64,
}

impl Fake {
    pub fn new(water_mark: usize) -> Self {
        Fake {
            buffers: Vec::new(),
            readers: Vec::new(),
            vios: [FakeVio::default(); 2],
            closed: [0; 2],
            queue: VecDeque::new(),
            pinned: Vec::new(),
            errors: Vec::new(),
            announced: None,
            complete_sent: false,
            water_mark,
            replaced: None,
            aborted: false,
            serial: loop {
                let s = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
                if s != 0 {
                    break s;
                }
            },
            moved: 0,
        }
    }

    /// The handle of slot `index` of `kind` in this run.
    pub fn h(&self, kind: u64, index: usize) -> Handle {
        (kind << 56) | (u64::from(self.serial) << SERIAL_SHIFT) | (index as u64 + 1)
    }

    /// The slot `h` names if it is a `kind` handle of this run, else an
    /// error in the host's words.
    fn slot(&mut self, kind: u64, h: Handle) -> Option<usize> {
        let (bare, with_article) = match kind {
            KIND_VCONN => ("vconnection", "a vconnection"),
            KIND_VIO => ("VIO", "a VIO"),
            KIND_BUFFER => ("IO buffer", "an IO buffer"),
            _ => ("reader", "a reader"),
        };
        if h >> 56 != kind || h & INDEX_MASK == 0 {
            self.error(format!("used an invalid {bare} handle {h:#x}"));
            return None;
        }
        if (h >> SERIAL_SHIFT) as u32 != self.serial {
            self.error(format!(
                "used {with_article} handle ({h:#x}) of another transaction: one kept from an earlier \
                 transaction or past its transform's close"
            ));
            return None;
        }
        Some((h & INDEX_MASK) as usize - 1)
    }

    /// The closed transform may only clean up: `what` after its closed event is an error.
    pub fn refuse_after_close(&mut self, what: &str) -> bool {
        let closed = self.closed[TRANSFORM] != 0;
        if closed {
            self.error(format!("{what} after it was closed"));
        }
        closed
    }

    pub fn new_buffer(&mut self, by_host: bool) -> usize {
        let water_mark = self.water_mark;
        self.buffers.push(Some(FakeBuffer { data: Vec::new(), ends: Vec::new(), water_mark, by_host }));
        self.buffers.len() - 1
    }

    pub fn new_reader(&mut self, b: usize) -> usize {
        self.readers.push(Some((b, 0)));
        self.readers.len() - 1
    }

    pub fn append(&mut self, b: usize, bytes: &[u8]) {
        if let Some(Some(buf)) = self.buffers.get_mut(b) {
            if !bytes.is_empty() {
                self.moved += bytes.len() as u64;
                buf.data.extend_from_slice(bytes);
                buf.ends.push(buf.data.len());
            }
        }
    }

    pub fn avail(&self, r: usize) -> usize {
        match self.readers.get(r) {
            Some(Some((b, pos))) => self.buffers[*b].as_ref().map_or(0, |buf| buf.data.len() - pos),
            _ => 0,
        }
    }

    /// Takes up to `n` bytes from reader `r`.
    pub fn take(&mut self, r: usize, n: usize) -> Vec<u8> {
        let Some(Some((b, pos))) = self.readers.get(r).copied() else {
            return Vec::new();
        };
        let Some(buf) = self.buffers[b].as_ref() else {
            return Vec::new();
        };
        let n = n.min(buf.data.len() - pos);
        let out = buf.data[pos..pos + n].to_vec();
        self.readers[r] = Some((b, pos + n));
        self.moved += n as u64;
        out
    }

    pub fn over_mark(&self, vc: usize) -> bool {
        let v = self.vios[vc];
        v.started && !v.shut && self.avail(v.reader) > self.reader_buffer(v.reader).map_or(usize::MAX, |b| b.water_mark)
    }

    fn reader_buffer(&self, r: usize) -> Option<&FakeBuffer> {
        let (b, _) = (*self.readers.get(r)?)?;
        self.buffers.get(b)?.as_ref()
    }

    pub(super) fn error(&mut self, what: String) {
        self.errors.push(what);
    }

    pub(super) fn buffer(&mut self, h: Handle) -> Option<usize> {
        let i = self.slot(KIND_BUFFER, h)?;
        if !matches!(self.buffers.get(i), Some(Some(_))) {
            self.error(format!("used an IO buffer handle {h:#x} after the buffer was destroyed"));
            return None;
        }
        Some(i)
    }

    pub(super) fn reader(&mut self, h: Handle) -> Option<usize> {
        let i = self.slot(KIND_READER, h)?;
        if !matches!(self.readers.get(i), Some(Some(_))) {
            self.error(format!("used a reader handle {h:#x} after the reader (or its buffer) was freed"));
            return None;
        }
        Some(i)
    }

    pub(super) fn vio(&mut self, h: Handle) -> Option<usize> {
        let i = self.slot(KIND_VIO, h)?;
        if !(i < 2 && self.vios[i].started) {
            self.error(format!("used an invalid VIO handle {h:#x}"));
            return None;
        }
        Some(i)
    }

    /// The vconnection `h` names (0 the transform, 1 its output).
    pub(super) fn vconn(&mut self, h: Handle) -> Option<usize> {
        let i = self.slot(KIND_VCONN, h)?;
        if i >= 2 {
            self.error(format!("used an invalid vconnection handle {h:#x}"));
            return None;
        }
        Some(i)
    }

    pub fn vio_handle(&self, vc: usize) -> Handle {
        self.h(KIND_VIO, vc)
    }

    pub fn push(&mut self, target: Option<usize>, event: u32, vio: Handle) {
        self.queue.push_back((target, event, vio));
    }
}

/// What the IO context points at in the fake.
pub(super) struct FakeCell(pub RefCell<Fake>);
