"""Command line and signals (spec §1).

Bad arguments: exit 2, nothing on stdout, and on stderr exactly two lines: a
message naming the bad argument, then "Try 'lisod --help' for more
information." (as GNU tools do). --help/--version: exit 0 on stdout.
SIGINT/SIGTERM stop a foreground server with exit 0; SIGHUP/SIGUSR1 reopen the
log (rotation).
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


HINT = "Try 'lisod --help' for more information."

# (argv, the exact first stderr line: it names the bad argument). The whole
# stderr must be that line and HINT, as GNU tools do: the usage is --help's.
BAD_COMMAND_LINES = [
    pytest.param(["--bogus"], "unknown option '--bogus'", id="unknown-long-option"),
    pytest.param(["-x"], "unknown option '-x'", id="unknown-short-option"),
    pytest.param(["--help=x"], "unknown option '--help=x'", id="help-with-value"),
    pytest.param(["--http-port", "abc"], "invalid HTTP port for --http-port: 'abc'",
                 id="port-not-a-number"),
    pytest.param(["--http-port", "70000"], "invalid HTTP port for --http-port: '70000'",
                 id="port-too-big"),
    pytest.param(["--http-port", "-1"], "invalid HTTP port for --http-port: '-1'",
                 id="port-negative"),
    pytest.param(["--http-port="], "invalid HTTP port for --http-port: ''", id="port-empty"),
    pytest.param(["--https-port", "8443x"], "invalid HTTPS port for --https-port: '8443x'",
                 id="https-port-junk"),
    pytest.param(["--echo", "0"], "invalid echo port for --echo: '0'", id="echo-port-0"),
    pytest.param(["--echo", "65536"], "invalid echo port for --echo: '65536'",
                 id="echo-port-too-big"),
    pytest.param(["a", "b", "c"], "expected 0 or 8 positional arguments, got 'a'",
                 id="3-positional-args"),
    pytest.param(["1", "2", "3", "4", "5", "6", "7", "8", "9"],
                 "expected 0 or 8 positional arguments, got '1'", id="9-positional-args"),
    pytest.param(["abc", "0", "l", "k", "w", "c", "k", "c"], "invalid HTTP port 'abc'",
                 id="8-args-bad-http-port"),
    pytest.param(["80", "x", "l", "k", "w", "c", "k", "c"], "invalid HTTPS port 'x'",
                 id="8-args-bad-https-port"),
    pytest.param(["80", "0", "", "k", "w", "c", "k", "c"], "empty argument",
                 id="8-args-empty-argument"),
    pytest.param(["--workers", "-1"], "invalid worker count for --workers: '-1'",
                 id="workers-negative"),
    pytest.param(["--workers", "many"], "invalid worker count for --workers: 'many'",
                 id="workers-not-a-number"),
    pytest.param(["--max-conns", "0"], "invalid connection limit for --max-conns: '0'",
                 id="max-conns-0"),
    pytest.param(["--max-body", "1x"], "invalid body limit for --max-body: '1x'",
                 id="max-body-junk"),
    # With seven timeout options, "invalid time '0'" does not say which one
    # was wrong: the message must name the option.
    pytest.param(["--idle-timeout", "0"], "invalid time for --idle-timeout: '0'",
                 id="idle-timeout-0"),
    pytest.param(["--header-timeout", "5x"], "invalid time for --header-timeout: '5x'",
                 id="header-timeout-junk"),
    pytest.param(["--cgi-timeout", "1h"], "invalid time for --cgi-timeout: '1h'",
                 id="cgi-timeout-unit"),
    pytest.param(["--log-level", "loud"], "invalid log level for --log-level: 'loud'",
                 id="log-level"),
    pytest.param(["--key", "/tmp/k.pem"], "--key and --cert go together", id="key-without-cert"),
    pytest.param(["--cert", "/tmp/c.pem"], "--key and --cert go together", id="cert-without-key"),
    pytest.param(["--http-port"], "missing value for '--http-port'", id="missing-option-value"),
    pytest.param(["--root"], "missing value for '--root'", id="missing-root-value"),
    pytest.param(["--echo", "9000", "1", "2", "3", "4", "5", "6", "7", "8"],
                 "--echo takes no positional arguments", id="echo-with-positional"),
    pytest.param(["--daemon", "--http-port", "0"], "--daemon needs --lock",
                 id="daemon-without-lock"),
    # The first bad argument is the one reported; a later --help is not reached.
    pytest.param(["--bogus", "--help"], "unknown option '--bogus'", id="bad-before-help"),
]


@pytest.mark.parametrize("argv,message", BAD_COMMAND_LINES)
def test_bad_command_line(argv, message):
    r = run(*argv)
    assert r.returncode == 2, f"exit {r.returncode} for {argv}; stderr: {r.stderr[:300]!r}"
    assert r.stdout == "", f"bad arguments must not print on stdout: {r.stdout[:200]!r}"
    # Exactly two lines: the error naming the argument, then the hint.
    assert r.stderr == f"lisod: {message}\n{HINT}\n", r.stderr[:500]


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
