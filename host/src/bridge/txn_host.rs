//! The transaction half of the host function table: what a hook can see and
//! change. The context pointer a hook receives points at a [`TxnCell`] that
//! lives on the caller's stack for the duration of the hook call.
//!
//! Strings lent to the plugin are copies kept in the cell's arena until the
//! hook returns, so a header change during the hook cannot dangle them.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use plugin_sdk::ffi::{
    body, direction, message, ByteSlice, TxnCtx, STATUS_BAD_ARG, STATUS_ERROR, STATUS_NO_BODY, STATUS_OK,
    STATUS_TOO_LATE,
};

use super::hooks::TxnView;
use crate::h1::head::{BodyKind, Headers};
use crate::plugins::Module;
use crate::transform::Instance;

/// Which hook is running: decides which transforms may still be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    ReadRequest,
    ReadResponse,
    SendResponse,
    Close,
}

/// Everything a hook call may touch.
pub(crate) struct TxnState<'v, 'a> {
    pub view: &'v mut TxnView<'a>,
    pub module: &'v Arc<Module>,
    pub phase: Phase,
    pub arena: Vec<Box<[u8]>>,
    pub fail: Option<(u16, String)>,
    /// The transaction's transforms so far: a hook appends to them.
    pub request_added: &'v mut Vec<Instance>,
    pub response_added: &'v mut Vec<Instance>,
    /// This plugin's per-transaction state slot.
    pub slot: StateSlot<'v>,
}

/// One plugin's place among the transaction's per-plugin states, which
/// stay unallocated until some plugin stores one.
pub(crate) struct StateSlot<'v> {
    pub states: &'v mut Vec<*mut std::ffi::c_void>,
    /// This plugin's position in module order.
    pub index: usize,
    /// How many modules the generation has.
    pub modules: usize,
}

impl StateSlot<'_> {
    /// The stored state; null if none.
    fn get(&self) -> *mut std::ffi::c_void {
        self.states.get(self.index).copied().unwrap_or(std::ptr::null_mut())
    }

    fn set(&mut self, state: *mut std::ffi::c_void) {
        if self.states.is_empty() {
            self.states.resize(self.modules, std::ptr::null_mut());
        }
        self.states[self.index] = state;
    }
}

/// What the `TxnCtx` pointer points at.
pub(crate) struct TxnCell<'v, 'a> {
    pub state: RefCell<TxnState<'v, 'a>>,
}

impl TxnCell<'_, '_> {
    pub fn ctx(&self) -> *mut TxnCtx {
        self as *const Self as *mut TxnCtx
    }
}

impl TxnState<'_, '_> {
    fn headers(&self, msg: u32) -> Option<&Headers> {
        match msg {
            message::REQUEST => Some(&self.view.request.headers),
            message::RESPONSE => self.view.response.as_deref().map(|r| &r.headers),
            _ => None,
        }
    }

    fn headers_mut(&mut self, msg: u32) -> Option<&mut Headers> {
        match msg {
            message::REQUEST => Some(&mut self.view.request.headers),
            message::RESPONSE => self.view.response.as_deref_mut().map(|r| &mut r.headers),
            _ => None,
        }
    }

    /// Copies `bytes` into the arena and points `out` at the copy.
    fn lend(&mut self, bytes: &[u8], out: *mut ByteSlice) {
        let copy: Box<[u8]> = bytes.into();
        if !out.is_null() {
            // SAFETY: `out` is a live pointer from the plugin for this call;
            // the copy lives in the arena (a Box does not move) until the hook returns.
            unsafe { *out = ByteSlice { ptr: copy.as_ptr(), len: copy.len() } };
        }
        self.arena.push(copy);
    }
}

/// Runs `f` on the state behind `txn`; `fallback` on a null pointer, a
/// re-entrant call, or a panic.
fn with<T>(txn: *mut TxnCtx, fallback: T, f: impl FnOnce(&mut TxnState<'_, '_>) -> T) -> T {
    if txn.is_null() {
        return fallback;
    }
    // SAFETY: plugins receive only pointers to a TxnCell alive for the hook call.
    let cell = unsafe { &*(txn as *const TxnCell<'_, '_>) };
    let Ok(mut state) = cell.state.try_borrow_mut() else {
        return fallback;
    };
    catch_unwind(AssertUnwindSafe(|| f(&mut state))).unwrap_or(fallback)
}

/// A header name from the plugin, if it is UTF-8.
fn name_of<'n>(name: ByteSlice) -> Option<&'n str> {
    // SAFETY: the plugin lends `name` for this call.
    std::str::from_utf8(unsafe { name.as_slice() }).ok()
}

pub(crate) unsafe extern "C" fn txn_header_get(
    txn: *mut TxnCtx,
    msg: u32,
    name: ByteSlice,
    index: usize,
    out: *mut ByteSlice,
) -> i32 {
    let Some(name) = name_of(name) else { return 0 };
    with(txn, 0, |s| {
        let value = s.headers(msg).and_then(|h| h.get_all(name).nth(index).map(|v| v.to_vec()));
        match value {
            Some(v) => {
                s.lend(&v, out);
                1
            }
            None => 0,
        }
    })
}

pub(crate) unsafe extern "C" fn txn_header_at(
    txn: *mut TxnCtx,
    msg: u32,
    index: usize,
    name: *mut ByteSlice,
    value: *mut ByteSlice,
) -> i32 {
    with(txn, 0, |s| {
        let field = s.headers(msg).and_then(|h| h.iter().nth(index).map(|(n, v)| (n.as_bytes().to_vec(), v.to_vec())));
        match field {
            Some((n, v)) => {
                s.lend(&n, name);
                s.lend(&v, value);
                1
            }
            None => 0,
        }
    })
}

pub(crate) unsafe extern "C" fn txn_header_set(txn: *mut TxnCtx, msg: u32, name: ByteSlice, value: ByteSlice) -> i32 {
    let Some(name) = name_of(name) else {
        return STATUS_BAD_ARG;
    };
    // SAFETY: lent for this call.
    let value = unsafe { value.as_slice() }.to_vec();
    with(txn, STATUS_ERROR, |s| match s.headers_mut(msg) {
        Some(h) => {
            h.set(name, value);
            STATUS_OK
        }
        None => STATUS_ERROR,
    })
}

pub(crate) unsafe extern "C" fn txn_header_append(
    txn: *mut TxnCtx,
    msg: u32,
    name: ByteSlice,
    value: ByteSlice,
) -> i32 {
    let Some(name) = name_of(name) else {
        return STATUS_BAD_ARG;
    };
    // SAFETY: lent for this call.
    let value = unsafe { value.as_slice() }.to_vec();
    with(txn, STATUS_ERROR, |s| match s.headers_mut(msg) {
        Some(h) => {
            h.append(name, value);
            STATUS_OK
        }
        None => STATUS_ERROR,
    })
}

pub(crate) unsafe extern "C" fn txn_header_remove(txn: *mut TxnCtx, msg: u32, name: ByteSlice) -> i32 {
    let Some(name) = name_of(name) else { return 0 };
    with(txn, 0, |s| s.headers_mut(msg).map_or(0, |h| i32::from(h.remove(name))))
}

pub(crate) unsafe extern "C" fn txn_method(txn: *mut TxnCtx, out: *mut ByteSlice) -> i32 {
    with(txn, 0, |s| {
        let m = s.view.request.method.clone();
        s.lend(m.as_bytes(), out);
        1
    })
}

pub(crate) unsafe extern "C" fn txn_url(txn: *mut TxnCtx, out: *mut ByteSlice) -> i32 {
    with(txn, 0, |s| {
        let t = s.view.request.target.clone();
        s.lend(t.as_bytes(), out);
        1
    })
}

pub(crate) unsafe extern "C" fn txn_status_get(txn: *mut TxnCtx) -> i32 {
    with(txn, 0, |s| s.view.response.as_deref().map_or(0, |r| i32::from(r.status)))
}

pub(crate) unsafe extern "C" fn txn_status_set(txn: *mut TxnCtx, status: u16) -> i32 {
    if !(100..=999).contains(&status) {
        return STATUS_BAD_ARG;
    }
    with(txn, STATUS_ERROR, |s| match s.view.response.as_deref_mut() {
        Some(r) if s.phase != Phase::Close => {
            r.status = status;
            STATUS_OK
        }
        _ => STATUS_ERROR,
    })
}

pub(crate) unsafe extern "C" fn txn_fail(txn: *mut TxnCtx, status: u16, msg: ByteSlice) -> i32 {
    // SAFETY: lent for this call.
    let msg = String::from_utf8_lossy(unsafe { msg.as_slice() }).into_owned();
    let status = if (400..=599).contains(&status) { status } else { 500 };
    with(txn, STATUS_ERROR, |s| {
        s.fail.get_or_insert((status, msg));
        STATUS_OK
    })
}

/// Accepts a transform instance if its direction is still open in this phase.
pub(crate) unsafe extern "C" fn txn_add_transform(txn: *mut TxnCtx, dir: u32, instance: *mut std::ffi::c_void) -> i32 {
    if instance.is_null() {
        return STATUS_BAD_ARG;
    }
    with(txn, STATUS_ERROR, |s| {
        let allowed = match dir {
            direction::REQUEST => s.phase == Phase::ReadRequest,
            direction::RESPONSE => matches!(s.phase, Phase::ReadRequest | Phase::ReadResponse),
            _ => false,
        };
        if !allowed {
            return STATUS_TOO_LATE;
        }
        let kind = if dir == direction::REQUEST {
            s.view.request_body
        } else if s.view.response.is_some() {
            s.view.response_body
        } else {
            // From the request hook: the response's framing is not known yet.
            BodyKind::Chunked
        };
        if kind == BodyKind::Empty {
            return STATUS_NO_BODY;
        }
        let inst = Instance::new(s.module.clone(), instance);
        if dir == direction::REQUEST {
            s.request_added.push(inst);
        } else {
            s.response_added.push(inst);
        }
        STATUS_OK
    })
}

pub(crate) unsafe extern "C" fn txn_state_get(txn: *mut TxnCtx) -> *mut std::ffi::c_void {
    with(txn, std::ptr::null_mut(), |s| s.slot.get())
}

/// Stores the plugin's state; the bridge drops it through the plugin when the transaction ends.
pub(crate) unsafe extern "C" fn txn_state_set(txn: *mut TxnCtx, state: *mut std::ffi::c_void) -> i32 {
    if state.is_null() {
        return STATUS_BAD_ARG;
    }
    with(txn, STATUS_ERROR, |s| {
        if !s.slot.get().is_null() {
            return STATUS_ERROR;
        }
        s.slot.set(state);
        STATUS_OK
    })
}

pub(crate) unsafe extern "C" fn txn_body(txn: *mut TxnCtx, msg: u32, len_out: *mut i64) -> i32 {
    with(txn, body::ABSENT, |s| {
        let kind = match msg {
            message::REQUEST => s.view.request_body,
            message::RESPONSE if s.view.response.is_some() => s.view.response_body,
            _ => return body::ABSENT,
        };
        match kind {
            BodyKind::Empty => body::NONE,
            BodyKind::Length(n) => {
                if !len_out.is_null() {
                    // SAFETY: a live out-pointer from the plugin for this call.
                    unsafe { *len_out = i64::try_from(n).unwrap_or(i64::MAX) };
                }
                body::LENGTH
            }
            BodyKind::Chunked | BodyKind::CloseDelimited => body::UNKNOWN,
        }
    })
}
