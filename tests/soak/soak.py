#!/usr/bin/python3
"""Soak test: a mixed load against ONE lisod for a configurable time.

It starts lisod (LISOD, default ./lisod) on free loopback ports (HTTP and
HTTPS, a throw-away certificate made with the openssl CLI), a temporary
document root (files of 1 B, 1 KiB, 100 KiB and 2 MiB with known contents)
and a CGI directory of small /bin/sh programs, then runs N concurrent clients
(threads spread over a few processes) for --seconds. Each client loops over
randomly chosen connection scenarios, over HTTP or HTTPS:

  keepalive    several sequential requests on one connection
  pipeline     batches of requests in one write, answers checked in order
  close        one request with Connection: close (then EOF)
  http10       HTTP/1.0, with and without Connection: keep-alive
  noread-post  POST (0..200 KiB) to a program that never reads its stdin,
               then more requests on the same connection
  faults       (~5 % of connections) disconnect mid-request, leave after part
               of a CGI body once the server went idle (idle-mid-body),
               disconnect or RST mid-response, garbage; not checked

The requests: static GET/HEAD, Range, If-None-Match (304 and miss), 404,
POST to a file, CGI GET with and without Content-Length (chunked by the
server), HEAD to CGI, CGI echo POST (Content-Length and chunked request
bodies), NPH. Every answer to a valid request must be exactly right: status,
framing, body bytes, Server/Date/Connection headers, and Connection
semantics (keep-alive means the next request is answered; close means EOF).

After a short warm-up load the server's RSS, descriptors and children are
recorded; after the load and a settle period descriptors and children must be
back to that baseline exactly, RSS within --rss-slack-mib. Then lisod is
stopped by its PID (SIGTERM, SIGKILL after a deadline); it must exit 0 with
no sanitizer report in its stderr. Any failure -> exit status 1.

Stdlib only (plus tests/integ/httputil.py and tlsutil.py, imported by path).
Loopback only; every process started here is stopped by its PID.
"""
import argparse
import collections
import multiprocessing
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

sys.dont_write_bytecode = True
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integ"))
import httputil  # noqa: E402
from conftest import free_port  # noqa: E402  (a port a dual-stack listener can bind)
import tlsutil  # noqa: E402

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "UndefinedBehaviorSanitizer")
DATE_RE = re.compile(httputil.RFC1123_RE.pattern)
MiB = 1024 * 1024

# --------------------------------------------------------------------------
# content: files, CGI programs, what they answer
# --------------------------------------------------------------------------
FILE_SPECS = [            # path, size, expected Content-Type prefix
    ("/1b.txt", 1, "text/plain"),
    ("/1k.html", 1024, "text/html"),
    ("/100k.bin", 100 * 1024, "application/octet-stream"),
    ("/2m.jpg", 2 * MiB, "image/jpeg"),
]
FILE_WEIGHTS = [25, 35, 25, 15]

FIXED_BODY = b"".join(b"%05d fixed answer of the soak CGI program\n" % i for i in range(100))
NOLENGTH_PARTS = [b"".join(b"%05d unframed part one\n" % i for i in range(150)),
                  b"".join(b"%05d unframed part two\n" % i for i in range(300))]
NOLENGTH_BODY = NOLENGTH_PARTS[0] + NOLENGTH_PARTS[1] + b"tail\n"
NOREAD_BODY = b"not reading\n"
NPH_BODY = b"nph says hello\n"
NPH_OUTPUT = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
              b"Connection: close\r\nX-Soak: nph\r\n\r\n" % len(NPH_BODY)) + NPH_BODY


def write_cgi(cgi, data):
    """The CGI programs (sh: a python3 start costs ~20 ms, a sh start ~1 ms)."""
    progs = {
        # echo: streams with the length it was given; a chunked request (no
        # CONTENT_LENGTH) is echoed without one (the server chunks it).
        "echo": """#!/bin/sh
if [ -n "${CONTENT_LENGTH+x}" ]; then
  printf 'Content-Type: application/octet-stream\\r\\nContent-Length: %s\\r\\n\\r\\n' "$CONTENT_LENGTH"
  exec head -c "$CONTENT_LENGTH"
fi
printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'
exec cat
""",
        "fixed": f"""#!/bin/sh
printf 'Content-Type: text/plain\\r\\nContent-Length: {len(FIXED_BODY)}\\r\\nX-Soak: fixed\\r\\n\\r\\n'
exec cat '{data}/fixed.body'
""",
        "nolength": f"""#!/bin/sh
printf 'Content-Type: text/plain\\nX-Soak: nolength\\n\\n'
cat '{data}/part1'
cat '{data}/part2'
printf 'tail\\n'
""",
        # never reads its stdin, answers after 0.2 s
        "noread": """#!/bin/sh
sleep 0.2
printf 'Content-Type: text/plain\\r\\nContent-Length: 12\\r\\n\\r\\nnot reading\\n'
""",
        "nph": f"""#!/bin/sh
exec cat '{data}/nph.out'
""",
    }
    cgi.mkdir()
    (data / "fixed.body").write_bytes(FIXED_BODY)
    (data / "part1").write_bytes(NOLENGTH_PARTS[0])
    (data / "part2").write_bytes(NOLENGTH_PARTS[1])
    (data / "nph.out").write_bytes(NPH_OUTPUT)
    for name, text in progs.items():
        (cgi / name).write_text(text)
        (cgi / name).chmod(0o755)


# Set in main() before the client processes fork; read-only afterwards.
G = {}


# --------------------------------------------------------------------------
# a non-blocking connection: writes are queued and interleaved with reads,
# so a large request body never deadlocks against a large answer
# --------------------------------------------------------------------------
class SoakConn(httputil.Conn):
    CHUNK = 16384

    def __init__(self, sock, tls):
        super().__init__(sock)
        self.tls = tls
        self.out = bytearray()
        self.send_error = None
        sock.setblocking(False)
        self.poller = select.poll()
        self.fd = sock.fileno()
        self.poller.register(self.fd, select.POLLIN)

    def send(self, data):
        self.out += data
        self._write_some()

    def _write_some(self):
        while self.out:
            try:
                n = self.sock.send(self.out[:self.CHUNK])
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return
            except (OSError, ssl.SSLError) as e:      # the peer is gone
                self.send_error = e
                self.out.clear()
                return
            del self.out[:n]

    def _recv(self):
        """bytes, b'' on EOF/reset, None when nothing is available yet."""
        try:
            return self.sock.recv(262144)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return None
        except (ConnectionResetError, BrokenPipeError, ssl.SSLZeroReturnError,
                ssl.SSLEOFError):
            return b""

    def _fill(self, deadline):
        if self.eof:
            return False
        while True:
            if self.tls and self.sock.pending():
                data = self._recv()
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise socket.timeout("deadline passed waiting for response bytes")
                self.poller.modify(self.fd, select.POLLIN | (select.POLLOUT if self.out else 0))
                ev = self.poller.poll(min(remaining, 1.0) * 1000)
                if not ev:
                    continue
                ev = ev[0][1]
                if self.out and ev & (select.POLLOUT | select.POLLERR | select.POLLHUP):
                    self._write_some()
                if not ev & (select.POLLIN | select.POLLERR | select.POLLHUP):
                    continue
                data = self._recv()
            if data is None:
                continue
            if not data:
                self.eof = True
                return False
            self.buf += data
            return True

    def _read_exact(self, n, deadline):
        if len(self.buf) >= n:
            out, self.buf = self.buf[:n], self.buf[n:]
            return out
        acc = bytearray(self.buf)
        self.buf = b""
        while len(acc) < n:
            if not self._fill(deadline):
                self.buf = bytes(acc)
                raise httputil.HTTPParseError(
                    f"connection closed after {len(acc)} of {n} body bytes")
            acc += self.buf
            self.buf = b""
        self.buf = bytes(acc[n:])
        return bytes(acc[:n])

    def read_to_eof(self, deadline):
        acc = bytearray(self.buf)        # what came with the previous answer
        self.buf = b""
        while self._fill(deadline):
            acc += self.buf
            self.buf = b""
        return bytes(acc)

    def stray_bytes(self):
        """Bytes the server sent beyond the answers read (checked without waiting)."""
        if not self.buf and not self.eof and not (self.tls and self.sock.pending()):
            if self.poller.poll(0):
                d = self._recv()
                if d:
                    self.buf += d
        return self.buf

    def flush(self, deadline):
        """Send what is queued (reading answers into buf meanwhile); True
        when everything left."""
        while self.out and not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.poller.modify(self.fd, select.POLLIN | select.POLLOUT)
            ev = self.poller.poll(min(remaining, 1.0) * 1000)
            ev = ev[0][1] if ev else 0
            if ev & (select.POLLOUT | select.POLLERR | select.POLLHUP):
                self._write_some()
            if ev & (select.POLLIN | select.POLLERR | select.POLLHUP) or (
                    self.tls and self.sock.pending()):
                data = self._recv()
                if data == b"":
                    self.eof = True
                elif data:
                    self.buf += data
        return not self.out

    def close(self, rst=False):
        try:
            if rst:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------
# requests and what must come back
# --------------------------------------------------------------------------
class Req:
    __slots__ = ("kind", "method", "target", "version", "headers", "body", "wire", "status",
                 "exp_body", "exp_len", "exp_headers", "chunked", "expect_close", "head",
                 "nph", "req_chunked", "may_close")

    def describe(self):
        hs = [h for h in self.headers if not h.startswith(("Host:", "Content-Type:"))]
        s = f"{self.method} {self.target} HTTP/{self.version}"
        if hs:
            s += " [" + "; ".join(hs) + "]"
        if self.body or self.method == "POST":
            s += f" body {len(self.body)} B" + (" (chunked on the wire)" if self.req_chunked else "")
        return s

    def expect(self):
        if self.nph:
            return f"the NPH output verbatim ({len(NPH_OUTPUT)} B), then EOF"
        s = f"{self.status}"
        if self.head or self.status == 304:
            s += ", no body"
        elif self.exp_body is None:
            s += ", any body framed by its Content-Length"
        else:
            s += f", {len(self.exp_body)} B body"
        s += ", chunked" if self.chunked else ""
        s += ", then close" if self.expect_close else ", keep-alive"
        return s


def pick_kind(rnd, last, version):
    while True:
        kind = rnd.choices(G["kinds"], G["kind_weights"])[0]
        if kind == "nph" and not last:
            continue
        if version == "1.0" and (kind == "echo-chunked" or (kind == "cgi-chunked" and not last)):
            continue                  # no chunked on 1.0; an unframed answer ends the connection
        return kind


def body_size(rnd):
    r = rnd.random()
    if r < 0.05:
        return 0
    if r < 0.40:
        return rnd.randint(1, 1024)
    if r < 0.75:
        return rnd.randint(1025, 64 * 1024)
    return rnd.randint(64 * 1024, 256 * 1024)


def noread_size(rnd):
    r = rnd.randrange(6)
    if r == 0:
        return rnd.choice([0, 1])
    if r == 1:
        return rnd.randint(2, 16 * 1024)
    if r == 2:
        return rnd.randint(16 * 1024, 64 * 1024 - 1)
    if r == 3:
        return 64 * 1024 + rnd.randint(-64, 64)
    if r == 4:
        return rnd.randint(64 * 1024, 200 * 1024)
    return 200 * 1024


def payload(rnd, n):
    blob = G["blob"]
    off = rnd.randrange(len(blob) - n + 1)
    return blob[off:off + n]


def chunk_wire(rnd, body):
    out = []
    i = 0
    while i < len(body):
        n = min(len(body) - i, rnd.choice([1, 7, 100, 1000, 4096, 16384, 70000]))
        ext = b";soak=1" if rnd.random() < 0.1 else b""
        out.append(b"%x%s\r\n" % (n, ext) + body[i:i + n] + b"\r\n")
        i += n
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def make_req(rnd, kind, version="1.1", ask_close=False, ka10=False, noread_n=None):
    """Build a request of `kind` and its exact expected answer."""
    r = Req()
    r.kind, r.version = kind, version
    r.method, r.body, r.req_chunked = "GET", b"", False
    r.status, r.exp_headers, r.chunked, r.head, r.nph = 200, {}, False, False, False
    headers = []
    wire_body = b""
    files = G["files"]
    if kind in ("static", "head", "range", "cond", "cond-miss", "post-static"):
        path = rnd.choices(G["file_paths"], FILE_WEIGHTS)[0]
        content, meta = files[path]
        r.target = path
        r.exp_body = content
        r.exp_headers = dict(meta)
        if kind == "head":
            r.method, r.head = "HEAD", True
        elif kind == "range":
            size = len(content)
            form = rnd.randrange(3)
            if form == 0:
                a = rnd.randrange(size)
                b = rnd.randrange(a, min(size, a + rnd.choice([1, 100, 5000, 300000])))
                spec = f"{a}-{b}"
            elif form == 1:
                a = rnd.randrange(size)
                b = size - 1
                spec = f"{a}-"
            else:
                n = rnd.randint(1, min(size, 200000))
                a, b = size - n, size - 1
                spec = f"-{n}"
            headers.append(f"Range: bytes={spec}")
            r.status = 206
            r.exp_body = content[a:b + 1]
            r.exp_headers["content-range"] = f"bytes {a}-{b}/{size}"
        elif kind == "cond":
            headers.append(f"If-None-Match: {meta['etag']}")
            r.status = 304
            r.exp_body = b""
            r.exp_headers = {"etag": meta["etag"]}
        elif kind == "cond-miss":
            headers.append('If-None-Match: "no-such-etag"')
        elif kind == "post-static":
            r.method = "POST"
            r.body = payload(rnd, rnd.randint(0, 2000))
            wire_body = r.body
            headers.append(f"Content-Length: {len(r.body)}")
    elif kind == "404":
        r.target = rnd.choice(["/missing.html", "/nope/x.txt", f"/gone-{rnd.randrange(1000)}.bin"])
        r.status = 404
        r.exp_body = None                 # any body, framed by its Content-Length
    elif kind in ("cgi-fixed", "cgi-head"):
        r.target = rnd.choice(["/cgi/fixed", "/cgi/fixed/a/b?x=1"])
        r.exp_body = FIXED_BODY
        r.exp_headers = {"content-type": "text/plain", "x-soak": "fixed"}
        if kind == "cgi-head":
            r.method, r.head = "HEAD", True
    elif kind == "cgi-chunked":
        r.target = "/cgi/nolength"
        r.exp_body = NOLENGTH_BODY
        r.exp_headers = {"content-type": "text/plain", "x-soak": "nolength"}
        r.chunked = version == "1.1"
    elif kind in ("echo", "echo-chunked"):
        r.method, r.target = "POST", "/cgi/echo"
        r.body = payload(rnd, body_size(rnd))
        r.exp_body = r.body
        r.exp_headers = {"content-type": "application/octet-stream"}
        headers.append("Content-Type: application/octet-stream")
        if kind == "echo-chunked":
            r.req_chunked = True
            r.chunked = True
            headers.append("Transfer-Encoding: chunked")
            wire_body = chunk_wire(rnd, r.body)
        else:
            headers.append(f"Content-Length: {len(r.body)}")
            wire_body = r.body
    elif kind == "noread":
        r.method, r.target = "POST", "/cgi/noread"
        n = noread_size(rnd) if noread_n is None else noread_n
        r.body = payload(rnd, n)
        r.exp_body = NOREAD_BODY
        r.exp_headers = {"content-type": "text/plain"}
        headers.append("Content-Type: application/octet-stream")
        if version == "1.1" and rnd.random() < 0.25:
            r.req_chunked = True
            headers.append("Transfer-Encoding: chunked")
            wire_body = chunk_wire(rnd, r.body)
        else:
            headers.append(f"Content-Length: {n}")
            wire_body = r.body
    elif kind == "nph":
        r.target = "/cgi/nph"
        r.nph = True
        r.exp_body = NPH_BODY
    else:
        raise ValueError(kind)

    if version == "1.1":
        if ask_close:
            headers.append("Connection: close")
        elif rnd.random() < 0.2:
            headers.append("Connection: keep-alive")
        r.expect_close = ask_close
    else:
        if ka10:
            headers.append("Connection: keep-alive")
        r.expect_close = not ka10
    if kind == "nph" or (kind == "cgi-chunked" and version == "1.0"):
        r.expect_close = True
    # HTTP/1.0 cannot be chunked, so the server may decide to close before it
    # knows how a CGI program frames its output; saying so (and closing) is
    # honest. Everything else must keep the connection it was asked to keep.
    r.may_close = version == "1.0" and r.target.startswith("/cgi/") and not r.expect_close
    r.exp_len = None if r.exp_body is None else len(r.exp_body)
    r.headers = headers
    r.wire = httputil.request(r.method, r.target, headers, wire_body,
                              version=f"HTTP/{version}")
    return r


def check(req, resp):
    """Problems with `resp` as the answer to `req` (empty list: exactly right)."""
    p = []
    conn = (resp.header("connection") or "").lower()
    closing = conn == "close"
    if resp.status != req.status:          # the rest would only be noise
        return [f"status {resp.status}, expected {req.status}"]
    if resp.header("server") != "Liso/1.0":
        p.append(f"Server {resp.header('server')!r}")
    if len(resp.header_all("date")) != 1 or not DATE_RE.match(resp.header("date") or ""):
        p.append(f"Date {resp.header_all('date')!r}")
    want = "close" if req.expect_close else "keep-alive"
    if conn != want and not (req.may_close and closing):
        p.append(f"Connection {resp.header('connection')!r}, expected {want!r}")
    te = resp.header("transfer-encoding")
    cl = resp.header_all("content-length")
    if req.chunked and closing and te is None and not cl:
        pass                                  # delimited by the close: valid too
    elif req.chunked:
        if (te or "").lower() != "chunked" or cl:
            p.append(f"framing: Transfer-Encoding {te!r} Content-Length {cl!r}, expected chunked")
    elif te is not None:
        p.append(f"unexpected Transfer-Encoding {te!r}")
    elif req.status == 304:
        if cl and req.kind == "cond" and cl != [str(len(G['files'][req.target][0]))]:
            p.append(f"304 with Content-Length {cl!r}")
    elif req.kind == "cgi-chunked" and req.version == "1.0":
        pass                                  # delimited by the close
    elif len(cl) != 1:
        p.append(f"Content-Length {cl!r}")
    elif req.exp_len is not None and cl[0] != str(req.exp_len):
        p.append(f"Content-Length {cl[0]}, expected {req.exp_len}")
    for k, v in req.exp_headers.items():
        if resp.header(k) != v:
            p.append(f"{k}: {resp.header(k)!r}, expected {v!r}")
    if req.head or req.status == 304:
        if resp.body:
            p.append(f"{len(resp.body)} body bytes on a {req.method} {req.status}")
    elif req.exp_body is not None and resp.body != req.exp_body:
        p.append("body differs: " + body_diff(resp.body, req.exp_body))
    return p


def body_diff(got, want):
    n = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return (f"got {len(got)} B, expected {len(want)} B, first difference at byte {n}: "
            f"got {got[n:n + 40]!r}, expected {want[n:n + 40]!r}")


def resp_desc(resp):
    head = resp.raw_head.decode("latin-1").rstrip("\r\n").replace("\r\n", " | ")
    return f"{head[:600]} || body {len(resp.body)} B {resp.body[:80]!r}"


# --------------------------------------------------------------------------
# a client: loops over random connection scenarios until the deadline
# --------------------------------------------------------------------------
NOREAD_CLASSES = ["0 B", "1 B-16 KiB", "16-64 KiB", "64 KiB +-64 B", "64-128 KiB",
                  "128-200 KiB"]


def noread_bucket(req):
    """The class of a noread POST's body: (framing, size class)."""
    n = len(req.body)
    if n == 0:
        size = 0
    elif abs(n - 65536) <= 64:
        size = 3
    elif n < 16384:
        size = 1
    elif n < 65536:
        size = 2
    elif n < 131072:
        size = 4
    else:
        size = 5
    return ("chunked" if req.req_chunked else "Content-Length", size)


COUNTERS = ("by_kind", "by_scenario", "faults", "wrong_by", "notes", "noread_next")


class WrongAnswer(Exception):
    pass


class Client:
    MAX_DETAILS = 5

    def __init__(self, name, rnd):
        self.name = name
        self.rnd = rnd
        self.requests = 0
        self.conns = 0
        self.wrong = 0
        self.by_kind = collections.Counter()
        self.by_scenario = collections.Counter()
        self.faults = collections.Counter()
        self.wrong_by = collections.Counter()
        self.notes = collections.Counter()
        self.noread_next = collections.Counter()   # (body class, next answer ok/wrong)
        self.details = []
        self.sessions = {}
        self.ctxs = {}
        skip = G["skip"]
        self.scenarios = [s for s in ("keepalive", "pipeline", "close", "http10", "noread-post")
                          if s not in skip]
        self.scen_weights = [{"keepalive": 35, "pipeline": 22, "close": 10, "http10": 10,
                              "noread-post": 6}[s] for s in self.scenarios]

    # -- connections -------------------------------------------------------
    def connect(self, tls):
        timeout = G["timeout"]
        if not tls:
            s = socket.create_connection(("127.0.0.1", G["http_port"]), timeout=timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return SoakConn(s, False)
        ver = self.rnd.choice(["1.2", "1.3"])
        ctx = self.ctxs.get(ver)
        if ctx is None:
            ctx = tlsutil.client_context(
                verify=False, max_version=ssl.TLSVersion.TLSv1_2 if ver == "1.2" else None)
            self.ctxs[ver] = ctx
        session = self.sessions.get(ver) if self.rnd.random() < 0.5 else None
        s = tlsutil.tls_socket(G["https_port"], ctx, timeout, session=session)
        return SoakConn(s, True), ver

    def remember_session(self, conn, ver):
        try:
            if conn.sock.session is not None:
                self.sessions[ver] = conn.sock.session
        except (AttributeError, ValueError, OSError):
            pass

    def record_wrong(self, ctx, req, got, problems):
        self.wrong += 1
        if ctx.get("after_noread"):
            self.noread_next[(ctx.pop("after_noread"), "wrong")] += 1
        elif req is not None and req.kind == "noread":
            self.noread_next[(noread_bucket(req), "noread answer wrong")] += 1
        self.wrong_by[f"{ctx['scenario']}/{req.kind if req else '-'}"] += 1
        if len(self.details) < self.MAX_DETAILS:
            self.details.append({
                "client": self.name, "scenario": ctx["scenario"], "transport": ctx["transport"],
                "history": list(ctx["history"]), "request": req.describe() if req else "-",
                "expected": req.expect() if req else "-", "got": got, "problems": problems,
                "time": round(time.monotonic() - G["t0"], 2)})
        raise WrongAnswer()

    def read_check(self, conn, req, ctx):
        """Read and check the answer to req; returns True when the connection
        is now closed (as expected)."""
        deadline = time.monotonic() + G["timeout"]
        try:
            if req.nph:
                raw = conn.read_to_eof(deadline)
                if raw != NPH_OUTPUT:
                    self.record_wrong(ctx, req, f"{len(raw)} B until EOF: {raw[:300]!r}",
                                      ["NPH output not relayed verbatim: " +
                                       body_diff(raw, NPH_OUTPUT)])
                self.count(req, ctx)
                return True
            resp = conn.read_response(head=req.head, timeout=G["timeout"])
        except WrongAnswer:
            raise
        except Exception as e:                 # noqa: BLE001  (timeout, parse error, reset)
            msg = f"{type(e).__name__}: {e}"
            if "buffered" not in msg:
                msg += f"; buffered {conn.buf[:200]!r}"
            self.record_wrong(ctx, req, f"{msg}; eof={conn.eof}; send error={conn.send_error!r}",
                              ["no valid answer"])
        problems = check(req, resp)
        if problems:
            self.record_wrong(ctx, req, resp_desc(resp), problems)
        self.count(req, ctx)
        ctx["history"].append(f"{req.describe()} -> {resp.status} ok")
        if ctx.get("after_noread"):
            self.noread_next[(ctx.pop("after_noread"), "ok")] += 1
        if req.kind == "noread":
            ctx["after_noread"] = noread_bucket(req)
        closing = (resp.header("connection") or "").lower() == "close"
        if closing and not req.expect_close:
            self.notes["HTTP/1.0 keep-alive CGI request answered with close"] += 1
        if closing:
            try:
                closed = conn.wait_closed(G["timeout"])
            except Exception as e:             # noqa: BLE001
                self.record_wrong(ctx, req, f"{type(e).__name__}: {e}",
                                  ["bytes after a Connection: close answer"])
            if not closed:
                self.record_wrong(ctx, req, resp_desc(resp),
                                  [f"not closed within {G['timeout']} s after Connection: close"])
            return True
        return False

    def count(self, req, ctx):
        self.requests += 1
        self.by_kind[req.kind] += 1

    def sequence(self, rnd, n, version="1.1", ka10=False, close_last=None):
        """n requests of random kinds; only the last may end the connection."""
        reqs = []
        for i in range(n):
            last = i == n - 1
            kind = pick_kind(rnd, last, version)
            ask_close = last and (close_last if close_last is not None else rnd.random() < 0.3)
            reqs.append(make_req(rnd, kind, version, ask_close=ask_close, ka10=ka10 or not last))
        if version == "1.0":
            for r in reqs[:-1]:
                assert not r.expect_close
        return reqs

    def run_reqs(self, conn, reqs, ctx, pipelined):
        if pipelined:
            conn.send(b"".join(r.wire for r in reqs))
            for r in reqs:
                if self.read_check(conn, r, ctx):
                    return True
            return False
        for r in reqs:
            conn.send(r.wire)
            if self.read_check(conn, r, ctx):
                return True
        return False

    def end_check(self, conn, ctx, closed):
        if closed:
            return
        stray = conn.stray_bytes()
        if stray:
            self.record_wrong(ctx, None, f"{stray[:200]!r}",
                              ["stray bytes after the last answer on a keep-alive connection"])

    def one_connection(self):
        rnd = self.rnd
        skip = G["skip"]
        tls = "https" not in skip and rnd.random() < G["https_frac"]
        fault = "faults" not in skip and rnd.random() < G["fault_rate"]
        scenario = "fault" if fault else rnd.choices(self.scenarios, self.scen_weights)[0]
        ctx = {"scenario": scenario, "transport": "http", "history": []}
        self.conns += 1
        self.by_scenario[scenario] += 1
        ver = None
        try:
            if tls:
                conn, ver = self.connect(True)
                ctx["transport"] = f"https (TLS {ver})"
            else:
                conn = self.connect(False)
        except Exception as e:                # noqa: BLE001
            if fault:
                return
            ctx["transport"] = "https" if tls else "http"
            try:
                self.record_wrong(ctx, None, f"{type(e).__name__}: {e}", ["connect failed"])
            except WrongAnswer:
                return
        try:
            if fault:
                self.fault(conn, ctx)
                return
            closed = False
            if scenario == "keepalive":
                closed = self.run_reqs(conn, self.sequence(rnd, rnd.randint(2, 6)), ctx, False)
            elif scenario == "pipeline":
                nbatches = rnd.choice([1, 1, 2])
                for b in range(nbatches):
                    last_batch = b == nbatches - 1
                    reqs = self.sequence(rnd, rnd.randint(2, 6),
                                         close_last=None if last_batch else False)
                    if not last_batch:
                        while reqs[-1].expect_close:            # an nph
                            reqs[-1] = make_req(rnd, "static")
                    closed = self.run_reqs(conn, reqs, ctx, True)
                    if closed:
                        break
            elif scenario == "close":
                kind = pick_kind(rnd, True, "1.1")
                closed = self.run_reqs(conn, [make_req(rnd, kind, ask_close=True)], ctx, False)
            elif scenario == "http10":
                if rnd.random() < 0.5:
                    reqs = [make_req(rnd, pick_kind(rnd, True, "1.0"), "1.0")]
                else:
                    reqs = self.sequence(rnd, rnd.randint(2, 4), "1.0", ka10=rnd.random() < 0.5)
                closed = self.run_reqs(conn, reqs, ctx, rnd.random() < 0.3)
            elif scenario == "noread-post":
                version = "1.0" if rnd.random() < 0.1 else "1.1"
                reqs = []
                if rnd.random() < 0.3:
                    reqs.append(make_req(rnd, pick_kind(rnd, False, version), version, ka10=True))
                reqs.append(make_req(rnd, "noread", version, ka10=True))
                reqs += self.sequence(rnd, rnd.randint(1, 2), version, ka10=True)
                closed = self.run_reqs(conn, reqs, ctx, rnd.random() < 0.3)
            self.end_check(conn, ctx, closed)
            if tls:
                self.remember_session(conn, ver)
        except WrongAnswer:
            pass
        finally:
            conn.close()

    # -- faults --------------------------------------------------------------
    def fault(self, conn, ctx):
        """Optionally a few checked requests, then a fault; the fault's own
        answer is not checked."""
        rnd = self.rnd
        for _ in range(rnd.choice([0, 0, 1, 2])):
            if self.run_reqs(conn, [make_req(rnd, pick_kind(rnd, False, "1.1"))], ctx, False):
                return
        how = rnd.choice(G["fault_kinds"])
        self.faults[how + (" (tls)" if conn.tls else "")] += 1
        big = ["static", "echo", "cgi-chunked", "cgi-fixed"]
        if "noread-post" not in G["skip"]:
            big.append("noread")
        try:
            if how == "mid-request":
                req = make_req(rnd, rnd.choice(big + ["echo", "echo-chunked"]))
                cut = rnd.randint(1, max(1, len(req.wire) - 1))
                conn.send(req.wire[:cut])
                conn.flush(time.monotonic() + 2)
                time.sleep(rnd.random() * 0.05)
                conn.close(rst=rnd.random() < 0.5)
            elif how == "idle-mid-body":
                # head and part of a CGI body, then the server has nothing to
                # do on this connection for a while, then the client leaves
                progs = ["echo", "echo-chunked"] + (["noread"] if "noread" in big else [])
                req = make_req(rnd, rnd.choice(progs))
                while len(req.body) < 2:
                    req = make_req(rnd, req.kind)
                head_end = req.wire.index(b"\r\n\r\n") + 4
                conn.send(req.wire[:rnd.randint(head_end + 1, len(req.wire) - 1)])
                conn.flush(time.monotonic() + 2)
                time.sleep(rnd.uniform(0.1, 0.5))
                conn.close(rst=rnd.random() < 0.3)
            elif how in ("mid-response", "rst-mid-response"):
                req = make_req(rnd, rnd.choice(big))
                size = len(req.exp_body) + 150          # about the whole answer
                wire = req.wire
                if req.kind == "static":
                    wire, size = httputil.get("/2m.jpg"), 2 * MiB
                conn.send(wire)
                want = rnd.randint(0, min(size - 1, 300000))   # leave before the end
                deadline = time.monotonic() + 2
                got = len(conn.buf)
                while got < want and time.monotonic() < deadline:
                    try:
                        if not conn._fill(deadline):
                            break
                    except socket.timeout:
                        break
                    got += len(conn.buf)
                    conn.buf = b""
                conn.close(rst=how == "rst-mid-response")
            else:
                if rnd.random() < 0.5:
                    junk = rnd.randbytes(rnd.randint(1, 8192))
                else:
                    junk = (b"GET /" + rnd.randbytes(rnd.randint(0, 300)) + b" HTTP/1.1\r\n" +
                            rnd.randbytes(rnd.randint(0, 2000)) + b"\r\n\r\n")
                conn.send(junk)
                deadline = time.monotonic() + 1
                try:
                    while conn._fill(deadline):
                        conn.buf = b""
                except socket.timeout:
                    pass
                conn.close(rst=rnd.random() < 0.3)
        except (OSError, ssl.SSLError, httputil.HTTPParseError):
            pass

    def raw_tls_garbage(self):
        """Garbage straight to the TLS port (no handshake)."""
        self.faults["garbage (tls port, no handshake)"] += 1
        try:
            with socket.create_connection(("127.0.0.1", G["https_port"]), timeout=2) as s:
                s.sendall(self.rnd.randbytes(self.rnd.randint(1, 4096)))
                s.settimeout(1)
                while s.recv(65536):
                    pass
        except OSError:
            pass

    def run(self, deadline):
        while time.monotonic() < deadline:
            try:
                if ("faults" not in G["skip"] and "https" not in G["skip"]
                        and self.rnd.random() < G["fault_rate"] / 20):
                    self.raw_tls_garbage()
                else:
                    self.one_connection()
            except Exception:                 # noqa: BLE001  a harness bug: report it loudly
                self.wrong += 1
                self.wrong_by["harness-exception"] += 1
                if len(self.details) < self.MAX_DETAILS:
                    self.details.append({"client": self.name, "scenario": "harness",
                                         "transport": "-", "history": [], "request": "-",
                                         "expected": "-", "got": traceback.format_exc(),
                                         "problems": ["exception in the soak client"],
                                         "time": round(time.monotonic() - G["t0"], 2)})


# --------------------------------------------------------------------------
# client processes
# --------------------------------------------------------------------------
def client_proc(idx, nthreads, seed, seconds, grace, progress, pipe):
    deadline = time.monotonic() + seconds
    clients = [Client(f"p{idx}t{i}", random.Random(f"{seed}-{idx}-{i}")) for i in range(nthreads)]
    threads = [threading.Thread(target=c.run, args=(deadline,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline + grace:
        time.sleep(0.25)
        progress[3 * idx] = sum(c.requests for c in clients)
        progress[3 * idx + 1] = sum(c.wrong for c in clients)
        progress[3 * idx + 2] = sum(sum(c.faults.values()) for c in clients)
    stuck = sum(t.is_alive() for t in threads)
    res = {"requests": 0, "conns": 0, "wrong": 0, "stuck": stuck, "details": []}
    for k in COUNTERS:
        res[k] = collections.Counter()
    for c in clients:
        res["requests"] += c.requests
        res["conns"] += c.conns
        res["wrong"] += c.wrong
        res["details"] += c.details
        for k in COUNTERS:
            res[k].update(getattr(c, k))
    res["details"].sort(key=lambda d: d["time"])
    pipe.send(res)
    pipe.close()
    os._exit(0)


def run_load(seconds, args, label):
    """Run the clients for `seconds`; returns the merged results."""
    mp = multiprocessing.get_context("fork")
    nprocs = max(1, min(args.procs, args.clients))
    per = [args.clients // nprocs + (1 if i < args.clients % nprocs else 0) for i in range(nprocs)]
    progress = mp.Array("q", 3 * nprocs, lock=False)
    grace = args.timeout * 8 + 10          # the longest a connection can take after the deadline
    procs = []
    G["t0"] = time.monotonic()
    for i, n in enumerate(per):
        rd, wr = mp.Pipe(duplex=False)
        p = mp.Process(target=client_proc,
                       args=(i, n, f"{args.seed}-{label}", seconds, grace, progress, wr),
                       daemon=True)
        p.start()
        wr.close()
        procs.append((p, rd))
    results = []
    t0 = time.monotonic()
    next_report = t0 + args.progress
    pending = {rd: p for p, rd in procs}
    hard = t0 + seconds + grace + 15
    try:
        while pending and time.monotonic() < hard:
            ready = select.select(list(pending), [], [], 1.0)[0]
            for rd in ready:
                try:
                    results.append(rd.recv())
                except EOFError:
                    results.append(None)
                del pending[rd]
            G["sampler"]()
            if args.progress and time.monotonic() >= next_report:
                next_report += args.progress
                req = sum(progress[3 * i] for i in range(nprocs))
                wrong = sum(progress[3 * i + 1] for i in range(nprocs))
                faults = sum(progress[3 * i + 2] for i in range(nprocs))
                el = time.monotonic() - t0
                print(f"  [{label} t={el:5.0f}s] requests {req}  ({req / el:.0f}/s)  wrong {wrong}"
                      f"  faults {faults}  {G['status']()}", flush=True)
    finally:
        for p, rd in procs:
            p.join(5)
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
                p.join(5)
            rd.close()
    elapsed = time.monotonic() - t0
    merged = {"requests": 0, "conns": 0, "wrong": 0, "stuck": 0, "details": [],
              "lost_procs": 0, "elapsed": elapsed}
    for k in COUNTERS:
        merged[k] = collections.Counter()
    for r in results:
        if r is None:
            merged["lost_procs"] += 1
            continue
        for k in ("requests", "conns", "wrong", "stuck"):
            merged[k] += r[k]
        merged["details"] += r["details"]
        for k in COUNTERS:
            merged[k].update(r[k])
    merged["lost_procs"] += len(procs) - len(results)
    merged["details"].sort(key=lambda d: d["time"])
    return merged


# --------------------------------------------------------------------------
# the server and its resources
# --------------------------------------------------------------------------
def proc_stat(pid):
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])       # state, ppid, start time


def children(parent, with_start=False):
    """Pids whose parent is `parent` (zombies included); with_start: (pid,
    start time) pairs, so a reused pid is a different child."""
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            st = proc_stat(e)
            if st and st[1] == parent:
                out.append((int(e), st[2]) if with_start else int(e))
    return sorted(out)


def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


def fd_map(pid):
    out = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for f in names:
        try:
            out[int(f)] = os.readlink(f"/proc/{pid}/fd/{f}")
        except OSError:
            pass
    return out


def describe_proc(pid):
    st = proc_stat(pid)
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace").strip()
    except OSError:
        cmd = "?"
    return f"{pid} state={st[0] if st else '?'} {cmd[:120]!r}"


def stray_processes(tmp, exclude):
    """Processes (other than the server's) running in or from the temp dir."""
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) in exclude or int(e) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{e}/cwd")
            cmd = Path(f"/proc/{e}/cmdline").read_bytes()
        except OSError:
            continue
        if cwd.startswith(str(tmp)) or str(tmp).encode() in cmd:
            out.append(int(e))
    return out


class Server:
    def __init__(self, binary, args, tmp, workers):
        self.tmp = tmp
        self.workers = workers
        self.stderr_path = tmp / "stderr.txt"
        self._err = open(self.stderr_path, "wb")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen([binary] + args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._err, env=env)
        self.pid = self.proc.pid

    def worker_pids(self):
        if self.workers == 1:
            return [self.pid]
        return [p for p in children(self.pid) if (proc_stat(p) or ("Z",))[0] != "Z"]

    def snapshot(self, worker_pids):
        """{pid: (rss KiB, fd map, children)} for the master (if any) and workers."""
        pids = ([self.pid] if self.workers > 1 else []) + list(worker_pids)
        return {p: (rss_kib(p), fd_map(p), children(p)) for p in pids}

    def stop(self, timeout):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._err.close()
                return None
        self._err.close()
        return self.proc.returncode

    def kill_leftovers(self, pids):
        for p in pids:
            if proc_stat(p) is not None and p != os.getpid():
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass


def wait_port(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lisod exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"port {port} never opened")


def is_asan(binary):
    """An ASan build: clang links the runtime in, gcc links libasan.so; both
    binaries reference __asan_init."""
    try:
        with open(binary, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"AddressSanitizer" in data


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
FAULT_KINDS = ["mid-request", "idle-mid-body", "mid-response", "rst-mid-response", "garbage"]
SKIPPABLE = {"keepalive", "pipeline", "close", "http10", "noread-post", "faults", "https",
             *FAULT_KINDS,
             "static", "head", "range", "cond", "cond-miss", "404", "post-static",
             "cgi-fixed", "cgi-head", "cgi-chunked", "echo", "echo-chunked", "nph"}
KIND_WEIGHTS = {"static": 25, "head": 8, "range": 10, "cond": 8, "cond-miss": 3, "404": 6,
                "post-static": 3, "cgi-fixed": 8, "cgi-head": 3, "cgi-chunked": 6, "echo": 8,
                "echo-chunked": 5, "nph": 2}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120, help="load duration (default 120)")
    ap.add_argument("--warmup", type=float, default=5,
                    help="warm-up load before the baseline is taken (default 5 s)")
    ap.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    ap.add_argument("--procs", type=int, default=4,
                    help="client processes the clients are spread over (default 4)")
    ap.add_argument("--workers", type=int, default=1, help="lisod --workers (default 1)")
    ap.add_argument("--https-frac", type=float, default=0.3,
                    help="fraction of connections over TLS (default 0.3)")
    ap.add_argument("--fault-rate", type=float, default=0.05,
                    help="fraction of connections with a fault (default 0.05)")
    ap.add_argument("--skip", action="append", default=[], metavar="NAME[,NAME]",
                    help="leave out scenarios, request kinds or faults: " + ", ".join(sorted(SKIPPABLE)))
    ap.add_argument("--timeout", type=float, default=10, help="per-answer timeout (default 10 s)")
    ap.add_argument("--settle", type=float, default=10,
                    help="how long the end check waits for the server to settle (default 10 s)")
    ap.add_argument("--max-child-age", type=float, default=10,
                    help="longest a CGI program may live (default 10 s; none needs 1 s)")
    ap.add_argument("--rss-slack-mib", type=float, default=None,
                    help="allowed RSS growth over the baseline (default 10 MiB; 512 for ASan)")
    ap.add_argument("--seed", default=None, help="random seed (default: random, printed)")
    ap.add_argument("--cert", choices=["rsa", "ec"], default="rsa", help="key type (default rsa)")
    ap.add_argument("--progress", type=float, default=10,
                    help="seconds between progress lines (0: none)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    skip = set()
    for s in args.skip:
        skip.update(x.strip() for x in s.split(",") if x.strip())
    bad = skip - SKIPPABLE
    if bad:
        ap.error(f"unknown --skip {sorted(bad)}; known: {sorted(SKIPPABLE)}")
    args.skip = skip
    if args.seed is None:
        args.seed = str(random.randrange(1 << 32))
    if args.clients < 1 or args.workers < 1 or args.seconds <= 0:
        ap.error("--clients, --workers and --seconds must be positive")
    return args


def fmt_counter(c):
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])) or "-"


def main(argv):
    args = parse_args(argv)
    binary = os.environ.get("LISOD", str(ROOT / "lisod"))
    asan = is_asan(binary)
    slack_mib = args.rss_slack_mib if args.rss_slack_mib is not None else (512 if asan else 10)
    tmp = Path(tempfile.mkdtemp(prefix="lisod-soak-"))
    failures = []
    server = None
    try:
        # -- content ---------------------------------------------------------
        rnd = random.Random(args.seed)
        www = tmp / "www"
        www.mkdir()
        data = tmp / "data"
        data.mkdir()
        contents = {}
        for path, size, _ in FILE_SPECS:
            contents[path] = rnd.randbytes(size)
            (www / path[1:]).write_bytes(contents[path])
        write_cgi(tmp / "cgi", data)
        cert = tlsutil.make_cert(tmp / "tls", "soak", kind=args.cert)
        G.update(blob=rnd.randbytes(4 * MiB), skip=args.skip, timeout=args.timeout,
                 https_frac=args.https_frac, fault_rate=args.fault_rate,
                 file_paths=[p for p, _, _ in FILE_SPECS])
        G["fault_kinds"] = [k for k in FAULT_KINDS if k not in args.skip]
        if not G["fault_kinds"]:
            args.skip.add("faults")
        kinds = [k for k in KIND_WEIGHTS if k not in args.skip]
        if not kinds:
            raise SystemExit("soak: every request kind skipped")
        G["kinds"], G["kind_weights"] = kinds, [KIND_WEIGHTS[k] for k in kinds]
        if "https" in args.skip:
            G["https_frac"] = 0

        # -- server ----------------------------------------------------------
        http_port, https_port = free_port(), free_port()
        G.update(http_port=http_port, https_port=https_port)
        sargs = ["--http-port", str(http_port), "--https-port", str(https_port),
                 "--listen", "127.0.0.1", "--root", str(www), "--cgi", str(tmp / "cgi"),
                 "--key", str(cert.key), "--cert", str(cert.cert),
                 "--workers", str(args.workers), "--log", str(tmp / "lisod.log"),
                 "--access-log", str(tmp / "access.log"),
                 # not a limits test: a 503 here means CGI slots leak
                 "--max-cgi", "512"]
        if os.geteuid() == 0:
            sargs.append("--cgi-as-root")  # CGI as root is refused otherwise
        print(f"soak: {binary}{' (ASan build)' if asan else ''}, --workers {args.workers}, "
              f"{args.clients} clients in {min(args.procs, args.clients)} processes, "
              f"{args.seconds:g} s (+{args.warmup:g} s warm-up), seed {args.seed}"
              + (f", skipping {', '.join(sorted(args.skip))}" if args.skip else ""), flush=True)
        print(f"soak: temp dir {tmp}, HTTP port {http_port}, HTTPS port {https_port}", flush=True)
        server = Server(binary, sargs, tmp, args.workers)
        wait_port(http_port, server.proc)
        wait_port(https_port, server.proc)
        if args.workers > 1:
            if not wait_until(lambda: len(server.worker_pids()) == args.workers, 10):
                raise RuntimeError(f"expected {args.workers} workers, have "
                                   f"{server.worker_pids()}")

        # -- what the files answer (their validators are learnt once) ---------
        files = {}
        for path, size, ctype in FILE_SPECS:
            r = httputil.fetch(http_port, path, timeout=args.timeout)
            assert r.status == 200 and r.body == contents[path], (path, r)
            assert (r.header("content-type") or "").startswith(ctype), (path, r)
            assert r.header("etag") and r.header("last-modified"), (path, r)
            files[path] = (contents[path], {"content-type": r.header("content-type"),
                                            "etag": r.header("etag"),
                                            "last-modified": r.header("last-modified")})
        G["files"] = files

        peak = {"rss": 0, "fds": 0, "children": 0}
        worker_pids = server.worker_pids()

        ages = {}            # (pid, start time) of a worker's child -> [first, last seen, cmd]

        def sampler():
            now = time.monotonic()
            for p in worker_pids:
                peak["rss"] = max(peak["rss"], rss_kib(p))
                peak["fds"] = max(peak["fds"], len(fd_map(p)))
                kids = children(p, with_start=True)
                peak["children"] = max(peak["children"], len(kids))
                for k in kids:
                    a = ages.setdefault(k, [now, now, ""])
                    a[1] = now
                    d = describe_proc(k[0])
                    if not a[2] or not d.endswith("''"):     # keep one with a command line
                        a[2] = d

        def status():
            return " ".join(f"[pid {p}: rss {rss_kib(p) / 1024:.1f} MiB fds {len(fd_map(p))} "
                            f"children {len(children(p))}]" for p in worker_pids)
        G["sampler"], G["status"] = sampler, status

        # -- warm-up, settle, baseline ----------------------------------------
        results = []
        if args.warmup > 0:
            print(f"soak: warm-up {args.warmup:g} s", flush=True)
            results.append(run_load(args.warmup, args, "warmup"))
        quiet = settle(server, worker_pids, None, args.settle)
        base = server.snapshot(worker_pids)
        print("soak: baseline " + snap_desc(base), flush=True)
        if not quiet:
            failures.append("the server did not settle after the warm-up (children: " + "; ".join(
                describe_proc(k) for p in worker_pids for k in base[p][2]) + ")")

        # -- the load ----------------------------------------------------------
        print(f"soak: load {args.seconds:g} s", flush=True)
        main_res = run_load(args.seconds, args, "load")
        results.append(main_res)

        # -- end check ----------------------------------------------------------
        t_settle = time.monotonic()
        ok = settle(server, worker_pids, base, args.settle)
        settle_time = time.monotonic() - t_settle
        end = server.snapshot(worker_pids)
        print(f"soak: end      {snap_desc(end)} (settled after {settle_time:.1f} s)"
              if ok else f"soak: end      {snap_desc(end)} (NOT settled after {settle_time:.1f} s)",
              flush=True)
        failures += compare(base, end, slack_mib, server, tmp)
        if ages:
            (cpid, _), (first, last, cdesc) = max(ages.items(), key=lambda kv: kv[1][1] - kv[1][0])
            oldest = last - first
            print(f"soak: {len(ages)} server children seen; the longest-lived ran "
                  f"{oldest:.1f} s: {cdesc}", flush=True)
            if oldest > args.max_child_age:
                failures.append(
                    f"a server child lived {oldest:.1f} s (> {args.max_child_age:g} s; every soak "
                    f"CGI program answers within 0.2 s and a client that leaves must stop its "
                    f"program at once): {cdesc}")
        if server.proc.poll() is not None:
            failures.append(f"lisod died during the soak (exit {server.proc.returncode})")
        elif args.workers > 1 and sorted(server.worker_pids()) != sorted(worker_pids):
            failures.append(f"workers changed: {worker_pids} -> {server.worker_pids()} "
                            f"(a worker died and was restarted)")
        if args.workers > 1:
            restarts = [ln for ln in read_text(tmp / "lisod.log").splitlines() if "restarting" in ln]
            if restarts:
                failures.append(f"worker restarts logged: {restarts[:3]}")

        # -- report -------------------------------------------------------------
        total = merge(results)
        report(total, main_res, args, peak)
        if total["wrong"]:
            failures.insert(0, f"{total['wrong']} wrong answer(s) to valid requests")
        if total["stuck"]:
            failures.append(f"{total['stuck']} client thread(s) never finished")
        if total["lost_procs"]:
            failures.append(f"{total['lost_procs']} client process(es) returned no result")
    except BaseException as e:
        if not isinstance(e, SystemExit):
            traceback.print_exc()
            failures.append(f"soak harness error: {type(e).__name__}: {e}")
        else:
            raise
    finally:
        if server is not None:
            everyone = [server.pid] + children(server.pid)
            code = server.stop(30)
            server.kill_leftovers(everyone)
            left = wait_until(lambda: not stray_processes(tmp, set()), 5) or \
                stray_processes(tmp, set())
            if left is not True and left:
                failures.append("processes left after the server stopped: " +
                                "; ".join(describe_proc(p) for p in left))
                server.kill_leftovers(left)
            err = read_text(server.stderr_path)
            print(f"soak: lisod stopped, exit code {code}", flush=True)
            if code != 0:
                failures.append(f"lisod exit code {code} (expected 0) after SIGTERM; stderr tail:\n"
                                f"{err[-2000:]}")
            for m in SANITIZER_MARKERS:
                if m in err:
                    failures.append(f"sanitizer report in lisod stderr ({m!r}):\n{err[-4000:]}")
                    break
            errs = [ln for ln in read_text(tmp / "lisod.log").splitlines() if "[error]" in ln]
            if errs:
                print(f"soak: {len(errs)} [error] line(s) in the error log, first: {errs[0]}")
        if failures:
            print("\nSOAK FAILED:")
            for f in failures:
                print("  - " + f)
        else:
            print("\nSOAK PASSED")
        if args.keep or failures:
            keep = args.keep
            if not keep:
                # keep the logs of a failed run, not the 2 MiB files
                for sub in ("www", "data"):
                    shutil.rmtree(tmp / sub, ignore_errors=True)
                keep = True
            print(f"soak: kept {tmp} (lisod.log, access.log, stderr.txt)")
        if not (args.keep or failures):
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


def read_text(p):
    try:
        return Path(p).read_text(errors="replace")
    except OSError:
        return ""


def wait_until(pred, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def settle(server, worker_pids, base, timeout):
    """Wait until the workers have no children and their descriptor counts
    stopped changing (base None) or equal the baseline. True when reached."""
    deadline = time.monotonic() + timeout
    prev = None
    while True:
        if G.get("sampler"):
            G["sampler"]()
        snap = server.snapshot(worker_pids)
        if base is None:
            counts = {p: (len(v[1]), len(v[2])) for p, v in snap.items()}
            quiet = all(not v[2] for p, v in snap.items() if p in worker_pids)
            if quiet and counts == prev:
                return True
            prev = counts
        else:
            if all(len(snap[p][1]) == len(base[p][1]) and snap[p][2] == base[p][2]
                   for p in base if p in snap):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def snap_desc(snap):
    return "; ".join(f"pid {p}: RSS {v[0] / 1024:.1f} MiB, {len(v[1])} fds, "
                     f"{len(v[2])} children" for p, v in snap.items())


def compare(base, end, slack_mib, server, tmp):
    fails = []
    for p, (rss0, fds0, kids0) in base.items():
        if p not in end or end[p][0] < 0:
            fails.append(f"pid {p} is gone")
            continue
        rss1, fds1, kids1 = end[p]
        if len(fds1) != len(fds0):
            extra = {k: v for k, v in fds1.items() if fds0.get(k) != v}
            missing = {k: v for k, v in fds0.items() if fds1.get(k) != v}
            fails.append(f"pid {p}: {len(fds1)} descriptors, baseline {len(fds0)}; new/changed "
                         f"{dict(list(extra.items())[:20])}, gone {dict(list(missing.items())[:20])}")
        if kids1 != kids0:
            fails.append(f"pid {p}: children {[describe_proc(k) for k in kids1]}, baseline "
                         f"{kids0}")
        if rss1 > rss0 + slack_mib * 1024:
            fails.append(f"pid {p}: RSS {rss1 / 1024:.1f} MiB, baseline {rss0 / 1024:.1f} MiB: "
                         f"grew {(rss1 - rss0) / 1024:.1f} MiB > {slack_mib:g} MiB allowed")
    left = stray_processes(tmp, set(base) | {server.pid})
    if left:
        fails.append("processes from the soak's CGI programs still running: " +
                     "; ".join(describe_proc(p) for p in left))
    return fails


def merge(results):
    total = {"requests": 0, "conns": 0, "wrong": 0, "stuck": 0, "lost_procs": 0, "details": [],
             "elapsed": 0.0}
    for k in COUNTERS:
        total[k] = collections.Counter()
    for r in results:
        for k in ("requests", "conns", "wrong", "stuck", "lost_procs", "elapsed"):
            total[k] += r[k]
        total["details"] += r["details"]
        for k in COUNTERS:
            total[k].update(r[k])
    return total


def report(total, main_res, args, peak):
    el = main_res["elapsed"]
    print()
    print("soak summary")
    print(f"  elapsed      {el:.1f} s load (+ warm-up), {args.clients} clients, "
          f"--workers {args.workers}, seed {args.seed}")
    print(f"  requests     {total['requests']} checked ({main_res['requests']} in the load: "
          f"{main_res['requests'] / max(el, 1e-9):.0f} req/s), {total['conns']} connections")
    print(f"  scenarios    {fmt_counter(total['by_scenario'])}")
    print(f"  kinds        {fmt_counter(total['by_kind'])}")
    print(f"  faults       {sum(total['faults'].values())} injected: {fmt_counter(total['faults'])}")
    if total["notes"]:
        print(f"  accepted     {fmt_counter(total['notes'])}")
    if total["noread_next"]:
        nn = total["noread_next"]
        classes = sorted({k[0] for k in nn})
        print("  after a POST to the non-reading program, by its body (next answer ok / wrong):")
        for c in classes:
            extra = nn.get((c, "noread answer wrong"), 0)
            name = f"{c[0]} {NOREAD_CLASSES[c[1]]}"
            print(f"      {name:32s} {nn.get((c, 'ok'), 0):5d} ok / {nn.get((c, 'wrong'), 0):5d} wrong"
                  + (f"  (the noread answer itself wrong: {extra})" if extra else ""))
    print(f"  peak         RSS {peak['rss'] / 1024:.1f} MiB, {peak['fds']} fds, "
          f"{peak['children']} children (per worker)")
    print(f"  wrong        {total['wrong']}" + (f": {fmt_counter(total['wrong_by'])}"
                                                 if total["wrong"] else ""))
    shown = total["details"][:5]
    shown += [d for d in total["details"][5:] if d["scenario"] == "harness"][:2]
    for i, d in enumerate(shown, 1):
        print(f"  --- wrong answer #{i} at t={d['time']} s ({d['client']}), scenario "
              f"{d['scenario']} over {d['transport']}")
        for h in d["history"]:
            print(f"      earlier on this connection: {h}")
        print(f"      request:  {d['request']}")
        print(f"      expected: {d['expected']}")
        print(f"      problems: {'; '.join(d['problems'])}")
        got = d["got"] if len(d["got"]) <= 1500 else d["got"][:700] + " [...] " + d["got"][-700:]
        print(f"      got:      {got}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
