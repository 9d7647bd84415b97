"""systemd without libsystemd: socket activation and sd_notify.

Socket activation: systemd-socket-activate (Debian's systemd package; no
running systemd needed) opens the listeners and execs lisod on the first
connection with LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES. lisod tells HTTP from
HTTPS by the names http and https, binds no port of its own for a kind
systemd handed over, shares the sockets among its workers (which take
turns), and keeps them from CGI programs (close-on-exec, LISTEN_* unset).
A bad name or a socket that is not a listening stream socket fails the start
with a message.

sd_notify: a unix datagram socket stands in for systemd's; NOTIFY_SOCKET
points at it (a path, or an abstract @name). The exact sequence: READY=1 once
the port answers (every worker up), nothing on SIGUSR1, RELOADING=1 with
MONOTONIC_USEC then READY=1 around a SIGHUP (READY only once the new
certificate is served everywhere), STOPPING=1 on SIGTERM, then nothing.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import AS_ROOT, LISOD, free_port, wait_port
from httputil import fetch, http_get
from svcutil import (SLOW, NotifySocket, Proc, children, field, https_get, kinds,
                     listening_inodes, remote_socket, socket_inodes, wait_children, wait_for)
from tlsutil import make_cert


def _tool(name):
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: the systemd tests need it (Debian package "
                           "systemd; scripts/deps.sh check installs it)")
    return path


ACTIVATE = _tool("systemd-socket-activate")

WORKERS = [pytest.param(1, id="single-process"), pytest.param(2, id="workers-2")]

LISTING_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
for f in /proc/$$/fd/*; do printf 'fd %s -> %s\\n' "${f##*/}" "$(readlink "$f")"; done
env | sed 's/^/env /'
"""


@pytest.fixture
def procs(workdir):
    started = []
    yield started
    for p in started:
        p.stop()
        p.assert_clean()


@pytest.fixture
def site(workdir):
    www = workdir / "www"
    www.mkdir()
    (www / "index.html").write_text("activated\n")
    cgi = workdir / "list.sh"
    cgi.write_text(LISTING_CGI)
    cgi.chmod(0o755)
    return workdir


def activate(procs, workdir, sockets, args, env=None):
    """Start lisod under systemd-socket-activate with sockets [(name, port)]
    (name None: no --fdname), and make the first connection that execs it.
    The process keeps its pid: systemd-socket-activate execs lisod."""
    cmd = [ACTIVATE]
    for name, port in sockets:
        cmd += ["-l", f"127.0.0.1:{port}"]
        if name is not None:
            cmd.append(f"--fdname={name}")
    p = Proc(cmd + [LISOD, *AS_ROOT, *args], workdir, env=env, name=f"activate{len(procs)}")
    procs.append(p)
    # It listens before it execs; our connection waits in the backlog.
    deadline = time.monotonic() + 10 * SLOW
    while True:
        try:
            socket.create_connection(("127.0.0.1", sockets[0][1]), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or p.proc.poll() is not None:
                raise RuntimeError(f"systemd-socket-activate never listened: {p.stderr()}")
            time.sleep(0.02)
    return p


def wait_exec(p, timeout=10.0):
    """Until the process is lisod (after the exec)."""
    assert wait_for(lambda: p.proc.poll() is None and
                    os.path.realpath(f"/proc/{p.pid}/exe") == os.path.realpath(LISOD),
                    timeout), f"lisod was not exec'd: {p.stderr()}"


def fd_flags(pid, fd):
    for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8)
    raise AssertionError("no flags")


def body(resp):
    head, _, rest = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), resp[:300]
    return rest.decode(errors="replace")


def cgi_listing(port):
    r = fetch(port, "/cgi/x")
    assert r.status == 200, r
    return r.body.decode(errors="replace")


def sockets_of(pid):
    return len(socket_inodes(pid))


# ---- socket activation ----------------------------------------------------------

@pytest.mark.parametrize("workers", WORKERS)
def test_socket_activation_http_and_https(procs, site, workers):
    http_p, https_p = free_port(), free_port()
    own_http, own_https = free_port(), free_port()  # given, but systemd's win
    env = dict(os.environ, NOTIFY_SOCKET=str(site / "nobody-listens.sock"))
    p = activate(procs, site, [("http", http_p), ("https", https_p)],
                 ["--root", str(site / "www"), "--http-port", str(own_http), "--https-port",
                  str(own_https), "--workers", str(workers), "--cgi", str(site / "list.sh"),
                  "--log", str(site / "lisod.log")], env=env)
    wait_exec(p)
    if workers > 1:
        assert wait_children(p.pid, workers), f"workers: {children(p.pid)}"
    assert body(http_get(http_p)) == "activated\n"
    resp, _ = https_get(https_p)
    assert body(resp) == "activated\n"
    # It bound nothing of its own: not the ports it was given, and no second
    # socket (SO_REUSEPORT) beside systemd's on the activated ones.
    assert not listening_inodes(own_http) and not listening_inodes(own_https)
    inherited = socket_inodes(p.pid)
    assert listening_inodes(http_p) == {inherited[3]}
    assert listening_inodes(https_p) == {inherited[4]}
    # Adopted: non-blocking, close-on-exec, and TCP_NODELAY like our own
    # listeners (accepted sockets inherit it; systemd-socket-activate does not
    # set it).
    for fd in (3, 4):
        with remote_socket(p.pid, fd) as s:
            assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), f"fd {fd}"
    for fd in (3, 4):
        flags = fd_flags(p.pid, fd)
        assert flags & os.O_NONBLOCK, f"fd {fd} flags {flags:o}"
        assert flags & 0o2000000, f"fd {fd} is not close-on-exec: flags {flags:o}"
    log = site / "lisod.log"
    assert wait_for(lambda: f"HTTP on port {http_p} (socket from systemd)" in log.read_text()
                    and f"HTTPS on port {https_p} (socket from systemd)" in log.read_text()), \
        log.read_text()
    # A CGI program holds none of the listeners and sees no LISTEN_* or
    # NOTIFY_SOCKET.
    listing = cgi_listing(http_p)
    fds = [line for line in listing.splitlines() if line.startswith("fd ")]
    assert len(fds) >= 3, listing
    for inode in (inherited[3], inherited[4]):
        assert f"socket:[{inode}]" not in listing, listing
    assert "socket:" not in listing, f"a CGI program holds a socket:\n{listing}"
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET"):
        assert f"env {name}=" not in listing, listing


def test_shared_listener_spreads_over_workers(procs, site):
    """Two workers on one socket from systemd: connections arriving one by
    one are taken in turn (EPOLLEXCLUSIVE wakes one idle worker; a worker
    that accepted queues up behind the others). Each comes with its request,
    as clients do: the socket defers accept until the first bytes
    (TCP_DEFER_ACCEPT), so silent connections would all become acceptable
    at once, when their requests came, and one wakeup would take them all."""
    port = free_port()
    p = activate(procs, site, [("http", port)],
                 ["--root", str(site / "www"), "--https-port", "0", "--workers", "2",
                  "--log", str(site / "lisod.log")])
    wait_exec(p)
    workers = wait_children(p.pid, 2)
    assert workers, children(p.pid)
    assert http_get(port).startswith(b"HTTP/1.1 200")
    time.sleep(0.2)
    base = {pid: sockets_of(pid) for pid in workers}
    socks = []
    try:
        for _ in range(40):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            socks[-1].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.01)
        for s in socks:
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
        held = {pid: sockets_of(pid) - base[pid] for pid in workers}
    finally:
        for s in socks:
            s.close()
    assert sum(held.values()) == 40, held
    assert all(n >= 10 for n in held.values()), f"connections not spread: {held}"


@pytest.mark.parametrize("names,message", [
    pytest.param(["web"], "socket activation: fd 3 is named 'web'; name each socket http or "
                 "https (FileDescriptorName=)", id="unknown-name"),
    pytest.param([None], "socket activation: fd 3 has no name; name each socket http or "
                 "https (FileDescriptorName=)", id="unnamed"),
    pytest.param(["http", "ftp"], "socket activation: fd 4 is named 'ftp'; name each socket "
                 "http or https (FileDescriptorName=)", id="second-unknown"),
    pytest.param(["HTTP"], "socket activation: fd 3 is named 'HTTP'; name each socket http or "
                 "https (FileDescriptorName=)", id="case-matters"),
])
def test_bad_fdname_fails(procs, site, names, message):
    sockets = [(n, free_port()) for n in names]
    p = activate(procs, site, sockets, ["--root", str(site / "www")])
    assert p.wait(10) == 1, p.stderr()
    assert f"lisod: {message}\n" in p.stderr(), p.stderr()


# A launcher that hands lisod a descriptor 3 of its choosing, the way
# systemd would (same pid through exec).
HANDOVER = """
import os, socket, sys
kind, lisod, args = sys.argv[1], sys.argv[2], sys.argv[3:]
if kind == "bound":
    s = socket.socket(); s.bind(("127.0.0.1", 0)); fd = s.fileno()
elif kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); fd = s.fileno()
elif kind == "unix":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(""); s.listen(); fd = s.fileno()
else:
    fd = os.open("/dev/null", os.O_RDONLY)
if fd != 3:
    os.dup2(fd, 3)
os.set_inheritable(3, True)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1", LISTEN_FDNAMES="http")
os.execv(lisod, [lisod] + args)
"""


@pytest.mark.parametrize("kind,why", [
    ("bound", "not a listening socket"),
    ("udp", "not a stream socket"),
    ("unix", "not a TCP socket (IPv4 or IPv6)"),
    ("file", "not a socket"),
])
def test_inherited_descriptor_must_be_a_listening_tcp_socket(procs, site, kind, why):
    p = Proc([sys.executable, "-c", HANDOVER, kind, LISOD, "--root", str(site / "www")],
             site, name=kind)
    procs.append(p)
    assert p.wait(10) == 1, p.stderr()
    assert f"lisod: socket activation: fd 3 (http): {why}\n" in p.stderr(), p.stderr()


def test_listen_fds_for_another_pid_are_ignored(procs, site):
    port = free_port()
    env = dict(os.environ, LISTEN_PID="1", LISTEN_FDS="1", LISTEN_FDNAMES="http")
    p = Proc([LISOD, *AS_ROOT, "--root", str(site / "www"), "--http-port", str(port),
              "--https-port", "0", "--workers", "1", "--cgi", str(site / "list.sh")], site,
             env=env)
    procs.append(p)
    wait_port(port, p.proc)
    listing = cgi_listing(port)
    assert "env GATEWAY_INTERFACE=CGI/1.1" in listing, listing
    assert "env LISTEN_" not in listing, listing
    assert wait_for(lambda: "LISTEN_FDS is set for another process (LISTEN_PID): ignored"
                    in p.stderr()), p.stderr()


# ---- sd_notify ------------------------------------------------------------------

@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    d = tmp_path_factory.mktemp("notify-tls")
    return make_cert(d, "a", "rsa", serial=0xA1), make_cert(d, "b", "rsa", serial=0xB2)


def all_served(port, der, n=8):
    return all(https_get(port)[1] == der for _ in range(n))


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
@pytest.mark.parametrize("workers", WORKERS)
def test_notify_sequence(procs, site, pairs, workers, abstract):
    a, b = pairs
    key, crt = site / "server.key", site / "server.crt"
    shutil.copyfile(a.key, key)
    shutil.copyfile(a.cert, crt)
    ns = NotifySocket(site, abstract=abstract)
    port, tls_port = free_port(), free_port()
    env = dict(os.environ, NOTIFY_SOCKET=ns.address)
    p = Proc([LISOD, *AS_ROOT, "--root", str(site / "www"), "--http-port", str(port),
              "--https-port", str(tls_port), "--key", str(key), "--cert", str(crt),
              "--workers", str(workers), "--log", str(site / "lisod.log")], site, env=env)
    procs.append(p)
    try:
        ready = ns.recv(15)
        assert ready is not None, f"no READY=1: {p.stderr()}"
        # Ready means serving: no waiting for the port, every worker there.
        assert http_get(port).startswith(b"HTTP/1.1 200")
        assert https_get(tls_port)[1] == a.der
        if workers > 1:
            assert len(children(p.pid)) == workers
        assert kinds(ready) == ["READY"], ready
        noun = "worker" if workers == 1 else "workers"
        assert field(ready, "STATUS") == f"serving on {port}, {tls_port}; {workers} {noun}"
        assert field(ready, "MAINPID") is None, "MAINPID from the main process"
        assert ns.pending() == [], "more than READY=1 at startup"

        os.kill(p.pid, signal.SIGUSR1)  # reopening logs is not a reload
        assert ns.pending(0.5) == []

        shutil.copyfile(b.key, key)
        shutil.copyfile(b.cert, crt)
        before = time.monotonic_ns() // 1000
        os.kill(p.pid, signal.SIGHUP)
        reloading = ns.recv()
        after = time.monotonic_ns() // 1000
        assert reloading and kinds(reloading) == ["RELOADING"], reloading
        usec = int(field(reloading, "MONOTONIC_USEC"))
        assert before <= usec <= after, (before, usec, after)
        ready2 = ns.recv()
        assert ready2 and kinds(ready2) == ["READY"], ready2
        # READY=1 after a reload means every worker has the new certificate.
        assert all_served(tls_port, b.der), "READY=1 before the reload was done"
        assert ns.pending() == []

        os.kill(p.pid, signal.SIGTERM)
        stopping = ns.recv()
        assert stopping and kinds(stopping) == ["STOPPING"], stopping
        assert p.wait(15) == 0, p.stderr()
        assert ns.pending() == [], "messages after STOPPING=1"
    finally:
        ns.close()


def test_notify_mainpid_from_a_daemon(procs, site):
    """The 8-argument form daemonizes: the notifying process is not the one
    started, so READY=1 names it (MAINPID=, the lock file's pid)."""
    ns = NotifySocket(site)
    port = free_port()
    lock = site / "lisod.lock"
    for name in ("k", "c"):
        (site / name).write_text("")
    env = dict(os.environ, NOTIFY_SOCKET=ns.address)
    launcher = Proc([LISOD, *AS_ROOT, str(port), "0", str(site / "lisod.log"), str(lock),
                     str(site / "www"), str(site / "list.sh"), str(site / "k"),
                     str(site / "c")], site, env=env, name="launcher")
    procs.append(launcher)
    daemon = None
    try:
        assert launcher.wait(10) == 0, launcher.stderr()
        daemon = int(lock.read_text().split()[0])
        ready = ns.recv()
        assert ready and kinds(ready) == ["READY"], ready
        assert field(ready, "MAINPID") == str(daemon)
        assert daemon != launcher.pid
        # Its CGI programs do not see the notify socket either.
        listing = cgi_listing(port)
        assert "env GATEWAY_INTERFACE=CGI/1.1" in listing, listing
        assert "NOTIFY_SOCKET" not in listing
    finally:
        if daemon:
            os.kill(daemon, signal.SIGTERM)
            assert wait_for(lambda: not os.path.exists(f"/proc/{daemon}") or
                            Path(f"/proc/{daemon}/stat").read_text().rsplit(")", 1)[1]
                            .split()[0] == "Z", 10)
        ns.close()


def test_unusable_notify_socket_warns(procs, site):
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET="relative/notify")
    p = Proc([LISOD, "--root", str(site / "www"), "--http-port", str(port), "--https-port",
              "0", "--workers", "1"], site, env=env)
    procs.append(p)
    wait_port(port, p.proc)
    assert http_get(port).startswith(b"HTTP/1.1 200")
    assert "lisod: warning: NOTIFY_SOCKET 'relative/notify' is neither an absolute path " \
        "nor an @abstract name: not notifying systemd" in p.stderr(), p.stderr()
