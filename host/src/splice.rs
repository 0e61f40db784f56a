//! Kernel pipes for `splice(2)`: a response body with no transform on it
//! moves origin socket -> pipe -> client socket without being copied into
//! user space.
//!
//! A [`Pipe`] counts the bytes it holds, so a transaction that ends with
//! bytes still inside (the client went away) closes it instead of handing
//! stale bytes to the next one. [`PipePool`] keeps each worker's empty
//! pipes for reuse: creating one and resizing it is three system calls.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// What the pipe is asked to hold: as large as an unprivileged process may
/// make it (`/proc/sys/fs/pipe-max-size` defaults to 1 MiB); the kernel
/// keeps a smaller size if it refuses.
const WANTED_PIPE_BYTES: libc::c_int = 1024 * 1024;
/// Empty pipes a worker keeps for later transactions.
const MAX_POOLED: usize = 64;
/// A pipe smaller than this is not worth a splice: past
/// `/proc/sys/fs/pipe-user-pages-soft` the kernel gives an unprivileged
/// user's new pipes two pages, and the body takes the buffered path instead.
const MIN_PIPE_BYTES: usize = 64 * 1024;

/// One pipe and the bytes spliced into it that have not come out yet.
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
    held: usize,
}

/// How one splice call ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Moved {
    /// This many bytes moved.
    Bytes(usize),
    /// The source reached end of file (only from a socket into the pipe).
    Eof,
    /// Nothing could move now: wait for readiness.
    WouldBlock,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both are open descriptors owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on a descriptor we own; a refusal leaves the default size.
        let size = unsafe {
            libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, WANTED_PIPE_BYTES);
            libc::fcntl(write.as_raw_fd(), libc::F_GETPIPE_SZ)
        };
        let capacity = usize::try_from(size).unwrap_or(0);
        if capacity < MIN_PIPE_BYTES {
            return Err(io::Error::other(format!(
                "the kernel gave a pipe of {capacity} bytes (pipe-user-pages-soft?)"
            )));
        }
        Ok(Pipe { read, write, capacity, held: 0 })
    }

    /// Bytes spliced in and not yet out.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Room left in the pipe.
    pub fn room(&self) -> usize {
        self.capacity - self.held
    }

    /// Splices at most `max` bytes from the socket `from` into the pipe.
    pub fn fill_from(&mut self, from: &impl AsRawFd, max: usize) -> io::Result<Moved> {
        let max = max.min(self.room());
        if max == 0 {
            return Ok(Moved::WouldBlock);
        }
        let moved = splice(from.as_raw_fd(), self.write.as_raw_fd(), max)?;
        if let Moved::Bytes(n) = moved {
            self.held += n;
        }
        Ok(moved)
    }

    /// Splices what the pipe holds into the socket `to`.
    pub fn drain_to(&mut self, to: &impl AsRawFd) -> io::Result<Moved> {
        if self.held == 0 {
            return Ok(Moved::WouldBlock);
        }
        match splice(self.read.as_raw_fd(), to.as_raw_fd(), self.held)? {
            Moved::Bytes(n) => {
                debug_assert!(n <= self.held, "a pipe gave out more than was put in");
                self.held -= n.min(self.held);
                Ok(Moved::Bytes(n))
            }
            // A pipe with bytes in it has no end of file: the socket took nothing.
            Moved::Eof => Ok(Moved::WouldBlock),
            Moved::WouldBlock => Ok(Moved::WouldBlock),
        }
    }
}

/// One `splice` call, retried on `EINTR`.
fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<Moved> {
    loop {
        // SAFETY: both are open descriptors; null offsets mean "current position" (sockets and pipes have none).
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
            )
        };
        if n > 0 {
            return Ok(Moved::Bytes(n as usize));
        }
        if n == 0 {
            return Ok(Moved::Eof);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock => return Ok(Moved::WouldBlock),
            // A signal arrived before anything moved: just retry.
            io::ErrorKind::Interrupted => continue,
            _ => return Err(e),
        }
    }
}

/// A worker's empty pipes.
#[derive(Debug, Default)]
pub struct PipePool {
    free: Vec<Pipe>,
}

impl PipePool {
    /// An empty pipe: a pooled one, or a new one.
    pub fn take(&mut self) -> io::Result<Pipe> {
        match self.free.pop() {
            Some(p) => Ok(p),
            None => Pipe::new(),
        }
    }

    /// Takes a pipe back; one still holding bytes is closed, never reused.
    pub fn give_back(&mut self, pipe: Pipe) {
        if pipe.held == 0 && self.free.len() < MAX_POOLED {
            self.free.push(pipe);
        }
    }

    /// Pipes kept for reuse.
    pub fn len(&self) -> usize {
        self.free.len()
    }

    /// True when no pipe is kept.
    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let a = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (b, _) = l.accept().expect("accept");
        (a, b)
    }

    #[test]
    fn bytes_go_through_exactly_and_are_counted() {
        let (mut origin, origin_peer) = pair();
        let (client_peer, mut client) = pair();
        origin_peer.set_nonblocking(true).expect("nonblocking");
        client_peer.set_nonblocking(true).expect("nonblocking");
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let sent = body.clone();
        let writer = std::thread::spawn(move || origin.write_all(&sent).expect("write"));
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            client.read_to_end(&mut got).expect("read");
            got
        });
        let mut pipe = Pipe::new().expect("pipe");
        let (mut eof, mut spliced) = (false, 0);
        // Bounded: loopback moves 3 MB in far fewer rounds; a stall fails below instead of hanging.
        for _ in 0..200_000 {
            if !eof {
                match pipe.fill_from(&origin_peer, usize::MAX).expect("splice in") {
                    Moved::Eof => eof = true,
                    Moved::Bytes(_) | Moved::WouldBlock => {}
                }
            }
            if let Moved::Bytes(n) = pipe.drain_to(&client_peer).expect("splice out") {
                spliced += n;
            }
            if eof && pipe.held() == 0 {
                break;
            }
            std::thread::yield_now();
        }
        writer.join().expect("writer");
        drop(client_peer);
        let got = reader.join().expect("reader");
        assert_eq!(spliced, body.len(), "bytes counted out of the pipe");
        assert_eq!(got.len(), body.len());
        assert!(got == body, "spliced bytes differ");
    }

    #[test]
    fn a_pipe_with_bytes_left_is_not_pooled() {
        let (mut origin, origin_peer) = pair();
        origin.write_all(b"left over").expect("write");
        let mut pool = PipePool::default();
        let mut pipe = pool.take().expect("pipe");
        for _ in 0..1000 {
            if let Moved::Bytes(_) = pipe.fill_from(&origin_peer, 100).expect("splice") {
                break;
            }
        }
        assert_eq!(pipe.held(), 9);
        pool.give_back(pipe);
        assert!(pool.is_empty(), "a pipe holding stale bytes went back to the pool");
        pool.give_back(Pipe::new().expect("pipe"));
        assert_eq!(pool.len(), 1);
    }
}
