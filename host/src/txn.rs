//! One transaction: a request forwarded to the origin, its response relayed
//! back, each body streamed through its decoder and encoder with bounded
//! buffers.
//!
//! Response states: `AwaitHead` -> `Body` -> `Done`. Request body: `Body` ->
//! `Done`. `step` returns a [`TxnStep`]: keep going, finished cleanly,
//! failed with an error page (close after it), or aborted (close now, the
//! response was cut short).

use crate::error_page;
use crate::h1::decode::Decoder;
use crate::h1::encode::Encoder;
use crate::h1::head::{
    keep_alive, parse_response, request_framing, response_framing, strip_hop_by_hop, write_request, write_response,
    BodyKind, RequestHead, ResponseHead, Version,
};
use crate::io_util::ReadOutcome;
use crate::origin::OriginConn;
use crate::session::{ClientIo, Ctx};
use crate::settings::Settings;
use bytes::{Buf, Bytes};
use std::time::Instant;

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
    Body { dec: Decoder, enc: Encoder },
    Done,
}

struct ReqBody {
    dec: Decoder,
    enc: Encoder,
    done: bool,
}

/// A transaction in flight.
pub struct Txn {
    owner: usize,
    method: String,
    target: String,
    client_version: Version,
    client_keep_alive: bool,
    /// The request head as sent upstream, kept to retry on a fresh connection.
    upstream_head: Bytes,
    retry_allowed: bool,
    req: ReqBody,
    origin: Option<OriginConn>,
    origin_eof: bool,
    origin_reused: bool,
    connect_started: Instant,
    got_origin_bytes: bool,
    origin_reusable: bool,
    resp: Resp,
    resp_head_sent: bool,
    status: u16,
    started: Instant,
    bytes_in: u64,
    bytes_out: u64,
}

const IDEMPOTENT: &[&str] = &["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"];

impl Txn {
    /// Starts a transaction for a parsed request head; `Err` is an error page to send before closing.
    pub fn start(
        head: RequestHead,
        head_len: usize,
        owner: usize,
        io: &mut ClientIo,
        ctx: &mut Ctx,
    ) -> Result<Txn, Bytes> {
        let framing = match request_framing(&head) {
            Ok(k) => k,
            Err(e) => {
                let why = match e {
                    crate::h1::head::HeadError::Malformed(w) => w,
                    _ => "bad request framing",
                };
                tracing::info!(peer = %io.peer, reason = why, "refused request");
                return Err(error_page::render(400, why, true));
            }
        };
        if head.method == "CONNECT" {
            return Err(error_page::render(501, "CONNECT is not supported by this reverse proxy", true));
        }
        let expects_continue = head.headers.has_token("expect", "100-continue");
        let client_keep_alive = keep_alive(head.version, &head.headers);
        let upstream_head = upstream_request(&head, framing, io);
        let has_body = framing != BodyKind::Empty;
        if expects_continue && has_body && io.rbuf.is_empty() {
            io.wbuf.push(Bytes::from_static(b"HTTP/1.1 100 Continue\r\n\r\n"));
        }
        let up_kind = match framing {
            BodyKind::Length(n) => BodyKind::Length(n),
            BodyKind::Empty => BodyKind::Empty,
            _ => BodyKind::Chunked,
        };
        let mut txn = Txn {
            owner,
            method: head.method,
            target: head.target,
            client_version: head.version,
            client_keep_alive,
            upstream_head,
            retry_allowed: false,
            req: ReqBody { dec: Decoder::new(framing), enc: Encoder::new(up_kind), done: !has_body },
            origin: None,
            origin_eof: false,
            origin_reused: false,
            connect_started: ctx.now,
            got_origin_bytes: false,
            origin_reusable: false,
            resp: Resp::AwaitHead,
            resp_head_sent: false,
            status: 0,
            started: ctx.now,
            bytes_in: head_len as u64,
            bytes_out: 0,
        };
        txn.retry_allowed = !has_body && IDEMPOTENT.contains(&txn.method.as_str());
        let origin = match OriginConn::from_pool(ctx, owner) {
            Some(o) => o,
            None => match OriginConn::connect(ctx, owner) {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(origin = %ctx.settings.origin, error = %e, "origin connect failed");
                    return Err(error_page::render(502, "the origin server could not be reached", true));
                }
            },
        };
        txn.attach(origin);
        Ok(txn)
    }

    fn attach(&mut self, mut origin: OriginConn) {
        self.origin_reused = origin.reused;
        origin.wbuf.push(self.upstream_head.clone());
        self.origin = Some(origin);
    }

    /// Records readiness of the origin socket.
    pub fn origin_ready(&mut self, readable: bool, writable: bool) {
        if let Some(o) = self.origin.as_mut() {
            o.readable |= readable;
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
        let connecting = self.origin.as_ref().is_some_and(|o| !o.connected);
        let what = if connecting { "origin connect timed out" } else { "transaction inactivity timeout" };
        tracing::warn!(peer = %io.peer, target = %self.target, "{what}");
        self.fail(504, "the origin server did not answer in time", io)
    }

    /// Moves every byte that can move now.
    pub fn step(&mut self, io: &mut ClientIo, ctx: &mut Ctx) -> TxnStep {
        let cap = ctx.settings.buffer_bytes;
        let mut progress = false;
        let Some(o) = self.origin.as_mut() else { return TxnStep::Continue };
        if !o.connected {
            if !o.writable {
                return TxnStep::Continue;
            }
            match o.check_connected() {
                Ok(true) => progress = true,
                Ok(false) => return TxnStep::Continue,
                Err(e) => return self.origin_failed(&e.to_string(), io, ctx),
            }
        }
        // Request body: client read buffer -> origin write queue, bounded by `cap`.
        while !self.req.done && o.wbuf.len() < cap {
            let before = io.rbuf.len();
            match self.req.dec.decode(&mut io.rbuf) {
                Ok(Some(chunk)) => {
                    self.bytes_in += (before - io.rbuf.len()) as u64;
                    if self.req.enc.encode(chunk, &mut o.wbuf).is_err() {
                        return self.fail(400, "the request body is longer than declared", io);
                    }
                    progress = true;
                }
                Ok(None) => {
                    self.bytes_in += (before - io.rbuf.len()) as u64;
                    if self.req.dec.is_done() {
                        self.req.done = true;
                        let _ = self.req.enc.finish(&mut o.wbuf);
                        progress = true;
                    } else if io.eof {
                        tracing::info!(peer = %io.peer, "client closed during the request body");
                        return TxnStep::Aborted;
                    }
                    break;
                }
                Err(e) => {
                    tracing::info!(peer = %io.peer, error = ?e, "bad request body framing");
                    return self.fail(400, "the request body framing is invalid", io);
                }
            }
        }
        if o.writable && !o.wbuf.is_empty() {
            match o.flush() {
                Ok(n) => progress |= n > 0,
                Err(e) => return self.origin_failed(&e.to_string(), io, ctx),
            }
        }
        // Origin reads stop while the client is behind: that is the backpressure.
        if o.readable
            && !self.origin_eof
            && io.wbuf.len() < cap
            && o.rbuf.len() < cap
            && !matches!(self.resp, Resp::Done)
        {
            match o.fill() {
                Ok(ReadOutcome::Data(_)) => {
                    self.got_origin_bytes = true;
                    progress = true;
                }
                Ok(ReadOutcome::Eof) => {
                    self.origin_eof = true;
                    progress = true;
                }
                Ok(ReadOutcome::WouldBlock) => o.readable = false,
                Err(e) => return self.origin_failed(&e.to_string(), io, ctx),
            }
        }
        match self.relay_response(io, ctx) {
            TxnStep::Continue => {}
            TxnStep::Progress => progress = true,
            other => return other,
        }
        if matches!(self.resp, Resp::Done) {
            return TxnStep::Done;
        }
        if progress {
            TxnStep::Progress
        } else {
            TxnStep::Continue
        }
    }

    fn relay_response(&mut self, io: &mut ClientIo, ctx: &mut Ctx) -> TxnStep {
        let cap = ctx.settings.buffer_bytes;
        let mut progress = false;
        loop {
            let Some(o) = self.origin.as_mut() else { return TxnStep::Continue };
            match &mut self.resp {
                Resp::AwaitHead => match parse_response(&o.rbuf, &ctx.settings.limits) {
                    Ok(Some((head, len))) => {
                        o.rbuf.advance(len);
                        progress = true;
                        match head.status {
                            // 100 Continue was answered by us; other interim responses carry nothing a client needs.
                            100 | 102..=199 => continue,
                            101 => {
                                return self.fail(
                                    502,
                                    "the origin switched protocols, which this proxy does not relay",
                                    io,
                                )
                            }
                            _ => {
                                if let Some(step) = self.begin_response(head, io, ctx) {
                                    return step;
                                }
                            }
                        }
                    }
                    Ok(None) if self.origin_eof => {
                        return self.origin_failed("the origin closed before a response head", io, ctx)
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = ?e, "malformed response head from the origin");
                        return self.fail(502, "the origin sent a malformed response", io);
                    }
                },
                Resp::Body { dec, enc } => {
                    if io.wbuf.len() >= cap {
                        break;
                    }
                    match dec.decode(&mut o.rbuf) {
                        Ok(Some(chunk)) => {
                            let n = chunk.len();
                            let before = io.wbuf.len();
                            if enc.encode(chunk, &mut io.wbuf).is_err() {
                                return TxnStep::Aborted;
                            }
                            self.bytes_out += (io.wbuf.len() - before).max(n) as u64;
                            progress = true;
                        }
                        Ok(None) if dec.is_done() => {
                            let before = io.wbuf.len();
                            if enc.finish(&mut io.wbuf).is_err() {
                                return TxnStep::Aborted;
                            }
                            self.bytes_out += (io.wbuf.len() - before) as u64;
                            self.resp = Resp::Done;
                            return TxnStep::Progress;
                        }
                        Ok(None) if self.origin_eof => match dec.on_eof() {
                            Ok(()) => {
                                self.origin_reusable = false;
                                let _ = enc.finish(&mut io.wbuf);
                                self.resp = Resp::Done;
                                return TxnStep::Progress;
                            }
                            Err(_) => {
                                tracing::warn!(target = %self.target, "origin closed mid-body; cutting the client connection");
                                return TxnStep::Aborted;
                            }
                        },
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = ?e, "bad response body framing from the origin");
                            return TxnStep::Aborted;
                        }
                    }
                }
                Resp::Done => break,
            }
        }
        if progress {
            TxnStep::Progress
        } else {
            TxnStep::Continue
        }
    }

    /// Sends the client the response head; `Some` ends the transaction early.
    fn begin_response(&mut self, head: ResponseHead, io: &mut ClientIo, ctx: &mut Ctx) -> Option<TxnStep> {
        let kind = match response_framing(&self.method, &head) {
            Ok(k) => k,
            Err(_) => return Some(self.fail(502, "the origin sent an ambiguous response framing", io)),
        };
        self.status = head.status;
        self.origin_reusable = keep_alive(head.version, &head.headers) && kind != BodyKind::CloseDelimited;
        let original_length = head.headers.get("content-length").map(<[u8]>::to_vec);
        let mut out = head;
        let via = if out.version == Version::Http10 { "1.0 plugin-host" } else { "1.1 plugin-host" };
        out.version = Version::Http11;
        strip_hop_by_hop(&mut out.headers);
        out.headers.append("Via", via);
        let client_kind = match kind {
            BodyKind::Empty => {
                if self.method == "HEAD" || out.status == 304 {
                    // HEAD and 304 keep the length of the representation they describe.
                    if let Some(cl) = original_length {
                        out.headers.set("Content-Length", cl);
                    }
                } else if out.status != 204 {
                    // An empty body still needs its end marked on a keep-alive connection.
                    out.headers.set("Content-Length", "0");
                }
                BodyKind::Empty
            }
            BodyKind::Length(n) => {
                out.headers.set("Content-Length", n.to_string());
                BodyKind::Length(n)
            }
            BodyKind::Chunked | BodyKind::CloseDelimited if self.client_version == Version::Http11 => {
                out.headers.set("Transfer-Encoding", "chunked");
                BodyKind::Chunked
            }
            BodyKind::Chunked | BodyKind::CloseDelimited => {
                self.client_keep_alive = false;
                BodyKind::CloseDelimited
            }
        };
        if !self.client_keep_alive || ctx.draining {
            self.client_keep_alive = false;
            out.headers.set("Connection", "close");
        } else if self.client_version == Version::Http10 {
            out.headers.set("Connection", "keep-alive");
        }
        let mut bytes = Vec::with_capacity(256);
        write_response(&out, &mut bytes);
        self.bytes_out += bytes.len() as u64;
        io.wbuf.push_vec(bytes);
        self.resp_head_sent = true;
        self.resp = Resp::Body { dec: Decoder::new(kind), enc: Encoder::new(client_kind) };
        None
    }

    fn origin_failed(&mut self, why: &str, io: &mut ClientIo, ctx: &mut Ctx) -> TxnStep {
        if let Some(o) = self.origin.take() {
            let stale = o.reused && !self.got_origin_bytes;
            o.close(ctx);
            if stale && self.retry_allowed {
                // A pooled connection the origin had already closed: retry once on a fresh one.
                self.retry_allowed = false;
                tracing::debug!(why, "stale pooled origin connection; retrying on a fresh one");
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
        tracing::warn!(origin = %ctx.settings.origin, target = %self.target, why, "origin failed");
        self.fail(502, "the origin server failed before completing the response", io)
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

    /// Ends the transaction: pools or closes the origin connection, writes the access log line,
    /// and says whether the client connection may carry another request.
    pub fn finish(mut self, step: &TxnStep, io: &mut ClientIo, ctx: &mut Ctx) -> bool {
        let clean = *step == TxnStep::Done;
        if let Some(o) = self.origin.take() {
            if clean
                && self.req.done
                && self.origin_reusable
                && !self.origin_eof
                && o.rbuf.is_empty()
                && o.wbuf.is_empty()
            {
                o.release(ctx);
            } else {
                o.close(ctx);
            }
        }
        tracing::info!(
            target: "access",
            "access peer={} method={} target={} status={} bytes_in={} bytes_out={} duration_ms={} origin={} outcome={:?}",
            io.peer.ip(),
            self.method,
            self.target,
            self.status,
            self.bytes_in,
            self.bytes_out,
            ctx.now.saturating_duration_since(self.started).as_millis(),
            if self.origin_reused { "reused" } else { "new" },
            step,
        );
        clean && self.req.done && self.client_keep_alive
    }
}

/// The request head as the origin sees it: origin-form target, hop-by-hop
/// fields removed, Via and X-Forwarded-For added, framing re-declared.
fn upstream_request(head: &RequestHead, framing: BodyKind, io: &ClientIo) -> Bytes {
    let mut up = RequestHead {
        method: head.method.clone(),
        target: head.target.clone(),
        version: Version::Http11,
        headers: head.headers.clone(),
    };
    if let Some(rest) = up.target.strip_prefix("http://").or_else(|| up.target.strip_prefix("https://")) {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        up.headers.set("Host", authority.as_bytes().to_vec());
        up.target = if path.is_empty() { "/".to_string() } else { path.to_string() };
    }
    let had_length = up.headers.get("content-length").is_some();
    strip_hop_by_hop(&mut up.headers);
    up.headers.remove("expect");
    if up.headers.get("host").is_none() {
        up.headers.set("Host", io.stream.local_addr().map(|a| a.to_string()).unwrap_or_default());
    }
    let ip = io.peer.ip().to_string();
    let xff = match up.headers.get("x-forwarded-for") {
        Some(prev) => format!("{}, {ip}", String::from_utf8_lossy(prev)),
        None => ip,
    };
    up.headers.set("X-Forwarded-For", xff);
    up.headers.append("Via", if head.version == Version::Http10 { "1.0 plugin-host" } else { "1.1 plugin-host" });
    match framing {
        BodyKind::Length(n) => up.headers.set("Content-Length", n.to_string()),
        BodyKind::Empty if had_length => up.headers.set("Content-Length", "0"),
        BodyKind::Empty => {}
        BodyKind::Chunked | BodyKind::CloseDelimited => up.headers.set("Transfer-Encoding", "chunked"),
    }
    let mut out = Vec::with_capacity(512);
    write_request(&up, &mut out);
    Bytes::from(out)
}
