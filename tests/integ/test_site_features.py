"""What a static site needs (issue 14), against the real binary: precompressed
sidecars chosen by Accept-Encoding, caching and extra headers, HSTS and the
HTTPS redirect, CORS, error pages and the fallback page, directory listings,
hidden files, charset, and RFC 9110's remaining preconditions and several
ranges.

Every assertion names the exact status and the exact header value; bodies
are compared byte for byte. Time-derived values (Expires) are checked on a
server that has sat idle first, so a clock frozen at start cannot pass.
"""
import gzip
import json
import os
import ssl
import time

import pytest

from conftest import free_port
from httputil import Conn, age, fetch, parse_http_date, request, tcp_connect

V = pytest.mark.valgrind

TEXT = b"hello, compressed world\n" * 40          # 960 bytes
GZ = gzip.compress(TEXT, mtime=0)
BR = b"BR-sidecar-bytes"                            # never decoded: which file came back
ZST = b"ZST-sidecar-bytes"


def write(path, data, mtime=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


@pytest.fixture
def site(workdir):
    """A document root with t.txt and its three sidecars (1 s newer), a
    directory with an index and its .gz, hidden files, error pages."""
    www = workdir / "www"
    now = time.time() - 10
    write(www / "index.html", b"<html>home</html>\n", now)
    write(www / "t.txt", TEXT, now)
    write(www / "t.txt.gz", GZ, now + 1)
    write(www / "t.txt.br", BR, now + 1)
    write(www / "t.txt.zst", ZST, now + 1)
    write(www / "docs" / "index.html", TEXT, now)
    write(www / "docs" / "index.html.gz", GZ, now + 1)
    write(www / "style.css", b"body{}\n", now)
    write(www / "app.js", b"let a;\n", now)
    write(www / "pic.png", b"\x89PNG\r\n\x1a\n", now)
    write(www / "assets" / "deep" / "x.js", b"x\n", now)
    write(www / ".env", b"SECRET=1\n", now)
    write(www / ".git" / "config", b"[core]\n", now)
    write(www / "sub" / ".hidden" / "f.txt", b"h\n", now)
    write(www / ".well-known" / "acme-challenge" / "tok", b"token\n", now)
    write(www / "404.html", b"<h1>custom not found</h1>\n", now)
    write(www / "about.html", b"about page\n", now)
    return www


def get(port, path, *headers, method="GET", connect=tcp_connect):
    return fetch(port, path, method=method, headers=headers, connect=connect)


# ---- 1. precompressed sidecars ------------------------------------------------

# (Accept-Encoding, or None for no field) -> the coding expected back.
NEGOTIATION = [
    (None, None),
    ("", None),
    ("gzip", "gzip"),
    ("x-gzip", "gzip"),
    ("br", "br"),
    ("zstd", "zstd"),
    ("gzip, br", "br"),                      # equal q: br preferred
    ("gzip, zstd", "zstd"),
    ("br;q=0.5, gzip", "gzip"),              # q-values honoured
    ("br;q=0.5, gzip;q=0.8, zstd;q=0.1", "gzip"),
    ("gzip;q=0", None),
    ("gzip;q=0, br;q=0", None),
    ("*", "br"),
    ("*;q=0.5, gzip", "gzip"),
    ("*;q=0, identity", None),
    ("identity;q=0, gzip;q=0.1", "gzip"),
    ("identity", None),
    ("compress, deflate", None),
    ("GZIP;Q=1.0", "gzip"),
    ("gzip;q=2", None),                      # invalid qvalue: the element is ignored
]

BODY = {None: TEXT, "gzip": GZ, "br": BR, "zstd": ZST}


@pytest.mark.parametrize("ae,coding", NEGOTIATION, ids=[repr(a) for a, _ in NEGOTIATION])
def test_sidecar_chosen_by_accept_encoding(start_server, site, ae, coding):
    srv = start_server()
    headers = () if ae is None else (f"Accept-Encoding: {ae}",)
    r = get(srv.port, "/t.txt", *headers)
    assert r.status == 200
    assert r.header("content-encoding") == coding
    assert r.header("vary") == "Accept-Encoding"
    assert r.header("content-type") == "text/plain; charset=utf-8"
    assert r.body == BODY[coding]
    assert r.header("content-length") == str(len(BODY[coding]))


@V
def test_each_representation_has_its_own_etag(start_server, site):
    srv = start_server()
    tags = {c: get(srv.port, "/t.txt", f"Accept-Encoding: {c}").header("etag")
            for c in ("identity", "gzip", "br", "zstd")}
    assert len(set(tags.values())) == 4, tags


@V
def test_range_304_and_head_on_the_compressed_representation(start_server, site):
    srv = start_server()
    ae = "Accept-Encoding: gzip"
    full = get(srv.port, "/t.txt", ae)
    tag = full.header("etag")
    r = get(srv.port, "/t.txt", ae, "Range: bytes=0-9")
    assert r.status == 206
    assert r.header("content-encoding") == "gzip"
    assert r.header("content-range") == f"bytes 0-9/{len(GZ)}"
    assert r.body == GZ[:10]
    r = get(srv.port, "/t.txt", ae, f"If-None-Match: {tag}")
    assert r.status == 304
    assert r.header("vary") == "Accept-Encoding"
    assert r.header("etag") == tag
    assert r.body == b""
    # The gzip tag does not validate the identity representation.
    r = get(srv.port, "/t.txt", f"If-None-Match: {tag}")
    assert r.status == 200 and r.body == TEXT
    h = get(srv.port, "/t.txt", ae, method="HEAD")
    assert h.status == 200 and h.body == b""
    for name in ("content-encoding", "content-length", "etag", "vary", "content-type"):
        assert h.header(name) == full.header(name), name


def test_a_stale_sidecar_is_ignored(start_server, site):
    write(site / "t.txt.gz", GZ, (site / "t.txt").stat().st_mtime - 5)
    write(site / "t.txt.br", BR, (site / "t.txt").stat().st_mtime - 5)
    os.unlink(site / "t.txt.zst")
    srv = start_server()
    r = get(srv.port, "/t.txt", "Accept-Encoding: gzip, br, zstd")
    assert r.status == 200
    assert r.header("content-encoding") is None
    assert r.body == TEXT


def test_a_sidecar_made_later_is_found_within_a_second(start_server, site):
    for s in ("gz", "br", "zst"):
        os.unlink(site / f"t.txt.{s}")
    srv = start_server("--compress", "no")
    r = get(srv.port, "/t.txt", "Accept-Encoding: gzip")
    assert r.header("content-encoding") is None and r.header("vary") is None
    write(site / "t.txt.gz", GZ)
    time.sleep(1.2)
    r = get(srv.port, "/t.txt", "Accept-Encoding: gzip")
    assert r.header("content-encoding") == "gzip" and r.body == GZ


def test_the_sidecar_itself_is_a_plain_file(start_server, site):
    srv = start_server()
    r = get(srv.port, "/t.txt.gz", "Accept-Encoding: gzip")
    assert r.status == 200
    assert r.header("content-type") == "application/gzip"
    assert r.header("content-encoding") is None
    assert r.body == GZ


def test_a_directory_index_has_its_sidecar_too(start_server, site):
    srv = start_server()
    r = get(srv.port, "/docs/", "Accept-Encoding: gzip")
    assert r.status == 200 and r.header("content-encoding") == "gzip" and r.body == GZ


def test_precompressed_off(start_server, site):
    srv = start_server("--precompressed", "no", "--compress", "no")
    r = get(srv.port, "/t.txt", "Accept-Encoding: gzip, br")
    assert r.status == 200 and r.body == TEXT
    assert r.header("content-encoding") is None and r.header("vary") is None


# ---- 3. caching headers, extra headers, HSTS, redirect ----------------------------

CACHE_ARGS = ("--cache", "*.css max-age=60, immutable", "--cache", "/assets/* no-cache",
              "--cache", "*.js max-age=5", "--header", "X-Frame-Options: DENY",
              "--header", "Content-Security-Policy: default-src 'self'")


CACHE_ROWS = [
    ("/style.css", "max-age=60, immutable", 60),
    ("/assets/deep/x.js", "no-cache", None),     # the first matching rule wins
    ("/app.js", "max-age=5", 5),
    ("/index.html", None, None),
    ("/pic.png", None, None),
]


@V
def test_cache_control_by_pattern(start_server, site):
    srv = start_server(*CACHE_ARGS)
    age()  # a server idle for a while: Expires must follow the clock
    for path, cc, age_s in CACHE_ROWS:
        r = get(srv.port, path)
        assert r.status == 200, path
        assert r.header("cache-control") == cc, path
        if age_s is None:
            assert r.header("expires") is None, path
        else:
            exp = parse_http_date(r.header("expires")).timestamp()
            date = parse_http_date(r.header("date")).timestamp()
            assert exp - date == age_s, path
        assert r.header("x-frame-options") == "DENY", path
        assert r.header("content-security-policy") == "default-src 'self'", path


def test_site_headers_on_errors_and_redirects(start_server, site):
    srv = start_server(*CACHE_ARGS)
    for path, status in (("/missing", 404), ("/docs", 301), ("/.env", 404)):
        r = get(srv.port, path)
        assert r.status == status, path
        assert r.header("x-frame-options") == "DENY", path
        assert r.header("cache-control") is None, path


def tls_client():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def connect(port, timeout=5.0):
        return ctx.wrap_socket(tcp_connect(port, timeout), server_hostname="localhost")
    return connect


@V
def test_hsts_only_over_https(start_server, site):
    tls_port = free_port()
    srv = start_server("--https-port", str(tls_port), "--hsts", "31536000")
    r = get(tls_port, "/index.html", connect=tls_client())
    assert r.status == 200
    assert r.header("strict-transport-security") == "max-age=31536000"
    r = get(tls_port, "/missing", connect=tls_client())
    assert r.status == 404 and r.header("strict-transport-security") == "max-age=31536000"
    r = get(srv.port, "/index.html")
    assert r.status == 200 and r.header("strict-transport-security") is None


@V
def test_https_redirect(start_server, site):
    tls_port = free_port()
    srv = start_server("--https-port", str(tls_port), "--https-redirect", "yes",
                       "--health-path", "/healthz")
    for target, host, want in (
            ("/a/b?x=1&y=2", "example.test", f"https://example.test:{tls_port}/a/b?x=1&y=2"),
            ("/", f"example.test:{srv.port}", f"https://example.test:{tls_port}/"),
            ("/p", f"[::1]:{srv.port}", f"https://[::1]:{tls_port}/p"),
            (f"http://abs.test:{srv.port}/q?z", "ignored.test", f"https://abs.test:{tls_port}/q?z"),
    ):
        with Conn.open(srv.port) as c:
            c.send(request("GET", target, host=host))
            r = c.read_response()
        assert r.status == 308, target
        assert r.header("location") == want, target
        assert r.keep_alive
    # A balancer's probe is not redirected; HTTPS itself is served.
    assert get(srv.port, "/healthz").status == 200
    r = get(tls_port, "/index.html", connect=tls_client())
    assert r.status == 200 and r.body == b"<html>home</html>\n"


# ---- 4. CORS ----------------------------------------------------------------

CORS = ("--cors-origins", "https://app.example, https://other.example",
        "--cors-methods", "GET, POST, PUT", "--cors-headers", "X-Token, Content-Type",
        "--cors-max-age", "120")
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


def preflight(port, origin, method, headers=None):
    h = [f"Origin: {origin}", f"Access-Control-Request-Method: {method}"]
    if headers:
        h.append(f"Access-Control-Request-Headers: {headers}")
    return get(port, "/index.html", *h, method="OPTIONS")


@V
def test_cors_preflight_allowed(start_server, site):
    srv = start_server(*CORS)
    r = preflight(srv.port, "https://app.example", "PUT", "x-token")
    assert r.status == 204
    assert r.header("access-control-allow-origin") == "https://app.example"
    assert r.header("access-control-allow-methods") == "GET, POST, PUT"
    assert r.header("access-control-allow-headers") == "X-Token, Content-Type"
    assert r.header("access-control-max-age") == "120"
    assert r.header("vary") == PREFLIGHT_VARY
    assert r.header("content-length") is None and r.body == b""
    assert r.keep_alive


@pytest.mark.parametrize("origin,method,headers", [
    ("https://evil.example", "GET", None),         # origin not listed
    ("https://app.example", "DELETE", None),       # method not allowed
    ("https://app.example", "get", None),          # methods compare exactly
    ("https://app.example", "GET", "X-Token, X-Other"),  # one header not allowed
    ("null", "GET", None),
])
def test_cors_preflight_refused(start_server, site, origin, method, headers):
    srv = start_server(*CORS)
    r = preflight(srv.port, origin, method, headers)
    assert r.status == 403
    assert r.header("access-control-allow-origin") is None
    assert r.header("vary") == PREFLIGHT_VARY


def test_cors_any_origin_and_asked_headers(start_server, site):
    srv = start_server("--cors-origins", "*")
    r = preflight(srv.port, "https://whoever.example", "POST", "X-Anything")
    assert r.status == 204
    assert r.header("access-control-allow-origin") == "*"
    assert r.header("access-control-allow-methods") == "GET, HEAD, POST"
    assert r.header("access-control-allow-headers") == "X-Anything"
    assert r.header("access-control-max-age") == "600"
    r = get(srv.port, "/index.html", "Origin: https://whoever.example")
    assert r.status == 200 and r.header("access-control-allow-origin") == "*"
    assert r.header("vary") is None


def test_cors_on_answers(start_server, site):
    srv = start_server(*CORS)
    r = get(srv.port, "/index.html", "Origin: https://other.example")
    assert r.status == 200
    assert r.header("access-control-allow-origin") == "https://other.example"
    assert r.header("vary") == "Origin"
    r = get(srv.port, "/index.html", "Origin: https://evil.example")
    assert r.status == 200 and r.header("access-control-allow-origin") is None
    assert r.header("vary") == "Origin"
    r = get(srv.port, "/t.txt", "Origin: https://app.example", "Accept-Encoding: gzip")
    assert r.header("vary") == "Origin, Accept-Encoding"
    # OPTIONS that is not a preflight: what the resource allows.
    r = get(srv.port, "/index.html", method="OPTIONS")
    assert r.status == 204 and r.header("allow") == "GET, HEAD, POST, OPTIONS"


def test_options_without_cors_stays_501(start_server, site):
    srv = start_server()
    r = preflight(srv.port, "https://app.example", "GET")
    assert r.status == 501
    assert r.header("access-control-allow-origin") is None


# ---- 5. error pages and fallbacks -------------------------------------------------

@V
def test_error_page_served_with_its_status(start_server, site):
    srv = start_server("--error-page", "404 /404.html", "--error-page", "403 /nothing.html")
    r = get(srv.port, "/missing.html")
    assert r.status == 404
    assert r.body == b"<h1>custom not found</h1>\n"
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert r.header("etag") is None and r.header("last-modified") is None
    assert r.keep_alive
    h = get(srv.port, "/missing.html", method="HEAD")
    assert h.status == 404 and h.body == b""
    assert h.header("content-length") == str(len(r.body))
    # Hidden files get the page too: a 404 like any other.
    assert get(srv.port, "/.env").body == r.body


def test_fallback_for_a_single_page_application(start_server, site, workdir):
    srv = start_server("--fallback", "/index.html", "--try-html", "yes")
    assert get(srv.port, "/app/route/42").body == b"<html>home</html>\n"
    r = get(srv.port, "/app/route/42")
    assert r.status == 200 and r.header("content-type") == "text/html; charset=utf-8"
    assert get(srv.port, "/about").body == b"about page\n"        # try-html first
    assert get(srv.port, "/t.txt").body == TEXT                   # real files unchanged
    # A hidden path is still a real 404, not the application's page.
    r = get(srv.port, "/.git/config")
    assert r.status == 404 and r.body != b"<html>home</html>\n"


def test_fallback_in_one_site_a_real_404_in_another(start_server, site, workdir):
    other = workdir / "other"
    write(other / "index.html", b"other\n")
    conf = workdir / "sites.conf"
    conf.write_text(f"""[site spa]
hosts = spa.test
root = {site}
fallback = /index.html
[site plain]
hosts = plain.test
root = {other}
default = yes
error-page = 404 /index.html
""")
    srv = start_server("-c", str(conf))
    with Conn.open(srv.port) as c:
        c.send(request("GET", "/nope", host="spa.test") + request("GET", "/nope", host="plain.test"))
        a, b = c.read_responses(2)
    assert a.status == 200 and a.body == b"<html>home</html>\n"
    assert b.status == 404 and b.body == b"other\n"


# ---- 6. directory listings ----------------------------------------------------------

HOSTILE = [b"<script>alert(1)<\\script>", b'quo"te\'s', b"amp&er", b"\xff\xfe-bytes.txt",
           b"caf\xc3\xa9.txt"]


@pytest.fixture
def listed(site):
    d = site / "files"
    d.mkdir()
    for n in HOSTILE:
        with open(os.path.join(os.fsencode(d), n), "wb") as f:
            f.write(b"x" * 3)
    (d / "zz-dir").mkdir()
    (d / ".secret").write_bytes(b"s")
    return d


@V
def test_listing_html_escapes_and_hides(start_server, listed):
    srv = start_server("--listing", "yes")
    r = get(srv.port, "/files/")
    assert r.status == 200
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert r.header("vary") == "Accept"
    body = r.body.decode("utf-8")  # always valid UTF-8
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;\\script&gt;" in body
    assert 'href="%3Cscript%3Ealert(1)%3C%5Cscript%3E"' in body
    assert "quo&quot;te&#39;s" in body and "amp&amp;er" in body
    assert "\ufffd\ufffd-bytes.txt" in body and 'href="%FF%FE-bytes.txt"' in body
    assert "café.txt" in body
    assert 'href="zz-dir/"' in body
    assert ".secret" not in body
    names = [n for n in ("amp&amp;er", "caf", "quo&quot;", "zz-dir")]
    assert [body.index(n) for n in names] == sorted(body.index(n) for n in names)


def test_listing_json(start_server, listed):
    srv = start_server("--listing", "yes")
    r = get(srv.port, "/files/", "Accept: application/json")
    assert r.status == 200 and r.header("content-type") == "application/json"
    doc = json.loads(r.body)
    names = [e["name"] for e in doc["entries"]]
    assert names == sorted(names, key=lambda s: s.encode("utf-8", "surrogatepass"))
    assert "zz-dir" in names and ".secret" not in names
    assert "\ufffd\ufffd-bytes.txt" in names
    assert doc["path"] == "/files/" and doc["truncated"] is False
    files = {e["name"]: e for e in doc["entries"]}
    assert files["amp&er"]["size"] == 3 and files["amp&er"]["type"] == "file"
    assert files["zz-dir"]["type"] == "dir"


def test_listing_off_by_default_and_index_wins(start_server, listed, site):
    srv = start_server()
    assert get(srv.port, "/files/").status == 404
    srv2 = start_server("--listing", "yes")
    r = get(srv2.port, "/docs/")
    assert r.status == 200 and r.body == TEXT  # an index is served, not listed
    assert get(srv2.port, "/.git/").status == 404  # a hidden directory is not listed


# ---- 7. hidden files, charset, preconditions, ranges -------------------------------------

@pytest.mark.parametrize("path,status", [
    ("/.env", 404), ("/.git/config", 404), ("/%2egit/config", 404), ("/sub/.hidden/f.txt", 404),
    ("/.git/", 404), ("/.well-known/acme-challenge/tok", 200), ("/t.txt", 200),
])
def test_hidden_files(start_server, site, path, status):
    srv = start_server()
    assert get(srv.port, path).status == status


def test_dotfiles_enabled(start_server, site):
    srv = start_server("--dotfiles", "yes")
    r = get(srv.port, "/.env")
    assert r.status == 200 and r.body == b"SECRET=1\n"


@pytest.mark.parametrize("args,path,ctype", [
    ((), "/index.html", "text/html; charset=utf-8"),
    ((), "/app.js", "text/javascript; charset=utf-8"),
    ((), "/pic.png", "image/png"),
    (("--charset", "off"), "/index.html", "text/html"),
    (("--charset", "iso-8859-1"), "/style.css", "text/css; charset=iso-8859-1"),
])
def test_charset(start_server, site, args, path, ctype):
    srv = start_server(*args)
    assert get(srv.port, path).header("content-type") == ctype


@V
def test_if_match_and_if_unmodified_since(start_server, site):
    srv = start_server()
    tag = get(srv.port, "/t.txt").header("etag")
    mtime = int((site / "t.txt").stat().st_mtime)
    rows = [
        (f"If-Match: {tag}", 200),
        ('If-Match: "nope", ' + tag, 200),
        ("If-Match: *", 200),
        ('If-Match: "nope"', 412),
        (f"If-Match: W/{tag}", 412),                      # strong comparison
        (f"If-Unmodified-Since: {email_date(mtime - 60)}", 412),
        (f"If-Unmodified-Since: {email_date(mtime)}", 200),
        (f"If-Unmodified-Since: {email_date(mtime + 60)}", 200),
        ("If-Unmodified-Since: not a date", 200),
    ]
    for field, status in rows:
        r = get(srv.port, "/t.txt", field)
        assert r.status == status, field
        if status == 200:
            assert r.body == TEXT, field
        else:
            assert b"412 Precondition Failed" in r.body, field
            assert r.header("etag") is None, field  # the page's head, not the file's
    # If-Match wins over If-Unmodified-Since; 412 before 304.
    r = get(srv.port, "/t.txt", f"If-Match: {tag}",
            f"If-Unmodified-Since: {email_date(mtime - 60)}")
    assert r.status == 200
    r = get(srv.port, "/t.txt", 'If-Match: "nope"', f"If-None-Match: {tag}")
    assert r.status == 412


def email_date(ts):
    import email.utils
    return email.utils.formatdate(ts, usegmt=True)


@pytest.mark.parametrize("spec,status,crange,body", [
    ("bytes=0-4,10-14", 206, "bytes 0-14/960", TEXT[0:15]),
    ("bytes=10-14,0-4", 206, "bytes 0-14/960", TEXT[0:15]),
    ("bytes=0-1,2000-3000", 206, "bytes 0-1/960", TEXT[0:2]),
    ("bytes=-5,0-1", 206, "bytes 0-959/960", TEXT),
    ("bytes=2000-,3000-", 416, "bytes */960", None),
    ("bytes=0-1,x", 200, None, TEXT),
    ("bytes=" + ",".join(f"{i}-{i}" for i in range(17)), 200, None, TEXT),
])
def test_several_ranges_coalesce_into_one(start_server, site, spec, status, crange, body):
    srv = start_server()
    r = get(srv.port, "/t.txt", f"Range: {spec}")
    assert r.status == status
    assert r.header("content-range") == crange
    if body is not None:
        assert r.body == body


# ---- 2. compression on the fly (static files) -------------------------------------

LOREM = b"".join(b"line %05d: the quick brown fox jumps over the lazy dog\n" % i
                 for i in range(4000))                   # 224 KB of text


@pytest.fixture
def texts(site):
    write(site / "lorem.txt", LOREM)
    write(site / "small.txt", b"tiny\n" * 100)            # 500 B: under compress-min-size
    write(site / "data.json", b'{"k": "' + b"v" * 5000 + b'"}')
    write(site / "photo.png", b"\x89PNG" + b"\0" * 5000)
    return site


@V
def test_gzip_on_the_fly(start_server, texts):
    srv = start_server()
    r = get(srv.port, "/lorem.txt", "Accept-Encoding: gzip, br")
    assert r.status == 200
    assert r.header("content-encoding") == "gzip"
    assert r.header("vary") == "Accept-Encoding"
    assert r.header("content-type") == "text/plain; charset=utf-8"
    assert gzip.decompress(r.body) == LOREM
    assert int(r.header("content-length")) == len(r.body) < len(LOREM) // 5
    ident = get(srv.port, "/lorem.txt")
    assert ident.body == LOREM and ident.header("vary") == "Accept-Encoding"
    assert ident.header("content-encoding") is None
    assert r.header("etag") == ident.header("etag")[:-1] + '-gz"'
    # Range and 304 apply to the compressed bytes.
    part = get(srv.port, "/lorem.txt", "Accept-Encoding: gzip", "Range: bytes=0-99")
    assert part.status == 206 and part.body == r.body[:100]
    assert part.header("content-range") == f"bytes 0-99/{len(r.body)}"
    nm = get(srv.port, "/lorem.txt", "Accept-Encoding: gzip", f"If-None-Match: {r.header('etag')}")
    assert nm.status == 304 and nm.header("vary") == "Accept-Encoding" and nm.body == b""
    h = get(srv.port, "/lorem.txt", "Accept-Encoding: gzip", method="HEAD")
    assert h.status == 200 and h.body == b""
    assert h.header("content-length") == r.header("content-length")
    assert h.header("content-encoding") == "gzip"
    j = get(srv.port, "/data.json", "Accept-Encoding: gzip")
    assert j.header("content-encoding") == "gzip"
    assert gzip.decompress(j.body) == (texts / "data.json").read_bytes()


@pytest.mark.parametrize("path,ae,args", [
    ("/small.txt", "gzip", ()),                  # under compress-min-size
    ("/photo.png", "gzip", ()),                  # not a compressible type
    ("/lorem.txt", "gzip", ("--compress", "no")),
    ("/lorem.txt", "gzip;q=0", ()),
    ("/lorem.txt", "br", ()),                    # only gzip is made on the fly
])
def test_not_gzipped(start_server, texts, path, ae, args):
    srv = start_server(*args)
    r = get(srv.port, path, f"Accept-Encoding: {ae}")
    assert r.status == 200
    assert r.header("content-encoding") is None
    assert r.body == (texts / path[1:]).read_bytes()


def test_gzip_follows_a_changed_file(start_server, texts):
    srv = start_server()
    first = get(srv.port, "/lorem.txt", "Accept-Encoding: gzip")
    assert gzip.decompress(first.body) == LOREM
    changed = LOREM.replace(b"fox", b"cat")
    write(texts / "lorem.txt", changed)
    time.sleep(1.2)  # the open-file cache's watch, or its once-a-second check
    again = get(srv.port, "/lorem.txt", "Accept-Encoding: gzip")
    assert gzip.decompress(again.body) == changed
    assert again.header("etag") != first.header("etag")


def test_a_sidecar_wins_over_gzip_on_the_fly(start_server, texts):
    write(texts / "lorem.txt.gz", b"precompressed", time.time() + 5)
    srv = start_server()
    r = get(srv.port, "/lorem.txt", "Accept-Encoding: gzip")
    assert r.header("content-encoding") == "gzip" and r.body == b"precompressed"


def test_gzip_to_a_slow_reader_keep_alive(start_server, texts):
    """Several gzipped answers pipelined on one connection, read slowly:
    each is byte-exact and the stream stays in step."""
    noise = bytes((i * 7919) % 251 for i in range(300000))
    write(texts / "noise.txt", noise.hex().encode()[:400000])
    srv = start_server()
    want = (texts / "noise.txt").read_bytes()
    with Conn.open(srv.port) as c:
        c.send(b"".join(request("GET", p, ("Accept-Encoding: gzip",))
                        for p in ("/noise.txt", "/lorem.txt", "/noise.txt")))
        time.sleep(0.5)
        a, b, d = c.read_responses(3)
    assert gzip.decompress(a.body) == want and gzip.decompress(d.body) == want
    assert gzip.decompress(b.body) == LOREM
