"""Hostile CGI programs and the clients of CGI requests (spec §5, §6; issue 10
defects 1-4, 6, 8-11, 13, 22).

The table runs each misbehaving program over HTTP and over HTTPS with a
second request pipelined behind it, while another client keeps fetching a
static file (its answers must keep coming promptly), and checks exactly what
the client of the bad request sees: the status, the framing, the body bytes,
and whether the pipelined request gets its own answer. After the table, the
server must be back to its baseline: no child left, no descriptor leaked;
the ASan and valgrind runs of this file check memory.

The programs live in tests/integ/cgi/ (see each one's comment).
"""
import hashlib
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from httputil import (SLOW, Conn, fetch, get, make_docroot, parse_http_date, request,
                      tcp_connect, wait_for)
from test_cgi import (assert_settled, baseline, cgi_dir, cgi_server, children, gone,  # noqa: F401
                      read_pid)
from test_https import certs, start_tls  # noqa: F401  (fixtures)
from tlsutil import CURL

pytestmark = pytest.mark.valgrind

T = 5.0 * SLOW
SMALL = b"file number 1\n"          # make_docroot's /f1.txt
NEXT = get("/f1.txt")               # the request pipelined behind each case


def smuggling_body(size):
    """A body of `size` bytes whose end is a complete request: if the server
    ever parses unread body bytes as a request, a third answer appears."""
    tail = get("/f2.txt?smuggled")
    return b"a" * (size - len(tail)) + tail


def chunked(body, piece=4096):
    out = b"".join(b"%x\r\n" % len(body[i:i + piece]) + body[i:i + piece] + b"\r\n"
                   for i in range(0, len(body), piece))
    return out + b"0\r\n\r\n"


@dataclass
class Case:
    name: str
    program: str
    send: list                      # [(delay_s, bytes)]: the bad request, as sent
    status: int
    body: bytes = None              # exact body, when the answer is complete
    partial: bytes = None           # the answer is cut: these body bytes, then EOF
    keep: bool = True               # the pipelined request is answered after it
    log: str = None                 # a line of the error log must contain this
    no_headers: tuple = ()          # header fields the answer must not carry
    args: tuple = field(default=())


def post(program, body, extra=()):
    return request("POST", f"/cgi/{program}", [f"Content-Length: {len(body)}", *extra], body)


def post_chunked(program, body):
    return request("POST", f"/cgi/{program}", ["Transfer-Encoding: chunked"], chunked(body))


CASES = [
    # defect 1: an unread body is drained, never parsed as a request
    Case("unread-body-70k", "noread_answer", [(0, post("noread_answer", smuggling_body(70000)))],
         200, body=b"not reading\n"),
    Case("unread-body-200k", "noread_answer",
         [(0, post("noread_answer", smuggling_body(200000)))], 200, body=b"not reading\n"),
    Case("unread-chunked-body", "noread_answer",
         [(0, post_chunked("noread_answer", smuggling_body(90000)))], 200,
         body=b"not reading\n"),
    # defect 22: answered before the body arrived; keep-alive is kept
    Case("answer-before-body", "noread_quick",
         [(0, request("POST", "/cgi/noread_quick", ["Content-Length: 3000"])),
          (0.15, b"b" * 3000)], 200, body=b"quick answer\n"),
    # defect 3: a stderr flood neither freezes the worker nor fills the log
    Case("stderr-flood", "stderr_flood", [(0, get("/cgi/stderr_flood"))], 500,
         log="more bytes of stderr not logged"),
    # defect 2: a descendant in its own session holds the pipes after exit
    Case("descendant-holds-pipes", "holder", [(0, get("/cgi/holder"))], 200,
         partial=b"0123456789", keep=False),
    # defect 4: the program's framing is enforced both ways
    Case("more-than-content-length", "lie_long", [(0, get("/cgi/lie_long"))], 200,
         body=b"hello", keep=False, log="sent more than its Content-Length"),
    Case("less-than-content-length", "lie_short", [(0, get("/cgi/lie_short"))], 200,
         partial=b"hello", keep=False, log="sent 5 of its 100 body bytes"),
    Case("204-with-body", "status204", [(0, get("/cgi/status204"))], 204, body=b"",
         no_headers=("content-length", "transfer-encoding"),
         log="sent a body with a status that has none"),
    Case("304-with-body", "status304", [(0, get("/cgi/status304"))], 304, body=b"",
         no_headers=("content-length", "transfer-encoding")),
    # failures before a header: 500, and the connection goes on
    Case("exits-silently", "exit0", [(0, get("/cgi/exit0"))], 500,
         log="no valid header section"),
    Case("crashes", "segv", [(0, get("/cgi/segv"))], 500, log="killed by signal 11"),
    Case("never-answers", "sleeper", [(0, get("/cgi/sleeper?hostile"))], 500,
         log="made no progress"),
]


class Target:
    """A server and how to reach it (plain TCP or TLS)."""

    def __init__(self, srv, port, connect, scheme):
        self.srv, self.port, self.connect, self.scheme = srv, port, connect, scheme

    def conn(self, timeout=T):
        return Conn.open(self.port, self.connect, timeout)


@pytest.fixture(params=["http", "https"])
def target(request, start_tls, certs, cgi_dir):  # noqa: F811
    ts = start_tls(certs["rsa"], "--cgi", str(cgi_dir), "--cgi-timeout", "2")
    srv = ts.srv
    yield (Target(srv, srv.port, tcp_connect, "http") if request.param == "http"
           else Target(srv, ts.port, ts.connect(), "https"))
    if srv.proc.poll() is None:
        wait_for(lambda: not children(srv.pid), 10 * SLOW)


class Bystander:
    """Another client: fetches a static file in a loop on its own
    connections; every answer must be right and arrive promptly."""

    def __init__(self, target):
        self.target = target
        self.worst = 0.0
        self.count = 0
        self.errors = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                with self.target.conn() as c:
                    c.send(get("/index.html"))
                    r = c.read_response(timeout=T)
                    assert r.status == 200 and b"index page" in r.body, r
            except Exception as e:  # noqa: BLE001  (reported by finish())
                self.errors.append(repr(e))
                return
            self.worst = max(self.worst, time.monotonic() - t0)
            self.count += 1
            time.sleep(0.05)

    def finish(self):
        self.stop.set()
        self.thread.join(T)
        assert not self.errors, self.errors[:3]
        assert self.count > 0, "the other client got no answer at all"
        assert self.worst < 1.0 * SLOW, f"another client waited {self.worst:.2f}s for an answer"


def assert_head(r):
    """Server and Date once each, a Connection field; the framing is the
    case's to check (chunked, none for 204/304)."""
    assert r.header_all("server") == ["Liso/1.0"], r
    assert len(r.header_all("date")) == 1, r
    parse_http_date(r.header("date"))
    assert r.header("connection") in ("keep-alive", "close"), r


def read_cut_answer(c, timeout):
    """Read one answer whose body the server cuts short: its head, then the
    body bytes until EOF. Returns (response head, body bytes)."""
    deadline = time.monotonic() + timeout
    raw = c._read_until(b"\r\n\r\n", deadline)
    while c._fill(deadline):
        pass
    body, c.buf = c.buf, b""
    return raw, body


def run_case(target, case):
    log_before = len(target.srv.log())
    with target.conn(timeout=10 * SLOW) as c:
        for delay, data in case.send:
            time.sleep(delay)
            c.send(data)
        c.send(NEXT)
        if case.partial is not None:
            raw, body = read_cut_answer(c, 10 * SLOW)
            assert raw.startswith(b"HTTP/1.1 %d " % case.status), raw
            assert body == case.partial, f"{case.name}: body {body[:80]!r}"
            assert c.eof
        else:
            r = c.read_response(timeout=10 * SLOW)
            assert r.status == case.status, f"{case.name}: {r!r} {r.body[:200]!r}"
            assert_head(r)
            if case.body is not None:
                assert r.body == case.body, f"{case.name}: body {r.body[:80]!r}"
            for name in case.no_headers:
                assert r.header(name) is None, f"{case.name}: {name} in {r!r}"
            if case.keep:
                assert r.keep_alive, f"{case.name}: {r!r}"
                n = c.read_response(timeout=T)
                assert n.status == 200 and n.body == SMALL, f"{case.name}: next {n!r}"
                # and nothing else: no answer to bytes of the body
                assert c.is_open(0.3), f"{case.name}: extra bytes {c.buf[:100]!r}"
            else:
                assert not r.keep_alive or c.wait_closed(T), f"{case.name}: {r!r}"
                assert c.wait_closed(T), f"{case.name}: connection left open"
    if case.log:
        assert wait_for(lambda: case.log in target.srv.log()[log_before:], 3 * SLOW), \
            f"{case.name}: no log line with {case.log!r}:\n{target.srv.log()[log_before:][-2000:]}"
    assert "smuggled" not in target.srv.log(), "a body byte was answered as a request"


def test_hostile_programs(target):
    # the static files the cases use are in the open-file cache before the
    # baseline is taken (a cached file holds a descriptor)
    for path in ("/f1.txt", "/f2.txt"):
        assert fetch(target.srv.port, path, timeout=T).status == 200
    base = baseline(target.srv)
    for case in CASES:
        bystander = Bystander(target)
        try:
            run_case(target, case)
        finally:
            bystander.finish()
    assert_settled(target.srv, base, timeout=10 * SLOW)


def test_stderr_flood_log_is_bounded(cgi_server, cgi_dir):  # noqa: F811
    """The flood is cut at the per-program line cap plus one summary line,
    and the program is killed at the CGI timeout (it makes no progress)."""
    srv = cgi_server("--cgi", str(cgi_dir), "--cgi-timeout", "1")
    r = fetch(srv.port, "/cgi/stderr_flood", timeout=T)
    assert r.status == 500
    assert wait_for(lambda: "more bytes of stderr not logged" in srv.log(), 3 * SLOW)
    lines = [line for line in srv.log().splitlines() if "stderr flood line" in line]
    assert 1 <= len(lines) <= 100, len(lines)
    assert wait_for(lambda: not children(srv.pid), 3 * SLOW)


# --------------------------------------------------------------------------
# time: progress, not total run time (defect 11)
# --------------------------------------------------------------------------
def bigstream_body(mib):
    n = mib * 1024 * 1024
    out, line = [], 0
    size = 0
    while size < n:
        block = b"".join(b"%09d" % (line + k) + b"." * 54 + b"\n" for k in range(1024))
        line += 1024
        out.append(block[:n - size])
        size += len(out[-1])
    return b"".join(out)


def test_steady_reader_of_long_answer_not_cut(target):
    """--cgi-timeout 2, an answer that takes ~4 s to read at ~1.5 MiB/s:
    every byte arrives (the timeout counts stalls, not the whole run)."""
    want = bigstream_body(6)
    with target.conn(timeout=10 * SLOW) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        c.send(get("/cgi/bigstream?6"))
        raw = c._read_until(b"\r\n\r\n", time.monotonic() + T)
        assert raw.startswith(b"HTTP/1.1 200 "), raw
        got = bytearray(c.buf)
        c.buf = b""
        t0 = time.monotonic()
        while len(got) < len(want):
            c.sock.settimeout(5 * SLOW)
            chunk = c.sock.recv(64 * 1024)
            assert chunk, f"cut off after {len(got)} of {len(want)} bytes"
            got += chunk
            time.sleep(len(chunk) / (1.5 * 1024 * 1024))
        elapsed = time.monotonic() - t0
        assert hashlib.sha256(got).digest() == hashlib.sha256(want).digest()
        assert elapsed > 2.5, f"read too fast ({elapsed:.1f}s) to prove anything"


def test_total_cap_stops_a_program_that_always_progresses(cgi_server, cgi_dir):  # noqa: F811
    """--cgi-max-time 2: a program printing a line every 0.1 s is killed at
    about 2 s; its chunked answer is cut (no last chunk), never completed."""
    srv = cgi_server("--cgi", str(cgi_dir), "--cgi-timeout", "1", "--cgi-max-time", "2")
    with Conn.open(srv.port, timeout=10 * SLOW) as c:
        t0 = time.monotonic()
        c.send(get("/cgi/trickle?cap1"))
        raw, body = read_cut_answer(c, 10 * SLOW)
        elapsed = time.monotonic() - t0
        assert raw.startswith(b"HTTP/1.1 200 ") and b"chunked" in raw, raw
        assert b"tick" in body and not body.endswith(b"0\r\n\r\n"), body[-40:]
        assert 1.8 < elapsed < 2 * SLOW + 1.5, elapsed
    child = read_pid(cgi_dir / "pid-cap1")
    assert wait_for(lambda: gone(child), 3 * SLOW)
    assert wait_for(lambda: "total CGI time cap" in srv.log(), 3 * SLOW)


# --------------------------------------------------------------------------
# clients that leave (defect 10)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["close", "reset"])
def test_client_leaving_stops_program_at_once(cgi_server, cgi_dir, how):  # noqa: F811
    """A client that leaves a silent CGI GET: the program is killed within
    a second (not at the 10 s CGI timeout), its --max-cgi slot is free at
    once, and no 500 is logged for it."""
    srv = cgi_server("--cgi", str(cgi_dir), "--cgi-timeout", "10", "--max-cgi", "1")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=T)
    s.sendall(get(f"/cgi/sleeper?leave{how}"))
    child = read_pid(cgi_dir / f"pid-leave{how}")
    if how == "reset":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    s.close()
    t0 = time.monotonic()
    assert wait_for(lambda: gone(child), 5 * SLOW), proc_state(child)
    assert time.monotonic() - t0 < 1.0 * SLOW
    r = fetch(srv.port, "/cgi/status201", timeout=T)
    assert r.status == 201, r
    time.sleep(1.2)  # the access log is flushed once a second
    assert " 500 " not in srv.log(), srv.log()[-1500:]


def proc_state(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None


# --------------------------------------------------------------------------
# HEAD gets GET's head (defect 4)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("program,version", [("nolength", "HTTP/1.1"), ("withlength", "HTTP/1.1"),
                                             ("status201", "HTTP/1.1"), ("status204", "HTTP/1.1"),
                                             ("nolength", "HTTP/1.0")])
def test_head_gets_the_head_of_get(cgi_server, cgi_dir, program, version):  # noqa: F811
    srv = cgi_server("--cgi", str(cgi_dir))

    def head_of(method):
        with Conn.open(srv.port) as c:
            hdrs = ["Connection: keep-alive"] if version == "HTTP/1.0" else []
            c.send(request(method, f"/cgi/{program}", hdrs, version=version))
            r = c.read_response(head=method == "HEAD", timeout=T)
            if method == "HEAD":
                if r.keep_alive:
                    assert c.is_open(0.3), "a HEAD answer was followed by bytes"
                else:
                    assert c.wait_closed(T)
            return r
    g, h = head_of("GET"), head_of("HEAD")
    assert h.status == g.status and h.body == b""
    strip = [(k.lower(), v) for k, v in g.header_list if k.lower() != "date"]
    assert [(k.lower(), v) for k, v in h.header_list if k.lower() != "date"] == strip


# --------------------------------------------------------------------------
# request bodies of CGI requests (defects 6, 9, 13)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("head_size", [16384, 16383, 16385, 32768])
def test_head_filling_the_input_block_still_gets_its_body(cgi_server, cgi_dir, head_size):  # noqa: F811
    srv = cgi_server("--cgi", str(cgi_dir))
    body = os.urandom(5000)
    # padding fields of at most 4000 bytes each (a line may have 8192)
    fields = [f"Content-Length: {len(body)}"]
    while True:
        short = head_size - len(request("POST", "/cgi/echo", fields))
        if short <= 4000 + 9:
            break
        fields.append("X-Pad: " + "p" * 4000)
    fields.append("X-Pad: " + "p" * (short - 9))
    head = request("POST", "/cgi/echo", fields)
    assert len(head) == head_size
    with Conn.open(srv.port) as c:
        c.send(head + body)
        r = c.read_response(timeout=T)
        assert r.status == 200 and r.body == body, r


@pytest.mark.parametrize("wire,status,log", [
    (b"7d0\r\n" + b"x" * 2000 + b"\r\n0\r\n\r\n", 413, "over the 1000-byte limit"),
    (b"zz\r\nabc\r\n0\r\n\r\n", 400, "chunk size does not start with a hex digit"),
    (b"3\r\nabcX\r\n0\r\n\r\n", 400, "chunk data not followed by CRLF"),
])
def test_chunked_body_errors_to_cgi(cgi_server, cgi_dir, wire, status, log):  # noqa: F811
    srv = cgi_server("--cgi", str(cgi_dir), "--max-body", "1000")
    with Conn.open(srv.port) as c:
        c.send(request("POST", "/cgi/echo", ["Transfer-Encoding: chunked"]) + wire)
        r = c.read_response(timeout=T)
        assert r.status == status, r
        assert r.header("connection") == "close"
        assert c.wait_closed(T)
    assert wait_for(lambda: log in srv.log(), 2 * SLOW), srv.log()[-2000:]
    assert "no valid header section" not in srv.log()
    assert wait_for(lambda: not children(srv.pid), 3 * SLOW)


def test_expect_continue_for_cgi(cgi_server, cgi_dir):  # noqa: F811
    srv = cgi_server("--cgi", str(cgi_dir))
    body = b"k" * 2048
    with Conn.open(srv.port) as c:
        c.send(request("POST", "/cgi/echo", [f"Content-Length: {len(body)}",
                                            "Expect: 100-continue"]))
        interim = c.read_response(timeout=1.0 * SLOW, skip_interim=False)
        assert interim.status == 100, interim
        c.send(body)
        r = c.read_response(timeout=T)
        assert r.status == 200 and r.body == body, r


def test_expect_continue_cgi_with_curl(cgi_server, cgi_dir, workdir):  # noqa: F811
    srv = cgi_server("--cgi", str(cgi_dir))
    data = workdir / "2k"
    data.write_bytes(b"c" * 2048)
    t0 = time.monotonic()
    out = subprocess.run([CURL, "-sS", "--max-time", "10", "-H", "Expect: 100-continue",
                          "--data-binary", f"@{data}", f"http://127.0.0.1:{srv.port}/cgi/echo"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20, check=True)
    assert out.stdout == b"c" * 2048
    assert time.monotonic() - t0 < 0.9 * SLOW, "curl waited for a 100 Continue that never came"


# --------------------------------------------------------------------------
# routing on the normalised path (defect 8)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("target_path", ["/cgi/status201", "/%63gi/status201", "//cgi/status201",
                                         "/./cgi/status201", "/x/../cgi/status201",
                                         "/cgi%2fstatus201", "/cgi/./status201"])
def test_cgi_directory_inside_root_runs_never_serves_source(start_server, workdir, target_path):
    www = make_docroot(workdir)
    cgi = www / "cgi"
    cgi.mkdir()
    src = (Path(__file__).resolve().parent / "cgi" / "status201").read_bytes()
    (cgi / "status201").write_bytes(src)
    (cgi / "status201").chmod(0o755)
    srv = start_server("--cgi", str(cgi))
    r = fetch(srv.port, target_path, timeout=T)
    assert r.status == 201 and r.body == b"created\n", r
    assert b"#!/bin/sh" not in r.body


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("how", ["close", "reset"])
def test_client_leaving_mid_body_stops_program_at_once(cgi_server, cgi_dir, framing, how):  # noqa: F811
    """A client that leaves with its body incomplete: the program (which
    waits for the rest) is gone within a second, not at the CGI timeout,
    and its --max-cgi slot is free (found by the soak)."""
    srv = cgi_server("--cgi", str(cgi_dir), "--cgi-timeout", "10", "--max-cgi", "1")
    base = baseline(srv)
    if framing == "content-length":
        head = request("POST", "/cgi/echo", ["Content-Length: 100"]) + b"a" * 10
    else:
        head = request("POST", "/cgi/echo", ["Transfer-Encoding: chunked"]) + b"a\r\n0123456789\r\n"
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=T)
    s.sendall(head)
    assert wait_for(lambda: children(srv.pid), 3 * SLOW), "the program never started"
    time.sleep(0.1)
    if how == "reset":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    s.close()
    t0 = time.monotonic()
    assert wait_for(lambda: not children(srv.pid), 5 * SLOW), children(srv.pid)
    assert time.monotonic() - t0 < 1.0 * SLOW
    assert fetch(srv.port, "/cgi/status201", timeout=T).status == 201
    assert_settled(srv, base)
