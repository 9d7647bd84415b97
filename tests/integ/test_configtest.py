"""lisod -t: check everything a start would, report every problem, start
nothing.

A good configuration: exit 0, "lisod: configuration ok" on stdout, nothing on
stderr. A broken one: exit 1, each problem on its own line of stderr
("lisod: ..."), all of them when there are several, then a count. -t never
daemonizes, creates no file (log, lock), leaves no process, and does not take
the lock or the ports from a server that runs with the same configuration:
that server holding them is a note on stdout, not a problem. The checks run
with the privileges -t has: as root, a low port is fine; as nobody, it is not.
"""
import fcntl
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import LISOD, UNPRIVILEGED, free_port, wait_port
from httputil import http_get
from svcutil import IS_ROOT, SLOW, Proc, listening_inodes, wait_for
from tlsutil import make_cert

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="the configurations use --user nobody")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    d = tmp_path_factory.mktemp("ctest-tls")
    return make_cert(d, "a", "rsa"), make_cert(d, "b", "ec")


class Conf:
    """A good configuration in workdir (reachable by nobody), as options
    that a row may change."""

    def __init__(self, workdir, pairs):
        self.dir = workdir
        workdir.chmod(0o755)
        self.www = workdir / "www"
        self.www.mkdir()
        (self.www / "index.html").write_text("hi\n")
        self.cgi = workdir / "prog.sh"
        self.cgi.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n")
        self.cgi.chmod(0o755)
        tls = workdir / "tls"
        tls.mkdir(mode=0o700)  # root-only: the master reads it
        self.key, self.cert = tls / "key.pem", tls / "cert.pem"
        shutil.copyfile(pairs[0].key, self.key)
        shutil.copyfile(pairs[0].cert, self.cert)
        self.other_key = pairs[1].key
        self.logs = workdir / "logs"
        self.logs.mkdir()
        self.opts = {
            "--http-port": str(free_port()), "--https-port": str(free_port()),
            "--listen": "127.0.0.1", "--root": str(self.www), "--cgi": str(self.cgi),
            "--key": str(self.key), "--cert": str(self.cert),
            "--log": str(self.logs / "error.log"), "--access-log": str(self.logs / "access.log"),
            "--lock": str(workdir / "lisod.lock"), "--user": "nobody", "--workers": "2",
        }

    def args(self):
        out = []
        for k, v in self.opts.items():
            if v is not None:
                out += [k] if v is True else [k, v]
        return out

    def port(self, which="--http-port"):
        return int(self.opts[which])


@pytest.fixture
def conf(workdir, pairs):
    return Conf(workdir, pairs)


def run_t(args, as_nobody=False, timeout=20):
    cmd = [LISOD, "-t", *args]
    if as_nobody:
        cmd = UNPRIVILEGED + cmd
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=timeout * SLOW)
    return r, time.monotonic() - t0


def problems(stderr):
    """The problem lines: every stderr line but warnings and the count."""
    return [line for line in stderr.splitlines()
            if not line.startswith("lisod: warning: ")
            and not line.startswith("lisod: configuration test failed")]


def assert_reported(r, expected):
    """exit 1, every expected line (or line prefix) among the problems, and
    the count line matching the number of problem lines."""
    assert r.returncode == 1, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    got = problems(r.stderr)
    for want in expected:
        assert any(line == want or (want.endswith(": ") and line.startswith(want))
                   for line in got), f"missing {want!r} in:\n{r.stderr}"
    n = len(got)
    assert r.stderr.splitlines()[-1] == \
        f"lisod: configuration test failed: {n} problem{'s' if n != 1 else ''}", r.stderr
    assert "configuration ok" not in r.stdout


def processes_mentioning(text):
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if text in f.read().decode(errors="replace"):
                        found.append(int(d))
            except OSError:
                pass
    return found


def test_good_configuration(conf):
    r, elapsed = run_t(conf.args())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "lisod: configuration ok\n", r.stdout
    assert r.stderr == "", r.stderr
    assert elapsed < 10 * SLOW
    # Nothing made, nothing left.
    assert sorted(os.listdir(conf.logs)) == [], "-t created a log file"
    assert not (conf.dir / "lisod.lock").exists(), "-t created the lock file"
    assert not processes_mentioning(str(conf.dir))
    assert not listening_inodes(conf.port())


def test_liso_form_does_not_daemonize(conf):
    """-t with the 8 arguments (which daemonize): it checks and returns, in
    front, and leaves nothing running or created."""
    lock = conf.dir / "liso.lock"
    args = ["--user", "nobody", conf.opts["--http-port"], "0", str(conf.logs / "liso.log"),
            str(lock), str(conf.www), str(conf.cgi), str(conf.key), str(conf.cert)]
    r, _ = run_t(args)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "lisod: configuration ok\n"
    time.sleep(0.2)
    assert not processes_mentioning(str(lock))
    assert not lock.exists() and not (conf.logs / "liso.log").exists()


def _busy_port(conf):
    s = socket.socket()
    s.bind(("127.0.0.1", conf.port()))
    s.listen()
    return s


# (id, change the configuration -> [expected problem lines, or prefixes ending
# in ": "]). Each row is one broken thing; the last rows break several.
def row_root_missing(c):
    c.opts["--root"] = str(c.dir / "nowhere")
    return [f"lisod: cannot read document root {c.dir / 'nowhere'}: No such file or directory"]


def row_root_is_a_file(c):
    c.opts["--root"] = str(c.cgi)
    return [f"lisod: document root {c.cgi} is not a directory"]


def row_root_unreadable_by_user(c):
    c.www.chmod(0o700)
    return [f"lisod: document root {c.www} is not readable by user nobody: Permission denied"]


def row_cgi_missing(c):
    c.opts["--cgi"] = str(c.dir / "nope.sh")
    return [f"lisod: CGI program {c.dir / 'nope.sh'}: No such file or directory"]


def row_cgi_not_executable(c):
    c.cgi.chmod(0o644)
    return [f"lisod: CGI program {c.cgi} is not executable"]


def row_cgi_not_executable_by_user(c):
    c.cgi.chmod(0o744)
    return [f"lisod: CGI program {c.cgi} is not executable by user nobody: Permission denied"]


def row_cgi_dir_not_searchable(c):
    d = c.dir / "cgi-bin"
    d.mkdir(mode=0o700)
    c.opts["--cgi"] = str(d)
    return [f"lisod: CGI directory {d} is not searchable by user nobody: Permission denied"]


def row_cgi_as_root(c):
    c.opts["--user"] = None
    return ["lisod: refusing to run CGI programs as root: give --user NAME (or --cgi-as-root)"]


def row_key_mismatch(c):
    shutil.copyfile(c.other_key, c.key)
    return [f"lisod: private key {c.key} does not match certificate {c.cert}: "]


def row_key_missing(c):
    c.key.unlink()
    return [f"lisod: cannot read private key {c.key}: No such file or directory"]


def row_cert_garbage(c):
    c.cert.write_text("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")
    return [f"lisod: certificate {c.cert}: "]


def row_port_in_use(c):
    c.busy = _busy_port(c)
    return [f"lisod: cannot bind 127.0.0.1 port {c.port()}: Address already in use"]


def row_same_port(c):
    c.opts["--https-port"] = c.opts["--http-port"]
    return [f"lisod: HTTP and HTTPS cannot share port {c.port()}"]


def row_no_listener(c):
    c.opts["--http-port"] = c.opts["--https-port"] = "0"
    return ["lisod: no listener: both ports are 0"]


def row_user_unknown(c):
    c.opts["--user"] = "nosuchuser-lisod"
    return ["lisod: unknown user 'nosuchuser-lisod'"]


def row_group_unknown(c):
    c.opts["--user"] = "nobody:nosuchgroup-lisod"
    return ["lisod: unknown group 'nosuchgroup-lisod'"]


def row_log_dir_missing(c):
    log = c.dir / "no-dir" / "error.log"
    c.opts["--log"] = str(log)
    return [f"lisod: cannot create log file {log}: {log.parent}: No such file or directory"]


def row_log_is_a_directory(c):
    c.opts["--log"] = str(c.logs)
    return [f"lisod: cannot open log file {c.logs}: Is a directory"]


def row_access_log_unwritable(c):
    log = c.dir / "no-dir" / "access.log"
    c.opts["--access-log"] = str(log)
    return [f"lisod: cannot create access log {log}: {log.parent}: No such file or directory"]


def row_lock_dir_missing(c):
    lock = c.dir / "no-dir" / "lisod.lock"
    c.opts["--lock"] = str(lock)
    return [f"lisod: cannot create lock file {lock}: {lock.parent}: No such file or directory"]


def row_daemon_without_log(c):
    c.opts["--log"] = None
    c.opts["--daemon"] = True
    return ["lisod: a daemon needs a log file"]


def row_several(c):
    return (row_root_unreadable_by_user(c) + row_cgi_not_executable(c) + row_key_mismatch(c)
            + row_port_in_use(c) + row_log_dir_missing(c) + row_lock_dir_missing(c))


def row_several_with_unknown_user(c):
    return (row_user_unknown(c) + row_root_missing(c) + row_cert_garbage(c)
            + row_same_port(c) + row_access_log_unwritable(c))


ROWS = [(name[4:].replace("_", "-"), fn) for name, fn in sorted(globals().items())
        if name.startswith("row_")]


@pytest.mark.parametrize("change", [fn for _, fn in ROWS], ids=[n for n, _ in ROWS])
def test_broken_configuration(conf, change):
    expected = change(conf)
    try:
        r, _ = run_t(conf.args())
    finally:
        if hasattr(conf, "busy"):
            conf.busy.close()
    assert_reported(r, expected)
    if len(expected) > 1:
        assert len(problems(r.stderr)) >= len(expected)
    assert not processes_mentioning(str(conf.dir))


def test_single_process_warns_what_sighup_will_not_reach(conf):
    """One process reloads as the user: a root-only key and a log directory
    it cannot write are warnings (exit 0), and say what to do."""
    conf.opts["--workers"] = "1"
    r, _ = run_t(conf.args())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "lisod: configuration ok\n"
    err = r.stderr.splitlines()
    hint = "run with --workers 2 or more: the master keeps root and does it"
    assert f"lisod: warning: private key {conf.key} is not readable by user nobody: SIGHUP " \
        f"cannot reload it ({hint})" in err, r.stderr
    assert f"lisod: warning: {conf.logs} is not writable by user nobody (Permission denied): " \
        f"SIGUSR1/SIGHUP cannot reopen the log {conf.logs / 'error.log'} ({hint})" in err, \
        r.stderr


def test_while_the_server_runs(conf, workdir):
    """The same configuration as a running server: its lock and ports are
    notes, not problems, and -t takes neither from it."""
    lock = conf.dir / "lisod.lock"
    srv = Proc([LISOD, *conf.args()], workdir, name="server")
    try:
        wait_port(conf.port(), srv.proc)
        wait_port(conf.port("--https-port"), srv.proc)
        before = lock.read_text()
        mtime = lock.stat().st_mtime_ns
        r, _ = run_t(conf.args())
        assert r.returncode == 0, r.stderr
        out = r.stdout.splitlines()
        pid = srv.pid
        assert f"lisod: note: lock file {lock} is held by pid {pid}, a running server: not a " \
            "problem for -t" in out, r.stdout
        for kind, opt in (("HTTP", "--http-port"), ("HTTPS", "--https-port")):
            assert f"lisod: note: {kind} port {conf.port(opt)} is in use, presumably by the " \
                f"running server (pid {pid})" in out, r.stdout
        assert out[-1] == "lisod: configuration ok"
        assert r.stderr == ""
        # The server still has everything.
        assert lock.read_text() == before and lock.stat().st_mtime_ns == mtime
        fd = os.open(lock, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        for _ in range(8):
            assert http_get(conf.port()).startswith(b"HTTP/1.1 200")
        # Without the lock, a port in use is a problem again.
        conf.opts["--lock"] = str(conf.dir / "other.lock")
        r, _ = run_t(conf.args())
        assert_reported(r, [f"lisod: cannot bind 127.0.0.1 port {conf.port()}: Address "
                            "already in use"])
    finally:
        code = srv.stop()
    assert code == 0, srv.stderr()
    srv.assert_clean()


def test_low_port_is_checked_with_our_privileges(conf):
    """-t as root binds a low port like a root start would; as nobody it
    cannot, like a start as nobody."""
    start = int(open("/proc/sys/net/ipv4/ip_unprivileged_port_start").read())
    if start <= 1:
        pytest.skip("every port is unprivileged here")
    args = ["--http-port", "1", "--https-port", "0", "--listen", "127.0.0.1",
            "--root", str(conf.www)]
    r, _ = run_t(args)
    assert r.returncode == 0, r.stderr
    r, _ = run_t(args, as_nobody=True)
    assert_reported(r, ["lisod: cannot bind 127.0.0.1 port 1: Permission denied"])


def test_bad_command_line_is_still_a_usage_error(conf):
    r, _ = run_t(["--http-port", "x"])
    assert r.returncode == 2
    assert r.stderr.startswith("lisod: invalid HTTP port for --http-port: 'x'\n")
