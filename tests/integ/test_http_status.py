"""Every status code of spec §3 with its trigger, as a table of raw request
bytes -> expected status and whether the connection stays open.

Under LISOD_CLIENT=h2 (httputil) the rows that are HTTP/2 requests too are
sent as streams; the rows about HTTP/1.1 syntax and framing are skipped
(H1_ROWS), and every answer must leave the HTTP/2 connection open: a stream's
error never costs the connection its framing, as a bad HTTP/1.1 head can."""
import socket
import time

import pytest

from httputil import (H2, SLOW, VERSION, Conn, SUB_INDEX_BODY, assert_common_headers, get,
                      h2_bug, http1_only, make_docroot, raw_exchange, request, tcp_connect)

pytestmark = pytest.mark.valgrind

H = b"Host: localhost\r\n"
FOLLOW_UP = get("/f1.txt")
F1_BODY = b"file number 1\n"

# (id, request bytes, the status the server must answer (one: every status
#  here is decided by the spec or docs/security.md, never a set of
#  acceptable ones), keep_open: True = must stay open (Connection:
#  keep-alive, next request served), False = Connection: close and closed,
#  None = the spec leaves it open (the bad head's end is known but the
#  server stopped trusting it, or a body was declared), but the Connection
#  header must tell the truth; extra server args)
CASES = [
    ("200", get("/index.html"), 200, True, ()),
    ("200-root-dir", get("/"), 200, True, ()),
    ("200-http10-keepalive", get("/index.html", "Connection: keep-alive", version="HTTP/1.0"),
     200, True, ()),
    ("200-http10", get("/index.html", version="HTTP/1.0"), 200, False, ()),
    ("200-head", request("HEAD", "/index.html"), 200, True, ()),
    ("200-post-cl0", request("POST", "/index.html", ["Content-Length: 0"]), 200, True, ()),
    ("206", get("/data.bin", "Range: bytes=0-9"), 206, True, ()),
    ("301", get("/sub"), 301, True, ()),
    # absolute-form (RFC 9112 §3.2.2: a server MUST accept it); the authority
    # takes the place of Host
    ("200-absolute-form", b"GET http://localhost/index.html HTTP/1.1\r\n" + H + b"\r\n",
     200, True, ()),
    ("200-absolute-form-without-host", b"GET http://localhost/index.html HTTP/1.1\r\n\r\n",
     200, True, ()),
    ("200-absolute-form-https-empty-path", b"GET HTTPS://localhost:8443 HTTP/1.1\r\n\r\n",
     200, True, ()),
    ("304-ims", get("/old.html", "If-Modified-Since: Mon, 01 Jun 2020 00:00:00 GMT"),
     304, True, ()),
    # --- 400: syntax ---
    ("400-bare-lf", b"GET /index.html HTTP/1.1\nHost: localhost\n\n", 400, None, ()),
    ("400-bare-lf-header", b"GET /index.html HTTP/1.1\r\nHost: localhost\nX-A: b\r\n\r\n",
     400, None, ()),
    # a CR not followed by LF is judged at once (spec §3), before the head's
    # end is known: the connection cannot be trusted further
    ("400-bare-cr", b"GET /index.html HTTP/1.1\r\nHost: localhost\rX-A: b\r\n\r\n",
     400, False, ()),
    # no LF ever comes: the CR is judged by the byte after it (see also
    # test_bare_cr_is_judged_at_once)
    ("400-bare-cr-line-ends", b"GET /index.html HTTP/1.1\rHost: localhost\rUser-Agent: x\r\r",
     400, False, ()),
    ("400-cr-in-request-line", b"GET /index\r.html HTTP/1.1\r\n" + H + b"\r\n", 400, False, ()),
    ("400-obs-fold", b"GET /index.html HTTP/1.1\r\n" + H + b"X-A: one\r\n  two\r\n\r\n",
     400, True, ()),
    ("400-obs-fold-tab", b"GET /index.html HTTP/1.1\r\n" + H + b"X-A: one\r\n\ttwo\r\n\r\n",
     400, True, ()),
    ("400-space-before-colon", b"GET /index.html HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n",
     400, True, ()),
    ("400-tab-before-colon", b"GET /index.html HTTP/1.1\r\n" + H + b"X-A\t: b\r\n\r\n",
     400, True, ()),
    ("400-no-colon", b"GET /index.html HTTP/1.1\r\n" + H + b"NoColonHere\r\n\r\n",
     400, True, ()),
    ("400-empty-name", b"GET /index.html HTTP/1.1\r\n" + H + b": value\r\n\r\n",
     400, True, ()),
    ("400-missing-host-1.1", b"GET /index.html HTTP/1.1\r\n\r\n", 400, True, ()),
    ("400-request-line-http09", b"GET /index.html\r\n\r\n", 400, None, ()),
    ("400-request-line-two-spaces", b"GET  /index.html HTTP/1.1\r\n" + H + b"\r\n",
     400, None, ()),
    ("400-request-line-extra-token", b"GET /index.html HTTP/1.1 x\r\n" + H + b"\r\n",
     400, None, ()),
    ("400-request-line-lowercase-version", b"GET /index.html http/1.1\r\n" + H + b"\r\n",
     400, None, ()),
    ("400-request-line-bad-version", b"GET /index.html HTTP/1\r\n" + H + b"\r\n",
     400, None, ()),
    ("400-request-line-only-method", b"GET\r\n" + H + b"\r\n", 400, None, ()),
    ("400-relative-target", b"GET index.html HTTP/1.1\r\n" + H + b"\r\n", 400, None, ()),
    ("400-asterisk-form-get", b"GET * HTTP/1.1\r\n" + H + b"\r\n", 400, True, ()),
    ("400-absolute-form-empty-authority", b"GET http:///index.html HTTP/1.1\r\n" + H + b"\r\n",
     400, True, ()),
    ("400-absolute-form-userinfo", b"GET http://u@localhost/index.html HTTP/1.1\r\n" + H + b"\r\n",
     400, True, ()),
    ("400-absolute-form-other-scheme", b"GET ftp://localhost/index.html HTTP/1.1\r\n" + H + b"\r\n",
     400, True, ()),
    # NUL is rejected by the byte scanner before the end of the head is seen,
    # so closing is acceptable here (the Connection header must say so).
    ("400-nul-in-header", b"GET /index.html HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n",
     400, None, ()),
    ("400-nul-in-target", b"GET /index\x00.html HTTP/1.1\r\n" + H + b"\r\n", 400, None, ()),
    ("400-ctl-in-header-value", b"GET /index.html HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n",
     400, True, ()),
    ("400-del-in-header-value", b"GET /index.html HTTP/1.1\r\n" + H + b"X-A: a\x7fb\r\n\r\n",
     400, True, ()),
    ("400-ctl-in-header-name", b"GET /index.html HTTP/1.1\r\n" + H + b"X\x02A: b\r\n\r\n",
     400, True, ()),
    ("400-ctl-in-target", b"GET /ind\x01ex.html HTTP/1.1\r\n" + H + b"\r\n", 400, None, ()),
    ("400-negative-cl", request("POST", "/index.html", ["Content-Length: -1000"]),
     400, False, ()),
    ("400-nonnumeric-cl", request("POST", "/index.html", ["Content-Length: abc"]),
     400, False, ()),
    ("400-duplicate-differing-cl",
     request("POST", "/index.html", ["Content-Length: 5", "Content-Length: 6"], b"hello!"),
     400, False, ()),
    # spec §3: duplicate Content-Length, "two equal ones included"
    ("400-duplicate-equal-cl",
     request("POST", "/index.html", ["Content-Length: 5", "Content-Length: 5"], b"hello"),
     400, False, ()),
    ("400-cl-and-te",
     request("POST", "/index.html", ["Content-Length: 5", "Transfer-Encoding: chunked"],
             b"0\r\n\r\n"),
     400, False, ()),
    ("400-bad-chunk-size",
     request("POST", "/index.html", ["Transfer-Encoding: chunked"], b"zz\r\nhello\r\n0\r\n\r\n"),
     400, False, ()),
    # --- 403/404 --- (a symlink out of the root is refused: docs/security.md)
    ("403-symlink-outside", get("/outlink"), 403, True, ()),
    ("403-symlink-dir-outside", get("/outdir/secret.txt"), 403, True, ()),
    ("404", get("/no-such-file.html"), 404, True, ()),
    ("404-in-missing-dir", get("/nodir/x.html"), 404, True, ()),
    ("404-empty-dir", get("/empty/"), 404, True, ()),
    # --- 411/413/414 ---
    # the head ended and declared no body: the connection stays (spec §3)
    ("411-post-without-length", request("POST", "/index.html"), 411, True, ()),
    ("413-max-body", request("POST", "/index.html", ["Content-Length: 1000"], b"a" * 1000),
     413, None, ("--max-body", "100")),
    ("413-max-body-headers-only", request("POST", "/index.html", ["Content-Length: 1000"]),
     413, None, ("--max-body", "100")),
    # over-long lines are refused before their end is seen: close
    ("414-request-line-9000", get("/" + "a" * 9000), 414, False, ()),
    ("416", get("/data.bin", "Range: bytes=100000-"), 416, True, ()),
    # --- 431 ---
    ("431-header-line-9000", get("/index.html", "X-Long: " + "b" * 9000), 431, False, ()),
    ("431-header-section-over-64k",
     get("/index.html", *[f"X-H{i:03d}: " + "c" * 1016 for i in range(70)]), 431, False, ()),
    # --- 501 ---
    ("501-put-missing", request("PUT", "/missing.html"), 501, True, ()),
    ("501-put-existing", request("PUT", "/index.html"), 501, True, ()),
    ("501-brew", request("BREW", "/pot-1"), 501, True, ()),
    ("501-unknown-method-missing-target", request("FROBNICATE", "/does/not/exist"),
     501, True, ()),
    ("501-delete", request("DELETE", "/index.html"), 501, True, ()),
    ("501-options-asterisk", b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n", 501, True, ()),
    # a transfer coding we do not implement: 501 and close (spec §3, RFC 9112 §6.1)
    ("501-te-gzip",
     request("POST", "/index.html", ["Transfer-Encoding: gzip"], b"xxxx"), 501, False, ()),
    # --- 505 ---
    ("505-http2", get("/index.html", version="HTTP/2.0"), 505, False, ()),
    ("505-http12", get("/index.html", version="HTTP/1.2"), 505, False, ()),
    ("505-http30", get("/index.html", version="HTTP/3.0"), 505, False, ()),
]


SYNTAX = "HTTP/1.1 message syntax: an HTTP/2 request has no such bytes (HPACK fields; " \
         "malformed HTTP/2 requests are test_h2.py's)"
H1_ROWS = {
    "200-http10-keepalive": "HTTP/1.0",
    "200-http10": "HTTP/1.0",
    "200-absolute-form": "the absolute-form request line (HTTP/2 has :scheme/:authority)",
    "200-absolute-form-without-host": "the absolute-form request line",
    "200-absolute-form-https-empty-path": "the absolute-form request line",
    "411-post-without-length": "HTTP/1.1 body framing: HTTP/2's END_STREAM ends a body",
    "501-te-gzip": "Transfer-Encoding is HTTP/1.1 framing",
    "505-http2": "the version of an HTTP/1.1 request line",
    "505-http12": "the version of an HTTP/1.1 request line",
    "505-http30": "the version of an HTTP/1.1 request line",
}
for _c in CASES:
    if _c[0].startswith("400-"):
        H1_ROWS[_c[0]] = SYNTAX
# Rows the HTTP/2 replay fails because of a server bug (none open).
H2_BUGS = {}


def _marks(name):
    marks = [http1_only(H1_ROWS[name])] if name in H1_ROWS else []
    return marks + ([h2_bug(H2_BUGS[name])] if name in H2_BUGS else [])


def _check_open_state(conn, resp, keep_open):
    said_keep = resp.keep_alive
    if keep_open is True:
        assert said_keep, f"expected Connection: keep-alive, got {resp!r}"
    elif keep_open is False:
        assert not said_keep, f"expected Connection: close, got {resp!r}"
    if said_keep:
        conn.send(FOLLOW_UP)
        nxt = conn.read_response()
        assert nxt.status == 200 and nxt.body == F1_BODY, \
            f"connection said keep-alive but follow-up failed: {nxt!r}"
    else:
        assert conn.wait_closed(3 * SLOW), "Connection: close but the server kept the socket open"


@pytest.mark.parametrize("name,req,expected,keep_open,args", [
    pytest.param(*c, id=c[0], marks=_marks(c[0])) for c in CASES])
def test_status_table(start_server, workdir, name, req, expected, keep_open, args):
    make_docroot(workdir)
    srv = start_server(*args)
    head = req.startswith(b"HEAD ")
    resps, conn = raw_exchange(srv.port, req, 1, [head], keep=True)
    with conn:
        resp = resps[0]
        assert resp.status == expected, f"{name}: request {req[:120]!r} -> {resp!r}"
        assert resp.version == VERSION
        assert_common_headers(resp)
        if not head and resp.status not in (304,):
            assert int(resp.header("content-length")) == len(resp.body)
        if resp.status >= 400:
            assert b"TOP-SECRET" not in resp.body
            assert int(resp.header("content-length")) > 0, "error responses carry a short body"
        _check_open_state(conn, resp, True if H2 else keep_open)


@http1_only("a bare CR in an HTTP/1.1 head")
@pytest.mark.parametrize("head", [b"GET /index.html HTTP/1.1\r\nHost: localhost\rX",
                                  b"GET /index\r.",
                                  b"GET /index.html HTTP/1.1\rHost: localhost\rUser-Agent: x\r\r"],
                         ids=["header-line", "request-line", "cr-line-ends"])
def test_bare_cr_is_judged_at_once(start_server, workdir, head):
    """Spec §3: a CR followed by anything but LF is a 400 as soon as that
    byte arrives, not after a line end (or the header timeout) that the
    client never sends."""
    make_docroot(workdir)
    srv = start_server("--header-timeout", "10")
    with Conn.open(srv.port) as c:
        t0 = time.monotonic()
        c.send(head)
        r = c.read_response(timeout=1.5 * SLOW)
        elapsed = time.monotonic() - t0
        assert r.status == 400, r
        assert elapsed < 0.5 * SLOW, f"400 only after {elapsed:.2f} s"
        assert_common_headers(r)
        assert not r.keep_alive
        assert c.wait_closed(3 * SLOW)


def test_206_body_and_301_location(start_server, workdir):
    www = make_docroot(workdir)
    srv = start_server()
    r = raw_exchange(srv.port, get("/data.bin", "Range: bytes=0-9"))[0]
    assert r.status == 206 and r.body == (www / "data.bin").read_bytes()[:10]
    r = raw_exchange(srv.port, get("/sub"))[0]
    assert r.status == 301
    assert r.header("location", "").endswith("/sub/")
    r = raw_exchange(srv.port, get("/sub/"))[0]
    assert r.status == 200 and r.body == SUB_INDEX_BODY


def test_403_unreadable_file(start_server, workdir):
    """As root the server runs as nobody here, so that mode 000 means something."""
    www = make_docroot(workdir)
    p = www / "locked.html"
    p.write_text("locked content")
    p.chmod(0)
    srv = start_server(as_nobody=True)
    assert raw_exchange(srv.port, get("/index.html"))[0].status == 200  # the rest is readable
    r = raw_exchange(srv.port, get("/locked.html"))[0]
    assert r.status == 403 and b"locked content" not in r.body
    assert_common_headers(r)


@http1_only("a partial HTTP/1.1 head on a raw socket")
def test_408_header_timeout(start_server, workdir):
    make_docroot(workdir)
    srv = start_server("--header-timeout", "1")
    with Conn.open(srv.port) as c:
        c.send(b"GET /index.html HTTP/1.1\r\nHost: loc")
        t0 = time.monotonic()
        r = c.read_response(timeout=4 * SLOW)
        elapsed = time.monotonic() - t0
        assert r.status == 408, r
        assert 0.5 <= elapsed <= 3.5 * SLOW, elapsed
        assert_common_headers(r)
        assert not r.keep_alive
        assert c.wait_closed(3 * SLOW)
    # the server still serves others
    assert raw_exchange(srv.port, get("/index.html"))[0].status == 200


@http1_only("HTTP/1.1 head lines trickled on a raw socket")
def test_408_header_timeout_trickle(start_server, workdir):
    """A client that trickles header bytes must still time out: the header
    timeout bounds the whole head, not the gap between bytes."""
    make_docroot(workdir)
    srv = start_server("--header-timeout", "1")
    with Conn.open(srv.port) as c:
        c.send(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n")
        t0 = time.monotonic()
        got = None
        for i in range(40 * SLOW):                # at most ~4 s (x SLOW)
            try:
                c.send(b"X-T%d: y\r\n" % i)
            except OSError:
                break
            c.sock.settimeout(0.1)
            try:
                data = c.sock.recv(65536)
            except socket.timeout:
                continue
            c.buf += data
            if not data or b"\r\n\r\n" in c.buf:
                break
        got = c.buf
        elapsed = time.monotonic() - t0
        assert got.startswith(b"HTTP/1.1 408 "), (got[:100], elapsed)
        assert elapsed <= 3.5 * SLOW * SLOW


def test_408_body_timeout(start_server, workdir):
    make_docroot(workdir)
    srv = start_server("--body-timeout", "1")
    with Conn.open(srv.port) as c:
        c.send(request("POST", "/index.html", ["Content-Length: 100"], b"0123456789"))
        t0 = time.monotonic()
        r = c.read_response(timeout=4 * SLOW)
        elapsed = time.monotonic() - t0
        assert r.status == 408, r
        assert elapsed <= 3.5 * SLOW
        assert_common_headers(r)
        if H2:
            # Only the stream timed out: the connection serves the next one.
            assert r.keep_alive
            c.send(FOLLOW_UP)
            assert c.read_response().body == F1_BODY
        else:
            assert not r.keep_alive
            assert c.wait_closed(3 * SLOW)
    assert raw_exchange(srv.port, get("/index.html"))[0].status == 200


def test_503_max_conns(start_server, workdir):
    make_docroot(workdir)
    srv = start_server("--max-conns", "2")
    held = []
    try:
        for _ in range(2):
            c = Conn.open(srv.port)
            held.append(c)
            c.send(get("/index.html"))
            assert c.read_response().status == 200
        third = Conn.open(srv.port)
        held.append(third)
        # The server must answer (not silently drop) and close.
        try:
            third.send(get("/index.html"))
        except OSError:
            pass
        if H2:
            # HTTP/2 over the limit: closed before a single frame (h2.c's
            # conn_begin_h2: a 503 in HTTP/1.1 would be garbage to it).
            assert third.wait_closed(4 * SLOW)
            assert third.h.streams[1].status is None and not third.h.remote_settings
        else:
            r = third.read_response(timeout=4 * SLOW)
            assert r.status == 503, r
            assert_common_headers(r)
            assert not r.keep_alive
            assert third.wait_closed(3 * SLOW)
        # the two held connections still work
        for c in held[:2]:
            c.send(get("/f1.txt"))
            assert c.read_response().body == F1_BODY
    finally:
        for c in held:
            c.close()
    # once a slot frees up, new connections are served again
    deadline = time.monotonic() + 3 * SLOW
    status = None
    while time.monotonic() < deadline:
        try:
            status = raw_exchange(srv.port, get("/index.html"), timeout=2)[0].status
        except (OSError, AssertionError):
            status = None
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200


def test_error_responses_to_head_have_no_body(start_server, workdir):
    make_docroot(workdir)
    srv = start_server()
    with Conn.open(srv.port) as c:
        c.send(request("HEAD", "/missing.html") + get("/f1.txt"))
        r1 = c.read_response(head=True)
        r2 = c.read_response()
        assert r1.status == 404 and int(r1.header("content-length")) > 0
        assert r2.status == 200 and r2.body == F1_BODY, r2


@http1_only("the HTTP/1.1 helper's connect callable")
def test_connect_callable_is_pluggable(start_server, workdir):
    """The tables take a `connect` callable so an HTTPS suite can reuse them."""
    make_docroot(workdir)
    srv = start_server()
    calls = []

    def connect(port, timeout):
        calls.append(port)
        return tcp_connect(port, timeout)
    r = raw_exchange(srv.port, get("/index.html"), connect=connect)[0]
    assert r.status == 200 and calls == [srv.port]
