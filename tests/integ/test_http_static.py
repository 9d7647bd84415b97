"""Static files: headers, HEAD, traversal, directories, MIME, conditional and
range requests, large files, POST, access log. Replayed over HTTP/2 with
LISOD_CLIENT=h2 (httputil), but for the tests marked http1_only."""
import hashlib
import http.client
import os
import re
import subprocess
import time
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from conftest import LISOD
from httputil import (CURL_PROTO, IDLE, LOG_PROTOCOL, SLOW, VALGRIND, Conn, INDEX_BODY,
                      OLD_MTIME, SECRET, SUB_INDEX_BODY, assert_common_headers, assert_date_now,
                      assert_file_headers, fetch, get, http1_only, http_date, make_docroot,
                      parse_http_date, raw_exchange, request, timed_fetch, wait_for)

pytestmark = pytest.mark.valgrind


@pytest.fixture
def www(workdir):
    return make_docroot(workdir)


@pytest.fixture
def srv(start_server, www):
    return start_server()


# --- required headers ----------------------------------------------------------

def test_file_response_headers(srv, www):
    r = fetch(srv.port, "/index.html")
    assert r.status == 200 and r.body == INDEX_BODY
    assert_file_headers(r, www / "index.html")
    assert r.header("content-type").split(";")[0].strip() == "text/html"
    assert int(r.header("content-length")) == len(INDEX_BODY)
    assert r.header("accept-ranges") == "bytes"
    assert r.keep_alive


def test_last_modified_matches_known_mtime(aged):
    """Asked after IDLE seconds idle: the file's mtime, not a clock."""
    r = fetch(aged.port, "/old.html")
    assert r.status == 200
    assert r.header("last-modified") == "Wed, 01 Jan 2020 00:00:00 GMT"
    assert parse_http_date(r.header("last-modified")).timestamp() == OLD_MTIME


@pytest.mark.parametrize("req,status", [
    pytest.param(get("/missing"), 404, id="404"),
    pytest.param(request("BREW", "/"), 501, id="501"),
    pytest.param(b"GET / HTTP/1.1\r\n\r\n", 400, id="400-no-host",
                 marks=http1_only("an HTTP/1.1 request without Host (HTTP/2 without "
                                  ":authority is test_h2.py's)")),
    pytest.param(get("/", version="HTTP/2.0"), 505, id="505",
                 marks=http1_only("the version of an HTTP/1.1 request line")),
    pytest.param(get("/sub"), 301, id="301")])
def test_error_and_redirect_responses_have_required_headers(srv, req, status):
    r = raw_exchange(srv.port, req)[0]
    assert r.status == status, r
    assert_common_headers(r)
    assert int(r.header("content-length")) == len(r.body)
    if r.status >= 400:
        assert len(r.body) > 0, "error responses carry a short body"


def test_date_header_is_current_and_rfc1123(aged, workdir):
    """After IDLE seconds of idleness: Date is the current second (GET, HEAD,
    304, 404), Last-Modified is each file's mtime (written before the server
    started, so IDLE seconds before Date), and If-Modified-Since is judged
    against the mtime, not against the clock."""
    index = workdir / "www" / "index.html"
    mtime = int(index.stat().st_mtime)
    with Conn.open(aged.port) as c:
        before = time.time()
        c.send(get("/index.html"))
        r = c.read_response()
        assert_date_now(r, before, time.time())
        assert r.status == 200 and r.body == INDEX_BODY
        assert parse_http_date(r.header("last-modified")).timestamp() == mtime
        assert parse_http_date(r.header("date")).timestamp() >= mtime + IDLE - 1

        for method, target, headers, status in [
                ("HEAD", "/index.html", [], 200),
                ("GET", "/old.html", [], 200),
                ("GET", "/missing.html", [], 404),
                # not modified since its own Last-Modified, a second after
                # it, or now; modified since a second before it
                ("GET", "/index.html", ["If-Modified-Since: " + http_date(mtime)], 304),
                ("GET", "/index.html", ["If-Modified-Since: " + http_date(mtime + 1)], 304),
                ("GET", "/index.html", ["If-Modified-Since: " + http_date(time.time())], 304),
                ("GET", "/index.html", ["If-Modified-Since: " + http_date(mtime - 1)], 200)]:
            before = time.time()
            c.send(request(method, target, headers))
            r = c.read_response(head=method == "HEAD")
            assert_date_now(r, before, time.time())
            assert r.status == status, (method, target, headers, r)
            if target == "/old.html":
                assert r.header("last-modified") == "Wed, 01 Jan 2020 00:00:00 GMT"
            elif status != 404:
                assert parse_http_date(r.header("last-modified")).timestamp() == mtime, r


# --- HEAD -----------------------------------------------------------------------

@pytest.mark.parametrize("path,status", [("/index.html", 200), ("/data.bin", 200), ("/sub/", 200),
                                         ("/missing", 404), ("/sub", 301)])
def test_head_equals_get_without_body(srv, path, status):
    with Conn.open(srv.port) as c:
        c.send(request("HEAD", path) + get(path) + request("HEAD", path))
        h1 = c.read_response(head=True)
        g = c.read_response()          # parses only if HEAD sent zero body bytes
        h2 = c.read_response(head=True)
        assert c.is_open(0.3), "stray bytes or close after HEAD"

    def strip(r):
        return [(k.lower(), v) for k, v in r.header_list if k.lower() != "date"]
    assert strip(h1) == strip(g) == strip(h2)
    assert h1.status == g.status == h2.status == status, (h1, g)
    assert int(h1.header("content-length")) == len(g.body)


# --- path traversal -------------------------------------------------------------

# (target, status) — docs/security.md: ".." above the root and %00 are 400;
# a symlink out of the root is refused (403, with openat2 and with the
# fallback walk alike); a backslash or a doubly encoded dot is an ordinary
# character of a name that does not exist (404).
TRAVERSALS = [("/../secret.txt", 400), ("/../secret/secret.txt", 400),
              ("/%2e%2e/secret.txt", 400), ("/%2E%2E/secret/secret.txt", 400),
              ("/%2e%2e%2fsecret.txt", 400), ("/..%2fsecret.txt", 400),
              ("/..%2Fsecret%2Fsecret.txt", 400), ("/%00", 400), ("/index.html%00.txt", 400),
              ("/..\\secret.txt", 404), ("/..%5csecret.txt", 404),
              ("/a/../../secret.txt", 400), ("/sub/../../secret.txt", 400),
              ("/./../secret.txt", 400), ("//../secret.txt", 400),
              ("/sub/%2e%2e/%2e%2e/secret.txt", 400), ("/%252e%252e/secret.txt", 404),
              ("/outlink", 403), ("/outdir/secret.txt", 403), ("/outdir/", 403),
              ("/outrel", 403), ("/sub/../outlink", 403), ("/%6futlink", 403),
              ("/outdir/../outdir/secret.txt", 403),
              ("/..", 400), ("/../", 400), ("/.%2e/secret.txt", 400)]


@pytest.mark.parametrize("target,status", TRAVERSALS, ids=[t for t, _ in TRAVERSALS])
def test_traversal_never_leaks(srv, target, status):
    resps, conn = raw_exchange(srv.port, get(target), keep=True)
    with conn:
        r = resps[0]
        assert SECRET.strip() not in r.body
        assert r.status == status, (target, r)
        # the response framing is sound and nothing follows
        assert not conn.buf


def test_traversal_with_absolute_form_and_host(srv):
    """The absolute form is served (RFC 9112 §3.2.2), its path confined like
    any other: ".." above the root is 400 there too."""
    for target in ("http://localhost/../secret.txt", "http://localhost/%2e%2e/secret.txt"):
        r = raw_exchange(srv.port, get(target))[0]
        assert SECRET.strip() not in r.body
        assert r.status == 400, (target, r)
    r = raw_exchange(srv.port, get("http://localhost/index.html"))[0]
    assert r.status == 200 and r.body == INDEX_BODY, r


def test_symlink_inside_root_still_served(srv, www):
    (www / "inlink.html").symlink_to("index.html")          # relative, inside
    (www / "sub" / "uplink.html").symlink_to("../f1.txt")   # relative, inside
    # Under valgrind (no openat2 support -> ENOSYS) lisod takes its
    # component-by-component fallback, which refuses every symlink: 403 there
    # (docs/security.md).
    for target, body in (("/inlink.html", INDEX_BODY), ("/sub/uplink.html", b"file number 1\n")):
        r = fetch(srv.port, target)
        if VALGRIND:
            assert r.status == 403 and body not in r.body, r
        else:
            assert r.status == 200 and r.body == body, r
    # an absolute symlink to a file inside the root: RESOLVE_BENEATH refuses
    # absolute links (docs/security.md), and so does the fallback: 403
    (www / "abslink.html").symlink_to(www / "index.html")
    r = fetch(srv.port, "/abslink.html")
    assert r.status == 403 and INDEX_BODY not in r.body, r


# --- directories ----------------------------------------------------------------

def test_directory_index(srv):
    r = fetch(srv.port, "/sub/")
    assert r.status == 200 and r.body == SUB_INDEX_BODY
    assert r.header("content-type").split(";")[0] == "text/html"
    r = fetch(srv.port, "/")
    assert r.status == 200 and r.body == INDEX_BODY


def test_directory_without_slash_redirects(srv):
    r = fetch(srv.port, "/sub")
    assert r.status == 301
    assert_common_headers(r)
    loc = r.header("location")
    assert loc is not None and urlsplit(loc).path == "/sub/", loc
    # the redirect must not loop
    r2 = fetch(srv.port, urlsplit(loc).path)
    assert r2.status == 200 and r2.body == SUB_INDEX_BODY


def test_directory_without_index_is_404(srv):
    r = fetch(srv.port, "/empty/")
    assert r.status == 404
    assert b"<a href" not in r.body.lower(), "no directory listings"


def test_percent_encoded_name(srv, www):
    (www / "with space.txt").write_bytes(b"spaced\n")
    r = fetch(srv.port, "/with%20space.txt")
    assert r.status == 200 and r.body == b"spaced\n"
    r = fetch(srv.port, "/f%31.txt")
    assert r.status == 200 and r.body == b"file number 1\n"


def test_bad_percent_escape_is_400(srv):
    for t in ("/f%zz.txt", "/f%1", "/%"):
        assert fetch(srv.port, t).status == 400, t


# --- MIME -----------------------------------------------------------------------

# (file name, the one Content-Type the server sends; spec §3 names most)
MIME = [("a.html", "text/html"), ("a.htm", "text/html"), ("a.css", "text/css"),
        ("a.js", "text/javascript"),
        ("a.png", "image/png"), ("a.jpg", "image/jpeg"), ("a.jpeg", "image/jpeg"),
        ("a.gif", "image/gif"), ("a.svg", "image/svg+xml"),
        ("a.json", "application/json"), ("a.txt", "text/plain"),
        ("a.pdf", "application/pdf"),
        ("a.ico", "image/x-icon"),
        ("a.wasm", "application/wasm"), ("A.HTML", "text/html"),
        ("a.lisodunknownext", "application/octet-stream"),
        ("noextension", "application/octet-stream"),
        (".hidden", "application/octet-stream")]


@pytest.mark.parametrize("name,ctype", MIME, ids=[m[0] for m in MIME])
def test_mime_types(start_server, www, name, ctype):
    (www / name).write_bytes(b"mime test " + name.encode())
    # A name starting with '.' is hidden (404) unless dotfiles are served.
    srv = start_server(*(("--dotfiles", "yes") if name.startswith(".") else ()))
    r = fetch(srv.port, "/" + name)
    assert r.status == 200 and r.body == b"mime test " + name.encode()
    assert r.header("content-type").split(";")[0].strip().lower() == ctype, r.header("content-type")


# --- conditional and range ------------------------------------------------------

def test_etag_if_none_match(srv, www):
    r = fetch(srv.port, "/data.bin")
    etag = r.header("etag")
    assert etag and re.match(r'^(W/)?"[^"]*"$', etag), etag
    with Conn.open(srv.port) as c:
        c.send(get("/data.bin", f"If-None-Match: {etag}") + get("/f1.txt"))
        r304 = c.read_response()
        nxt = c.read_response()       # parses only if the 304 had no body bytes
        assert r304.status == 304 and r304.body == b""
        assert_common_headers(r304)
        assert r304.header("etag") == etag
        cl = r304.header("content-length")
        assert cl is None or int(cl) == len(www.joinpath("data.bin").read_bytes())
        assert nxt.status == 200 and nxt.body == b"file number 1\n"
    # a list containing it, and a non-matching tag
    assert fetch(srv.port, "/data.bin", headers=[f'If-None-Match: "nope", {etag}']).status == 304
    r = fetch(srv.port, "/data.bin", headers=['If-None-Match: "nope"'])
    assert r.status == 200 and r.body == www.joinpath("data.bin").read_bytes()


def test_etag_changes_when_file_changes(srv, www):
    e1 = fetch(srv.port, "/f1.txt").header("etag")
    (www / "f1.txt").write_bytes(b"changed content, different size\n")
    os.utime(www / "f1.txt", (OLD_MTIME + 100, OLD_MTIME + 100))
    # The open-file cache may serve the old validator for at most a second
    # (inotify usually drops the entry at once; the 1 s revalidation bounds
    # it where inotify is unavailable, e.g. under valgrind).
    changed_at = time.monotonic()
    while True:
        r = fetch(srv.port, "/f1.txt", headers=[f"If-None-Match: {e1}"])
        if r.status != 304 or time.monotonic() - changed_at > 1.5 * SLOW:
            break
        time.sleep(0.05)
    assert r.status == 200 and r.body == b"changed content, different size\n", \
        f"still {r.status} {time.monotonic() - changed_at:.2f} s after the change"
    assert r.header("etag") != e1


def test_if_modified_since(srv, www):
    r = fetch(srv.port, "/index.html")
    lm = r.header("last-modified")
    r = fetch(srv.port, "/index.html", headers=[f"If-Modified-Since: {lm}"])
    assert r.status == 304 and r.body == b""
    assert_common_headers(r)
    # older date -> full response
    r = fetch(srv.port, "/old.html", headers=["If-Modified-Since: " + http_date(OLD_MTIME - 86400)])
    assert r.status == 200 and r.body == b"<p>old</p>\n"
    # garbage date is ignored
    r = fetch(srv.port, "/old.html", headers=["If-Modified-Since: yesterday-ish"])
    assert r.status == 200
    # If-None-Match takes precedence over If-Modified-Since
    r = fetch(srv.port, "/old.html", headers=['If-None-Match: "x"',
                                              "If-Modified-Since: " + http_date(OLD_MTIME + 5)])
    assert r.status == 200


def test_range_requests(srv, www):
    data = (www / "data.bin").read_bytes()
    n = len(data)
    r = fetch(srv.port, "/data.bin", headers=["Range: bytes=0-9"])
    assert r.status == 206 and r.body == data[:10]
    assert r.header("content-range") == f"bytes 0-9/{n}"
    assert r.header("content-length") == "10"
    assert_file_headers(r, www / "data.bin")
    r = fetch(srv.port, "/data.bin", headers=["Range: bytes=-5"])
    assert r.status == 206 and r.body == data[-5:]
    assert r.header("content-range") == f"bytes {n - 5}-{n - 1}/{n}"
    r = fetch(srv.port, "/data.bin", headers=["Range: bytes=1000-"])
    assert r.status == 206 and r.body == data[1000:]
    r = fetch(srv.port, "/data.bin", headers=["Range: bytes=1000-99999"])
    assert r.status == 206 and r.body == data[1000:]
    assert r.header("content-range") == f"bytes 1000-{n - 1}/{n}"
    r = fetch(srv.port, "/data.bin", headers=["Range: bytes=100000-"])
    assert r.status == 416
    assert_common_headers(r)
    assert r.header("content-range") == f"bytes */{n}"
    # HEAD with Range: same headers, no body
    with Conn.open(srv.port) as c:
        c.send(request("HEAD", "/data.bin", ["Range: bytes=0-9"]) + get("/f1.txt"))
        h = c.read_response(head=True)
        assert h.status == 206 and h.header("content-length") == "10"
        assert c.read_response().body == b"file number 1\n"


def test_accept_ranges_present(srv):
    for p in ("/index.html", "/data.bin", "/sub/"):
        r = fetch(srv.port, p)
        assert r.status == 200 and r.header("accept-ranges") == "bytes", (p, r)


def test_if_range(srv, www):
    data = (www / "data.bin").read_bytes()
    etag = fetch(srv.port, "/data.bin").header("etag")
    r = fetch(srv.port, "/data.bin", headers=["Range: bytes=0-3", f"If-Range: {etag}"])
    assert r.status == 206 and r.body == data[:4]
    r = fetch(srv.port, "/data.bin", headers=["Range: bytes=0-3", 'If-Range: "stale"'])
    assert r.status == 200 and r.body == data


# --- large file -----------------------------------------------------------------

LARGE = 6815744  # 6.5 MiB


@pytest.fixture
def large(www):
    data = os.urandom(LARGE)
    (www / "large.bin").write_bytes(data)
    return hashlib.sha256(data).hexdigest()


@http1_only("http.client is an HTTP/1.1 client (the 6.5 MB file goes over h2 in "
            "test_large_file_curl and test_h2.py)")
def test_large_file_http_client(srv, large):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30 * SLOW)
    try:
        for _ in range(2):                # twice on one keep-alive connection
            conn.request("GET", "/large.bin")
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200
            assert int(resp.getheader("Content-Length")) == LARGE
            assert len(body) == LARGE and hashlib.sha256(body).hexdigest() == large
    finally:
        conn.close()


def test_large_file_curl(srv, large, workdir):
    out = workdir / "curl.out"
    p = subprocess.run(["curl", *CURL_PROTO, "-sS", "--max-time", str(60 * SLOW), "-o", str(out),
                        "-w", "%{http_code}",
                        f"http://127.0.0.1:{srv.port}/large.bin"],
                       capture_output=True, text=True, timeout=90 * SLOW)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "200"
    assert hashlib.sha256(out.read_bytes()).hexdigest() == large


@http1_only("reads the raw socket slowly")
def test_large_file_slow_reader(srv, large):
    """A client that stalls, then reads in small pieces, still gets every byte.
    (No tiny SO_RCVBUF: that makes loopback TCP itself crawl.)"""
    with Conn.open(srv.port, timeout=30 * SLOW) as c:
        c.send(get("/large.bin"))
        time.sleep(1.0)
        c.sock.settimeout(10)
        head_and_some = b""
        for _ in range(200):                     # ~3 MB in 16 KiB reads
            d = c.sock.recv(16384)
            assert d
            head_and_some += d
            time.sleep(0.001)
        c.buf = head_and_some
        r = c.read_response(timeout=60 * SLOW)
        assert r.status == 200 and hashlib.sha256(r.body).hexdigest() == large


def test_large_file_head(srv, large):
    with Conn.open(srv.port) as c:
        c.send(request("HEAD", "/large.bin") + get("/f1.txt"))
        h = c.read_response(head=True)
        assert h.status == 200 and int(h.header("content-length")) == LARGE
        nxt = c.read_response()
        assert nxt.body == b"file number 1\n", "HEAD leaked body bytes"


def test_large_file_range_tail(srv, large, www):
    data = (www / "large.bin").read_bytes()
    r = fetch(srv.port, "/large.bin", headers=[f"Range: bytes={LARGE - 100000}-"])
    assert r.status == 206 and r.body == data[-100000:]


# --- POST -----------------------------------------------------------------------

def test_post_static_with_body(srv):
    with Conn.open(srv.port) as c:
        c.send(request("POST", "/index.html", ["Content-Length: 11",
                                               "Content-Type: text/plain"], b"hello world")
               + get("/f1.txt"))
        r = c.read_response()
        assert r.status == 200 and r.body == INDEX_BODY
        assert c.read_response().body == b"file number 1\n"


def test_post_large_body_in_pieces(srv):
    body = os.urandom(300000)
    with Conn.open(srv.port, timeout=20 * SLOW) as c:
        c.send(request("POST", "/f2.txt", [f"Content-Length: {len(body)}"]))
        for i in range(0, len(body), 65536):
            c.send(body[i:i + 65536])
        c.send(get("/f1.txt"))
        r = c.read_response(timeout=20 * SLOW)
        assert r.status == 200 and r.body == b"file number 2\n" * 2
        assert c.read_response().body == b"file number 1\n"


def test_post_chunked(srv):
    chunked = b"4\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n"
    with Conn.open(srv.port) as c:
        c.send(request("POST", "/index.html", ["Transfer-Encoding: chunked"], chunked)
               + get("/f1.txt"))
        r = c.read_response()
        assert r.status == 200 and r.body == INDEX_BODY
        assert c.read_response().body == b"file number 1\n"


def test_post_chunked_over_max_body_is_413(start_server, www):
    srv = start_server("--max-body", "100")
    chunk = b"a" * 80
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 3 + b"0\r\n\r\n"
    r = raw_exchange(srv.port, request("POST", "/index.html", ["Transfer-Encoding: chunked"], body))[0]
    assert r.status == 413
    assert_common_headers(r)


def test_post_curl_expect_100_continue(srv, workdir):
    payload = workdir / "payload.bin"
    payload.write_bytes(os.urandom(2 * 1024 * 1024))
    p = subprocess.run(["curl", *CURL_PROTO, "-sS", "--max-time", str(30 * SLOW),
                        "-H", "Expect: 100-continue",
                        "--data-binary", f"@{payload}", "-o", str(workdir / "post.out"),
                        "-w", "%{http_code}", f"http://127.0.0.1:{srv.port}/index.html"],
                       capture_output=True, text=True, timeout=60 * SLOW)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "200"
    assert (workdir / "post.out").read_bytes() == INDEX_BODY


@http1_only("100 Continue is HTTP/1.1's: an HTTP/2 body waits on flow control "
            "(the server drops Expect)")
def test_expect_100_continue_raw(srv):
    """The server answers Expect: 100-continue with 100 Continue (the client
    holds its body back until then), and the final response follows."""
    with Conn.open(srv.port) as c:
        c.send(request("POST", "/f1.txt", ["Content-Length: 5", "Expect: 100-continue"]))
        interim = c.read_response(skip_interim=False)
        assert interim.status == 100 and interim.body == b"", interim
        c.send(b"hello")
        final = c.read_response(skip_interim=False)
        assert final.status == 200 and final.body == b"file number 1\n", final
        assert final.keep_alive


# --- access log -----------------------------------------------------------------

CLF = re.compile(r'^(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] '
                 r'"(?P<req>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
                 r'"(?P<ref>[^"]*)" "(?P<ua>[^"]*)"$')


def test_access_log_combined_format(srv, workdir):
    ua = "lisod-integ-agent/1.0"
    fetch(srv.port, "/index.html", headers=[f"User-Agent: {ua}", "Referer: http://ref.example/"])
    fetch(srv.port, "/missing.html", headers=[f"User-Agent: {ua}-404"])
    log = workdir / "lisod.log"

    def lines():
        if not log.exists():
            return []
        return [m for m in map(CLF.match, log.read_text(errors="replace").splitlines())
                if m and m.group("ua").startswith(ua)]
    found = wait_for(lambda: len(lines()) >= 2, timeout=3.0 * SLOW)
    assert found, f"access log lines missing:\n{log.read_text(errors='replace')[-2000:] if log.exists() else '(no log)'}"
    ok, missing = lines()[0], lines()[1]
    assert ok.group("host") == "127.0.0.1"
    assert ok.group("req") == f"GET /index.html {LOG_PROTOCOL}"
    assert ok.group("status") == "200"
    assert ok.group("bytes") == str(len(INDEX_BODY))
    assert ok.group("ref") == "http://ref.example/"
    assert ok.group("ua") == ua
    assert re.match(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$", ok.group("time"))
    assert missing.group("req") == f"GET /missing.html {LOG_PROTOCOL}"
    assert missing.group("status") == "404"
    assert missing.group("ua") == ua + "-404"


def test_access_log_time_is_the_request_time(aged, workdir):
    """The Combined Log Format timestamp of a request made after IDLE seconds
    of idleness is the current second (a log clock frozen at start or at the
    last flush would not be). The log is flushed once a second."""
    ua = "lisod-integ-clock/1.0"
    r, before, after = timed_fetch(aged.port, "/index.html", headers=[f"User-Agent: {ua}"])
    assert r.status == 200
    log = workdir / "lisod.log"

    def line():
        for m in map(CLF.match, log.read_text(errors="replace").splitlines()):
            if m and m.group("ua") == ua:
                return m
    m = wait_for(line, timeout=3.0 * SLOW)
    assert m, f"access log line missing:\n{log.read_text(errors='replace')[-2000:]}"
    assert m.group("req") == f"GET /index.html {LOG_PROTOCOL}" and m.group("status") == "200"
    assert re.match(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$", m.group("time")), \
        m.group("time")
    logged = datetime.strptime(m.group("time"), "%d/%b/%Y:%H:%M:%S %z").timestamp()
    assert int(before) - 1 <= logged <= after + 1, \
        (m.group("time"), http_date(before), http_date(after))


def test_error_log_startup_banner(srv, workdir):
    """Spec §3: a startup banner with name, version and pid, on one line."""
    version = re.search(r"\d+\.\d+(\.\d+)*", subprocess.run(
        [LISOD, "--version"], capture_output=True, text=True, timeout=10).stdout).group(0)
    log = workdir / "lisod.log"

    def banner():
        for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
            if (re.search(r"\blisod\b", line) and re.search(rf"(?<![\d.]){re.escape(version)}(?![\d.])", line)
                    and re.search(rf"(?<!\d){srv.pid}(?!\d)", line)):
                return line
    line = wait_for(banner, timeout=3.0 * SLOW)
    assert line, f"no banner naming lisod {version} and pid {srv.pid}:\n" + \
        (log.read_text(errors="replace")[-2000:] if log.exists() else "(no log file)")
