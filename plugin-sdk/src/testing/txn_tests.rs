//! The fake transaction on each SDK 1.2 capability: state across hooks,
//! body info and refusals, logging, counters, holding and replacing.

use super::{init_plugin, take_logs, FakeHost, FakeTxn};
use crate::log::Level;
use crate::{log_warn, Body, Chunk, Counter, Direction, Hooks, Message, Output, Plugin, Refused, StreamTransform, Txn};

#[derive(Default)]
struct Decided {
    coding: Option<String>,
}

/// Decides in the request hook, acts in the response hook; counts and logs.
struct Negotiate {
    decided: Counter,
}

impl Plugin for Negotiate {
    fn init(_: &[String]) -> Result<Self, String> {
        Ok(Negotiate { decided: Counter::register("decided") })
    }
    fn read_request_headers(&self, txn: &mut Txn<'_>) {
        let wanted = txn.request().get("accept-encoding").map(|v| String::from_utf8_lossy(v).into_owned());
        if wanted.is_some() {
            self.decided.inc();
        }
        txn.state::<Decided>().coding = wanted;
    }
    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        if let Some(coding) = txn.state::<Decided>().coding.clone() {
            txn.response().set("x-coding", coding);
        } else {
            log_warn!("no coding for {}", txn.url());
        }
        let refused = txn.add_response_stream(Pass).err();
        txn.response().set("x-refused", format!("{refused:?}"));
    }
}

struct Pass;
impl StreamTransform for Pass {
    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        out.pass(chunk);
    }
    fn output_len(&self, n: Option<u64>) -> Option<u64> {
        n
    }
}

#[test]
fn state_made_in_the_request_hook_is_the_one_the_response_hook_sees() {
    let (plugin, counters) = init_plugin::<Negotiate>(&[]).expect("init");
    let mut txn = FakeTxn::new("GET", "/a").request_header("accept-encoding", "br");
    txn.run_request_hooks(&plugin);
    txn.respond(200, &[("content-length", "3")]);
    txn.run_response_hooks(&plugin);
    assert_eq!(txn.response_header("x-coding"), Some("br".into()));
    assert_eq!(counters.values(), vec![("decided".to_string(), 1)]);
    // A second transaction starts from a fresh state.
    let mut other = FakeTxn::new("GET", "/b");
    other.run_request_hooks(&plugin);
    other.respond(200, &[]);
    other.run_response_hooks(&plugin);
    assert_eq!(other.response_header("x-coding"), None);
    assert_eq!(take_logs(), vec![(Level::Warn, "no coding for /b".to_string())]);
}

#[test]
fn a_transform_on_a_message_without_a_body_is_refused_and_the_header_edits_stay() {
    let (plugin, _) = init_plugin::<Negotiate>(&[]).expect("init");
    for (method, status) in [("HEAD", 200), ("GET", 204), ("GET", 304)] {
        let mut txn = FakeTxn::new(method, "/").request_header("accept-encoding", "gzip");
        txn.run_request_hooks(&plugin);
        txn.respond(status, &[("content-length", "10")]);
        txn.run_response_hooks(&plugin);
        assert_eq!(txn.response_header("x-refused"), Some("Some(NoBody)".into()), "{method} {status}");
        assert_eq!(txn.response_header("x-coding"), Some("gzip".into()), "{method} {status}");
        assert_eq!(txn.transforms(Direction::Response), 0);
    }
    let _ = take_logs();
}

/// Adds transforms from the wrong hooks.
struct Late;
impl Plugin for Late {
    fn init(_: &[String]) -> Result<Self, String> {
        Ok(Late)
    }
    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        let r = txn.add_request_stream(Pass).err();
        txn.response().set("x-request-refused", format!("{r:?}"));
        let body = txn.request_body();
        txn.response().set("x-request-body", format!("{body:?}"));
    }
    fn send_response_headers(&self, txn: &mut Txn<'_>) {
        let r = txn.add_response_stream(Pass).err();
        txn.response().set("x-response-refused", format!("{r:?}"));
    }
}

/// Stamps the response in every hook it implements, but asks for two only.
struct Picky;

impl Plugin for Picky {
    fn init(_: &[String]) -> Result<Self, String> {
        Ok(Picky)
    }
    fn hooks(&self) -> Hooks {
        Hooks::READ_REQUEST_HEADERS | Hooks::SEND_RESPONSE_HEADERS
    }
    fn read_request_headers(&self, txn: &mut Txn<'_>) {
        txn.state::<Decided>().coding = Some("request".into());
    }
    fn read_response_headers(&self, txn: &mut Txn<'_>) {
        txn.response().set("x-read", "called");
    }
    fn send_response_headers(&self, txn: &mut Txn<'_>) {
        let seen = txn.state::<Decided>().coding.clone().unwrap_or_default();
        txn.response().set("x-send", seen);
    }
}

#[test]
fn only_the_hooks_a_plugin_asks_for_run() {
    assert!(Hooks::ALL.contains(Hooks::TXN_CLOSE) && !Hooks::NONE.contains(Hooks::TXN_CLOSE));
    assert_eq!((Hooks::READ_REQUEST_HEADERS | Hooks::TXN_CLOSE).bits(), (1 << 1) | (1 << 4));
    let mut txn = FakeTxn::new("GET", "/");
    txn.run_request_hooks(&Picky);
    txn.respond(200, &[("content-length", "0")]);
    txn.run_response_hooks(&Picky);
    assert_eq!(txn.response_header("x-read"), None, "read_response_headers was not asked for");
    assert_eq!(txn.response_header("x-send"), Some("request".into()));
}

#[test]
fn transforms_added_too_late_are_refused_as_such() {
    let mut txn = FakeTxn::new("POST", "/").request_body(Body::Length(4));
    txn.run_request_hooks(&Late);
    txn.respond(200, &[]);
    txn.run_response_hooks(&Late);
    assert_eq!(txn.response_header("x-request-refused"), Some("Some(TooLate)".into()));
    assert_eq!(txn.response_header("x-response-refused"), Some("Some(TooLate)".into()));
    assert_eq!(txn.response_header("x-request-body"), Some("Length(4)".into()));
}

/// Holds its output; replaces the message when the body holds `word`.
struct Guard {
    word: &'static [u8],
    seen: Vec<u8>,
}
impl StreamTransform for Guard {
    fn holds_output(&self) -> bool {
        true
    }
    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        self.seen.extend_from_slice(chunk);
        if self.seen.windows(self.word.len()).any(|w| w == self.word) {
            assert_eq!(out.replace(&Message::new(451).header("x-why", "word")), Ok(()));
            assert_eq!(out.replace(&Message::new(403)), Err(Refused::TooLate), "only once");
        } else {
            out.pass(chunk);
        }
    }
}

struct Guarded(&'static [u8]);
impl Plugin for Guarded {
    fn init(_: &[String]) -> Result<Self, String> {
        Ok(Guarded(b"bad"))
    }
    fn read_request_headers(&self, txn: &mut Txn<'_>) {
        assert_eq!(txn.add_request_stream(Guard { word: self.0, seen: Vec::new() }), Ok(()));
    }
}

#[test]
fn a_held_request_body_is_replaced_when_it_matches_and_passed_with_its_length_when_not() {
    let host = FakeHost::new();
    let mut txn = FakeTxn::new("POST", "/").request_body(Body::Length(9));
    txn.run_request_hooks(&Guarded(b"bad"));
    let out = txn.run_request_body(&host, &[b"a b", b"a", b"d c"]);
    let replaced = out.replaced.clone().expect("replaced");
    assert_eq!((replaced.status, replaced.headers), (451, vec![("x-why".to_string(), "word".to_string())]));
    assert!(out.bytes.is_empty() && !out.started, "nothing went on: {out:?}");

    let mut txn = FakeTxn::new("POST", "/").request_body(Body::Unknown);
    txn.run_request_hooks(&Guarded(b"bad"));
    let out = txn.run_request_body(&host.unknown_length(), &[b"go", b"od ", b"day"]);
    assert_eq!((out.bytes.as_slice(), out.nbytes, &out.replaced), (&b"good day"[..], Some(8), &None));
    assert!(out.complete && out.errors.is_empty(), "{out:?}");
}

/// Holds until it has seen `n` bytes, then releases and streams the rest.
struct ReleaseAfter(u64);
impl StreamTransform for ReleaseAfter {
    fn holds_output(&self) -> bool {
        true
    }
    fn on_data(&mut self, chunk: &Chunk<'_>, out: &mut Output<'_>) {
        out.pass(chunk);
        if out.written() >= self.0 {
            out.release();
        }
    }
    fn output_len(&self, n: Option<u64>) -> Option<u64> {
        n
    }
}

#[test]
fn released_output_goes_on_streaming_with_the_declared_length() {
    let data: Vec<u8> = (0..200u8).collect();
    let chunks: Vec<&[u8]> = data.chunks(7).collect();
    let out = FakeHost::new().run_stream(ReleaseAfter(30), &chunks);
    assert_eq!(out.bytes, data);
    assert_eq!(out.nbytes, Some(200));
    assert!(out.complete && out.errors.is_empty(), "{out:?}");
}
