//! HTTP/1.1 framing, both directions, for client and origin sides alike.
//!
//! - [`head`]: request and response heads: the types, and the entry points
//!   to parse them, judge their framing, strip hop-by-hop fields and write
//!   them out. The work itself lives in three private modules re-exported
//!   by `head`:
//!   - `parse`: bytes to heads (httparse, limits, target forms, Host);
//!   - `framing`: the framing rules of RFC 9112 section 6, keep-alive,
//!     hop-by-hop fields;
//!   - `write_head`: heads to bytes.
//!   - `fields`: [`head::Headers`], the field list; received fields are
//!     ranges of the head's bytes, not copies;
//!   - `known`: tags for the names the proxy looks up itself.
//! - [`decode`]: body decoders (framing in): Content-Length, chunked,
//!   close-delimited, none. The chunked state machine is `chunked`.
//! - [`encode`]: body encoders (framing out), the mirror of `decode`.
//! - [`target`]: the absolute-form request target split by RFC 3986, for
//!   the parser's check and the proxy's rewrite alike.
//! - [`date`]: the `Date` field value, formatted once per second.
//! - [`write_queue`]: a queue of `Bytes` written to a socket with `writev`.
//! - `fuzz` (tests only): property tests of the head parser, the target
//!   splitter and the chunked decoder; see `docs/fuzzing.md`.
//!
//! This module knows nothing of plugins, transactions or mio.

mod chunked;
pub(crate) mod date;
pub(crate) mod decode;
pub(crate) mod encode;
mod fields;
mod framing;
pub mod head;
pub(crate) mod known;
mod parse;
pub(crate) mod target;
mod write_head;
pub(crate) mod write_queue;

#[cfg(test)]
mod fuzz;
