//! An origin that answers every request with a head declaring a long body, sends only the
//! start of it, then holds the connection open without a byte more: the one situation in
//! which a transform sitting on unconsumed input is only found by the host's inactivity
//! timeout (its chain's input is still open, so the engine cannot call it stalled).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::pattern::pattern;

/// How long a connection may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most request head lines read before answering anyway.
const MAX_HEAD_LINES: usize = 200;

/// The origin; it closes every held connection when dropped.
pub struct HoldingOrigin {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl HoldingOrigin {
    /// Answers `200` with `Content-Length: declared` and the first `sent` bytes of
    /// `pattern(declared, seed)`, then holds.
    pub fn start(declared: usize, sent: usize, seed: u64) -> HoldingOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the holding origin");
        let addr = listener.local_addr().expect("holding origin address");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let mut answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\n\r\n").into_bytes();
        answer.extend_from_slice(&pattern(declared, seed)[..sent.min(declared)]);
        let accept = thread::Builder::new()
            .name("holding-origin".into())
            .spawn(move || serve(&listener, &flag, &answer))
            .expect("spawn the holding origin");
        HoldingOrigin { addr, stop, accept: Some(accept) }
    }

    /// Its address, for `--origin`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Answers each connection once and keeps it until stopped.
fn serve(listener: &TcpListener, stop: &AtomicBool, answer: &[u8]) {
    let mut held = Vec::new();
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        if read_head(&stream) && stream.write_all(answer).is_ok() {
            held.push(stream);
        }
    }
}

/// Reads one request head; whether it ended properly.
fn read_head(stream: &TcpStream) -> bool {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    for _ in 0..MAX_HEAD_LINES {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) if line == "\r\n" || line == "\n" => return true,
            Ok(_) => {}
        }
    }
    false
}

impl Drop for HoldingOrigin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so the thread sees the flag (and drops what it held).
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}
