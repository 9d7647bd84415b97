"""Persistence, pipelining, incremental parsing and line-length boundaries."""
import socket
import threading
import time

import pytest

from httputil import SLOW, Conn, INDEX_BODY, assert_common_headers, get, make_docroot, request

pytestmark = pytest.mark.valgrind


def body_of(i):
    return f"file number {i}\n".encode() * i


@pytest.fixture
def srv(start_server, workdir):
    make_docroot(workdir)
    return start_server()


def test_five_pipelined_requests_in_order(srv):
    with Conn.open(srv.port) as c:
        c.send(b"".join(get(f"/f{i}.txt") for i in range(1, 6)))
        resps = c.read_responses(5)
        for i, r in enumerate(resps, 1):
            assert r.status == 200, r
            assert r.body == body_of(i), f"response {i} out of order: {r.body[:40]!r}"
            assert r.keep_alive
            assert_common_headers(r)
        assert c.is_open(0.3)
        time.sleep(0.2)
        c.send(get("/f6.txt"))
        r = c.read_response()
        assert r.status == 200 and r.body == body_of(6)


def test_pipelined_mixed_methods_and_errors(srv):
    reqs = [request("HEAD", "/f1.txt"), get("/missing"), get("/f2.txt"),
            request("POST", "/f3.txt", ["Content-Length: 4"], b"abcd"), get("/f4.txt")]
    with Conn.open(srv.port) as c:
        c.send(b"".join(reqs))
        r = c.read_responses(5, heads=[True, False, False, False, False])
        assert [x.status for x in r] == [200, 404, 200, 200, 200]
        assert r[0].body == b"" and int(r[0].header("content-length")) == len(body_of(1))
        assert r[2].body == body_of(2) and r[3].body == body_of(3) and r[4].body == body_of(4)


@pytest.mark.parametrize("value", ["close", "Close ", "CLOSE", " close"])
def test_connection_close_is_last(srv, value):
    with Conn.open(srv.port) as c:
        c.send(get("/f1.txt") + get("/f2.txt", f"Connection:{value}") + get("/f3.txt"))
        r1, r2 = c.read_responses(2)
        assert r1.body == body_of(1) and r1.keep_alive
        assert r2.status == 200 and r2.body == body_of(2)
        assert r2.header("connection").lower() == "close"
        # /f3.txt must not be answered: the next thing is EOF
        assert c.wait_closed(3 * SLOW), "server did not close after Connection: close"


def test_http10_default_close(srv):
    with Conn.open(srv.port) as c:
        c.send(get("/f1.txt", version="HTTP/1.0", host=None) + get("/f2.txt", version="HTTP/1.0"))
        r = c.read_response()
        assert r.status == 200 and r.body == body_of(1)
        assert r.version == "HTTP/1.1"
        assert r.header("connection").lower() == "close"
        assert c.wait_closed(3 * SLOW)


@pytest.mark.parametrize("hdr", ["Connection: keep-alive", "Connection:Keep-Alive",
                                 "connection:   KEEP-ALIVE   "])
def test_http10_keep_alive(srv, hdr):
    with Conn.open(srv.port) as c:
        c.send(get("/f1.txt", hdr, version="HTTP/1.0", host=None))
        r = c.read_response()
        assert r.status == 200 and r.body == body_of(1)
        assert r.keep_alive, r
        assert c.is_open(0.3)
        c.send(get("/f2.txt", hdr, version="HTTP/1.0"))
        r = c.read_response()
        assert r.body == body_of(2) and r.keep_alive


def test_http11_keepalive_tolerant_header_forms(srv):
    with Conn.open(srv.port) as c:
        c.send(b"GET /f1.txt HTTP/1.1\r\nhOsT:localhost\r\nCONNECTION:Keep-Alive\r\n"
               b"X-Spaces:   padded value \t \r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == body_of(1) and r.keep_alive


REQ = (b"GET /f3.txt HTTP/1.1\r\nHost: localhost\r\nUser-Agent: split-test/1.0\r\n"
       b"Accept: */*\r\nX-Pad: 0123456789\r\n\r\n")


def test_split_at_every_offset(srv):
    assert 90 <= len(REQ) <= 140
    with Conn.open(srv.port) as c:
        for k in range(1, len(REQ)):
            c.send(REQ[:k])
            time.sleep(0.005)
            c.send(REQ[k:])
            r = c.read_response()
            assert r.status == 200 and r.body == body_of(3), f"split at {k}: {r!r}"
            assert r.keep_alive


def test_split_at_every_offset_fresh_connections(srv):
    for k in range(1, len(REQ), 7):
        with Conn.open(srv.port) as c:
            c.send(REQ[:k])
            time.sleep(0.005)
            c.send(REQ[k:])
            r = c.read_response()
            assert r.status == 200 and r.body == body_of(3), f"split at {k}: {r!r}"


def test_one_byte_at_a_time(srv):
    with Conn.open(srv.port) as c:
        data = REQ + get("/f4.txt")
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.002)
        r1, r2 = c.read_responses(2)
        assert r1.body == body_of(3) and r2.body == body_of(4)


def test_request_line_split_across_pipelined_requests(srv):
    """A read boundary that falls inside the *second* request."""
    data = get("/f1.txt") + get("/f2.txt")
    cut = len(get("/f1.txt")) + 7
    with Conn.open(srv.port) as c:
        c.send(data[:cut])
        r1 = c.read_response()
        assert r1.body == body_of(1)
        time.sleep(0.05)
        c.send(data[cut:])
        assert c.read_response().body == body_of(2)


# --- line length boundaries (line length excludes CRLF) -----------------------

def header_line(total):
    """A header line of exactly `total` bytes, CRLF excluded."""
    prefix = "X-Long: "
    return prefix + "v" * (total - len(prefix))


@pytest.mark.parametrize("length,status", [(4095, 200), (4096, 200), (4097, 200),
                                           (8191, 200), (8192, 200), (8193, 431)])
def test_header_line_boundaries(srv, length, status):
    line = header_line(length)
    assert len(line) == length
    with Conn.open(srv.port) as c:
        c.send(get("/index.html", line))
        r = c.read_response()
        assert r.status == status, (length, r)
        assert_common_headers(r)
        if status == 200:
            assert r.body == INDEX_BODY and r.keep_alive
            c.send(get("/f1.txt"))
            assert c.read_response().body == body_of(1)


def request_line_target(total, path="/no-such-file"):
    """A target such that 'GET <target> HTTP/1.1' is `total` bytes; the
    padding goes into the query so path-length limits play no part."""
    fixed = len("GET  HTTP/1.1") + len(path) + 1
    return path + "?" + "q" * (total - fixed)


@pytest.mark.parametrize("length,status", [(4095, 404), (4097, 404),
                                           (8191, 404), (8192, 404), (8193, 414)])
def test_request_line_boundaries(srv, length, status):
    target = request_line_target(length)
    assert len(f"GET {target} HTTP/1.1") == length
    with Conn.open(srv.port) as c:
        c.send(get(target))
        r = c.read_response()
        assert r.status == status, (length, r)
        assert_common_headers(r)
        if status == 404:
            assert r.keep_alive
            c.send(get("/f1.txt"))
            assert c.read_response().body == body_of(1)


@pytest.mark.parametrize("length", [8192, 8193])
def test_request_line_boundaries_existing_file(srv, length):
    target = request_line_target(length, "/f2.txt")
    with Conn.open(srv.port) as c:
        c.send(get(target))
        r = c.read_response()
        if length <= 8192:
            assert r.status == 200 and r.body == body_of(2)
        else:
            assert r.status == 414


@pytest.mark.parametrize("length", [4095, 4097])
def test_long_missing_path_is_404(srv, length):
    """A missing file whose path (short segments) is ~4 KiB: spec says
    missing -> 404; 414 is for request lines over 8192 bytes."""
    fixed = len("GET  HTTP/1.1")
    n = length - fixed
    target = ("/" + "a" * 99) * (n // 100) + "/" + "b" * (n % 100 - 1 if n % 100 else 0)
    target = target[:n] if len(target) > n else target + "c" * (n - len(target))
    assert len(f"GET {target} HTTP/1.1") == length
    with Conn.open(srv.port) as c:
        c.send(get(target))
        r = c.read_response()
        assert r.status == 404, (length, r)


def test_header_section_just_under_64k(srv):
    # 60 headers of 1000 bytes: ~60 KB, under both the 64 KiB and 100-field limits
    hdrs = [f"X-H{i:03d}: " + "c" * 991 for i in range(60)]
    with Conn.open(srv.port) as c:
        c.send(get("/index.html", *hdrs))
        r = c.read_response()
        assert r.status == 200 and r.body == INDEX_BODY


def test_header_section_over_64k(srv):
    hdrs = [f"X-H{i:03d}: " + "c" * 1016 for i in range(70)]   # 70 x 1 KiB lines
    with Conn.open(srv.port) as c:
        c.send(get("/index.html", *hdrs))
        r = c.read_response()
        assert r.status == 431
        assert_common_headers(r)


def test_long_line_split_at_buffer_edges(srv):
    """8192-byte header line arriving in 4095/4097-byte pieces."""
    data = get("/f2.txt", header_line(8192))
    with Conn.open(srv.port) as c:
        for a, b in ((0, 4095), (4095, 8192), (8192, len(data))):
            c.send(data[a:b])
            time.sleep(0.01)
        r = c.read_response()
        assert r.status == 200 and r.body == body_of(2)


# --- after an error ------------------------------------------------------------

@pytest.mark.parametrize("bad,status", [
    (get("/missing.html"), 404),
    (request("BREW", "/pot"), 501),
    (request("FOO", "/missing"), 501),
    (b"GET /f1.txt HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n", 400),
    (b"GET /f1.txt HTTP/1.1\r\nHost: localhost\r\nNoColon\r\n\r\n", 400),
    (b"GET /f1.txt HTTP/1.1\r\nHost: localhost\r\nX: a\r\n b\r\n\r\n", 400),
    (b"GET /f1.txt HTTP/1.1\r\n\r\n", 400),
    (get("/data.bin", "Range: bytes=5000-"), 416),
], ids=["404", "501-brew", "501-foo", "400-space-colon", "400-no-colon", "400-obs-fold",
        "400-no-host", "416"])
def test_known_framing_error_then_next_request(srv, bad, status):
    with Conn.open(srv.port) as c:
        c.send(bad + get("/f5.txt"))
        r1, r2 = c.read_responses(2)
        assert r1.status == status, r1
        assert r1.keep_alive
        assert r2.status == 200 and r2.body == body_of(5), r2


@pytest.mark.parametrize("bad", [
    request("POST", "/f1.txt", ["Content-Length: 3", "Content-Length: 4"], b"abcd"),
    # spec §3: two equal ones included (never guess which framing was meant)
    request("POST", "/f1.txt", ["Content-Length: 4", "Content-Length: 4"], b"abcd"),
    request("POST", "/f1.txt", ["Content-Length: 3, 4"], b"abcd"),
    request("POST", "/f1.txt", ["Content-Length: 4", "Transfer-Encoding: chunked"],
            b"0\r\n\r\n"),
    request("POST", "/f1.txt", ["Transfer-Encoding: chunked"], b"xyz\r\n"),
    request("POST", "/f1.txt", ["Content-Length: -1"]),
    request("POST", "/f1.txt", ["Content-Length: 1x"], b"a"),
], ids=["dup-cl", "dup-equal-cl", "cl-list", "cl-te", "bad-chunk", "neg-cl", "junk-cl"])
def test_framing_error_closes(srv, bad):
    with Conn.open(srv.port) as c:
        c.send(bad + get("/f5.txt"))
        r = c.read_response()
        assert r.status == 400, r
        assert r.header("connection").lower() == "close"
        assert c.wait_closed(3 * SLOW), "framing error must close; the smuggled GET must not be answered"


def test_chunked_post_then_pipelined_get(srv):
    body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    with Conn.open(srv.port) as c:
        c.send(request("POST", "/f1.txt", ["Transfer-Encoding: chunked"], body) + get("/f2.txt"))
        r1, r2 = c.read_responses(2)
        assert r1.status == 200 and r1.body == body_of(1)
        assert r2.status == 200 and r2.body == body_of(2)


def test_many_pipelined_requests_client_reads_late(srv):
    """200 pipelined requests sent before reading any response."""
    n = 200
    with Conn.open(srv.port, timeout=10 * SLOW) as c:
        c.send(b"".join(get(f"/f{1 + i % 6}.txt") for i in range(n)))
        time.sleep(0.3)
        for i in range(n):
            r = c.read_response(timeout=10 * SLOW)
            assert r.status == 200 and r.body == body_of(1 + i % 6), i


@pytest.mark.parametrize("target", ["/" + "n" * 300 + ".html",
                                    ("/" + "d" * 99) * 60 + "/x.html",
                                    "/" + "a" * (8192 - len("GET / HTTP/1.1"))],
                         ids=["component-300", "path-6000", "line-8192-path"])
def test_overlong_missing_path_is_404_not_414(srv, target):
    """Spec §3: missing -> 404; 414 only for a request line over 8192 bytes.
    A name the filesystem cannot hold (ENAMETOOLONG) cannot exist: 404."""
    assert len(f"GET {target} HTTP/1.1") <= 8192
    with Conn.open(srv.port) as c:
        c.send(get(target))
        r = c.read_response()
        assert r.status == 404, r


def test_idle_keepalive_closed_silently(start_server, workdir):
    make_docroot(workdir)
    srv = start_server("--idle-timeout", "1")
    with Conn.open(srv.port) as c:
        c.send(get("/f1.txt"))
        assert c.read_response().body == body_of(1)
        t0 = time.monotonic()
        # no 408 or any other bytes: just EOF, after about a second
        assert c.wait_closed(4 * SLOW), "idle keep-alive connection not closed"
        assert 0.5 <= time.monotonic() - t0 <= 4 * SLOW


def test_bad_head_behind_unsent_answers_is_answered_after_them(srv, workdir):
    """A client pipelines many requests, the last one over-long (414), and
    reads late. Every earlier answer still arrives, in order, then the 414,
    then the close."""
    blob = bytes(range(256)) * 24  # 6 KiB: copied behind each head
    (workdir / "www" / "blob.bin").write_bytes(blob)
    n = 300
    with Conn.open(srv.port, timeout=20 * SLOW) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        payload = b"".join(get("/blob.bin") for _ in range(n))
        payload += b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        sender = threading.Thread(target=c.sock.sendall, args=(payload,), daemon=True)
        sender.start()
        time.sleep(0.5)  # let the server's socket fill up
        for i in range(n):
            r = c.read_response(timeout=20 * SLOW)
            assert r.status == 200 and r.body == blob, i
        r = c.read_response(timeout=20 * SLOW)
        assert r.status == 414 and r.header("connection") == "close"
        sender.join(20 * SLOW)
