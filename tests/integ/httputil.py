"""Raw HTTP/1.1 client helpers for the lisod integration tests.

Everything here talks to a socket-like object (sendall/recv/settimeout/close),
obtained from a `connect(port, timeout)` callable.  Only plain TCP exists
today (`tcp_connect`); an HTTPS suite can pass a callable returning an
ssl.SSLSocket and reuse the same request/response tables.

The response parser is deliberately strict: it frames bodies only by
Content-Length (or chunked, or read-to-EOF when neither is present), so any
stray body byte after a HEAD/304 response shows up as a parse error of the
*next* response.

LISOD_CLIENT=h2 replays the HTTP/1.1 suites over HTTP/2: `fetch`,
`raw_exchange` and `Conn.open` with the default `tcp_connect` then send each
HTTP/1.1 request as a stream on a cleartext prior-knowledge HTTP/2
connection (h2util.H2Http1Conn) and hand back its answer as a Response whose
version is "HTTP/2" (no reason phrase; `keep_alive` says the connection
stayed open). A test that is about HTTP/1.1 itself (its syntax, framing,
pipelining, Connection, HTTP/1.0, raw socket timing) is marked
`http1_only(reason)` and skipped in that mode with the reason.
"""
import email.utils
import re
import socket
import time

import os as _os

import pytest

VALGRIND = bool(_os.environ.get("LISOD_VALGRIND"))
CLIENT = _os.environ.get("LISOD_CLIENT", "http1")
if CLIENT not in ("http1", "h2"):
    raise RuntimeError(f"LISOD_CLIENT={CLIENT!r}: http1 (the default) or h2")
H2 = CLIENT == "h2"
VERSION = "HTTP/2" if H2 else "HTTP/1.1"   # what an answer to fetch() is in
CURL_PROTO = ["--http2-prior-knowledge"] if H2 else []   # curl's flag for the same
LOG_PROTOCOL = "HTTP/2.0" if H2 else "HTTP/1.1"          # in the access log's request


def http1_only(reason):
    """Mark a test (or a parameter row) that is about HTTP/1.1 itself: it is
    skipped under LISOD_CLIENT=h2, with this reason."""
    return pytest.mark.http1_only(reason=reason)


def h2_bug(reason):
    """Mark a test that the HTTP/2 replay fails because of a server bug
    (reported, not yet fixed): expected to fail under LISOD_CLIENT=h2, and
    strictly so: once the bug is fixed the unexpected pass fails the run,
    and the mark goes."""
    return pytest.mark.xfail(H2, reason="HTTP/2 server bug: " + reason, strict=True)
SLOW = 8 if VALGRIND else 1     # scale for every client-side wait/deadline
DEFAULT_TIMEOUT = 5.0 * SLOW
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a hard bound on what we ever buffer

RFC1123_RE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (0[1-9]|[12][0-9]|3[01]) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] GMT$")


def tcp_connect(port, timeout=DEFAULT_TIMEOUT, host="127.0.0.1"):
    """Plain TCP to the server; the default `connect` callable."""
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class HTTPParseError(AssertionError):
    pass


class Response:
    def __init__(self, version, status, reason, header_list, body, raw_head,
                 sent_at=None, received_at=None):
        # The clock around the exchange (time.time()): no later than the
        # request was sent (the connection was opened then), and the moment
        # the whole head had arrived. The server made the answer in between.
        self.sent_at = sent_at
        self.received_at = received_at
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = header_list          # [(name, value)] as received
        self.headers = {}                       # lower-case name -> last value
        for k, v in header_list:
            self.headers[k.lower()] = v
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def header_all(self, name):
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    @property
    def keep_alive(self):
        if self.version == "HTTP/2":     # no Connection field: the connection said it
            return self.h2.connection_open
        return (self.header("connection") or "").strip().lower() == "keep-alive"

    def __repr__(self):
        return f"<Response {self.status} {self.reason!r} {len(self.body)}B {self.headers!r}>"


class SocketOwner:
    """What owns `self.sock`: close() closes it (quietly), and `with` closes it."""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Conn(SocketOwner):
    """A socket plus a receive buffer; reads whole responses off it."""

    def __init__(self, sock, opened_at=None):
        self.sock = sock
        self.buf = b""
        self.eof = False
        # No answer on this connection can be older than this (see Response).
        self.opened_at = time.time() if opened_at is None else opened_at

    @classmethod
    def open(cls, port, connect=tcp_connect, timeout=DEFAULT_TIMEOUT):
        if H2 and connect is tcp_connect:
            from h2util import H2Http1Conn
            return H2Http1Conn(port, timeout)
        opened_at = time.time()
        return cls(connect(port, timeout), opened_at)

    def send(self, data):
        self.sock.sendall(data)

    # -- low level -----------------------------------------------------
    def _fill(self, deadline):
        """Read once more into buf; False on EOF/reset. Raises on timeout."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed waiting for response bytes")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        if len(self.buf) > MAX_RESPONSE_BYTES:
            raise HTTPParseError("response larger than the test bound")
        return True

    def _read_until(self, marker, deadline):
        while marker not in self.buf:
            if not self._fill(deadline):
                raise HTTPParseError(
                    f"connection closed before {marker!r}; buffered {self.buf[:200]!r}")
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise HTTPParseError(
                    f"connection closed after {len(self.buf)} of {n} body bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    # -- responses -------------------------------------------------------
    def read_response(self, head=False, timeout=DEFAULT_TIMEOUT, skip_interim=True):
        """Parse one response. head=True: the request was HEAD (no body).
        1xx interim responses are skipped unless skip_interim is False."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self._read_one(head, deadline)
            if skip_interim and 100 <= resp.status < 200:
                continue
            return resp

    def _read_one(self, head, deadline):
        raw = self._read_until(b"\r\n\r\n", deadline)
        lines = raw[:-4].split(b"\r\n")
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise HTTPParseError(f"bad status line {lines[0][:200]!r}")
        version, status, reason = m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1")
        hl = []
        for line in lines[1:]:
            if b":" not in line or line[:1] in (b" ", b"\t"):
                raise HTTPParseError(f"bad header line {line[:200]!r}")
            k, v = line.split(b":", 1)
            if k != k.strip() or not k:
                raise HTTPParseError(f"bad header name {k!r}")
            hl.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        resp = Response(version, status, reason, hl, b"", raw, self.opened_at, time.time())
        if head or status in (204, 304) or 100 <= status < 200:
            return resp
        te = resp.header("transfer-encoding")
        cl = resp.header_all("content-length")
        if te is not None:
            if te.lower() != "chunked":
                raise HTTPParseError(f"unexpected Transfer-Encoding {te!r}")
            resp.body = self._read_chunked(deadline)
        elif cl:
            if len(set(cl)) != 1 or not cl[0].isdigit():
                raise HTTPParseError(f"bad Content-Length {cl!r}")
            resp.body = self._read_exact(int(cl[0]), deadline)
        else:
            while self._fill(deadline):
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def _read_chunked(self, deadline):
        body = b""
        while True:
            line = self._read_until(b"\r\n", deadline)
            size = int(line[:-2].split(b";")[0], 16)
            if size == 0:
                while self._read_until(b"\r\n", deadline) != b"\r\n":
                    pass
                return body
            body += self._read_exact(size, deadline)
            if self._read_exact(2, deadline) != b"\r\n":
                raise HTTPParseError("chunk not followed by CRLF")

    def read_responses(self, n, heads=None, timeout=DEFAULT_TIMEOUT):
        heads = heads or [False] * n
        return [self.read_response(head=h, timeout=timeout) for h in heads]

    def wait_closed(self, timeout=3.0 * SLOW):
        """True when the peer closes (EOF or reset) within timeout with no
        further bytes; False on timeout; raises if unexpected bytes arrive."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
        except socket.timeout:
            if self.buf:
                raise HTTPParseError(f"unexpected bytes after response: {self.buf[:200]!r}")
            return False
        if self.buf:
            raise HTTPParseError(f"unexpected bytes before close: {self.buf[:200]!r}")
        return True

    def is_open(self, timeout=0.3):
        """True when nothing arrives and the peer has not closed within timeout."""
        return not self.wait_closed(timeout)


def raw_exchange(port, data, n=1, heads=None, connect=tcp_connect,
                 timeout=DEFAULT_TIMEOUT, keep=False):
    """Send raw bytes in one write, parse n responses.
    Returns the list of responses, or (responses, conn) when keep=True
    (then the caller closes conn). Under LISOD_CLIENT=h2 (and the default
    connect) the requests go as HTTP/2 streams."""
    conn = Conn.open(port, connect, timeout)
    try:
        conn.send(data)
        resps = conn.read_responses(n, heads, timeout)
    except BaseException:
        conn.close()
        raise
    if keep:
        return resps, conn
    conn.close()
    return resps


def http_get(port, path="/", ua="pytest", timeout=5.0):
    """One GET with Connection: close; the raw response bytes until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {ua}\r\n"
                  f"Connection: close\r\n\r\n".encode())
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def request(method, target, headers=(), body=b"", version="HTTP/1.1", host="localhost"):
    """Build request bytes. headers: iterable of (name, value) or 'Name: value'."""
    lines = [f"{method} {target} {version}".encode("latin-1")]
    if host is not None:
        lines.append(b"Host: " + host.encode())
    for h in headers:
        if isinstance(h, tuple):
            h = f"{h[0]}: {h[1]}"
        lines.append(h.encode("latin-1") if isinstance(h, str) else h)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def get(target, *headers, **kw):
    return request("GET", target, headers, **kw)


def fetch(port, target, method="GET", headers=(), body=b"", connect=tcp_connect,
          timeout=DEFAULT_TIMEOUT):
    """One request on a fresh connection; returns the Response."""
    return raw_exchange(port, request(method, target, headers, body), 1,
                        [method == "HEAD"], connect, timeout)[0]


def parse_http_date(value):
    """Parse an RFC 1123 date strictly; returns an aware datetime (UTC)."""
    assert value is not None, "missing date header"
    assert RFC1123_RE.match(value), f"not an RFC 1123 date: {value!r}"
    dt = email.utils.parsedate_to_datetime(value)
    assert dt.tzinfo is not None and dt.utcoffset().total_seconds() == 0
    return dt


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def assert_date_now(resp, before, after):
    """Date is the second the answer was made in, which lies in [before,
    after] (the client's clock read before sending and after receiving):
    truncated to whole seconds, with one second of slack either side."""
    dt = parse_http_date(resp.header("date")).timestamp()
    assert int(before) - 1 <= dt <= after + 1, \
        f"Date {resp.header('date')!r} is not the current second: the exchange ran " \
        f"from {http_date(before)} to {http_date(after)} ({before:.3f}..{after:.3f})"


def assert_common_headers(resp, before=None, after=None):
    """Headers every response must carry (spec §3). The Date is checked
    against the clock to the second: by default from the opening of the
    connection the response came on to the arrival of its head."""
    assert resp.header("server") == "Liso/1.0", resp
    before = resp.sent_at if before is None else before
    after = resp.received_at if after is None else after
    assert before is not None and after is not None, "no clock readings for this response"
    assert_date_now(resp, before, after)
    if resp.version == "HTTP/2":
        from h2util import assert_h2_fields
        assert_h2_fields(resp.h2)        # lower case, no Connection and its kin
    cl = resp.header("content-length")
    # RFC 9110 §8.6 lets a 304 omit Content-Length (if sent it must be the
    # 200 length; test_http_static checks that); every other response has it.
    if resp.status != 304 or cl is not None:
        assert cl is not None and cl.isdigit(), f"Content-Length missing/bad: {resp!r}"
        assert len(resp.header_all("content-length")) == 1
    if resp.version != "HTTP/2":
        conn = (resp.header("connection") or "").lower()
        assert conn in ("keep-alive", "close"), f"Connection header: {resp!r}"


def assert_file_headers(resp, path):
    """Headers of a response that serves the file at `path`."""
    assert_common_headers(resp)
    assert resp.header("content-type"), f"no Content-Type: {resp!r}"
    lm = parse_http_date(resp.header("last-modified"))
    assert int(lm.timestamp()) == int(path.stat().st_mtime), (lm, path.stat().st_mtime)


# -- time-derived headers -------------------------------------------------------
# A Date frozen at startup, at the last request or at the last accept looks
# right to a client that asks at once: every check of a time-derived value
# (Date, Last-Modified, If-Modified-Since, the access log's timestamp) asks a
# server that has been up and idle for IDLE seconds first.
IDLE = 3.0


def age():
    """Let the server(s) just started sit idle for IDLE seconds; send
    nothing to them in the meantime. (Not scaled under valgrind: the point
    is the wall clock moving on, not the server's speed.)"""
    time.sleep(IDLE)


def timed_fetch(port, target, **kw):
    """fetch(), plus the clock read just before and just after it."""
    before = time.time()
    r = fetch(port, target, **kw)
    return r, before, time.time()


def wait_for(predicate, timeout=3.0 * SLOW, interval=0.05):
    """Poll predicate() until truthy or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# -- a shared document root --------------------------------------------------
SECRET = b"TOP-SECRET-0xC0FFEE-must-never-be-served\n"
OLD_MTIME = 1577836800          # 2020-01-01 00:00:00 GMT
INDEX_BODY = b"<html><body>index page</body></html>\n"
SUB_INDEX_BODY = b"<html><body>sub index</body></html>\n"


def make_docroot(workdir):
    """Create workdir/www with the files the HTTP tests use, plus a secret
    file *outside* the root (workdir/secret/secret.txt, workdir/secret.txt)
    and symlinks inside the root that point at it. Returns www."""
    import os
    www = workdir / "www"
    www.mkdir(exist_ok=True)
    (www / "index.html").write_bytes(INDEX_BODY)
    (www / "small.html").write_bytes(b"<p>" + b"x" * 1016 + b"</p>\n")   # 1024 bytes
    for i in range(1, 7):
        (www / f"f{i}.txt").write_bytes(f"file number {i}\n".encode() * i)
    (www / "sub").mkdir(exist_ok=True)
    (www / "sub" / "index.html").write_bytes(SUB_INDEX_BODY)
    (www / "empty").mkdir(exist_ok=True)
    (www / "data.bin").write_bytes(bytes(range(256)) * 4)   # 1024 bytes
    (www / "old.html").write_bytes(b"<p>old</p>\n")
    os.utime(www / "old.html", (OLD_MTIME, OLD_MTIME))
    secret_dir = workdir / "secret"
    secret_dir.mkdir(exist_ok=True)
    (secret_dir / "secret.txt").write_bytes(SECRET)
    (workdir / "secret.txt").write_bytes(SECRET)
    (workdir / "secret").chmod(0o755)
    for name, target in (("outlink", secret_dir / "secret.txt"),
                         ("outdir", secret_dir),
                         ("outrel", "../secret.txt")):
        p = www / name
        if not p.is_symlink():
            p.symlink_to(target)
    return www
