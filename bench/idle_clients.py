#!/usr/bin/env python3
"""Open many keep-alive client connections to a proxy on loopback, send one
request on each, read its response, and keep every connection open, idle,
until told to let go. Used by idle_rss.sh to measure what an idle
connection costs a server in resident memory.

Protocol with the caller (line-based on stdout/stdin):
  prints  "READY opened=N failed=M"   once every response has been read
  reads   one line ("check") -> prints "OPEN n" (connections the server
          has not closed), then closes everything and exits.
Everything is bounded: --count connections, --inflight at once, and
--deadline seconds for the whole opening phase and for the hold.
"""

import argparse
import errno
import resource
import select
import selectors
import socket
import sys
import time


def raise_nofile(need):
    """Raise the soft fd limit towards the hard one; say so if too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < need:
        print(f"warning: RLIMIT_NOFILE hard limit {hard} < {need}", file=sys.stderr)


def response_complete(buf):
    """True once buf holds one whole HTTP/1.1 response (length or chunked)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = buf[:end].lower()
    body = buf[end + 4 :]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip() == b"content-length":
            try:
                return len(body) >= int(value.strip())
            except ValueError:
                return True
    if b"transfer-encoding: chunked" in head:
        return body.endswith(b"0\r\n\r\n")
    # Neither: a close-delimited body; it never completes on a kept connection.
    return False


class Opener:
    """Opens connections in bounded batches and collects the idle ones."""

    def __init__(self, host, port, request, inflight):
        self.addr = (host, port)
        self.request = request
        self.inflight_max = inflight
        self.sel = selectors.DefaultSelector()
        self.inflight = 0
        self.idle = []
        self.failed = 0

    def start_one(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        err = sock.connect_ex(self.addr)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            self.failed += 1
            return
        self.sel.register(sock, selectors.EVENT_WRITE, bytearray())
        self.inflight += 1

    def finish(self, sock, ok):
        self.sel.unregister(sock)
        self.inflight -= 1
        if ok:
            self.idle.append(sock)
        else:
            sock.close()
            self.failed += 1

    def on_event(self, key, mask):
        sock, buf = key.fileobj, key.data
        if mask & selectors.EVENT_WRITE:
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                self.finish(sock, False)
                return
            try:
                sock.send(self.request)
            except OSError:
                self.finish(sock, False)
                return
            self.sel.modify(sock, selectors.EVENT_READ, buf)
            return
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self.finish(sock, False)
            return
        if not chunk:
            self.finish(sock, False)
            return
        buf += chunk
        if response_complete(bytes(buf)):
            self.finish(sock, True)

    def run(self, count, deadline):
        started = 0
        while time.monotonic() < deadline:
            while started < count and self.inflight < self.inflight_max:
                self.start_one()
                started += 1
            if started >= count and self.inflight == 0:
                break
            for key, mask in self.sel.select(timeout=0.5):
                self.on_event(key, mask)
        # Whatever is still in flight at the deadline counts as failed.
        for key in list(self.sel.get_map().values()):
            self.finish(key.fileobj, False)


def still_open(socks):
    """Connections the server has not closed: not readable, or readable
    with data still to come (a server never sends on an idle one)."""
    alive = 0
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
    ready = {fd for fd, _ in poller.poll(0)}
    for s in socks:
        if s.fileno() not in ready:
            alive += 1
    return alive


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/1k")
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--inflight", type=int, default=200)
    p.add_argument("--deadline", type=float, default=120.0, help="seconds for opening, and again for holding")
    args = p.parse_args()
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        p.error("loopback only")

    raise_nofile(args.count + 100)
    request = f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n\r\n".encode()
    opener = Opener(args.host, args.port, request, args.inflight)
    opener.run(args.count, time.monotonic() + args.deadline)
    print(f"READY opened={len(opener.idle)} failed={opener.failed}", flush=True)

    # Hold until the caller has measured (or the hold deadline passes).
    ready, _, _ = select.select([sys.stdin], [], [], args.deadline)
    if ready:
        sys.stdin.readline()
    print(f"OPEN {still_open(opener.idle)}", flush=True)
    for s in opener.idle:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
