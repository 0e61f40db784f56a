//! A test-only plugin that exercises what SDK 1.2 added, so the end-to-end
//! tests can watch each through the real host. Arguments (any mix):
//!
//! - `stamp=VALUE`: every response gets `x-probe-stamp: VALUE`.
//! - `remember`: the request hook keeps the method and URL in the
//!   transaction's state; the response hook copies them into
//!   `x-probe-request` and logs `probe saw METHOD URL`.
//! - `block=WORD`: response bodies are held to their end; one containing
//!   WORD is replaced by a 403, others go out unchanged with their length.
//! - `block-request=WORD`: the same on request bodies; the origin never
//!   sees a blocked request.
//! - `hooks=LIST`: ask the host for only these hooks (SDK 1.3), a comma
//!   list of `read-request`, `read-response`, `send-response`, `close`;
//!   without it, every hook.
//!
//! Counters: `requests`, `remembered`, `blocked`, `passed`, and `sent` and
//! `closed` (calls of `send_response_headers` and `txn_close`). Its `fini`
//! logs `probe fini stamp=VALUE`.

use plugin_sdk::{declare_plugin, log_info, Chunk, Counter, Hooks, Message, Output, Plugin, StreamTransform, Txn};

/// What the request hook leaves for the response hook.
#[derive(Default)]
struct Seen {
    request: Option<String>,
}

pub struct Probe {
    stamp: Option<String>,
    remember: bool,
    block: Option<Vec<u8>>,
    block_request: Option<Vec<u8>>,
    hooks: Hooks,
    requests: Counter,
    remembered: Counter,
    blocked: Counter,
    passed: Counter,
    sent: Counter,
    closed: Counter,
}

impl Plugin for Probe {
    fn init(args: &[String]) -> Result<Self, String> {
        let mut probe = Probe {
            stamp: None,
            remember: false,
            block: None,
            block_request: None,
            hooks: Hooks::ALL,
            requests: Counter::register("requests"),
            remembered: Counter::register("remembered"),
            blocked: Counter::register("blocked"),
            passed: Counter::register("passed"),
            sent: Counter::register("sent"),
            closed: Counter::register("closed"),
        };
        for arg in args {
            match arg.split_once('=') {
                Some(("stamp", v)) => probe.stamp = Some(v.to_string()),
                Some(("block", w)) if !w.is_empty() => probe.block = Some(w.as_bytes().to_vec()),
                Some(("block-request", w)) if !w.is_empty() => probe.block_request = Some(w.as_bytes().to_vec()),
                Some(("hooks", list)) => probe.hooks = parse_hooks(list)?,
                None if arg == "remember" => probe.remember = true,
                _ => {
                    return Err(format!(
                        "unknown argument {arg:?}: probe takes stamp=V, remember, block=W, block-request=W, hooks=LIST"
                    ))
                }
            }
        }
        Ok(probe)
    }

    fn hooks(&self) -> Hooks {
        self.hooks
    }

    fn read_request_headers(&self, txn: &mut Txn<'_>) {
        self.requests.inc();
        if self.remember {
            let seen = format!("{} {}", txn.method(), txn.url());
            txn.state::<Seen>().request = Some(seen);
        }
        if let Some(word) = &self.block_request {
            let _ = txn.add_request_stream(Hold::new(word, &self.blocked, &self.passed));
        }
    }

    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        if let Some(stamp) = &self.stamp {
            txn.response().set("x-probe-stamp", stamp);
        }
        if let Some(seen) = txn.state::<Seen>().request.clone() {
            self.remembered.inc();
            log_info!("probe saw {seen}");
            txn.response().set("x-probe-request", seen);
        }
        if let Some(word) = &self.block {
            let _ = txn.add_response_stream(Hold::new(word, &self.blocked, &self.passed));
        }
    }

    fn send_response_headers(&self, _txn: &mut Txn<'_>) {
        self.sent.inc();
    }

    fn txn_close(&self, _txn: &mut Txn<'_>) {
        self.closed.inc();
    }
}

declare_plugin!(Probe);

fn parse_hooks(list: &str) -> Result<Hooks, String> {
    list.split(',').try_fold(Hooks::NONE, |hooks, name| {
        let hook = match name {
            "read-request" => Hooks::READ_REQUEST_HEADERS,
            "read-response" => Hooks::READ_RESPONSE_HEADERS,
            "send-response" => Hooks::SEND_RESPONSE_HEADERS,
            "close" => Hooks::TXN_CLOSE,
            other => {
                return Err(format!(
                    "unknown hook {other:?} in hooks=: use read-request, read-response, send-response, close"
                ))
            }
        };
        Ok(hooks | hook)
    })
}

/// `fini`: one line per plugin value, so tests can see it finalised exactly once.
impl Drop for Probe {
    fn drop(&mut self) {
        log_info!("probe fini stamp={}", self.stamp.as_deref().unwrap_or("-"));
    }
}

/// Holds a body to its end; replaces it with a 403 if it contains `word`.
pub struct Hold {
    word: Vec<u8>,
    /// The last `word.len() - 1` bytes seen, for a match across pieces.
    tail: Vec<u8>,
    blocked: Counter,
    passed: Counter,
}

impl Hold {
    fn new(word: &[u8], blocked: &Counter, passed: &Counter) -> Self {
        Hold { word: word.to_vec(), tail: Vec::new(), blocked: blocked.clone(), passed: passed.clone() }
    }
}

impl StreamTransform for Hold {
    fn holds_output(&self) -> bool {
        true
    }

    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        self.tail.extend_from_slice(chunk);
        if self.tail.windows(self.word.len()).any(|w| w == self.word.as_slice()) {
            self.blocked.inc();
            let page = Message::new(403).header("content-type", "text/plain").body("blocked by probe\n");
            let _ = out.replace(&page);
            return;
        }
        let keep = self.word.len() - 1;
        self.tail.drain(..self.tail.len().saturating_sub(keep));
        out.pass(chunk);
    }

    fn on_end(&mut self, out: &mut Output<'_>) {
        if out.is_held() {
            self.passed.inc();
        }
    }
}
