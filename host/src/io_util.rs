//! Socket reads straight into a `BytesMut`'s spare capacity, and socket
//! writes by `send(2)` / `sendmsg(2)`.
//!
//! Both use the socket calls rather than `read(2)` / `writev(2)`: those go
//! through the file layer first (position lock, permission hooks, the
//! iterator wrappers) before reaching the same socket code, about 2% of a
//! small proxied request's CPU in a profile. They are made through
//! `syscall(2)`: glibc's own wrappers are thread-cancellation points,
//! which costs two atomic updates per call for a feature the host never
//! uses (it cancels no thread).

use bytes::{BufMut, BytesMut};
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;

/// Below this much spare capacity a read first reserves a new chunk.
const MIN_SPARE: usize = 4096;

/// The result of one non-blocking read.
pub enum ReadOutcome {
    /// This many bytes were appended; `true` if that was less than there was
    /// room for, so the socket's receive queue is empty now. Edge-triggered
    /// polling reports the next arrival, so the caller can skip the read that
    /// would only return `WouldBlock`.
    Data(usize, bool),
    /// The peer closed its sending side.
    Eof,
    /// Nothing to read now; wait for the next readiness event.
    WouldBlock,
}

/// Reads once for a connection whose read buffer is `buf`. An empty `buf`
/// (a new head, or a body whose bytes have all moved on) reads into the
/// worker's shared `scratch` block and takes the bytes as a zero-copy split
/// of it: a connection between reads holds no block of its own, and small
/// heads share one allocation instead of costing one each.
pub fn read_buffered<S: AsRawFd>(
    sock: &S,
    buf: &mut BytesMut,
    scratch: &mut BytesMut,
    chunk: usize,
) -> io::Result<ReadOutcome> {
    if !buf.is_empty() {
        return read_into(sock, buf, chunk);
    }
    let outcome = read_into(sock, scratch, chunk)?;
    if let ReadOutcome::Data(..) = outcome {
        *buf = scratch.split();
    }
    Ok(outcome)
}

/// Reads once into `buf`, reserving `chunk` bytes of room first.
///
/// `recv(2)` into uninitialised capacity is sound where a `&mut [u8]` over
/// it would not be, and it spares zeroing every buffer before each read.
pub fn read_into<S: AsRawFd>(sock: &S, buf: &mut BytesMut, chunk: usize) -> io::Result<ReadOutcome> {
    // Reuse the spare tail of the current block while it is worth a read: reserving a whole
    // chunk every time would allocate a new block whenever body bytes split off it are in flight.
    if buf.capacity() - buf.len() < MIN_SPARE.min(chunk) {
        buf.reserve(chunk);
    }
    loop {
        let spare = buf.chunk_mut();
        let len = spare.len();
        // SAFETY: `spare` points at `len` writable bytes owned by `buf`; recv(2) writes at most `len`.
        let n = unsafe { sys_recv(sock.as_raw_fd(), spare.as_mut_ptr(), len) };
        if n > 0 {
            let n = n as usize;
            // SAFETY: the kernel initialised exactly `n` bytes of the spare capacity.
            unsafe { buf.advance_mut(n) };
            return Ok(ReadOutcome::Data(n, n < len));
        }
        if n == 0 {
            return Ok(ReadOutcome::Eof);
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            // Retry a read cut short by a signal.
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(ReadOutcome::WouldBlock),
            _ => return Err(err),
        }
    }
}

/// A connected socket as an [`io::Write`] that sends with `send(2)` (one
/// block) or `sendmsg(2)` (several), with `MSG_NOSIGNAL`: a peer gone away
/// is an `EPIPE` error, never a signal.
pub struct SocketWriter<'a, S: AsRawFd>(pub &'a S);

impl<S: AsRawFd> io::Write for SocketWriter<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is `buf.len()` readable bytes for the length of the call.
        let n = unsafe {
            libc::syscall(
                libc::SYS_sendto,
                self.0.as_raw_fd(),
                buf.as_ptr(),
                buf.len(),
                libc::MSG_NOSIGNAL,
                0usize,
                0usize,
            )
        };
        sent(n as isize)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if let [one] = bufs {
            return self.write(one);
        }
        // SAFETY: an all-zero msghdr is valid (no address, no control data).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        // IoSlice is ABI-compatible with iovec on Unix; sendmsg only reads through the pointer.
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len() as _;
        // SAFETY: `msg` points at `bufs`, valid for the call; no other field is set.
        let n = unsafe {
            libc::syscall(libc::SYS_sendmsg, self.0.as_raw_fd(), &msg as *const libc::msghdr, libc::MSG_NOSIGNAL)
        };
        sent(n as isize)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `recv(2)` with no flags, made directly (see the module docs).
///
/// # Safety
/// `ptr` must point at `len` writable bytes.
unsafe fn sys_recv(fd: libc::c_int, ptr: *mut u8, len: usize) -> isize {
    // SAFETY: the caller vouches for the buffer; a null address and length are allowed.
    unsafe { libc::syscall(libc::SYS_recvfrom, fd, ptr, len, 0, 0usize, 0usize) as isize }
}

/// A send call's return value as a result.
fn sent(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
