//! The plugin-global side: initialisation from `plugin.config` arguments and
//! the transaction hooks. One value per loaded plugin, shared by every worker
//! thread, hence `Send + Sync`.

use crate::ffi::hook_id;
use crate::txn::Txn;

/// A set of transaction hooks: what [`Plugin::hooks`] returns. Combine
/// with `|`, as in `Hooks::READ_REQUEST_HEADERS | Hooks::READ_RESPONSE_HEADERS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hooks(u32);

impl Hooks {
    /// No hook.
    pub const NONE: Hooks = Hooks(0);
    /// [`Plugin::read_request_headers`].
    pub const READ_REQUEST_HEADERS: Hooks = Hooks(1 << hook_id::READ_REQUEST_HEADERS);
    /// [`Plugin::read_response_headers`].
    pub const READ_RESPONSE_HEADERS: Hooks = Hooks(1 << hook_id::READ_RESPONSE_HEADERS);
    /// [`Plugin::send_response_headers`].
    pub const SEND_RESPONSE_HEADERS: Hooks = Hooks(1 << hook_id::SEND_RESPONSE_HEADERS);
    /// [`Plugin::txn_close`].
    pub const TXN_CLOSE: Hooks = Hooks(1 << hook_id::TXN_CLOSE);
    /// Every hook: the default.
    pub const ALL: Hooks = Hooks(
        Hooks::READ_REQUEST_HEADERS.0
            | Hooks::READ_RESPONSE_HEADERS.0
            | Hooks::SEND_RESPONSE_HEADERS.0
            | Hooks::TXN_CLOSE.0,
    );

    /// Whether every hook of `other` is in `self`.
    pub const fn contains(self, other: Hooks) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` and `other` together.
    pub const fn with(self, other: Hooks) -> Hooks {
        Hooks(self.0 | other.0)
    }

    /// The mask of `1 << hook_id` the ABI carries.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl std::ops::BitOr for Hooks {
    type Output = Hooks;

    fn bitor(self, other: Hooks) -> Hooks {
        self.with(other)
    }
}

/// A plugin. Declare it with [`declare_plugin!`](crate::declare_plugin).
///
/// Each hook has a safe default that does nothing. A hook runs on the
/// transaction's worker thread, in `plugin.config` order among plugins; a
/// panic in a hook fails that transaction with a 500 and is counted, the
/// plugin stays loaded.
pub trait Plugin: Send + Sync + Sized + 'static {
    /// Builds the plugin from its `plugin.config` arguments (the words after
    /// the path). An `Err` refuses the whole configuration with that message,
    /// so say what is wrong and what to write instead.
    fn init(args: &[String]) -> Result<Self, String>;

    /// The hooks the host calls on this plugin, asked once after
    /// [`Plugin::init`] (so it may depend on the arguments). Name the hooks
    /// you implement: a hook left out is never called, which saves a call
    /// per transaction, as a Traffic Server plugin is called only on the
    /// hooks it added. The default is every hook.
    fn hooks(&self) -> Hooks {
        Hooks::ALL
    }

    /// The client request head was read (before any request body).
    /// The place to add request transforms.
    fn read_request_headers(&self, txn: &mut Txn<'_>) {
        let _ = txn;
    }

    /// The origin response head was read (before any response body).
    /// The place to add response transforms and adjust response headers.
    /// For a `101 Switching Protocols` (a WebSocket handshake, say) this and
    /// [`Plugin::send_response_headers`] see the 101, and a transform added
    /// never runs: what follows a 101 is another protocol, not a body.
    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        let _ = txn;
    }

    /// The response head is about to be written to the client. It is *not*
    /// the place to add transforms (too late: they are refused).
    fn send_response_headers(&self, txn: &mut Txn<'_>) {
        let _ = txn;
    }

    /// The transaction ended (normally or not). For a connection that
    /// switched protocols (101), this runs as the host starts relaying the
    /// new protocol: a plugin sees nothing of it after the handshake.
    fn txn_close(&self, txn: &mut Txn<'_>) {
        let _ = txn;
    }
}
