//! Clients for the tests: a `ureq` agent for well-formed traffic, a raw socket for
//! malformed, pipelined and slow traffic, and `curl` as a second independent implementation.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::chunked::{read_chunked, read_crlf_line, read_exact_into};

/// Read/write timeout on raw sockets: a hang fails the test instead of blocking CI.
pub const RAW_TIMEOUT: Duration = Duration::from_secs(15);
/// Overall budget for one ureq call. 16 MiB through a debug build takes well under a
/// second; the margin is for a loaded CI machine, and staying under the host's 60 s
/// idle timeout means a response that never ends fails here instead of passing late.
const UREQ_TIMEOUT: Duration = Duration::from_secs(30);

/// A ureq agent that returns 4xx/5xx as responses rather than errors and keeps
/// connections alive between calls.
pub fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(UREQ_TIMEOUT))
        .max_idle_connections_per_host(1)
        .build();
    ureq::Agent::new_with_config(config)
}

/// Reads a whole ureq response body without ureq's default 10 MB cap.
pub fn read_body(resp: &mut ureq::http::Response<ureq::Body>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    resp.body_mut().as_reader().read_to_end(&mut out)?;
    Ok(out)
}

/// A response read off a raw socket.
#[derive(Debug, Default)]
pub struct RawResponse {
    /// Minor version of the status line (`HTTP/1.x`).
    pub minor_version: u8,
    /// Status code.
    pub status: u16,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes received (possibly partial; see `complete`).
    pub body: Vec<u8>,
    /// Whether the body ended as its framing said it would (CL reached, last chunk read,
    /// or clean EOF for close-delimited bodies).
    pub complete: bool,
    /// The error that cut the body short, if any.
    pub body_error: Option<String>,
}

impl RawResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether header `name` is present at all.
    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

/// A raw client connection; keeps unread bytes between responses (for pipelining).
pub struct RawConn {
    reader: BufReader<TcpStream>,
}

impl RawConn {
    /// Connects with [`RAW_TIMEOUT`] on reads and writes.
    pub fn connect(addr: SocketAddr) -> RawConn {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_read_timeout(Some(RAW_TIMEOUT)).expect("set_read_timeout");
        stream.set_write_timeout(Some(RAW_TIMEOUT)).expect("set_write_timeout");
        let _ = stream.set_nodelay(true);
        RawConn { reader: BufReader::with_capacity(64 * 1024, stream) }
    }

    /// Like [`RawConn::connect`], but `None` if the connection is refused.
    pub fn connect_or_none(addr: SocketAddr) -> Option<RawConn> {
        let stream = TcpStream::connect(addr).ok()?;
        stream.set_read_timeout(Some(RAW_TIMEOUT)).ok()?;
        stream.set_write_timeout(Some(RAW_TIMEOUT)).ok()?;
        let _ = stream.set_nodelay(true);
        Some(RawConn { reader: BufReader::with_capacity(64 * 1024, stream) })
    }

    /// The socket itself (e.g. to change its read timeout).
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// The buffered reader, for tests that consume a body at their own pace; bytes already
    /// buffered are not lost.
    pub fn reader(&mut self) -> &mut BufReader<TcpStream> {
        &mut self.reader
    }

    /// Writes all of `bytes`.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut stream = self.reader.get_ref();
        stream.write_all(bytes)?;
        stream.flush()
    }

    /// Reads one response. `to_head` says the request was HEAD (no body follows).
    /// Errors only if the head cannot be read; body problems go in the response.
    pub fn read_response(&mut self, to_head: bool) -> io::Result<RawResponse> {
        let resp = self.read_response_head()?;
        Ok(self.read_response_body(resp, to_head))
    }

    /// Reads only a response head, so its framing can be checked before the body is read
    /// with [`RawConn::read_response_body`].
    pub fn read_response_head(&mut self) -> io::Result<RawResponse> {
        let head = self.read_head()?;
        let mut storage = [httparse::EMPTY_HEADER; 128];
        let mut parsed = httparse::Response::new(&mut storage);
        match parsed.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(invalid("partial response head")),
            Err(e) => {
                return Err(invalid(&format!("unparsable response head ({e}): {:?}", String::from_utf8_lossy(&head))))
            }
        }
        Ok(RawResponse {
            minor_version: parsed.version.unwrap_or_default(),
            status: parsed.code.unwrap_or_default(),
            headers: parsed
                .headers
                .iter()
                .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
                .collect(),
            ..RawResponse::default()
        })
    }

    /// Reads the body that belongs to `resp` (a head from [`RawConn::read_response_head`]).
    pub fn read_response_body(&mut self, mut resp: RawResponse, to_head: bool) -> RawResponse {
        let result = self.read_body(&mut resp, to_head);
        resp.complete = result.is_ok();
        resp.body_error = result.err().map(|e| e.to_string());
        resp
    }

    fn read_body(&mut self, resp: &mut RawResponse, to_head: bool) -> io::Result<()> {
        let no_body = to_head || (100..200).contains(&resp.status) || resp.status == 204 || resp.status == 304;
        if no_body {
            return Ok(());
        }
        let te = resp.header("transfer-encoding").map(str::to_ascii_lowercase);
        if let Some(te) = te {
            if te.rsplit(',').next().map(str::trim) == Some("chunked") {
                return read_chunked(&mut self.reader, &mut resp.body);
            }
            return read_to_eof(&mut self.reader, &mut resp.body);
        }
        match resp.header("content-length").map(|v| v.trim().parse::<u64>()) {
            Some(Ok(n)) => read_exact_into(&mut self.reader, n, &mut resp.body),
            Some(Err(_)) => Err(invalid("response Content-Length is not a number")),
            None => read_to_eof(&mut self.reader, &mut resp.body),
        }
    }

    /// Reads a response head up to and including its empty line.
    fn read_head(&mut self) -> io::Result<Vec<u8>> {
        let mut head = Vec::new();
        for _ in 0..512 {
            let line = read_crlf_line(&mut self.reader)?;
            head.extend_from_slice(&line);
            head.extend_from_slice(b"\r\n");
            if line.is_empty() {
                return Ok(head);
            }
        }
        Err(invalid("response head has more than 512 lines"))
    }

    /// Whether the peer has closed the connection: a read returns EOF or a reset within
    /// the socket's read timeout. Stray bytes after a response count as "not closed".
    pub fn is_closed(&mut self, wait: Duration) -> bool {
        let _ = self.reader.get_ref().set_read_timeout(Some(wait));
        let mut buf = [0u8; 1024];
        let closed = match self.reader.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
        };
        let _ = self.reader.get_ref().set_read_timeout(Some(RAW_TIMEOUT));
        closed
    }

    /// Reads whatever arrives until EOF, error or the read timeout (at most `max` bytes).
    pub fn read_available(&mut self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = Read::take(&mut self.reader, max as u64).read_to_end(&mut out);
        out
    }
}

fn read_to_eof(r: &mut impl BufRead, out: &mut Vec<u8>) -> io::Result<()> {
    r.read_to_end(out).map(|_| ())
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Panics with a clear message if `curl` is not on PATH (`.ci/run` installs it).
pub fn require_curl() {
    let ok = Command::new("curl").arg("--version").output().map(|o| o.status.success());
    assert!(
        matches!(ok, Ok(true)),
        "curl is required by the end-to-end tests (apt-get install curl; .ci/run installs it)"
    );
}

/// Runs `curl -sS` with `args`; stdout and stderr are captured.
pub fn curl(args: &[&str]) -> Output {
    require_curl();
    Command::new("curl").arg("-sS").args(["--max-time", "120"]).args(args).output().expect("run curl")
}

/// A unique scratch file path for this process; the caller removes it.
pub fn scratch_file(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("plugin-host-e2e-{}-{n}-{tag}", std::process::id()))
}

/// Removes `path` when dropped, so failing tests do not litter the temp directory.
pub struct ScratchGuard(pub PathBuf);

impl ScratchGuard {
    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A minimal well-formed `GET target HTTP/1.1` request with a Host header.
pub fn get_request(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: e2e.test\r\n\r\n").into_bytes()
}

/// Sends a good request on a fresh connection to `addr` and asserts it is served in full:
/// the proof that an earlier bad exchange did not break the host.
#[track_caller]
pub fn assert_fresh_request_served(addr: SocketAddr) {
    let mut conn = RawConn::connect(addr);
    conn.send(&get_request("/bytes?n=1000&seed=42")).expect("send follow-up request");
    let resp = conn.read_response(false).expect("follow-up response head");
    assert_eq!(resp.status, 200, "follow-up request on a fresh connection");
    assert!(resp.complete, "follow-up body incomplete: {:?}", resp.body_error);
    crate::assert_same_bytes(&resp.body, &crate::pattern(1000, 42), "follow-up body");
}
