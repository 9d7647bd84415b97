"""The Liso 8-argument form (spec §1): it daemonizes.

    lisod <HTTP port> <HTTPS port> <log> <lock> <www> <cgi> <key> <cert>

The launcher exits 0 only once the daemon is up (ports bound, log open, lock
held); the daemon's pid is the first line of the lock file; a second launch
with the same lock fails naming that pid; startup errors are reported by the
launcher with a non-zero exit and leave nothing running.

Every daemon started here is killed at teardown by the pid in its lock file.
"""
import fcntl
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import LISOD, free_port, wait_port
from httputil import http_get

LAUNCH_TIMEOUT = 2.0


def proc_alive(pid):
    """True while pid exists and is not a zombie (the daemon is reparented
    to init, which may reap it late)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc_alive(pid):
            return True
        time.sleep(0.05)
    return not proc_alive(pid)


def read_lock_pid(lock):
    text = Path(lock).read_text()
    first = text.splitlines()[0] if text else ""
    assert first.strip().isdigit(), f"lock file first line is not a pid: {text!r}"
    return int(first)


def lock_is_free(lock):
    """Can we take the lock ourselves? (lisod uses flock.)"""
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def processes_mentioning(text):
    """Pids of live processes whose command line contains text."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if text in cmd and proc_alive(int(d)):
            found.append(int(d))
    return found


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A real key and certificate, made with the openssl CLI (a missing or
    failing openssl fails these tests: no dummy files in its place)."""
    d = tmp_path_factory.mktemp("tls")
    key, cert = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=localhost", "-days", "1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return key, cert


class Liso:
    """Paths for one 8-argument launch, and teardown of what it started."""

    def __init__(self, workdir, tls_files):
        self.dir = workdir
        self.www = workdir / "www"
        self.www.mkdir(exist_ok=True)
        (self.www / "index.html").write_text("<html><body>daemon</body></html>\n")
        self.log = workdir / "lisod.log"
        self.lock = workdir / "lisod.lock"
        self.cgi = workdir / "cgi.sh"
        self.cgi.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n")
        self.cgi.chmod(0o755)
        self.key, self.cert = tls_files
        self.port = free_port()
        self.pids = set()
        self.launches = 0

    def args(self, port=None, https="0", log=None, lock=None, www=None, cgi=None):
        return [str(self.port if port is None else port), https,
                str(log or self.log), str(lock or self.lock), str(www or self.www),
                str(cgi or self.cgi), str(self.key), str(self.cert)]

    def launch(self, *args, timeout=LAUNCH_TIMEOUT, extra=()):
        """Run the launcher; returns (exit code, stderr text, seconds)."""
        self.launches += 1
        err_path = self.dir / f"launch{self.launches}.stderr"
        with open(err_path, "wb") as err:
            t0 = time.monotonic()
            p = subprocess.Popen([LISOD, *extra, *(args or self.args())],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=err)
            try:
                code = p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.remember_lock_pid()
                raise AssertionError(f"launcher did not exit within {timeout}s") from None
            elapsed = time.monotonic() - t0
        self.remember_lock_pid()
        return code, err_path.read_text(errors="replace"), elapsed

    def remember_lock_pid(self, lock=None):
        try:
            self.pids.add(read_lock_pid(lock or self.lock))
        except (OSError, AssertionError, IndexError):
            pass

    def cleanup(self):
        self.remember_lock_pid()
        self.pids.update(processes_mentioning(str(self.lock)))
        for pid in self.pids:
            if proc_alive(pid) and str(self.lock) in _cmdline(pid):
                os.kill(pid, signal.SIGTERM)
        for pid in self.pids:
            if not wait_gone(pid, 10) and str(self.lock) in _cmdline(pid):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


@pytest.fixture
def liso(workdir, tls_files):
    L = Liso(workdir, tls_files)
    try:
        yield L
    finally:
        L.cleanup()


def test_daemonizes_and_serves(liso):
    code, err, elapsed = liso.launch()
    assert code == 0, f"launcher exited {code}: {err}"
    assert elapsed < LAUNCH_TIMEOUT
    pid = read_lock_pid(liso.lock)
    assert proc_alive(pid), f"pid {pid} from the lock file is not running"
    assert str(liso.lock) in _cmdline(pid), "the lock file's pid is not our lisod"
    # Ready means ready: no waiting for the port.
    resp = http_get(liso.port)
    assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
    assert b"daemon" in resp
    # Detached: its own session, not our child, no controlling terminal.
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ppid, sid, tty = int(fields[1]), int(fields[3]), int(fields[4])
    assert ppid != os.getpid()
    assert sid != os.getsid(0), "the daemon did not start a new session"
    assert tty == 0, "the daemon has a controlling terminal"
    assert liso.log.exists()


def test_second_launch_with_same_lock_fails_naming_pid(liso):
    code, err, _ = liso.launch()
    assert code == 0, err
    pid = read_lock_pid(liso.lock)
    code2, err2, elapsed = liso.launch(*liso.args(port=free_port()))
    assert code2 != 0, "a second server started with the same lock file"
    assert elapsed < LAUNCH_TIMEOUT
    assert str(pid) in err2, f"stderr does not name pid {pid}: {err2!r}"
    assert len(err2.strip().splitlines()) >= 1
    # The first daemon is untouched and still owns the lock.
    assert proc_alive(pid)
    assert read_lock_pid(liso.lock) == pid
    assert http_get(liso.port).startswith(b"HTTP/1.1 200")


def test_sigterm_stops_daemon_keeps_files(liso):
    code, err, _ = liso.launch()
    assert code == 0, err
    pid = read_lock_pid(liso.lock)
    assert http_get(liso.port).startswith(b"HTTP/1.1 200")
    os.kill(pid, signal.SIGTERM)
    assert wait_gone(pid, 10), f"daemon {pid} still running 10 s after SIGTERM"
    assert liso.log.exists(), "log file removed"
    log = liso.log.read_text(errors="replace")
    assert str(pid) in log, f"no banner with the pid in the log: {log[-1000:]!r}"
    assert (liso.www / "index.html").exists(), "www removed"
    assert lock_is_free(liso.lock)
    # The port is free again.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", liso.port))


def test_port_in_use_fails_in_launcher(liso):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err, elapsed = liso.launch(*liso.args(port=port))
        assert code != 0, "launcher reported success although the port is taken"
        assert elapsed < LAUNCH_TIMEOUT
        assert err.strip(), "no message on stderr"
        assert str(port) in err and "in use" in err.lower(), err
        # Nothing left behind: the lock can be taken, no process holds it.
        time.sleep(0.2)
        assert not processes_mentioning(str(liso.lock)), "a lisod process was left running"
        if liso.lock.exists():
            assert lock_is_free(liso.lock), "the lock is still held"
    # And the same command line works once the port is free.
    liso.port = port
    code, err, _ = liso.launch(*liso.args(port=port))
    assert code == 0, err
    assert http_get(port).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("what", ["www", "cgi"])
def test_missing_path_fails(liso, what):
    missing = liso.dir / f"no-such-{what}"
    code, err, elapsed = liso.launch(*liso.args(**{what: missing}))
    assert code != 0
    assert elapsed < LAUNCH_TIMEOUT
    assert str(missing) in err, f"message does not name {missing}: {err!r}"
    time.sleep(0.2)
    assert not processes_mentioning(str(liso.lock))


def test_unwritable_log_fails_in_launcher(liso):
    bad_log = liso.dir / "no-such-dir" / "lisod.log"
    code, err, elapsed = liso.launch(*liso.args(log=bad_log))
    assert code != 0, "launcher reported success without a log file"
    assert elapsed < LAUNCH_TIMEOUT
    assert err.strip(), "no message on stderr"
    time.sleep(0.2)
    assert not processes_mentioning(str(liso.lock))
    if liso.lock.exists():
        assert lock_is_free(liso.lock)


def test_foreground_flag_stays_in_front(liso, workdir):
    err_path = workdir / "fg.stderr"
    with open(err_path, "wb") as err:
        p = subprocess.Popen([LISOD, "-f", *liso.args()], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
    liso.pids.add(p.pid)
    try:
        wait_port(liso.port, p, timeout=10)
        assert p.poll() is None, "lisod -f exited: it daemonized or failed"
        assert read_lock_pid(liso.lock) == p.pid, "lock pid is not the foreground process"
        assert http_get(liso.port).startswith(b"HTTP/1.1 200")
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
