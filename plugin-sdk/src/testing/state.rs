//! The fake host's state and its implementation of the host function table:
//! one transform (vconn 0) writing into a terminus (vconn 1), buffers as
//! plain byte vectors with block boundaries. Simple on purpose; the real
//! engine lives in the host.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ffi::c_void;

use crate::ffi::{event_code, ByteSlice, Handle, HostTable, IoCtx, OwnedBytes, TxnCtx, ABI_MINOR};

pub(super) const TRANSFORM: usize = 0;
pub(super) const TERMINUS: usize = 1;
const VCONN_BASE: u64 = 1;
const VIO_BASE: u64 = 100;
const BUFFER_BASE: u64 = 1_000;
const READER_BASE: u64 = 1_000_000;

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
        }
    }

    pub fn new_buffer(&mut self) -> usize {
        self.buffers.push(Some(FakeBuffer {
            data: Vec::new(),
            ends: Vec::new(),
            water_mark: self.water_mark,
        }));
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
            Some(Some((b, pos))) => self.buffers[*b]
                .as_ref()
                .map_or(0, |buf| buf.data.len() - pos),
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
        v.started
            && !v.shut
            && self.avail(v.reader)
                > self
                    .reader_buffer(v.reader)
                    .map_or(usize::MAX, |b| b.water_mark)
    }

    fn reader_buffer(&self, r: usize) -> Option<&FakeBuffer> {
        let (b, _) = (*self.readers.get(r)?)?;
        self.buffers.get(b)?.as_ref()
    }

    fn error(&mut self, what: String) {
        self.errors.push(what);
    }

    fn buffer(&mut self, h: Handle) -> Option<usize> {
        let i = h
            .checked_sub(BUFFER_BASE)
            .map(|i| i as usize)
            .filter(|i| matches!(self.buffers.get(*i), Some(Some(_))));
        if i.is_none() {
            self.error(format!("invalid buffer handle {h}"));
        }
        i
    }

    fn reader(&mut self, h: Handle) -> Option<usize> {
        let i = h
            .checked_sub(READER_BASE)
            .map(|i| i as usize)
            .filter(|i| matches!(self.readers.get(*i), Some(Some(_))));
        if i.is_none() {
            self.error(format!("invalid reader handle {h}"));
        }
        i
    }

    fn vio(&mut self, h: Handle) -> Option<usize> {
        let i = h
            .checked_sub(VIO_BASE)
            .map(|i| i as usize)
            .filter(|i| *i < 2 && self.vios[*i].started);
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

fn with<T>(io: *mut IoCtx, fallback: T, f: impl FnOnce(&mut Fake) -> T) -> T {
    if io.is_null() {
        return fallback;
    }
    // SAFETY: the fake host passes only pointers to a live FakeCell.
    let cell = unsafe { &*(io as *const FakeCell) };
    let Ok(mut fake) = cell.0.try_borrow_mut() else {
        return fallback;
    };
    f(&mut fake)
}

unsafe extern "C" fn log(_level: u32, msg: ByteSlice) {
    // SAFETY: lent for this call.
    eprintln!(
        "[plugin] {}",
        String::from_utf8_lossy(unsafe { msg.as_slice() })
    );
}
unsafe extern "C" fn transform_self(_io: *mut IoCtx) -> Handle {
    VCONN_BASE
}
unsafe extern "C" fn transform_output_vconn(_io: *mut IoCtx) -> Handle {
    VCONN_BASE + 1
}
unsafe extern "C" fn vconn_write(
    io: *mut IoCtx,
    vc: Handle,
    reader: Handle,
    nbytes: i64,
) -> Handle {
    with(io, 0, |f| {
        let Some(r) = f.reader(reader) else { return 0 };
        if vc != VCONN_BASE + 1 || f.vios[TERMINUS].started || nbytes < 0 {
            f.error(format!(
                "bad write: vconn {vc}, nbytes {nbytes}, or a second write"
            ));
            return 0;
        }
        f.vios[TERMINUS] = FakeVio {
            started: true,
            shut: false,
            nbytes,
            ndone: 0,
            reader: r,
        };
        f.announced = Some(nbytes);
        f.push(Some(TERMINUS), event_code::IMMEDIATE, 0);
        vio_handle(TERMINUS)
    })
}
unsafe extern "C" fn vconn_read(_io: *mut IoCtx, _vc: Handle, _b: Handle, _n: i64) -> Handle {
    0
}
unsafe extern "C" fn vconn_close(io: *mut IoCtx, _vc: Handle) -> i32 {
    with(io, 1, |f| {
        f.closed[TERMINUS] = 1;
        0
    })
}
unsafe extern "C" fn vconn_abort(io: *mut IoCtx, _vc: Handle, _e: i32) -> i32 {
    with(io, 1, |f| {
        f.error("aborted its output".into());
        f.closed[TERMINUS] = 2;
        0
    })
}
unsafe extern "C" fn vconn_shutdown(io: *mut IoCtx, vc: Handle, _read: u8, write: u8) -> i32 {
    with(io, 1, |f| {
        if vc == VCONN_BASE + 1 && write != 0 {
            let v = f.vios[TERMINUS];
            if v.nbytes - v.ndone > 0 {
                f.error("shut its output down before the output took every byte".into());
            }
            f.vios[TERMINUS].shut = true;
        }
        0
    })
}
unsafe extern "C" fn vconn_closed(io: *mut IoCtx, vc: Handle) -> i32 {
    with(io, 0, |f| {
        f.closed
            .get((vc.saturating_sub(VCONN_BASE)) as usize)
            .copied()
            .unwrap_or(0)
    })
}
unsafe extern "C" fn vconn_read_vio(_io: *mut IoCtx, _vc: Handle) -> Handle {
    0
}
unsafe extern "C" fn vconn_write_vio(io: *mut IoCtx, vc: Handle) -> Handle {
    with(io, 0, |f| {
        let i = vc.saturating_sub(VCONN_BASE) as usize;
        if i < 2 && f.vios[i].started {
            vio_handle(i)
        } else {
            0
        }
    })
}
unsafe extern "C" fn vio_buffer(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |f| match f.vio(vio) {
        Some(v) if !f.vios[v].shut => {
            f.readers[f.vios[v].reader].map_or(0, |(b, _)| BUFFER_BASE + b as u64)
        }
        _ => 0,
    })
}
unsafe extern "C" fn vio_reader(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |f| match f.vio(vio) {
        Some(v) if !f.vios[v].shut => READER_BASE + f.vios[v].reader as u64,
        _ => 0,
    })
}
unsafe extern "C" fn vio_vconn(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |f| f.vio(vio).map_or(0, |v| VCONN_BASE + v as u64))
}
unsafe extern "C" fn vio_cont(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |f| match f.vio(vio) {
        Some(TERMINUS) => VCONN_BASE,
        _ => 0,
    })
}
unsafe extern "C" fn vio_nbytes_get(io: *mut IoCtx, vio: Handle) -> i64 {
    with(io, 0, |f| f.vio(vio).map_or(0, |v| f.vios[v].nbytes))
}
unsafe extern "C" fn vio_nbytes_set(io: *mut IoCtx, vio: Handle, n: i64) -> i32 {
    with(io, 1, |f| {
        let Some(v) = f.vio(vio) else { return 1 };
        let old = f.vios[v];
        if n < old.ndone || (v == TERMINUS && old.nbytes != i64::MAX && n != old.nbytes) {
            f.error(format!(
                "set nbytes to {n} (was {}, ndone {})",
                old.nbytes, old.ndone
            ));
            return 1;
        }
        f.vios[v].nbytes = n;
        0
    })
}
unsafe extern "C" fn vio_ndone_get(io: *mut IoCtx, vio: Handle) -> i64 {
    with(io, 0, |f| f.vio(vio).map_or(0, |v| f.vios[v].ndone))
}
unsafe extern "C" fn vio_ndone_set(io: *mut IoCtx, vio: Handle, n: i64) -> i32 {
    with(io, 1, |f| {
        let Some(v) = f.vio(vio) else { return 1 };
        if v != TRANSFORM || n < 0 || n > f.vios[v].nbytes {
            f.error(format!("set ndone to {n} on VIO {vio}"));
            return 1;
        }
        f.vios[v].ndone = n;
        0
    })
}
unsafe extern "C" fn vio_ntodo(io: *mut IoCtx, vio: Handle) -> i64 {
    with(io, 0, |f| {
        f.vio(vio).map_or(0, |v| f.vios[v].nbytes - f.vios[v].ndone)
    })
}
unsafe extern "C" fn vio_reenable(io: *mut IoCtx, vio: Handle) -> i32 {
    with(io, 1, |f| {
        let Some(v) = f.vio(vio) else { return 1 };
        f.push(Some(v), event_code::IMMEDIATE, 0);
        0
    })
}
unsafe extern "C" fn vio_cont_call(io: *mut IoCtx, vio: Handle, event: u32) -> i32 {
    with(io, 1, |f| {
        if f.vio(vio) != Some(TRANSFORM) {
            f.error("called back the continuation of a VIO it does not implement".into());
            return 1;
        }
        let v = f.vios[TRANSFORM];
        if event == event_code::VCONN_WRITE_COMPLETE && v.nbytes - v.ndone > 0 {
            f.error("sent WRITE_COMPLETE with ntodo > 0".into());
            return 1;
        }
        f.push(None, event, vio);
        0
    })
}
unsafe extern "C" fn buffer_create(io: *mut IoCtx) -> Handle {
    with(io, 0, |f| BUFFER_BASE + f.new_buffer() as u64)
}
unsafe extern "C" fn buffer_destroy(io: *mut IoCtx, b: Handle) -> i32 {
    with(io, 1, |f| {
        let Some(b) = f.buffer(b) else { return 1 };
        f.buffers[b] = None;
        0
    })
}
unsafe extern "C" fn buffer_water_mark_get(io: *mut IoCtx, b: Handle) -> i64 {
    with(io, 0, |f| {
        f.buffer(b)
            .and_then(|b| f.buffers[b].as_ref())
            .map_or(0, |x| x.water_mark as i64)
    })
}
unsafe extern "C" fn buffer_water_mark_set(io: *mut IoCtx, b: Handle, mark: i64) -> i32 {
    with(io, 1, |f| {
        let Some(b) = f.buffer(b) else { return 1 };
        if let Some(x) = f.buffers[b].as_mut() {
            x.water_mark = usize::try_from(mark).unwrap_or(0);
        }
        0
    })
}
unsafe extern "C" fn buffer_append_copy(io: *mut IoCtx, b: Handle, bytes: ByteSlice) -> i32 {
    // SAFETY: lent for this call.
    let bytes = unsafe { bytes.as_slice() };
    with(io, 1, |f| {
        let Some(b) = f.buffer(b) else { return 1 };
        f.append(b, bytes);
        0
    })
}
unsafe extern "C" fn buffer_append_owned(io: *mut IoCtx, b: Handle, bytes: OwnedBytes) -> i32 {
    // The fake copies, then releases at once: the contract allows any time.
    // SAFETY: valid until release, which follows.
    let status = unsafe {
        buffer_append_copy(
            io,
            b,
            ByteSlice {
                ptr: bytes.ptr,
                len: bytes.len,
            },
        )
    };
    // SAFETY: released exactly once.
    unsafe { (bytes.release)(bytes.owner) };
    status
}
unsafe extern "C" fn buffer_copy(
    io: *mut IoCtx,
    dst: Handle,
    reader: Handle,
    n: i64,
    offset: i64,
) -> i64 {
    with(io, 0, |f| {
        let (Some(d), Some(r)) = (f.buffer(dst), f.reader(reader)) else {
            return 0;
        };
        let avail = f.avail(r) as i64;
        if n < 0 || offset < 0 || n + offset > avail {
            f.error(format!(
                "copied {n} bytes at offset {offset} from a reader with {avail}"
            ));
            return 0;
        }
        let Some((b, pos)) = f.readers[r] else {
            return 0;
        };
        let start = pos + offset as usize;
        let bytes = f.buffers[b]
            .as_ref()
            .map(|x| x.data[start..start + n as usize].to_vec())
            .unwrap_or_default();
        f.append(d, &bytes);
        n
    })
}
unsafe extern "C" fn reader_alloc(io: *mut IoCtx, b: Handle) -> Handle {
    with(io, 0, |f| {
        f.buffer(b)
            .map_or(0, |b| READER_BASE + f.new_reader(b) as u64)
    })
}
unsafe extern "C" fn reader_free(io: *mut IoCtx, r: Handle) -> i32 {
    with(io, 1, |f| {
        let Some(r) = f.reader(r) else { return 1 };
        f.readers[r] = None;
        0
    })
}
unsafe extern "C" fn reader_avail(io: *mut IoCtx, r: Handle) -> i64 {
    with(io, 0, |f| f.reader(r).map_or(0, |r| f.avail(r) as i64))
}
unsafe extern "C" fn reader_block(
    io: *mut IoCtx,
    r: Handle,
    index: usize,
    out: *mut ByteSlice,
) -> i32 {
    with(io, 0, |f| {
        let Some(r) = f.reader(r) else { return 0 };
        let Some((b, pos)) = f.readers[r] else {
            return 0;
        };
        let Some(buf) = f.buffers[b].as_ref() else {
            return 0;
        };
        let mut start = pos;
        let mut blocks = buf.ends.iter().filter(|e| **e > pos).map(|e| {
            let s = start;
            start = *e;
            (s, *e)
        });
        let Some((s, e)) = blocks.nth(index) else {
            return 0;
        };
        let copy: Box<[u8]> = buf.data[s..e].into();
        if !out.is_null() {
            // SAFETY: `out` is live for this call; the copy is pinned until the callback returns.
            unsafe {
                *out = ByteSlice {
                    ptr: copy.as_ptr(),
                    len: copy.len(),
                }
            };
        }
        f.pinned.push(copy);
        1
    })
}
unsafe extern "C" fn reader_consume(io: *mut IoCtx, r: Handle, n: i64) -> i32 {
    with(io, 1, |f| {
        let Some(r) = f.reader(r) else { return 1 };
        if n < 0 || n as usize > f.avail(r) {
            f.error(format!("consumed {n} bytes, more than available"));
            return 1;
        }
        f.take(r, n as usize);
        0
    })
}

unsafe extern "C" fn no_header(
    _t: *mut TxnCtx,
    _m: u32,
    _n: ByteSlice,
    _i: usize,
    _o: *mut ByteSlice,
) -> i32 {
    0
}
unsafe extern "C" fn no_header_at(
    _t: *mut TxnCtx,
    _m: u32,
    _i: usize,
    _n: *mut ByteSlice,
    _v: *mut ByteSlice,
) -> i32 {
    0
}
unsafe extern "C" fn no_set(_t: *mut TxnCtx, _m: u32, _n: ByteSlice, _v: ByteSlice) -> i32 {
    1
}
unsafe extern "C" fn no_remove(_t: *mut TxnCtx, _m: u32, _n: ByteSlice) -> i32 {
    0
}
unsafe extern "C" fn no_str(_t: *mut TxnCtx, _o: *mut ByteSlice) -> i32 {
    0
}
unsafe extern "C" fn no_status(_t: *mut TxnCtx) -> i32 {
    0
}
unsafe extern "C" fn no_status_set(_t: *mut TxnCtx, _s: u16) -> i32 {
    1
}
unsafe extern "C" fn no_fail(_t: *mut TxnCtx, _s: u16, _m: ByteSlice) -> i32 {
    1
}
unsafe extern "C" fn no_add(_t: *mut TxnCtx, _d: u32, _i: *mut c_void) -> i32 {
    1
}

/// The fake's host table: real IO functions, transaction functions that
/// find nothing (hooks are not exercised by the fake).
pub(super) static FAKE_TABLE: HostTable = HostTable {
    size: std::mem::size_of::<HostTable>(),
    abi_minor: ABI_MINOR,
    log,
    transform_self,
    transform_output_vconn,
    vconn_write,
    vconn_read,
    vconn_close,
    vconn_abort,
    vconn_shutdown,
    vconn_closed,
    vconn_read_vio,
    vconn_write_vio,
    vio_buffer,
    vio_reader,
    vio_vconn,
    vio_cont,
    vio_nbytes_get,
    vio_nbytes_set,
    vio_ndone_get,
    vio_ndone_set,
    vio_ntodo,
    vio_reenable,
    vio_cont_call,
    buffer_create,
    buffer_destroy,
    buffer_water_mark_get,
    buffer_water_mark_set,
    buffer_append_copy,
    buffer_append_owned,
    buffer_copy,
    reader_alloc,
    reader_free,
    reader_avail,
    reader_block,
    reader_consume,
    txn_header_get: no_header,
    txn_header_at: no_header_at,
    txn_header_set: no_set,
    txn_header_append: no_set,
    txn_header_remove: no_remove,
    txn_method: no_str,
    txn_url: no_str,
    txn_status_get: no_status,
    txn_status_set: no_status_set,
    txn_fail: no_fail,
    txn_add_transform: no_add,
};
