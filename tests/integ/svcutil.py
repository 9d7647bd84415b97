"""Helpers for the service tests (test_privileges.py, test_systemd.py,
test_configtest.py): who a process runs as, a fake systemd notify socket,
processes started and stopped by pid, HTTPS one-shots.

Everything talks to 127.0.0.1 only; every wait is bounded.
"""
import ctypes
import grp
import os
import pwd
import signal
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

from conftest import SANITIZER_MARKERS, VALGRIND

SLOW = 10 if VALGRIND else 1

# The unprivileged user the tests serve as: it exists on every Debian.
NOBODY = pwd.getpwnam("nobody")
NOBODY_GROUPS = set(os.getgrouplist(NOBODY.pw_name, NOBODY.pw_gid))
NOGROUP = grp.getgrgid(NOBODY.pw_gid).gr_name

IS_ROOT = os.geteuid() == 0


def status(pid):
    """The credentials of a process, from /proc/PID/status: Uid and Gid as
    (real, effective, saved, filesystem), Groups as a set, CapEff/CapPrm as
    ints."""
    return parse_status(Path(f"/proc/{pid}/status").read_text())


def parse_status(text):
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("Uid", "Gid"):
            out[key] = tuple(int(v) for v in value.split())
        elif key == "Groups":
            out[key] = {int(v) for v in value.split()}
        elif key in ("CapEff", "CapPrm"):
            out[key] = int(value.strip(), 16)
    return out


def assert_is_nobody(creds, what):
    assert creds["Uid"] == (NOBODY.pw_uid,) * 4, f"{what}: Uid {creds['Uid']}"
    assert creds["Gid"] == (NOBODY.pw_gid,) * 4, f"{what}: Gid {creds['Gid']}"
    assert creds["Groups"] == NOBODY_GROUPS, f"{what}: Groups {creds['Groups']}"
    assert creds["CapEff"] == 0 and creds["CapPrm"] == 0, f"{what}: capabilities left {creds}"


def assert_is_root(creds, what):
    assert creds["Uid"] == (0,) * 4, f"{what}: Uid {creds['Uid']}"


def children(pid):
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return sorted(int(x) for x in text.split())


def wait_for(pred, timeout=5.0, step=0.05):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


def wait_children(pid, n, timeout=10.0):
    return wait_for(lambda: len(children(pid)) == n and children(pid), timeout)


# ---- a fake systemd: the notify socket ----------------------------------------

class NotifySocket:
    """A unix datagram socket standing in for systemd's notify socket:
    `address` is what NOTIFY_SOCKET must say (a path, or '@name' for an
    abstract one). recv() returns one message as a list of KEY=VALUE lines."""

    def __init__(self, directory, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"lisod-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            path = Path(directory) / "notify.sock"
            self.sock.bind(str(path))
            self.address = str(path)

    def recv(self, timeout=10.0):
        self.sock.settimeout(timeout * SLOW)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        return data.decode().split("\n")

    def pending(self, wait=0.3):
        """Every message that arrives within `wait` seconds."""
        out = []
        while (m := self.recv(wait)) is not None:
            out.append(m)
        return out

    def close(self):
        self.sock.close()


def kinds(message):
    """The state keys of a message (READY, RELOADING, STOPPING) in order."""
    return [line.split("=", 1)[0] for line in message
            if line.split("=", 1)[0] in ("READY", "RELOADING", "STOPPING")]


def field(message, key):
    for line in message:
        k, _, v = line.partition("=")
        if k == key:
            return v
    return None


# ---- processes stopped by pid -------------------------------------------------

class Proc:
    """A process of ours (lisod, or systemd-socket-activate that execs it),
    its stderr in a file; stop() sends SIGTERM to its pid (then SIGKILL),
    kills children it left, and returns the exit code."""

    def __init__(self, cmd, workdir, env=None, name="proc", pass_fds=(), preexec_fn=None):
        self.workdir = Path(workdir)
        self.stderr_path = self.workdir / f"{name}.stderr"
        self._err = open(self.stderr_path, "wb")
        e = dict(os.environ if env is None else env)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._err, env=e, pass_fds=pass_fds,
                                     preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        self.kids = set()

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def remember_children(self):
        self.kids.update(children(self.pid))

    def wait(self, timeout=10.0):
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        self.remember_children()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.kids:  # workers left behind (they die with the master)
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._err.close()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def assert_clean(self):
        text = self.stderr()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, f"sanitizer report in stderr:\n{text[-4000:]}"


# ---- HTTP and HTTPS one-shots ------------------------------------------------------

def https_get(port, path="/", timeout=5.0):
    """One GET over TLS (certificate not verified), the raw answer and the
    server's certificate (DER)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            der = s.getpeercert(binary_form=True)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                      .encode())
            data = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except (ssl.SSLError, OSError):
                    break
                if not chunk:
                    break
                data += chunk
    return data, der


def listening_inodes(port):
    """Socket inodes listening on 127.0.0.1/any:port (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            local, state, inode = f[1], f[3], f[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                found.add(int(inode))
    return found


def socket_inodes(pid):
    """{fd: inode} of the sockets a process holds."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out[int(fd)] = int(link[8:-1])
    return out


SYS_PIDFD_GETFD = 438  # x86-64, arm64 and the other unified syscall tables


def remote_socket(pid, fd):
    """A copy of another process's socket descriptor (pidfd_getfd, Linux >=
    5.6; we are root or its parent), to read its options."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        got = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if got < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    finally:
        os.close(pidfd)
    return socket.socket(fileno=got)
