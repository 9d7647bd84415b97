"""CGI (spec §5): the environment (HTTP and HTTPS), NPH relay, parsed CGI
output (Status, Location, framing, HEAD), request bodies streamed both ways,
every failure answered as the spec says while other clients are served,
limits (--cgi-timeout, --max-cgi), and no zombies / leaked descriptors after
failures, client disconnects and a random-disconnect stress.

The programs live in tests/integ/cgi/; each test copies them into its own
workdir (mode 0755) so file modes in the checkout do not matter and pid files
the programs write stay per test.

Replayed over HTTP/2 with LISOD_CLIENT=h2 (httputil), but for the tests
marked http1_only: there an answer has no reason phrase and no
Transfer-Encoding (DATA frames end with END_STREAM), and an NPH answer ends
its stream, not the connection.
"""
import hashlib
import json
import os
import random
import shutil
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from httputil import (H2, SLOW, Conn, HTTPParseError, age, assert_common_headers,
                      assert_date_now, fetch, get, http1_only, parse_http_date, request,
                      wait_for)
from procutil import children, fd_count, gone, proc_stat, zombies  # noqa: F401
from test_https import certs, start_tls  # noqa: F401  (fixtures)

HERE = Path(__file__).resolve().parent
CGI_SRC = HERE / "cgi"
T = 5.0 * SLOW                       # default response timeout
V = pytest.mark.valgrind             # every test but the stress

HEADERS_FULL = [
    ("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
    ("Referer", "http://localhost/previous/page.html"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Accept-Language", "en-US,en;q=0.5"),
    ("Accept-Charset", "utf-8, iso-8859-1;q=0.5"),
    ("Cookie", "session=abc123; theme=dark"),
    ("User-Agent", "lisod-cgi-test/1.0"),
    ("Connection", "keep-alive"),
    ("Proxy", "http://evil.example:3128/"),          # httpoxy: never HTTP_PROXY
    ("Authorization", "Basic dXNlcjpzZWNyZXQ="),     # never HTTP_AUTHORIZATION
    ("X-Custom-Header", "custom value"),
]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
@pytest.fixture
def cgi_dir(workdir):
    """workdir/cgi: copies of the test programs, executable, plus `noexec`
    (a valid script with mode 0644)."""
    d = workdir / "cgi"
    d.mkdir()
    for p in CGI_SRC.iterdir():
        if p.is_file():
            shutil.copyfile(p, d / p.name)
            (d / p.name).chmod(0o755)
    shutil.copyfile(CGI_SRC / "status201", d / "noexec")
    (d / "noexec").chmod(0o644)
    return d


@pytest.fixture
def cgi_server(start_server):
    """start_server, plus: at teardown, wait until every CGI child of each
    server is reaped before the fixture sends SIGTERM (stopping while a
    child is unreaped is covered by test_sigterm_with_cgi_children alone)."""
    servers = []

    def run(*args, **kw):
        srv = start_server(*args, **kw)
        servers.append(srv)
        return srv

    yield run
    for srv in servers:
        if srv.proc.poll() is None:
            assert wait_for(lambda: not children(srv.pid), 10 * SLOW), \
                f"CGI children of {srv.pid} still there at teardown: " \
                f"{ {p: proc_stat(p) for p in children(srv.pid)} }"


def streaming(conn, marker, timeout=T):
    """The answer on conn has begun, with its body up to marker (b"\r\n\r\n":
    just its head); its status."""
    if hasattr(conn, "answer_started"):          # HTTP/2 (LISOD_CLIENT=h2)
        return conn.answer_started(b"" if marker == b"\r\n\r\n" else marker, timeout)
    raw = conn._read_until(marker, time.monotonic() + timeout)
    assert raw.startswith(b"HTTP/1.1 "), raw[:100]
    return int(raw[9:12])


# Fields an HTTP/1.1 request may carry and an HTTP/2 one cannot (RFC 9113
# §8.2.2): the replay over h2 drops them, so the program never sees them.
CONNECTION_SPECIFIC = ("connection", "keep-alive", "proxy-connection", "transfer-encoding",
                       "upgrade")


def read_pid(path, timeout=T):
    assert wait_for(lambda: path.exists() and path.read_text().strip(), timeout), \
        f"{path} never written"
    return int(path.read_text().strip())


def baseline(srv, cgi_target="/cgi/status201"):
    """Warm the server up (one CGI and one static request), let it settle,
    return its descriptor count. `cgi_target` runs the status201 program."""
    r = fetch(srv.port, cgi_target, timeout=T)
    assert r.status == 201 and r.body == b"created\n", r
    assert fetch(srv.port, "/index.html", timeout=T).status == 200
    time.sleep(0.2 * SLOW)
    assert wait_for(lambda: not children(srv.pid), 5 * SLOW), children(srv.pid)
    return fd_count(srv.pid)


def assert_settled(srv, base, timeout=5.0 * SLOW):
    """No zombie and no other child left, descriptor count back to base."""
    ok = wait_for(lambda: not children(srv.pid) and fd_count(srv.pid) == base, timeout)
    if not ok:
        kids = {p: proc_stat(p) for p in children(srv.pid)}
        fds = {f: os.readlink(f"/proc/{srv.pid}/fd/{f}")
               for f in os.listdir(f"/proc/{srv.pid}/fd")}
        raise AssertionError(f"server did not settle: children {kids}, zombies "
                             f"{zombies(srv.pid)}, fds {len(fds)} (baseline {base}): {fds}")
    assert srv.proc.poll() is None, "lisod died"


def assert_static_served(port, within=0.5 * SLOW):
    """A static GET on its own connection is answered promptly (a loop held
    up by a CGI program would take the program's time, a second or more)."""
    t0 = time.monotonic()
    r = fetch(port, "/index.html", timeout=within + 1)
    assert r.status == 200 and b"hello" in r.body, r
    assert time.monotonic() - t0 < within, "static GET was held up by a CGI request"


def env_of(resp):
    """The JSON env_nph answers with -> (dict, raw list of pairs)."""
    doc = json.loads(resp.body)
    pairs = doc["env"]
    names = [k for k, _ in pairs]
    assert len(names) == len(set(names)), f"duplicate environment entries: {names}"
    return dict(pairs), doc


def expected_env(method, uri, path_info, query, port, remote_port, headers, https=False,
                 body=None, content_type=None, protocol=None):
    """protocol: SERVER_PROTOCOL (default: the client's, HTTP/2.0 in the replay)."""
    env = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": str(remote_port),
        "REQUEST_METHOD": method,
        "REQUEST_URI": uri,
        "SCRIPT_NAME": "/cgi",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": protocol or ("HTTP/2.0" if H2 else "HTTP/1.1"),
        "SERVER_SOFTWARE": "Liso/1.0",
    }
    if body is not None:
        env["CONTENT_LENGTH"] = str(len(body))
    if content_type is not None:
        env["CONTENT_TYPE"] = content_type
    if https:
        env["HTTPS"] = "on"
    for name, value in headers:
        if name.lower() in ("proxy", "authorization", "content-length", "content-type"):
            continue
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def check_env(env, want):
    assert env.get("PATH"), f"PATH missing: {env}"
    got = {k: v for k, v in env.items() if k != "PATH"}
    for bad in ("HTTP_PROXY", "HTTP_AUTHORIZATION", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"):
        assert bad not in got, f"{bad} must never be passed: {got}"
    missing = {k: v for k, v in want.items() if got.get(k) != v}
    extra = {k: v for k, v in got.items() if k not in want}
    assert not missing and not extra, \
        f"environment differs\n wrong/missing: { {k: (v, got.get(k)) for k, v in missing.items()} }" \
        f"\n unexpected: {extra}"


def env_request(conn, port, method, target, path_info, query, headers, body=None,
                content_type=None, https=False):
    """Send one request to env_nph over `conn`; check the environment exactly."""
    hdrs = [("Host", f"localhost:{port}")] + list(headers)
    if content_type is not None:
        hdrs.append(("Content-Type", content_type))
    if body is not None:
        hdrs.append(("Content-Length", str(len(body))))
    remote_port = conn.sock.getsockname()[1]
    conn.send(request(method, target, hdrs, body or b"", host=None))
    r = conn.read_response(timeout=T)
    assert r.status == 200, r
    env, doc = env_of(r)
    sent = [h for h in hdrs if not (H2 and h[0].lower() in CONNECTION_SPECIFIC)]
    check_env(env, expected_env(method, target, path_info, query, port, remote_port,
                                sent, https, body, content_type))
    assert doc["body_len"] == len(body or b"")
    assert doc["body_sha256"] == hashlib.sha256(body or b"").hexdigest()
    return env


# --------------------------------------------------------------------------
# environment (NPH)
# --------------------------------------------------------------------------

@V
def test_env_nph_http(cgi_server, cgi_dir):
    srv = cgi_server("--cgi", str(cgi_dir / "env_nph"))
    body = b"hello=world&x=" + b"y" * 1000
    with Conn.open(srv.port) as c:
        env_request(c, srv.port, "POST", "/cgi/testfun/a/b?x=y", "/testfun/a/b", "x=y",
                    HEADERS_FULL, body=body, content_type="application/x-www-form-urlencoded")
        # NPH output is relayed verbatim; the server cannot frame it further,
        # so the connection ends after it. (Over HTTP/2 its stream ends.)
        assert c.is_open() if H2 else c.wait_closed(T)
    # the spec's example split, GET without a body: no CONTENT_* at all
    with Conn.open(srv.port) as c:
        env = env_request(c, srv.port, "GET", "/cgi/testfun/a/b?x=y", "/testfun/a/b", "x=y",
                          HEADERS_FULL)
        assert "CONTENT_LENGTH" not in env and "CONTENT_TYPE" not in env
        assert "HTTPS" not in env
    # "/cgi" alone: empty PATH_INFO and QUERY_STRING
    with Conn.open(srv.port) as c:
        env_request(c, srv.port, "GET", "/cgi", "", "", [("User-Agent", "u")])
    # PATH_INFO decoded, trailing slash kept; "?" with nothing after it
    with Conn.open(srv.port) as c:
        env_request(c, srv.port, "GET", "/cgi/a%20b/c/?", "/a b/c/", "",
                    [("Accept", "*/*")])
    # a query string is passed raw (HEAD: the NPH body is relayed verbatim over
    # HTTP/1.1; over HTTP/2 a HEAD answer has no DATA, so GET carries the check)
    with Conn.open(srv.port) as c:
        env_request(c, srv.port, "GET" if H2 else "HEAD", "/cgi/q?a=1&b=%41+c", "/q",
                    "a=1&b=%41+c", [])
    srv_log = srv.log()
    assert "Traceback" not in srv_log, srv_log[-2000:]
    # every program reaped (also keeps the teardown's SIGTERM out of the
    # window test_sigterm_with_cgi_children covers)
    assert wait_for(lambda: not children(srv.pid), 5 * SLOW), children(srv.pid)


@V
def test_env_nph_https(start_tls, certs, cgi_dir):  # noqa: F811
    ts = start_tls(certs["rsa"], "--cgi", str(cgi_dir / "env_nph"))
    body = b'{"k": "v"}'
    with ts.conn() as c:
        env_request(c, ts.port, "POST", "/cgi/testfun/a/b?x=y", "/testfun/a/b", "x=y",
                    HEADERS_FULL, body=body, content_type="application/json", https=True)
    with ts.conn() as c:
        env = env_request(c, ts.port, "GET", "/cgi/testfun/a/b?x=y", "/testfun/a/b", "x=y",
                          HEADERS_FULL, https=True)
        assert env["HTTPS"] == "on" and env["SERVER_PORT"] == str(ts.port)
    # the same server's plain HTTP port: no HTTPS, that port
    with Conn.open(ts.http_port) as c:
        env = env_request(c, ts.http_port, "GET", "/cgi/z", "/z", "", HEADERS_FULL)
        assert "HTTPS" not in env
    assert wait_for(lambda: not children(ts.srv.pid), 5 * SLOW), children(ts.srv.pid)


# --------------------------------------------------------------------------
# parsed CGI output
# --------------------------------------------------------------------------
@V
def test_status_201(cgi_server, cgi_dir):
    srv = cgi_server("--cgi", str(cgi_dir))
    with Conn.open(srv.port) as c:
        c.send(get("/cgi/status201"))
        r = c.read_response(timeout=T)
        assert r.status == 201 and r.reason == ("" if H2 else "Created"), r
        assert r.body == b"created\n"
        assert_common_headers(r)
        assert r.header("content-length") == "8"
        assert r.header("content-type") == "text/plain"
        assert r.header("x-cgi-test") == "yes"
        assert len(r.header_all("server")) == 1 and len(r.header_all("date")) == 1
        assert r.header("transfer-encoding") is None
        # keep-alive: a second request on the same connection
        c.send(get("/cgi/status201"))
        assert c.read_response(timeout=T).status == 201


@V
def test_location_redirect(cgi_server, cgi_dir):
    srv = cgi_server("--cgi", str(cgi_dir))
    with Conn.open(srv.port) as c:
        c.send(get("/cgi/redirect"))
        r = c.read_response(timeout=T)
        assert r.status == 302, r
        assert r.header("location") == "/x"
        assert r.header("server") == "Liso/1.0"
        parse_http_date(r.header("date"))
        c.send(get("/index.html"))
        assert c.read_response(timeout=T).status == 200


NOLENGTH_BODY = b"".join(b"line %d of the unframed body\n" % i for i in range(5))
WITHLENGTH_BODY = b"".join(b"%04d abcdefghijklmnopqrstuvwxyz\n" % i for i in range(1000))


@V
def test_dates_after_idle(start_tls, certs, cgi_dir):  # noqa: F811
    """Spec §5: the server writes its own Date on parsed CGI output (201 with
    a length, 302 from Location, chunked without a length) and on the 500 of
    a program that fails; asked after IDLE seconds of idleness, over HTTP
    and HTTPS, each Date is the current second."""
    ts = start_tls(certs["rsa"], "--cgi", str(cgi_dir))
    age()
    for conn in (Conn.open(ts.http_port), ts.conn()):
        with conn as c:
            for target, status in [("/cgi/status201", 201), ("/cgi/redirect", 302),
                                   ("/cgi/nolength", 200), ("/cgi/garbage", 500)]:
                before = time.time()
                c.send(get(target))
                r = c.read_response(timeout=T)
                assert_date_now(r, before, time.time())
                assert r.status == status, (target, r)
                assert len(r.header_all("date")) == 1, r
                if status != 500:               # the 500 comes last
                    assert r.keep_alive, r
    assert wait_for(lambda: not children(ts.srv.pid), 5 * SLOW), children(ts.srv.pid)


@V
def test_no_length_chunked_keepalive(cgi_server, cgi_dir):
    srv = cgi_server("--cgi", str(cgi_dir))
    with Conn.open(srv.port) as c:
        for _ in range(2):
            c.send(get("/cgi/nolength"))
            r = c.read_response(timeout=T)
            assert r.status == 200, r
            assert r.header("transfer-encoding") == (None if H2 else "chunked"), r
            assert r.header("content-length") is None
            assert r.header("server") == "Liso/1.0"
            parse_http_date(r.header("date"))
            assert r.body == NOLENGTH_BODY
            assert r.keep_alive
        # the connection is still usable for another kind of request
        c.send(get("/index.html"))
        r = c.read_response(timeout=T)
        assert r.status == 200 and b"hello" in r.body


@V
@http1_only("HTTP/1.0")
def test_no_length_http10_closes(cgi_server, cgi_dir):
    """HTTP/1.0 cannot read chunked: the body ends with the connection."""
    srv = cgi_server("--cgi", str(cgi_dir))
    with Conn.open(srv.port) as c:
        c.send(request("GET", "/cgi/nolength", version="HTTP/1.0"))
        r = c.read_response(timeout=T)
        assert r.status == 200, r
        assert r.header("transfer-encoding") is None
        assert r.body == NOLENGTH_BODY
        assert c.eof


@V
def test_with_length(cgi_server, cgi_dir):
    srv = cgi_server("--cgi", str(cgi_dir))
    with Conn.open(srv.port) as c:
        c.send(get("/cgi/withlength"))
        r = c.read_response(timeout=T)
        assert r.status == 200, r
        assert r.header("content-length") == str(len(WITHLENGTH_BODY))
        assert r.header("transfer-encoding") is None
        assert r.header("content-type") == "application/octet-stream"
        assert r.body == WITHLENGTH_BODY
        assert r.keep_alive
        c.send(get("/cgi/withlength"))
        assert c.read_response(timeout=T).body == WITHLENGTH_BODY


@V
@pytest.mark.parametrize("script,status", [("withlength", 200), ("nolength", 200),
                                           ("status201", 201)])
def test_head_has_no_body(cgi_server, cgi_dir, script, status):
    """Spec §5: HEAD gets the head GET would get (keep-alive included: a GET
    of nolength is chunked and keeps the connection), without a body: no
    chunk is sent, though Transfer-Encoding says what a GET would get (RFC
    9112 §6.1 allows it; test_cgi_hostile compares the two heads)."""
    srv = cgi_server("--cgi", str(cgi_dir))
    with Conn.open(srv.port) as c:
        c.send(request("HEAD", f"/cgi/{script}"))
        h = c.read_response(head=True, timeout=T)
        assert h.status == status, h
        # (no assert_common_headers: a GET of nolength has no Content-Length)
        assert h.header("server") == "Liso/1.0"
        assert_date_now(h, h.sent_at, h.received_at)
        assert h.header("transfer-encoding") == \
            ("chunked" if script == "nolength" and not H2 else None), h
        if script == "withlength":
            assert h.header("content-length") == str(len(WITHLENGTH_BODY))
        assert h.keep_alive, h
        # any stray body byte would corrupt this next response
        c.send(get("/index.html"))
        r = c.read_response(timeout=T)
        assert r.status == 200 and b"hello" in r.body, r


# --------------------------------------------------------------------------
# request bodies
# --------------------------------------------------------------------------
def send_in_thread(conn, data_iter):
    """Send every piece from data_iter on conn from a thread; returns
    (thread, errors list). Over HTTP/2 (LISOD_CLIENT=h2) the pieces are
    queued on the connection instead, and go as it is read."""
    if hasattr(conn, "send_queued"):
        return conn.send_queued(data_iter)
    errors = []

    def run():
        try:
            for piece in data_iter:
                conn.sock.sendall(piece)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, errors


@V
def test_post_10mb_echo(cgi_server, cgi_dir):
    srv = cgi_server("--cgi", str(cgi_dir))
    rnd = random.Random(1234)
    body = rnd.randbytes(10 * 1024 * 1024)
    head = request("POST", "/cgi/echo", [f"Content-Length: {len(body)}",
                                         "Content-Type: application/octet-stream"])
    with Conn.open(srv.port, timeout=30 * SLOW) as c:
        pieces = [head] + [body[i:i + 256 * 1024] for i in range(0, len(body), 256 * 1024)]
        t, errors = send_in_thread(c, pieces)
        r = c.read_response(timeout=60 * SLOW)
        t.join(30 * SLOW)
        assert not t.is_alive() and not errors, errors
        assert r.status == 200, r
        assert r.header("content-length") == str(len(body))
        assert r.header("x-env-content-length") == str(len(body))
        assert len(r.body) == len(body)
        assert hashlib.sha256(r.body).hexdigest() == hashlib.sha256(body).hexdigest()
        # still usable
        c.send(get("/cgi/status201"))
        assert c.read_response(timeout=T).status == 201


@V
def test_chunked_request_body(cgi_server, cgi_dir):
    srv = cgi_server("--cgi", str(cgi_dir))
    rnd = random.Random(99)
    parts = [rnd.randbytes(n) for n in (1, 17, 4096, 70000, 3, 200000)]
    body = b"".join(parts)
    wire = b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in parts) + b"0\r\n\r\n"
    head = request("POST", "/cgi/echo", ["Transfer-Encoding: chunked",
                                         "Content-Type: application/octet-stream"])
    with Conn.open(srv.port) as c:
        # framing split at awkward places
        pieces = [head + wire[:5]] + [wire[i:i + 777] for i in range(5, len(wire), 777)]
        t, errors = send_in_thread(c, pieces)
        r = c.read_response(timeout=30 * SLOW)
        t.join(10 * SLOW)
        assert not errors, errors
        assert r.status == 200, r
        assert r.header("x-env-content-length") == "none", \
            "a chunked request must not get CONTENT_LENGTH (the program reads to EOF)"
        assert r.body == body
        c.send(get("/index.html"))
        assert c.read_response(timeout=T).status == 200


# --------------------------------------------------------------------------
# failures: each answered as the spec says while another client is served
# --------------------------------------------------------------------------
def run_failure(srv, cgi_dir, kind):
    """Run one failing CGI request; meanwhile a static GET on a second
    connection must be served. Asserts the outcome the spec requires."""
    port = srv.port
    log_before = len(srv.log())
    t0 = time.monotonic()
    pid_file = None
    if kind == "noread":
        body = b"z" * (1024 * 1024)
        data = [request("POST", "/cgi/noread", [f"Content-Length: {len(body)}"])] + \
            [body[i:i + 65536] for i in range(0, len(body), 65536)]
    elif kind == "timeout":
        tag = f"t{random.randrange(1 << 30)}"
        pid_file = cgi_dir / f"pid-{tag}"
        data = [get(f"/cgi/sleeper?{tag}")]
    else:
        data = [get(f"/cgi/{kind}")]
    c = Conn.open(port, timeout=T)
    try:
        t, errors = send_in_thread(c, data)
        if pid_file is not None:
            child = read_pid(pid_file)
        assert_static_served(port)
        if kind == "noread":
            # the program's answer, whole; then the unread body is drained
            # (the connection serves the next request) or the connection
            # closed — and the Connection header said which (spec §5)
            r = c.read_response(timeout=10 * SLOW)
            assert r.status == 200 and r.body == b"not reading\n", r
            t.join(10 * SLOW)
            assert not t.is_alive(), "client sender still blocked: the body was never drained"
            if r.keep_alive:
                try:
                    c.send(get("/index.html"))
                    nxt = c.read_response(timeout=T)
                except (OSError, HTTPParseError) as e:
                    raise AssertionError(f"answered Connection: keep-alive, then the "
                                         f"connection failed: {e!r}") from e
                assert nxt.status == 200 and b"hello" in nxt.body, nxt
            else:
                assert c.wait_closed(T), "Connection: close, but the connection stayed open"
            # the server is fine and answers the next one
            assert fetch(port, "/cgi/status201", timeout=T).status == 201
            return
        r = c.read_response(timeout=(4 if kind == "timeout" else 3) * SLOW + 0.5)
        elapsed = time.monotonic() - t0
        assert r.status == 500, f"{kind}: {r!r} {r.body[:200]!r}"
        assert_common_headers(r)
        if kind == "timeout":
            assert 1.5 < elapsed < 4 * SLOW + 0.5, f"500 after {elapsed:.2f}s"
            assert wait_for(lambda: gone(child), 3 * SLOW), \
                f"timed-out CGI pid {child} still there: {proc_stat(child)}"
        t.join(T)
        assert not errors, errors
    finally:
        c.close()
    def cgi_error_logged():
        return any("cgi" in line.lower() and "GET /cgi" not in line
                   for line in srv.log()[log_before:].splitlines())
    assert wait_for(cgi_error_logged, 2 * SLOW), \
        f"{kind}: no log line about the failed CGI:\n{srv.log()[log_before:]}"
    # the next CGI request works
    assert fetch(port, "/cgi/status201", timeout=T).status == 201


FAILURES = ["noread", "timeout", "segv", "exit1", "partial", "garbage", "noexec"]


@V
@pytest.mark.parametrize("kind", FAILURES)
def test_failure(cgi_server, cgi_dir, kind):
    srv = cgi_server("--cgi", str(cgi_dir), "--cgi-timeout", "2")
    base = baseline(srv)
    run_failure(srv, cgi_dir, kind)
    assert_settled(srv, base)


@V
def test_all_failures_then_clean(cgi_server, cgi_dir):
    """Every failure on one server, twice, in random order: afterwards no
    zombie and the descriptor count is back to its baseline."""
    srv = cgi_server("--cgi", str(cgi_dir), "--cgi-timeout", "2")
    base = baseline(srv)
    kinds = FAILURES * 2
    random.Random(7).shuffle(kinds)
    for kind in kinds:
        run_failure(srv, cgi_dir, kind)
    assert_settled(srv, base)
    assert not zombies(srv.pid)


@V
@pytest.mark.parametrize("how", ["deleted", "not-executable"])
def test_program_missing_or_not_executable(cgi_server, workdir, how):
    """A single-program --cgi that cannot be run when a request comes -> 500."""
    prog = workdir / "prog"
    shutil.copyfile(CGI_SRC / "status201", prog)
    prog.chmod(0o755)
    srv = cgi_server("--cgi", str(prog))
    base = baseline(srv, "/cgi/anything")
    if how == "deleted":
        prog.unlink()
    else:
        prog.chmod(0o644)
    for target in ("/cgi", "/cgi/x/y?z=1"):
        c = Conn.open(srv.port)
        try:
            c.send(get(target))
            assert_static_served(srv.port)
            r = c.read_response(timeout=T)
            assert r.status == 500, r
            assert_common_headers(r)
        finally:
            c.close()
    assert any("prog" in line for line in srv.log().splitlines()
               if "GET /cgi" not in line), srv.log()[-2000:]
    assert_settled(srv, base)


@V
def test_max_cgi_503(cgi_server, cgi_dir):
    srv = cgi_server("--cgi", str(cgi_dir), "--max-cgi", "1")
    base = baseline(srv)
    slow = Conn.open(srv.port)
    try:
        slow.send(get("/cgi/stream?id=m1&n=600&delay=0.05"))
        assert streaming(slow, b"\r\n\r\n") == 200
        child = read_pid(cgi_dir / "pid-m1")
        r = fetch(srv.port, "/cgi/status201", timeout=T)
        assert r.status == 503, r
        assert_common_headers(r)
        assert_static_served(srv.port)
    finally:
        slow.close()
    assert wait_for(lambda: gone(child), 5 * SLOW), proc_stat(child)
    # once the running one is gone, CGI works again
    assert wait_for(lambda: fetch(srv.port, "/cgi/status201", timeout=T).status == 201,
                    5 * SLOW)
    assert_settled(srv, base)


# --------------------------------------------------------------------------
# client disconnects
# --------------------------------------------------------------------------
@V
def test_client_disconnect_streaming(cgi_server, cgi_dir):
    srv = cgi_server("--cgi", str(cgi_dir))
    base = baseline(srv)
    for i in range(3):
        c = Conn.open(srv.port)
        c.send(get(f"/cgi/stream?id=d{i}&n=2000&delay=0.02"))
        assert streaming(c, b"tick 3\n") == 200
        child = read_pid(cgi_dir / f"pid-d{i}")
        assert proc_stat(child) is not None
        c.close()
        assert wait_for(lambda: gone(child), 3 * SLOW), \
            f"CGI pid {child} survived its client: {proc_stat(child)}"
        assert not zombies(srv.pid)
    assert_settled(srv, base)
    assert fetch(srv.port, "/cgi/status201", timeout=T).status == 201


@V
def test_client_disconnect_silent_program(cgi_server, cgi_dir):
    """A client that leaves while the program prints nothing: the program is
    killed and reaped at the latest at the CGI timeout."""
    srv = cgi_server("--cgi", str(cgi_dir), "--cgi-timeout", "3")
    base = baseline(srv)
    c = Conn.open(srv.port)
    c.send(get("/cgi/sleeper?silent1"))
    child = read_pid(cgi_dir / "pid-silent1")
    c.close()
    assert wait_for(lambda: gone(child), 3 * SLOW + 3), \
        f"CGI pid {child} outlived its client and the CGI timeout: {proc_stat(child)}"
    assert_settled(srv, base)


# --------------------------------------------------------------------------
# programs that outlive their response; graceful stop
# --------------------------------------------------------------------------
@V
def test_program_outliving_response_killed(cgi_server, cgi_dir):
    """`detach` answers, closes its output and sleeps 30 s: the client gets
    its response at once, and the process is killed and reaped at the CGI
    timeout, not left running."""
    srv = cgi_server("--cgi", str(cgi_dir), "--cgi-timeout", "2")
    base = baseline(srv)
    with Conn.open(srv.port) as c:
        t0 = time.monotonic()
        c.send(get("/cgi/detach?o1"))
        r = c.read_response(timeout=T)
        assert r.status == 200 and r.body == b"detached\n", r
        assert time.monotonic() - t0 < 1.5 * SLOW, "response waited for the process to exit"
        c.send(get("/index.html"))
        assert c.read_response(timeout=T).status == 200
    child = read_pid(cgi_dir / "pid-o1")
    assert wait_for(lambda: gone(child), 2 * SLOW + 4), \
        f"CGI pid {child} outlived the CGI timeout: {proc_stat(child)}"
    assert_settled(srv, base)


@V
@pytest.mark.parametrize("running", ["detached", "streaming", "both"])
def test_sigterm_with_cgi_children(cgi_server, cgi_dir, running):
    """Spec §1: SIGTERM stops gracefully, kills CGI children, exits 0 —
    also while a program outlives its response or is still streaming."""
    srv = cgi_server("--cgi", str(cgi_dir), "--shutdown-timeout", "2")
    pids = []
    conns = []
    try:
        if running in ("detached", "both"):
            r = fetch(srv.port, "/cgi/detach?g1", timeout=T)
            assert r.status == 200, r
            pids.append(read_pid(cgi_dir / "pid-g1"))
        if running in ("streaming", "both"):
            c = Conn.open(srv.port)
            conns.append(c)
            c.send(get("/cgi/stream?id=g2&n=2000&delay=0.02"))
            assert streaming(c, b"tick 1\n") == 200
            pids.append(read_pid(cgi_dir / "pid-g2"))
        assert all(not gone(p) for p in pids)
        code = srv.stop()
        log = srv.log()
        assert code == 0, f"lisod exited with {code} on SIGTERM; stderr:\n{srv.stderr()[-3000:]}" \
                          f"\nlog tail:\n{log[-1500:]}"
    finally:
        for c in conns:
            c.close()
    for p in pids:
        assert wait_for(lambda: gone(p), 3 * SLOW), f"CGI pid {p} survived the server"


# --------------------------------------------------------------------------
# random-disconnect stress
# --------------------------------------------------------------------------
@pytest.mark.slow
@http1_only("raw sockets that cut HTTP/1.1 requests and answers at random bytes")
def test_random_disconnect_stress(cgi_server, cgi_dir):
    srv = cgi_server("--cgi", str(cgi_dir), "--cgi-timeout", "5")
    base = baseline(srv)
    port = srv.port
    rnd = random.Random(20240601)
    big = rnd.randbytes(300 * 1024)
    plans = []
    for i in range(100):
        action = rnd.choice(["head-partial", "after-request", "mid-response", "mid-body",
                             "complete", "complete-post", "reset"])
        target = rnd.choice(["/cgi/stream?id=s%d&n=200&delay=0.01" % i, "/cgi/echo",
                             "/cgi/nolength", "/cgi/withlength", "/cgi/status201",
                             "/cgi/sleeper?s%d" % i, "/cgi/noread"])
        plans.append((i, action, target, rnd.random()))
    errors = []

    def answer(target, body):
        """(status, body) a complete request to `target` must get."""
        if target.startswith("/cgi/stream"):
            return 200, b"".join(b"tick %d\n" % k for k in range(200))
        if target.startswith("/cgi/sleeper"):
            return 500, None                  # silent past --cgi-timeout 5
        return {"/cgi/echo": (200, body), "/cgi/nolength": (200, NOLENGTH_BODY),
                "/cgi/withlength": (200, WITHLENGTH_BODY),
                "/cgi/status201": (201, b"created\n")}[target]

    def one(i, action, target, frac):
        s = socket.create_connection(("127.0.0.1", port), timeout=5 * SLOW)
        # A complete request whose body the program reads (or that has none)
        # must be answered in full: a reset or a wrong answer is an error.
        # (A program that leaves a body unread may get its connection closed
        # under the client's feet: those outcomes are not judged here.)
        judged = action == "complete" and target != "/cgi/noread"
        try:
            body = None
            if action in ("mid-body", "complete-post") or target in ("/cgi/echo", "/cgi/noread"):
                body = big[:int(len(big) * frac) + 1]
                req = request("POST", target, [f"Content-Length: {len(body)}"], body)
            else:
                req = get(target)
            if judged:
                c = Conn(s)
                t, send_errors = send_in_thread(c, [req])
                r = c.read_response(timeout=10 * SLOW)
                t.join(5 * SLOW)
                want_status, want_body = answer(target, body)
                if r.status != want_status or (want_body is not None and r.body != want_body) \
                        or send_errors:
                    errors.append((i, action, target, r, r.body[:100], send_errors))
                return
            if action == "head-partial":
                s.sendall(req[:max(1, int(len(req.split(b'\r\n\r\n')[0]) * frac))])
                time.sleep(frac * 0.2)
                return
            if action == "mid-body":
                s.sendall(req[:max(1, int(len(req) * frac))])
                time.sleep(frac * 0.2)
                return
            if action == "reset":
                s.sendall(req)
                time.sleep(frac * 0.3)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            s.sendall(req)
            if action == "after-request":
                time.sleep(frac * 0.1)
                return
            got, deadline = 0, time.monotonic() + (1 if action == "mid-response" else 8) * SLOW
            limit = int(frac * 4000) if action == "mid-response" else 1 << 30
            while got < limit and time.monotonic() < deadline:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    d = s.recv(65536)
                except (socket.timeout, OSError):
                    break
                if not d:
                    break
                got += len(d)
        except Exception as e:                    # noqa: BLE001
            if judged or not isinstance(e, OSError):
                errors.append((i, action, target, e))
            # else: an aborting client, which the server may cut off
        finally:
            s.close()

    # ~100 connections over ~10 s, up to 10 at a time
    t_end = time.monotonic() + 60 * SLOW
    threads = []
    for k, plan in enumerate(plans):
        while sum(t.is_alive() for t in threads) >= 10 and time.monotonic() < t_end:
            time.sleep(0.01)
        th = threading.Thread(target=one, args=plan, daemon=True)
        th.start()
        threads.append(th)
        time.sleep(0.1)
    for th in threads:
        th.join(max(0.1, t_end - time.monotonic()))
    assert not any(th.is_alive() for th in threads), "stress clients did not finish"
    assert not errors, errors[:5]
    assert srv.proc.poll() is None, "lisod died under the stress"
    # sleepers die at the CGI timeout (5 s) at the latest
    assert_settled(srv, base, timeout=15 * SLOW)
    assert not zombies(srv.pid)
    r = fetch(port, "/cgi/status201", timeout=T)
    assert r.status == 201 and r.body == b"created\n"
    with Conn.open(port) as c:
        c.send(request("POST", "/cgi/echo", ["Content-Length: 5"], b"hello"))
        r = c.read_response(timeout=T)
        assert r.status == 200 and r.body == b"hello"
    assert_settled(srv, base)
