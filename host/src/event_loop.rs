//! One worker: a mio `Poll`, its own `SO_REUSEPORT` listener, and every
//! connection it accepted. A transaction lives on the worker that accepted
//! its client connection, so nothing per transaction is shared.
//!
//! Tokens: `LISTENER`, `WAKER`, then one token per socket, the slab index
//! offset by `FIRST_SOCKET`. A slot holds a client session, the back-pointer
//! of an origin socket in use by a session, or an idle pooled origin socket.

use crate::access_log::{AccessLog, WorkerLog};
use crate::h1::date::DateCache;
use crate::metrics::WorkerMetrics;
use crate::origin::OriginConn;
use crate::session::{Ctx, Session, Step};
use crate::settings::Settings;
use crate::shared::Shared;
use crate::spare::Spares;
use crate::splice::PipePool;
use crate::watchdog::WorkerWatch;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The listening socket.
const LISTENER: Token = Token(0);
/// Woken by the signal thread on shutdown and reload.
const WAKER: Token = Token(1);
/// Slab index `i` is token `i + FIRST_SOCKET`.
const FIRST_SOCKET: usize = 2;
/// How often timers are swept; timeouts are accurate to this.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// What a slab slot holds.
pub enum Slot {
    /// A client connection and whatever transaction it is running.
    Client(Box<Session>),
    /// Taken out while its session is being driven.
    Busy,
    /// An origin socket owned by the session in this slot.
    OriginOf(usize),
    /// A pooled keep-alive origin connection (boxed: a slot is paid for by every socket).
    Idle(Box<OriginConn>),
}

/// Converts between slab indexes and tokens.
pub fn token_of(index: usize) -> Token {
    Token(index + FIRST_SOCKET)
}

/// One event loop thread's state.
pub struct Worker {
    poll: Poll,
    listener: Option<TcpListener>,
    slots: Slab<Slot>,
    /// Slab indexes of idle origin connections, most recently used last.
    pool: Vec<usize>,
    settings: Arc<Settings>,
    shared: Arc<Shared>,
    draining_since: Option<Instant>,
    /// Sessions whose transform chains have queued events left over.
    pending: Vec<usize>,
    /// Sessions holding a response head for its first body bytes: driven
    /// after the next poll whatever it brings (see [`ClientIo::hold`]).
    held: Vec<usize>,
    /// The shared read block empty connections read into.
    scratch: bytes::BytesMut,
    /// What the watchdog sees of this worker (and its listener).
    watch: Arc<WorkerWatch>,
    /// The Date field value, re-formatted at most once a second.
    date: DateCache,
    /// This worker's per-transaction numbers, registered for `/metrics`.
    metrics: Arc<WorkerMetrics>,
    /// This worker's access log buffer; flushed on the sweep and when `run` returns.
    access: WorkerLog,
    /// Empty pipes for spliced response bodies.
    pipes: PipePool,
    /// Transaction boxes and write-queue storage that idle connections gave back.
    spares: Spares,
}

impl Worker {
    /// A worker on `listener`; registers a waker in `shared` for signals.
    pub fn new(
        listener: std::net::TcpListener,
        settings: Arc<Settings>,
        shared: Arc<Shared>,
        access: &AccessLog,
    ) -> io::Result<Self> {
        let metrics = shared.metrics.register_worker();
        let poll = Poll::new()?;
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        shared.add_waker(Waker::new(poll.registry(), WAKER)?);
        let name = std::thread::current().name().unwrap_or("worker").to_string();
        let watch = WorkerWatch::register(&name, listener.as_raw_fd());
        Ok(Worker {
            poll,
            listener: Some(listener),
            slots: Slab::with_capacity(1024),
            pool: Vec::new(),
            settings,
            shared,
            draining_since: None,
            pending: Vec::new(),
            held: Vec::new(),
            scratch: bytes::BytesMut::new(),
            watch,
            date: DateCache::default(),
            metrics,
            access: WorkerLog::new(access),
            pipes: PipePool::default(),
            spares: Spares::default(),
        })
    }

    /// Runs until shutdown has drained every connection (or the drain timeout passed).
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut next_sweep = Instant::now() + SWEEP_EVERY;
        loop {
            // Back from a plugin callback the watchdog flagged: accept again.
            self.watch.resume();
            let timeout = if self.pending.is_empty() && self.held.is_empty() {
                next_sweep.saturating_duration_since(Instant::now())
            } else {
                // Chains have work queued, or heads wait: look at the sockets, then come straight back.
                Duration::ZERO
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                // A signal landed on this thread; just poll again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            // Held before this poll: their wait ends with this round, body bytes or not.
            let due = std::mem::take(&mut self.held);
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {}
                    Token(t) => {
                        // A FIN that came with the last data gives no new edge: remember it.
                        let readable = event.is_readable() || event.is_read_closed();
                        let fin = event.is_read_closed();
                        self.on_socket(t - FIRST_SOCKET, readable, event.is_writable(), fin)
                    }
                }
            }
            for (stream, peer) in self.watch.take_inbox() {
                // Taken from a stuck worker's accept queue by the watchdog.
                if stream.set_nonblocking(true).is_ok() {
                    self.admit(TcpStream::from_std(stream), peer);
                }
            }
            for index in std::mem::take(&mut self.pending) {
                self.drive(index, false);
            }
            for index in due {
                self.drive(index, false);
            }
            if self.shared.shutting_down.load(Ordering::Acquire) && self.draining_since.is_none() {
                self.start_drain();
            }
            let now = Instant::now();
            if now >= next_sweep {
                self.sweep(now);
                // The sweep runs even when idle, so a quiet worker's lines still go out within a second.
                self.access.tick(now);
                next_sweep = now + SWEEP_EVERY;
            }
            if let Some(since) = self.draining_since {
                let sessions = self.slots.iter().filter(|(_, s)| matches!(s, Slot::Client(_))).count();
                if sessions == 0 || now.duration_since(since) >= self.settings.drain_timeout {
                    if sessions > 0 {
                        tracing::warn!(sessions, "drain timeout passed; closing remaining connections");
                    }
                    return Ok(());
                }
            }
        }
    }

    fn accept_all(&mut self) {
        loop {
            let Some(listener) = self.listener.as_ref() else { return };
            if self.watch.paused() {
                // Stopped by the watchdog while this worker was stuck; `resume` re-listens.
                return;
            }
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer),
                // Drained the accept queue; wait for the next readiness event.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EMFILE and friends: log and try again on the next event rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    return;
                }
            }
        }
    }

    fn admit(&mut self, mut stream: TcpStream, peer: std::net::SocketAddr) {
        let open = self.shared.connections.fetch_add(1, Ordering::AcqRel);
        if open >= self.settings.max_connections {
            self.shared.connections.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(%peer, max = self.settings.max_connections, "connection limit reached; refusing");
            return;
        }
        let _ = stream.set_nodelay(true);
        let entry = self.slots.vacant_entry();
        let index = entry.key();
        if let Err(e) =
            self.poll.registry().register(&mut stream, token_of(index), Interest::READABLE | Interest::WRITABLE)
        {
            self.shared.connections.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(error = %e, "register failed");
            return;
        }
        entry.insert(Slot::Client(Box::new(Session::new(stream, peer, index, Instant::now()))));
        self.drive(index, false);
    }

    fn on_socket(&mut self, index: usize, readable: bool, writable: bool, fin: bool) {
        match self.slots.get_mut(index) {
            Some(Slot::Client(s)) => {
                s.client_ready(readable, writable, fin);
                self.drive(index, false);
            }
            Some(Slot::OriginOf(owner)) => {
                let owner = *owner;
                if let Some(Slot::Client(s)) = self.slots.get_mut(owner) {
                    s.origin_ready(readable, writable, fin);
                }
                self.drive(owner, false);
            }
            Some(Slot::Idle(conn)) => {
                // An idle pooled connection has nothing to say: data or EOF both mean it is
                // unusable. The event may be stale, though: collected in this batch before the
                // drive that read the last body bytes and pooled the connection. Only what is
                // waiting on the socket now counts.
                if readable && !conn.is_quiet() {
                    self.drop_idle(index);
                }
            }
            Some(Slot::Busy) | None => {}
        }
    }

    /// Takes the session out of its slot, lets it make all the progress it can, and puts it back or closes it.
    fn drive(&mut self, index: usize, timer: bool) {
        let Some(slot) = self.slots.get_mut(index) else { return };
        if !matches!(slot, Slot::Client(_)) {
            return;
        }
        let Slot::Client(mut session) = std::mem::replace(slot, Slot::Busy) else { return };
        let draining = self.draining_since.is_some();
        let mut ctx = Ctx {
            registry: self.poll.registry(),
            slots: &mut self.slots,
            pool: &mut self.pool,
            settings: &self.settings,
            shared: &self.shared,
            now: Instant::now(),
            draining,
            more_work: false,
            scratch: &mut self.scratch,
            date: &mut self.date,
            metrics: &self.metrics,
            access: &mut self.access,
            pipes: &mut self.pipes,
            spares: &mut self.spares,
        };
        let step = if timer { session.on_timer(&mut ctx) } else { session.drive(&mut ctx) };
        let (more_work, hold) = (ctx.more_work, session.holds_head());
        match step {
            Step::Open => {
                self.slots[index] = Slot::Client(session);
                if more_work && !self.pending.contains(&index) {
                    self.pending.push(index);
                }
                if hold {
                    self.held.push(index);
                }
            }
            Step::Close => {
                session.close(&mut ctx);
                self.slots.remove(index);
                self.shared.connections.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.trim_pool();
    }

    fn drop_idle(&mut self, index: usize) {
        if let Slot::Idle(mut conn) = self.slots.remove(index) {
            let _ = self.poll.registry().deregister(conn.stream_mut());
        }
        self.pool.retain(|&i| i != index);
    }

    fn trim_pool(&mut self) {
        while self.pool.len() > self.settings.max_idle_origin {
            let oldest = self.pool[0];
            self.drop_idle(oldest);
        }
    }

    fn sweep(&mut self, now: Instant) {
        let due: Vec<usize> = self
            .slots
            .iter()
            .filter_map(|(i, s)| match s {
                Slot::Client(s) if s.deadline(&self.settings) <= now => Some(i),
                _ => None,
            })
            .collect();
        for index in due {
            self.drive(index, true);
        }
    }

    fn start_drain(&mut self) {
        self.draining_since = Some(Instant::now());
        if let Some(mut l) = self.listener.take() {
            self.watch.listener_closed();
            let _ = self.poll.registry().deregister(&mut l);
        }
        // Idle client connections close now; busy ones close after their transaction.
        let clients: Vec<usize> =
            self.slots.iter().filter(|(_, s)| matches!(s, Slot::Client(_))).map(|(i, _)| i).collect();
        for index in clients {
            self.drive(index, false);
        }
    }
}
