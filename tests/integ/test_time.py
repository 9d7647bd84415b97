"""Time-derived headers (spec §3, issue 10 defect 5): the server is started,
left idle for a few seconds, and only then asked, so a Date frozen at start
or at the last request cannot pass. Every value is compared with the clock
to within a second (the header has one-second resolution; the client reads
the clock on both sides of the exchange)."""
import time

import pytest

from httputil import IDLE, Conn, assert_date_now, fetch, get, parse_http_date, timed_fetch

pytestmark = pytest.mark.valgrind


@pytest.mark.parametrize("target,status", [("/index.html", 200), ("/missing", 404),
                                           ("/sub", 301)])
def test_date_is_current_after_idle(aged, target, status):
    r, before, after = timed_fetch(aged.port, target)
    assert r.status == status
    assert_date_now(r, before, after)


def test_date_advances_on_a_kept_connection(aged):
    """Two answers on one connection, IDLE seconds apart: each carries its own
    second (a cache refreshed per connection or per request head would not)."""
    with Conn.open(aged.port) as c:
        t0 = time.time()
        c.send(get("/index.html"))
        first = c.read_response()
        assert_date_now(first, t0, time.time())
        time.sleep(IDLE)
        t1 = time.time()
        c.send(get("/index.html"))
        second = c.read_response()
        assert_date_now(second, t1, time.time())
    gap = (parse_http_date(second.header("date")) - parse_http_date(first.header("date")))
    assert gap.total_seconds() >= IDLE - 1


def test_last_modified_never_after_date(aged, workdir):
    """A file written after the server went idle: its Last-Modified is its
    mtime and not later than the response's Date."""
    path = workdir / "www" / "fresh.txt"
    path.write_bytes(b"written after start\n")
    r, before, after = timed_fetch(aged.port, "/fresh.txt")
    assert r.status == 200 and r.body == b"written after start\n"
    assert_date_now(r, before, after)
    lm = parse_http_date(r.header("last-modified")).timestamp()
    assert lm == int(path.stat().st_mtime)
    assert lm <= parse_http_date(r.header("date")).timestamp()


def test_error_answer_dated_now_after_idle(aged):
    before = time.time()
    r = fetch(aged.port, "/", method="BREW")
    assert r.status == 501
    assert_date_now(r, before, time.time())


def test_head_dated_now_after_idle(aged):
    before = time.time()
    r = fetch(aged.port, "/index.html", method="HEAD")
    assert r.status == 200 and r.body == b""
    assert_date_now(r, before, time.time())
