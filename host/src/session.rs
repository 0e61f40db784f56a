//! A client connection: reads request heads, runs one transaction at a time
//! (pipelined requests wait in the read buffer and are answered in order),
//! keeps the connection alive between them, and enforces the head, idle and
//! drain rules.
//!
//! States: `Idle` (no transaction, nothing buffered), `Head` (bytes of a head
//! arriving), `Busy` (a transaction runs), `Closing` (flush, then close).
//! `drive` returns `Step::Open` or `Step::Close`.

use crate::access_log::{Origin, Outcome, Record, RequestLine, WorkerLog};
use crate::error_page;
use crate::event_loop::Slot;
use crate::h1::date::DateCache;
use crate::h1::head::{take_request, HeadError};
use crate::h1::write_queue::WriteQueue;
use crate::io_util::{read_buffered, ReadOutcome, SocketWriter};
use crate::metrics::WorkerMetrics;
use crate::settings::Settings;
use crate::shared::Shared;
use crate::spare::Spares;
use crate::splice::PipePool;
use crate::txn::{Txn, TxnStep};
use bytes::BytesMut;
use mio::net::TcpStream;
use mio::Registry;
use slab::Slab;
use std::net::SocketAddr;
use std::time::Instant;

/// Bytes asked of the kernel per read.
pub const READ_CHUNK: usize = 256 * 1024;
/// Bytes asked of the kernel per read when nothing is buffered (a new head).
pub const HEAD_CHUNK: usize = 8 * 1024;
/// How much of a refused head's first line its access log line keeps.
const LOGGED_LINE_BYTES: usize = 8 * 1024;

/// What the event loop lends a session while driving it.
pub struct Ctx<'a> {
    /// For registering origin sockets.
    pub registry: &'a Registry,
    /// Every socket slot of this worker.
    pub slots: &'a mut Slab<Slot>,
    /// Idle origin connections (slab indexes).
    pub pool: &'a mut Vec<usize>,
    /// Run-time settings.
    pub settings: &'a Settings,
    /// Process-wide flags.
    pub shared: &'a Shared,
    /// The time this round of events started.
    pub now: Instant,
    /// True once SIGTERM asked us to finish up.
    pub draining: bool,
    /// The worker's shared read block (see [`read_buffered`]).
    pub scratch: &'a mut BytesMut,
    /// Set by a transform chain that hit its per-run event bound: drive the
    /// session again from the event loop before sleeping.
    pub more_work: bool,
    /// The worker's formatted Date, for responses the origin sent without one.
    pub date: &'a mut DateCache,
    /// The worker's per-transaction numbers (`/metrics`).
    pub metrics: &'a WorkerMetrics,
    /// The worker's access log buffer.
    pub access: &'a mut WorkerLog,
    /// The worker's empty pipes for spliced bodies.
    pub pipes: &'a mut PipePool,
    /// The worker's spare transaction boxes and write-queue storage.
    pub spares: &'a mut Spares,
}

/// What the event loop should do with the session after a drive.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Keep it; more events will come.
    Open,
    /// Close the connection and free the slot.
    Close,
}

/// The client side's socket and buffers, lent to the transaction.
pub struct ClientIo {
    /// The client socket.
    pub stream: TcpStream,
    /// The client's address, for X-Forwarded-For and logs.
    pub peer: SocketAddr,
    /// Bytes read, not yet parsed or forwarded.
    pub rbuf: BytesMut,
    /// Response bytes waiting to go out.
    pub wbuf: WriteQueue,
    /// Edge-triggered readiness, cleared on `WouldBlock`.
    pub readable: bool,
    /// Edge-triggered readiness, cleared on `WouldBlock`.
    pub writable: bool,
    /// The client closed its sending side.
    pub eof: bool,
    /// The poller reported the peer's FIN: read to EOF, a short read proves nothing.
    pub fin: bool,
    /// Last time a byte moved on this connection or its transaction.
    pub last_activity: Instant,
    /// The queue holds a response head whose body has not started: it is not
    /// written until the next drive, which comes after the worker's next poll
    /// at the latest. An origin often writes the head and the body apart, and
    /// a head sent alone costs the client and the host a send, a receive and
    /// a wake-up more; nginx holds small output back the same way
    /// (`postpone_output`), but without a bound.
    pub hold: bool,
}

impl ClientIo {
    /// Reads once if readable and under `cap`; true if anything happened.
    pub fn fill(&mut self, cap: usize, chunk: usize, scratch: &mut BytesMut) -> std::io::Result<bool> {
        if !self.readable || self.eof || self.rbuf.len() >= cap {
            return Ok(false);
        }
        match read_buffered(&self.stream, &mut self.rbuf, scratch, chunk)? {
            ReadOutcome::Data(_, drained) => {
                self.readable &= !drained || self.fin;
                Ok(true)
            }
            ReadOutcome::Eof => {
                self.eof = true;
                Ok(true)
            }
            ReadOutcome::WouldBlock => {
                self.readable = false;
                Ok(false)
            }
        }
    }

    /// Writes what is queued; true if anything was written.
    pub fn flush(&mut self) -> std::io::Result<bool> {
        if !self.writable || self.wbuf.is_empty() {
            return Ok(false);
        }
        let n = self.wbuf.write_to(&mut SocketWriter(&self.stream))?;
        if !self.wbuf.is_empty() {
            self.writable = false;
        }
        Ok(n > 0)
    }
}

/// One client connection.
///
/// Small on purpose: an idle keep-alive connection is this struct and its
/// slab slot. The transaction is boxed and the write queue's storage lent,
/// both from the worker's [`Spares`], only while a transaction runs.
pub struct Session {
    io: ClientIo,
    index: usize,
    txn: Option<Box<Txn>>,
    /// Set when the connection must close once the write queue drains.
    closing: bool,
    /// When the current head began arriving (or the connection opened).
    head_started: Option<Instant>,
}

impl Session {
    /// A new connection in slab slot `index`.
    pub fn new(stream: TcpStream, peer: SocketAddr, index: usize, now: Instant) -> Self {
        Session {
            io: ClientIo {
                stream,
                peer,
                rbuf: BytesMut::new(),
                wbuf: WriteQueue::default(),
                readable: false,
                writable: false,
                eof: false,
                fin: false,
                last_activity: now,
                hold: false,
            },
            index,
            txn: None,
            closing: false,
            head_started: Some(now),
        }
    }

    /// Records readiness of the client socket.
    pub fn client_ready(&mut self, readable: bool, writable: bool, fin: bool) {
        self.io.readable |= readable;
        self.io.fin |= fin;
        self.io.writable |= writable;
    }

    /// Records readiness of the transaction's origin socket.
    pub fn origin_ready(&mut self, readable: bool, writable: bool, fin: bool) {
        if let Some(txn) = self.txn.as_mut() {
            txn.origin_ready(readable, writable, fin);
        }
    }

    /// When the next timeout of this connection falls due.
    pub fn deadline(&self, s: &Settings) -> Instant {
        if let Some(txn) = self.txn.as_ref() {
            return txn.deadline(s, self.io.last_activity);
        }
        match self.head_started {
            Some(started) => started + s.head_timeout,
            None => self.io.last_activity + s.idle_timeout,
        }
    }

    /// The timer sweep found this connection due.
    pub fn on_timer(&mut self, ctx: &mut Ctx) -> Step {
        if let Some(txn) = self.txn.as_mut() {
            return match txn.on_timer(&mut self.io, ctx) {
                TxnStep::Continue | TxnStep::Progress => self.drive(ctx),
                other => match self.finish_txn(other, ctx) {
                    Step::Close => Step::Close,
                    // The error page is queued: the write side has no new edge coming, so flush now.
                    Step::Open => self.drive(ctx),
                },
            };
        }
        if self.head_started.is_some() {
            tracing::info!(peer = %self.io.peer, "request head timeout; closing");
            self.io.wbuf.push(error_page::render(408, "the request head did not arrive in time", true));
            let _ = self.io.flush();
        }
        Step::Close
    }

    /// The client's queue holds a response head back ([`ClientIo::hold`]):
    /// drive the session again after the next poll.
    pub fn holds_head(&self) -> bool {
        self.io.hold
    }

    /// Makes all the progress possible without blocking.
    pub fn drive(&mut self, ctx: &mut Ctx) -> Step {
        // A head held by the last drive waits no longer.
        self.io.hold = false;
        loop {
            let mut progress = false;
            let cap = ctx.settings.buffer_bytes.max(ctx.settings.limits.max_head_bytes + 1);
            // Heads are small: between transactions read into a small block, bodies into large ones.
            let chunk = if self.txn.is_none() && self.io.rbuf.is_empty() { HEAD_CHUNK } else { READ_CHUNK };
            match self.io.fill(cap, chunk, ctx.scratch) {
                Ok(true) => {
                    progress = true;
                    self.io.last_activity = ctx.now;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::debug!(peer = %self.io.peer, error = %e, "client read failed");
                    return self.abort(ctx);
                }
            }
            if self.txn.is_none() && !self.closing {
                progress |= self.start_next(ctx);
            }
            if let Some(txn) = self.txn.as_mut() {
                match txn.step(&mut self.io, ctx) {
                    TxnStep::Continue => {}
                    TxnStep::Progress => progress = true,
                    other => {
                        if self.finish_txn(other, ctx) == Step::Close {
                            return Step::Close;
                        }
                        progress = true;
                    }
                }
            }
            match if self.io.hold { Ok(false) } else { self.io.flush() } {
                Ok(true) => {
                    progress = true;
                    self.io.last_activity = ctx.now;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::debug!(peer = %self.io.peer, error = %e, "client write failed");
                    return self.abort(ctx);
                }
            }
            if self.txn.is_none() && self.io.wbuf.is_empty() {
                if self.closing {
                    return Step::Close;
                }
                if self.io.eof && self.io.rbuf.is_empty() {
                    return Step::Close;
                }
                if ctx.draining && self.io.rbuf.is_empty() {
                    return Step::Close;
                }
            }
            if !progress {
                if self.txn.is_none() && self.io.wbuf.is_empty() && self.io.rbuf.is_empty() {
                    // Idle between requests: the next request takes storage back from the worker.
                    ctx.spares.reclaim_queue(&mut self.io.wbuf);
                }
                return Step::Open;
            }
        }
    }

    /// Parses the next request head if one is buffered; true if state changed.
    fn start_next(&mut self, ctx: &mut Ctx) -> bool {
        if self.io.rbuf.is_empty() {
            if self.io.eof {
                self.closing = true;
                return true;
            }
            return false;
        }
        if self.head_started.is_none() {
            self.head_started = Some(ctx.now);
        }
        match take_request(&mut self.io.rbuf, &ctx.settings.limits, &mut ctx.spares.heads) {
            Ok(Some((head, len))) => {
                self.head_started = None;
                ctx.spares.lend_queue(&mut self.io.wbuf);
                match Txn::start(head, len, self.index, &mut self.io, ctx) {
                    Ok(txn) => self.txn = Some(ctx.spares.boxed(txn)),
                    Err(page) => {
                        self.io.wbuf.push(page);
                        self.closing = true;
                    }
                }
                true
            }
            Ok(None) => {
                if self.io.eof {
                    // A partial head and then EOF: nothing to answer.
                    self.closing = true;
                    return true;
                }
                false
            }
            Err(e) => {
                let status = e.status();
                let why = match &e {
                    HeadError::TooLarge => "the request head is too large",
                    HeadError::TooManyHeaders => "the request has too many header fields",
                    HeadError::VersionNotSupported => "this proxy speaks HTTP/1.x only",
                    HeadError::Malformed(what) => what,
                };
                tracing::info!(peer = %self.io.peer, status, reason = why, "refused request");
                let page = error_page::render(status, why, true);
                ctx.metrics.transaction(status, self.io.rbuf.len() as u64, page.len() as u64, None);
                self.log_refused_head(status, page.len(), ctx);
                self.io.wbuf.push(page);
                self.io.rbuf.clear();
                self.closing = true;
                true
            }
        }
    }

    /// The access log line of a head that did not parse, as nginx logs its 400s:
    /// the request line as far as it arrived (up to [`LOGGED_LINE_BYTES`]).
    fn log_refused_head(&self, status: u16, page_len: usize, ctx: &mut Ctx) {
        let raw = &self.io.rbuf[..self.io.rbuf.len().min(LOGGED_LINE_BYTES)];
        let line = raw.iter().position(|&b| b == b'\n').map_or(raw, |end| &raw[..end]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        ctx.access.record(&Record {
            peer: self.io.peer.ip(),
            request: RequestLine::Raw(line),
            status,
            bytes_in: self.io.rbuf.len() as u64,
            bytes_out: page_len as u64,
            duration: ctx.now.saturating_duration_since(self.head_started.unwrap_or(ctx.now)),
            origin: Origin::None,
            outcome: Outcome::Refused,
            referer: None,
            user_agent: None,
        });
    }

    fn finish_txn(&mut self, step: TxnStep, ctx: &mut Ctx) -> Step {
        let Some(txn) = self.txn.take() else { return Step::Open };
        let keep = ctx.spares.unboxed(txn).finish(&step, &mut self.io, ctx);
        self.head_started = None;
        if self.io.rbuf.is_empty() {
            // Let go of the shared block the last read came from.
            self.io.rbuf = BytesMut::new();
        }
        self.io.last_activity = ctx.now;
        match step {
            TxnStep::Done if keep && !ctx.draining => Step::Open,
            TxnStep::Done | TxnStep::Failed => {
                self.closing = true;
                Step::Open
            }
            // The response was cut short: close at once so the client cannot mistake it for complete.
            _ => {
                let _ = self.io.flush();
                Step::Close
            }
        }
    }

    fn abort(&mut self, ctx: &mut Ctx) -> Step {
        if let Some(txn) = self.txn.take() {
            ctx.spares.unboxed(txn).finish(&TxnStep::Aborted, &mut self.io, ctx);
        }
        Step::Close
    }

    /// Releases everything the session holds.
    pub fn close(mut self, ctx: &mut Ctx) {
        if let Some(txn) = self.txn.take() {
            ctx.spares.unboxed(txn).finish(&TxnStep::Aborted, &mut self.io, ctx);
        }
        let _ = ctx.registry.deregister(&mut self.io.stream);
        // What is still queued is not going out; the storage serves the next connection.
        self.io.wbuf.clear();
        ctx.spares.reclaim_queue(&mut self.io.wbuf);
    }
}
