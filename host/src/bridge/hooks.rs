//! Per-transaction plugin state: running the hooks in `plugin.config`
//! order and collecting the transforms they add.
//!
//! ```text
//! read_request_headers  -> take_request_chain   (request body)
//! read_response_headers -> take_response_chain  (response body)
//! send_response_headers
//! txn_close             (always, even after a failure)
//! ```
//!
//! A plugin is called only on the hooks it asked for at load
//! (`Module::wants`; every hook for plugins older than ABI 1.3).

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use plugin_sdk::ffi::{hook_id, STATUS_OK, STATUS_PANIC};

use super::txn_host::{Phase, StateSlot, TxnCell, TxnState};
use crate::h1::head::{BodyKind, RequestHead, ResponseHead};
use crate::plugins::Generation;
use crate::transform::{give_back_list, instance_list, Chain, Instance};

/// The parts of a transaction hooks may read and change.
pub struct TxnView<'a> {
    /// The client's request head.
    pub request: &'a mut RequestHead,
    /// The request body's framing as received (before hooks edit the head).
    pub request_body: BodyKind,
    /// The origin's response head, once there is one.
    pub response: Option<&'a mut ResponseHead>,
    /// The response body's framing as received (`Empty` before a response).
    pub response_body: BodyKind,
}

impl<'a> TxnView<'a> {
    /// Before the response: the request and its body's framing.
    pub fn request(request: &'a mut RequestHead, request_body: BodyKind) -> Self {
        TxnView { request, request_body, response: None, response_body: BodyKind::Empty }
    }

    /// With the response and its body's framing.
    pub fn response(self, response: &'a mut ResponseHead, response_body: BodyKind) -> Self {
        TxnView { response: Some(response), response_body, ..self }
    }
}

/// What the transaction does after a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookResult {
    /// Go on.
    Continue,
    /// Stop and answer `status` (if the response has not started); log `message`.
    Fail {
        /// 4xx or 5xx.
        status: u16,
        /// For the log: which plugin and why.
        message: String,
    },
}

/// One transaction's view of its generation's plugins.
pub struct TxnPlugins {
    generation: Arc<Generation>,
    request: Vec<Instance>,
    response: Vec<Instance>,
    /// Each plugin's per-transaction state (null: none), in module order;
    /// dropped through its plugin when the transaction ends. Empty until a
    /// plugin stores one, so a transaction whose plugins keep none allocates none.
    states: Vec<*mut std::ffi::c_void>,
}

impl TxnPlugins {
    /// Starts a transaction on `generation`; it keeps the generation to its end.
    pub fn new(generation: Arc<Generation>) -> Self {
        for m in generation.modules() {
            m.stats.transactions.fetch_add(1, Ordering::Relaxed);
        }
        generation.count_txn(true);
        let n = generation.modules().len();
        // Room for every plugin adding a response transform (the common
        // case), so the hooks never grow it; it becomes the chain's, whose
        // end hands the storage back for the next transaction.
        TxnPlugins { generation, request: Vec::new(), response: instance_list(n), states: Vec::new() }
    }

    /// The client request head was read.
    pub fn read_request_headers(&mut self, v: &mut TxnView<'_>) -> HookResult {
        self.run(Phase::ReadRequest, v)
    }

    /// The origin response head was read.
    pub fn read_response_headers(&mut self, v: &mut TxnView<'_>) -> HookResult {
        self.run(Phase::ReadResponse, v)
    }

    /// The response head is about to be sent.
    pub fn send_response_headers(&mut self, v: &mut TxnView<'_>) -> HookResult {
        self.run(Phase::SendResponse, v)
    }

    /// The transaction is over; every plugin's hook runs, failures are only logged.
    pub fn txn_close(&mut self, v: &mut TxnView<'_>) {
        if let HookResult::Fail { message, .. } = self.run(Phase::Close, v) {
            tracing::warn!("{message}");
        }
    }

    /// Transforms added so far for the request body, in plugin.config order.
    pub fn take_request_chain(&mut self) -> Option<Chain> {
        let instances = std::mem::take(&mut self.request);
        self.chain_of(instances)
    }

    /// Transforms added so far for the response body, in plugin.config order.
    pub fn take_response_chain(&mut self) -> Option<Chain> {
        let instances = std::mem::take(&mut self.response);
        self.chain_of(instances)
    }

    fn chain_of(&self, instances: Vec<Instance>) -> Option<Chain> {
        if instances.is_empty() {
            give_back_list(instances);
            return None;
        }
        Some(Chain::new(instances, self.generation.water_mark()))
    }

    fn run(&mut self, phase: Phase, v: &mut TxnView<'_>) -> HookResult {
        let (id, hook_name) = match phase {
            Phase::ReadRequest => (hook_id::READ_REQUEST_HEADERS, "read_request_headers"),
            Phase::ReadResponse => (hook_id::READ_RESPONSE_HEADERS, "read_response_headers"),
            Phase::SendResponse => (hook_id::SEND_RESPONSE_HEADERS, "send_response_headers"),
            Phase::Close => (hook_id::TXN_CLOSE, "txn_close"),
        };
        let mut result = HookResult::Continue;
        if !self.generation.wants(id) {
            return result;
        }
        let TxnPlugins { generation, request, response, states } = self;
        let modules = generation.modules().len();
        // Read only once a plugin wants this hook: most phases call none.
        let mut now = 0;
        for (index, module) in generation.modules().iter().enumerate() {
            if !module.wants(id) {
                continue;
            }
            if now == 0 {
                now = crate::clock::coarse_ns();
            }
            let cell = TxnCell {
                state: RefCell::new(TxnState {
                    view: &mut *v,
                    module,
                    phase,
                    arena: Vec::new(),
                    fail: None,
                    request_added: &mut *request,
                    response_added: &mut *response,
                    slot: StateSlot { states: &mut *states, index, modules },
                }),
            };
            // SAFETY: the context points at `cell`, alive until after the call.
            let (status, after) = unsafe { module.call_hook_at(id, cell.ctx(), now) };
            now = after;
            let state = cell.state.into_inner();
            let name = module.name();
            let this = if status == STATUS_PANIC {
                let msg = module.count_panic(hook_name).map(|m| format!(": {m}")).unwrap_or_default();
                HookResult::Fail { status: 500, message: format!("plugin {name} panicked in {hook_name}{msg}") }
            } else if status != STATUS_OK {
                module.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                HookResult::Fail {
                    status: 500,
                    message: format!("plugin {name} refused {hook_name} (status {status})"),
                }
            } else if let Some((status, why)) = state.fail {
                HookResult::Fail {
                    status,
                    message: format!("plugin {name} failed the transaction in {hook_name}: {why}"),
                }
            } else {
                HookResult::Continue
            };
            if this != HookResult::Continue && result == HookResult::Continue {
                result = this;
                if phase != Phase::Close {
                    break;
                }
            }
        }
        result
    }
}

impl Drop for TxnPlugins {
    fn drop(&mut self) {
        // Transforms first: an instance may refer to its transaction's state.
        give_back_list(std::mem::take(&mut self.request));
        give_back_list(std::mem::take(&mut self.response));
        for (module, state) in self.generation.modules().iter().zip(self.states.drain(..)) {
            if !state.is_null() {
                module.drop_txn_state(state);
            }
        }
        self.generation.count_txn(false);
    }
}
