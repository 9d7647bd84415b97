"""HTTPS (spec §4, with the TLS parts of §1): the second listener speaks
TLS 1.2/1.3 only, ALPN http/1.1, resumes sessions, treats everything of §3
the same over TLS, survives garbage and stalled handshakes, makes a
self-signed certificate when none is given and reloads key/certificate on
SIGHUP without dropping connections.

Certificates are made once per session with the openssl CLI (tlsutil).
"""
import hashlib
import http.client
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

import test_http_status
from conftest import command, free_port, wait_port
from httputil import (H2, INDEX_BODY, Conn, age, assert_common_headers, assert_date_now, get,
                      http_date, make_docroot, parse_http_date, raw_exchange, request,
                      wait_for)
from tlsutil import (CURL, VALGRIND, cert_serial, client_context,
                     client_hello_bytes, der_subject, make_cert, read_until_eof, s_client,
                     tls_connector, tls_socket)

pytestmark = pytest.mark.valgrind

SLOW = 10 if VALGRIND else 1          # timeout multiplier
T = 5.0 * SLOW                        # default response timeout
HTTP_REQ_CLOSE = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def file_body(i):
    return f"file number {i}\n".encode() * i


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """RSA-2048 and ECDSA P-256 key+cert for localhost, plus a second RSA pair
    with a known, different serial (for the SIGHUP reload)."""
    d = tmp_path_factory.mktemp("tls-certs")
    return {
        "rsa": make_cert(d, "rsa", "rsa", serial=0x1A2B3C01),
        "ec": make_cert(d, "ec", "ec", serial=0x1A2B3C02),
        "rsa_b": make_cert(d, "rsa_b", "rsa", serial=0x5EC0DB02),
    }


class TLSServer:
    def __init__(self, srv, port, pair):
        self.srv = srv
        self.port = port            # HTTPS port
        self.http_port = srv.port
        self.pair = pair

    def ctx(self, **kw):
        if self.pair is None:
            return client_context(verify=False, **kw)
        return client_context(self.pair.cert, **kw)

    def connect(self, **kw):
        return tls_connector(self.ctx(**kw))

    def conn(self, **kw):
        if H2 and not kw:
            # LISOD_CLIENT=h2: the HTTP/1.1 suites' HTTPS requests go as
            # streams of an ALPN h2 connection (httputil, h2util).
            from h2util import H2Http1Conn
            return H2Http1Conn(self.port, T, tls=True)
        return Conn(tls_socket(self.port, self.ctx(**kw)))


@pytest.fixture
def start_tls(start_server, workdir):
    """start_tls(pair_or_None, *extra) -> TLSServer with workdir/www docroot."""
    def start(pair, *extra):
        make_docroot(workdir)
        port = free_port()
        args = ["--https-port", str(port)]
        if pair is not None:
            args += ["--key", str(pair.key), "--cert", str(pair.cert)]
        srv = start_server(*args, *extra)
        # start_server waited for the HTTP port; the HTTPS socket's listen()
        # comes just after it, so a very slow (valgrind) start can still
        # refuse a connection there for a moment.
        wait_port(port, srv.proc, timeout=30 * SLOW)
        return TLSServer(srv, port, pair)
    return start


def check_served(ts, ctx=None):
    """A fresh verified HTTPS GET works."""
    conn = tls_connector(ctx or ts.ctx())
    r = raw_exchange(ts.port, get("/f1.txt"), connect=conn, timeout=T)[0]
    assert r.status == 200 and r.body == file_body(1), r


# --------------------------------------------------------------------------
# basic methods, verification, curl, openssl s_client
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_get_head_post_verified(start_tls, certs, kind):
    pair = certs[kind]
    ts = start_tls(pair)
    with ts.conn() as c:
        s = c.sock
        assert s.version() == "TLSv1.3"
        assert s.selected_alpn_protocol() == "http/1.1"
        assert s.getpeercert(binary_form=True) == pair.der
        c.send(get("/index.html"))
        g = c.read_response(timeout=T)
        assert g.status == 200 and g.body == INDEX_BODY, g
        assert_common_headers(g)
        assert g.header("content-type", "").startswith("text/html")
        assert g.keep_alive
        c.send(request("HEAD", "/index.html"))
        h = c.read_response(head=True, timeout=T)
        assert h.status == 200 and h.body == b""
        assert h.header("content-length") == str(len(INDEX_BODY))
        for k in ("content-type", "last-modified", "etag", "content-length"):
            assert h.header(k) == g.header(k), (k, h, g)
        body = b"a=1&b=" + b"x" * 5000
        c.send(request("POST", "/index.html", [f"Content-Length: {len(body)}",
                                                 "Content-Type: application/x-www-form-urlencoded"],
                       body))
        p = c.read_response(timeout=T)
        assert p.status == 200 and p.body == INDEX_BODY, p
        # a HEAD followed by a GET on the same connection: no stray body bytes
        c.send(get("/f2.txt"))
        assert c.read_response(timeout=T).body == file_body(2)

    # the standard library's HTTPS client, verifying host name by IP SAN
    hc = http.client.HTTPSConnection("127.0.0.1", ts.port, timeout=T, context=ts.ctx())
    try:
        hc.request("GET", "/f3.txt")
        resp = hc.getresponse()
        assert resp.status == 200 and resp.read() == file_body(3)
        assert resp.getheader("Server") == "Liso/1.0"
    finally:
        hc.close()

    # verification is real: trusting another certificate fails the handshake
    other = certs["ec" if kind == "rsa" else "rsa"]
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_socket(ts.port, client_context(other.cert)).close()


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_curl_cacert(start_tls, certs, kind):
    pair = certs[kind]
    ts = start_tls(pair)
    # HTTP/1.1 asked for: this test is about verification and keep-alive over
    # TLS (curl would take h2 by ALPN otherwise, as checked at the end).
    base = ["--max-time", str(int(30 * SLOW)), "-sS", "--cacert", str(pair.cert),
            "--resolve", f"localhost:{ts.port}:127.0.0.1", "--http1.1"]
    url = f"https://localhost:{ts.port}"
    p = subprocess.run([CURL, *base, "-o", "-", "-w", "\n%{http_code} %{http_version}",
                        f"{url}/index.html", f"{url}/f4.txt"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SLOW)
    assert p.returncode == 0, p.stderr
    assert p.stdout == INDEX_BODY + b"\n200 1.1" + file_body(4) + b"\n200 1.1", p.stdout
    # left to choose, curl takes h2 by ALPN: the same bytes
    p = subprocess.run([CURL, *base[:-1], "-o", "-", "-w", "\n%{http_code} %{http_version}",
                        f"{url}/index.html", f"{url}/f4.txt"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SLOW)
    assert p.returncode == 0, p.stderr
    assert p.stdout == INDEX_BODY + b"\n200 2" + file_body(4) + b"\n200 2", p.stdout
    # two URLs on one connection: curl reuses it (keep-alive over TLS)
    p = subprocess.run([CURL, *base, "-v", "-o", "/dev/null", f"{url}/f1.txt", f"{url}/f2.txt"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SLOW)
    assert p.returncode == 0, p.stderr
    assert b"Re-using existing connection" in p.stderr or b"Reusing existing" in p.stderr, \
        p.stderr[-2000:]
    assert b"ALPN: server accepted http/1.1" in p.stderr or \
        b"ALPN, server accepted to use http/1.1" in p.stderr, p.stderr[-2000:]
    # POST and HEAD
    p = subprocess.run([CURL, *base, "-o", "-", "-w", "\n%{http_code}", "--data-binary", "hello",
                        f"{url}/f1.txt"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60 * SLOW)
    assert p.returncode == 0 and p.stdout == file_body(1) + b"\n200", (p.stdout, p.stderr)
    p = subprocess.run([CURL, *base, "-I", f"{url}/f1.txt"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60 * SLOW)
    assert p.returncode == 0 and p.stdout.startswith(b"HTTP/1.1 200"), p.stdout
    assert f"content-length: {len(file_body(1))}".encode() in p.stdout.lower()
    # curl without the CA refuses the self-signed certificate
    p = subprocess.run([CURL, "--max-time", str(int(30 * SLOW)), "-sS",
                        "--resolve", f"localhost:{ts.port}:127.0.0.1", f"{url}/f1.txt"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SLOW)
    assert p.returncode == 60, (p.returncode, p.stderr)   # peer certificate cannot be verified


@pytest.mark.parametrize("version_flag,expected", [(None, "TLSv1.3"), ("-tls1_2", "TLSv1.2")])
def test_s_client_alpn_and_version(start_tls, certs, version_flag, expected):
    ts = start_tls(certs["rsa"])
    args = ["-alpn", "http/1.1", "-CAfile", str(certs["rsa"].cert), "-ign_eof"]
    if version_flag:
        args.append(version_flag)
    rc, out = s_client(ts.port, *args, stdin=HTTP_REQ_CLOSE)
    assert rc == 0, out
    assert "ALPN protocol: http/1.1" in out, out
    assert re.search(r"Protocol\s*:\s*" + re.escape(expected) + r"\b", out), out
    assert re.search(r"^New, " + re.escape(expected) + r", Cipher is ", out, re.M), out
    assert "Verify return code: 0 (ok)" in out, out
    assert "HTTP/1.1 200 OK" in out and INDEX_BODY.decode() in out, out


def test_s_client_without_alpn_still_served(start_tls, certs):
    """ALPN is optional: a client offering none is served HTTP/1.1; one offering
    only h2 gets h2 (test_h2.py speaks it), or, with --http2 no, no ALPN and
    HTTP/1.1."""
    ts = start_tls(certs["ec"])
    rc, out = s_client(ts.port, "-ign_eof", stdin=HTTP_REQ_CLOSE)
    assert rc == 0 and "No ALPN negotiated" in out and "HTTP/1.1 200 OK" in out, out
    ctx = client_context(certs["ec"].cert, alpn=False)
    ctx.set_alpn_protocols(["h2"])
    with tls_socket(ts.port, ctx) as s:
        assert s.selected_alpn_protocol() == "h2"
    ts.srv.stop()
    ts = start_tls(certs["ec"], "--http2", "no")
    with tls_socket(ts.port, ctx) as s:
        assert s.selected_alpn_protocol() is None
    r = raw_exchange(ts.port, get("/f1.txt"), connect=tls_connector(ctx), timeout=T)[0]
    assert r.status == 200 and r.body == file_body(1)


@pytest.mark.parametrize("flag", ["-tls1", "-tls1_1"])
def test_old_tls_versions_refused(start_tls, certs, flag):
    ts = start_tls(certs["rsa"])
    # SECLEVEL=0 so the local client is willing to offer TLS 1.0/1.1 at all:
    # the refusal must come from the server (alert 70, protocol_version).
    rc, out = s_client(ts.port, flag, "-cipher", "DEFAULT:@SECLEVEL=0", stdin=b"")
    assert rc != 0, out
    assert "Cipher is (NONE)" in out, out
    assert "alert protocol version" in out or "SSL alert number 70" in out, out
    assert "no protocols available" not in out, "the client refused, not the server:\n" + out
    # and the same from Python
    ctx = client_context(verify=False)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        tls_socket(ts.port, ctx).close()
    check_served(ts)


# --------------------------------------------------------------------------
# §3 over TLS: pipelining, status codes, large bodies
# --------------------------------------------------------------------------
def test_pipelining_then_connection_close(start_tls, certs):
    ts = start_tls(certs["rsa"])
    sock = tls_socket(ts.port, ts.ctx(), suppress_ragged_eofs=False)
    with Conn(sock) as c:
        c.send(b"".join(get(f"/f{i}.txt") for i in range(1, 6)))     # one TLS write
        resps = c.read_responses(5, timeout=T)
        for i, r in enumerate(resps, 1):
            assert r.status == 200 and r.body == file_body(i), (i, r)
            assert r.keep_alive, r
            assert_common_headers(r)
        # still open: a second batch, with a HEAD in the middle
        c.send(get("/f6.txt") + request("HEAD", "/f1.txt") + get("/index.html"))
        r6, rh, ri = c.read_responses(3, [False, True, False], timeout=T)
        assert r6.body == file_body(6) and rh.status == 200 and rh.body == b""
        assert ri.body == INDEX_BODY
        assert c.is_open(0.3)
        c.send(get("/f2.txt", "Connection: close"))
        last = c.read_response(timeout=T)
        assert last.status == 200 and last.body == file_body(2)
        assert (last.header("connection") or "").lower() == "close", last
        assert c.buf == b""
        closed, extra, how = read_until_eof(sock, 3.0 * SLOW)
        assert closed and extra == b"", (closed, extra, how)
        # suppress_ragged_eofs=False: b'' means the server sent close_notify
        assert how in ("eof", "close_notify"), f"no clean TLS shutdown: {how}"


# The plain-HTTP status table, imported as is: if it moves or changes shape
# this module fails to import (never a silent fallback to a smaller table).
_PLAIN = {c[0]: c for c in test_http_status.CASES}
# the cases run one per server over TLS (the whole table also runs on one server)
STATUS_CASES = [_PLAIN[k] for k in (
    "404", "400-bare-lf", "501-brew", "505-http2", "414-request-line-9000",
    "431-header-line-9000", "411-post-without-length", "400-missing-host-1.1",
    "400-cl-and-te", "400-duplicate-equal-cl", "200-absolute-form")]


def test_dates_after_idle_over_tls(start_tls, certs, workdir):
    """Time-derived headers over TLS, asked after IDLE seconds of idleness:
    Date is the current second (200, HEAD, 304, 404), Last-Modified is the
    file's mtime (IDLE seconds in the past)."""
    ts = start_tls(certs["ec"])
    mtime = int((workdir / "www" / "index.html").stat().st_mtime)
    age()
    with ts.conn() as c:
        for method, target, headers, status in [
                ("GET", "/index.html", [], 200), ("HEAD", "/index.html", [], 200),
                ("GET", "/index.html", ["If-Modified-Since: " + http_date(mtime)], 304),
                ("GET", "/missing.html", [], 404)]:
            before = time.time()
            c.send(request(method, target, headers))
            r = c.read_response(head=method == "HEAD", timeout=T)
            assert_date_now(r, before, time.time())
            assert r.status == status, (method, target, r)
            if status != 404:
                assert parse_http_date(r.header("last-modified")).timestamp() == mtime, r


def _check_status_case(ts, case):
    name, req, expected, keep_open, _args = case
    head = req.startswith(b"HEAD ")
    resps, conn = raw_exchange(ts.port, req, 1, [head], connect=ts.connect(), timeout=T,
                               keep=True)
    with conn:
        resp = resps[0]
        assert resp.status == expected, f"{name}: {req[:100]!r} -> {resp!r}"
        assert resp.version == "HTTP/1.1"
        assert_common_headers(resp)
        if resp.status >= 400:
            assert int(resp.header("content-length")) == len(resp.body) > 0
            assert b"TOP-SECRET" not in resp.body
        said_keep = resp.keep_alive
        if keep_open is True:
            assert said_keep, f"{name}: expected keep-alive: {resp!r}"
        elif keep_open is False:
            assert not said_keep, f"{name}: expected Connection: close: {resp!r}"
        if said_keep:
            conn.send(get("/f1.txt"))
            nxt = conn.read_response(timeout=T)
            assert nxt.status == 200 and nxt.body == file_body(1), f"{name}: follow-up {nxt!r}"
        else:
            assert conn.wait_closed(3.0 * SLOW), f"{name}: said close but stayed open"


@pytest.mark.parametrize("case", STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_status_codes_over_tls(start_tls, certs, case):
    ts = start_tls(certs["ec"], *case[4])
    _check_status_case(ts, case)


def test_whole_plain_status_table_over_tls(start_tls, certs):
    """Every case of the plain-HTTP status table that needs no extra server
    option, on one HTTPS server: §3 behaves identically over TLS."""
    ts = start_tls(certs["rsa"])
    failures = []
    for case in _PLAIN.values():
        if case[4]:
            continue
        try:
            _check_status_case(ts, case)
        except Exception as e:          # collect, report all at once
            failures.append(f"{case[0]}: {type(e).__name__}: {str(e)[:300]}")
    assert not failures, "\n".join(failures)
    check_served(ts)


def test_large_file_byte_exact(start_tls, certs, workdir):
    ts = start_tls(certs["ec"])
    data = os.urandom(6 * 1024 * 1024 + 512 * 1024)          # 6.5 MiB
    (workdir / "www" / "big.bin").write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    with ts.conn() as c:
        c.send(get("/big.bin"))
        r = c.read_response(timeout=60 * SLOW)
        assert r.status == 200 and int(r.header("content-length")) == len(data)
        assert r.header("content-type") == "application/octet-stream"
        assert hashlib.sha256(r.body).hexdigest() == want
        # keep-alive survives a large body; a range at the tail is exact too
        c.send(get("/big.bin", "Range: bytes=-1000"))
        r = c.read_response(timeout=T)
        assert r.status == 206 and r.body == data[-1000:]
    # the same while the client reads in small pieces with pauses, so the
    # server's socket fills up (the SSL_write WANT_WRITE path)
    with ts.conn() as c:
        c.send(get("/big.bin", "Connection: close"))
        h = hashlib.sha256()
        got = 0
        head = b""
        deadline = time.monotonic() + 60 * SLOW
        while b"\r\n\r\n" not in head:
            assert time.monotonic() < deadline
            c.sock.settimeout(T)
            chunk = c.sock.recv(4096)
            assert chunk
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200")
        h.update(rest)
        got += len(rest)
        for i in range(100000):
            if got >= len(data):
                break
            assert time.monotonic() < deadline, "slow read of big.bin took too long"
            if i % 32 == 0:
                time.sleep(0.01)
            chunk = c.sock.recv(4096)
            assert chunk, f"closed after {got} of {len(data)} bytes"
            h.update(chunk)
            got += len(chunk)
        assert got == len(data) and h.hexdigest() == want


# --------------------------------------------------------------------------
# session resumption
# --------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["-tls1_2", "-tls1_3"])
def test_session_resumption_s_client(start_tls, certs, workdir, flag):
    ts = start_tls(certs["rsa"])
    sess = workdir / f"sess{flag}.pem"
    # The TLS 1.3 ticket arrives after the handshake: send a request and read
    # to the end of the response (-ign_eof, Connection: close) to receive it.
    rc, out = s_client(ts.port, flag, "-ign_eof", "-sess_out", str(sess), stdin=HTTP_REQ_CLOSE)
    assert rc == 0 and re.search(r"^New, TLSv1\.[23]", out, re.M), out
    assert "HTTP/1.1 200 OK" in out
    assert sess.exists() and sess.stat().st_size > 0, "no session saved:\n" + out
    rc, out = s_client(ts.port, flag, "-ign_eof", "-sess_in", str(sess), stdin=HTTP_REQ_CLOSE)
    want = "TLSv1.2" if flag == "-tls1_2" else "TLSv1.3"
    assert rc == 0, out
    assert re.search(r"^Reused, " + re.escape(want), out, re.M), out
    assert "HTTP/1.1 200 OK" in out


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
def test_session_resumption_python(start_tls, certs, version):
    # several workers: a session from one must resume on any other
    ts = start_tls(certs["ec"], "--workers", "4")
    ctx = ts.ctx(min_version=version, max_version=version)
    with Conn(tls_socket(ts.port, ctx)) as c:
        c.send(get("/f1.txt"))
        assert c.read_response(timeout=T).status == 200   # 1.3: ticket read by now
        session = c.sock.session
        assert not c.sock.session_reused
    assert session is not None
    if version == ssl.TLSVersion.TLSv1_3:
        assert session.has_ticket, "no TLS 1.3 session ticket received"
    for i in range(8):
        with Conn(tls_socket(ts.port, ctx, session=session)) as c:
            assert c.sock.session_reused, f"session not resumed ({version.name}, try {i})"
            assert c.sock.version() == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]
            c.send(get("/f2.txt"))
            r = c.read_response(timeout=T)
            assert r.status == 200 and r.body == file_body(2)
            session = c.sock.session


# --------------------------------------------------------------------------
# certificates at startup
# --------------------------------------------------------------------------
def test_self_signed_default(start_tls):
    ts = start_tls(None)
    assert wait_for(lambda: "self-signed" in ts.srv.log(), 5 * SLOW), ts.srv.log()
    with ts.conn() as c:                     # not verifying
        der = c.sock.getpeercert(binary_form=True)
        c.send(get("/"))
        r = c.read_response(timeout=T)
        assert r.status == 200 and r.body == INDEX_BODY
    assert "CN = localhost" in der_subject(der) or "CN=localhost" in der_subject(der)
    # verifying against nothing fails: it is self-signed, not from a public CA
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_socket(ts.port, client_context(cafile=None)).close()


def _run_lisod_directly(workdir, *args, timeout=10, as_nobody=False):
    make_docroot(workdir)
    if as_nobody and os.geteuid() == 0:
        os.chmod(workdir, 0o777)  # the unprivileged server must reach its files
    cmd = command(["--http-port", str(free_port()), "--https-port", str(free_port()),
                   "--root", str(workdir / "www"), *args], as_nobody=as_nobody)
    # subprocess.run kills the child (by its pid) if it does not exit in time
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout * SLOW)


def test_mismatched_key_and_cert_refused(workdir, certs):
    p = _run_lisod_directly(workdir, "--key", str(certs["rsa_b"].key),
                            "--cert", str(certs["rsa"].cert))
    err = p.stderr.decode(errors="replace")
    assert p.returncode != 0, err
    assert "does not match" in err or "mismatch" in err.lower(), err
    assert str(certs["rsa_b"].key) in err or str(certs["rsa"].cert) in err, err
    # RSA key with an ECDSA certificate: also refused
    p = _run_lisod_directly(workdir, "--key", str(certs["rsa"].key),
                            "--cert", str(certs["ec"].cert))
    assert p.returncode != 0 and p.stderr.strip(), p.stderr


@pytest.mark.parametrize("what", ["missing-key", "key-is-dir", "garbage-key", "missing-cert",
                                  "unreadable-key"])
def test_unusable_key_or_cert_refused(workdir, certs, what):
    key, cert = str(certs["rsa"].key), str(certs["rsa"].cert)
    if what == "missing-key":
        key = str(workdir / "nope.key")
    elif what == "key-is-dir":
        key = str(workdir)
    elif what == "garbage-key":
        (workdir / "garbage.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n")
        key = str(workdir / "garbage.key")
    elif what == "missing-cert":
        cert = str(workdir / "nope.crt")
    elif what == "unreadable-key":
        # As root the server runs as nobody here, so that mode 000 counts.
        shutil.copy(certs["rsa"].key, workdir / "locked.key")
        (workdir / "locked.key").chmod(0)
        key = str(workdir / "locked.key")
    p = _run_lisod_directly(workdir, "--key", key, "--cert", cert,
                            as_nobody=what == "unreadable-key")
    err = p.stderr.decode(errors="replace")
    assert p.returncode != 0, err
    assert err.strip(), "no message on stderr"
    assert (key if "key" in what else cert) in err, f"message does not name the file:\n{err}"


# --------------------------------------------------------------------------
# garbage, stalls
# --------------------------------------------------------------------------
@pytest.mark.parametrize("payload", ["plain-http", "random-1k", "bad-record"])
def test_garbage_on_https_port_closes_only_that_connection(start_tls, certs, payload):
    ts = start_tls(certs["rsa"], "--workers", "1")      # all on one event loop
    data = {
        "plain-http": b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "random-1k": b"\x00" + os.urandom(1023),     # never a valid record header
        # a complete handshake record whose content is nonsense
        "bad-record": b"\x16\x03\x01\x03\xfb" + b"\xee" + os.urandom(1018),
    }[payload]
    established = ts.conn()                    # a client in the middle of its session
    established.send(get("/f1.txt"))
    assert established.read_response(timeout=T).body == file_body(1)
    with socket.create_connection(("127.0.0.1", ts.port), timeout=T) as bad:
        bad.sendall(data)
        # a concurrent new HTTPS client is served while the bad one is open
        check_served(ts)
        closed, got, how = read_until_eof(bad, 5.0 * SLOW)
        assert closed, f"server kept the connection open ({how})"
        assert b"HTTP/" not in got, got[:200]
        # at most a TLS alert record (content type 21) before the close
        assert got == b"" or got[:1] == b"\x15", got[:50]
    with established:
        established.send(get("/f3.txt"))
        assert established.read_response(timeout=T).body == file_body(3)
    check_served(ts)
    # the plain HTTP port is unaffected too
    assert raw_exchange(ts.http_port, get("/f1.txt"), timeout=T)[0].body == file_body(1)


def test_stalled_handshake_times_out(start_tls, certs):
    # one worker: the stalled handshakes and the other clients share a loop.
    # Under valgrind a real client's handshake alone can take a second, so
    # the deadline there is 4 s: otherwise the well-behaved clients below
    # would be timed out too (correctly), and the test would judge nothing.
    tls_timeout = 4 if VALGRIND else 1
    ts = start_tls(certs["rsa"], "--tls-timeout", str(tls_timeout), "--workers", "1")
    hello = client_hello_bytes()
    stalled = []
    partial = socket.create_connection(("127.0.0.1", ts.port), timeout=T)
    partial.sendall(hello[: len(hello) // 2])        # half a ClientHello
    stalled.append(partial)
    stalled.append(socket.create_connection(("127.0.0.1", ts.port), timeout=T))   # nothing
    t0 = time.monotonic()
    results = {"ok": 0, "errors": [], "first_done": None}

    def clients():
        ctx = ts.ctx()
        for i in range(100):
            try:
                with Conn(tls_socket(ts.port, ctx)) as c:
                    c.send(get(f"/f{i % 6 + 1}.txt", "Connection: close"))
                    r = c.read_response(timeout=T)
                    if r.status == 200 and r.body == file_body(i % 6 + 1):
                        results["ok"] += 1
                        if results["first_done"] is None:
                            results["first_done"] = time.monotonic() - t0
                    else:
                        results["errors"].append(repr(r))
            except Exception as e:
                results["errors"].append(f"{type(e).__name__}: {e}")

    th = threading.Thread(target=clients, daemon=True)
    th.start()
    try:
        for s in stalled:
            closed, got, how = read_until_eof(s, 4.0 * SLOW)
            elapsed = time.monotonic() - t0
            assert closed, f"stalled handshake not timed out after {elapsed:.1f}s"
            assert elapsed >= tls_timeout / 2, \
                f"closed too early ({elapsed:.2f}s < --tls-timeout {tls_timeout})"
            if not VALGRIND:
                assert elapsed <= 3.5, elapsed
            assert b"HTTP/" not in got
    finally:
        for s in stalled:
            s.close()
        th.join(120 * SLOW)
    assert not th.is_alive()
    assert results["ok"] == 100, results["errors"][:5]
    if not VALGRIND:
        # served at once, not after the stalled handshakes timed out
        assert results["first_done"] < 0.9, results["first_done"]


def test_stalled_after_handshake_is_not_a_handshake_timeout(start_tls, certs):
    """--tls-timeout bounds the handshake only: a completed TLS connection that
    is idle between requests is not cut after 1 s."""
    ts = start_tls(certs["rsa"], "--tls-timeout", "1")
    with ts.conn() as c:
        c.send(get("/f1.txt"))
        assert c.read_response(timeout=T).status == 200
        time.sleep(2.0)
        c.send(get("/f2.txt"))
        r = c.read_response(timeout=T)
        assert r.status == 200 and r.body == file_body(2)


# --------------------------------------------------------------------------
# SIGHUP reload
# --------------------------------------------------------------------------
def _peer_der(ts):
    with tls_socket(ts.port, client_context(verify=False)) as s:
        return s.getpeercert(binary_form=True)


def _all_peers_are(ts, der, n=12):
    """n new connections (spread over the workers) all see `der`."""
    return all(_peer_der(ts) == der for _ in range(n))


def test_sighup_swaps_certificate(start_tls, certs, workdir):
    a, b = certs["rsa"], certs["rsa_b"]
    assert cert_serial(a.cert) != cert_serial(b.cert)
    tdir = workdir / "tls"
    tdir.mkdir()
    key, crt = tdir / "server.key", tdir / "server.crt"
    shutil.copyfile(a.key, key)
    shutil.copyfile(a.cert, crt)
    pair = type(a)("live", key, crt, "rsa")
    ts = start_tls(pair)
    assert _peer_der(ts) == a.der
    old = Conn(tls_socket(ts.port, client_context(a.cert)))
    with old:
        old.send(get("/f1.txt"))
        assert old.read_response(timeout=T).body == file_body(1)

        shutil.copyfile(b.key, key)
        shutil.copyfile(b.cert, crt)
        os.kill(ts.srv.pid, signal.SIGHUP)
        assert wait_for(lambda: _all_peers_are(ts, b.der), 5 * SLOW), "new cert not served"
        assert cert_serial(der=_peer_der(ts)) == cert_serial(b.cert)
        # verified against B now, and A no longer verifies
        check_served(ts, client_context(b.cert))
        with pytest.raises(ssl.SSLCertVerificationError):
            tls_socket(ts.port, client_context(a.cert)).close()
        # the connection opened before the reload keeps working
        old.send(get("/f2.txt"))
        r = old.read_response(timeout=T)
        assert r.status == 200 and r.body == file_body(2), r
        assert old.sock.getpeercert(binary_form=True) == a.der
        assert wait_for(lambda: "reloaded" in ts.srv.log(), 3 * SLOW), ts.srv.log()

        # a broken key: the reload fails, B stays, the log says why
        before = ts.srv.log()
        key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        os.kill(ts.srv.pid, signal.SIGHUP)
        assert wait_for(lambda: len(ts.srv.log()) > len(before)
                        and "fail" in ts.srv.log()[len(before):].lower(), 5 * SLOW), \
            ts.srv.log()[-2000:]
        new_lines = ts.srv.log()[len(before):]
        assert str(key) in new_lines, f"the log does not name the bad key:\n{new_lines}"
        assert _all_peers_are(ts, b.der)
        check_served(ts, client_context(b.cert))
        old.send(get("/f3.txt"))
        assert old.read_response(timeout=T).body == file_body(3)

        # a mismatched pair (key A, cert B) is refused the same way
        before = ts.srv.log()
        shutil.copyfile(a.key, key)
        os.kill(ts.srv.pid, signal.SIGHUP)
        assert wait_for(lambda: "match" in ts.srv.log()[len(before):], 5 * SLOW), \
            ts.srv.log()[-2000:]
        assert _all_peers_are(ts, b.der)

        # and a good pair after the failures is picked up again
        shutil.copyfile(a.cert, crt)
        os.kill(ts.srv.pid, signal.SIGHUP)
        assert wait_for(lambda: _all_peers_are(ts, a.der), 5 * SLOW)
        old.send(get("/f4.txt"))
        assert old.read_response(timeout=T).body == file_body(4)
    assert ts.srv.proc.poll() is None


def test_sighup_to_ecdsa(start_tls, certs, workdir):
    """An RSA server reloaded with an ECDSA key and certificate."""
    tdir = workdir / "tls"
    tdir.mkdir()
    key, crt = tdir / "server.key", tdir / "server.crt"
    shutil.copyfile(certs["rsa"].key, key)
    shutil.copyfile(certs["rsa"].cert, crt)
    ts = start_tls(type(certs["rsa"])("live", key, crt, "rsa"))
    shutil.copyfile(certs["ec"].key, key)
    shutil.copyfile(certs["ec"].cert, crt)
    os.kill(ts.srv.pid, signal.SIGHUP)
    assert wait_for(lambda: _all_peers_are(ts, certs["ec"].der), 5 * SLOW)
    check_served(ts, client_context(certs["ec"].cert))


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
def test_session_resumption_after_sighup(start_tls, certs, version):
    """After a reload, a session issued by the server can still be resumed on
    any later connection (with several workers the connections land on
    different workers: each must accept the others' tickets)."""
    ts = start_tls(certs["rsa"], "--workers", "4")
    os.kill(ts.srv.pid, signal.SIGHUP)
    assert wait_for(lambda: ts.srv.log().count("reloaded") >= 4, 5 * SLOW), ts.srv.log()
    ctx = ts.ctx(min_version=version, max_version=version)
    with Conn(tls_socket(ts.port, ctx)) as c:
        c.send(get("/f1.txt"))
        assert c.read_response(timeout=T).status == 200
        session = c.sock.session
    reused = []
    for _ in range(12):
        with Conn(tls_socket(ts.port, ctx, session=session)) as c:
            reused.append(c.sock.session_reused)
            c.send(get("/f1.txt"))
            assert c.read_response(timeout=T).status == 200
    assert all(reused), f"resumed {sum(reused)} of {len(reused)} after SIGHUP"


# --------------------------------------------------------------------------
# stress
# --------------------------------------------------------------------------
def _process_tree(pid):
    """pid and its children (the master and its workers)."""
    pids = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                pids += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            pass                        # a thread that just ended
    return pids


def _socket_count(pid):
    """Open sockets of lisod, its workers included (cached files are
    legitimately kept open by the file cache, so only sockets are counted).
    The server must be running: an unreadable /proc is an error, not a
    reason to skip the leak check."""
    total = 0
    for p in _process_tree(pid):
        for fd in os.listdir(f"/proc/{p}/fd"):
            try:
                if os.readlink(f"/proc/{p}/fd/{fd}").startswith("socket:"):
                    total += 1
            except FileNotFoundError:
                pass                    # closed while we looked
    return total


@pytest.mark.slow
def test_random_disconnect_stress(start_tls, certs, workdir):
    ts = start_tls(certs["rsa"])
    big = os.urandom(1024 * 1024)
    (workdir / "www" / "big.bin").write_bytes(big)
    check_served(ts)
    time.sleep(0.3)                  # let the server finish closing that one
    base_socks = _socket_count(ts.srv.pid)
    hello = client_hello_bytes()
    ctx = ts.ctx()
    stats = {"ok": 0, "errors": []}
    lock = threading.Lock()

    def rst(s):
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        s.close()

    def one(rng):
        action = rng.randrange(9)
        end = rst if rng.random() < 0.5 else (lambda s: s.close())
        if action == 0:                       # connect and go away
            end(socket.create_connection(("127.0.0.1", ts.port), timeout=T))
        elif action == 1:                     # part of a ClientHello
            s = socket.create_connection(("127.0.0.1", ts.port), timeout=T)
            s.sendall(hello[: rng.randrange(1, len(hello))])
            time.sleep(rng.random() * 0.3)
            end(s)
        elif action == 2:                     # handshake, then nothing
            end(tls_socket(ts.port, ctx))
        elif action == 3:                     # partial request
            s = tls_socket(ts.port, ctx)
            req = get("/f1.txt")
            s.sendall(req[: rng.randrange(1, len(req))])
            time.sleep(rng.random() * 0.3)
            end(s)
        elif action == 4:                     # big response, leave in the middle
            s = tls_socket(ts.port, ctx)
            s.sendall(get("/big.bin"))
            s.recv(rng.randrange(1, 65536))
            end(s)
        elif action == 5:                     # pipelined requests, never read
            s = tls_socket(ts.port, ctx)
            s.sendall(get("/big.bin") * 3)
            time.sleep(rng.random() * 0.3)
            end(s)
        elif action == 6:                     # a full ClientHello and then RST
            s = socket.create_connection(("127.0.0.1", ts.port), timeout=T)
            s.sendall(hello)
            rst(s)
        else:                                 # a normal client, must be served
            try:
                with Conn(tls_socket(ts.port, ctx)) as c:
                    i = rng.randrange(1, 7)
                    c.send(get(f"/f{i}.txt"))
                    r = c.read_response(timeout=T)
                    assert r.status == 200 and r.body == file_body(i), r
                    if rng.random() < 0.5:
                        c.send(get("/big.bin"))
                        r = c.read_response(timeout=T)
                        assert r.body == big
            except OSError as e:              # a reset is only ours to cause
                raise AssertionError(f"normal client cut off: {e!r}") from e
            with lock:
                stats["ok"] += 1

    def worker(seed, n):
        rng = random.Random(seed)
        for _ in range(n):
            try:
                one(rng)
            except (AssertionError, ssl.SSLError, socket.timeout) as e:
                with lock:
                    stats["errors"].append(f"{type(e).__name__}: {str(e)[:200]}")
            except OSError:
                pass                          # an aborting client's own reset racing the server
            time.sleep(rng.random() * 0.2)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(1000 + k, 25), daemon=True)
               for k in range(8)]                              # 200 connections
    for th in threads:
        th.start()
    for th in threads:
        th.join(300 * SLOW)
    assert not any(th.is_alive() for th in threads)
    assert ts.srv.proc.poll() is None, "lisod died under the stress"
    assert not stats["errors"], stats["errors"][:10]
    assert stats["ok"] > 0
    check_served(ts)
    r = raw_exchange(ts.port, get("/big.bin"), connect=ts.connect(), timeout=30 * SLOW)[0]
    assert r.body == big
    # every aborted connection is released (no socket leak)
    assert wait_for(lambda: _socket_count(ts.srv.pid) <= base_socks, 10 * SLOW), \
        (base_socks, _socket_count(ts.srv.pid))
    assert time.monotonic() - t0 < 120 * SLOW
