"""Behind a load balancer (issue 12 item 6-7): the PROXY protocol v1 and v2
(plain and TLS; trusted sources only; the carried address in the access log
and CGI's REMOTE_ADDR), the health path (200, then 503 during
--drain-delay while still serving), the status page (text and JSON, per
worker, allowed networks only), and HAProxy in front of two instances
restarted one after the other while a client runs: no failed request, and
the access logs name the client, not HAProxy."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import free_port, wait_port
from httputil import SLOW, Conn, fetch, get, make_docroot, raw_exchange, request, wait_for
from test_cgi import cgi_dir  # noqa: F401  (fixture)
from test_https import certs, start_tls  # noqa: F401  (fixtures)
from tlsutil import client_context

V = pytest.mark.valgrind  # every test but the HAProxy one (timing under valgrind)

T = 5.0 * SLOW
SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, sport, dst="127.0.0.1", dport=80):
    fam = "TCP6" if ":" in src else "TCP4"
    return f"PROXY {fam} {src} {dst} {sport} {dport}\r\n".encode()


def v2(src, sport, dst="198.51.100.2", dport=443, command=0x21):
    a = socket.inet_aton(src) + socket.inet_aton(dst)
    return SIG + bytes([command, 0x11, 0, 12]) + a + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")


def v2_local():
    return SIG + bytes([0x20, 0x00, 0, 0])


def env_of(resp):
    doc = json.loads(resp.body)
    return dict(doc["env"])


@pytest.fixture
def proxied(start_server, workdir, cgi_dir):  # noqa: F811
    make_docroot(workdir)
    return start_server("--proxy-protocol", "127.0.0.1/32,::1", "--cgi", str(cgi_dir),
                        "--access-log", str(workdir / "access.log"))


@V
@pytest.mark.parametrize("header", ["v1", "v2"])
def test_proxy_header_carries_the_client(proxied, workdir, header):
    hdr = v1("203.0.113.7", 40000) if header == "v1" else v2("203.0.113.7", 40000)
    with Conn.open(proxied.port) as c:
        c.send(hdr + request("GET", "/cgi/env_nph/x", ["User-Agent: proxied-" + header]))
        r = c.read_response(timeout=T)
        assert r.status == 200, r
        env = env_of(r)
        assert env["REMOTE_ADDR"] == "203.0.113.7" and env["REMOTE_PORT"] == "40000", env
    log = workdir / "access.log"
    assert wait_for(lambda: log.exists() and f"proxied-{header}" in log.read_text(), 3 * SLOW)
    line = [x for x in log.read_text().splitlines() if f"proxied-{header}" in x][0]
    assert line.startswith("203.0.113.7 - - ["), line


@V
def test_proxy_header_v1_ipv6_and_split(proxied, workdir):
    hdr = v1("2001:db8::5", 1234, dst="2001:db8::1")
    with Conn.open(proxied.port) as c:
        for b in hdr:                           # a byte at a time
            c.send(bytes([b]))
            time.sleep(0.001)
        c.send(request("GET", "/cgi/env_nph", []))
        env = env_of(c.read_response(timeout=T))
        assert env["REMOTE_ADDR"] == "2001:db8::5" and env["REMOTE_PORT"] == "1234"


@V
def test_proxy_local_keeps_own_address(proxied):
    with Conn.open(proxied.port) as c:
        c.send(v2_local() + request("GET", "/cgi/env_nph", []))
        env = env_of(c.read_response(timeout=T))
        assert env["REMOTE_ADDR"] == "127.0.0.1"


@pytest.mark.parametrize("bad", [get("/index.html"), b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
                                 b"PROXY TCP9 x\r\n" + get("/"), SIG + b"\x11\x11\x00\x00"],
                         ids=["no-header", "short-v1", "bad-protocol", "bad-v2-version"])
@V
def test_bad_or_missing_header_closes(proxied, bad):
    with Conn.open(proxied.port) as c:
        c.send(bad)
        assert c.wait_closed(T), "expected the connection closed with nothing sent"
    # others are served
    with Conn.open(proxied.port) as c:
        c.send(v1("203.0.113.9", 1) + get("/index.html"))
        assert c.read_response(timeout=T).status == 200


@V
def test_untrusted_source_is_closed(start_server, workdir):
    make_docroot(workdir)
    srv = start_server("--proxy-protocol", "10.0.0.0/8")
    with Conn.open(srv.port) as c:           # from 127.0.0.1: not trusted
        c.send(v1("203.0.113.7", 1) + get("/index.html"))
        assert c.wait_closed(T)


@V
def test_proxy_header_before_tls(start_tls, certs):  # noqa: F811
    ts = start_tls(certs["rsa"], "--proxy-protocol", "127.0.0.1/32")
    raw = socket.create_connection(("127.0.0.1", ts.port), timeout=T)
    try:
        raw.sendall(v2("198.51.100.77", 5555))
        s = client_context(certs["rsa"].cert).wrap_socket(raw, server_hostname="localhost")
        c = Conn(s)
        c.send(get("/index.html", "User-Agent: over-tls"))
        assert c.read_response(timeout=T).status == 200
        s.close()
    finally:
        raw.close()
    assert wait_for(lambda: "198.51.100.77" in ts.srv.log() and "over-tls" in ts.srv.log(),
                    3 * SLOW)


# --------------------------------------------------------------------------
# health and graceful stop
# --------------------------------------------------------------------------
@V
def test_health_200_then_503_while_draining(start_server, workdir):
    make_docroot(workdir)
    srv = start_server("--health-path", "/healthz", "--drain-delay", "2", stop_timeout=20)
    r = fetch(srv.port, "/healthz")
    assert r.status == 200 and r.keep_alive, r
    assert "healthz" not in srv.log(), "health checks are not logged"
    with Conn.open(srv.port) as kept:
        kept.send(get("/index.html"))
        assert kept.read_response(timeout=T).keep_alive
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # still accepting: health says 503, answers say close
        r = fetch(srv.port, "/healthz")
        assert r.status == 503 and r.header("connection") == "close", r
        r = fetch(srv.port, "/index.html")
        assert r.status == 200 and r.header("connection") == "close", r
        kept.send(get("/index.html"))
        r = kept.read_response(timeout=T)
        assert r.status == 200 and r.header("connection") == "close", r
    # after the delay the listener is gone and the server exits 0
    assert srv.proc.wait(10 * SLOW) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()


# --------------------------------------------------------------------------
# status
# --------------------------------------------------------------------------
@V
def test_status_text_and_json(start_server, workdir):
    make_docroot(workdir)
    srv = start_server("--status-path", "/status", "--workers", "2")
    for _ in range(10):
        assert fetch(srv.port, "/index.html").status == 200
    r = fetch(srv.port, "/status")
    assert r.status == 200 and r.header("content-type").startswith("text/plain"), r
    text = r.body.decode()
    assert text.startswith("lisod 1.0.0 status: 2 worker(s)\n"), text
    assert text.count("\nworker ") == 2, text  # one section per worker
    r = fetch(srv.port, "/status", headers=["Accept: application/json"])
    doc = json.loads(r.body)
    assert r.header("content-type") == "application/json"
    assert len(doc["workers"]) == 2 and all(w["pid"] > 0 for w in doc["workers"])
    assert doc["total"]["requests"] >= 11  # ten files and the text status
    assert doc["total"]["requests"] == sum(w["stats"]["requests"] for w in doc["workers"])
    assert doc["total"]["accepted"] >= 12
    assert doc["total"]["by_state"]["idle"] + doc["total"]["by_state"]["head"] >= 0
    assert doc["total"]["connections"] >= 1  # this one
    # ?format=json too
    assert json.loads(fetch(srv.port, "/status?format=json").body)["total"]["requests"] >= 12


@V
def test_status_only_from_allowed_networks(start_server, workdir):
    make_docroot(workdir)
    srv = start_server("--status-path", "/status", "--status-allow", "127.0.0.1/32")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", srv.port))
    c = Conn(s)
    try:
        c.send(get("/status"))
        assert c.read_response(timeout=T).status == 403
    finally:
        c.close()
    assert fetch(srv.port, "/status").status == 200


# --------------------------------------------------------------------------
# HAProxy in front of two instances, restarted one after the other
# --------------------------------------------------------------------------
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


class Instance:
    def __init__(self, binary, workdir, name, port):
        self.binary, self.workdir, self.name, self.port = binary, workdir, name, port
        self.log = workdir / f"{name}.access.log"
        self.proc = None

    def start(self):
        args = [self.binary, "--http-port", str(self.port), "--https-port", "0",
                "--listen", "127.0.0.1", "--root", str(self.workdir / "www"), "--workers", "1",
                "--log", str(self.workdir / f"{self.name}.log"), "--access-log", str(self.log),
                "--proxy-protocol", "127.0.0.1/32", "--health-path", "/healthz",
                "--drain-delay", "1", "--shutdown-timeout", "5"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, timeout=10 * SLOW)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(15 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None


@pytest.mark.slow
def test_haproxy_rolling_restart(workdir):
    from conftest import LISOD
    assert os.path.exists(HAPROXY), "haproxy is needed (scripts/deps.sh installs it)"
    make_docroot(workdir)
    front, pa, pb = free_port(), free_port(), free_port()
    a, b = Instance(LISOD, workdir, "a", pa), Instance(LISOD, workdir, "b", pb)
    cfg = workdir / "haproxy.cfg"
    cfg.write_text(f"""
global
    maxconn 512
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    retries 3
    option redispatch
    retry-on conn-failure empty-response response-timeout
frontend fe
    bind 127.0.0.1:{front}
    default_backend be
backend be
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server send-proxy-v2 check inter 200ms fall 1 rise 2
    server a 127.0.0.1:{pa}
    server b 127.0.0.1:{pb}
""")
    check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, timeout=30)
    assert check.returncode == 0, check.stderr.decode()
    a.start()
    b.start()
    hap = subprocess.Popen([HAPROXY, "-f", str(cfg)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stats = {"ok": 0, "failed": 0, "errors": []}
    stop = threading.Event()
    lock = threading.Lock()

    def client():
        while not stop.is_set():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.2", 0))  # so the backends' logs can name us
                s.settimeout(5)
                s.connect(("127.0.0.1", front))
                c = Conn(s)
                for _ in range(5):
                    c.send(get("/f1.txt", "User-Agent: rolling"))
                    r = c.read_response(timeout=5)
                    ok = r.status == 200 and r.body == b"file number 1\n"
                    with lock:
                        stats["ok" if ok else "failed"] += 1
                        if not ok:
                            stats["errors"].append(repr(r))
                    if not r.keep_alive:
                        break
            except Exception as e:  # noqa: BLE001 (counted)
                with lock:
                    stats["failed"] += 1
                    stats["errors"].append(repr(e))
            finally:
                # a reset, not a FIN: thousands of these connections must not
                # leave TIME_WAIT sockets on ports later tests want to bind
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                s.close()

    try:
        wait_port(front, hap, timeout=10)
        assert wait_for(lambda: fetch(front, "/f1.txt").status == 200, 5 * SLOW)
        threads = [threading.Thread(target=client, daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        for inst in (a, b):
            assert inst.stop() == 0, f"{inst.name} did not stop cleanly"
            time.sleep(0.5)
            inst.start()
            time.sleep(1.5)               # HAProxy sees it up again (rise 2 x 200 ms)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(10)
    finally:
        stop.set()
        hap.terminate()
        try:
            hap.wait(10)
        except subprocess.TimeoutExpired:
            hap.kill()
            hap.wait()
        a.stop()
        b.stop()
    print(f"rolling restart: {stats['ok']} requests answered, {stats['failed']} failed")
    assert stats["failed"] == 0, stats["errors"][:5]
    assert stats["ok"] > 200, stats
    for inst in (a, b):
        lines = [x for x in inst.log.read_text().splitlines() if "rolling" in x]
        assert lines, f"{inst.name} served nothing"
        assert all(x.startswith("127.0.0.2 ") for x in lines), lines[:3]
