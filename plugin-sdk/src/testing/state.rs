//! The fake host's state: one transform (vconn 0) writing into a terminus
//! (vconn 1), buffers as plain byte vectors with block boundaries. Simple on
//! purpose; the real engine lives in the host.

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::ffi::Handle;

pub(super) const TRANSFORM: usize = 0;
pub(super) const TERMINUS: usize = 1;
pub(super) const VCONN_BASE: u64 = 1;
pub(super) const VIO_BASE: u64 = 100;
pub(super) const BUFFER_BASE: u64 = 1_000;
pub(super) const READER_BASE: u64 = 1_000_000;

pub(super) struct FakeBuffer {
    pub data: Vec<u8>,
    /// End offsets of the blocks in `data`.
    pub ends: Vec<usize>,
    pub water_mark: usize,
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
        }
    }

    pub fn new_buffer(&mut self) -> usize {
        self.buffers.push(Some(FakeBuffer { data: Vec::new(), ends: Vec::new(), water_mark: self.water_mark }));
        self.buffers.len() - 1
    }

    pub fn new_reader(&mut self, b: usize) -> usize {
        self.readers.push(Some((b, 0)));
        self.readers.len() - 1
    }

    pub fn append(&mut self, b: usize, bytes: &[u8]) {
        if let Some(Some(buf)) = self.buffers.get_mut(b) {
            if !bytes.is_empty() {
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
        let i =
            h.checked_sub(BUFFER_BASE).map(|i| i as usize).filter(|i| matches!(self.buffers.get(*i), Some(Some(_))));
        if i.is_none() {
            self.error(format!("invalid buffer handle {h}"));
        }
        i
    }

    pub(super) fn reader(&mut self, h: Handle) -> Option<usize> {
        let i =
            h.checked_sub(READER_BASE).map(|i| i as usize).filter(|i| matches!(self.readers.get(*i), Some(Some(_))));
        if i.is_none() {
            self.error(format!("invalid reader handle {h}"));
        }
        i
    }

    pub(super) fn vio(&mut self, h: Handle) -> Option<usize> {
        let i = h.checked_sub(VIO_BASE).map(|i| i as usize).filter(|i| *i < 2 && self.vios[*i].started);
        if i.is_none() {
            self.error(format!("invalid VIO handle {h}"));
        }
        i
    }

    pub fn push(&mut self, target: Option<usize>, event: u32, vio: Handle) {
        self.queue.push_back((target, event, vio));
    }
}

pub(super) fn vio_handle(vc: usize) -> Handle {
    VIO_BASE + vc as u64
}

/// What the IO context points at in the fake.
pub(super) struct FakeCell(pub RefCell<Fake>);
