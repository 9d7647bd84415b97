"""make install / make uninstall into a staging directory (DESTDIR).

The tree is checked path by path with its modes; the installed binary runs
(--version, and serving the installed example site on a free loopback port,
stopped by its PID); the units name the installed binary; uninstall removes
exactly what install wrote, keeps what others put there, and leaves no
directory of lisod's own behind.

`make install` builds ./lisod (the release binary) if it is not up to date,
whatever binary LISOD names: these tests are about the install tree.
"""
import os
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, free_port, wait_port
from httputil import http_get

DOCS = ["README.md", "lisod.conf.example"] + sorted(p.name for p in (ROOT / "docs").glob("*.md"))
SITE = sorted(p.name for p in (ROOT / "www").iterdir())
UNITS = ["lisod.service", "lisod.socket", "lisod-https.socket"]

# With PREFIX=/usr: path -> mode. Directories are 0755.
FILES = {"usr/sbin/lisod": 0o755, "usr/share/man/man8/lisod.8": 0o644,
         "usr/share/man/man5/lisod.conf.5": 0o644}
FILES.update({f"usr/share/doc/lisod/{d}": 0o644 for d in DOCS})
FILES.update({f"usr/share/lisod/www/{f}": 0o644 for f in SITE})
FILES.update({f"usr/lib/systemd/system/{u}": 0o644 for u in UNITS})
# Directories that only lisod uses: uninstall removes them when empty.
OWN_DIRS = {"usr/share/doc/lisod", "usr/share/lisod/www", "usr/share/lisod"}


def make(*args):
    """Run make in the source tree. The make that runs the suite (make
    asan: VARIANT=asan) must not hand its variables down to this one."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    r = subprocess.run(["make", "-s", "-C", str(ROOT)] + list(args), env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"make {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r


def tree(base):
    """Every path beneath base, relative, as {path: (kind, mode)}."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            kind = "d" if stat.S_ISDIR(st.st_mode) else "f" if stat.S_ISREG(st.st_mode) else "?"
            out[str(p.relative_to(base))] = (kind, stat.S_IMODE(st.st_mode))
    return out


def parents(paths):
    dirs = set()
    for p in paths:
        for parent in Path(p).parents:
            if str(parent) != ".":
                dirs.add(str(parent))
    return dirs


@pytest.fixture
def destdir(tmp_path):
    d = tmp_path / "dest"
    d.mkdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_install_tree_modes_and_units(destdir):
    make("install", f"DESTDIR={destdir}", "PREFIX=/usr")
    got = tree(destdir)
    want = {p: ("f", m) for p, m in FILES.items()}
    want.update({d: ("d", 0o755) for d in parents(FILES)})
    assert got == want
    # Byte for byte what the source tree has (the units but for the path).
    assert (destdir / "usr/sbin/lisod").read_bytes() == (ROOT / "lisod").read_bytes()
    assert (destdir / "usr/share/man/man8/lisod.8").read_bytes() == (ROOT / "docs/lisod.8").read_bytes()
    for f in SITE:
        assert (destdir / "usr/share/lisod/www" / f).read_bytes() == (ROOT / "www" / f).read_bytes()
    service = (destdir / "usr/lib/systemd/system/lisod.service").read_text()
    assert service == (ROOT / "packaging/lisod.service").read_text()
    exec_start = [l for l in service.splitlines() if l.startswith("ExecStart=")]
    assert len(exec_start) == 1
    assert exec_start[0].startswith("ExecStart=/usr/sbin/lisod --user lisod --root /var/www/lisod ")


def test_units_name_the_installed_binary(destdir):
    make("install", f"DESTDIR={destdir}", "PREFIX=/opt/lisod")
    service = (destdir / "opt/lisod/lib/systemd/system/lisod.service").read_text()
    assert "ExecStart=/opt/lisod/sbin/lisod " in service
    assert "/usr/sbin/lisod" not in service
    assert (destdir / "opt/lisod/sbin/lisod").is_file()
    make("uninstall", f"DESTDIR={destdir}", "PREFIX=/opt/lisod")
    assert all(k == "d" for k, _ in tree(destdir).values())


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify(tmp_path):
    """Installed for real under a temporary PREFIX, so the binary the unit
    names exists and `man lisod(8)` finds the page: no warning at all."""
    prefix = tmp_path / "prefix"
    make("install", f"PREFIX={prefix}")
    try:
        units = [str(prefix / "lib/systemd/system" / u) for u in UNITS]
        env = dict(os.environ, MANPATH=str(prefix / "share/man"))
        # Documentation=man:lisod(8) is looked up with man, when there is one.
        man = [] if shutil.which("man") else ["--man=no"]
        r = subprocess.run(["systemd-analyze", "verify"] + man + units, env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), \
            f"systemd-analyze verify:\n{r.stdout}{r.stderr}"
    finally:
        make("uninstall", f"PREFIX={prefix}")


def test_installed_binary_serves_installed_site(destdir, tmp_path):
    make("install", f"DESTDIR={destdir}", "PREFIX=/usr")
    lisod = destdir / "usr/sbin/lisod"
    r = subprocess.run([str(lisod), "--version"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    assert r.stdout.startswith("lisod 1.")
    site = destdir / "usr/share/lisod/www"
    port = free_port()
    err = open(tmp_path / "stderr.txt", "wb")
    proc = subprocess.Popen([str(lisod), "--listen", "127.0.0.1", "--http-port", str(port),
                             "--https-port", "0", "--workers", "1", "--root", str(site),
                             "--access-log", "off"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_port(port, proc)
        for name in SITE:
            resp = http_get(port, "/" + name)
            head, _, body = resp.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), head
            assert body == (site / name).read_bytes()
        assert http_get(port, "/").partition(b"\r\n\r\n")[2] == (site / "index.html").read_bytes()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        err.close()
    assert proc.returncode == 0, (tmp_path / "stderr.txt").read_text(errors="replace")


def test_uninstall_removes_exactly_what_install_wrote(destdir):
    # Others' files in the shared directories, and an empty directory that
    # was there before: all must survive.
    foreign = {"usr/sbin/other": b"#!/bin/sh\n", "usr/share/doc/other/README": b"x\n",
               "usr/share/man/man8/other.8": b".TH OTHER 8\n",
               "usr/lib/systemd/system/other.service": b"[Service]\n"}
    for p, data in foreign.items():
        (destdir / p).parent.mkdir(parents=True, exist_ok=True)
        (destdir / p).write_bytes(data)
    (destdir / "usr/share/empty").mkdir()
    before = tree(destdir)

    make("install", f"DESTDIR={destdir}", "PREFIX=/usr")
    assert set(FILES) <= set(tree(destdir))
    make("uninstall", f"DESTDIR={destdir}", "PREFIX=/usr")
    after = tree(destdir)

    for p, data in foreign.items():
        assert (destdir / p).read_bytes() == data
    assert set(before) <= set(after)
    left = set(after) - set(before)
    # Nothing but empty shared directories install made (usr/share/man, ...)
    assert all(after[p][0] == "d" for p in left), sorted(left)
    assert not (left & OWN_DIRS), sorted(left & OWN_DIRS)
    assert not any(os.listdir(destdir / p) for p in left), sorted(left)
    # A second uninstall has nothing to do and does not fail.
    make("uninstall", f"DESTDIR={destdir}", "PREFIX=/usr")


def test_uninstall_keeps_a_directory_with_files_someone_added(destdir):
    make("install", f"DESTDIR={destdir}", "PREFIX=/usr")
    mine = destdir / "usr/share/lisod/www/mine.html"
    mine.write_text("mine\n")
    make("uninstall", f"DESTDIR={destdir}", "PREFIX=/usr")
    assert mine.read_text() == "mine\n"
    assert sorted(os.listdir(destdir / "usr/share/lisod/www")) == ["mine.html"]
    assert not (destdir / "usr/share/doc/lisod").exists()
    assert not (destdir / "usr/sbin/lisod").exists()
