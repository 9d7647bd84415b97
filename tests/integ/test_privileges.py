"""Least privilege: --user NAME[:GROUP] and --cgi-as-root.

lisod binds its ports, reads its key and certificate and opens its logs and
lock file as root, then drops to the user for good: a single process drops
itself; with --workers N the master keeps root (it reloads root-only keys
and reopens logs on SIGHUP/SIGUSR1 and hands them over) and every worker
drops right after the fork. CGI programs run as the workers do. Checked
from /proc/PID/status (all four Uid/Gid fields, Groups, capabilities) of the
master, every worker and a CGI program. An unknown user or group, or a
worker that cannot reach the document root as the user, fails the start
with a message; CGI as root is refused unless --cgi-as-root.

These tests need root (the suite runs as root in CI); as another user they
are skipped, since there is nothing to drop.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import LISOD, free_port, wait_port
from httputil import http_get
from svcutil import (IS_ROOT, NOBODY, NOGROUP, SLOW, Proc, assert_is_nobody, assert_is_root,
                     children, https_get, listening_inodes, parse_status, status, wait_children,
                     wait_for)
from tlsutil import make_cert

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="dropping privileges needs root")

WORKERS = [pytest.param(1, id="single-process"), pytest.param(2, id="workers-2")]

STATUS_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
cat /proc/$$/status
"""


@pytest.fixture
def tree(workdir):
    """workdir reachable by nobody, with a CGI program printing its own
    /proc status."""
    workdir.chmod(0o755)
    cgi = workdir / "status.sh"
    cgi.write_text(STATUS_CGI)
    cgi.chmod(0o755)
    return workdir


def body(resp):
    head, _, rest = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), resp[:300]
    return rest.decode(errors="replace")


def cgi_status(port):
    return parse_status(body(http_get(port, "/cgi/status")))


def run_lisod(args, timeout=10):
    """A start expected to fail: (exit code, stderr)."""
    r = subprocess.run([LISOD, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, errors="replace", timeout=timeout * SLOW)
    return r.returncode, r.stderr


# ---- who runs ------------------------------------------------------------------

@pytest.mark.parametrize("workers", WORKERS)
def test_every_process_runs_as_the_user(start_server, tree, workers):
    srv = start_server("--user", "nobody", "--cgi", str(tree / "status.sh"),
                       "--workers", str(workers))
    if workers == 1:
        assert_is_nobody(status(srv.pid), "the single process")
    else:
        # The master keeps root (docs/design.md: it rereads root-only keys
        # and reopens logs for its workers); each worker dropped.
        assert_is_root(status(srv.pid), "the master")
        kids = wait_children(srv.pid, workers)
        assert kids and len(kids) == workers, f"workers: {children(srv.pid)}"
        for pid in kids:
            # A worker just forked is still root until it drops, before it
            # serves anything (the listeners are the master's, so the port
            # answers before the workers are up): give it that moment.
            wait_for(lambda: status(pid)["Uid"] == (NOBODY.pw_uid,) * 4, timeout=5 * SLOW)
            assert_is_nobody(status(pid), f"worker {pid}")
    # CGI programs: several requests, so both workers are likely asked.
    for _ in range(4):
        assert_is_nobody(cgi_status(srv.port), "a CGI program")
    assert wait_for(lambda: f"serving as user nobody, group {NOGROUP}" in srv.log()), srv.log()


def test_user_and_group(start_server, tree):
    """NAME:GROUP: that group, and the user's supplementary groups from the
    group database (as initgroups would give them)."""
    group = "daemon"
    gid = __import__("grp").getgrnam(group).gr_gid
    srv = start_server("--user", f"nobody:{group}")
    creds = status(srv.pid)
    assert creds["Uid"] == (NOBODY.pw_uid,) * 4
    assert creds["Gid"] == (gid,) * 4
    assert creds["Groups"] == set(os.getgrouplist("nobody", gid)), creds


def test_restarted_worker_drops_too(start_server, tree):
    srv = start_server("--user", "nobody", "--workers", "2")
    kids = wait_children(srv.pid, 2)
    assert kids, children(srv.pid)
    os.kill(kids[0], signal.SIGKILL)
    fresh = wait_for(lambda: (c := children(srv.pid)) and len(c) == 2 and kids[0] not in c
                     and c, 10)
    assert fresh, children(srv.pid)
    new = [p for p in fresh if p not in kids]
    assert new
    assert wait_for(lambda: status(new[0])["Uid"][0] == NOBODY.pw_uid, 5)
    assert_is_nobody(status(new[0]), "the restarted worker")
    assert http_get(srv.port).startswith(b"HTTP/1.1 200")


# ---- failing starts ----------------------------------------------------------------

@pytest.mark.parametrize("user,message", [
    ("nosuchuser-lisod", "unknown user 'nosuchuser-lisod'"),
    ("nobody:nosuchgroup-lisod", "unknown group 'nosuchgroup-lisod'"),
    ("4000000001", "unknown user '4000000001'"),
    ("nobody:", "invalid user 'nobody:' (expected NAME or NAME:GROUP)"),
    (":nogroup", "invalid user ':nogroup' (expected NAME or NAME:GROUP)"),
])
def test_unknown_user_or_group_fails(workdir, user, message):
    port = free_port()
    code, err = run_lisod(["--http-port", str(port), "--https-port", "0", "--root",
                           str(workdir), "--user", user])
    assert code == 1, f"exit {code}: {err}"
    assert err == f"lisod: {message}\n", err
    assert not listening_inodes(port)


@pytest.mark.parametrize("workers", WORKERS)
def test_root_unreadable_by_the_user_fails_the_start(workdir, workers):
    """The document root is opened after the drop: a root the user cannot
    read stops the start, with a message and exit 1 (the master waits for
    every worker to be up before it is ready)."""
    workdir.chmod(0o755)
    www = workdir / "private"
    www.mkdir(mode=0o700)
    port = free_port()
    p = Proc([LISOD, "--http-port", str(port), "--https-port", "0", "--root", str(www),
              "--user", "nobody", "--workers", str(workers), "--log", str(workdir / "l.log")],
             workdir)
    try:
        code = p.wait(10)
        assert code == 1, f"exit {code}: {p.stderr()}"
        assert f"lisod: document root {www} is not readable by user nobody: Permission denied" \
            in p.stderr(), p.stderr()
        assert not listening_inodes(port)
    finally:
        p.stop()
    p.assert_clean()


def test_daemon_with_user(workdir):
    """The 8-argument form with --user and two workers: the launcher returns
    once the workers are up; with an unreadable root it fails with the
    worker's message on its stderr."""
    workdir.chmod(0o755)
    www = workdir / "www"
    www.mkdir()
    (www / "index.html").write_text("hi\n")
    lock = workdir / "lisod.lock"

    def liso(root):
        port = free_port()
        return port, [LISOD, "--user", "nobody", "--workers", "2", str(port), "0",
                      str(workdir / "lisod.log"), str(lock), str(root),
                      str(workdir / "status.sh"), str(workdir / "k"), str(workdir / "c")]

    for name in ("k", "c"):  # read only with an HTTPS port; checked anyway
        (workdir / name).write_text("")
    (workdir / "status.sh").write_text(STATUS_CGI)
    (workdir / "status.sh").chmod(0o755)
    private = workdir / "private"
    private.mkdir(mode=0o700)
    port, argv = liso(private)
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=10 * SLOW)
    finally:
        if lock.exists() and lock.read_text():
            stop_daemon(lock)  # only if it wrongly kept running
    assert r.returncode == 1, r
    assert "is not readable by user nobody" in r.stderr, r.stderr
    assert not listening_inodes(port)

    port, argv = liso(www)
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=10 * SLOW)
    master = int(lock.read_text().split()[0]) if lock.exists() and lock.read_text() else 0
    try:
        assert r.returncode == 0, r
        assert r.stdout == "" and r.stderr == "", r
        kids = wait_children(master, 2)
        assert kids, f"no workers under {master}"
        assert_is_root(status(master), "the master")
        for pid in kids:
            assert_is_nobody(status(pid), f"worker {pid}")
        assert_is_nobody(cgi_status(port), "a CGI program")
    finally:
        if master:
            os.kill(master, signal.SIGTERM)
            wait_for(lambda: not os.path.exists(f"/proc/{master}") or
                     open(f"/proc/{master}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
                     10)


# ---- CGI as root ------------------------------------------------------------------

def stop_daemon(lock):
    """A daemon that started although it should not have: stop it by the pid
    in its lock file (it names the lock on its command line)."""
    try:
        pid = int(lock.read_text().split()[0])
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return
    if str(lock) in cmdline:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10)


REFUSED = "lisod: refusing to run CGI programs as root: give --user NAME (or --cgi-as-root)\n"


@pytest.mark.parametrize("extra", [
    pytest.param([], id="no-user"),
    pytest.param(["--user", "root"], id="user-root"),
    pytest.param(["--user", "0"], id="user-0"),
    pytest.param(["--workers", "2"], id="workers-2"),
])
def test_cgi_as_root_is_refused(tree, extra):
    port = free_port()
    code, err = run_lisod(["--http-port", str(port), "--https-port", "0", "--root", str(tree),
                           "--cgi", str(tree / "status.sh"), *extra])
    assert code == 1, f"exit {code}: {err}"
    assert err == REFUSED, err
    assert not listening_inodes(port)


def test_cgi_as_root_is_refused_in_the_liso_form(tree):
    port = free_port()
    lock = tree / "lisod.lock"
    for name in ("k", "c"):
        (tree / name).write_text("")
    try:
        code, err = run_lisod([str(port), "0", str(tree / "l.log"), str(lock), str(tree),
                               str(tree / "status.sh"), str(tree / "k"), str(tree / "c")])
        assert code == 1 and err == REFUSED, (code, err)
        assert not listening_inodes(port)
        assert not lock.exists(), "the lock file was made before the refusal"
    finally:
        stop_daemon(lock)


def test_cgi_as_root_when_asked(start_server, tree):
    """--cgi-as-root (the suite's conftest passes it to servers it runs as
    root): CGI runs, as root, and no --user warning is missing from the log."""
    srv = start_server("--cgi-as-root", "--cgi", str(tree / "status.sh"))
    assert cgi_status(srv.port)["Uid"] == (0, 0, 0, 0)
    assert wait_for(lambda: "running as root without --user: the workers and CGI programs "
                    "run as root" in srv.log()), srv.log()


def test_root_without_user_warns(start_server, tree):
    srv = start_server()
    assert wait_for(lambda: "[warn]" in srv.log() and "running as root without --user"
                    in srv.log()), srv.log()
    srv2 = start_server("--user", "nobody", "--log", str(tree / "other.log"), log=False)
    http_get(srv2.port)
    assert wait_for(lambda: "serving as user nobody" in srv2.log()), srv2.log()
    assert "running as root" not in srv2.log()


# ---- reloading after the drop --------------------------------------------------------

@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    d = tmp_path_factory.mktemp("priv-tls")
    return make_cert(d, "a", "rsa", serial=0x11A), make_cert(d, "b", "ec", serial=0x11B)


def install(pair, key, crt, mode):
    shutil.copyfile(pair.key, key)
    shutil.copyfile(pair.cert, crt)
    key.chmod(mode)
    crt.chmod(mode)


def served_by_all(port, der, n=8):
    return all(https_get(port)[1] == der for _ in range(n))


@pytest.mark.parametrize("workers", WORKERS)
def test_sighup_reloads_the_certificate_after_the_drop(start_server, tree, pairs, workers):
    """A single process reloads as the user (its files must be readable by
    it); with workers the files stay root-only and the master, still root,
    reads them and hands them over."""
    a, b = pairs
    tdir = tree / "tls"
    private = workers > 1
    tdir.mkdir(mode=0o700 if private else 0o755)
    key, crt = tdir / "server.key", tdir / "server.crt"
    install(a, key, crt, 0o600 if private else 0o644)
    tls_port = free_port()
    srv = start_server("--user", "nobody", "--workers", str(workers), "--https-port",
                       str(tls_port), "--key", str(key), "--cert", str(crt))
    wait_port(tls_port, srv.proc)
    assert served_by_all(tls_port, a.der)
    install(b, key, crt, 0o600 if private else 0o644)
    os.kill(srv.pid, signal.SIGHUP)
    assert wait_for(lambda: served_by_all(tls_port, b.der), 5), srv.log()[-2000:]
    resp, _ = https_get(tls_port)
    assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
    assert "TLS reload failed" not in srv.log(), srv.log()
    for pid in [srv.pid] if workers == 1 else wait_children(srv.pid, workers):
        assert_is_nobody(status(pid), f"pid {pid} after the reload")


def test_single_process_warns_of_an_unreadable_key(start_server, tree, pairs):
    """The known limit of a single process: it reloads as the user. It says
    so at startup, and a SIGHUP keeps the old certificate."""
    a, b = pairs
    tdir = tree / "tls"
    tdir.mkdir(mode=0o700)
    key, crt = tdir / "server.key", tdir / "server.crt"
    install(a, key, crt, 0o600)
    tls_port = free_port()
    srv = start_server("--user", "nobody", "--https-port", str(tls_port), "--key", str(key),
                       "--cert", str(crt))
    wait_port(tls_port, srv.proc)
    assert wait_for(lambda: f"private key {key} is not readable by user nobody: SIGHUP cannot "
                    "reload it" in srv.log()), srv.log()
    install(b, key, crt, 0o600)
    os.kill(srv.pid, signal.SIGHUP)
    assert wait_for(lambda: "TLS reload failed" in srv.log()), srv.log()
    assert served_by_all(tls_port, a.der)


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGHUP], ids=["SIGUSR1", "SIGHUP"])
@pytest.mark.parametrize("workers", WORKERS)
def test_logs_reopen_after_the_drop(start_server, tree, workers, sig):
    """Rotation: rename the log, signal, new lines go to a new file. A single
    process creates it as the user (its log directory is the user's); with
    workers the directory is root's and the master reopens the log and hands
    the file to every worker."""
    logdir = tree / "logs"
    logdir.mkdir()
    if workers == 1:
        os.chown(logdir, NOBODY.pw_uid, NOBODY.pw_gid)
    log = logdir / "lisod.log"
    srv = start_server("--user", "nobody", "--workers", str(workers), "--log", str(log),
                       log=False)
    assert http_get(srv.port, "/?before-rotation").startswith(b"HTTP/1.1 200")
    assert wait_for(lambda: "before-rotation" in log.read_text()), log.read_text()
    rotated = logdir / "lisod.log.1"
    log.rename(rotated)
    os.kill(srv.pid, sig)
    assert wait_for(log.exists, 5), f"{sig.name} did not make a new {log}"
    # Enough requests that every worker answers some.
    tags = [f"after-rotation-{i}" for i in range(16)]
    for tag in tags:
        assert http_get(srv.port, f"/?{tag}").startswith(b"HTTP/1.1 200")
    assert wait_for(lambda: all(t in log.read_text() for t in tags), 5), log.read_text()
    old = rotated.read_text()
    assert "before-rotation" in old and "after-rotation" not in old, old[-2000:]
    if workers > 1:
        assert log.stat().st_uid == 0  # made by the master


def test_stop_without_cap_kill(tree):
    """A master without CAP_KILL (a systemd CapabilityBoundingSet= that
    forgot it) cannot signal workers of another uid: the stop goes over the
    workers' channels too, and everything exits 0."""
    port = free_port()
    caps = "-all,+setuid,+setgid,+net_bind_service"
    p = Proc(["setpriv", f"--bounding-set={caps}", "--inh-caps=-all", LISOD, "--user",
              "nobody", "--workers", "2", "--http-port", str(port), "--https-port", "0",
              "--root", str(tree), "--log", str(tree / "lisod.log")], tree)
    try:
        wait_port(port, p.proc)
        kids = wait_children(p.pid, 2)
        assert kids, children(p.pid)
        t0 = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0, p.stderr()
        assert time.monotonic() - t0 < 5 * SLOW
        for pid in kids:
            assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 5), f"{pid} left"
        log = (tree / "lisod.log").read_text()
        assert "is CAP_KILL missing?" in log, log
    finally:
        p.stop()
    p.assert_clean()
