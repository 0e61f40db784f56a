#!/usr/bin/env python3
"""Swap latency of plugin-host's hot reload, seen by a client.

One keep-alive connection fetches a small body from the proxy over and over.
For reload i = 1..N: plugin.config is rewritten (atomically, by rename) with
`PROBE stamp=i` (plus any --line given), SIGHUP goes to the host, and the
client keeps fetching until a response carries `x-probe-stamp: i`. The time
from the signal to the end of that response is the swap latency of reload i.
Between reloads the client keeps fetching for --gap seconds.

No request is in flight when the signal is sent (the client is one thread),
so the next request after the signal is the earliest that could see the new
generation; the resolution is one round trip on loopback.

Also counted, per reload: responses still on the old stamp after the signal
(they began before the swap), and any response whose stamp goes back to an
older value after the new one was seen (must be 0: a transaction that starts
after the swap gets the new generation). Every response must be 200 with a
body of exactly --bytes bytes.

Prints one TSV line per reload on --out (reload, ms, old_responses) and a
summary line on stdout:
  SWAP n=N ok=K timeouts=T median_ms=.. p90_ms=.. max_ms=.. min_ms=..
       mean_ms=.. old_after_signal_max=.. regressions=.. errors=..
       connections=.. requests=..
Bounded: --timeout seconds per reload, --deadline seconds for the whole run;
loopback only.
"""

import argparse
import os
import signal
import socket
import statistics
import sys
import time


class Client:
    """A keep-alive HTTP/1.1 client on one connection; reconnects on error."""

    def __init__(self, port, path, timeout):
        self.addr = ("127.0.0.1", port)
        self.request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        self.timeout = timeout
        self.sock = None
        self.buf = b""
        self.connects = 0

    def _connect(self):
        self.sock = socket.create_connection(self.addr, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.connects += 1

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by the proxy")
        self.buf += data

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2 :]
                return line
            self._fill()

    def get(self):
        """One exchange: (status, stamp or None, body length)."""
        if self.sock is None:
            self._connect()
        try:
            self.sock.sendall(self.request)
            while b"\r\n\r\n" not in self.buf:
                self._fill()
            end = self.buf.index(b"\r\n\r\n")
            head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4 :]
            lines = head.split("\r\n")
            status = int(lines[0].split()[1])
            fields = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            if "content-length" in fields:
                body = len(self._take(int(fields["content-length"])))
            elif "chunked" in fields.get("transfer-encoding", "").lower():
                body = 0
                while True:
                    size = int(self._line().split(b";")[0], 16)
                    if size == 0:
                        while self._line():  # trailers, then the empty line
                            pass
                        break
                    body += len(self._take(size))
                    self._take(2)
            else:
                raise ValueError("response without a length on a keep-alive connection")
            if fields.get("connection", "").lower() == "close":
                self.close()
            return status, fields.get("x-probe-stamp"), body
        except (OSError, ValueError, ConnectionError):
            self.close()
            raise


def write_config(path, probe, stamp, extra):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{probe} stamp={stamp}\n")
        for line in extra:
            f.write(line + "\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="plugin-host's pid (SIGHUP goes there)")
    ap.add_argument("--config", required=True, help="the plugin.config the host runs with")
    ap.add_argument("--probe", required=True, help="path of libplugin_probe.so")
    ap.add_argument("--line", action="append", default=[], help="further plugin.config lines after the probe")
    ap.add_argument("--path", default="/1k")
    ap.add_argument("--bytes", type=int, default=1024, help="expected body length")
    ap.add_argument("-n", "--reloads", type=int, default=100)
    ap.add_argument("--gap", type=float, default=0.1, help="seconds of fetching between reloads")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for one swap")
    ap.add_argument("--deadline", type=float, default=300.0, help="seconds for the whole run")
    ap.add_argument("--out", required=True, help="per-reload TSV")
    a = ap.parse_args()

    client = Client(a.port, a.path, timeout=a.timeout)
    start = time.monotonic()
    errors = 0
    requests = 0
    regressions = 0
    old_max = 0
    results = []  # (reload, ms or None, old responses after the signal)
    last_error = ""

    def fetch():
        """One exchange; counts it; returns the stamp, or None on any error."""
        nonlocal errors, requests, last_error
        requests += 1
        try:
            status, stamp, body = client.get()
        except (OSError, ValueError, ConnectionError) as e:
            errors += 1
            last_error = f"{type(e).__name__}: {e}"
            time.sleep(0.01)  # do not spin on a host that is down
            return None
        if status != 200 or body != a.bytes:
            errors += 1
            last_error = f"status {status}, {body} body bytes"
        return stamp

    # The host starts with stamp=0: check it serves that before reloading.
    if fetch() != "0":
        print(f"SWAP error: the first response did not carry stamp 0 ({last_error})", file=sys.stderr)
        return 1

    with open(a.out, "w") as out:
        out.write("reload\tms\told_responses\n")
        for i in range(1, a.reloads + 1):
            if time.monotonic() - start > a.deadline:
                print(f"SWAP warning: deadline reached after {i - 1} reloads", file=sys.stderr)
                break
            write_config(a.config, a.probe, i, a.line)
            t0 = time.perf_counter()
            os.kill(a.pid, signal.SIGHUP)
            old = 0
            ms = None
            while time.perf_counter() - t0 < a.timeout:
                stamp = fetch()
                if stamp == str(i):
                    ms = (time.perf_counter() - t0) * 1000
                    break
                if stamp is not None:
                    old += 1
            old_max = max(old_max, old)
            results.append((i, ms, old))
            out.write(f"{i}\t{'timeout' if ms is None else f'{ms:.3f}'}\t{old}\n")
            # Keep fetching for the gap; every stamp now must be i.
            t1 = time.perf_counter()
            while ms is not None and time.perf_counter() - t1 < a.gap:
                stamp = fetch()
                if stamp is not None and stamp != str(i):
                    regressions += 1
    client.close()

    done = [ms for _, ms, _ in results if ms is not None]
    timeouts = len(results) - len(done)
    if done:
        q = sorted(done)
        p90 = q[min(len(q) - 1, int(round(0.9 * (len(q) - 1))))]
        summary = (
            f"median_ms={statistics.median(q):.2f} p90_ms={p90:.2f} max_ms={q[-1]:.2f} "
            f"min_ms={q[0]:.2f} mean_ms={statistics.mean(q):.2f}"
        )
    else:
        summary = "median_ms=na p90_ms=na max_ms=na min_ms=na mean_ms=na"
    print(
        f"SWAP n={len(results)} ok={len(done)} timeouts={timeouts} {summary} "
        f"old_after_signal_max={old_max} regressions={regressions} errors={errors} "
        f"connections={client.connects} requests={requests}"
    )
    if errors:
        print(f"SWAP last error: {last_error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
