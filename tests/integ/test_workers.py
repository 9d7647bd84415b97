"""Multi-process mode: a master with N workers on the shared listeners.

The master holds the lock file and the signals; a killed worker is restarted;
SIGTERM stops every process; requests are served by more than one worker.
"""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import LISOD, free_port, wait_port
from httputil import http_get
from procutil import children

pytestmark = pytest.mark.valgrind


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    return pred()


@pytest.fixture
def master(workdir):
    www = workdir / "www"
    www.mkdir()
    (www / "index.html").write_text("hi\n")
    port = free_port()
    lock = workdir / "lisod.lock"
    log = workdir / "lisod.log"
    proc = subprocess.Popen([LISOD, "--http-port", str(port), "--https-port", "0",
                             "--root", str(www), "--workers", "2", "--lock", str(lock),
                             "--log", str(log)],
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        assert wait_for(lambda: len(children(proc.pid, live_only=True)) == 2), "two workers expected"
        yield proc, port, lock, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in children(proc.pid, live_only=True):
            os.kill(pid, signal.SIGKILL)


def test_lock_file_holds_the_master(master):
    proc, port, lock, _ = master
    assert int(lock.read_text().split()[0]) == proc.pid
    assert http_get(port).startswith(b"HTTP/1.1 200 OK")


def test_killed_worker_is_restarted_and_logged(master):
    proc, port, _, log = master
    before = children(proc.pid, live_only=True)
    os.kill(before[0], signal.SIGKILL)
    after = wait_for(lambda: (c := children(proc.pid, live_only=True)) and len(c) == 2 and before[0] not in c and c)
    assert after and before[0] not in after and len(after) == 2
    for _ in range(20):
        assert http_get(port).startswith(b"HTTP/1.1 200 OK")
    text = wait_for(lambda: "killed by signal 9" in log.read_text() and log.read_text(), 5)
    assert text and f"worker {before[0]} killed by signal 9: restarting" in text


def test_sigterm_stops_master_and_all_workers(master):
    proc, port, _, _ = master
    workers = children(proc.pid, live_only=True)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    for pid in workers:
        assert wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                        open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z", 5)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def sockets_of(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def test_both_workers_serve(master):
    """Connections are spread over the workers (EPOLLEXCLUSIVE wakes one)."""
    proc, port, _, _ = master
    workers = children(proc.pid, live_only=True)
    base = {pid: sockets_of(pid) for pid in workers}
    socks = []
    try:
        for _ in range(64):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        for s in socks:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in socks:
            assert s.recv(65536).startswith(b"HTTP/1.1 200 OK")
        held = {pid: sockets_of(pid) - base[pid] for pid in workers}
    finally:
        for s in socks:
            s.close()
    assert sum(held.values()) == 64, held
    assert all(n > 0 for n in held.values()), f"one worker took every connection: {held}"
