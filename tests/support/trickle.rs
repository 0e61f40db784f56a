//! An origin that answers every request with one fixed body written in small timed
//! pieces, so the proxy reads it as many blocks (matches split across blocks get tested),
//! and that records what it received (method, target, header fields, body length) so a
//! test can prove a request never reached it, or what the proxy forwarded.
//!
//! `std::net`, a thread per connection, keep-alive; requests are read with httparse and
//! their `Content-Length` bodies drained (that is all the tests using it send).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// Longest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// How the body is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrickleFraming {
    /// `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`, one chunk per piece.
    Chunked,
}

/// The response every request gets.
#[derive(Clone, Debug)]
pub struct TrickleReply {
    /// The body.
    pub body: Vec<u8>,
    /// Bytes per write.
    pub piece: usize,
    /// Pause after each write.
    pub pause: Duration,
    /// Framing.
    pub framing: TrickleFraming,
    /// Extra header fields.
    pub headers: Vec<(String, String)>,
}

impl TrickleReply {
    /// `body` in pieces of `piece` bytes, 1 ms apart, with `Content-Length`.
    pub fn new(body: Vec<u8>, piece: usize) -> TrickleReply {
        TrickleReply {
            body,
            piece: piece.max(1),
            pause: Duration::from_millis(1),
            framing: TrickleFraming::Length,
            headers: Vec::new(),
        }
    }

    /// Sets the framing.
    pub fn framing(mut self, framing: TrickleFraming) -> TrickleReply {
        self.framing = framing;
        self
    }

    /// Sets the pause after each piece.
    pub fn pause(mut self, pause: Duration) -> TrickleReply {
        self.pause = pause;
        self
    }

    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> TrickleReply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// One request as the origin received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Request target.
    pub target: String,
    /// Body bytes read.
    pub body_len: usize,
    /// Header fields, in order (names as sent).
    pub headers: Vec<(String, String)>,
}

impl Received {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The running origin; stops accepting when dropped.
pub struct TrickleOrigin {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl TrickleOrigin {
    /// Starts on `127.0.0.1:0`, answering every request with `reply`.
    pub fn start(reply: TrickleReply) -> TrickleOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind trickle origin");
        let addr = listener.local_addr().expect("trickle origin address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (rec, st, reply) = (Arc::clone(&received), Arc::clone(&stop), Arc::new(reply));
        thread::Builder::new()
            .name("trickle-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if st.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (rec, reply) = (Arc::clone(&rec), Arc::clone(&reply));
                    // A connection thread that fails to start only loses that connection.
                    let _ = thread::Builder::new().name("trickle-conn".into()).spawn(move || {
                        let _ = serve(stream, &reply, &rec);
                    });
                }
            })
            .expect("spawn trickle accept thread");
        TrickleOrigin { addr, received, stop }
    }

    /// The address to pass to `--origin`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for TrickleOrigin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(stream: TcpStream, reply: &TrickleReply, received: &Mutex<Vec<Received>>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let Some((request, close)) = read_request(&mut reader)? else {
            return Ok(());
        };
        received.lock().unwrap_or_else(PoisonError::into_inner).push(request);
        write_reply(&mut out, reply, close)?;
        if close {
            return Ok(());
        }
    }
}

/// Reads one request head and drains its Content-Length body; `None` at a clean EOF.
/// The flag: the connection closes after the reply.
fn read_request(r: &mut impl BufRead) -> io::Result<Option<(Received, bool)>> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too long"));
        }
        if r.read_until(b'\n', &mut head)? == 0 {
            return Ok(None);
        }
    }
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut fields);
    req.parse(&head).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let (method, target) = (req.method.unwrap_or("").to_string(), req.path.unwrap_or("").to_string());
    let value = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    let len: usize = value("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let close = value("connection").is_some_and(|v| v.contains("close")) || req.version == Some(0);
    let headers =
        req.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned())).collect();
    io::copy(&mut r.take(len as u64), &mut io::sink())?;
    Ok(Some((Received { method, target, body_len: len, headers }, close)))
}

fn write_reply(out: &mut TcpStream, reply: &TrickleReply, close: bool) -> io::Result<()> {
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    match reply.framing {
        TrickleFraming::Length => head.push_str(&format!("Content-Length: {}\r\n", reply.body.len())),
        TrickleFraming::Chunked => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    for piece in reply.body.chunks(reply.piece) {
        match reply.framing {
            TrickleFraming::Length => out.write_all(piece)?,
            TrickleFraming::Chunked => {
                out.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
                out.write_all(piece)?;
                out.write_all(b"\r\n")?;
            }
        }
        if !reply.pause.is_zero() {
            thread::sleep(reply.pause);
        }
    }
    if reply.framing == TrickleFraming::Chunked {
        out.write_all(b"0\r\n\r\n")?;
    }
    out.flush()
}
