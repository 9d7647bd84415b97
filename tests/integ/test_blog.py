"""A real web application behind lisod's CGI, end to end: the Flask blog in
tests/integ/blog/ (app.py) run through our WSGI-to-CGI wrapper (wsgi_cgi.py,
parsed CGI output), started as `lisod --cgi <wrapper>`.

Each test copies the blog into its own workdir and writes blog.json next to
the wrapper, naming a fresh data directory: no state is shared between tests.
"""
import http.client
import http.cookiejar
import json
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

# The blog needs Flask (python3-flask, installed by scripts/deps.sh): without
# it this module fails to import, it is never skipped. The CGI programs run
# with /usr/bin/python3 (their #! line), so that is the one that must have it.
import flask  # noqa: F401

from httputil import SLOW, Conn, get, request, wait_for

pytestmark = pytest.mark.valgrind

HERE = Path(__file__).resolve().parent
T = 10.0 * SLOW
USER, PASSWORD = "alice", "wonderland-42"


@pytest.fixture
def blog(start_server, workdir):
    """A lisod whose /cgi is the blog; returns (server, base URL, data dir)."""
    d = workdir / "blog"
    d.mkdir()
    for name in ("app.py", "wsgi_cgi.py"):
        shutil.copyfile(HERE / "blog" / name, d / name)
    (d / "wsgi_cgi.py").chmod(0o755)
    data = workdir / "blog-data"
    (d / "blog.json").write_text(json.dumps({"data_dir": str(data)}))
    srv = start_server("--cgi", str(d / "wsgi_cgi.py"))
    yield srv, f"http://127.0.0.1:{srv.port}/cgi", data
    # every program run has been reaped before the server stops
    assert wait_for(lambda: not _children(srv.pid), 5 * SLOW)
    assert "Traceback" not in srv.log(), srv.log()[-3000:]


def _children(pid):
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                st = (p / "stat").read_text()
            except OSError:
                continue
            if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(p.name))
    return out


class Browser:
    """urllib with a cookie jar; records every response it saw."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def open(self, url, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(url, data=data, timeout=T) as r:
                return r.status, r.geturl(), r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.geturl(), e.headers, e.read().decode()

    def cookie(self, name):
        return next((c for c in self.jar if c.name == name), None)


def titles(page):
    return re.findall(r'<li class="entry"><h2>(.*?)</h2>', page)


def test_blog_login_add_entry(blog):
    srv, base, data = blog
    b = Browser()

    # the entry list, not logged in
    status, url, headers, page = b.open(base + "/")
    assert status == 200, page
    assert headers["Server"] == "Liso/1.0"
    assert headers["Content-Type"].startswith("text/html")
    assert titles(page) == ["Welcome"]
    assert "log in</a>" in page and "Logged in as" not in page
    assert b.cookie("session") is None

    # the login form
    status, _, _, page = b.open(base + "/login")
    assert status == 200 and 'name="password"' in page
    assert 'action="/cgi/login"' in page, "SCRIPT_NAME not honoured by the app"

    # adding without a session is refused
    status, _, _, page = b.open(base + "/add", {"title": "Sneaky", "body": "no"})
    assert status == 403, page

    # log in: form POST, 302 followed to the list, session cookie kept
    status, url, _, page = b.open(base + "/login", {"username": USER, "password": PASSWORD})
    assert status == 200, page
    assert url.rstrip("/") == base, f"login did not redirect to the list: {url}"
    assert f"Logged in as {USER}" in page
    session = b.cookie("session")
    assert session is not None and session.value, list(b.jar)

    # add an entry, redirected back to the list that shows it first
    status, url, _, page = b.open(base + "/add", {"title": "Served by lisod",
                                                   "body": "CGI & Flask <works>"})
    assert status == 200, page
    assert url.rstrip("/") == base
    assert titles(page) == ["Served by lisod", "Welcome"]
    assert "CGI &amp; Flask &lt;works&gt;" in page
    assert f"by {USER}" in page

    # a second entry, and the list still carries the session
    status, _, _, page = b.open(base + "/add", {"title": "Second", "body": "two"})
    assert status == 200 and titles(page) == ["Second", "Served by lisod", "Welcome"]

    # stored in this test's data dir only
    stored = json.loads((data / "entries.json").read_text())
    assert [e["title"] for e in stored] == ["Welcome", "Served by lisod", "Second"]

    # another visitor (no cookie) sees the entries but is not logged in
    other = Browser()
    status, _, _, page = other.open(base)
    assert status == 200 and titles(page) == ["Second", "Served by lisod", "Welcome"]
    assert "Logged in as" not in page

    # log out: the session no longer lets us add
    status, _, _, page = b.open(base + "/logout")
    assert status == 200 and "Logged in as" not in page
    status, _, _, _ = b.open(base + "/add", {"title": "After logout", "body": "x"})
    assert status == 403


def test_blog_wrong_password_refused(blog):
    srv, base, data = blog
    b = Browser()
    for user, password in ((USER, "wrong"), ("mallory", PASSWORD), ("", "")):
        status, url, _, page = b.open(base + "/login", {"username": user, "password": password})
        assert status == 401, page
        assert "Invalid username or password" in page
        assert "Logged in as" not in page
    # (the signed cookie's value is base64: a substring test on it could
    # never fail) a failed login leaves no session cookie at all
    assert b.cookie("session") is None, list(b.jar)
    status, _, _, _ = b.open(base + "/add", {"title": "Nope", "body": "x"})
    assert status == 403
    status, _, _, page = b.open(base + "/")
    assert titles(page) == ["Welcome"]
    assert not (data / "entries.json").exists()


def test_blog_raw_protocol(blog):
    """The same flow on one raw keep-alive connection: parsed CGI output gives
    a real 302 with Location and Set-Cookie, framed so the connection lives."""
    srv, base, _ = blog
    with Conn.open(srv.port, timeout=T) as c:
        form = urllib.parse.urlencode({"username": USER, "password": PASSWORD}).encode()
        c.send(request("POST", "/cgi/login", [
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(form)}"], form))
        r = c.read_response(timeout=T)
        assert r.status == 302, r
        # the program's Location, relayed verbatim (Werkzeug >= 2.1 sends it relative)
        assert r.header("location") == "/cgi/", r
        assert r.header("server") == "Liso/1.0" and r.header("date")
        cookie = r.header("set-cookie")
        assert cookie and cookie.startswith("session="), r
        assert r.keep_alive, "a framed CGI response keeps the connection"
        session = cookie.split(";", 1)[0]

        c.send(get("/cgi/", f"Cookie: {session}"))
        r = c.read_response(timeout=T)
        assert r.status == 200 and f"Logged in as {USER}".encode() in r.body, r

        form = urllib.parse.urlencode({"title": "Raw entry", "body": "over one socket"}).encode()
        c.send(request("POST", "/cgi/add", [
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(form)}", f"Cookie: {session}"], form))
        r = c.read_response(timeout=T)
        assert r.status == 302, r

        c.send(request("HEAD", "/cgi/", [f"Cookie: {session}"]))
        h = c.read_response(head=True, timeout=T)
        assert h.status == 200 and h.body == b""

        c.send(get("/cgi/"))
        r = c.read_response(timeout=T)
        assert r.status == 200 and b"Raw entry" in r.body
        assert b"Logged in as" not in r.body

    # and with http.client, for good measure
    hc = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=T)
    try:
        hc.request("GET", "/cgi/login")
        resp = hc.getresponse()
        assert resp.status == 200 and b'name="username"' in resp.read()
        hc.request("GET", "/cgi/nope")
        resp = hc.getresponse()
        assert resp.status == 404
        resp.read()
    finally:
        hc.close()
