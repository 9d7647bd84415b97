"""Reload with -c (SIGHUP): the file read again and checked whole, a new
generation of workers beside the running one, the old finishing what is in
flight. Measured against clients that keep going through it.

The server here is started with -c and nothing on the command line that
the file sets (a reload parses the same command line again, and argv would
override the file), so every setting under test comes from the file.
"""
import hashlib
import os
import signal
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from conftest import Server, free_port
from httputil import SLOW, Conn, get, raw_exchange, tcp_connect, wait_for
from tlsutil import make_cert, tls_connector

T = 5.0 * SLOW


class Site:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.conf = self.workdir / "lisod.conf"
        self.log = self.workdir / "lisod.log"
        self.srv = None

    def write(self, main="", sites=()):
        """main: extra main-section lines; sites: (name, hosts, root) tuples."""
        text = [f"log = {self.log}", "workers = 1", "shutdown-timeout = 10s", main]
        for name, hosts, root in sites:
            text += [f"[site {name}]", f"hosts = {hosts}" if hosts else "", f"root = {root}"]
        self.conf.write_text("\n".join(text) + "\n")

    def root(self, name, body=None):
        r = self.workdir / f"root-{name}"
        r.mkdir(exist_ok=True)
        (r / "index.html").write_text(body if body is not None else f"site {name}\n")
        return r

    def start(self, port):
        self.srv = Server(["-c", str(self.conf)], self.workdir, port, stop_timeout=20)
        return self.srv

    def reloads(self, word="configuration reloaded"):
        return self.log.read_text(errors="replace").count(word) if self.log.exists() else 0

    def hup(self, word="configuration reloaded"):
        """SIGHUP, and wait until the log says it happened once more."""
        before = self.reloads(word)
        os.kill(self.srv.pid, signal.SIGHUP)
        wait_for(lambda: self.reloads(word) > before, timeout=T * 2)


@pytest.fixture
def site(workdir):
    s = Site(workdir)
    yield s
    if s.srv:
        code = s.srv.stop()
        s.srv.assert_clean()
        assert code == 0, s.srv.stderr()[-3000:]


def body_for(port, host):
    [resp] = raw_exchange(port, get("/", host=host), timeout=T)
    assert resp.status == 200, resp
    return resp.body.decode().strip()


@pytest.mark.valgrind
def test_new_site_after_reload_and_broken_file_keeps_old(site):
    port = free_port()
    a, b = site.root("a"), site.root("b")
    site.write(f"http-port = {port}\nhttps-port = 0", [("a", "a.test", a)])
    site.start(port)
    assert body_for(port, "b.test") == "site a"  # unknown: the default (only) site
    site.write(f"http-port = {port}\nhttps-port = 0", [("a", "a.test", a), ("b", "b.test", b)])
    site.hup()
    assert body_for(port, "b.test") == "site b"
    assert body_for(port, "a.test") == "site a"

    # A broken file: every problem logged with its line, the old one serves.
    good = site.conf.read_text()
    site.conf.write_text(good + "frob = 1\n[site c]\nroot = /nonexistent\nhosts b.test\n")
    lines = site.conf.read_text().splitlines()
    site.hup("reload refused")
    log = site.log.read_text()
    assert f"reload: {site.conf}:{lines.index('frob = 1') + 1}: unknown key 'frob'" in log
    assert f"reload: {site.conf}:{len(lines)}: expected 'key = value'" in log
    assert body_for(port, "b.test") == "site b"

    # Valid but naming a root that is not there: refused as a start would be.
    site.conf.write_text(good + "[site c]\nhosts = c.test\nroot = /nonexistent/c\n")
    site.hup("reload refused")
    assert "site c: document root /nonexistent/c is not a readable directory" in \
        site.log.read_text()
    assert body_for(port, "c.test") == "site a"

    # What only a restart can change is refused, and said so.
    site.conf.write_text(good.replace("workers = 1", "workers = 2"))
    site.hup("reload refused")
    assert "a change of workers (1 to 2) needs a restart" in site.log.read_text()
    assert body_for(port, "b.test") == "site b"
    # One worker: the master's only child (the retired ones are gone).
    wait_for(lambda: len(children(site.srv.pid)) == 1, timeout=T)


@pytest.mark.valgrind
def test_reload_refuses_a_bad_certificate_and_a_port_in_use(site, workdir):
    """What only opening can find (a key that does not match its certificate,
    a port another process holds) refuses the reload too, naming the line."""
    port, https = free_port(), free_port()
    a = site.root("a")
    one, two = make_cert(workdir / "c1", "one", "ec"), make_cert(workdir / "c2", "two", "ec")
    main = f"http-port = {port}\nhttps-port = {https}"
    site.write(main, [("a", "a.test", a)])
    site.start(port)
    tls = tls_connector(tls_ctx())
    site.conf.write_text(site.conf.read_text() + f"key = {one.key}\ncert = {two.cert}\n")
    key_line = site.conf.read_text().splitlines().index(f"key = {one.key}") + 1
    site.hup("reload refused")
    assert f"reload: {site.conf}:{key_line}: site a: " in site.log.read_text()
    [resp] = raw_exchange(https, get("/"), connect=tls, timeout=T)
    assert resp.status == 200  # the old certificate still serves
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        site.write(f"http-port = {taken}\nhttps-port = {https}", [("a", "a.test", a)])
        site.hup("reload refused")
        log = site.log.read_text()
    assert f"reload: {site.conf}:" in log and f"port {taken}" in log, log[-2000:]
    assert body_for(port, "a.test") == "site a"


def children(pid):
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(p.name))
    return out


def slow_download(port, host, path, reloader, connect=None, size=None):
    """GET path, read the first 1 MiB, run reloader(), read the rest. Returns
    (response head, body bytes)."""
    sock = (connect or (lambda p, t: socket.create_connection(("127.0.0.1", p), timeout=t)))(
        port, T)
    sock.settimeout(T * 4)
    with sock:
        sock.sendall(get(path, host=host))
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, first = data.split(b"\r\n\r\n", 1)
        body = bytearray(first)  # (bytes += would copy the whole body per chunk)
        length = int([h.split(b":")[1] for h in head.split(b"\r\n")
                      if h.lower().startswith(b"content-length:")][0])
        while len(body) < min(length, 1 << 20):
            body += sock.recv(65536)
        reloader()
        while len(body) < length:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            body += chunk
    return head, bytes(body)


def test_download_in_flight_completes_byte_exact(site):
    port = free_port()
    a = site.root("a")
    blob = os.urandom(48 << 20)
    (a / "big.bin").write_bytes(blob)
    site.write(f"http-port = {port}\nhttps-port = 0", [("a", "a.test", a)])
    site.start(port)
    b = site.root("b", "after the reload\n")

    def reload():
        site.write(f"http-port = {port}\nhttps-port = 0", [("a", "a.test", b)])
        site.hup()
        # The new generation answers new requests while the old one still
        # sends our file (we have not read most of it yet).
        assert body_for(port, "a.test") == "after the reload"

    head, body = slow_download(port, "a.test", "/big.bin", reload)
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert len(body) == len(blob) and hashlib.sha256(body).digest() == \
        hashlib.sha256(blob).digest()
    wait_for(lambda: "generation 1 has finished" in site.log.read_text(), timeout=T * 2)


class Load:
    """Clients running until stopped: one opening a connection per request,
    one keeping its connection alive. A keep-alive request that meets a
    connection closed before any byte of its answer is retried once on a
    new one, as RFC 9112 §9.3.1 allows for an idempotent request (the
    server closes idle connections when it retires); anything else is a
    failure."""

    def __init__(self, port, host):
        self.port, self.host = port, host
        self.ok = self.retried = 0
        self.failures = []
        self.bodies = set()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.fresh), threading.Thread(target=self.kept)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(T * 4)

    def record(self, resp):
        if resp.status != 200:
            self.failures.append(f"status {resp.status}")
        else:
            self.ok += 1
            self.bodies.add(resp.body)

    def fresh(self):
        while not self.stop.is_set():
            try:
                [resp] = raw_exchange(self.port, get("/", "Connection: close", host=self.host),
                                      timeout=T)
                self.record(resp)
            except Exception as e:  # noqa: BLE001 - every kind counts
                self.failures.append(f"fresh: {e!r}")

    def kept(self):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = Conn.open(self.port, timeout=T)
                try:
                    conn.send(get("/", host=self.host))
                    resp = conn.read_response(timeout=T)
                except (ConnectionError, AssertionError) as e:
                    # Closed (or reset) before one byte of the answer: the
                    # retry the RFC allows. A timeout, or a cut answer, is
                    # not that case and fails below.
                    if conn.buf or not (conn.eof or isinstance(e, ConnectionError)):
                        raise
                    conn.close()
                    conn = None
                    self.retried += 1
                    continue
                self.record(resp)
                if resp.header("connection") == "close":
                    conn.close()
                    conn = None
            except Exception as e:  # noqa: BLE001
                self.failures.append(f"keep-alive: {e!r}")
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()


def test_ten_reloads_under_load_no_failed_request(site):
    port = free_port()
    roots = [site.root(f"g{i}", f"generation {i}\n") for i in range(11)]
    site.write(f"http-port = {port}\nhttps-port = 0", [("a", "a.test", roots[0])])
    site.start(port)
    started = time.monotonic()
    with Load(port, "a.test") as load:
        time.sleep(0.3)
        for i in range(1, 11):
            site.write(f"http-port = {port}\nhttps-port = 0", [("a", "a.test", roots[i])])
            site.hup()
            time.sleep(0.3)
    took = time.monotonic() - started
    print(f"\n10 reloads under load in {took:.1f} s: {load.ok} requests answered 200, "
          f"{len(load.failures)} failed, {load.retried} keep-alive retries (RFC 9112 §9.3.1)")
    assert load.failures == [], load.failures[:5]
    assert load.ok > 100
    # Each generation answered some of them, the last one last.
    assert len(load.bodies) >= 6, sorted(load.bodies)
    assert body_for(port, "a.test") == "generation 10"
    assert site.reloads() == 10


def tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_ports_added_and_removed_staying_port_undisturbed(site):
    p1, p2 = free_port(), free_port()
    a = site.root("a")
    blob = os.urandom(24 << 20)
    (a / "big.bin").write_bytes(blob)
    site.write(f"http-port = {p1}\nhttps-port = 0", [("a", "", a)])
    site.start(p1)
    refused = []

    def hammer(port, connect, stop):
        while not stop.is_set():
            try:
                [resp] = raw_exchange(port, get("/", "Connection: close"), connect=connect,
                                      timeout=T)
                if resp.status != 200:
                    refused.append(resp.status)
            except Exception as e:  # noqa: BLE001
                refused.append(repr(e))

    # Add HTTPS: HTTP (staying) is hammered throughout, never refused.
    stop = threading.Event()
    t = threading.Thread(target=hammer, args=(p1, tcp_connect, stop))
    t.start()
    try:
        site.write(f"http-port = {p1}\nhttps-port = {p2}", [("a", "", a)])
        site.hup()
        time.sleep(0.3)
    finally:
        stop.set()
        t.join(T * 2)
    assert refused == []
    tls = tls_connector(tls_ctx())
    [resp] = raw_exchange(p2, get("/"), connect=tls, timeout=T)
    assert resp.status == 200

    # Remove HTTP while a download runs on HTTPS (staying) and HTTPS is
    # hammered: the download completes byte-exact, nothing is refused on
    # HTTPS, and HTTP is closed once the old worker is gone.
    stop = threading.Event()
    t = threading.Thread(target=hammer, args=(p2, tls, stop))
    t.start()

    def remove_http():
        site.write(f"http-port = 0\nhttps-port = {p2}", [("a", "", a)])
        site.hup()

    try:
        head, body = slow_download(p2, "localhost", "/big.bin", remove_http, connect=tls)
    finally:
        stop.set()
        t.join(T * 2)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert hashlib.sha256(body).digest() == hashlib.sha256(blob).digest()
    assert refused == []

    def http_closed():
        try:
            socket.create_connection(("127.0.0.1", p1), timeout=1).close()
            return False
        except ConnectionRefusedError:
            return True
    wait_for(http_closed, timeout=T * 2)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
def test_sessions_resume_across_a_reload(site, workdir, version):
    """A session made before a reload (on a site that is not the default,
    so SNI switched its certificate) resumes after it: the new generation
    keeps the session-ticket keys."""
    port, https = free_port(), free_port()
    a, b = site.root("a"), site.root("b")
    ca, cb = make_cert(workdir / "ca", "a", "ec"), make_cert(workdir / "cb", "b", "ec")
    main = f"http-port = {port}\nhttps-port = {https}"

    def write():
        site.write(main, [("a", "a.test", a), ("b", "b.test", b)])
        site.conf.write_text(site.conf.read_text()
                             .replace(f"root = {a}", f"root = {a}\nkey = {ca.key}\ncert = {ca.cert}")
                             .replace(f"root = {b}", f"root = {b}\nkey = {cb.key}\ncert = {cb.cert}"))
    write()
    site.start(port)
    ctx = tls_ctx()
    ctx.minimum_version = ctx.maximum_version = version

    def exchange(session=None):
        connect = tls_connector(ctx, server_hostname="b.test", session=session)
        with Conn.open(https, connect) as c:
            c.send(get("/", host="b.test"))
            resp = c.read_response(timeout=T)
            return resp, c.sock.session, c.sock.session_reused

    resp, session, _ = exchange()
    assert resp.body == b"site b\n"
    write()
    site.hup()
    resumed = [exchange(session)[2] for _ in range(4)]
    assert all(resumed), f"resumed {sum(resumed)} of 4 after the reload"


def test_serve_settings_change_with_a_reload(site):
    """A site's header lines, cache rules and listing setting are the new
    file's after a reload; an invalid header value keeps the old ones."""
    port = free_port()
    root = site.root("a")
    (root / "style.css").write_text("body{}\n")
    (root / "dir").mkdir()
    (root / "dir" / "f.txt").write_text("f\n")
    site.write(f"http-port = {port}\nhttps-port = 0\nheader = X-Gen: one",
               [("a", "", root)])
    site.start(port)

    def answer(path):
        [r] = raw_exchange(port, get(path, host="a.test"), timeout=T)
        return r
    assert answer("/style.css").header("x-gen") == "one"
    assert answer("/style.css").header("cache-control") is None
    assert answer("/dir/").status == 404
    site.write(f"http-port = {port}\nhttps-port = 0\nheader = X-Gen: two\n"
               "cache = *.css max-age=60\nlisting = yes", [("a", "", root)])
    site.hup()
    wait_for(lambda: answer("/style.css").header("x-gen") == "two", timeout=T)
    assert answer("/style.css").header("cache-control") == "max-age=60"
    assert answer("/dir/").status == 200
    site.write(f"http-port = {port}\nhttps-port = 0\nheader = X-Gen three", [("a", "", root)])
    site.hup("reload refused")
    assert answer("/style.css").header("x-gen") == "two"
