//! An origin that answers every request with the same raw bytes, written exactly as given:
//! for responses the regular [`crate::Origin`] would never produce (both Transfer-Encoding
//! and Content-Length, a Date of its own, a malformed status line). It keeps each
//! connection open for the next request until the peer closes, counts accepted
//! connections, and records each request head as text.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long a connection may sit between requests before the origin drops it.
const IDLE: Duration = Duration::from_secs(30);
/// Most request heads answered on one connection.
const MAX_REQUESTS: usize = 1000;
/// Most lines in one request head.
const MAX_HEAD_LINES: usize = 200;

#[derive(Default)]
struct State {
    stop: AtomicBool,
    accepted: AtomicUsize,
    heads: Mutex<Vec<String>>,
    conns: Mutex<Vec<TcpStream>>,
}

/// The origin; it closes every connection when dropped.
pub struct ScriptedOrigin {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl ScriptedOrigin {
    /// Answers every request (heads only; request bodies are not read) with `answer`.
    pub fn start(answer: &[u8]) -> ScriptedOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the scripted origin");
        let addr = listener.local_addr().expect("scripted origin address");
        let state = Arc::new(State::default());
        let (st, answer) = (Arc::clone(&state), answer.to_vec());
        let accept = thread::Builder::new()
            .name("scripted-origin".into())
            .spawn(move || accept_loop(&listener, &st, &answer))
            .expect("spawn the scripted origin");
        ScriptedOrigin { addr, state, accept: Some(accept) }
    }

    /// Its address, for `--origin`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Every request head received, in order, as text.
    pub fn heads(&self) -> Vec<String> {
        self.state.heads.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for ScriptedOrigin {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
        for conn in self.state.conns.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>, answer: &[u8]) {
    for stream in listener.incoming() {
        if state.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        state.accepted.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            state.conns.lock().unwrap_or_else(PoisonError::into_inner).push(clone);
        }
        let (st, answer) = (Arc::clone(state), answer.to_vec());
        let _ = thread::Builder::new().name("scripted-conn".into()).spawn(move || serve(stream, &st, &answer));
    }
}

fn serve(stream: TcpStream, state: &State, answer: &[u8]) {
    let _ = stream.set_read_timeout(Some(IDLE));
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    for _ in 0..MAX_REQUESTS {
        let Some(head) = read_head(&mut reader) else { return };
        state.heads.lock().unwrap_or_else(PoisonError::into_inner).push(head);
        if out.write_all(answer).is_err() {
            return;
        }
    }
}

fn read_head(reader: &mut impl BufRead) -> Option<String> {
    let mut head = String::new();
    for _ in 0..MAX_HEAD_LINES {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            return Some(head);
        }
    }
    None
}
