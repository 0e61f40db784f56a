//! Transactions as hooks see them: headers, method, URL, status, failing the
//! transaction, and adding transforms.
//!
//! Hooks run in `plugin.config` order:
//!
//! ```text
//! read request headers -> [request transforms] -> read response headers
//!   -> send response headers -> [response transforms] -> txn close
//! ```
//!
//! ```
//! use plugin_sdk::{Chunk, Output, StreamTransform, Txn};
//! struct Null;
//! impl StreamTransform for Null {
//!     fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) { out.pass(chunk) }
//! }
//! fn read_response_headers(txn: &mut Txn<'_>) {
//!     if txn.status() == Some(200) && txn.response().get("content-type").is_some() {
//!         txn.response().set("x-transformed", "null");
//!         txn.add_response_stream(Null);
//!     }
//! }
//! ```

use std::any::Any;
use std::ffi::c_void;
use std::marker::PhantomData;

use crate::ffi::{self, ByteSlice, HostTable, TxnCtx, STATUS_OK};
use crate::message::Refused;
use crate::stream::{StreamAdapter, StreamTransform};
use crate::vconn::Transform;

/// Whether a message has a body, by its framing as received (RFC 9112
/// section 6), before any hook edited its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body: a request without `Content-Length` or `Transfer-Encoding`,
    /// a response to HEAD, a 1xx, 204 or 304. Transforms are refused.
    None,
    /// A body of exactly this many bytes (it may be 0).
    Length(u64),
    /// A body of unknown length (chunked, or until the connection closes).
    Unknown,
}

impl Body {
    /// True unless [`Body::None`].
    pub fn exists(&self) -> bool {
        *self != Body::None
    }
}

/// The per-transaction state slot as the SDK stores it: any type, boxed twice
/// so the host holds one thin pointer.
type StateBox = Box<dyn Any>;

/// Which body a transform applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The request body, client to origin.
    Request,
    /// The response body, origin to client.
    Response,
}

/// One transaction during one hook call.
pub struct Txn<'a> {
    host: &'a HostTable,
    ctx: *mut TxnCtx,
    _hook: PhantomData<&'a mut TxnCtx>,
}

/// Calls a txn host function. The host validates every argument; the
/// `unsafe` is the FFI call with the context valid for the hook call.
macro_rules! txn_call {
    ($txn:expr, $f:ident $(, $arg:expr)* $(,)?) => {{
        let t = $txn;
        // SAFETY: ctx is valid for the hook call ('a); pointers passed are to
        // live locals; the host copies what it keeps.
        unsafe { (t.host.$f)(t.ctx $(, $arg)*) }
    }};
}

impl<'a> Txn<'a> {
    /// # Safety
    /// `ctx` must be the context the host passed to the current hook call.
    pub(crate) unsafe fn new(host: &'a HostTable, ctx: *mut TxnCtx) -> Self {
        Txn { host, ctx, _hook: PhantomData }
    }

    fn out_str(&self, f: unsafe extern "C" fn(*mut TxnCtx, *mut ByteSlice) -> i32) -> &'a str {
        let mut out = ByteSlice::EMPTY;
        // SAFETY: see txn_call!; the host keeps the bytes alive for the hook.
        let ok = unsafe { f(self.ctx, &mut out) };
        if ok != 1 {
            return "";
        }
        // SAFETY: valid until the hook returns ('a).
        std::str::from_utf8(unsafe { out.as_slice() }).unwrap_or("")
    }

    /// The request method.
    pub fn method(&self) -> &'a str {
        self.out_str(self.host.txn_method)
    }

    /// The request target as received (path and query, or absolute form).
    pub fn url(&self) -> &'a str {
        self.out_str(self.host.txn_url)
    }

    /// The response status; `None` before a response exists.
    pub fn status(&self) -> Option<u16> {
        let s = txn_call!(self, txn_status_get);
        u16::try_from(s).ok().filter(|s| *s != 0)
    }

    /// Sets the response status (only once a response exists).
    pub fn set_status(&mut self, status: u16) -> bool {
        txn_call!(self, txn_status_set, status) == STATUS_OK
    }

    /// Request headers.
    pub fn request(&mut self) -> Headers<'_, 'a> {
        Headers { txn: self, msg: ffi::message::REQUEST }
    }

    /// Response headers (empty, and ignoring changes, before a response exists).
    pub fn response(&mut self) -> Headers<'_, 'a> {
        Headers { txn: self, msg: ffi::message::RESPONSE }
    }

    /// This plugin's state for this transaction: created with
    /// `S::default()` the first time any hook of the transaction asks, then
    /// the same value in every later hook of the same transaction (decide in
    /// the request hook, act in the response hook), dropped when the
    /// transaction ends, after `txn_close`. One state type per plugin: asking
    /// for another type replaces the value with that type's default.
    ///
    /// ```
    /// use plugin_sdk::{Plugin, Txn};
    /// #[derive(Default)]
    /// struct Seen { method: String }
    /// struct Remember;
    /// impl Plugin for Remember {
    ///     fn init(_: &[String]) -> Result<Self, String> { Ok(Remember) }
    ///     fn read_request_headers(&self, txn: &mut Txn<'_>) {
    ///         let method = txn.method().to_string();
    ///         txn.state::<Seen>().method = method;
    ///     }
    ///     fn read_response_headers(&self, txn: &mut Txn<'_>) {
    ///         let method = txn.state::<Seen>().method.clone();
    ///         txn.response().set("x-request-method", method);
    ///     }
    /// }
    /// let mut fake = plugin_sdk::testing::FakeTxn::new("POST", "/form");
    /// fake.run_request_hooks(&Remember);
    /// fake.respond(200, &[]);
    /// fake.run_response_hooks(&Remember);
    /// assert_eq!(fake.response_header("x-request-method"), Some("POST".to_string()));
    /// ```
    pub fn state<S: Default + 'static>(&mut self) -> &mut S {
        let mut ptr = txn_call!(&*self, txn_state_get) as *mut StateBox;
        if ptr.is_null() {
            let fresh: Box<StateBox> = Box::new(Box::new(S::default()));
            let raw = Box::into_raw(fresh);
            if txn_call!(&*self, txn_state_set, raw as *mut c_void) != STATUS_OK {
                // SAFETY: the host refused it, so it stayed ours.
                drop(unsafe { Box::from_raw(raw) });
                // Only a host without a slot for this plugin refuses an empty slot.
                panic!("the host refused to store this plugin's transaction state");
            }
            ptr = raw;
        }
        // SAFETY: the host hands back the pointer we stored, owned by it until
        // the transaction ends, only ever used on this thread; `'a` is this hook.
        let slot = unsafe { &mut *ptr };
        if !slot.is::<S>() {
            *slot = Box::new(S::default());
        }
        slot.downcast_mut::<S>().expect("the slot holds an S: just checked or replaced")
    }

    fn body_of(&self, msg: u32) -> Body {
        let mut len = 0i64;
        match txn_call!(self, txn_body, msg, &mut len) {
            ffi::body::LENGTH => Body::Length(u64::try_from(len).unwrap_or(0)),
            ffi::body::UNKNOWN => Body::Unknown,
            _ => Body::None,
        }
    }

    /// Whether the request has a body (as received); see [`Body`].
    pub fn request_body(&self) -> Body {
        self.body_of(ffi::message::REQUEST)
    }

    /// Whether the response has a body (as received); [`Body::None`] before
    /// a response exists. See [`Body`].
    pub fn response_body(&self) -> Body {
        self.body_of(ffi::message::RESPONSE)
    }

    /// Fails the transaction: the client gets `status` (if the response has
    /// not started) and the log gets `message`.
    pub fn fail(&mut self, status: u16, message: &str) {
        txn_call!(self, txn_fail, status, ByteSlice::new(message.as_bytes()));
    }

    /// Adds a raw transform at the end of the chain for `dir`. Refused
    /// (and the transform dropped) when the message has no body
    /// ([`Refused::NoBody`]: header edits made in the hook still apply) or
    /// when it is too late for that direction ([`Refused::TooLate`]: request
    /// transforms only from `read_request_headers`, response transforms not
    /// from `send_response_headers`).
    pub fn add_transform<T: Transform>(&mut self, dir: Direction, transform: T) -> Result<(), Refused> {
        let raw = crate::instance::into_raw(transform);
        let d = match dir {
            Direction::Request => ffi::direction::REQUEST,
            Direction::Response => ffi::direction::RESPONSE,
        };
        let Some(refused) = Refused::from_status(txn_call!(self, txn_add_transform, d, raw)) else {
            return Ok(());
        };
        // SAFETY: the host refused, so ownership stayed with us.
        unsafe { crate::instance::destroy(raw) };
        Err(refused)
    }

    /// Adds a response transform; see [`Txn::add_transform`].
    pub fn add_response_transform<T: Transform>(&mut self, transform: T) -> Result<(), Refused> {
        self.add_transform(Direction::Response, transform)
    }

    /// Adds a request transform; see [`Txn::add_transform`].
    pub fn add_request_transform<T: Transform>(&mut self, transform: T) -> Result<(), Refused> {
        self.add_transform(Direction::Request, transform)
    }

    /// Adds a [`StreamTransform`] on the response body; see [`Txn::add_transform`].
    pub fn add_response_stream<S: StreamTransform>(&mut self, stream: S) -> Result<(), Refused> {
        self.add_transform(Direction::Response, StreamAdapter::new(stream))
    }

    /// Adds a [`StreamTransform`] on the request body; see [`Txn::add_transform`].
    pub fn add_request_stream<S: StreamTransform>(&mut self, stream: S) -> Result<(), Refused> {
        self.add_transform(Direction::Request, StreamAdapter::new(stream))
    }
}

/// The header fields of one message; names compare case-insensitively.
pub struct Headers<'t, 'a> {
    txn: &'t mut Txn<'a>,
    msg: u32,
}

impl<'t, 'a> Headers<'t, 'a> {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.get_nth(name, 0)
    }

    fn get_nth(&self, name: &str, index: usize) -> Option<&'a [u8]> {
        let mut out = ByteSlice::EMPTY;
        let found = txn_call!(&*self.txn, txn_header_get, self.msg, ByteSlice::new(name.as_bytes()), index, &mut out);
        // SAFETY: the host keeps copies alive until the hook returns ('a).
        (found == 1).then(|| unsafe { out.as_slice() })
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&'a [u8]> {
        (0..).map_while(|i| self.get_nth(name, i)).collect()
    }

    /// Every field in order, as (name, value).
    pub fn iter(&self) -> Vec<(&'a str, &'a [u8])> {
        let mut fields = Vec::new();
        for index in 0.. {
            let (mut n, mut v) = (ByteSlice::EMPTY, ByteSlice::EMPTY);
            if txn_call!(&*self.txn, txn_header_at, self.msg, index, &mut n, &mut v) != 1 {
                break;
            }
            // SAFETY: as in get_nth.
            let (n, v) = unsafe { (n.as_slice(), v.as_slice()) };
            fields.push((std::str::from_utf8(n).unwrap_or(""), v));
        }
        fields
    }

    /// Replaces every value of `name` with `value`.
    pub fn set(&mut self, name: &str, value: impl AsRef<[u8]>) {
        let (n, v) = (ByteSlice::new(name.as_bytes()), ByteSlice::new(value.as_ref()));
        txn_call!(&*self.txn, txn_header_set, self.msg, n, v);
    }

    /// Adds a value of `name`, keeping existing ones.
    pub fn append(&mut self, name: &str, value: impl AsRef<[u8]>) {
        let (n, v) = (ByteSlice::new(name.as_bytes()), ByteSlice::new(value.as_ref()));
        txn_call!(&*self.txn, txn_header_append, self.msg, n, v);
    }

    /// Removes every value of `name`; true if any was there.
    pub fn remove(&mut self, name: &str) -> bool {
        txn_call!(&*self.txn, txn_header_remove, self.msg, ByteSlice::new(name.as_bytes())) == 1
    }
}
