"""gzip on the fly for CGI answers (conn_cgi.c, compress.c): negotiation
(Accept-Encoding, type, the program's own coding and length, --compress,
--compress-min-size), the head (Content-Encoding, Vary, chunked, no
Content-Length; HEAD the same), the body inflating to exactly what the
program wrote, streamed output reaching the client while the program
pauses, keep-alive after a compressed answer, HTTP/1.0 (close-delimited),
the program's Content-Length still enforced, and a 4 MiB answer to a slow
reader (back-pressure) arriving byte-exact.

The programs are written by this file into the test's workdir; the body
generators are shared source, so the test computes the exact bytes.
"""
import gzip
import http.client
import socket
import time
import zlib

import pytest

from httputil import SLOW

T = 10.0 * SLOW

# The bodies: executed here and pasted into the programs.
GEN = r'''
def piece(i, size):
    line = b"%06d the quick brown fox jumps over the lazy dog\n" % i
    return (line * (size // len(line) + 1))[:size]

def noisy_text(n, seed=12345):
    words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta",
             b"theta", b"iota", b"kappa", b"lambda", b"mu", b"<b>", b"</b>", b"\n"]
    out = bytearray()
    x = seed
    while len(out) < n:
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        out += words[(x >> 33) % len(words)] + b"%d " % ((x >> 40) & 0xfff)
    return bytes(out[:n])
'''
exec(GEN)

# QUERY_STRING: n pieces of `size` bytes, `delay` s apart; type=; cl=N
# (declared Content-Length, may lie); enc= (its own Content-Encoding);
# cc= (Cache-Control).
STREAM = r'''#!/usr/bin/python3
import os, sys, time
from urllib.parse import parse_qs
''' + GEN + r'''
q = {k: v[0] for k, v in parse_qs(os.environ.get("QUERY_STRING", "")).items()}
n, size = int(q.get("n", "5")), int(q.get("size", "20000"))
delay = float(q.get("delay", "0"))
out = sys.stdout.buffer
head = b"Content-Type: " + q.get("type", "text/html").encode() + b"\r\n"
if "cl" in q:
    head += b"Content-Length: " + q["cl"].encode() + b"\r\n"
if "enc" in q:
    head += b"Content-Encoding: " + q["enc"].encode() + b"\r\n"
if "cc" in q:
    head += b"Cache-Control: " + q["cc"].encode() + b"\r\n"
out.write(head + b"\r\n")
out.flush()
for i in range(n):
    if i and delay:
        time.sleep(delay)
    out.write(piece(i, size))
    out.flush()
'''

BIG = r'''#!/usr/bin/python3
import sys
''' + GEN + r'''
body = noisy_text(4 * 1024 * 1024)
out = sys.stdout.buffer
out.write(b"Content-Type: text/plain; charset=utf-8\r\n\r\n")
for i in range(0, len(body), 65536):
    out.write(body[i:i + 65536])
out.flush()
'''


def expected(n=5, size=20000):
    return b"".join(piece(i, size) for i in range(n))


@pytest.fixture
def progs(workdir):
    d = workdir / "cgi"
    d.mkdir()
    for name, src in (("stream", STREAM), ("big", BIG)):
        (d / name).write_text(src)
        (d / name).chmod(0o755)
    return d


@pytest.fixture
def srv(start_server, progs):
    return start_server("--cgi", str(progs))


def ask(port, target, accept=None, method="GET", conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=T)
    headers = {} if accept is None else {"Accept-Encoding": accept}
    c.request(method, target, headers=headers)
    r = c.getresponse()
    body = r.read()
    return c, r, body


def assert_gzip(r, body, want, chunked=True):
    assert r.status == 200
    assert r.getheader("Content-Encoding") == "gzip"
    assert r.getheader("Vary") == "Accept-Encoding"
    assert r.getheader("Content-Length") is None
    assert r.getheader("Transfer-Encoding") == ("chunked" if chunked else None)
    assert gzip.decompress(body) == want


def assert_identity(r, body, want, vary):
    assert r.status == 200
    assert r.getheader("Content-Encoding") is None
    assert r.getheader("Vary") == ("Accept-Encoding" if vary else None)
    assert body == want


def test_gzip_streamed_answer(srv):
    c, r, body = ask(srv.port, "/cgi/stream?n=5&size=20000&delay=0.2", "gzip")
    assert_gzip(r, body, expected())
    assert len(body) < len(expected()) // 10
    c.close()


def test_no_accept_encoding_is_identity_with_vary(srv):
    c, r, body = ask(srv.port, "/cgi/stream?n=3&size=5000&delay=0.1")
    assert_identity(r, body, expected(3, 5000), vary=True)
    assert r.getheader("Transfer-Encoding") == "chunked"
    c.close()


@pytest.mark.parametrize("accept,gz", [
    ("gzip", True),
    ("x-gzip", True),
    ("GZIP", True),
    ("deflate, gzip;q=0.5", True),
    ("br;q=1.0, gzip ; q=0.001", True),
    ("*", True),
    ("gzip;q=0", False),
    ("gzip; q=0.000", False),
    ("gzip;Q=0.0, br", False),
    ("*;q=0", False),
    ("*, gzip;q=0", False),
    ("br, deflate", False),
    ("identity", False),
    ("gzipx", False),
    ("", False),
])
def test_accept_encoding_table(srv, accept, gz):
    c, r, body = ask(srv.port, "/cgi/stream?n=2&size=3000", accept)
    if gz:
        assert_gzip(r, body, expected(2, 3000))
    else:
        assert_identity(r, body, expected(2, 3000), vary=True)
    c.close()


@pytest.mark.parametrize("query,length", [
    ("type=image/png", None),                      # not worth it: no Vary either
    ("type=application/octet-stream", None),
    ("cc=public,%20no-transform", None),           # RFC 9110 §7.7
    ("cl=1023&n=1&size=1023", "1023"),             # under --compress-min-size
])
def test_not_negotiable(srv, query, length):
    n = 1 if "n=1" in query else 2
    size = 1023 if "size=1023" in query else 3000
    c, r, body = ask(srv.port, "/cgi/stream?n=%d&size=%d&" % (n, size) + query, "gzip")
    assert_identity(r, body, expected(n, size), vary=False)
    assert r.getheader("Content-Length") == length
    c.close()


def test_own_content_encoding_passed_through(srv):
    c, r, body = ask(srv.port, "/cgi/stream?n=2&size=3000&enc=x-own", "gzip")
    assert r.getheader("Content-Encoding") == "x-own"
    assert r.getheader("Vary") is None
    assert body == expected(2, 3000)
    c.close()


def test_declared_length_at_min_size_is_compressed(srv):
    c, r, body = ask(srv.port, "/cgi/stream?n=1&size=1024&cl=1024", "gzip")
    assert_gzip(r, body, expected(1, 1024))
    c.close()


def test_head_gets_get_head(srv):
    c, r, body = ask(srv.port, "/cgi/stream?n=2&size=3000&cl=6000", "gzip", method="HEAD")
    assert r.status == 200 and body == b""
    assert r.getheader("Content-Encoding") == "gzip"
    assert r.getheader("Vary") == "Accept-Encoding"
    assert r.getheader("Content-Length") is None
    assert r.getheader("Transfer-Encoding") == "chunked"
    # The connection goes on: the next answer is intact.
    c, r, body = ask(srv.port, "/cgi/stream?n=2&size=3000", "gzip", conn=c)
    assert_gzip(r, body, expected(2, 3000))
    c.close()


def test_compress_no(start_server, progs):
    s = start_server("--cgi", str(progs), "--compress", "no")
    c, r, body = ask(s.port, "/cgi/stream?n=2&size=3000", "gzip")
    assert_identity(r, body, expected(2, 3000), vary=False)
    c.close()


def test_compress_min_size_option(start_server, progs):
    s = start_server("--cgi", str(progs), "--compress-min-size", "7000")
    c, r, body = ask(s.port, "/cgi/stream?n=2&size=3000&cl=6000", "gzip")
    assert_identity(r, body, expected(2, 3000), vary=False)
    assert r.getheader("Content-Length") == "6000"
    c, r, body = ask(s.port, "/cgi/stream?n=3&size=3000&cl=9000", "gzip", conn=c)
    assert_gzip(r, body, expected(3, 3000))
    c.close()


def test_keep_alive_after_compressed_answers(srv):
    c, r, body = ask(srv.port, "/cgi/stream?n=4&size=10000&delay=0.05", "gzip")
    assert_gzip(r, body, expected(4, 10000))
    sock = c.sock
    c, r, body = ask(srv.port, "/cgi/stream?n=3&size=7000", "gzip", conn=c)
    assert_gzip(r, body, expected(3, 7000))
    c, r, body = ask(srv.port, "/cgi/stream?n=2&size=5000", None, conn=c)
    assert_identity(r, body, expected(2, 5000), vary=True)
    c, r, body = ask(srv.port, "/index.html", "gzip", conn=c)
    assert r.status == 200 and b"hello" in body
    assert c.sock is sock, "the connection was not kept"
    c.close()


def read_head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        got = s.recv(65536)
        assert got, "closed before the head"
        data += got
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def test_streamed_output_arrives_while_program_pauses(srv):
    """The first piece is flushed (Z_SYNC_FLUSH) while the program sleeps."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=T)
    s.sendall(b"GET /cgi/stream?n=2&size=3000&delay=2 HTTP/1.1\r\nHost: x\r\n"
              b"Accept-Encoding: gzip\r\n\r\n")
    t0 = time.monotonic()
    head, rest = read_head(s)
    assert "Content-Encoding: gzip" in head and "Transfer-Encoding: chunked" in head
    z = zlib.decompressobj(16 + zlib.MAX_WBITS)
    got, buf = b"", rest
    while len(got) < 3000:
        # Decode whole chunks as they come.
        while b"\r\n" in buf:
            size_line, after = buf.split(b"\r\n", 1)
            size = int(size_line, 16)
            if len(after) < size + 2:
                break
            got += z.decompress(after[:size])
            buf = after[size + 2:]
        if len(got) >= 3000:
            break
        more = s.recv(65536)
        assert more, "closed early"
        buf += more
    assert got == piece(0, 3000)
    assert time.monotonic() - t0 < 1.5, "the first piece waited for the second"
    s.close()


def test_http10_close_delimited(srv):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=T)
    s.sendall(b"GET /cgi/stream?n=3&size=4000 HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
    data = b""
    while True:
        got = s.recv(65536)
        if not got:
            break
        data += got
    head, body = data.split(b"\r\n\r\n", 1)
    head = head.decode("latin-1").lower()
    assert "content-encoding: gzip" in head and "vary: accept-encoding" in head
    assert "transfer-encoding" not in head and "content-length" not in head
    assert gzip.decompress(body) == expected(3, 4000)
    s.close()


def test_declared_length_enforced(srv):
    # Excess: cut at the declared length, the stream still ends properly.
    c, r, body = ask(srv.port, "/cgi/stream?n=3&size=10000&cl=25000", "gzip")
    assert_gzip(r, body, expected(3, 10000)[:25000])
    c.close()
    # Short: the client must see the body cut (no gzip trailer, no last chunk).
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=T)
    c.request("GET", "/cgi/stream?n=2&size=10000&cl=50000", headers={"Accept-Encoding": "gzip"})
    r = c.getresponse()
    assert r.getheader("Content-Encoding") == "gzip"
    with pytest.raises(http.client.IncompleteRead):
        r.read()
    c.close()


def test_big_answer_to_slow_reader(srv):
    want = noisy_text(4 * 1024 * 1024)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.settimeout(T)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(b"GET /cgi/big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
    f = s.makefile("rb", buffering=0)
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += f.read(1)
    assert b"Content-Encoding: gzip" in head and b"Transfer-Encoding: chunked" in head
    body = bytearray()
    t0 = time.monotonic()
    while True:
        size_line = b""
        while not size_line.endswith(b"\r\n"):
            size_line += f.read(1)
        size = int(size_line, 16)
        chunk = b""
        while len(chunk) < size + 2:
            part = f.read(min(4096, size + 2 - len(chunk)))
            assert part, "closed mid-chunk"
            chunk += part
            time.sleep(0.001)   # a slow reader
        assert chunk.endswith(b"\r\n")
        if size == 0:
            break
        body += chunk[:-2]
        assert time.monotonic() - t0 < 60 * SLOW
    assert gzip.decompress(bytes(body)) == want
    # The connection is still usable.
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    assert f.read(12) == b"HTTP/1.1 200"
    s.close()
