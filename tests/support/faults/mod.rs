//! Support for the plugin-fault and ABI end-to-end tests, on top of
//! [`crate::plugins::PluginHost`]: one request classified by how it ended, and what only
//! these tests need besides.
//!
//! - [`process`]: bounded runs of `plugin-host check` / a refused `run`.
//! - [`abi`]: plugins built against a different ABI (the host's loader fixtures, mirrored).
//! - [`holding_origin`]: an origin that sends the start of a body, then nothing more.

pub mod abi;
pub mod holding_origin;
pub mod process;

use std::net::SocketAddr;
use std::time::Duration;

pub use holding_origin::HoldingOrigin;

use crate::client::{get_request, RawConn, RawResponse};

/// How long to wait for the host to close a connection it should close.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// One request on a fresh connection, and how it ended.
#[derive(Debug)]
pub struct Exchange {
    /// The response; `None` if not even a head came back (the error says why).
    pub response: Result<RawResponse, String>,
    /// Whether the host closed the connection after it (within a bounded wait). Only
    /// looked at when the response was not a complete 200: a served response keeps the
    /// connection open, and waiting for a close that never comes would only cost time.
    pub closed: bool,
}

impl Exchange {
    /// `GET target` on a fresh connection to `addr`; reads the response, then (unless it
    /// was served) whether the connection was closed.
    pub fn get(addr: SocketAddr, target: &str) -> Exchange {
        let mut conn = RawConn::connect(addr);
        if let Err(e) = conn.send(&get_request(target)) {
            return Exchange { response: Err(format!("send: {e}")), closed: true };
        }
        let response = conn.read_response(false).map_err(|e| e.to_string());
        let served = response.as_ref().is_ok_and(|r| r.complete && r.status == 200);
        Exchange { response, closed: !served && conn.is_closed(CLOSE_WAIT) }
    }

    /// What happened, in the contract's terms.
    pub fn outcome(&self) -> Outcome {
        match &self.response {
            Err(e) => Outcome::NoHead(e.clone()),
            Ok(r) if r.complete && r.status == 200 => Outcome::Served,
            Ok(r) if r.complete => Outcome::ErrorPage(r.status),
            Ok(r) => Outcome::Cut { status: r.status, got: r.body.len() },
        }
    }
}

/// How one exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200 and a complete body (its bytes are checked separately).
    Served,
    /// A complete non-200 response: an error page.
    ErrorPage(u16),
    /// A head, then the connection ended before the body was complete.
    Cut {
        /// The status of the head.
        status: u16,
        /// Body bytes received before the cut.
        got: usize,
    },
    /// Not even a response head.
    NoHead(String),
}
