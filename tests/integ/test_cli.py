"""Command line and signals (spec §1).

Bad arguments: exit 2, a one-line message naming the bad argument, then the
usage, all on stderr. --help/--version: exit 0 on stdout. SIGINT/SIGTERM stop
a foreground server with exit 0; SIGHUP/SIGUSR1 reopen the log (rotation).
"""
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import LISOD, ROOT
from httputil import http_get


def run(*args, timeout=10):
    return subprocess.run([LISOD, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=timeout)


# (argv, substrings the first stderr line must contain: the bad argument)
BAD_COMMAND_LINES = [
    pytest.param(["--bogus"], ["--bogus"], id="unknown-long-option"),
    pytest.param(["-x"], ["-x"], id="unknown-short-option"),
    pytest.param(["--http-port", "abc"], ["abc", "HTTP port"], id="port-not-a-number"),
    pytest.param(["--http-port", "70000"], ["70000", "HTTP port"], id="port-too-big"),
    pytest.param(["--http-port", "-1"], ["-1"], id="port-negative"),
    pytest.param(["--https-port", "8443x"], ["8443x", "HTTPS port"], id="https-port-junk"),
    pytest.param(["--echo", "0"], ["'0'", "echo"], id="echo-port-0"),
    pytest.param(["--echo", "65536"], ["65536", "echo"], id="echo-port-too-big"),
    pytest.param(["a", "b", "c"], ["positional"], id="3-positional-args"),
    pytest.param(["1", "2", "3", "4", "5", "6", "7", "8", "9"], ["positional"], id="9-positional-args"),
    pytest.param(["--workers", "-1"], ["-1", "worker"], id="workers-negative"),
    pytest.param(["--workers", "many"], ["many", "worker"], id="workers-not-a-number"),
    pytest.param(["--max-conns", "0"], ["'0'", "conn"], id="max-conns-0"),
    # With seven timeout options, "invalid time '0'" does not say which one
    # was wrong: the message must name the option.
    pytest.param(["--idle-timeout", "0"], ["'0'", "idle-timeout"], id="idle-timeout-0"),
    pytest.param(["--header-timeout", "5x"], ["5x", "header-timeout"], id="header-timeout-junk"),
    pytest.param(["--log-level", "loud"], ["loud", "log level"], id="log-level"),
    pytest.param(["--key", "/tmp/k.pem"], ["--key", "--cert"], id="key-without-cert"),
    pytest.param(["--cert", "/tmp/c.pem"], ["--key", "--cert"], id="cert-without-key"),
    pytest.param(["--http-port"], ["--http-port"], id="missing-option-value"),
    pytest.param(["--root"], ["--root"], id="missing-root-value"),
    pytest.param(["--echo", "9000", "1", "2", "3", "4", "5", "6", "7", "8"], ["echo"],
                 id="echo-with-positional"),
    pytest.param(["--daemon", "--http-port", "0"], ["--lock"], id="daemon-without-lock"),
]


@pytest.mark.parametrize("argv,names", BAD_COMMAND_LINES)
def test_bad_command_line(argv, names):
    r = run(*argv)
    assert r.returncode == 2, f"exit {r.returncode} for {argv}; stderr: {r.stderr[:300]!r}"
    assert r.stdout == "", f"bad arguments must not print on stdout: {r.stdout[:200]!r}"
    lines = r.stderr.splitlines()
    assert lines, "nothing on stderr"
    first = lines[0]
    assert first.startswith("lisod: "), first
    for name in names:
        assert name in first, f"message {first!r} does not name {name!r}"
    # One line of message, then the usage.
    assert len(lines) > 1 and lines[1].startswith("Usage:"), r.stderr[:300]


def long_options_in_source():
    """Every long option of the parser's table in src/config.c."""
    text = (ROOT / "src" / "config.c").read_text()
    table = text[text.index("struct option long_options[]"):]
    table = table[:table.index("};")]
    names = re.findall(r'\{\s*"([a-z0-9-]+)"', table)
    assert len(names) > 10, "could not read the option table"
    return names


def test_help_lists_every_long_option():
    r = run("--help")
    assert r.returncode == 0
    assert r.stdout.startswith("Usage:"), r.stdout[:200]
    assert r.stderr == ""
    missing = [o for o in long_options_in_source()
               if not re.search(rf"--{re.escape(o)}\b", r.stdout)]
    assert not missing, f"--help does not mention: {missing}"
    r2 = run("-h")
    assert r2.returncode == 0 and r2.stdout == r.stdout


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag):
    r = run(flag)
    assert r.returncode == 0
    assert "lisod" in r.stdout
    assert re.search(r"\d+\.\d+", r.stdout), r.stdout
    assert len(r.stdout.splitlines()) == 1


def test_help_wins_over_later_arguments():
    r = run("--help", "--bogus")
    assert r.returncode == 0 and r.stdout.startswith("Usage:")


# ---- signals -----------------------------------------------------------

def wait_for(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("echo", [False, True], ids=["http", "echo"])
def test_stop_signal_exits_0(start_server, sig, echo):
    srv = start_server(echo=echo)
    # An idle open connection must not keep it from stopping promptly.
    idle = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    if not echo:
        assert http_get(srv.port).startswith(b"HTTP/1.1 200")
    t0 = time.monotonic()
    srv.proc.send_signal(sig)
    try:
        code = srv.proc.wait(srv.stop_timeout)
    except subprocess.TimeoutExpired:
        code = None
    elapsed = time.monotonic() - t0
    idle.close()
    assert code == 0, f"exit {code} after {sig.name}; stderr: {srv.stderr()[-1500:]}"
    assert elapsed < 5, f"{sig.name} took {elapsed:.1f}s to stop an idle server"


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGHUP], ids=["SIGUSR1", "SIGHUP"])
def test_signal_reopens_log(start_server, workdir, sig):
    srv = start_server()
    log = workdir / "lisod.log"
    rotated = workdir / "lisod.log.1"
    assert http_get(srv.port, "/?before-rotation").startswith(b"HTTP/1.1 200")
    assert wait_for(lambda: log.exists() and "before-rotation" in log.read_text(errors="replace"),
                    3), "access line never reached the log"
    log.rename(rotated)
    srv.proc.send_signal(sig)
    assert wait_for(log.exists, 3), f"{sig.name} did not recreate {log}"
    assert srv.proc.poll() is None, f"{sig.name} stopped the server"
    assert http_get(srv.port, "/?after-rotation").startswith(b"HTTP/1.1 200")
    # The access log is flushed once a second.
    assert wait_for(lambda: "after-rotation" in log.read_text(errors="replace"), 3), (
        f"access line missing from the reopened log: {log.read_text(errors='replace')[-1000:]!r}")
    old = rotated.read_text(errors="replace")
    assert "before-rotation" in old
    assert "after-rotation" not in old, "the rotated file still receives lines"
    # A second rotation works too.
    log.rename(workdir / "lisod.log.2")
    srv.proc.send_signal(sig)
    assert wait_for(log.exists, 3)
    assert http_get(srv.port, "/?second-rotation").startswith(b"HTTP/1.1 200")
    assert wait_for(lambda: "second-rotation" in log.read_text(errors="replace"), 3)
