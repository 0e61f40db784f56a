//! A response body relayed with `splice(2)`: origin socket -> pipe ->
//! client socket, for bodies no transform touches.
//!
//! Entered from the buffered path once the head and every body byte already
//! read into the origin's buffer are queued for the client; bytes leave the
//! pipe only after that queue has drained, so the order on the wire stays
//! the origin's. States: `Relaying` (bytes left to read, or still in the
//! pipe) -> done (every byte out: `Resp::Done`), or a cut (the origin closed
//! early or failed, the client failed).

use super::{Resp, Txn, TxnStep};
use crate::origin::describe_failure;
use crate::session::{ClientIo, Ctx};
use crate::splice::{Moved, Pipe};

/// The spliced rest of a body.
pub(super) struct SplicedBody {
    pipe: Pipe,
    /// Bytes still to read from the origin; `None`: until it closes.
    left: Option<u64>,
    input_done: bool,
}

impl SplicedBody {
    pub(super) fn new(pipe: Pipe, left: Option<u64>) -> Self {
        SplicedBody { pipe, left, input_done: left == Some(0) }
    }

    /// The pipe, to go back to the worker's pool (or be closed if it holds bytes).
    pub(super) fn into_pipe(self) -> Pipe {
        self.pipe
    }
}

impl Txn {
    /// Moves what can move between the two sockets through the pipe.
    pub(super) fn relay_spliced(&mut self, io: &mut ClientIo, ctx: &mut Ctx) -> TxnStep {
        let mut progress = false;
        // Bounded like a read loop: a fast pair of sockets must not hold the worker for ever.
        for _ in 0..64 {
            let (Some(o), Resp::Splice(body)) = (self.origin.as_mut(), &mut self.resp) else {
                return TxnStep::Continue;
            };
            let mut moved = false;
            if !body.input_done && o.readable && body.pipe.room() > 0 {
                let max = body.left.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
                match body.pipe.fill_from(o.stream(), max) {
                    Ok(Moved::Bytes(n)) => {
                        if let Some(left) = body.left.as_mut() {
                            *left -= n as u64;
                            body.input_done = *left == 0;
                        }
                        moved = true;
                    }
                    Ok(Moved::Eof) => {
                        self.origin_eof = true;
                        if body.left.is_some() {
                            tracing::warn!(target = %self.request.target, "bad response: the origin server closed the connection before the body ended; cutting the client connection");
                            return TxnStep::Aborted;
                        }
                        body.input_done = true;
                        moved = true;
                    }
                    // EAGAIN names no side: a pipe out of slots (each holds one socket
                    // fragment, not a full page) refuses too. Only an empty pipe proves
                    // the socket drained; otherwise try again once bytes have left.
                    Ok(Moved::WouldBlock) => o.readable = body.pipe.held() > 0,
                    Err(e) => {
                        let what = describe_failure(&e);
                        tracing::warn!(target = %self.request.target, "origin failed during the body: the origin server {what}; cutting the client connection");
                        return TxnStep::Aborted;
                    }
                }
            }
            // Bytes queued before the splice began go first.
            if io.writable && io.wbuf.is_empty() && body.pipe.held() > 0 {
                match body.pipe.drain_to(&io.stream) {
                    Ok(Moved::Bytes(n)) => {
                        self.bytes_out += n as u64;
                        self.bytes_spliced += n as u64;
                        io.last_activity = ctx.now;
                        moved = true;
                    }
                    Ok(_) => io.writable = false,
                    Err(e) => {
                        tracing::debug!(peer = %io.peer, error = %e, "client write failed during a spliced body");
                        return TxnStep::Aborted;
                    }
                }
            }
            if body.input_done && body.pipe.held() == 0 {
                if let Resp::Splice(body) = std::mem::replace(&mut self.resp, Resp::Done) {
                    ctx.pipes.give_back(body.into_pipe());
                }
                return TxnStep::Progress;
            }
            if !moved {
                break;
            }
            progress = true;
        }
        if progress {
            TxnStep::Progress
        } else {
            TxnStep::Continue
        }
    }
}
