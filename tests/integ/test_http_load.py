"""Load and random-fault stress over plain HTTP (spec §6)."""
import os
import random
import re
import resource
import socket
import struct
import subprocess
import time

import pytest

from httputil import Conn, INDEX_BODY, get, make_docroot, raw_exchange

pytestmark = pytest.mark.slow

SMALL_LEN = 1024


def _raise_nofile(want=8192):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, want)) if hard != resource.RLIM_INFINITY else max(soft, want)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@pytest.fixture
def srv(start_server, workdir):
    nofile = _raise_nofile()
    assert nofile >= 2000, f"RLIMIT_NOFILE {nofile}: these tests need 2000 descriptors " \
                           "(raise the hard limit: ulimit -Hn)"
    www = make_docroot(workdir)
    assert (www / "small.html").stat().st_size == SMALL_LEN
    return start_server()


def _alive_and_serving(srv):
    assert srv.proc.poll() is None, f"lisod died: {srv.stderr()[-2000:]}"
    r = raw_exchange(srv.port, get("/index.html"), timeout=5)[0]
    assert r.status == 200 and r.body == INDEX_BODY


def test_ab_keepalive_800(srv):
    p = subprocess.run(["timeout", "120", "ab", "-k", "-c", "800", "-n", "100000", "-s", "30",
                        f"http://127.0.0.1:{srv.port}/small.html"],
                       capture_output=True, text=True, timeout=150)
    out = p.stdout
    assert p.returncode == 0, f"ab failed ({p.returncode}):\n{out[-3000:]}\n{p.stderr[-2000:]}"
    assert re.search(r"^Complete requests:\s+100000$", out, re.M), out
    assert re.search(r"^Failed requests:\s+0$", out, re.M), out
    m = re.search(r"^Non-2xx responses:\s+(\d+)$", out, re.M)
    assert m is None or m.group(1) == "0", out
    m = re.search(r"^Document Length:\s+(\d+) bytes$", out, re.M)
    assert m and int(m.group(1)) == SMALL_LEN, out
    m = re.search(r"^Keep-Alive requests:\s+(\d+)$", out, re.M)
    assert m and int(m.group(1)) >= 99000, "keep-alive was not honoured"
    _alive_and_serving(srv)


def _rst(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def test_random_disconnect_stress_800(srv):
    """Rounds of 800 concurrent connections that send full, partial or
    garbage requests and then close, reset or read; ~20 s bounded."""
    rng = random.Random(0x115D)
    full = get("/small.html")
    deadline = time.monotonic() + 20
    rounds = ok = conns = 0
    while time.monotonic() < deadline and rounds < 60:
        rounds += 1
        socks = []
        for _ in range(800):
            if time.monotonic() > deadline + 5:
                break
            try:
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            except OSError:
                continue
            s.setblocking(False)
            socks.append(s)
            conns += 1
        plan = []
        for s in socks:
            action = rng.choice(["full", "full", "partial", "garbage", "pipeline", "idle"])
            if action == "full":
                data = full
            elif action == "pipeline":
                data = full * rng.randint(2, 5)
            elif action == "partial":
                data = full[:rng.randint(1, len(full) - 1)]
            elif action == "garbage":
                data = os.urandom(rng.randint(1, 4096))
            else:
                data = b""
            try:
                if data:
                    s.send(data)
            except OSError:
                pass
            plan.append((s, action))
        # read from some of the complete ones, then close or reset everyone
        for s, action in plan:
            end = rng.choice(["read", "close", "rst"]) if action in ("full", "pipeline") \
                else rng.choice(["close", "rst"])
            if end == "read" and time.monotonic() < deadline + 10:
                s.setblocking(True)
                c = Conn(s)
                try:
                    r = c.read_response(timeout=5)
                    assert r.status == 200 and len(r.body) == SMALL_LEN, r
                    ok += 1
                except (OSError, socket.timeout) as e:
                    raise AssertionError(f"round {rounds}: complete request not answered: {e!r}")
                s.close()
            elif end == "rst":
                _rst(s)
            else:
                s.close()
        assert srv.proc.poll() is None, f"lisod died in round {rounds}: {srv.stderr()[-2000:]}"
    assert rounds >= 1 and ok > 0 and conns >= 800
    print(f"stress: {rounds} rounds, {conns} connections, {ok} responses checked")
    _alive_and_serving(srv)


def test_many_idle_connections_do_not_block_others(srv):
    """800 connections that sent nothing, plus 800 with half a request:
    a normal client is still served promptly."""
    socks = []
    try:
        for i in range(1600):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            if i % 2:
                s.sendall(b"GET /index.html HTTP/1.1\r\nHo")
            socks.append(s)
        t0 = time.monotonic()
        _alive_and_serving(srv)
        assert time.monotonic() - t0 < 0.5, "a GET took long among 1600 idle connections"
    finally:
        for s in socks:
            _rst(s)
    _alive_and_serving(srv)


def test_pipeline_flood_without_reading(srv):
    """A client that pipelines megabytes of requests and never reads must not
    stop the server from serving others (back-pressure, spec §3)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.setblocking(False)
    sent = 0
    blob = get("/small.html") * 512
    t_end = time.monotonic() + 3
    try:
        while time.monotonic() < t_end and sent < 64 * 1024 * 1024:
            try:
                sent += s.send(blob)
            except BlockingIOError:
                time.sleep(0.01)   # kernel buffers full; keep pushing until t_end
            except OSError:
                break
        _alive_and_serving(srv)
    finally:
        _rst(s)
    print(f"pipeline flood: {sent} bytes accepted")
    # sent must have been bounded by the server's back-pressure, not our cap
    assert sent < 64 * 1024 * 1024
    rss_kb = int(re.search(r"^VmRSS:\s+(\d+) kB", open(f"/proc/{srv.pid}/status").read(),
                           re.M).group(1)) if not os.environ.get("LISOD_VALGRIND") else 0
    assert rss_kb < 256 * 1024, f"server RSS {rss_kb} kB after a pipeline flood"
    _alive_and_serving(srv)
