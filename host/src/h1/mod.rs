//! HTTP/1.1 framing, both directions, for client and origin sides alike.
//!
//! - [`head`]: request and response heads: parsing (httparse), the framing
//!   rules of RFC 9112 section 6, hop-by-hop headers, writing heads out.
//! - [`decode`]: body decoders (framing in): Content-Length, chunked,
//!   close-delimited, none.
//! - [`encode`]: body encoders (framing out), the mirror of `decode`.
//! - [`write_queue`]: a queue of `Bytes` written to a socket with `writev`.
//!
//! This module knows nothing of plugins, transactions or mio.

pub mod decode;
pub mod encode;
pub mod head;
pub mod write_queue;
