"""Shared fixtures: start the real lisod binary on free loopback ports.

LISOD          path of the binary under test (default: ./lisod)
LISOD_VALGRIND when set, run it under valgrind and fail on any error/leak.
LISOD_CLIENT   h2: the HTTP/1.1 suites' requests go over HTTP/2 (httputil);
               tests marked http1_only are skipped then, with their reason.

Every server started here is stopped by its PID at teardown (SIGTERM, then
SIGKILL after a deadline); its stderr is checked for sanitizer reports, so a
test fails when the server had a memory error even if the client did not see it.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from httputil import H2, age, make_docroot

ROOT = Path(__file__).resolve().parents[2]
LISOD = os.environ.get("LISOD", str(ROOT / "lisod"))
VALGRIND = bool(os.environ.get("LISOD_VALGRIND"))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "UndefinedBehaviorSanitizer")


def pytest_configure(config):
    config.addinivalue_line("markers", "valgrind: also run under valgrind by `make valgrind`")
    config.addinivalue_line("markers", "slow: long stress tests")
    config.addinivalue_line("markers", "http1_only(reason): about HTTP/1.1 itself; "
                            "skipped under LISOD_CLIENT=h2")


def pytest_runtest_setup(item):
    if H2:
        for m in item.iter_markers("http1_only"):
            pytest.skip("HTTP/1.1 only: " + m.kwargs.get("reason", (m.args or ["?"])[0]))


def _bindable_like_lisod(port):
    """Can lisod bind this port? It binds [::] dual-stack with SO_REUSEADDR;
    an ephemeral port that a recent client connection left in TIME_WAIT
    (one without SO_REUSEADDR: most clients) refuses that bind."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", port))
        return True
    except OSError:
        return False


def free_port():
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if _bindable_like_lisod(port):
            return port
    raise RuntimeError("no port that a dual-stack listener can bind")


def wait_port(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"lisod exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"port {port} never opened")


# As root, permission bits do not stop reads: tests that need an unreadable
# file run the server as this unprivileged user instead (setpriv, util-linux).
UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

# lisod refuses to run CGI programs as root unless told to (test_privileges.py
# checks that): the suite, run as root in CI, says so for the servers it starts
# as root. Harmless for servers without --cgi.
AS_ROOT = ["--cgi-as-root"] if os.geteuid() == 0 else []


def command(args, as_nobody=False):
    cmd = [LISOD] + ([] if as_nobody else AS_ROOT) + list(args)
    if VALGRIND:
        cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
               "--show-leak-kinds=definite,indirect,possible", "--errors-for-leak-kinds=definite,indirect,possible",
               "--track-fds=no"] + cmd
    if as_nobody and os.geteuid() == 0:
        cmd = UNPRIVILEGED + cmd
    return cmd


class Server:
    """A running lisod; `stop()` returns its exit code."""

    def __init__(self, args, workdir, port, stop_timeout, as_nobody=False):
        self.workdir = Path(workdir)
        self.port = port
        self.stderr_path = self.workdir / "stderr.txt"
        self.stop_timeout = stop_timeout * (10 if VALGRIND else 1)
        self.args = args
        self._err = open(self.stderr_path, "wb")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen(command(args, as_nobody), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._err, env=env)
        self.pid = self.proc.pid
        try:
            wait_port(port, self.proc, timeout=30 if VALGRIND else 10)
            self._wait_log_created(timeout=30 if VALGRIND else 10)
        except Exception:
            self.stop()
            raise

    def _wait_log_created(self, timeout):
        """lisod listens before it opens --log (a bad port fails before a
        log file is made), so the port answering does not yet mean the log
        exists: wait for it, or a test reading the log at once races the
        open (seen under valgrind)."""
        if "--log" not in self.args:
            return
        path = Path(self.args[self.args.index("--log") + 1])
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"lisod made no log file {path}")
            time.sleep(0.01)

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def log(self):
        """The error log: the --log file when one was given (it must exist
        then: no quiet fallback to stderr), else stderr."""
        if "--log" in self.args:
            return Path(self.args[self.args.index("--log") + 1]).read_text(errors="replace")
        return self.stderr()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._err.close()
        return self.proc.returncode

    def assert_all_h2(self):
        """LISOD_CLIENT=h2: no request reached this server over HTTP/1.x
        (its access lines), so what passed in the replay passed over h2."""
        if "--log" not in self.args or not Path(self.args[self.args.index("--log") + 1]).exists():
            return
        h1 = [line for line in self.log().splitlines()
              if re.search(r'\] "[^"]* HTTP/1\.[01]" \d{3} ', line)]
        assert not h1, "HTTP/1.x requests in the HTTP/2 replay:\n" + "\n".join(h1[:5])

    def assert_clean(self):
        text = self.stderr()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, f"sanitizer report in lisod stderr:\n{text[-4000:]}"


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="lisod-test-")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def start_server(workdir):
    """start_server(*extra_args, http=True, echo=False) -> Server.

    HTTP mode: serves workdir/www (created, with index.html) on a free port,
    HTTPS off unless asked, logs to workdir/lisod.log.
    """
    servers = []

    def start(*extra, echo=False, root=None, stop_timeout=15, log=True, as_nobody=False):
        if as_nobody and os.geteuid() == 0:
            # The unprivileged server must reach its root, log and files.
            os.chmod(workdir, 0o777)
        port = free_port()
        if echo:
            args = ["--echo", str(port)]
        else:
            www = Path(root) if root else workdir / "www"
            www.mkdir(exist_ok=True)
            if not (www / "index.html").exists():
                (www / "index.html").write_text("<html><body>hello</body></html>\n")
            # One worker unless a test asks for more: per-worker limits
            # (--max-conns) and /proc memory readings then mean one process.
            args = ["--http-port", str(port), "--https-port", "0", "--root", str(www),
                    "--workers", "1"]
            if log:
                args += ["--log", str(workdir / "lisod.log")]
        s = Server(args + list(extra), workdir, port, stop_timeout, as_nobody)
        servers.append(s)
        return s

    yield start
    for s in servers:
        code = s.stop()
        s.assert_clean()
        if H2:
            s.assert_all_h2()
        assert code == 0, f"lisod exited with {code}; stderr:\n{s.stderr()[-3000:]}"


@pytest.fixture
def aged(start_server, workdir):
    """A server on the shared document root (httputil.make_docroot) that has
    been up and idle for httputil.IDLE seconds: for checks of time-derived
    headers, so a clock frozen at start or at the last request cannot pass.
    The files were written before it started, so their mtimes lie IDLE
    seconds in the past too."""
    make_docroot(workdir)
    srv = start_server()
    age()
    return srv
