//! The response half of a transaction: the origin's head through the
//! response hooks, the client's head once its framing is known, and the
//! body relayed through its [`BodyPipe`].

use super::forward_heads::{frame_response, BodyLen};
use super::spliced::SplicedBody;
use super::{Resp, Txn, TxnStep};
use crate::body::{BodyPipe, PipeError, Pump};
use crate::bridge::{HookResult, TxnView};
use crate::h1::decode::Decoder;
use crate::h1::encode::Encoder;
use crate::h1::head::{
    origin_may_persist, response_bytes, response_framing, strip_hop_by_hop, take_response, BodyKind, ResponseHead,
    Version,
};
use crate::session::{ClientIo, Ctx};
use crate::spare::Spares;
use bytes::Bytes;
use std::time::SystemTime;

impl Txn {
    pub(super) fn relay_response(&mut self, io: &mut ClientIo, ctx: &mut Ctx) -> TxnStep {
        let cap = ctx.settings.buffer_bytes;
        let mut progress = false;
        loop {
            let Some(o) = self.origin.as_mut() else { return TxnStep::Continue };
            match &mut self.resp {
                Resp::AwaitHead => match take_response(&mut o.rbuf, &ctx.settings.limits, &mut ctx.spares.heads) {
                    Ok(Some((head, _))) => {
                        progress = true;
                        match head.status {
                            // 100 Continue was answered by us; other interim responses carry nothing a client needs.
                            100 | 102..=199 => continue,
                            101 if self.upgrade.is_some() && head.headers.contains("upgrade") => {
                                if let Err(step) = self.begin_tunnel(head, io, ctx) {
                                    return step;
                                }
                            }
                            // A switch the client did not ask for (or without saying to what).
                            101 => {
                                return self.fail(
                                    502,
                                    "the origin switched protocols, which this proxy does not relay",
                                    io,
                                )
                            }
                            _ => {
                                let mut head = head;
                                if !head.headers.contains("date") {
                                    // RFC 9110 section 6.6.1: a proxy with a clock adds the Date the origin left out.
                                    head.headers
                                        .append_trusted("Date", Bytes::copy_from_slice(ctx.date.at(SystemTime::now())));
                                }
                                if let Some(step) = self.begin_response(head, io, ctx) {
                                    return step;
                                }
                            }
                        }
                    }
                    Ok(None) if self.origin_eof => {
                        return self.origin_failed("closed the connection before sending a response".into(), io, ctx)
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(origin = %ctx.settings.origin, "bad response: the origin server sent a malformed response head ({e})");
                        return self.fail(
                            502,
                            &format!("bad response: the origin server sent a malformed response head ({e})"),
                            io,
                        );
                    }
                },
                Resp::Body(pipe) => {
                    let before = io.wbuf.len();
                    let pumped = pipe.pump(&mut o.rbuf, self.origin_eof, &mut io.wbuf, cap);
                    self.bytes_out += io.wbuf.len().saturating_sub(before) as u64;
                    match pumped {
                        Ok(Pump::NeedHead(len)) => {
                            let len = len.map_or(BodyLen::Unknown, BodyLen::Known);
                            let original_length = self.pending_length.take();
                            match self.send_response_head(len, original_length, io, ctx.spares) {
                                Ok(kind) => {
                                    if let Resp::Body(pipe) = &mut self.resp {
                                        pipe.set_encoder(Encoder::new(kind));
                                    }
                                    progress = true;
                                }
                                Err(step) => return step,
                            }
                        }
                        Ok(Pump::Done) => {
                            self.resp = Resp::Done;
                            return TxnStep::Progress;
                        }
                        Ok(Pump::Replace(r)) => {
                            let read = pipe.input_complete();
                            return self.send_replacement(r, read, io);
                        }
                        Ok(Pump::Progress) => {
                            self.start_splice(ctx);
                            return TxnStep::Progress;
                        }
                        Ok(Pump::MoreWork) => {
                            ctx.more_work = true;
                            break;
                        }
                        Ok(Pump::Idle) => {
                            if self.start_splice(ctx) {
                                continue;
                            }
                            break;
                        }
                        Err(PipeError::Plugin(fault)) => return self.plugin_failed(&fault.to_string(), io),
                        Err(e) => {
                            let what = match &e {
                                PipeError::Truncated => "closed the connection before the body ended".to_string(),
                                PipeError::Decode(e) => format!("sent a badly framed body ({e})"),
                                PipeError::Encode(e) => format!("sent a body that does not match its head ({e})"),
                                PipeError::Plugin(fault) => return self.plugin_failed(&fault.to_string(), io),
                            };
                            tracing::warn!(target = %self.request.target, "bad response: the origin server {what}; cutting the client connection");
                            return self.fail(502, &format!("bad response: the origin server {what}"), io);
                        }
                    }
                }
                Resp::Tunnel { .. } => {
                    return match self.relay_tunnel(io, ctx) {
                        TxnStep::Continue if progress => TxnStep::Progress,
                        step => step,
                    }
                }
                Resp::Splice(_) => {
                    return match self.relay_spliced(io, ctx) {
                        TxnStep::Continue if progress => TxnStep::Progress,
                        step => step,
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

    /// Runs the response hooks and starts the body; `Some` ends the transaction early.
    fn begin_response(&mut self, mut head: ResponseHead, io: &mut ClientIo, ctx: &mut Ctx) -> Option<TxnStep> {
        let kind = match response_framing(&self.request.method, &head) {
            Ok(k) => k,
            Err(e) => {
                let what = format!("bad response: the origin server sent an ambiguous response framing ({e})");
                tracing::warn!(target = %self.request.target, "{what}");
                return Some(self.fail(502, &what, io));
            }
        };
        self.status = head.status;
        self.response_body = kind;
        self.origin_reusable = origin_may_persist(&head, kind);
        let mut chain = None;
        if let Some(p) = self.plugins.as_mut() {
            let mut view = TxnView::request(&mut self.request, self.request_body).response(&mut head, kind);
            if let HookResult::Fail { status, message } = p.read_response_headers(&mut view) {
                tracing::warn!(peer = %io.peer, status, "{message}");
                return Some(self.fail(status, "the response was refused by a plugin", io));
            }
            // Responses without a body have nothing to transform.
            chain = p.take_response_chain().filter(|_| kind != BodyKind::Empty).map(|mut c| {
                c.set_busy_limit(self.busy_limit);
                c
            });
        }
        let original_length = head.headers.get_shared("content-length");
        let via = if head.version == Version::Http10 { "1.0 plugin-host" } else { "1.1 plugin-host" };
        head.version = Version::Http11;
        strip_hop_by_hop(&mut head.headers);
        head.headers.append_trusted("Via", via);
        let input_len = match kind {
            BodyKind::Length(n) => Some(n),
            _ => None,
        };
        self.pending_head = Some(head);
        if let Some(chain) = chain {
            self.pending_length = original_length;
            self.resp = Resp::Body(BodyPipe::through(Decoder::new(kind), chain, input_len));
            return None;
        }
        let len = match kind {
            BodyKind::Empty => BodyLen::None,
            BodyKind::Length(n) => BodyLen::Known(n),
            _ => BodyLen::Unknown,
        };
        match self.send_response_head(len, original_length, io, ctx.spares) {
            Ok(client_kind) => {
                // Only identity framing on both sides can go byte for byte through a pipe.
                self.splice_wanted = ctx.settings.splice
                    && match (kind, client_kind) {
                        (BodyKind::Length(n), BodyKind::Length(_)) => n >= ctx.settings.splice_min_bytes,
                        (BodyKind::CloseDelimited, BodyKind::CloseDelimited) => true,
                        _ => false,
                    };
                self.resp = Resp::Body(BodyPipe::direct(Decoder::new(kind), Encoder::new(client_kind)));
                None
            }
            Err(step) => Some(step),
        }
    }

    /// Runs send_response_headers, declares framing, queues the head; returns the client encoder kind.
    fn send_response_head(
        &mut self,
        len: BodyLen,
        original_length: Option<Bytes>,
        io: &mut ClientIo,
        spares: &mut Spares,
    ) -> Result<BodyKind, TxnStep> {
        let Some(mut out) = self.pending_head.take() else { return Err(TxnStep::Aborted) };
        if let Some(p) = self.plugins.as_mut() {
            let mut view =
                TxnView::request(&mut self.request, self.request_body).response(&mut out, self.response_body);
            if let HookResult::Fail { status, message } = p.send_response_headers(&mut view) {
                tracing::warn!(peer = %io.peer, status, "{message}");
                return Err(self.fail(status, "the response was refused by a plugin", io));
            }
        }
        self.status = out.status;
        let kind = frame_response(&mut out, len, &self.request.method, original_length, self.request.version);
        if kind == BodyKind::CloseDelimited {
            self.client_keep_alive = false;
        }
        out.headers.remove("connection");
        if !self.client_keep_alive {
            out.headers.set_trusted("Connection", "close");
        } else if self.request.version == Version::Http10 {
            out.headers.set_trusted("Connection", "keep-alive");
        }
        let bytes = response_bytes(&out, &mut spares.head_block);
        self.bytes_out += bytes.len() as u64;
        io.wbuf.push(bytes);
        spares.heads.keep_fields(out.headers);
        self.resp_head_sent = true;
        Ok(kind)
    }

    /// Switches a direct body to the pipe once nothing of it is left in the
    /// origin's read buffer; true if it did.
    fn start_splice(&mut self, ctx: &mut Ctx) -> bool {
        if !self.splice_wanted {
            return false;
        }
        let (Some(o), Resp::Body(pipe)) = (self.origin.as_ref(), &self.resp) else { return false };
        if !o.rbuf.is_empty() || pipe.is_done() {
            return false;
        }
        let left = pipe.input_left();
        self.splice_wanted = false;
        match ctx.pipes.take() {
            Ok(p) => {
                self.resp = Resp::Splice(SplicedBody::new(p, left));
                true
            }
            Err(e) => {
                // Out of descriptors, typically: the buffered path still works.
                tracing::debug!(error = %e, "no pipe for splice; relaying the body buffered");
                false
            }
        }
    }
}
