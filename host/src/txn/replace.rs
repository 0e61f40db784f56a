//! A message a transform replaced: a request transform's replacement is the
//! response the client gets instead (the origin never sees the request); a
//! response transform's replaces the origin's response before its head left.

use super::{Resp, Txn, TxnStep};
use crate::h1::head::{write_response, BodyKind, Headers, ResponseHead, Version};
use crate::session::ClientIo;
use crate::transform::Replacement;

/// Fields the host frames itself; a replacement's own are dropped.
const FRAMING: &[&str] = &["content-length", "transfer-encoding", "connection"];

impl Txn {
    /// Sends `r` as the whole response and ends the transaction. `input_read`:
    /// the replaced message's body was read to its end (else the connection it
    /// came on cannot carry another message).
    pub(super) fn send_replacement(&mut self, r: Replacement, input_read: bool, io: &mut ClientIo) -> TxnStep {
        if self.resp_head_sent {
            return TxnStep::Aborted;
        }
        tracing::info!(plugin = %r.plugin, status = r.status, target = %self.request.target, "a plugin replaced the message");
        let mut headers = Headers::new();
        for (name, value) in r.headers {
            if !FRAMING.iter().any(|f| name.eq_ignore_ascii_case(f)) {
                headers.append(&name, value);
            }
        }
        headers.set("Content-Length", r.body.len().to_string());
        let bodiless = self.request.method == "HEAD" || r.status == 204 || r.status == 304;
        if !self.client_keep_alive {
            headers.set("Connection", "close");
        } else if self.request.version == Version::Http10 {
            headers.set("Connection", "keep-alive");
        }
        let head = ResponseHead {
            version: Version::Http11,
            status: r.status,
            reason: crate::h1::head::canonical_reason(r.status).into(),
            headers,
        };
        let mut bytes = Vec::with_capacity(256 + r.body.len());
        write_response(&head, &mut bytes);
        if !bodiless {
            bytes.extend_from_slice(&r.body);
        }
        self.status = r.status;
        self.bytes_out += bytes.len() as u64;
        io.wbuf.push_vec(bytes);
        self.resp_head_sent = true;
        self.pending_head = None;
        self.pending_length = None;
        self.response_body = BodyKind::Length(r.body.len() as u64);
        self.resp = Resp::Done;
        if !input_read {
            // Unread body bytes are still coming on that connection.
            self.origin_reusable = false;
        }
        TxnStep::Done
    }
}
