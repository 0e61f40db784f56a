//! The plugin-global side: initialisation from `plugin.config` arguments and
//! the transaction hooks. One value per loaded plugin, shared by every worker
//! thread, hence `Send + Sync`.

use crate::txn::Txn;

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

    /// The client request head was read (before any request body).
    /// The place to add request transforms.
    fn read_request_headers(&self, txn: &mut Txn<'_>) {
        let _ = txn;
    }

    /// The origin response head was read (before any response body).
    /// The place to add response transforms and adjust response headers.
    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        let _ = txn;
    }

    /// The response head is about to be written to the client. It is *not*
    /// the place to add transforms (too late: they are refused).
    fn send_response_headers(&self, txn: &mut Txn<'_>) {
        let _ = txn;
    }

    /// The transaction ended (normally or not).
    fn txn_close(&self, txn: &mut Txn<'_>) {
        let _ = txn;
    }
}
