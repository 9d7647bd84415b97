"""HTTP/2 in a real browser: headless Chromium loads pages from lisod over
HTTPS and we ask the page itself which protocol carried it.

Chromium is driven by chromedriver's plain W3C WebDriver API over HTTP
(urllib, no client library): new session, navigate, find elements, type,
click, execute script, screenshot. Both come from Debian (`chromium`,
`chromium-driver`); the test CA is trusted through a temporary NSS database
made with `certutil` (`libnss3-tools`): scripts/deps.sh check installs all
three, and a missing one fails these tests with its name, never skips them.

Every process is ours and ends by its PID: chromedriver in its own session,
the browser processes under it collected from /proc and killed the same way.
Everything talks to 127.0.0.1 only: the servers are named by address, host
names resolve to nothing, no proxy, Chromium's background networking is off.

The checks, for the bundled site (www/: a page and its style sheet) and for
the Flask blog of test_blog.py behind CGI (list, log in with the form, add
an entry, a fetch() from the page):

- performance.getEntriesByType('navigation')[0].nextHopProtocol is "h2", as
  is every resource entry's, and each response's status is what it should be;
- the page rendered: its title, known elements' text, the style sheet applied;
- the server's access log has each request with "HTTP/2.0";
- a PNG screenshot of each page (in the test's tmp dir) is a valid PNG of the
  window's size with real content. docs/img/h2-browser.png is one such
  screenshot of the bundled site; the tests never write it (to refresh it,
  run with LISOD_SCREENSHOTS=DIR and copy DIR/bundled-site.png).

And with --http2 no the same page and its style sheet come over "http/1.1";
a server whose certificate is not from the test CA is refused (the browser
really verifies).
"""
import base64
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest

from conftest import free_port, wait_port
from httputil import SLOW, wait_for
from procutil import children, proc_stat
from tlsutil import OPENSSL

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WWW = ROOT / "www"

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CERTUTIL = "/usr/bin/certutil"

WINDOW = (960, 720)             # the window; its viewport is the screenshot
CALL_TIMEOUT = 20.0 * SLOW      # one WebDriver command, navigation included
PAGE_LOAD_MS = int(15000 * SLOW)
START_TIMEOUT = 15.0 * SLOW     # chromedriver answering, a session opening
LOG_TIMEOUT = 5.0 * SLOW        # the access log is written a moment after the answer

USER, PASSWORD = "alice", "wonderland-42"   # tests/integ/blog/app.py's test user

# The element reference key of the W3C WebDriver protocol.
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def _tool(path, package):
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not found: the browser tests need the Debian package {package} "
                    "(scripts/deps.sh check installs it)", pytrace=False)
    return path


# --------------------------------------------------------------------------
# a test CA, trusted by the browser through its own NSS database
# --------------------------------------------------------------------------
def _run(cmd, **kw):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=30, check=True, **kw)


def make_ca_and_cert(d):
    """d/ca.crt (a CA) and d/server.key + d/server.crt, issued by it for
    127.0.0.1 and localhost. No --ignore-certificate-errors: the browser
    verifies the chain for real, so h2 is seen on a connection it trusts."""
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _run([OPENSSL, "req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"),
          "-days", "2", "-subj", "/CN=lisod browser test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    _run([OPENSSL, "req", "-new", *ec, "-keyout", str(d / "server.key"),
          "-out", str(d / "server.csr"), "-subj", "/CN=localhost"])
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                               "basicConstraints=critical,CA:FALSE\n"
                               "keyUsage=critical,digitalSignature\n"
                               "extendedKeyUsage=serverAuth\n")
    _run([OPENSSL, "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"),
          "-CAkey", str(d / "ca.key"), "-set_serial", "1", "-days", "2",
          "-extfile", str(d / "ext.cnf"), "-out", str(d / "server.crt")])
    return d / "server.key", d / "server.crt"


def trust_ca(home, ca):
    """Chromium on Linux reads the user's NSS database, $HOME/.pki/nssdb:
    make one in the browser's temporary HOME trusting our CA for servers."""
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    certutil = _tool(CERTUTIL, "libnss3-tools")
    _run([certutil, "-d", f"sql:{db}", "-N", "--empty-password"])
    _run([certutil, "-d", f"sql:{db}", "-A", "-n", "lisod-test-ca", "-t", "C,,", "-i", str(ca)])


# --------------------------------------------------------------------------
# chromedriver and the browser, over the W3C WebDriver HTTP API
# --------------------------------------------------------------------------
class WebDriverError(AssertionError):
    pass


# urllib honours http_proxy and friends; the driver is on loopback, direct.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _start_time(pid):
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()[19]


def _descendants(pid):
    """Every live process under pid, with its start time (to tell a reused
    pid from ours when it is killed later)."""
    out, todo = {}, [pid]
    while todo:
        for c in children(todo.pop(), live_only=True):
            t = _start_time(c)
            if t is not None and c not in out:
                out[c] = t
                todo.append(c)
    return out


class Browser:
    """chromedriver on a free loopback port, one session of headless
    Chromium; close() ends both, by PID."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.driver_log = self.tmp / "chromedriver.log"
        self.proc = None
        self.session = None
        self.pids = {}
        home = self.tmp / "home"
        home.mkdir()
        self.home = home
        self.profile = self.tmp / "profile"
        self.profile.mkdir()

    # -- process ----------------------------------------------------------
    def start(self):
        driver = _tool(CHROMEDRIVER, "chromium-driver")
        _tool(CHROMIUM, "chromium")
        env = dict(os.environ, HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / ".config"),
                   XDG_CACHE_HOME=str(self.home / ".cache"))
        for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                    "ALL_PROXY", "DISPLAY", "WAYLAND_DISPLAY"):
            env.pop(var, None)
        last = None
        for _ in range(3):      # a port taken between free_port() and the bind: another
            port = free_port()
            self.base = f"http://127.0.0.1:{port}"
            with open(self.driver_log, "ab") as log:
                self.proc = subprocess.Popen(
                    [driver, f"--port={port}", "--allowed-ips=127.0.0.1",
                     f"--log-path={self.driver_log}", "--append-log"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                    start_new_session=True)
            try:
                self._wait_ready()
                break
            except Exception as e:  # noqa: BLE001 -- retried, then reported
                last = e
                self._stop_driver()
        else:
            raise WebDriverError(f"chromedriver did not start: {last}\n{self._log_tail()}")
        self._new_session()
        self.pids = _descendants(self.proc.pid)

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise WebDriverError(f"chromedriver exited with {self.proc.returncode}")
            try:
                if self._call("GET", "/status", timeout=2)["ready"]:
                    return
            except (OSError, WebDriverError):
                pass
            time.sleep(0.05)
        raise WebDriverError(f"chromedriver not ready within {START_TIMEOUT} s")

    def _new_session(self):
        args = [
            "--headless",
            # CI runs as root, and Chromium refuses to start as root with its
            # sandbox (the setuid/user-namespace sandbox is not meant for root):
            # --no-sandbox is the only way there. It loads our own pages only.
            "--no-sandbox",
            f"--user-data-dir={self.profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--force-device-scale-factor=1",
            "--hide-scrollbars",
            "--disable-gpu",
            "--disable-dev-shm-usage",          # a small /dev/shm (containers) crashes it
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",  # no calls home: this machine has no network
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-breakpad",
            "--disable-quic",
            "--no-proxy-server",
            # loopback only: every host name resolves to nothing; we use 127.0.0.1
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--lang=en-US",
        ]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": False,
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": PAGE_LOAD_MS, "script": PAGE_LOAD_MS, "implicit": 0},
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}}
        value = self._call("POST", "/session", caps, timeout=START_TIMEOUT + 15)
        self.session = value["sessionId"]
        self.capabilities = value["capabilities"]

    def _stop_driver(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def close(self):
        """DELETE the session (the browser quits), stop chromedriver, then
        kill whatever of the browser is left, each by its PID."""
        if self.proc is not None:
            self.pids.update(_descendants(self.proc.pid))
        if self.session is not None and self.proc is not None and self.proc.poll() is None:
            try:
                self._call("DELETE", f"/session/{self.session}", timeout=10)
            except (OSError, WebDriverError):
                pass
        self.session = None
        self._stop_driver()
        for pid, started in self.pids.items():
            if _start_time(pid) == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # gone (a zombie counts: its parent, chromedriver or init, reaps it)
        def left():
            return [p for p, t in self.pids.items() if _start_time(p) == t and
                    (proc_stat(p) or ("Z",))[0] != "Z"]
        assert wait_for(lambda: not left(), 5), f"browser processes left: {left()}"

    def _log_tail(self):
        try:
            return self.driver_log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    # -- protocol ---------------------------------------------------------
    def _call(self, method, path, body=None, timeout=CALL_TIMEOUT):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with _OPENER.open(req, timeout=timeout) as r:
                payload = json.loads(r.read())
        except urllib.error.HTTPError as e:
            with e:
                text = e.read().decode(errors="replace")
            try:
                v = json.loads(text)["value"]
                msg = f"{v.get('error')}: {v.get('message', '')[:2000]}"
            except (ValueError, KeyError, TypeError, AttributeError):
                msg = text[:2000]
            raise WebDriverError(f"{method} {path}: HTTP {e.code}: {msg}") from None
        return payload["value"]

    def _s(self, path, body=None, method=None):
        return self._call(method or ("GET" if body is None else "POST"),
                          f"/session/{self.session}{path}", body)

    def get(self, url):
        self._s("/url", {"url": url})

    def url(self):
        return self._s("/url")

    def title(self):
        return self._s("/title")

    def js(self, script, *args):
        return self._s("/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        return self._s("/execute/async", {"script": script, "args": list(args)})

    def find(self, css):
        return self._s("/element", {"using": "css selector", "value": css})[ELEMENT]

    def text(self, element):
        return self._s(f"/element/{element}/text")

    def type(self, element, text):
        self._s(f"/element/{element}/value", {"text": text})

    def click(self, element):
        self._s(f"/element/{element}/click", {})

    def click_and_load(self, element):
        """Click something that loads another page, and wait until that new
        document is complete (the old one is marked first: a click returns
        before a form's POST, its redirect and the next page are done)."""
        def new_page():
            try:
                return self.js("return !window.__lisod_old_page &&"
                               " document.readyState === 'complete'")
            except WebDriverError:      # asked while the old page was going away
                return False
        self.js("window.__lisod_old_page = true")
        self.click(element)
        assert wait_for(new_page, CALL_TIMEOUT), f"no new page loaded: still at {self.url()}"

    def screenshot(self, path):
        data = base64.b64decode(self._s("/screenshot"))
        Path(path).write_bytes(data)
        copy = os.environ.get("LISOD_SCREENSHOTS")
        if copy:
            Path(copy).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(copy) / Path(path).name)
        return data

    def fresh(self):
        """A blank page, no cookies, an empty cache: what one test did (a
        session cookie of 127.0.0.1, whatever the port; a cached file) is
        not seen by the next. Network.* through chromedriver's CDP command."""
        self.get("about:blank")
        for cmd in ("Network.clearBrowserCookies", "Network.clearBrowserCache"):
            self._s("/goog/cdp/execute", {"cmd": cmd, "params": {}})

    # -- what the page says -----------------------------------------------
    def loaded(self):
        """document.readyState is complete: the page and its subresources."""
        return wait_for(lambda: self.js("return document.readyState") == "complete",
                        CALL_TIMEOUT)

    def navigation(self):
        return self.js("const e = performance.getEntriesByType('navigation')[0];"
                       "return e ? {name: e.name, protocol: e.nextHopProtocol,"
                       " status: e.responseStatus, type: e.type,"
                       " redirects: e.redirectCount} : null;")

    def resources(self, favicon=False):
        """The page's resource entries. The browser asks for /favicon.ico
        (404 here) by itself, after the load or not, so that one is left out
        unless favicon is true (then it is in the list or not)."""
        res = self.js("return performance.getEntriesByType('resource').map(e =>"
                       " ({name: e.name, protocol: e.nextHopProtocol,"
                       "   status: e.responseStatus, initiator: e.initiatorType}));")
        return res if favicon else [r for r in res if not r["name"].endswith("/favicon.ico")]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """The servers' key and certificate, and the CA that issued them."""
    d = tmp_path_factory.mktemp("ca")
    key, cert = make_ca_and_cert(d)
    return key, cert, d / "ca.crt"


@pytest.fixture(scope="module")
def browser(tmp_path_factory, tls_files):
    """One browser for the module, trusting the test CA from its start; each
    test loads its own server's pages (another port: other connections)."""
    b = Browser(tmp_path_factory.mktemp("chromium"))
    try:
        trust_ca(b.home, tls_files[2])
        b.start()
        yield b
    finally:
        b.close()


@pytest.fixture(autouse=True)
def _fresh_browser(browser):
    browser.fresh()


# --------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------
ACCESS_RE = re.compile(r'^(\S+) \S+ \S+ \[[^]]+\] "(\S+) (\S+) (HTTP/[0-9.]+)" (\d{3}) ')


def access_lines(path):
    """(method, target, version, status) of each access log line."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        m = ACCESS_RE.match(line)
        assert m, f"not an access log line: {line!r}"
        assert m.group(1) == "127.0.0.1", line
        out.append((m.group(2), m.group(3), m.group(4), int(m.group(5))))
    return out


def assert_logged(path, wanted, version):
    """Every request in `wanted` ((method, target, status)) is in the access
    log with `version`, and every line of the log has that version (the only
    client is the browser)."""
    def have():
        lines = access_lines(path)
        return all((m, t, version, s) in lines for m, t, s in wanted) and lines
    lines = wait_for(have, LOG_TIMEOUT)
    assert lines, f"access log lacks {wanted} with {version}:\n{access_lines(path)}"
    assert all(v == version for _, _, v, _ in lines), lines


def png_info(data):
    """(width, height, distinct scanlines) of a PNG, checking its signature,
    every chunk's CRC, IHDR first, IEND last and that the image data inflate
    to exactly width x height pixels of 8-bit RGB or RGBA."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert len(body) == n and zlib.crc32(kind + body) == crc, (kind, pos)
        chunks.append(kind)
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND", chunks
    assert depth == 8 and color in (2, 6), (depth, color)
    stride = 1 + width * (3 if color == 2 else 4)
    raw = zlib.decompress(idat)
    assert len(raw) == height * stride, (len(raw), width, height)
    rows = {raw[i * stride:(i + 1) * stride] for i in range(height)}
    return width, height, len(rows)


def check_screenshot(browser, path):
    data = browser.screenshot(path)
    width, height, rows = png_info(Path(path).read_bytes())
    # the viewport, in CSS pixels at scale 1 (the window less its own frame)
    view = browser.js("return [window.innerWidth, window.innerHeight]")
    assert [width, height] == view, (width, height, view)
    assert width >= 800 and height >= 400, (width, height)
    # a blank page is a few identical scanlines; text and colour make many
    assert rows >= 40, f"{path}: only {rows} distinct scanlines: nothing rendered?"
    assert len(data) >= 4000, f"{path}: {len(data)} bytes"


# --------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------
@pytest.fixture
def tls_server(start_server, workdir, tls_files):
    """tls_server(*extra, root=None) -> (server, base URL, access log)."""
    def start(*extra, root=None):
        key, cert, _ = tls_files
        https = free_port()
        access = workdir / "access.log"
        srv = start_server("--https-port", str(https), "--key", str(key), "--cert", str(cert),
                           "--access-log", str(access), *extra, root=root)
        wait_port(https, srv.proc, timeout=10 * SLOW)
        return srv, f"https://127.0.0.1:{https}", access
    return start


def check_bundled_site(browser, base, protocol):
    browser.get(base + "/")
    assert browser.loaded()
    nav = browser.navigation()
    assert nav == {"name": base + "/", "protocol": protocol, "status": 200,
                   "type": "navigate", "redirects": 0}, nav
    res = browser.resources()
    assert [(r["name"], r["status"], r["initiator"]) for r in res] == \
        [(base + "/style.css", 200, "link")], res
    res = browser.resources(favicon=True)
    assert all(r["protocol"] == protocol for r in res), res
    # rendered: the title, the heading, the text, and the style sheet applied
    assert browser.title() == "lisod"
    assert browser.text(browser.find("h1")) == "It works."
    assert "served by lisod" in browser.text(browser.find("p"))
    assert browser.js("return getComputedStyle(document.querySelector('h1')).color") \
        == "rgb(0, 170, 85)"        # h1 { color: #0a5; } from style.css
    assert browser.js("return document.styleSheets.length") == 1


def test_bundled_site_over_h2(browser, tls_server, tmp_path):
    srv, base, access = tls_server(root=WWW)
    check_bundled_site(browser, base, "h2")
    check_screenshot(browser, tmp_path / "bundled-site.png")
    assert_logged(access, [("GET", "/", 200), ("GET", "/style.css", 200)], "HTTP/2.0")


def test_bundled_site_without_h2_is_http11(browser, tls_server, tmp_path):
    """--http2 no: no ALPN h2 offered, so the same page and its style sheet
    come over HTTP/1.1 (and the browser still renders it all)."""
    srv, base, access = tls_server("--http2", "no", root=WWW)
    check_bundled_site(browser, base, "http/1.1")
    check_screenshot(browser, tmp_path / "bundled-site-http11.png")
    assert_logged(access, [("GET", "/", 200), ("GET", "/style.css", 200)], "HTTP/1.1")


@pytest.fixture
def blog(tls_server, workdir):
    """The Flask blog as test_blog.py sets it up (its own copy, a fresh data
    directory), served over HTTPS; returns (server, base URL, access log)."""
    d = workdir / "blog"
    d.mkdir()
    for name in ("app.py", "wsgi_cgi.py"):
        shutil.copyfile(HERE / "blog" / name, d / name)
    (d / "wsgi_cgi.py").chmod(0o755)
    (d / "blog.json").write_text(json.dumps({"data_dir": str(workdir / "blog-data")}))
    srv, base, access = tls_server("--cgi", str(d / "wsgi_cgi.py"))
    yield srv, base, access
    assert wait_for(lambda: not children(srv.pid), 5 * SLOW), children(srv.pid)
    assert "Traceback" not in srv.log(), srv.log()[-3000:]


def entry_titles(browser):
    return browser.js("return Array.from(document.querySelectorAll('#entries li.entry h2'),"
                      " e => e.textContent)")


def assert_h2_page(browser, url, redirects=0):
    nav = browser.navigation()
    assert nav == {"name": url, "protocol": "h2", "status": 200, "type": "navigate",
                   "redirects": redirects}, nav
    res = browser.resources(favicon=True)
    assert all(r["protocol"] == "h2" for r in res), res


def test_flask_blog_over_h2(browser, blog, tmp_path):
    # Flask and the blog run by /usr/bin/python3 (their #! line), as in test_blog.py
    srv, base, access = blog

    # the list, not logged in
    browser.get(base + "/cgi/")
    assert browser.loaded()
    assert_h2_page(browser, base + "/cgi/")
    assert browser.title() == "Blog"
    assert browser.text(browser.find("h1")) == "Blog"
    assert entry_titles(browser) == ["Welcome"]
    assert browser.text(browser.find("#user")) == "log in"

    # follow the link to the form, log in: a form POST over h2 to CGI,
    # answered 302, the list fetched again with the session cookie
    browser.click_and_load(browser.find("#user a"))
    assert browser.title() == "Log in"
    assert_h2_page(browser, base + "/cgi/login")
    browser.type(browser.find("input[name=username]"), USER)
    browser.type(browser.find("input[name=password]"), PASSWORD)
    browser.click_and_load(browser.find("form button"))
    assert browser.title() == "Blog"
    assert browser.text(browser.find("#user")).startswith(f"Logged in as {USER}")
    assert_h2_page(browser, base + "/cgi/", redirects=1)

    # add an entry with the form; it is listed first
    browser.type(browser.find("form input[name=title]"), "Served over h2")
    browser.type(browser.find("form textarea[name=body]"), "Chromium <-> lisod & CGI")
    browser.click_and_load(browser.find("form button"))
    assert entry_titles(browser) == ["Served over h2", "Welcome"]
    assert browser.text(browser.find("#entries li.entry p")) == "Chromium <-> lisod & CGI"
    assert_h2_page(browser, base + "/cgi/", redirects=1)

    # a fetch() from the page: a resource entry of its own, over h2 as well
    got = browser.js_async("const done = arguments[arguments.length - 1];"
                           "fetch('/cgi/login').then(r => r.text().then(t =>"
                           " done([r.status, t.includes('name=\"password\"')])),"
                           " e => done(String(e)));")
    assert got == [200, True], got
    res = browser.resources()
    assert [r["name"] for r in res] == [base + "/cgi/login"], res
    assert res[0]["protocol"] == "h2" and res[0]["initiator"] == "fetch", res

    check_screenshot(browser, tmp_path / "flask-blog.png")
    assert_logged(access, [("GET", "/cgi/", 200), ("GET", "/cgi/login", 200),
                           ("POST", "/cgi/login", 302), ("POST", "/cgi/add", 302)],
                  "HTTP/2.0")


def test_untrusted_certificate_is_refused(browser, start_server, workdir):
    """The browser really verifies: a server with lisod's own throw-away
    self-signed certificate (not from our CA) is refused, so the h2 pages
    above were seen over connections it trusted through the test CA."""
    https = free_port()
    access = workdir / "access.log"
    srv = start_server("--https-port", str(https), "--access-log", str(access), root=WWW)
    wait_port(https, srv.proc, timeout=10 * SLOW)
    browser.get(f"https://127.0.0.1:{https}/")
    # Chromium's interstitial, nothing loaded from the server
    assert browser.title() == "Privacy error"
    assert "Your connection is not private" in browser.js("return document.body.innerText")
    nav = browser.navigation()
    assert (nav["protocol"], nav["status"]) == ("", 0), nav
    assert browser.resources(favicon=True) == []
    assert srv.stop() == 0                  # its access log is complete now
    assert access_lines(access) == []       # no request got through
