//! `plugin-host run-transform`: one message body through a plugin chain,
//! without a proxy, for plugin authors and operators trying a chain on a
//! file.
//!
//! The generation comes from the real loader; the hooks run on the given
//! heads in the order a transaction runs them; the body (standard input)
//! is pushed through the resulting [`Chain`] in blocks, and what comes out
//! is written as it comes, so a body of any size streams:
//!
//! ```text
//! read_request_headers -> [request direction]  request chain  -> upstream head, body
//! read_response_headers -> [response direction] response chain -> send_response_headers -> head, body
//! txn_close (always)
//! ```
//!
//! The head goes to `head_out` (standard error) when the proxy would send
//! it: once the last transform starts its output, with the framing it
//! announced (`Content-Length` if it said its length, else
//! `Transfer-Encoding: chunked`; the body itself is never chunk-encoded).
//! A replacement is written as the message the client would get. A hook
//! failure, a fault or a stall is an error carrying the same one-line
//! message the proxy logs; before the head, the head written is the error
//! status the proxy would answer. A panic or protocol error the message
//! did not show (in `txn_close`, a transform's destructor, a VIO used
//! after close) is an error too, once the whole body is out.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use crate::bridge::{HookResult, TxnPlugins, TxnView};
use crate::h1::head::{
    parse_request, parse_response, request_framing, response_framing, strip_hop_by_hop, write_request, write_response,
    BodyKind, Headers, Limits, RequestHead, ResponseHead,
};
use crate::plugins::Generation;
use crate::transform::{Chain, Replacement, RunStatus};
use crate::txn::forward_heads::{frame_response, origin_form, BodyLen};

/// The request head used when `--request` is not given.
pub const DEFAULT_REQUEST: &str = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
/// The response head used when `--response-head` is not given.
pub const DEFAULT_RESPONSE: &str = "HTTP/1.1 200 OK\r\n\r\n";

/// Which body standard input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    /// The origin's response body, through the response transforms.
    Response,
    /// The client's request body, through the request transforms.
    Request,
}

/// `run-transform`'s own flags (the plugin flags are `check`'s).
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// A file holding the request head (default: `GET / HTTP/1.1`, `Host: localhost`).
    #[arg(long, value_name = "FILE")]
    pub request: Option<PathBuf>,
    /// A file holding the origin's response head (default: `HTTP/1.1 200 OK`). Its
    /// Content-Length, if any, is the length standard input must have.
    #[arg(long, value_name = "FILE")]
    pub response_head: Option<PathBuf>,
    /// Which body standard input is. A request body's length is the request head's
    /// Content-Length if it has one, else unknown (as if chunked).
    #[arg(long, value_enum, default_value_t = Direction::Response)]
    pub direction: Direction,
    /// Bytes of standard input pushed into the chain at a time (1 to 64 MiB).
    #[arg(long, default_value_t = 16 * 1024, value_parser = clap::value_parser!(u64).range(1..=MAX_BLOCK))]
    pub block_size: u64,
}

/// What went wrong, said once: bad input, or a plugin that failed.
#[derive(Debug, PartialEq, Eq)]
pub struct Failed(pub String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The largest `--block-size`: each block is one allocation.
const MAX_BLOCK: u64 = 64 * 1024 * 1024;

/// Heads are read with generous limits: they come from the operator's files.
const LIMITS: Limits = Limits { max_head_bytes: 1024 * 1024, max_headers: 10_000 };

/// Runs the transaction's hooks on the heads of `opts` and streams `body`
/// through the chain they build; see the module docs.
pub fn run(
    generation: Arc<Generation>,
    opts: &Options,
    body: &mut dyn Read,
    body_out: &mut dyn Write,
    head_out: &mut dyn Write,
) -> Result<(), Failed> {
    let mut request = read_head(opts.request.as_ref(), DEFAULT_REQUEST, "--request", |b| parse_request(b, &LIMITS))?;
    let mut response =
        read_head(opts.response_head.as_ref(), DEFAULT_RESPONSE, "--response-head", |b| parse_response(b, &LIMITS))?;
    let request_kind = request_framing(&request).map_err(|e| Failed(format!("--request: bad framing ({e})")))?;
    let response_kind = response_framing(&request.method, &response)
        .map_err(|e| Failed(format!("--response-head: bad framing ({e})")))?;
    let faults_before = faults(&generation);
    let mut run = Offline {
        plugins: TxnPlugins::new(generation.clone()),
        block: usize::try_from(opts.block_size).unwrap_or(usize::MAX),
        body,
        body_out,
        head_out,
    };
    let outcome = match opts.direction {
        // Standard input is the request body, whatever the head declares.
        Direction::Request => {
            let kind = if request_kind == BodyKind::Empty { BodyKind::Chunked } else { request_kind };
            run.request(&mut request, kind)
        }
        Direction::Response => run.response(&mut request, request_kind, &mut response, response_kind),
    };
    // As in the proxy: the hooks' last word, whatever happened.
    run.plugins.txn_close(&mut TxnView::request(&mut request, request_kind));
    drop(run.plugins);
    run.head_out.flush().and(run.body_out.flush()).map_err(|e| Failed(format!("writing the output: {e}")))?;
    outcome?;
    // Faults the message did not show (a panic in txn_close or in a transform's
    // destructor, a VIO used after close) still mean the plugin failed.
    for ((module, before), after) in generation.modules().iter().zip(faults_before).zip(faults(&generation)) {
        if after != before {
            let (panics, errors) = (after.0 - before.0, after.1 - before.1);
            let name = module.name();
            return Err(Failed(format!(
                "plugin {name}: {panics} panic(s) and {errors} protocol error(s) after the message was whole; see the log above"
            )));
        }
    }
    Ok(())
}

/// Each plugin's (panics, protocol errors) so far.
fn faults(generation: &Generation) -> Vec<(u64, u64)> {
    generation.stats().iter().map(|s| (s.panics, s.protocol_errors)).collect()
}

/// Reads and parses a head file, or the default.
fn read_head<H>(
    file: Option<&PathBuf>,
    default: &str,
    flag: &str,
    parse: impl Fn(&[u8]) -> Result<Option<(H, usize)>, crate::h1::head::HeadError>,
) -> Result<H, Failed> {
    let mut bytes = match file {
        Some(path) => std::fs::read(path).map_err(|e| Failed(format!("{flag} {}: {e}", path.display())))?,
        None => default.as_bytes().to_vec(),
    };
    let shown = file.map_or_else(|| "the default head".to_string(), |p| p.display().to_string());
    // A head typed into a file often lacks its closing blank line.
    for _ in 0..2 {
        match parse(&bytes) {
            Ok(Some((head, _))) => return Ok(head),
            Ok(None) => bytes.extend_from_slice(b"\r\n"),
            Err(e) => return Err(Failed(format!("{flag} {shown}: not an HTTP/1.1 head ({e:?})"))),
        }
    }
    Err(Failed(format!("{flag} {shown}: not a complete HTTP/1.1 head")))
}

/// How a streamed body ended.
enum Ended {
    /// The last transform finished its output.
    Done,
    /// A transform replaced the whole message before its head left.
    Replaced(Replacement),
}

struct Offline<'a> {
    plugins: TxnPlugins,
    block: usize,
    body: &'a mut dyn Read,
    body_out: &'a mut dyn Write,
    head_out: &'a mut dyn Write,
}

impl Offline<'_> {
    fn request(&mut self, request: &mut RequestHead, kind: BodyKind) -> Result<(), Failed> {
        let hook = self.plugins.read_request_headers(&mut TxnView::request(request, kind));
        self.refuse_on_fail(hook, "request")?;
        drop(self.plugins.take_response_chain());
        let len = declared(kind);
        let Some(chain) = self.plugins.take_request_chain() else {
            self.write_head(&upstream_head(request, len))?;
            return self.copy(len);
        };
        let ended = self.stream(chain, len, |me, out_len| me.write_head(&upstream_head(request, out_len)))?;
        match ended {
            Ended::Done => Ok(()),
            Ended::Replaced(r) => self.replace(r, request.method == "HEAD"),
        }
    }

    fn response(
        &mut self,
        request: &mut RequestHead,
        request_kind: BodyKind,
        response: &mut ResponseHead,
        kind: BodyKind,
    ) -> Result<(), Failed> {
        let hook = self.plugins.read_request_headers(&mut TxnView::request(request, request_kind));
        self.refuse_on_fail(hook, "request")?;
        // Standard input is the response body: a request chain has no input here.
        drop(self.plugins.take_request_chain());
        let hook =
            self.plugins.read_response_headers(&mut TxnView::request(request, request_kind).response(response, kind));
        self.refuse_on_fail(hook, "response")?;
        let original_length = response.headers.get_shared("content-length");
        let len = declared(kind);
        strip_hop_by_hop(&mut response.headers);
        let chain = self.plugins.take_response_chain().filter(|_| kind != BodyKind::Empty);
        let Some(chain) = chain else {
            let len =
                if kind == BodyKind::Empty { BodyLen::None } else { len.map_or(BodyLen::Unknown, BodyLen::Known) };
            self.send_response(request, request_kind, response, kind, len, original_length)?;
            return if kind == BodyKind::Empty { Ok(()) } else { self.copy(declared(kind)) };
        };
        let ended = self.stream(chain, len, |me, out_len| {
            let len = out_len.map_or(BodyLen::Unknown, BodyLen::Known);
            me.send_response(request, request_kind, response, kind, len, None)
        })?;
        match ended {
            Ended::Done => Ok(()),
            Ended::Replaced(r) => self.replace(r, request.method == "HEAD"),
        }
    }

    /// send_response_headers, then the head with its framing, as the proxy sends it.
    fn send_response(
        &mut self,
        request: &mut RequestHead,
        request_kind: BodyKind,
        response: &mut ResponseHead,
        kind: BodyKind,
        len: BodyLen,
        original_length: Option<bytes::Bytes>,
    ) -> Result<(), Failed> {
        let hook =
            self.plugins.send_response_headers(&mut TxnView::request(request, request_kind).response(response, kind));
        self.refuse_on_fail(hook, "response")?;
        let mut out = response.clone();
        frame_response(&mut out, len, &request.method, original_length, request.version);
        let mut bytes = Vec::with_capacity(256);
        write_response(&out, &mut bytes);
        self.write_head(&bytes)
    }

    /// A hook failed: the proxy's error status as the head, its log line as the error.
    fn refuse_on_fail(&mut self, hook: HookResult, what: &str) -> Result<(), Failed> {
        match hook {
            HookResult::Continue => Ok(()),
            HookResult::Fail { status, message } => {
                self.error_head(status, &format!("the {what} was refused by a plugin"))?;
                Err(Failed(message))
            }
        }
    }

    /// The head of the error page the proxy would answer with.
    fn error_head(&mut self, status: u16, why: &str) -> Result<(), Failed> {
        let page = crate::error_page::render(status, why, true);
        let end = page.windows(4).position(|w| w == b"\r\n\r\n").map_or(page.len(), |i| i + 4);
        self.write_head(&page[..end])
    }

    fn write_head(&mut self, bytes: &[u8]) -> Result<(), Failed> {
        self.head_out.write_all(bytes).map_err(|e| Failed(format!("writing the head: {e}")))
    }

    fn write_body(&mut self, bytes: &[u8]) -> Result<(), Failed> {
        self.body_out.write_all(bytes).map_err(|e| Failed(format!("writing the body: {e}")))
    }

    /// The message a transform put in place of this one, as the client gets
    /// it: framed by the host as `txn::replace` frames it (the replacement's
    /// own framing fields dropped, its length declared).
    fn replace(&mut self, r: Replacement, bodiless_method: bool) -> Result<(), Failed> {
        let mut headers = Headers::new();
        for (name, value) in r.headers {
            if !["content-length", "transfer-encoding", "connection"].iter().any(|f| name.eq_ignore_ascii_case(f)) {
                headers.append(&name, value);
            }
        }
        headers.set("Content-Length", r.body.len().to_string());
        let reason = crate::h1::head::canonical_reason(r.status).into();
        let head = ResponseHead { version: crate::h1::head::Version::Http11, status: r.status, reason, headers };
        let mut bytes = Vec::with_capacity(256);
        write_response(&head, &mut bytes);
        self.write_head(&bytes)?;
        if bodiless_method || r.status == 204 || r.status == 304 {
            return Ok(());
        }
        self.write_body(&r.body)
    }

    /// Reads one block of up to `max` bytes (fewer only at the end of input).
    fn read_block(&mut self, max: usize) -> Result<Vec<u8>, Failed> {
        let mut block = vec![0u8; max];
        let mut filled = 0;
        while filled < max {
            match self.body.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failed(format!("reading the body from standard input: {e}"))),
            }
        }
        block.truncate(filled);
        Ok(block)
    }

    /// The body as it is, when no plugin added a transform.
    fn copy(&mut self, len: Option<u64>) -> Result<(), Failed> {
        let mut left = len;
        loop {
            let block = self.next_block(len, &mut left)?;
            if block.is_empty() {
                return Ok(());
            }
            self.write_body(&block)?;
        }
    }

    /// The next block of the body (empty: its end). With a declared length
    /// `len`, of which `left` is still to come, standard input must hold exactly that.
    fn next_block(&mut self, len: Option<u64>, left: &mut Option<u64>) -> Result<Vec<u8>, Failed> {
        let Some(n) = len else { return self.read_block(self.block) };
        let l = left.unwrap_or(0);
        if l == 0 {
            return match self.read_block(1)?.is_empty() {
                true => Ok(Vec::new()),
                false => Err(Failed(format!("standard input holds more than the {n} bytes the head declares"))),
            };
        }
        let block = self.read_block(self.block.min(usize::try_from(l).unwrap_or(usize::MAX)))?;
        if block.is_empty() {
            return Err(Failed(format!("standard input ended after {} of the {n} bytes the head declares", n - l)));
        }
        *left = Some(l - block.len() as u64);
        Ok(block)
    }

    /// Streams standard input through `chain`; `start` writes the head when
    /// the last transform starts its output, with the length it announced.
    fn stream(
        &mut self,
        mut chain: Chain,
        len: Option<u64>,
        mut start: impl FnMut(&mut Self, Option<u64>) -> Result<(), Failed>,
    ) -> Result<Ended, Failed> {
        chain.start(len);
        let mut left = len;
        let mut input_done = false;
        let mut head_sent = false;
        loop {
            let mut moved = false;
            // One block per round, as a stream arrives: a transform sees the input's end
            // only after it has seen the blocks before it.
            if !input_done && chain.input_space() > 0 {
                let block = self.next_block(len, &mut left)?;
                if block.is_empty() {
                    chain.end_input();
                    input_done = true;
                } else {
                    chain.push_input(Bytes::from(block));
                }
                moved = true;
            }
            let status = chain.run();
            if let Some(fault) = chain.fault() {
                return Err(self.faulted(&fault.to_string(), head_sent));
            }
            if let Some(r) = chain.take_replacement() {
                return Ok(Ended::Replaced(r));
            }
            if !head_sent {
                if let Some(out_len) = chain.output_started() {
                    start(self, out_len)?;
                    head_sent = true;
                    moved = true;
                }
            }
            if head_sent {
                for block in chain.take_output(usize::MAX) {
                    self.write_body(&block)?;
                    moved = true;
                }
                if chain.output_done() {
                    if !input_done && left == Some(0) {
                        // All declared bytes went in: anything more on standard input is a mistake.
                        self.next_block(len, &mut left)?;
                    }
                    return Ok(Ended::Done);
                }
            }
            if !moved && status == RunStatus::Idle {
                // Nothing queued, nothing moved: the proxy would wait for its inactivity
                // timeout and then blame the same transform.
                let what = chain.charge_stall().map_or_else(
                    || "the transform chain stopped making progress".to_string(),
                    |fault| fault.to_string(),
                );
                return Err(self.faulted(&what, head_sent));
            }
        }
    }

    /// A fault: before the head, the proxy's 500; after it, a cut body.
    fn faulted(&mut self, fault: &str, head_sent: bool) -> Failed {
        if head_sent {
            return Failed(format!("{fault}; the body was cut short"));
        }
        if let Err(e) = self.error_head(500, "a plugin failed while handling this transaction") {
            return e;
        }
        Failed(format!("{fault}; aborting this transaction"))
    }
}

/// The length a framing declares, if it does.
fn declared(kind: BodyKind) -> Option<u64> {
    match kind {
        BodyKind::Length(n) => Some(n),
        BodyKind::Empty => Some(0),
        BodyKind::Chunked | BodyKind::CloseDelimited => None,
    }
}

/// The request head the origin would get, framing re-declared for `len`
/// (`None`: unknown, so chunked).
fn upstream_head(request: &RequestHead, len: Option<u64>) -> Vec<u8> {
    let mut up = request.clone();
    up.version = crate::h1::head::Version::Http11;
    origin_form(&mut up);
    strip_hop_by_hop(&mut up.headers);
    up.headers.remove("expect");
    match len {
        Some(n) => up.headers.set("Content-Length", n.to_string()),
        None => up.headers.set("Transfer-Encoding", "chunked"),
    }
    let mut out = Vec::with_capacity(256);
    write_request(&up, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::bridge::HOST_TABLE;
    use crate::plugins::Module;
    use crate::transform::live_counts;
    use crate::transform::tests::serial;

    fn nulls(n: usize) -> Arc<Generation> {
        let module = |_| {
            let m = Module::init(Path::new("null(static)"), plugin_null::plugin_host_module, None, &[], &HOST_TABLE);
            Arc::new(m.expect("the null plugin initialises"))
        };
        Arc::new(Generation::from_modules((0..n).map(module).collect()))
    }

    fn options(direction: Direction, block_size: u64) -> Options {
        Options { request: None, response_head: None, direction, block_size }
    }

    /// Runs with `opts` (heads written to files in a temp folder); (result, body, head).
    fn run_with(
        generation: Arc<Generation>,
        mut opts: Options,
        heads: [Option<&str>; 2],
        input: &[u8],
    ) -> (Result<(), Failed>, Vec<u8>, String) {
        let dir = std::env::temp_dir().join(format!("plugin-host-offline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for (i, (head, slot)) in heads.iter().zip([&mut opts.request, &mut opts.response_head]).enumerate() {
            if let Some(text) = head {
                let file = dir.join(format!("head{i}"));
                std::fs::write(&file, text).expect("write head");
                *slot = Some(file);
            }
        }
        let (mut body, mut head) = (Vec::new(), Vec::new());
        let result = run(generation, &opts, &mut &input[..], &mut body, &mut head);
        let _ = std::fs::remove_dir_all(&dir);
        (result, body, String::from_utf8(head).expect("a text head"))
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn bodies_pass_whole_in_every_block_size_and_direction() {
        let _g = serial();
        let input = data(70_000);
        for block in [1, 3, 4096, 1 << 20] {
            let (r, body, head) = run_with(nulls(2), options(Direction::Response, block), [None, None], &input);
            assert_eq!(r, Ok(()));
            assert!(body == input, "response in blocks of {block}");
            assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
            let length = "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n";
            let (r, body, head) = run_with(nulls(1), options(Direction::Response, block), [None, Some(length)], &input);
            assert_eq!(r, Ok(()));
            assert!(body == input && head.contains("Content-Length: 70000"), "{head}");
            let post = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 70000\r\n\r\n";
            let (r, body, head) = run_with(nulls(2), options(Direction::Request, block), [Some(post), None], &input);
            assert_eq!(r, Ok(()));
            assert!(body == input && head.starts_with("POST /up HTTP/1.1\r\n"), "{head}");
        }
        assert_eq!(live_counts(), (0, 0));
    }

    #[test]
    fn a_request_body_without_framing_is_of_unknown_length_and_heads_may_lack_the_blank_line() {
        let _g = serial();
        let (r, body, head) =
            run_with(nulls(1), options(Direction::Request, 10), [Some("PUT /x HTTP/1.1\nHost: a\n"), None], b"abc");
        assert_eq!(r, Ok(()));
        assert_eq!(body, b"abc");
        assert!(head.starts_with("PUT /x HTTP/1.1\r\n") && head.contains("Transfer-Encoding: chunked"), "{head}");
    }

    #[test]
    fn the_upstream_head_is_the_origin_form_as_the_proxy_sends_it() {
        let _g = serial();
        let head = "POST http://h.example/a?q#frag HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: te\r\n\r\n";
        let (r, _, head) = run_with(nulls(1), options(Direction::Request, 10), [Some(head), None], b"abc");
        assert_eq!(r, Ok(()));
        assert!(head.starts_with("POST /a?q HTTP/1.1\r\n"), "{head}");
        assert!(head.contains("Host: h.example\r\n") && !head.to_ascii_lowercase().contains("connection"), "{head}");
    }

    #[test]
    fn a_bodiless_response_gets_no_chain_and_reads_nothing() {
        let _g = serial();
        let (r, body, head) = run_with(
            nulls(1),
            options(Direction::Response, 10),
            [None, Some("HTTP/1.1 204 No Content\r\n\r\n")],
            b"ignored",
        );
        assert_eq!(r, Ok(()));
        assert!(body.is_empty());
        assert!(head.starts_with("HTTP/1.1 204 No Content\r\n"), "{head}");
    }

    #[test]
    fn input_must_match_the_declared_length_and_heads_must_parse() {
        let _g = serial();
        let head = Some("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");
        let short = run_with(nulls(1), options(Direction::Response, 2), [None, head], b"abc").0;
        assert_eq!(short, Err(Failed("standard input ended after 3 of the 4 bytes the head declares".into())));
        let long = run_with(nulls(1), options(Direction::Response, 2), [None, head], b"abcde").0;
        assert_eq!(long, Err(Failed("standard input holds more than the 4 bytes the head declares".into())));
        let passthrough = run_with(nulls(0), options(Direction::Response, 2), [None, head], b"abcde").0;
        assert_eq!(passthrough, long, "the same check without a chain");
        let bad = run_with(nulls(1), options(Direction::Response, 2), [None, Some("HTTP/1.1 abc\r\n\r\n")], b"").0;
        assert!(bad.is_err_and(|Failed(e)| e.starts_with("--response-head ") && e.contains("not an HTTP/1.1 head")));
        assert_eq!(live_counts(), (0, 0));
    }
}
