//! Origin connections: connecting, the per-worker keep-alive pool, and the
//! socket buffers of one connection in use by a transaction.
//!
//! A connection lives in one box from connect to close, moving between a
//! transaction and the pool's slab slot by pointer: a slab slot stays two
//! words, which every socket of the worker pays for, and pooling a
//! connection allocates nothing.

use crate::event_loop::{token_of, Slot};
use crate::h1::write_queue::WriteQueue;
use crate::io_util::{read_buffered, ReadOutcome, SocketWriter};
use crate::session::Ctx;
use bytes::BytesMut;
use mio::net::TcpStream;
use mio::Interest;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Origin connections open in the process, in use or pooled (`/metrics` reports it).
pub static ORIGIN_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

/// One connection to the origin.
pub struct OriginConn {
    stream: TcpStream,
    /// Its slab slot (and so its token).
    pub index: usize,
    /// Bytes read from the origin, not yet decoded.
    pub rbuf: BytesMut,
    /// Request bytes waiting to go out.
    pub wbuf: WriteQueue,
    /// Edge-triggered readiness, cleared on `WouldBlock`.
    pub readable: bool,
    /// Edge-triggered readiness, cleared on `WouldBlock`.
    pub writable: bool,
    /// The poller reported the origin's FIN: read to EOF, a short read proves nothing.
    pub fin: bool,
    /// True once the TCP handshake is known to have finished.
    pub connected: bool,
    /// True when taken from the pool rather than freshly connected.
    pub reused: bool,
}

impl OriginConn {
    /// Starts a non-blocking connect for the session in slot `owner`.
    pub fn connect(ctx: &mut Ctx, owner: usize) -> io::Result<Box<OriginConn>> {
        let mut stream = TcpStream::connect(ctx.settings.origin)?;
        let _ = stream.set_nodelay(true);
        let entry = ctx.slots.vacant_entry();
        let index = entry.key();
        ctx.registry.register(&mut stream, token_of(index), Interest::READABLE | Interest::WRITABLE)?;
        entry.insert(Slot::OriginOf(owner));
        ORIGIN_CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        ctx.metrics.origin_opened();
        Ok(Box::new(OriginConn {
            stream,
            index,
            rbuf: BytesMut::new(),
            wbuf: WriteQueue::default(),
            readable: false,
            writable: false,
            fin: false,
            connected: false,
            reused: false,
        }))
    }

    /// The most recently pooled connection, handed to the session in slot `owner`.
    pub fn from_pool(ctx: &mut Ctx, owner: usize) -> Option<Box<OriginConn>> {
        while let Some(index) = ctx.pool.pop() {
            if let Some(slot) = ctx.slots.get_mut(index) {
                if let Slot::Idle(mut conn) = std::mem::replace(slot, Slot::OriginOf(owner)) {
                    conn.reused = true;
                    ctx.metrics.origin_reused();
                    // Idle sockets had their send buffer empty; a write will tell if that changed.
                    conn.writable = true;
                    return Some(conn);
                }
            }
        }
        None
    }

    /// Returns a healthy connection to the pool.
    pub fn release(mut self: Box<Self>, ctx: &mut Ctx) {
        self.readable = false;
        // A pooled connection holds no read block (the next read uses the worker's shared one).
        self.rbuf = BytesMut::new();
        let index = self.index;
        ctx.slots[index] = Slot::Idle(self);
        ctx.pool.push(index);
    }

    /// True if nothing waits on the socket: no byte, no end of stream, no error.
    /// A pooled connection must be quiet to be reused.
    pub fn is_quiet(&self) -> bool {
        matches!(self.stream.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Closes the connection and frees its slot.
    pub fn close(mut self, ctx: &mut Ctx) {
        let _ = ctx.registry.deregister(&mut self.stream);
        if ctx.slots.contains(self.index) {
            ctx.slots.remove(self.index);
        }
    }

    /// The socket, for reads and writes.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// The socket, mutably.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Reads once from the origin into `rbuf`, asking for `chunk` bytes of room.
    pub fn fill(&mut self, chunk: usize, scratch: &mut BytesMut) -> io::Result<ReadOutcome> {
        read_buffered(&self.stream, &mut self.rbuf, scratch, chunk)
    }

    /// After a writable event on a connecting socket: did the handshake succeed?
    pub fn check_connected(&mut self) -> io::Result<bool> {
        if self.connected {
            return Ok(true);
        }
        if let Some(e) = self.stream.take_error()? {
            return Err(e);
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.connected = true;
                Ok(true)
            }
            // Still in progress: wait for the next event.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes queued request bytes; false if the socket would block.
    pub fn flush(&mut self) -> io::Result<usize> {
        let n = self.wbuf.write_to(&mut SocketWriter(&self.stream))?;
        if !self.wbuf.is_empty() {
            self.writable = false;
        }
        Ok(n)
    }
}

impl Drop for OriginConn {
    fn drop(&mut self) {
        ORIGIN_CONNECTIONS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What an origin socket error means, as the end of "the origin server ...":
/// the words an operator needs in the 502 page and the log line to tell a
/// down origin (refused) from a crashing one (reset) or a slow network.
pub fn describe_failure(e: &io::Error) -> String {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "refused the connection (is it running, on that port?)".to_string(),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => "reset the connection".to_string(),
        K::TimedOut => "timed out".to_string(),
        K::HostUnreachable | K::NetworkUnreachable => format!("is unreachable ({e})"),
        _ => format!("failed: {e}"),
    }
}
