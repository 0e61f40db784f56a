//! A real HTTP/1.1 origin server for the end-to-end tests: `std::net`, a thread per
//! connection, keep-alive, answers chosen by path (see [`routes`]).
//!
//! It counts accepted TCP connections so tests can prove the proxy reuses origin
//! connections, and records every request head so tests can check what the proxy forwarded.

mod cycle;
mod request;
mod respond;
pub mod routes;
mod text;

use std::collections::HashMap;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

pub use request::{BodyFraming, Request};
use respond::After;

/// State shared by the accept thread, connection threads and the test.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    accepted: Arc<AtomicUsize>,
    /// Request heads in arrival order (bodies dropped to keep memory small).
    requests: Mutex<Vec<Request>>,
    /// Open connections, so dropping the origin can unblock their reads.
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
    /// Bytes written to all client sockets (heads included).
    written: Arc<AtomicU64>,
}

/// A running origin on `127.0.0.1:<ephemeral>`; stops (and unblocks its threads) on drop.
pub struct Origin {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl Origin {
    /// Binds `127.0.0.1:0` and starts accepting.
    pub fn start() -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test origin on 127.0.0.1:0");
        let addr = listener.local_addr().expect("origin local_addr");
        let shared = Arc::new(Shared::default());
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("origin-accept".into())
            .spawn(move || accept_loop(&listener, &accept_shared))
            .expect("spawn origin accept thread");
        Origin { addr, shared, accept_thread: Some(accept_thread) }
    }

    /// The address the origin listens on (pass to `--origin`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// The accepted-connection counter itself, for tests that watch it from elsewhere.
    pub fn accept_counter(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.shared.accepted)
    }

    /// Bytes the origin has handed to its sockets so far: how far a response got before
    /// the proxy stopped reading (backpressure tests).
    pub fn bytes_written(&self) -> u64 {
        self.shared.written.load(Ordering::SeqCst)
    }

    /// Every request head received so far, in order (bodies are not kept).
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
        for conn in lock(&self.shared.conns).values() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

/// An address on which nothing listens: bound, read, then released.
pub fn closed_port_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind probe listener");
    listener.local_addr().expect("probe local_addr")
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            // Transient accept errors (e.g. ECONNABORTED) do not stop the origin.
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.conns).insert(id, clone);
        }
        let conn_shared = Arc::clone(shared);
        let spawned =
            thread::Builder::new().name(format!("origin-conn-{id}")).spawn(move || serve(stream, id, &conn_shared));
        if spawned.is_err() {
            lock(&shared.conns).remove(&id);
        }
    }
}

/// Serves requests on one connection until the peer closes, an error, or a close/reset reply.
fn serve(stream: TcpStream, id: u64, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut reset = false;
    {
        let mut reader = BufReader::with_capacity(64 * 1024, &stream);
        // A clean close between requests, or a request the origin cannot read, ends the
        // connection either way.
        while let Ok(Some(req)) = request::read_request(&mut reader, &mut &stream) {
            let reply = routes::route(&req);
            let mut head = req.clone();
            head.body = Vec::new();
            lock(&shared.requests).push(head);
            let mut out = CountingWriter { inner: &stream, count: &shared.written };
            match respond::send(&mut out, &req, reply, &shared.stop) {
                Ok(After::KeepAlive) => continue,
                Ok(After::Reset) => {
                    reset = true;
                    break;
                }
                Ok(After::Close) | Err(_) => break,
            }
        }
    }
    // Drop the registry's duplicate fd first: the socket only closes (and only resets)
    // when its last descriptor goes.
    lock(&shared.conns).remove(&id);
    if reset {
        set_linger_zero(&stream);
    }
}

/// Counts the bytes the kernel accepted.
struct CountingWriter<'a> {
    inner: &'a TcpStream,
    count: &'a AtomicU64,
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// SO_LINGER with a zero timeout: close() then sends RST instead of FIN.
pub fn set_linger_zero(stream: &TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: the fd is open for the lifetime of `stream`, and we pass a valid pointer to
    // a properly sized `linger` value.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER) failed: {}", std::io::Error::last_os_error());
}

/// A panicking connection thread must not hide the data from the test: ignore poisoning.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
