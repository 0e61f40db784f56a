//! Protocol upgrades (RFC 9110 section 7.8): a client's `Upgrade` request,
//! a WebSocket handshake typically, is forwarded with `Connection:
//! upgrade`; if the origin answers `101 Switching Protocols`, the 101 goes
//! to the client and the two connections become a tunnel that carries
//! bytes both ways, as they are, until the origin closes.
//!
//! - Only a body-less HTTP/1.1 request that lists `upgrade` in Connection
//!   and has an Upgrade field asks; any other request has Upgrade removed
//!   as a hop-by-hop field, as before. An origin that declines answers as
//!   usual (200, 426, ...) and the transaction goes on as any other.
//! - The request hooks run as for any request (one can refuse the upgrade
//!   with a status), and the response hooks see the 101; `txn_close` runs
//!   as the tunnel opens, so a long-lived tunnel holds no plugin generation
//!   (a reload's old plugins are finalised without waiting for it). No
//!   transform sees the tunnel's bytes: they are another protocol, not an
//!   HTTP body.
//! - The client's EOF is passed on to the origin (a write shutdown); the
//!   origin's EOF, once its last bytes are queued, ends the tunnel and the
//!   client connection after them. A tunnel that carries nothing for
//!   `--inactivity-timeout-ms` is closed (nginx's `proxy_read_timeout` for
//!   upgraded connections); WebSocket pings keep a quiet one open.
//! - Buffers stay bounded both ways: a side's reads stop while the other
//!   side has `--buffer-bytes` queued.

use super::{Resp, Txn, TxnStep};
use crate::bridge::{HookResult, TxnView};
use crate::h1::head::{response_bytes, strip_hop_by_hop, BodyKind, RequestHead, ResponseHead, Version};
use crate::session::{ClientIo, Ctx};
use bytes::Bytes;

/// The `Upgrade` value to forward, if the client asks to switch protocols.
pub(super) fn upgrade_asked(head: &RequestHead, framing: BodyKind) -> Option<Bytes> {
    // `contains` of a known name is a bit test: the common request pays only that.
    if !head.headers.contains("upgrade") {
        return None;
    }
    upgrade_of(head, framing)
}

#[cold]
#[inline(never)]
fn upgrade_of(head: &RequestHead, framing: BodyKind) -> Option<Bytes> {
    let asks = framing == BodyKind::Empty
        && head.version == Version::Http11
        && head.method != "HEAD"
        && head.headers.has_token("connection", "upgrade");
    asks.then(|| head.headers.get_shared("upgrade")).flatten().filter(|v| !v.is_empty())
}

impl Txn {
    /// The origin switched protocols: runs the response hooks on the 101,
    /// queues it for the client, and turns the transaction into a tunnel.
    #[cold]
    #[inline(never)]
    pub(super) fn begin_tunnel(
        &mut self,
        mut head: ResponseHead,
        io: &mut ClientIo,
        ctx: &mut Ctx,
    ) -> Result<(), TxnStep> {
        self.status = 101;
        self.response_body = BodyKind::Empty;
        self.origin_reusable = false;
        self.client_keep_alive = false;
        let protocol = head.headers.get_shared("upgrade").unwrap_or_default();
        if let Some(p) = self.plugins.as_mut() {
            let mut view = TxnView::request(&mut self.request, self.request_body).response(&mut head, BodyKind::Empty);
            if let HookResult::Fail { status, message } = p.read_response_headers(&mut view) {
                tracing::warn!(peer = %io.peer, status, "{message}");
                return Err(self.fail(status, "the response was refused by a plugin", io));
            }
            // Nothing of a tunnel is an HTTP body: a transform added here never runs.
            drop(p.take_response_chain());
            let mut view = TxnView::request(&mut self.request, self.request_body).response(&mut head, BodyKind::Empty);
            if let HookResult::Fail { status, message } = p.send_response_headers(&mut view) {
                tracing::warn!(peer = %io.peer, status, "{message}");
                return Err(self.fail(status, "the response was refused by a plugin", io));
            }
        }
        // The plugins' part ends with the handshake: txn_close runs now, and a tunnel open
        // for hours does not keep its generation (and a reload's old plugins) alive.
        if let Some(mut p) = self.plugins.take() {
            p.txn_close(&mut TxnView::request(&mut self.request, self.request_body));
        }
        let via = if head.version == Version::Http10 { "1.0 plugin-host" } else { "1.1 plugin-host" };
        head.version = Version::Http11;
        head.status = 101;
        strip_hop_by_hop(&mut head.headers);
        // RFC 9110 section 8.6: no Content-Length in a 1xx.
        head.headers.remove("content-length");
        head.headers.append_trusted("Via", via);
        head.headers.set_trusted("Connection", "upgrade");
        head.headers.set_static("Upgrade", protocol);
        let bytes = response_bytes(&head, &mut ctx.spares.head_block);
        self.bytes_out += bytes.len() as u64;
        io.wbuf.push(bytes);
        ctx.spares.heads.keep_fields(head.headers);
        self.resp_head_sent = true;
        self.resp = Resp::Tunnel { origin_shut: false };
        tracing::debug!(peer = %io.peer, target = %self.request.target, "switched protocols; tunnelling");
        Ok(())
    }

    /// Moves what each side sent to the other; `Done` once the origin closed.
    /// Out of line: the per-request path of every other transaction does not carry it.
    #[inline(never)]
    pub(super) fn relay_tunnel(&mut self, io: &mut ClientIo, ctx: &mut Ctx) -> TxnStep {
        let cap = ctx.settings.buffer_bytes;
        let Resp::Tunnel { origin_shut } = &mut self.resp else { return TxnStep::Continue };
        let Some(o) = self.origin.as_mut() else { return TxnStep::Aborted };
        let mut progress = false;
        if !o.rbuf.is_empty() && io.wbuf.len() < cap {
            self.bytes_out += o.rbuf.len() as u64;
            io.wbuf.push(o.rbuf.split().freeze());
            progress = true;
        }
        if !io.rbuf.is_empty() && o.wbuf.len() < cap {
            self.bytes_in += io.rbuf.len() as u64;
            o.wbuf.push(io.rbuf.split().freeze());
            progress = true;
        }
        if !o.wbuf.is_empty() && o.writable {
            match o.flush() {
                Ok(n) => progress |= n > 0,
                Err(e) => {
                    tracing::debug!(peer = %io.peer, error = %e, "origin write failed in a tunnel");
                    return TxnStep::Aborted;
                }
            }
        }
        if io.eof && io.rbuf.is_empty() && o.wbuf.is_empty() && !*origin_shut {
            *origin_shut = true;
            let _ = o.stream().shutdown(std::net::Shutdown::Write);
            progress = true;
        }
        if self.origin_eof && o.rbuf.is_empty() {
            self.resp = Resp::Done;
            return TxnStep::Progress;
        }
        if progress {
            TxnStep::Progress
        } else {
            TxnStep::Continue
        }
    }
}
