//! One transaction: a request forwarded to the origin, its response relayed
//! back, each body streamed through a [`BodyPipe`] (decoder, transform
//! chain if plugins added one, encoder) with bounded buffers.
//!
//! Hook order (plugins run in plugin.config order at each):
//!
//! ```text
//! request head read  -> read_request_headers  -> request chain? -> upstream head (when its length is known)
//! response head read -> read_response_headers -> response chain? -> send_response_headers -> client head
//! end (any outcome)  -> txn_close
//! ```
//!
//! Response states: `AwaitHead` -> `Body` -> (`Splice`, an untransformed body
//! moved with `splice(2)`, see [`spliced`]) -> `Done`; or `AwaitHead` ->
//! `Tunnel` (a `101 Switching Protocols`, see [`tunnel`]) -> `Done`. `step` returns a
//! [`TxnStep`]: keep going, finished cleanly, failed with an error page
//! (close after it), or aborted (close now, the response was cut short).

use crate::access_log::{Origin, Outcome, Record, RequestLine};
use crate::body::{BodyPipe, PipeError, Pump};

pub(crate) mod forward_heads;
mod replace;
mod response;
mod spliced;
mod tunnel;
use crate::bridge::{HookResult, TxnPlugins, TxnView};
use crate::error_page;
use crate::h1::decode::Decoder;
use crate::h1::encode::Encoder;
use crate::h1::head::{keep_alive, request_framing, BodyKind, HeadError, Headers, RequestHead, ResponseHead, Version};
use crate::io_util::ReadOutcome;
use crate::origin::{describe_failure, OriginConn};
use crate::session::{ClientIo, Ctx, HEAD_CHUNK, READ_CHUNK};

/// A response head with less than this queued behind it (its body has not
/// started, or barely) is held until the next poll ([`ClientIo::hold`]):
/// nginx's `postpone_output` default, one Ethernet segment's payload.
const HOLD_BELOW_BYTES: usize = 1460;
use crate::settings::Settings;
use bytes::Bytes;
use forward_heads::upstream_request;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Transactions alive in the process (the admin endpoint reports it).
pub static LIVE_TRANSACTIONS: AtomicUsize = AtomicUsize::new(0);

/// What a transaction step asks of its session.
#[derive(Debug, PartialEq, Eq)]
pub enum TxnStep {
    /// Nothing could be done now.
    Continue,
    /// Something moved; drive again.
    Progress,
    /// Request and response both complete.
    Done,
    /// An error page was queued; close the client connection after it.
    Failed,
    /// The response was cut short; close the client connection now.
    Aborted,
}

enum Resp {
    AwaitHead,
    Body(BodyPipe),
    /// The rest of an untransformed body, moved with `splice(2)`.
    Splice(spliced::SplicedBody),
    /// Bytes both ways after a 101; `origin_shut`: the client's EOF was passed on.
    Tunnel {
        origin_shut: bool,
    },
    Done,
}

/// A transaction in flight.
pub struct Txn {
    owner: usize,
    /// The client's request head, as plugins left it.
    request: RequestHead,
    /// The request body's framing as received.
    request_body: BodyKind,
    /// The response body's framing as received (`Empty` until a response).
    response_body: BodyKind,
    client_keep_alive: bool,
    plugins: Option<TxnPlugins>,
    /// The request head as sent upstream, once its framing is known; kept to retry.
    upstream_head: Option<Bytes>,
    /// The client's `Upgrade` value when it asked to switch protocols and it was forwarded.
    upgrade: Option<Bytes>,
    retry_allowed: bool,
    /// `None`: the request has no body.
    req: Option<BodyPipe>,
    origin: Option<Box<OriginConn>>,
    origin_eof: bool,
    origin_reused: bool,
    connect_started: Instant,
    got_origin_bytes: bool,
    origin_reusable: bool,
    resp: Resp,
    /// The response body may go through a pipe once its buffered bytes are queued.
    splice_wanted: bool,
    /// A response head waiting for its chain's output length.
    pending_head: Option<ResponseHead>,
    /// The origin's Content-Length of `pending_head` (hop-by-hop stripping
    /// removed it from the head), for a transformed body that kept its length.
    pending_length: Option<Bytes>,
    resp_head_sent: bool,
    status: u16,
    started: Instant,
    bytes_in: u64,
    bytes_out: u64,
    /// Of `bytes_out`, those spliced.
    bytes_spliced: u64,
    /// How long a chain may spin without moving a byte: the inactivity timeout.
    busy_limit: std::time::Duration,
}

/// The access log's status for a transaction that sent nothing (nginx's "client closed request").
const CLIENT_CLOSED: u16 = 499;

const IDEMPOTENT: &[&str] = &["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"];

impl Txn {
    /// Starts a transaction for a parsed request head; `Err` is an error page to send before closing.
    pub fn start(
        mut head: RequestHead,
        head_len: usize,
        owner: usize,
        io: &mut ClientIo,
        ctx: &mut Ctx,
    ) -> Result<Txn, Bytes> {
        let framing = match request_framing(&head) {
            Ok(k) => k,
            Err(e) => {
                let why = match e {
                    HeadError::Malformed(w) => w,
                    _ => "bad request framing",
                };
                tracing::info!(peer = %io.peer, reason = why, "refused request");
                return Err(refused(ctx, io, &head, head_len, 400, error_page::render(400, why, true)));
            }
        };
        if head.method == "CONNECT" {
            let page = error_page::render(501, "CONNECT is not supported by this reverse proxy", true);
            return Err(refused(ctx, io, &head, head_len, 501, page));
        }
        let mut plugins = ctx.shared.generation_for_txn().map(TxnPlugins::new);
        let mut request_chain = None;
        if let Some(p) = plugins.as_mut() {
            let mut view = TxnView::request(&mut head, framing);
            if let HookResult::Fail { status, message } = p.read_request_headers(&mut view) {
                tracing::warn!(peer = %io.peer, status, "{message}");
                p.txn_close(&mut view);
                let page = error_page::render(status, "the request was refused by a plugin", true);
                return Err(refused(ctx, io, &head, head_len, status, page));
            }
            request_chain = p.take_request_chain().map(|mut c| {
                c.set_busy_limit(ctx.settings.inactivity_timeout);
                c
            });
        }
        let has_body = framing != BodyKind::Empty;
        // RFC 9110 section 15.2: no 1xx to an HTTP/1.0 client, which cannot read one.
        let continue_ok = head.version == Version::Http11;
        if continue_ok && head.headers.has_token("expect", "100-continue") && has_body && io.rbuf.is_empty() {
            io.wbuf.push(Bytes::from_static(b"HTTP/1.1 100 Continue\r\n\r\n"));
        }
        let upgrade = tunnel::upgrade_asked(&head, framing);
        let (req, upstream_head) = match (has_body, request_chain) {
            (false, _) => {
                (None, Some(upstream_request(&head, framing, upgrade.as_deref(), io, &mut ctx.spares.head_block)))
            }
            (true, Some(chain)) => {
                let len = match framing {
                    BodyKind::Length(n) => Some(n),
                    _ => None,
                };
                (Some(BodyPipe::through(Decoder::new(framing), chain, len)), None)
            }
            (true, None) => {
                let up = if let BodyKind::Length(n) = framing { BodyKind::Length(n) } else { BodyKind::Chunked };
                let pipe = BodyPipe::direct(Decoder::new(framing), Encoder::new(up));
                (Some(pipe), Some(upstream_request(&head, up, None, io, &mut ctx.spares.head_block)))
            }
        };
        let retry_allowed = !has_body && IDEMPOTENT.contains(&&*head.method);
        let mut txn = Txn {
            owner,
            client_keep_alive: keep_alive(head.version, &head.headers),
            request: head,
            request_body: framing,
            response_body: BodyKind::Empty,
            plugins,
            upstream_head,
            upgrade,
            retry_allowed,
            req,
            origin: None,
            origin_eof: false,
            origin_reused: false,
            connect_started: ctx.now,
            got_origin_bytes: false,
            origin_reusable: false,
            resp: Resp::AwaitHead,
            splice_wanted: false,
            pending_head: None,
            pending_length: None,
            resp_head_sent: false,
            status: 0,
            started: ctx.now,
            bytes_in: head_len as u64,
            bytes_out: 0,
            bytes_spliced: 0,
            busy_limit: ctx.settings.inactivity_timeout,
        };
        LIVE_TRANSACTIONS.fetch_add(1, Ordering::Relaxed);
        let origin = match OriginConn::from_pool(ctx, owner) {
            Some(o) => o,
            None => match OriginConn::connect(ctx, owner) {
                Ok(o) => o,
                Err(e) => {
                    let what = describe_failure(&e);
                    tracing::warn!(origin = %ctx.settings.origin, "origin connect failed: the origin server {what}");
                    txn.status = 502;
                    let page = error_page::render(502, &format!("the origin server {what}"), true);
                    txn.bytes_out += page.len() as u64;
                    txn.finish(&TxnStep::Failed, io, ctx);
                    return Err(page);
                }
            },
        };
        txn.attach(origin);
        Ok(txn)
    }

    fn attach(&mut self, mut origin: Box<OriginConn>) {
        self.origin_reused = origin.reused;
        if let Some(head) = &self.upstream_head {
            origin.wbuf.push(head.clone());
        }
        self.origin = Some(origin);
    }

    fn req_done(&self) -> bool {
        self.req.as_ref().is_none_or(BodyPipe::is_done)
    }

    /// Records readiness of the origin socket.
    pub fn origin_ready(&mut self, readable: bool, writable: bool, fin: bool) {
        if let Some(o) = self.origin.as_mut() {
            o.readable |= readable;
            o.fin |= fin;
            o.writable |= writable;
        }
    }

    /// When this transaction times out if nothing moves.
    pub fn deadline(&self, s: &Settings, last_activity: Instant) -> Instant {
        let idle = last_activity + s.inactivity_timeout;
        match self.origin.as_ref() {
            Some(o) if !o.connected => idle.min(self.connect_started + s.connect_timeout),
            _ => idle,
        }
    }

    /// The timer sweep found this transaction due.
    pub fn on_timer(&mut self, io: &mut ClientIo, ctx: &mut Ctx) -> TxnStep {
        if ctx.now < self.deadline(ctx.settings, io.last_activity) {
            return TxnStep::Continue;
        }
        if matches!(self.resp, Resp::Tunnel { .. }) {
            tracing::info!(peer = %io.peer, target = %self.request.target, "tunnel idle past the inactivity timeout; closing");
            return TxnStep::Done;
        }
        let stalled = self.req.as_ref().and_then(BodyPipe::charge_stall).or_else(|| match &self.resp {
            Resp::Body(pipe) => pipe.charge_stall(),
            _ => None,
        });
        if let Some(fault) = stalled {
            return self.plugin_failed(&fault.to_string(), io);
        }
        // The worker itself was held in a plugin callback for at least half
        // of the time this transaction sat idle: nothing could move, and the
        // origin is not to blame.
        if let Some((plugin, callback, ran)) = crate::bridge::long_call_since(io.last_activity) {
            if ran * 2 >= ctx.now.saturating_duration_since(io.last_activity) {
                let fault = format!(
                    "plugin {plugin}: held this worker for {} ms in its {callback}, so this transaction could \
                     not move (inactivity timeout)",
                    ran.as_millis()
                );
                return self.plugin_failed(&fault, io);
            }
        }
        let connecting = self.origin.as_ref().is_some_and(|o| !o.connected);
        let (what, page) = if connecting {
            ("origin connect timed out", "the origin server timed out: it did not accept the connection in time")
        } else {
            ("transaction inactivity timeout", "the origin server timed out: it did not answer in time")
        };
        tracing::warn!(peer = %io.peer, target = %self.request.target, "{what}");
        self.fail(504, page, io)
    }

    /// Moves every byte that can move now.
    pub fn step(&mut self, io: &mut ClientIo, ctx: &mut Ctx) -> TxnStep {
        let mut progress = false;
        let head_was_sent = self.resp_head_sent;
        let Some(o) = self.origin.as_mut() else { return TxnStep::Continue };
        if !o.connected {
            if !o.writable {
                return TxnStep::Continue;
            }
            match o.check_connected() {
                Ok(true) => progress = true,
                Ok(false) => return TxnStep::Continue,
                Err(e) => return self.origin_failed(describe_failure(&e), io, ctx),
            }
        }
        match self.send_request_body(io, ctx) {
            TxnStep::Continue => {}
            TxnStep::Progress => progress = true,
            other => return other,
        }
        let Some(o) = self.origin.as_mut() else { return TxnStep::Continue };
        if o.writable && !o.wbuf.is_empty() {
            match o.flush() {
                Ok(n) => progress |= n > 0,
                Err(e) => return self.origin_failed(describe_failure(&e), io, ctx),
            }
        }
        // Origin reads stop while the client is behind: that is the backpressure.
        let cap = ctx.settings.buffer_bytes;
        if o.readable
            && !self.origin_eof
            && io.wbuf.len() < cap
            && o.rbuf.len() < cap
            && matches!(self.resp, Resp::AwaitHead | Resp::Body(_) | Resp::Tunnel { .. })
        {
            // A head is small; a body is read in large blocks.
            let chunk = if matches!(self.resp, Resp::AwaitHead) { HEAD_CHUNK } else { READ_CHUNK };
            match o.fill(chunk, ctx.scratch) {
                Ok(ReadOutcome::Data(_, drained)) => {
                    o.readable &= !drained || o.fin;
                    self.got_origin_bytes = true;
                    // Kept only to retry on a stale pooled connection, which an answer rules
                    // out: let go of it, and of the worker's head block it was split off.
                    self.upstream_head = None;
                    progress = true;
                }
                Ok(ReadOutcome::Eof) => {
                    self.origin_eof = true;
                    progress = true;
                }
                Ok(ReadOutcome::WouldBlock) => o.readable = false,
                Err(e) => return self.origin_failed(describe_failure(&e), io, ctx),
            }
        }
        match self.relay_response(io, ctx) {
            TxnStep::Continue => {}
            TxnStep::Progress => progress = true,
            other => return other,
        }
        if matches!(self.resp, Resp::Done) {
            io.hold = false;
            return TxnStep::Done;
        }
        if matches!(self.resp, Resp::Tunnel { .. }) {
            // A 101 and what follows it are awaited by the other side: nothing waits for company.
            io.hold = false;
        } else if !head_was_sent && self.resp_head_sent {
            io.hold = io.wbuf.len() < HOLD_BELOW_BYTES;
        } else if io.wbuf.len() >= HOLD_BELOW_BYTES {
            io.hold = false;
        }
        if progress {
            TxnStep::Progress
        } else {
            TxnStep::Continue
        }
    }

    /// Request body: client read buffer -> [request chain] -> origin write queue.
    fn send_request_body(&mut self, io: &mut ClientIo, ctx: &mut Ctx) -> TxnStep {
        let cap = ctx.settings.buffer_bytes;
        let (Some(pipe), Some(o)) = (self.req.as_mut(), self.origin.as_mut()) else { return TxnStep::Continue };
        if pipe.is_done() {
            return TxnStep::Continue;
        }
        let mut progress = false;
        loop {
            let before = io.rbuf.len();
            let pumped = pipe.pump(&mut io.rbuf, io.eof, &mut o.wbuf, cap);
            self.bytes_in += (before - io.rbuf.len()) as u64;
            match pumped {
                Ok(Pump::NeedHead(len)) => {
                    let kind = len.map_or(BodyKind::Chunked, BodyKind::Length);
                    let head = upstream_request(&self.request, kind, None, io, &mut ctx.spares.head_block);
                    o.wbuf.push(head.clone());
                    self.upstream_head = Some(head);
                    pipe.set_encoder(Encoder::new(kind));
                    progress = true;
                }
                Ok(Pump::Done | Pump::Progress) => return TxnStep::Progress,
                Ok(Pump::Replace(r)) => {
                    let read = pipe.input_complete();
                    self.req = None;
                    if !read {
                        // The rest of the request body is still on the client connection.
                        self.client_keep_alive = false;
                    }
                    return self.send_replacement(r, read, io);
                }
                Ok(Pump::MoreWork) => {
                    ctx.more_work = true;
                    break;
                }
                Ok(Pump::Idle) => break,
                Err(PipeError::Truncated) => {
                    tracing::info!(peer = %io.peer, "client closed during the request body");
                    return TxnStep::Aborted;
                }
                Err(PipeError::Decode(e)) => {
                    tracing::info!(peer = %io.peer, error = %e, "bad request body framing");
                    return self.fail(400, "the request body framing is invalid", io);
                }
                Err(PipeError::Encode(e)) => {
                    tracing::warn!(peer = %io.peer, error = %e, "request body length mismatch");
                    return self.fail(400, "the request body is longer than declared", io);
                }
                Err(PipeError::Plugin(fault)) => return self.plugin_failed(&fault.to_string(), io),
            }
        }
        if progress {
            TxnStep::Progress
        } else {
            TxnStep::Continue
        }
    }

    fn plugin_failed(&mut self, fault: &str, io: &mut ClientIo) -> TxnStep {
        tracing::warn!(peer = %io.peer, target = %self.request.target, "{fault}; aborting this transaction");
        self.fail(500, "a plugin failed while handling this transaction", io)
    }

    /// The origin connection failed; `what` ends "the origin server ...".
    fn origin_failed(&mut self, what: String, io: &mut ClientIo, ctx: &mut Ctx) -> TxnStep {
        if let Some(o) = self.origin.take() {
            let stale = o.reused && !self.got_origin_bytes;
            o.close(ctx);
            if stale && self.retry_allowed {
                // A pooled connection the origin had already closed: retry once on a fresh one.
                self.retry_allowed = false;
                tracing::debug!(what, "stale pooled origin connection; retrying on a fresh one");
                match OriginConn::connect(ctx, self.owner) {
                    Ok(fresh) => {
                        self.connect_started = ctx.now;
                        self.origin_eof = false;
                        self.attach(fresh);
                        return TxnStep::Progress;
                    }
                    Err(e) => tracing::warn!(error = %e, "origin connect failed"),
                }
            }
        }
        let what = format!("the origin server {what}");
        tracing::warn!(origin = %ctx.settings.origin, target = %self.request.target, "origin failed: {what}");
        self.fail(502, &what, io)
    }

    /// Fails the transaction: an error page if nothing was sent yet, else a cut.
    fn fail(&mut self, status: u16, why: &str, io: &mut ClientIo) -> TxnStep {
        if self.resp_head_sent {
            return TxnStep::Aborted;
        }
        self.status = status;
        let page = error_page::render(status, why, true);
        self.bytes_out += page.len() as u64;
        io.wbuf.push(page);
        TxnStep::Failed
    }

    /// Ends the transaction: runs txn_close, pools or closes the origin
    /// connection, writes the access log line, and says whether the client
    /// connection may carry another request.
    pub fn finish(mut self, step: &TxnStep, io: &mut ClientIo, ctx: &mut Ctx) -> bool {
        let clean = *step == TxnStep::Done;
        let req_done = self.req_done();
        // Chains go first: a transform must not outlive its transaction's hooks.
        self.req = None;
        if let Resp::Splice(body) = std::mem::replace(&mut self.resp, Resp::Done) {
            // A pipe still holding bytes is closed, never reused.
            ctx.pipes.give_back(body.into_pipe());
        }
        if let Some(p) = self.plugins.as_mut() {
            p.txn_close(&mut TxnView::request(&mut self.request, self.request_body));
        }
        if let Some(o) = self.origin.take() {
            if clean && req_done && self.origin_reusable && !self.origin_eof && o.rbuf.is_empty() && o.wbuf.is_empty() {
                o.release(ctx);
            } else {
                o.close(ctx);
            }
        }
        // The status the client got: none if neither a head nor an error page went out.
        let status = if self.resp_head_sent || *step == TxnStep::Failed { self.status } else { 0 };
        let took = ctx.now.saturating_duration_since(self.started);
        // Plugins can edit headers but not the request line: it is logged as received.
        let (method, target) = (&*self.request.method, self.request.target.as_str());
        ctx.access.record(&Record {
            peer: io.peer.ip(),
            request: RequestLine::Parsed { method, target, version: self.request.version.as_str() },
            // Nothing was sent: the client went away first. nginx's 499 says so, and keeps
            // the field three digits for log parsers.
            status: if status == 0 { CLIENT_CLOSED } else { status },
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            duration: took,
            origin: if self.origin_reused { Origin::Reused } else { Origin::New },
            outcome: match step {
                TxnStep::Done => Outcome::Done,
                TxnStep::Failed => Outcome::Failed,
                _ => Outcome::Aborted,
            },
            referer: agent_header(ctx, &self.request.headers, "referer"),
            user_agent: agent_header(ctx, &self.request.headers, "user-agent"),
        });
        ctx.metrics.transaction(status, self.bytes_in, self.bytes_out, Some(took));
        if self.bytes_spliced > 0 {
            ctx.metrics.spliced(self.bytes_spliced);
        }
        // The head's storage serves the worker's next request; its bytes go now.
        ctx.spares.heads.keep_fields(std::mem::take(&mut self.request.headers));
        ctx.spares.heads.keep_target(std::mem::take(&mut self.request.target));
        clean && req_done && self.client_keep_alive
    }
}

/// Counts and logs a request refused before its transaction started (no
/// latency: it never reached the origin); returns its error page.
fn refused(ctx: &mut Ctx, io: &ClientIo, head: &RequestHead, head_len: usize, status: u16, page: Bytes) -> Bytes {
    ctx.metrics.transaction(status, head_len as u64, page.len() as u64, None);
    ctx.access.record(&Record {
        peer: io.peer.ip(),
        request: RequestLine::Parsed { method: &head.method, target: &head.target, version: head.version.as_str() },
        status,
        bytes_in: head_len as u64,
        bytes_out: page.len() as u64,
        duration: std::time::Duration::ZERO,
        origin: Origin::None,
        outcome: Outcome::Refused,
        referer: agent_header(ctx, &head.headers, "referer"),
        user_agent: agent_header(ctx, &head.headers, "user-agent"),
    });
    page
}

/// A header the access log shows, looked up only when its format shows it:
/// a scan of the head per request that common, kv and off would not use.
fn agent_header<'a>(ctx: &Ctx, headers: &'a Headers, name: &str) -> Option<&'a [u8]> {
    ctx.access.shows_agent().then(|| headers.get(name)).flatten()
}

impl Drop for Txn {
    fn drop(&mut self) {
        LIVE_TRANSACTIONS.fetch_sub(1, Ordering::Relaxed);
    }
}
