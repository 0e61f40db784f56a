//! The fake host's IO functions: each rebuilds the [`Fake`] from the context
//! pointer and does what the real host does, minus the sharing of blocks.

use crate::ffi::{event_code, ByteSlice, Handle, IoCtx, OwnedBytes, STATUS_BAD_ARG, STATUS_OK, STATUS_TOO_LATE};
use crate::message::Message;

use super::state::{Fake, FakeCell, FakeVio, KIND_BUFFER, KIND_READER, KIND_VCONN, TERMINUS, TRANSFORM};

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

pub(super) unsafe extern "C" fn log(level: u32, msg: ByteSlice) {
    use crate::log::Level;
    let level = [Level::Error, Level::Warn, Level::Info].get(level as usize).copied().unwrap_or(Level::Debug);
    // SAFETY: lent for this call.
    super::keep_log(level, String::from_utf8_lossy(unsafe { msg.as_slice() }).into_owned());
}

/// Keeps the replacement, as the host would before the head left.
pub(super) unsafe extern "C" fn transform_replace(
    io: *mut IoCtx,
    status: u16,
    fields: *const ByteSlice,
    nfields: usize,
    body: ByteSlice,
) -> i32 {
    if !(200..=599).contains(&status) || !nfields.is_multiple_of(2) || (fields.is_null() && nfields != 0) {
        return STATUS_BAD_ARG;
    }
    // SAFETY: the plugin lends `nfields` slices and the body for this call.
    let (fields, body) = unsafe {
        (if nfields == 0 { &[][..] } else { std::slice::from_raw_parts(fields, nfields) }, body.as_slice().to_vec())
    };
    let text = |s: &ByteSlice| String::from_utf8_lossy(unsafe { s.as_slice() }).into_owned();
    let headers = fields.chunks(2).map(|p| (text(&p[0]), text(&p[1]))).collect();
    with(io, STATUS_BAD_ARG, |f| {
        if f.announced.is_some() || f.replaced.is_some() {
            return STATUS_TOO_LATE;
        }
        f.replaced = Some(Message { status, headers, body });
        STATUS_OK
    })
}
pub(super) unsafe extern "C" fn transform_self(io: *mut IoCtx) -> Handle {
    with(io, 0, |f| f.h(KIND_VCONN, TRANSFORM))
}
pub(super) unsafe extern "C" fn transform_output_vconn(io: *mut IoCtx) -> Handle {
    with(io, 0, |f| f.h(KIND_VCONN, TERMINUS))
}
pub(super) unsafe extern "C" fn vconn_write(io: *mut IoCtx, vc: Handle, reader: Handle, nbytes: i64) -> Handle {
    with(io, 0, |f| {
        if f.refuse_after_close("started a write") {
            return 0;
        }
        let Some(r) = f.reader(reader) else { return 0 };
        if f.vconn(vc) != Some(TERMINUS) || f.vios[TERMINUS].started || nbytes < 0 {
            f.error(format!("bad write: vconn {vc}, nbytes {nbytes}, or a second write"));
            return 0;
        }
        f.vios[TERMINUS] = FakeVio { started: true, shut: false, nbytes, ndone: 0, reader: r };
        f.announced = Some(nbytes);
        f.push(Some(TERMINUS), event_code::IMMEDIATE, 0);
        f.vio_handle(TERMINUS)
    })
}
pub(super) unsafe extern "C" fn vconn_read(_io: *mut IoCtx, _vc: Handle, _b: Handle, _n: i64) -> Handle {
    0
}
pub(super) unsafe extern "C" fn vconn_close(io: *mut IoCtx, _vc: Handle) -> i32 {
    with(io, 1, |f| {
        f.closed[TERMINUS] = 1;
        0
    })
}
pub(super) unsafe extern "C" fn vconn_abort(io: *mut IoCtx, _vc: Handle, _e: i32) -> i32 {
    with(io, 1, |f| {
        // On purpose, not a broken rule: reported as `aborted`, as the host counts it.
        f.aborted = true;
        f.closed[TERMINUS] = 2;
        0
    })
}
pub(super) unsafe extern "C" fn vconn_shutdown(io: *mut IoCtx, vc: Handle, _read: u8, write: u8) -> i32 {
    with(io, 1, |f| {
        if f.vconn(vc) == Some(TERMINUS) && write != 0 {
            let v = f.vios[TERMINUS];
            if v.nbytes - v.ndone > 0 {
                f.error("shut its output down before the output took every byte".into());
            }
            f.vios[TERMINUS].shut = true;
        }
        0
    })
}
pub(super) unsafe extern "C" fn vconn_closed(io: *mut IoCtx, vc: Handle) -> i32 {
    with(io, 0, |f| f.vconn(vc).map_or(0, |i| f.closed[i]))
}
pub(super) unsafe extern "C" fn vconn_read_vio(_io: *mut IoCtx, _vc: Handle) -> Handle {
    0
}
pub(super) unsafe extern "C" fn vconn_write_vio(io: *mut IoCtx, vc: Handle) -> Handle {
    with(io, 0, |f| match f.vconn(vc) {
        Some(i) if f.vios[i].started => f.vio_handle(i),
        _ => 0,
    })
}
pub(super) unsafe extern "C" fn vio_buffer(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |f| match f.vio(vio) {
        Some(v) if !f.vios[v].shut => f.readers[f.vios[v].reader].map_or(0, |(b, _)| f.h(KIND_BUFFER, b)),
        _ => 0,
    })
}
pub(super) unsafe extern "C" fn vio_reader(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |f| match f.vio(vio) {
        Some(v) if !f.vios[v].shut => f.h(KIND_READER, f.vios[v].reader),
        _ => 0,
    })
}
pub(super) unsafe extern "C" fn vio_vconn(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |f| f.vio(vio).map_or(0, |v| f.h(KIND_VCONN, v)))
}
pub(super) unsafe extern "C" fn vio_cont(io: *mut IoCtx, vio: Handle) -> Handle {
    with(io, 0, |f| match f.vio(vio) {
        Some(TERMINUS) => f.h(KIND_VCONN, TRANSFORM),
        _ => 0,
    })
}
pub(super) unsafe extern "C" fn vio_nbytes_get(io: *mut IoCtx, vio: Handle) -> i64 {
    with(io, 0, |f| f.vio(vio).map_or(0, |v| f.vios[v].nbytes))
}
pub(super) unsafe extern "C" fn vio_nbytes_set(io: *mut IoCtx, vio: Handle, n: i64) -> i32 {
    with(io, 1, |f| {
        if f.refuse_after_close("set nbytes") {
            return 1;
        }
        let Some(v) = f.vio(vio) else { return 1 };
        let old = f.vios[v];
        if n < old.ndone || (v == TERMINUS && old.nbytes != i64::MAX && n != old.nbytes) {
            f.error(format!("set nbytes to {n} (was {}, ndone {})", old.nbytes, old.ndone));
            return 1;
        }
        f.vios[v].nbytes = n;
        0
    })
}
pub(super) unsafe extern "C" fn vio_ndone_get(io: *mut IoCtx, vio: Handle) -> i64 {
    with(io, 0, |f| f.vio(vio).map_or(0, |v| f.vios[v].ndone))
}
pub(super) unsafe extern "C" fn vio_ndone_set(io: *mut IoCtx, vio: Handle, n: i64) -> i32 {
    with(io, 1, |f| {
        if f.refuse_after_close("set ndone") {
            return 1;
        }
        let Some(v) = f.vio(vio) else { return 1 };
        if v != TRANSFORM || n < 0 || n > f.vios[v].nbytes {
            f.error(format!("set ndone to {n} on VIO {vio}"));
            return 1;
        }
        f.vios[v].ndone = n;
        0
    })
}
pub(super) unsafe extern "C" fn vio_ntodo(io: *mut IoCtx, vio: Handle) -> i64 {
    with(io, 0, |f| f.vio(vio).map_or(0, |v| f.vios[v].nbytes - f.vios[v].ndone))
}
pub(super) unsafe extern "C" fn vio_reenable(io: *mut IoCtx, vio: Handle) -> i32 {
    with(io, 1, |f| {
        if f.refuse_after_close("reenabled a VIO") {
            return 1;
        }
        let Some(v) = f.vio(vio) else { return 1 };
        f.push(Some(v), event_code::IMMEDIATE, 0);
        0
    })
}
pub(super) unsafe extern "C" fn vio_cont_call(io: *mut IoCtx, vio: Handle, event: u32) -> i32 {
    with(io, 1, |f| {
        if f.refuse_after_close("called back a VIO's continuation") {
            return 1;
        }
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
pub(super) unsafe extern "C" fn buffer_create(io: *mut IoCtx) -> Handle {
    with(io, 0, |f| {
        if f.refuse_after_close("created an IO buffer") {
            return 0;
        }
        let b = f.new_buffer(false);
        f.h(KIND_BUFFER, b)
    })
}
pub(super) unsafe extern "C" fn buffer_destroy(io: *mut IoCtx, b: Handle) -> i32 {
    with(io, 1, |f| {
        let Some(b) = f.buffer(b) else { return 1 };
        if f.buffers[b].as_ref().is_some_and(|x| x.by_host) {
            f.error("destroyed an IO buffer it did not create (its input's buffer)".into());
            return 1;
        }
        f.buffers[b] = None;
        0
    })
}
pub(super) unsafe extern "C" fn buffer_water_mark_get(io: *mut IoCtx, b: Handle) -> i64 {
    with(io, 0, |f| f.buffer(b).and_then(|b| f.buffers[b].as_ref()).map_or(0, |x| x.water_mark as i64))
}
pub(super) unsafe extern "C" fn buffer_water_mark_set(io: *mut IoCtx, b: Handle, mark: i64) -> i32 {
    with(io, 1, |f| {
        let Some(b) = f.buffer(b) else { return 1 };
        if let Some(x) = f.buffers[b].as_mut() {
            x.water_mark = usize::try_from(mark).unwrap_or(0);
        }
        0
    })
}
pub(super) unsafe extern "C" fn buffer_append_copy(io: *mut IoCtx, b: Handle, bytes: ByteSlice) -> i32 {
    // SAFETY: lent for this call.
    let bytes = unsafe { bytes.as_slice() };
    with(io, 1, |f| {
        if f.refuse_after_close("appended to an IO buffer") {
            return 1;
        }
        let Some(b) = f.buffer(b) else { return 1 };
        f.append(b, bytes);
        0
    })
}
pub(super) unsafe extern "C" fn buffer_append_owned(io: *mut IoCtx, b: Handle, bytes: OwnedBytes) -> i32 {
    // The fake copies, then releases at once: the contract allows any time.
    // SAFETY: valid until release, which follows.
    let status = unsafe { buffer_append_copy(io, b, ByteSlice { ptr: bytes.ptr, len: bytes.len }) };
    // SAFETY: released exactly once.
    unsafe { (bytes.release)(bytes.owner) };
    status
}
pub(super) unsafe extern "C" fn buffer_copy(io: *mut IoCtx, dst: Handle, reader: Handle, n: i64, offset: i64) -> i64 {
    with(io, 0, |f| {
        if f.refuse_after_close("copied into an IO buffer") {
            return 0;
        }
        let (Some(d), Some(r)) = (f.buffer(dst), f.reader(reader)) else {
            return 0;
        };
        let avail = f.avail(r) as i64;
        if n < 0 || offset < 0 || n + offset > avail {
            f.error(format!("copied {n} bytes at offset {offset} from a reader with {avail}"));
            return 0;
        }
        let Some((b, pos)) = f.readers[r] else {
            return 0;
        };
        let start = pos + offset as usize;
        let bytes = f.buffers[b].as_ref().map(|x| x.data[start..start + n as usize].to_vec()).unwrap_or_default();
        f.append(d, &bytes);
        n
    })
}
pub(super) unsafe extern "C" fn reader_alloc(io: *mut IoCtx, b: Handle) -> Handle {
    with(io, 0, |f| {
        let Some(b) = f.buffer(b) else { return 0 };
        let r = f.new_reader(b);
        f.h(KIND_READER, r)
    })
}
pub(super) unsafe extern "C" fn reader_free(io: *mut IoCtx, r: Handle) -> i32 {
    with(io, 1, |f| {
        let Some(r) = f.reader(r) else { return 1 };
        f.readers[r] = None;
        0
    })
}
pub(super) unsafe extern "C" fn reader_avail(io: *mut IoCtx, r: Handle) -> i64 {
    with(io, 0, |f| {
        if f.refuse_after_close("read from a reader") {
            return 0;
        }
        f.reader(r).map_or(0, |r| f.avail(r) as i64)
    })
}
pub(super) unsafe extern "C" fn reader_block(io: *mut IoCtx, r: Handle, index: usize, out: *mut ByteSlice) -> i32 {
    with(io, 0, |f| {
        if f.refuse_after_close("read from a reader") {
            return 0;
        }
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
            unsafe { *out = ByteSlice { ptr: copy.as_ptr(), len: copy.len() } };
        }
        f.pinned.push(copy);
        1
    })
}
pub(super) unsafe extern "C" fn reader_consume(io: *mut IoCtx, r: Handle, n: i64) -> i32 {
    with(io, 1, |f| {
        if f.refuse_after_close("consumed from a reader") {
            return 1;
        }
        let Some(r) = f.reader(r) else { return 1 };
        if n < 0 || n as usize > f.avail(r) {
            f.error(format!("consumed {n} bytes, more than available"));
            return 1;
        }
        f.take(r, n as usize);
        0
    })
}
