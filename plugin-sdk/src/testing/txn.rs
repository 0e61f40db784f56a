//! A fake transaction, so a plugin's hooks and the transforms they add are
//! unit-tested together without a proxy: request and response heads in;
//! header edits, status, failures, per-transaction state and added
//! transforms out; the added transforms then run over a body through
//! [`FakeHost`].
//!
//! ```
//! use plugin_sdk::testing::{FakeHost, FakeTxn};
//! use plugin_sdk::{Chunk, Output, Plugin, StreamTransform, Txn};
//!
//! struct Upper;
//! impl StreamTransform for Upper {
//!     fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
//!         out.write_owned(chunk.to_ascii_uppercase());
//!     }
//! }
//! struct Shout;
//! impl Plugin for Shout {
//!     fn init(_: &[String]) -> Result<Self, String> { Ok(Shout) }
//!     fn read_response_headers(&self, txn: &mut Txn<'_>) {
//!         txn.response().remove("content-length");
//!         let _ = txn.add_response_stream(Upper);
//!     }
//! }
//!
//! let mut txn = FakeTxn::new("GET", "/");
//! txn.run_request_hooks(&Shout);
//! txn.respond(200, &[("content-length", "5")]);
//! txn.run_response_hooks(&Shout);
//! assert_eq!(txn.response_header("content-length"), None);
//! let out = txn.run_response_body(&FakeHost::new(), &[b"he", b"llo"]);
//! assert_eq!(out.bytes, b"HELLO");
//!
//! // A HEAD response has no body: the transform is refused, the edit stays.
//! let mut head = FakeTxn::new("HEAD", "/");
//! head.respond(200, &[("content-length", "5")]);
//! head.run_response_hooks(&Shout);
//! assert_eq!((head.transforms(plugin_sdk::Direction::Response), head.response_header("content-length")), (0, None));
//! ```

use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_void;

use super::{FakeHost, FakeOutput, FAKE_TABLE};
use crate::export::transform_destroy;
use crate::ffi::{
    body, direction, message, ByteSlice, TxnCtx, STATUS_BAD_ARG, STATUS_ERROR, STATUS_NO_BODY, STATUS_OK,
    STATUS_TOO_LATE,
};
use crate::plugin::{Hooks, Plugin};
use crate::txn::{Body, Direction, Txn};

/// Which hooks ran last: decides what may still be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Request,
    Response,
    Send,
    Close,
}

/// A fake response head.
struct Response {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Body,
}

/// Everything the fake transaction functions touch.
struct State {
    method: String,
    url: String,
    request: Vec<(String, Vec<u8>)>,
    request_body: Body,
    response: Option<Response>,
    phase: Phase,
    /// The plugin's per-transaction state (a `Box<Box<dyn Any>>`), if stored.
    slot: *mut c_void,
    added: Vec<(Direction, *mut c_void)>,
    failed: Option<(u16, String)>,
    /// Copies lent to the plugin during the current hook.
    arena: Vec<Box<[u8]>>,
}

/// See the module docs.
pub struct FakeTxn {
    cell: Box<RefCell<State>>,
}

impl FakeTxn {
    /// A request `method url` without a body and without header fields.
    pub fn new(method: &str, url: &str) -> Self {
        let state = State {
            method: method.to_string(),
            url: url.to_string(),
            request: Vec::new(),
            request_body: Body::None,
            response: None,
            phase: Phase::Request,
            slot: std::ptr::null_mut(),
            added: Vec::new(),
            failed: None,
            arena: Vec::new(),
        };
        FakeTxn { cell: Box::new(RefCell::new(state)) }
    }

    /// Adds a request header field.
    pub fn request_header(self, name: &str, value: &str) -> Self {
        self.cell.borrow_mut().request.push((name.to_string(), value.as_bytes().to_vec()));
        self
    }

    /// Gives the request a body (as its framing would declare).
    pub fn request_body(self, body: Body) -> Self {
        self.cell.borrow_mut().request_body = body;
        self
    }

    /// Runs `plugin`'s `read_request_headers`, if [`Plugin::hooks`] asks
    /// for it (the host skips a hook a plugin left out, and so does this).
    pub fn run_request_hooks<P: Plugin>(&mut self, plugin: &P) {
        self.set_phase(Phase::Request);
        if plugin.hooks().contains(Hooks::READ_REQUEST_HEADERS) {
            self.hook(|txn| plugin.read_request_headers(txn));
        }
    }

    /// The origin answers `status` with `headers`. Whether the response has
    /// a body follows RFC 9112: none for HEAD, 1xx, 204 and 304; the
    /// `content-length` given; else unknown (chunked).
    pub fn respond(&mut self, status: u16, headers: &[(&str, &str)]) {
        let mut st = self.cell.borrow_mut();
        let length = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length"));
        let body = if st.method.eq_ignore_ascii_case("HEAD") || status < 200 || status == 204 || status == 304 {
            Body::None
        } else if let Some(n) = length.and_then(|(_, v)| v.trim().parse().ok()) {
            Body::Length(n)
        } else {
            Body::Unknown
        };
        let headers = headers.iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect();
        st.response = Some(Response { status, headers, body });
    }

    /// Runs `plugin`'s `read_response_headers`, then `send_response_headers`
    /// (each if [`Plugin::hooks`] asks for it).
    pub fn run_response_hooks<P: Plugin>(&mut self, plugin: &P) {
        let wanted = plugin.hooks();
        self.set_phase(Phase::Response);
        if wanted.contains(Hooks::READ_RESPONSE_HEADERS) {
            self.hook(|txn| plugin.read_response_headers(txn));
        }
        self.set_phase(Phase::Send);
        if wanted.contains(Hooks::SEND_RESPONSE_HEADERS) {
            self.hook(|txn| plugin.send_response_headers(txn));
        }
    }

    /// Runs `plugin`'s `txn_close` (if [`Plugin::hooks`] asks for it).
    pub fn close<P: Plugin>(&mut self, plugin: &P) {
        self.set_phase(Phase::Close);
        if plugin.hooks().contains(Hooks::TXN_CLOSE) {
            self.hook(|txn| plugin.txn_close(txn));
        }
    }

    fn set_phase(&mut self, phase: Phase) {
        self.cell.borrow_mut().phase = phase;
    }

    fn hook(&mut self, f: impl FnOnce(&mut Txn<'_>)) {
        let ctx = &*self.cell as *const RefCell<State> as *mut TxnCtx;
        // SAFETY: `ctx` points at our state, alive for the call; FAKE_TABLE's
        // transaction functions expect exactly that.
        let mut txn = unsafe { Txn::new(&FAKE_TABLE, ctx) };
        f(&mut txn);
        self.cell.borrow_mut().arena.clear();
    }

    /// A request header's first value, as the plugin left it.
    pub fn request_value(&self, name: &str) -> Option<String> {
        find(&self.cell.borrow().request, name)
    }

    /// A response header's first value, as the plugin left it.
    pub fn response_header(&self, name: &str) -> Option<String> {
        self.cell.borrow().response.as_ref().and_then(|r| find(&r.headers, name))
    }

    /// Every response header field, in order.
    pub fn response_headers(&self) -> Vec<(String, String)> {
        let st = self.cell.borrow();
        let fields = st.response.as_ref().map(|r| r.headers.as_slice()).unwrap_or_default();
        fields.iter().map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned())).collect()
    }

    /// The response status, as the plugin left it.
    pub fn status(&self) -> Option<u16> {
        self.cell.borrow().response.as_ref().map(|r| r.status)
    }

    /// The status and message of `Txn::fail`, if a hook called it.
    pub fn failed(&self) -> Option<(u16, String)> {
        self.cell.borrow().failed.clone()
    }

    /// How many transforms the hooks added in `dir` (and not yet run).
    pub fn transforms(&self, dir: Direction) -> usize {
        self.cell.borrow().added.iter().filter(|(d, _)| *d == dir).count()
    }

    /// Runs the response transforms the hooks added, in order, over
    /// `chunks`: each one's output is the next one's input.
    pub fn run_response_body(&mut self, host: &FakeHost, chunks: &[&[u8]]) -> FakeOutput {
        self.run_body(Direction::Response, host, chunks)
    }

    /// Runs the request transforms the hooks added, as
    /// [`FakeTxn::run_response_body`] does.
    pub fn run_request_body(&mut self, host: &FakeHost, chunks: &[&[u8]]) -> FakeOutput {
        self.run_body(Direction::Request, host, chunks)
    }

    fn run_body(&mut self, dir: Direction, host: &FakeHost, chunks: &[&[u8]]) -> FakeOutput {
        let instances: Vec<*mut c_void> = {
            let mut st = self.cell.borrow_mut();
            let (run, keep) = std::mem::take(&mut st.added).into_iter().partition(|(d, _)| *d == dir);
            st.added = keep;
            run.into_iter().map(|(_, i): (Direction, *mut c_void)| i).collect()
        };
        let mut input: Vec<Vec<u8>> = chunks.iter().map(|c| c.to_vec()).collect();
        let mut out = FakeOutput { bytes: input.concat(), complete: true, ..FakeOutput::default() };
        let mut stages = instances.into_iter();
        for instance in stages.by_ref() {
            let pieces: Vec<&[u8]> = input.iter().map(Vec::as_slice).collect();
            out = host.run_instance(instance, &pieces);
            if out.replaced.is_some() || !out.errors.is_empty() {
                break;
            }
            input = out.bytes.chunks(host.take.max(1)).map(<[u8]>::to_vec).collect();
        }
        for instance in stages {
            // SAFETY: an instance handed over by add_transform, never run.
            unsafe { transform_destroy(instance) };
        }
        out
    }
}

impl Drop for FakeTxn {
    fn drop(&mut self) {
        let st = self.cell.get_mut();
        for (_, instance) in st.added.drain(..) {
            // SAFETY: instances handed over by add_transform, never run.
            unsafe { transform_destroy(instance) };
        }
        if !st.slot.is_null() {
            // SAFETY: stored by Txn::state as a Box<Box<dyn Any>>; dropped once.
            drop(unsafe { Box::from_raw(st.slot as *mut Box<dyn Any>) });
        }
    }
}

fn find(fields: &[(String, Vec<u8>)], name: &str) -> Option<String> {
    fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| String::from_utf8_lossy(v).into_owned())
}

/// Runs `f` on the state behind `txn`; `fallback` if it is null or busy.
fn with<T>(txn: *mut TxnCtx, fallback: T, f: impl FnOnce(&mut State) -> T) -> T {
    if txn.is_null() {
        return fallback;
    }
    // SAFETY: the fake passes plugins only pointers to its live state.
    let cell = unsafe { &*(txn as *const RefCell<State>) };
    match cell.try_borrow_mut() {
        Ok(mut st) => f(&mut st),
        Err(_) => fallback,
    }
}

impl State {
    fn fields(&mut self, msg: u32) -> Option<&mut Vec<(String, Vec<u8>)>> {
        match msg {
            message::REQUEST => Some(&mut self.request),
            message::RESPONSE => self.response.as_mut().map(|r| &mut r.headers),
            _ => None,
        }
    }

    fn lend(&mut self, bytes: &[u8], out: *mut ByteSlice) {
        let copy: Box<[u8]> = bytes.into();
        if !out.is_null() {
            // SAFETY: a live out-pointer from the plugin; the copy lives until the hook returns.
            unsafe { *out = ByteSlice::new(&copy) };
        }
        self.arena.push(copy);
    }
}

fn text(s: ByteSlice) -> String {
    // SAFETY: lent for the call.
    String::from_utf8_lossy(unsafe { s.as_slice() }).into_owned()
}

pub(super) unsafe extern "C" fn header_get(t: *mut TxnCtx, m: u32, n: ByteSlice, i: usize, o: *mut ByteSlice) -> i32 {
    let name = text(n);
    with(t, 0, |st| {
        let found = st.fields(m).and_then(|f| f.iter().filter(|(k, _)| k.eq_ignore_ascii_case(&name)).nth(i).cloned());
        match found {
            Some((_, v)) => {
                st.lend(&v, o);
                1
            }
            None => 0,
        }
    })
}

pub(super) unsafe extern "C" fn header_at(
    t: *mut TxnCtx,
    m: u32,
    i: usize,
    n: *mut ByteSlice,
    v: *mut ByteSlice,
) -> i32 {
    with(t, 0, |st| match st.fields(m).and_then(|f| f.get(i).cloned()) {
        Some((name, value)) => {
            st.lend(name.as_bytes(), n);
            st.lend(&value, v);
            1
        }
        None => 0,
    })
}

pub(super) unsafe extern "C" fn header_set(t: *mut TxnCtx, m: u32, n: ByteSlice, v: ByteSlice) -> i32 {
    let (name, value) = (text(n), unsafe { v.as_slice() }.to_vec());
    with(t, STATUS_ERROR, |st| match st.fields(m) {
        Some(fields) => {
            fields.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
            fields.push((name, value));
            STATUS_OK
        }
        None => STATUS_ERROR,
    })
}

pub(super) unsafe extern "C" fn header_append(t: *mut TxnCtx, m: u32, n: ByteSlice, v: ByteSlice) -> i32 {
    let (name, value) = (text(n), unsafe { v.as_slice() }.to_vec());
    with(t, STATUS_ERROR, |st| match st.fields(m) {
        Some(fields) => {
            fields.push((name, value));
            STATUS_OK
        }
        None => STATUS_ERROR,
    })
}

pub(super) unsafe extern "C" fn header_remove(t: *mut TxnCtx, m: u32, n: ByteSlice) -> i32 {
    let name = text(n);
    with(t, 0, |st| {
        let Some(fields) = st.fields(m) else { return 0 };
        let before = fields.len();
        fields.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        i32::from(fields.len() != before)
    })
}

pub(super) unsafe extern "C" fn method(t: *mut TxnCtx, o: *mut ByteSlice) -> i32 {
    with(t, 0, |st| {
        let m = st.method.clone();
        st.lend(m.as_bytes(), o);
        1
    })
}

pub(super) unsafe extern "C" fn url(t: *mut TxnCtx, o: *mut ByteSlice) -> i32 {
    with(t, 0, |st| {
        let u = st.url.clone();
        st.lend(u.as_bytes(), o);
        1
    })
}

pub(super) unsafe extern "C" fn status_get(t: *mut TxnCtx) -> i32 {
    with(t, 0, |st| st.response.as_ref().map_or(0, |r| i32::from(r.status)))
}

pub(super) unsafe extern "C" fn status_set(t: *mut TxnCtx, status: u16) -> i32 {
    if !(100..=999).contains(&status) {
        return STATUS_BAD_ARG;
    }
    with(t, STATUS_ERROR, |st| match st.response.as_mut() {
        Some(r) if st.phase != Phase::Close => {
            r.status = status;
            STATUS_OK
        }
        _ => STATUS_ERROR,
    })
}

pub(super) unsafe extern "C" fn fail(t: *mut TxnCtx, status: u16, msg: ByteSlice) -> i32 {
    let msg = text(msg);
    with(t, STATUS_ERROR, |st| {
        st.failed.get_or_insert((status, msg));
        STATUS_OK
    })
}

/// The same rules as the host: request transforms from the request hook
/// only, response transforms before `send_response_headers`, none on a
/// message without a body.
pub(super) unsafe extern "C" fn add_transform(t: *mut TxnCtx, dir: u32, instance: *mut c_void) -> i32 {
    if instance.is_null() {
        return STATUS_BAD_ARG;
    }
    with(t, STATUS_ERROR, |st| {
        let (d, allowed, body) = match dir {
            direction::REQUEST => (Direction::Request, st.phase == Phase::Request, st.request_body),
            direction::RESPONSE => (
                Direction::Response,
                matches!(st.phase, Phase::Request | Phase::Response),
                // Added from the request hook: decided once the response is known.
                st.response.as_ref().map_or(Body::Unknown, |r| r.body),
            ),
            _ => return STATUS_BAD_ARG,
        };
        if !allowed {
            return STATUS_TOO_LATE;
        }
        if body == Body::None {
            return STATUS_NO_BODY;
        }
        st.added.push((d, instance));
        STATUS_OK
    })
}

pub(super) unsafe extern "C" fn state_get(t: *mut TxnCtx) -> *mut c_void {
    with(t, std::ptr::null_mut(), |st| st.slot)
}

pub(super) unsafe extern "C" fn state_set(t: *mut TxnCtx, state: *mut c_void) -> i32 {
    with(t, STATUS_ERROR, |st| {
        if !st.slot.is_null() || state.is_null() {
            return STATUS_ERROR;
        }
        st.slot = state;
        STATUS_OK
    })
}

pub(super) unsafe extern "C" fn body_of(t: *mut TxnCtx, m: u32, len_out: *mut i64) -> i32 {
    with(t, body::ABSENT, |st| {
        let b = match m {
            message::REQUEST => st.request_body,
            message::RESPONSE => match st.response.as_ref() {
                Some(r) => r.body,
                None => return body::ABSENT,
            },
            _ => return body::ABSENT,
        };
        match b {
            Body::None => body::NONE,
            Body::Unknown => body::UNKNOWN,
            Body::Length(n) => {
                if !len_out.is_null() {
                    // SAFETY: a live out-pointer for the call.
                    unsafe { *len_out = i64::try_from(n).unwrap_or(i64::MAX) };
                }
                body::LENGTH
            }
        }
    })
}
