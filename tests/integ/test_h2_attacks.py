"""HTTP/2 attacks (cleartext prior knowledge on the HTTP port).

Every test is one published (or obvious) attack on an HTTP/2 server, run
against the real binary. Each asserts the exact outcome the server's limits
in src/h2.c (and libnghttp2's, with the options h2.c sets) produce: the
GOAWAY or RST_STREAM error code, the status, how soon the connection ends;
then that the server still serves a fresh client at once, and that its
descriptors (and, where an attack is about memory, its RSS) are back to
where they were.

The frames are built by hand (struct) so that a test can send what no
well-behaved client library would: a SETTINGS it never acknowledges, a
WINDOW_UPDATE of 0, endless CONTINUATION frames. Answers are parsed with
hyperframe and HPACK-decoded with hpack.

The H2 client below waits for the server's SETTINGS before it sends a
request (as browsers and nghttp do); test_first_flight_in_one_write shows
why: bytes that arrive in the same read as the preface wait for the next.

Four tests fail against h2.c as committed with HTTP/2 (90f33d2), each a
bug reported with it: test_first_flight_in_one_write_is_answered (the
bytes read with the preface), test_empty_data_flood and
test_ping_flood_with_a_stream_open (a flood's GOAWAY does not end a
connection that has a stream open), test_hpack_bomb_costs_bounded_cpu
(each field past the 64 KiB bound is still validated by libnghttp2).
"""
import os
import shutil
import signal
import socket
import struct
import time
from pathlib import Path

import hpack
import pytest
from hyperframe.frame import Frame

from conftest import LISOD, VALGRIND
from httputil import SLOW, SocketOwner, fetch, wait_for
from procutil import children, fd_count, rss_kib, sanitized

T = 5.0 * SLOW
HERE = Path(__file__).resolve().parent
INDEX = b"<html><body>hello</body></html>\n"   # conftest's index.html

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types and flags (RFC 9113 §6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, \
    WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4

# error codes (RFC 9113 §7)
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, \
    STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, \
    CONNECT_ERROR, ENHANCE_YOUR_CALM = range(12)
CODE_NAMES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
              "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
              "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM"]

# settings (RFC 9113 §6.5.2)
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, \
    MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = range(1, 7)


# RSS means something only for the plain build: valgrind's allocator and
# ASan's quarantine keep freed memory (docs/testing.md, the soak test).
MEASURE_RSS = not VALGRIND and not sanitized(LISOD)


def code_name(code):
    return CODE_NAMES[code] if code is not None and 0 <= code < len(CODE_NAMES) else str(code)


# --------------------------------------------------------------------------
# frames, by hand
# --------------------------------------------------------------------------
def frame(ftype, flags, sid, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) +
            struct.pack(">I", sid & 0x7FFFFFFF) + payload)


def settings_frame(entries=(), ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0,
                 b"".join(struct.pack(">HI", k, v) for k, v in entries))


def ping_frame(data=b"\0" * 8, ack=False):
    return frame(PING, ACK if ack else 0, 0, data)


def rst_frame(sid, code=CANCEL):
    return frame(RST_STREAM, 0, sid, struct.pack(">I", code))


def window_update_frame(sid, increment):
    return frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", increment))


def priority_frame(sid, dep=0, weight=16):
    return frame(PRIORITY, 0, sid, struct.pack(">IB", dep, weight - 1))


def data_frame(sid, data=b"", end_stream=False):
    return frame(DATA, END_STREAM if end_stream else 0, sid, data)


def headers_frame(sid, block, end_stream=True, end_headers=True):
    return frame(HEADERS, (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0),
                 sid, block)


def continuation_frame(sid, block, end_headers=False):
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, sid, block)


# --------------------------------------------------------------------------
# a raw client
# --------------------------------------------------------------------------
class Stream:
    def __init__(self, sid):
        self.sid = sid
        self.headers = None     # the final answer's fields, decoded
        self.body = b""
        self.ended = False      # END_STREAM received
        self.reset = None       # RST_STREAM error code received

    @property
    def status(self):
        return int(dict(self.headers)[":status"]) if self.headers else None

    @property
    def done(self):
        return self.ended or self.reset is not None

    def __repr__(self):
        return (f"<stream {self.sid} status={self.status} body={len(self.body)}B "
                f"ended={self.ended} reset={code_name(self.reset)}>")


class H2(SocketOwner):
    """One connection in prior knowledge, frames in and out by hand.

    `settings` go in the client's first SETTINGS; `ack_settings=False`
    never acknowledges the server's; `auto_window` gives back every DATA
    byte at once (stream and connection). Frames are only read when a
    method waits for something, so a test that wants a client that never
    reads simply does not call those."""

    def __init__(self, port, settings=(), ack_settings=True, auto_window=True, timeout=T,
                 rcvbuf=None, preface=True, handshake=True):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.ack_settings = ack_settings
        self.auto_window = auto_window
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 20
        self.buf = b""
        self.eof = False
        self.eof_at = None
        self.frames = []            # (type, flags, sid, payload) as received
        self.goaways = []           # (last_stream_id, code, debug)
        self.goaway_at = []         # when each arrived (time.monotonic())
        self.server_settings = None
        self.settings_acked = False  # the server acknowledged ours
        self.settings_acks = 0
        self.reset_by_peer = False  # the connection ended with a TCP reset
        self.pings_acked = 0
        self.streams = {}
        self._block = None          # (sid, flags, bytes) of a header block in progress
        if preface:
            self.send(PREFACE + settings_frame(settings))
        if preface and handshake:
            # The server's SETTINGS first (acknowledged, unless told not
            # to), as browsers and nghttp do: what follows is then read
            # apart from the preface (see test_first_flight_in_one_write).
            assert self.pump(lambda: self.server_settings is not None, timeout), \
                "no SETTINGS from the server"

    # -- out --------------------------------------------------------------
    def send(self, data):
        self.sock.sendall(data)

    def try_send(self, data):
        """Send, or False when the server has closed (reset, broken pipe)."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def block(self, path="/index.html", method="GET", extra=(), authority="localhost"):
        fields = [(":method", method), (":scheme", "http"), (":authority", authority),
                  (":path", path)] + list(extra)
        return self.enc.encode(fields)

    def request(self, sid, path="/index.html", method="GET", extra=(), end_stream=True):
        self.streams[sid] = Stream(sid)
        self.send(headers_frame(sid, self.block(path, method, extra), end_stream))
        return self.streams[sid]

    # -- in ----------------------------------------------------------------
    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline passed waiting for frames")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            self.reset_by_peer = True
            data = b""
        if not data:
            self.eof = True
            self.eof_at = time.monotonic()
            return False
        self.buf += data
        return True

    def _stream(self, sid):
        if sid not in self.streams:
            self.streams[sid] = Stream(sid)
        return self.streams[sid]

    def _handle(self, ftype, flags, sid, payload):
        self.frames.append((ftype, flags, sid, payload))
        if ftype == SETTINGS:
            if flags & ACK:
                self.settings_acked = True
                self.settings_acks += 1
            else:
                self.server_settings = dict(struct.unpack(">HI", payload[i:i + 6])
                                            for i in range(0, len(payload), 6))
                if self.ack_settings:
                    self.try_send(settings_frame(ack=True))
        elif ftype == PING:
            if flags & ACK:
                self.pings_acked += 1
        elif ftype == GOAWAY:
            last, code = struct.unpack(">II", payload[:8])
            self.goaways.append((last & 0x7FFFFFFF, code, payload[8:]))
            self.goaway_at.append(time.monotonic())
        elif ftype == RST_STREAM:
            self._stream(sid).reset = struct.unpack(">I", payload)[0]
        elif ftype in (HEADERS, CONTINUATION):
            if ftype == HEADERS:
                f = Frame.parse_frame_header(bytes([0, 0, 0, ftype, flags]) +
                                             struct.pack(">I", sid))[0]
                f.parse_body(memoryview(payload))
                self._block = [sid, flags, f.data]
            else:
                self._block[2] += payload
            if flags & END_HEADERS:
                bsid, bflags, block = self._block
                self._block = None
                fields = self.dec.decode(block)
                st = self._stream(bsid)
                status = dict(fields).get(":status", "")
                if not status.startswith("1"):
                    st.headers = fields
                if bflags & END_STREAM:
                    st.ended = True
        elif ftype == DATA:
            f = Frame.parse_frame_header(bytes([0, 0, 0, ftype, flags]) + struct.pack(">I", sid))[0]
            f.parse_body(memoryview(payload))
            st = self._stream(sid)
            st.body += f.data
            if flags & END_STREAM:
                st.ended = True
            if self.auto_window and payload:
                self.try_send(window_update_frame(0, len(payload)) +
                              (b"" if flags & END_STREAM else
                               window_update_frame(sid, len(payload))))

    def _next_frame(self, deadline):
        """One frame off the socket and handled; False at EOF."""
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            if not self._fill(deadline):
                return False
        n = int.from_bytes(self.buf[:3], "big")
        ftype, flags = self.buf[3], self.buf[4]
        sid = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
        payload, self.buf = self.buf[9:9 + n], self.buf[9 + n:]
        self._handle(ftype, flags, sid, payload)
        return True

    def pump(self, until, timeout=T):
        """Read frames until until() holds (True), EOF (until()'s value) or
        the deadline (False)."""
        deadline = time.monotonic() + timeout
        try:
            while not until():
                if not self._next_frame(deadline):
                    return bool(until())
        except socket.timeout:
            return bool(until())
        return True

    def response(self, sid, timeout=T):
        st = self._stream(sid)
        assert self.pump(lambda: st.done, timeout), \
            f"no answer on stream {sid} within {timeout}s: {st}, goaways {self.goaways}"
        return st

    def wait_goaway(self, timeout=T):
        return self.pump(lambda: self.goaways, timeout)

    def wait_closed(self, timeout=T):
        """Read (and handle) everything until EOF; True when it came in time."""
        self.pump(lambda: self.eof, timeout)
        return self.eof


# --------------------------------------------------------------------------
# the server's health and resources
# --------------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of the process so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def h2_get(port, path="/index.html", timeout=T):
    with H2(port, timeout=timeout) as c:
        c.request(1, path)
        return c.response(1, timeout)


def assert_serves(srv, within=0.5 * SLOW):
    """A fresh client, in HTTP/2 and in HTTP/1.1, gets its 200 at once."""
    t0 = time.monotonic()
    st = h2_get(srv.port, timeout=within + 2)
    assert st.status == 200 and st.body == INDEX and st.ended, st
    r = fetch(srv.port, "/index.html", timeout=within + 2)
    assert r.status == 200 and r.body == INDEX, r
    took = time.monotonic() - t0
    assert took < within, f"a fresh client waited {took:.2f}s"
    assert srv.proc.poll() is None, "lisod died"


class Baseline:
    """The server warmed up (an HTTP/2 and an HTTP/1.1 answer, and the
    files a test will serve, so the open-file cache holds them already),
    then its descriptors and RSS."""

    def __init__(self, srv, *paths):
        assert_serves(srv)
        for p in paths:
            assert fetch(srv.port, p, method="HEAD", timeout=T).status == 200
        time.sleep(0.1)
        self.fds = fd_count(srv.pid)
        self.rss = rss_kib(srv.pid)


def assert_settled(srv, base, rss_mib=None):
    """Back to normal: no CGI program left, the descriptors of the
    baseline, RSS within rss_mib of it, a fresh client served at once."""
    ok = wait_for(lambda: not children(srv.pid) and fd_count(srv.pid) == base.fds, 3 * SLOW)
    assert ok, (f"server did not settle: children {children(srv.pid)}, "
                f"{fd_count(srv.pid)} fds (baseline {base.fds})")
    if rss_mib is not None:
        assert_rss_within(srv, base.rss, rss_mib * 1024)
    assert_serves(srv)


def assert_rss_within(srv, base_kib, limit_kib, what=""):
    if not MEASURE_RSS:
        return
    grown = rss_kib(srv.pid) - base_kib
    assert grown < limit_kib, f"RSS grew by {grown} KiB{what}"


def send_block(c, sid, block, end_stream=True, pieces=None, piece=16384):
    """One header block: HEADERS, then CONTINUATION frames (`pieces` of
    them when given, else as many as frames of `piece` bytes need)."""
    if pieces is not None:
        step = -(-len(block) // (pieces + 1))
        parts = [block[i * step:(i + 1) * step] for i in range(pieces + 1)]
    else:
        parts = [block[i:i + piece] for i in range(0, len(block), piece)] or [b""]
    c.streams[sid] = Stream(sid)
    out = headers_frame(sid, parts[0], end_stream, end_headers=len(parts) == 1)
    for i, part in enumerate(parts[1:], 1):
        out += continuation_frame(sid, part, end_headers=i == len(parts) - 1)
    c.send(out)
    return c.streams[sid]


def stream_body(n):
    """What tests/integ/cgi/stream prints for n lines."""
    return b"".join(b"tick %d\n" % i for i in range(n))


@pytest.fixture
def cgi_dir(workdir):
    d = workdir / "cgi"
    d.mkdir()
    for name in ("stream", "sleeper"):
        shutil.copyfile(HERE / "cgi" / name, d / name)
        (d / name).chmod(0o755)
    return d


def assert_logged(srv, text):
    """The error log (written a line at a time, but not at once) says it."""
    assert wait_for(lambda: text in srv.log(), 3 * SLOW), f"not logged: {text!r}"


def pids_of(cgi_dir, prefix):
    return [int(p.read_text()) for p in cgi_dir.glob(f"pid-{prefix}*") if p.read_text().strip()]


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


# --------------------------------------------------------------------------
# 1. more concurrent streams than SETTINGS_MAX_CONCURRENT_STREAMS
# --------------------------------------------------------------------------
def test_stream_beyond_the_limit_is_refused_before_the_settings_ack(start_server, cgi_dir):
    """--http2-max-streams 5, our SETTINGS not acknowledged yet: libnghttp2
    refuses the 6th stream alone (RST_STREAM REFUSED_STREAM, RFC 9113
    §5.1.2), at once and without starting its program; the five finish
    whole, and the freed slot takes a new stream."""
    srv = start_server("--cgi", str(cgi_dir), "--http2-max-streams", "5")
    base = Baseline(srv)
    n = 15
    with H2(srv.port, ack_settings=False) as c:
        assert c.server_settings[MAX_CONCURRENT_STREAMS] == 5
        t0 = time.monotonic()
        for i in range(6):
            c.streams[1 + 2 * i] = Stream(1 + 2 * i)
        c.send(b"".join(headers_frame(1 + 2 * i, c.block(f"/cgi/stream?id=c{i}&n={n}&delay=0.1"))
                        for i in range(6)))
        assert c.pump(lambda: c.streams[11].done, T)
        took = time.monotonic() - t0
        assert c.streams[11].reset == REFUSED_STREAM and c.streams[11].headers is None, c.streams
        assert took < 1.0 * SLOW, f"refused after {took:.2f}s"
        assert not any(c.streams[sid].done for sid in (1, 3, 5, 7, 9)), c.streams
        for sid in (1, 3, 5, 7, 9):
            st = c.response(sid, 10 * SLOW)
            assert st.status == 200 and st.ended and st.reset is None, st
            assert st.body == stream_body(n), st
        assert not (cgi_dir / "pid-c5").exists(), "the refused stream's program ran"
        c.request(13)
        st = c.response(13)
        assert st.status == 200 and st.body == INDEX, st
        assert not c.goaways
    assert_settled(srv, base)


def test_stream_beyond_the_acknowledged_limit_ends_the_connection(start_server, cgi_dir):
    """Once the client has acknowledged the limit of 5, libnghttp2 (1.52)
    takes a 6th stream for a connection error: GOAWAY PROTOCOL_ERROR with
    last-stream-id 9, the connection closed at once, and the five programs
    it had started are killed."""
    srv = start_server("--cgi", str(cgi_dir), "--http2-max-streams", "5")
    base = Baseline(srv)
    with H2(srv.port) as c:
        t0 = time.monotonic()
        c.send(b"".join(headers_frame(1 + 2 * i, c.block(f"/cgi/stream?id=a{i}&n=100&delay=0.1"))
                        for i in range(6)))
        assert c.wait_closed(T), "connection not closed"
        took = c.eof_at - t0
        assert [(g[0], g[1]) for g in c.goaways] == [(9, PROTOCOL_ERROR)], c.goaways
        assert c.goaways[0][2] == b"request HEADERS: max concurrent streams exceeded"
        assert took < 1.0 * SLOW, f"closed after {took:.2f}s"
    # every program started for the five streams is gone
    assert wait_for(lambda: not any(alive(p) for p in pids_of(cgi_dir, "a")), 3 * SLOW), \
        [p for p in pids_of(cgi_dir, "a") if alive(p)]
    assert_settled(srv, base)


# --------------------------------------------------------------------------
# 2. a header list over the bound
# --------------------------------------------------------------------------
def fields_of_size(total):
    """Fields that bring a request's header list (RFC 9113 §6.5.2 count:
    name + value + 32 each; the four pseudo-fields of H2.block make 184)
    to exactly `total` bytes, in values of at most 8000 (below HTTP/1.1's
    line limit, which the stream's inner connection also applies)."""
    left, out = total - 184, []
    while left > 0:
        name = f"x-f{len(out):02d}"
        v = min(8000, left - len(name) - 32)
        out.append((name, "a" * v))
        left -= len(name) + v + 32
    assert left == 0
    return out


def test_header_list_over_64k_is_431_and_the_connection_goes_on(start_server):
    """The bound we announce (SETTINGS_MAX_HEADER_LIST_SIZE 65536): a list
    of exactly 65536 bytes is served, one byte more is 431 on that stream,
    and the connection serves the next request."""
    srv = start_server()
    base = Baseline(srv)
    with H2(srv.port) as c:
        assert c.server_settings[MAX_HEADER_LIST_SIZE] == 65536
        for sid, total, status in ((1, 65536, 200), (3, 65537, 431), (5, 200000, 431),
                                   (7, 65536, 200)):
            blk = c.block(extra=fields_of_size(total))
            send_block(c, sid, blk)
            st = c.response(sid)
            assert st.status == status and st.ended and st.reset is None, (total, st)
            if status == 431:
                # the page writer's 431, as HTTP/1.1 gets it: Server, Date, the page
                h = dict(st.headers)
                assert [k for k, _ in st.headers] == [":status", "server", "date",
                                                      "content-type", "content-length"], \
                    st.headers
                assert h["server"] == "Liso/1.0" and h["content-type"] == "text/html", h
                assert int(h["content-length"]) == len(st.body) > 0 and b"431" in st.body
            else:
                assert st.body == INDEX
        c.request(9)
        assert c.response(9).status == 200
        assert not c.goaways
    assert_settled(srv, base, rss_mib=2)


# --------------------------------------------------------------------------
# 3. rapid reset (CVE-2023-44487)
# --------------------------------------------------------------------------
def test_rapid_reset_ends_the_connection(start_server, cgi_dir):
    """Connections that each send 2000 HEADERS (to a CGI program), each
    followed at once by its RST_STREAM: libnghttp2's reset limiter (burst
    200, then 50/s) ends each with GOAWAY INTERNAL_ERROR after the 201st
    (last-stream-id 401, or a little more when a second begins during the
    burst), and the connection closes. The server spends next to no CPU,
    no program started for a reset stream stays, and a second round of 10
    connections costs no more memory than the first left behind (what the
    first takes stays with the allocator: up to 16 KiB a stream for the
    streams opened and reset within one read)."""
    srv = start_server("--cgi", str(cgi_dir))
    base = Baseline(srv)
    cpu0 = cpu_seconds(srv.pid)
    rss = []
    for k in range(20):
        with H2(srv.port) as c:
            c.try_send(b"".join(headers_frame(1 + 2 * i, c.block(f"/cgi/sleeper?rr{k}x{i}")) +
                                rst_frame(1 + 2 * i, CANCEL) for i in range(2000)))
            t0 = time.monotonic()
            assert c.wait_closed(T), f"connection {k} not closed"
            assert [g[1] for g in c.goaways] == [INTERNAL_ERROR], c.goaways
            assert 401 <= c.goaways[0][0] <= 501, c.goaways
            assert c.eof_at - t0 < 1.0 * SLOW
            assert not any(st.headers for st in c.streams.values())
        if k in (9, 19):
            rss.append(rss_kib(srv.pid))
    cpu = cpu_seconds(srv.pid) - cpu0
    print(f"rapid reset: CPU {cpu:.2f}s, RSS +{rss[0] - base.rss} KiB after 10 connections, "
          f"+{rss[1] - base.rss} KiB after 20")
    assert cpu < 1.0 * SLOW, f"the server spent {cpu:.2f}s of CPU on 20 rapid-reset connections"
    assert wait_for(lambda: not any(alive(p) for p in pids_of(cgi_dir, "rr")), 3 * SLOW)
    assert_settled(srv, base)
    if MEASURE_RSS:
        assert rss[0] - base.rss < 8 * 1024, f"RSS grew by {rss[0] - base.rss} KiB"
        assert rss[1] - rss[0] < 1024, \
            f"RSS grew by {rss[1] - rss[0]} KiB more in the second round"


# --------------------------------------------------------------------------
# 4. CONTINUATION flood (VU#421644, CVE-2024-28182 in libnghttp2)
# --------------------------------------------------------------------------
def test_eight_continuations_are_allowed(start_server):
    """The limit set (8 CONTINUATION frames per header block) is the one
    that applies: a request split over HEADERS and 8 CONTINUATIONs is
    served; over HEADERS and 9 the connection is closed."""
    srv = start_server()
    with H2(srv.port) as c:
        st = send_block(c, 1, c.block(), pieces=8)
        assert c.response(1).status == 200 and st.body == INDEX
    with H2(srv.port) as c:
        send_block(c, 1, c.block(), pieces=9)
        assert c.wait_closed(T)
        assert c.streams[1].headers is None


@pytest.mark.parametrize("payload", ["empty", "16k-fields"])
def test_continuation_flood_closes_the_connection(start_server, payload):
    """HEADERS without END_HEADERS, then CONTINUATION frames without end
    (empty ones, or full 16 KiB ones each carrying a new field): the 9th
    ends the connection at once, memory untouched.

    libnghttp2 reports NGHTTP2_ERR_TOO_MANY_CONTINUATIONS as a fatal error;
    h2.c says why before it closes (RFC 9113 §5.4.1): GOAWAY
    ENHANCE_YOUR_CALM."""
    srv = start_server()
    base = Baseline(srv)
    with H2(srv.port) as c:
        t0 = time.monotonic()
        c.send(headers_frame(1, c.block(), end_stream=True, end_headers=False))
        enc = hpack.Encoder()
        sent = 0
        for i in range(20000):
            body = b"" if payload == "empty" else enc.encode([(f"x-c{i}", "v" * 16000)])
            if not c.try_send(continuation_frame(1, body)):
                break
            sent += 1
            if time.monotonic() - t0 > 3 * SLOW:
                break
        assert c.wait_closed(T)
        took = c.eof_at - t0
        assert took < 1.0 * SLOW, f"closed after {took:.2f}s ({sent} CONTINUATION frames sent)"
        assert [g[1] for g in c.goaways] == [ENHANCE_YOUR_CALM], c.goaways
        assert c.streams == {}
    assert_logged(srv, "Too many CONTINUATION frames following a HEADER frame: closed")
    assert_settled(srv, base, rss_mib=1)


# --------------------------------------------------------------------------
# 5. HPACK bomb
# --------------------------------------------------------------------------
def hpack_int(v, prefix, first=0):
    m = (1 << prefix) - 1
    if v < m:
        return bytes([first | v])
    out = [first | m]
    v -= m
    while v >= 128:
        out.append((v & 127) | 128)
        v >>= 7
    return bytes(out + [v])


# :method GET, :scheme http, :path / (static table), :authority localhost
# as a literal never put in the dynamic table: the bomb entry stays at 62.
BOMB_PSEUDO = b"\x82\x86\x84" + hpack_int(1, 4) + hpack_int(9, 7) + b"localhost"
BOMB_ENTRY = (hpack_int(0, 6, 0x40) + hpack_int(6, 7) + b"x-bomb" + hpack_int(4000, 7) +
              b"b" * 4000)  # 4038 bytes of table: the whole 4096 of it


def send_bombs(c, first_sid, count):
    """`count` streams, each one header block of 9 full frames (HEADERS and
    the 8 CONTINUATIONs allowed) that references the 4000-byte field in the
    dynamic table (index 62) about 147,000 times: 590 MB of header list
    from 147 KiB. The first block also adds the field to the table."""
    sid = first_sid
    for k in range(count):
        blk = BOMB_PSEUDO + (BOMB_ENTRY if sid == 1 else b"")
        blk += b"\xbe" * (9 * 16384 - len(blk))
        send_block(c, sid, blk)
        sid += 2
    return sid


def test_hpack_bomb_is_reset_in_bounded_memory(start_server):
    """8 bombs (4.7 GB of header list): each stream is reset INTERNAL_ERROR
    once 256 KiB of it is decoded (a list merely over 64 KiB gets a 431:
    test_header_list_over_64k_is_431_and_the_connection_goes_on), the server's RSS grows by less than 2 MiB,
    and the connection serves the next request."""
    srv = start_server()
    base = Baseline(srv)
    with H2(srv.port, timeout=30 * SLOW) as c:
        end = send_bombs(c, 1, 8)
        for sid in range(1, end, 2):
            st = c.response(sid, 30 * SLOW)
            assert st.status is None and st.reset == INTERNAL_ERROR, st
        print(f"HPACK bomb: RSS +{rss_kib(srv.pid) - base.rss} KiB after 8 bombs")
        assert_rss_within(srv, base.rss, 2048)
        c.request(end)
        st = c.response(end)
        assert st.status == 200 and st.body == INDEX, st
        assert not c.goaways
    assert_settled(srv, base, rss_mib=2)


def test_hpack_bomb_costs_bounded_cpu(start_server):
    """4 bombs: 590 KB of HPACK the server must decode (it keeps the table
    in step; past 256 KiB of a list libnghttp2 decodes it unchecked), which
    takes well under 0.3 s; a bystander meanwhile is served
    promptly (the loop is not held up)."""
    srv = start_server()
    Baseline(srv)
    with H2(srv.port, timeout=30 * SLOW) as c:
        cpu0 = cpu_seconds(srv.pid)
        t0 = time.monotonic()
        end = send_bombs(c, 1, 4)
        time.sleep(0.05)
        t1 = time.monotonic()
        r = fetch(srv.port, "/index.html", timeout=10 * SLOW)
        bystander = time.monotonic() - t1
        assert r.status == 200
        for sid in range(1, end, 2):
            assert c.response(sid, 30 * SLOW).reset == INTERNAL_ERROR
        cpu = cpu_seconds(srv.pid) - cpu0
        wall = time.monotonic() - t0
    assert cpu < 0.3 * SLOW, \
        f"4 HPACK bombs cost {cpu:.2f}s of server CPU ({wall:.2f}s wall); a bystander " \
        f"waited {bystander:.2f}s"
    assert bystander < 0.5 * SLOW, f"a bystander waited {bystander:.2f}s"


# --------------------------------------------------------------------------
# 6. floods of frames that do no work
# --------------------------------------------------------------------------
def assert_flood_goaway(c, t0, last=0, within=1.0):
    assert c.wait_closed(T), f"connection not closed; GOAWAYs {c.goaways}"
    assert [(g[0], g[1]) for g in c.goaways] == [(last, ENHANCE_YOUR_CALM)], \
        [(g[0], code_name(g[1]), g[2]) for g in c.goaways]
    took = c.eof_at - t0
    assert took < within * SLOW, f"closed after {took:.2f}s"


def test_settings_flood(start_server):
    """A client that reads (every SETTINGS acknowledged, so no ACK queue
    builds) but sends SETTINGS after SETTINGS: past 1000 in a second,
    GOAWAY ENHANCE_YOUR_CALM and the connection closed."""
    srv = start_server()
    base = Baseline(srv)
    with H2(srv.port) as c:
        t0 = time.monotonic()
        sent = 0
        while not c.goaways and not c.eof and sent < 20000:
            want = c.settings_acks + 250
            if not c.try_send(settings_frame([(INITIAL_WINDOW_SIZE, 65535)]) * 250):
                break
            sent += 250
            c.pump(lambda: c.settings_acks >= want or c.goaways, T)
        assert_flood_goaway(c, t0)
        assert 1000 <= sent <= 2500, sent
    assert_logged(srv, "HTTP/2 flood (SETTINGS): connection closed")
    assert_settled(srv, base)


@pytest.mark.parametrize("entries, closed", [(32, False), (33, True)])
def test_settings_with_too_many_entries(start_server, entries, closed):
    """max_settings 32: a SETTINGS frame of 33 entries is GOAWAY
    ENHANCE_YOUR_CALM ("too many setting entries"); 32 are taken."""
    srv = start_server()
    with H2(srv.port) as c:
        c.send(settings_frame([(INITIAL_WINDOW_SIZE, 65535)] * entries))
        if not closed:
            c.request(1)
            assert c.response(1).status == 200
            assert not c.goaways
            return
        t0 = time.monotonic()
        assert_flood_goaway(c, t0)
        assert c.goaways[0][2] == b"SETTINGS: too many setting entries"
    assert_serves(srv)


def test_ping_flood_from_a_client_that_does_not_read(start_server):
    """3000 PINGs in one write, nothing read meanwhile: past 1000 in a
    second, GOAWAY ENHANCE_YOUR_CALM, and the connection closes before all
    of them are answered. (The socket takes every PING ACK here, so no ACK
    queue builds: that limit is the next test's.)"""
    srv = start_server()
    base = Baseline(srv)
    with H2(srv.port) as c:
        t0 = time.monotonic()
        c.try_send(ping_frame() * 3000)
        time.sleep(0.2)
        assert_flood_goaway(c, t0, within=1.5)
        assert c.pings_acked < 3000, c.pings_acked
    assert_logged(srv, "HTTP/2 flood (PING): connection closed")
    assert_settled(srv, base)


def test_priority_flood(start_server):
    srv = start_server()
    base = Baseline(srv)
    with H2(srv.port) as c:
        t0 = time.monotonic()
        c.try_send(b"".join(priority_frame(2 * i + 1) for i in range(3000)))
        assert_flood_goaway(c, t0)
    assert_logged(srv, "HTTP/2 flood (PRIORITY): connection closed")
    assert_settled(srv, base)


def flood_after_goaway(c, unit, seconds=1.5):
    """Go on flooding for `seconds` once the GOAWAY came; how many frames
    the server took meanwhile (it should have closed)."""
    sent = 0
    t0 = time.monotonic()
    while not c.eof and time.monotonic() - t0 < seconds:
        if not c.try_send(unit * 1000):
            break
        sent += 1000
        c.pump(lambda: c.eof, 0.01)
    return sent


def test_empty_data_flood(start_server):
    """A POST whose body never comes, only DATA frames of 0 bytes without
    END_STREAM: past 1000 in a second, GOAWAY ENHANCE_YOUR_CALM and the
    connection closed (its one stream cannot keep a flooder connected)."""
    srv = start_server()
    base = Baseline(srv)
    with H2(srv.port) as c:
        c.request(1, "/index.html", "POST", [("content-length", "10")], end_stream=False)
        t0 = time.monotonic()
        c.try_send(data_frame(1) * 3000)
        assert c.pump(lambda: c.goaways or c.eof, T)
        closed = c.wait_closed(1.0 * SLOW)
        more = 0 if closed else flood_after_goaway(c, data_frame(1))
        assert closed, (f"GOAWAY {[(g[0], code_name(g[1])) for g in c.goaways]} but the "
                        f"connection stays open; {more} more empty DATA frames taken after it")
        assert_flood_goaway(c, t0, last=1)
    assert_settled(srv, base)


def test_ping_flood_with_a_stream_open(start_server, cgi_dir):
    """The same PING flood while a slow CGI answer is on its way: GOAWAY
    ENHANCE_YOUR_CALM, and the connection must close all the same (else
    one slow stream lets the flood go on for as long as it lasts)."""
    srv = start_server("--cgi", str(cgi_dir))
    base = Baseline(srv)
    with H2(srv.port) as c:
        c.request(1, "/cgi/stream?id=p&n=100&delay=0.1")
        assert c.pump(lambda: c.streams[1].headers, T)
        t0 = time.monotonic()
        c.try_send(ping_frame() * 3000)
        assert c.pump(lambda: c.goaways or c.eof, T)
        closed = c.wait_closed(1.0 * SLOW)
        more = 0 if closed else flood_after_goaway(c, ping_frame())
        assert closed, (f"GOAWAY {[(g[0], code_name(g[1])) for g in c.goaways]} but the "
                        f"connection stays open; {more} more PINGs taken after it, "
                        f"{c.pings_acked} answered in all")
        assert_flood_goaway(c, t0, last=1)
    assert_settled(srv, base)


def test_ping_acks_a_client_never_reads_are_bounded(start_server, workdir):
    """max_outbound_ack 1000: the answer to a big file fills the socket (the
    client reads nothing), then PINGs come at 800 a second (below the flood
    rate): once 1000 PING ACKs wait unsent, libnghttp2 calls it a flood and
    the connection is closed (no GOAWAY could go: the socket is full)."""
    (workdir / "www").mkdir()
    (workdir / "www" / "big.bin").write_bytes(os.urandom(1 << 20) * 8)
    srv = start_server()
    base = Baseline(srv, "/big.bin")
    with H2(srv.port, settings=[(INITIAL_WINDOW_SIZE, 2 ** 31 - 1)], rcvbuf=4096,
            auto_window=False) as c:
        c.send(window_update_frame(0, 2 ** 31 - 1 - 65535))
        c.request(1, "/big.bin")
        time.sleep(0.5)
        t0 = time.monotonic()
        sent = 0
        while time.monotonic() - t0 < 4 * SLOW:
            if not c.try_send(ping_frame() * 40):
                break
            sent += 40
            time.sleep(0.05)
        took = time.monotonic() - t0
        assert c.wait_closed(T)
        print(f"max_outbound_ack: closed after {sent} PINGs in {took:.2f}s")
        assert 1000 <= sent <= 1400, f"{sent} PINGs sent in {took:.2f}s before the close"
        assert GOAWAY not in [f[0] for f in c.frames]
    assert_logged(srv, "Flooding was detected in this HTTP/2 session, and it must be "
                       "closed: closed")
    assert "HTTP/2 flood (PING)" not in srv.log()
    assert_settled(srv, base, rss_mib=2)


# --------------------------------------------------------------------------
# 7. a window held at zero
# --------------------------------------------------------------------------
def test_zero_window_held_forever_is_ended(start_server, workdir):
    """SETTINGS_INITIAL_WINDOW_SIZE 0, a 4 MiB file asked for, no
    WINDOW_UPDATE ever, PINGs twice a second (well below the flood rate):
    after --write-timeout 2 with no DATA moving, the stream is reset
    (INTERNAL_ERROR), GOAWAY ENHANCE_YOUR_CALM, and the connection is reset;
    memory stays put meanwhile."""
    (workdir / "www").mkdir()
    (workdir / "www" / "big.bin").write_bytes(os.urandom(1 << 20) * 4)
    srv = start_server("--write-timeout", "2")
    base = Baseline(srv, "/big.bin")
    with H2(srv.port, settings=[(INITIAL_WINDOW_SIZE, 0)]) as c:
        c.request(1, "/big.bin")
        t0 = time.monotonic()
        while not c.eof and time.monotonic() - t0 < 8 * SLOW:
            c.try_send(ping_frame())
            c.pump(lambda: c.eof, 0.5)
            assert_rss_within(srv, base.rss, 1024, " while the window was held")
        assert c.eof, "connection not ended"
        took = c.eof_at - t0
        assert 1.9 <= took < 2 + 1.5 * SLOW, f"ended after {took:.2f}s"
        st = c.streams[1]
        assert st.status == 200 and st.body == b"" and st.reset == INTERNAL_ERROR, st
        assert [(g[0], g[1]) for g in c.goaways] == [(1, ENHANCE_YOUR_CALM)], c.goaways
        assert c.pings_acked >= 3
    assert_logged(srv, "HTTP/2 client reads nothing: reset")
    assert_settled(srv, base, rss_mib=1)


def test_stream_held_at_zero_is_reset_alone(start_server, workdir, cgi_dir):
    """Two streams, the client opens the window of one only: after
    --write-timeout the stalled one is reset (INTERNAL_ERROR); the other,
    whose DATA moves, is answered whole, and the connection goes on."""
    (workdir / "www").mkdir()
    (workdir / "www" / "big.bin").write_bytes(os.urandom(1 << 20) * 4)
    srv = start_server("--cgi", str(cgi_dir), "--write-timeout", "2")
    base = Baseline(srv, "/big.bin")
    with H2(srv.port, settings=[(INITIAL_WINDOW_SIZE, 0)], auto_window=False) as c:
        c.send(window_update_frame(0, 1 << 30))
        c.request(1, "/cgi/stream?id=z&n=35&delay=0.1")
        c.request(3, "/big.bin")
        c.send(window_update_frame(1, 1 << 30))
        t0 = time.monotonic()
        assert c.pump(lambda: c.streams[3].done, 5 * SLOW)
        took = time.monotonic() - t0
        assert c.streams[3].reset == INTERNAL_ERROR and c.streams[3].body == b"", c.streams[3]
        assert 1.9 <= took < 2 + 1.5 * SLOW, f"reset after {took:.2f}s"
        assert not c.streams[1].done
        st = c.response(1, 10 * SLOW)
        assert st.status == 200 and st.body == stream_body(35) and st.reset is None, st
        assert not c.goaways and not c.eof
    assert_settled(srv, base)


# --------------------------------------------------------------------------
# 8. resets the server is made to send ("MadeYouReset", CVE-2025-8671)
# --------------------------------------------------------------------------
MADE_YOU_RESET = {
    # a stream's window pushed past 2^31-1: stream error FLOW_CONTROL_ERROR
    "window-overflow": (lambda c, sid: headers_frame(sid, c.block()) +
                        window_update_frame(sid, 2 ** 31 - 1), FLOW_CONTROL_ERROR),
    # a connection-specific field: a malformed request, PROTOCOL_ERROR
    "malformed-field": (lambda c, sid: headers_frame(sid, c.block(extra=[("connection", "close")])),
                        PROTOCOL_ERROR),
    # more DATA than the Content-Length: PROTOCOL_ERROR
    "content-length": (lambda c, sid: headers_frame(sid, c.block("/index.html", "POST",
                                                                 [("content-length", "1")]),
                                                    end_stream=False) +
                       data_frame(sid, b"xx", end_stream=True), PROTOCOL_ERROR),
}


@pytest.mark.parametrize("vector", sorted(MADE_YOU_RESET))
def test_made_you_reset(start_server, vector):
    """Each request provokes a stream error, so the server itself sends the
    RST_STREAM (libnghttp2's limiter counts only the client's). h2.c counts
    those as junk: 50 such streams per round trip, and past 1000 in a
    second the connection ends with GOAWAY ENHANCE_YOUR_CALM."""
    make, code = MADE_YOU_RESET[vector]
    srv = start_server()
    base = Baseline(srv)
    cpu0 = cpu_seconds(srv.pid)
    with H2(srv.port) as c:
        t0 = time.monotonic()
        sid = 1
        while not c.goaways and not c.eof and sid < 2 * 5000:
            first = sid
            out = []
            for _ in range(50):
                c.streams[sid] = Stream(sid)
                out.append(make(c, sid))
                sid += 2
            if not c.try_send(b"".join(out)):
                break
            assert c.pump(lambda: all(c.streams[x].done for x in range(first, sid, 2)) or
                          c.goaways, T)
        assert_flood_goaway(c, t0, last=c.goaways[0][0] if c.goaways else 0)
        resets = [st.reset for st in c.streams.values() if st.reset is not None]
        print(f"MadeYouReset {vector}: GOAWAY {c.goaways[0][:2]} after {len(resets)} resets, "
              f"{c.eof_at - t0:.3f}s")
        assert set(resets) == {code}, set(resets)
        assert 999 <= len(resets) <= 2002, len(resets)
        assert not any(st.headers for st in c.streams.values())
    assert cpu_seconds(srv.pid) - cpu0 < 1.0 * SLOW
    assert_logged(srv, "HTTP/2 flood (provoked RST_STREAM): connection closed")
    assert_settled(srv, base)


@pytest.mark.parametrize("vector, code, debug", [
    ("window-update-0", PROTOCOL_ERROR, b"WINDOW_UPDATE: window_size_increment == 0"),
    ("data-half-closed", STREAM_CLOSED, b"DATA: stream in half-closed(remote)"),
])
def test_provocations_libnghttp2_takes_for_connection_errors(start_server, vector, code, debug):
    """Two other ways to provoke a reset are connection errors in libnghttp2
    1.52, so they cannot be repeated: the first ends the connection."""
    srv = start_server()
    with H2(srv.port) as c:
        if vector == "window-update-0":
            c.send(headers_frame(1, c.block()) + window_update_frame(1, 0))
        else:
            c.send(headers_frame(1, c.block()) + data_frame(1, b"x"))
        assert c.wait_closed(T)
        assert c.goaways == [(1, code, debug)], c.goaways
    assert_serves(srv)


# --------------------------------------------------------------------------
# 9. idle connections, 10. a SETTINGS never acknowledged
# --------------------------------------------------------------------------
@pytest.mark.parametrize("after_request", [False, True])
def test_idle_connection_gets_goaway_no_error(start_server, after_request):
    """--idle-timeout 2: a connection with no stream gets GOAWAY NO_ERROR
    (last-stream-id: the last stream it had) 2 s after its last frame, not
    before, then the close."""
    srv = start_server("--idle-timeout", "2")
    with H2(srv.port) as c:
        if after_request:
            c.request(1)
            assert c.response(1).status == 200
        t0 = time.monotonic()
        assert c.wait_closed(T)
        assert [(g[0], g[1]) for g in c.goaways] == [(1 if after_request else 0, NO_ERROR)]
        took = c.goaway_at[0] - t0
        assert 1.9 <= took < 2 + 1.0 * SLOW, f"GOAWAY after {took:.2f}s"
        assert c.eof_at - c.goaway_at[0] < 0.5 * SLOW
        assert not c.reset_by_peer
    assert_serves(srv)


@pytest.mark.parametrize("after_request", [False, True])
def test_unacknowledged_settings_time_out(start_server, after_request):
    """A client that never acknowledges our SETTINGS: when the connection's
    timer fires (the idle timeout, 2 s here) GOAWAY SETTINGS_TIMEOUT. A
    request it made meanwhile was answered."""
    srv = start_server("--idle-timeout", "2")
    with H2(srv.port, ack_settings=False) as c:
        t0 = time.monotonic()
        if after_request:
            c.request(1)
            st = c.response(1)
            assert st.status == 200 and st.body == INDEX
        assert c.wait_closed(T)
        assert [(g[0], g[1]) for g in c.goaways] == [(1 if after_request else 0, SETTINGS_TIMEOUT)]
        took = c.goaway_at[0] - t0
        assert 1.9 <= took < 2 + 1.0 * SLOW, f"GOAWAY after {took:.2f}s"
    assert_logged(srv, "HTTP/2 client never acknowledged our SETTINGS: closed")
    assert_serves(srv)


# --------------------------------------------------------------------------
# 11. graceful stop
# --------------------------------------------------------------------------
def test_sigterm_finishes_streams_in_flight(start_server, cgi_dir):
    """SIGTERM while two slow CGI answers are on their way: GOAWAY NO_ERROR
    at once with last-stream-id 3, both answers whole, a stream the client
    opens after the GOAWAY is not processed, then the close; lisod exits 0
    as soon as the client has closed too."""
    srv = start_server("--cgi", str(cgi_dir))
    n = 15
    with H2(srv.port) as c:
        c.request(1, f"/cgi/stream?id=g1&n={n}&delay=0.1")
        c.request(3, f"/cgi/stream?id=g3&n={n}&delay=0.1")
        assert c.pump(lambda: c.streams[1].headers and c.streams[3].headers, T)
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        assert c.pump(lambda: c.goaways, T)
        assert c.goaway_at[0] - t0 < 0.5 * SLOW
        assert [(g[0], g[1]) for g in c.goaways] == [(3, NO_ERROR)], c.goaways
        assert not c.streams[1].done and not c.streams[3].done
        c.request(5, "/cgi/stream?id=g5&n=1")
        assert c.wait_closed(5 * SLOW)
        for sid in (1, 3):
            st = c.streams[sid]
            assert st.status == 200 and st.ended and st.reset is None, st
            assert st.body == stream_body(n), st
        assert not c.streams[5].done and c.streams[5].headers is None
        assert len(c.goaways) == 1
    t1 = time.monotonic()
    srv.proc.wait(5 * SLOW)
    assert srv.proc.returncode == 0
    assert time.monotonic() - t1 < 1.0 * SLOW
    assert not (cgi_dir / "pid-g5").exists()


# --------------------------------------------------------------------------
# 12. slowloris over HTTP/2
# --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["trickle", "stall"])
def test_slow_body_is_cut_per_stream(start_server, mode):
    """--body-timeout 2: a POST body of one byte a second (below the 500 B/s
    minimum) or none at all is answered 408 on its stream after one window,
    then RST_STREAM NO_ERROR (the body is not wanted any more); a sibling
    stream, other clients and the connection itself are served throughout."""
    srv = start_server("--body-timeout", "2")
    base = Baseline(srv)
    with H2(srv.port) as c:
        c.request(1, "/index.html", "POST", [("content-length", "100")], end_stream=False)
        c.request(3)
        t0 = time.monotonic()
        st3 = c.response(3)
        assert st3.status == 200 and st3.body == INDEX
        while not c.streams[1].done and time.monotonic() - t0 < 8 * SLOW:
            if mode == "trickle":
                c.try_send(data_frame(1, b"x"))
            c.pump(lambda: c.streams[1].done, 1.0)
            if not c.streams[1].done:
                assert_serves(srv)
        took = time.monotonic() - t0
        st = c.streams[1]
        assert st.status == 408 and st.ended, st
        assert b"408 Request Timeout" in st.body
        assert 1.9 <= took < 2 + 1.5 * SLOW, f"408 after {took:.2f}s"
        assert c.pump(lambda: st.reset is not None, T)
        assert st.reset == NO_ERROR, st
        c.request(5)
        assert c.response(5).status == 200
        assert not c.goaways
    want = "request body slower than 500 bytes/s" if mode == "trickle" else "request body timed out"
    assert_logged(srv, want)
    assert_settled(srv, base)


# --------------------------------------------------------------------------
# the first flight in one write
# --------------------------------------------------------------------------
def test_first_flight_in_one_write_is_answered(start_server):
    """The preface, SETTINGS and a request in one write, and nothing more
    (a client that waits for its answer before it reads the server's
    SETTINGS, as python-h2 users often do): our SETTINGS ACK and the answer
    come at once."""
    srv = start_server()
    with H2(srv.port, preface=False, ack_settings=False) as c:
        c.streams[1] = Stream(1)
        c.send(PREFACE + settings_frame() + headers_frame(1, c.block()))
        ok = c.pump(lambda: c.streams[1].done, 2 * SLOW)
        assert ok and c.streams[1].status == 200, \
            f"no answer in 2s; frames from the server: {[f[0] for f in c.frames]}"
        assert c.settings_acked
