"""HTTP/2 clients for the lisod integration tests (python-h2 over a real socket).

- H2Conn: a client connection on python-h2 (h2.connection.H2Connection), in
  cleartext with prior knowledge (the preface first, RFC 9113 §3.3) or over
  TLS with ALPN h2 (no certificate verification: the server's certificate is
  self-signed). It sends requests (any method, path and fields, a body in as
  many DATA frames as asked, within the peer's flow-control windows), runs
  several streams at once and reads each stream's outcome: status, fields,
  body, whether it ended (END_STREAM, and whether that came on the HEADERS
  frame) or was reset and with which code, and a GOAWAY. `conn.h2` is the
  python-h2 connection and `send_raw()` writes bytes as they are, for tests
  that need frame-level control.
- RawH2: frames by hand (hyperframe and hpack), for the protocol-error cases
  where the client must say what python-h2 would refuse to, and the server's
  every frame is to be seen as it came.
- H2Http1Conn: an HTTP/1.1-shaped face on H2Conn for the replay of the
  HTTP/1.1 suites (LISOD_CLIENT=h2, see httputil): it takes the bytes of
  HTTP/1.1 requests, sends each as a stream (the request line as pseudo-header
  fields, Host as :authority, connection-specific fields dropped as an
  intermediary does (RFC 9113 §8.2.2), Content-Length bodies and chunked
  bodies, decoded, as DATA), and gives back httputil.Response objects in the
  order the requests were sent.

Every wait has a deadline (DEFAULT_TIMEOUT unless told): no test can hang on
a server that stops answering. Everything talks to 127.0.0.1 only.
"""
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

from httputil import DEFAULT_TIMEOUT, SLOW, HTTPParseError, Response, SocketOwner

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ErrorCodes = h2.errors.ErrorCodes
NO_ERROR = ErrorCodes.NO_ERROR
PROTOCOL_ERROR = ErrorCodes.PROTOCOL_ERROR
STREAM_CLOSED = ErrorCodes.STREAM_CLOSED
FRAME_SIZE_ERROR = ErrorCodes.FRAME_SIZE_ERROR
INTERNAL_ERROR = ErrorCodes.INTERNAL_ERROR

# Fields that are the connection's in HTTP/1.1 and forbidden in HTTP/2
# (RFC 9113 §8.2.2; "te" is allowed with the value "trailers" only).
CONNECTION_SPECIFIC = ("connection", "keep-alive", "proxy-connection", "transfer-encoding",
                       "upgrade")

# Our receive windows: wide open unless a test asks for back-pressure, and
# given back as the bytes arrive.
BIG_WINDOW = 16 * 1024 * 1024 - 1
MAX_BUFFERED = 64 * 1024 * 1024     # a hard bound on what a stream may make us hold


class H2Error(AssertionError):
    """The server did something an HTTP/2 client cannot accept, or a wait
    ran out."""


def _s(b):
    return b.decode("latin-1") if isinstance(b, (bytes, bytearray)) else b


def _b(s):
    return s.encode("latin-1") if isinstance(s, str) else bytes(s)


def tls_context(alpn=("h2",)):
    """A client context that does not verify (the server's certificate is
    self-signed) and offers the given ALPN protocols."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def open_socket(port, tls=False, timeout=DEFAULT_TIMEOUT, host="127.0.0.1", alpn=("h2",),
                server_hostname="localhost"):
    """A connected socket (TLS: handshake done, bounded by timeout)."""
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not tls:
            return raw
        return tls_context(alpn).wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise


# ---------------------------------------------------------------------------
# the outcome of one stream
# ---------------------------------------------------------------------------
class Stream:
    def __init__(self, sid, method):
        self.id = sid
        self.method = method
        self.status = None
        self.headers = []            # [(name, value)] as str, :status included
        self.informational = []      # header lists of 1xx answers
        self.body = bytearray()
        self.trailers = None
        self.ended = False           # END_STREAM received
        self.headers_end_stream = False   # ... on the HEADERS frame itself
        self.data_frames = 0         # DATA frames received (empty ones too)
        self.reset = None            # the RST_STREAM's error code (peer's)
        self.reset_by_us = None      # a reset we sent, and its code
        self.started_at = time.time()
        self.head_at = None          # when the response's HEADERS came
        self.done_at = None

    @property
    def done(self):
        return self.ended or self.reset is not None or self.reset_by_us is not None

    def __repr__(self):
        return (f"<Stream {self.id} {self.method} status={self.status} body={len(self.body)}B "
                f"ended={self.ended} reset={self.reset!r}>")


class H2Response:
    """The answer on one stream, shaped like httputil.Response where that
    makes sense (status, header_list, headers, header(), header_all(),
    body), plus what only HTTP/2 has."""

    version = "HTTP/2"
    reason = ""                       # HTTP/2 has no reason phrase

    def __init__(self, st, conn):
        self.stream_id = st.id
        self.status = st.status
        self.all_headers = list(st.headers)           # with :status
        self.header_list = [(k, v) for k, v in st.headers if not k.startswith(":")]
        self.headers = {}
        for k, v in self.header_list:
            self.headers[k.lower()] = v
        self.body = bytes(st.body)
        self.trailers = st.trailers
        self.informational = st.informational
        self.ended = st.ended
        self.headers_end_stream = st.headers_end_stream
        self.data_frames = st.data_frames
        self.reset = st.reset
        self.sent_at = st.started_at
        self.received_at = st.head_at
        # The connection was still there, with no GOAWAY, when this answer
        # was complete: HTTP/2's "keep-alive".
        self.connection_open = not conn.closed and conn.goaway is None

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def header_all(self, name):
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    def __repr__(self):
        return (f"<H2Response stream {self.stream_id} {self.status} {len(self.body)}B "
                f"ended={self.ended} reset={self.reset!r} {self.headers!r}>")


def assert_h2_fields(resp):
    """Response fields as HTTP/2 wants them (RFC 9113 §8.2): names in lower
    case, :status the only pseudo-header and first, and no connection-specific
    field."""
    names = [k for k, _ in resp.all_headers]
    assert names and names[0] == ":status", resp.all_headers
    assert [k for k in names if k.startswith(":")] == [":status"], resp.all_headers
    for k in names:
        assert k == k.lower(), f"upper case in field name {k!r}: {resp.all_headers}"
        assert k not in CONNECTION_SPECIFIC, f"connection-specific field {k!r}: {resp.all_headers}"
        assert k != "te", resp.all_headers


# ---------------------------------------------------------------------------
# H2Conn: python-h2 over a socket
# ---------------------------------------------------------------------------
class H2Conn(SocketOwner):
    """One HTTP/2 client connection. `h2` is the python-h2 connection."""

    def __init__(self, sock, scheme="http", authority="localhost", window=BIG_WINDOW,
                 settings=None, opened_at=None, validate=False, preface=True, settle=True,
                 timeout=DEFAULT_TIMEOUT):
        self.sock = sock
        self.scheme = scheme
        self.authority = authority
        self.opened_at = time.time() if opened_at is None else opened_at
        # Outbound validation off: tests send what a broken client would.
        # Inbound off too: the tests judge the server's fields themselves
        # (assert_h2_fields), with a message saying what was wrong.
        cfg = h2.config.H2Configuration(client_side=True, header_encoding=None,
                                        validate_outbound_headers=validate,
                                        normalize_outbound_headers=validate,
                                        validate_inbound_headers=False,
                                        normalize_inbound_headers=False)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.streams = {}
        self.goaway = None           # (error_code, last_stream_id, additional_data)
        self.closed = False          # EOF or reset from the server
        self.remote_settings = {}
        self.settings_acked = False
        self.got_settings = False    # the server's first SETTINGS came
        self.unexpected = []         # frames for streams we never opened
        self._pending = {}           # sid -> [memoryview, pos, chunk, end_stream]
        self.data_frames_sent = {}   # sid -> DATA frames we sent on it
        self._rbuf = b""             # received bytes not yet a whole frame
        self.window = window
        if preface:
            local = {h2.settings.SettingCodes.ENABLE_PUSH: 0,
                     h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: min(window, 2**31 - 1)}
            local.update(settings or {})
            self.h2.local_settings = h2.settings.Settings(client=True, initial_values=local)
            self.h2.initiate_connection()
            if window > 65535:
                self.h2.increment_flow_control_window(window - 65535)
            self.flush()
            if settle:
                # The server's SETTINGS first: what a test sends then is never
                # in the server's first read with the preface (that first
                # flight has tests of its own in test_h2.py). A server that
                # closes instead leaves the connection closed for the test.
                self.pump_until(lambda: self.got_settings or self.closed, timeout,
                                "the server's SETTINGS")

    # -- opening -------------------------------------------------------------
    @classmethod
    def open(cls, port, tls=False, timeout=DEFAULT_TIMEOUT, host="127.0.0.1",
             authority="localhost", alpn=("h2",), **kw):
        opened_at = time.time()
        sock = open_socket(port, tls, timeout, host, alpn)
        if tls and sock.selected_alpn_protocol() != "h2":
            proto = sock.selected_alpn_protocol()
            sock.close()
            raise H2Error(f"the server chose ALPN {proto!r}, not h2")
        try:
            return cls(sock, "https" if tls else "http", authority, opened_at=opened_at,
                       timeout=timeout, **kw)
        except BaseException:
            sock.close()
            raise

    # -- sending -------------------------------------------------------------
    def flush(self):
        data = self.h2.data_to_send()
        if data and not self.closed:
            try:
                self.sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                self.closed = True

    def send_raw(self, data):
        """Bytes as they are (after anything python-h2 has queued)."""
        self.flush()
        self.sock.sendall(data)

    def request_headers(self, method, path, headers=(), authority=None, scheme=None, lower=True):
        hl = [(":method", method), (":scheme", scheme or self.scheme),
              (":authority", authority if authority is not None else self.authority),
              (":path", path)]
        if authority is False:
            hl = [h for h in hl if h[0] != ":authority"]
        for h in headers:
            if isinstance(h, str):
                k, v = h.split(":", 1)
                h = (k.strip(), v.strip())
            k, v = h
            hl.append((k.lower() if lower else k, v))
        return hl

    def start_request(self, method, path, headers=(), body=None, chunk=16384, end_stream=True,
                      authority=None, scheme=None, pseudo=None, lower=True):
        """Open a stream: HEADERS (END_STREAM when there is no body and
        end_stream), then `body` in DATA frames of at most `chunk` bytes, as
        the windows allow (sent while the responses are read). `pseudo`: the
        whole field list, as given (for bad requests). Returns the id."""
        sid = self.h2.get_next_available_stream_id()
        fields = pseudo if pseudo is not None else self.request_headers(
            method, path, headers, authority, scheme, lower)
        fields = [(_b(k), _b(v)) for k, v in fields]
        self.streams[sid] = Stream(sid, method)
        self.h2.send_headers(sid, fields, end_stream=end_stream and not body)
        self.flush()
        if body:
            self.send_body(sid, body, end_stream=end_stream, chunk=chunk)
        return sid

    def send_body(self, sid, data, end_stream=True, chunk=16384):
        """Queue body bytes for sid (DATA frames of at most chunk bytes)."""
        p = self._pending.get(sid)
        if p is None:
            self._pending[sid] = [memoryview(bytes(data)), 0, chunk, end_stream]
        else:
            p[0] = memoryview(bytes(p[0][p[1]:]) + bytes(data))
            p[1] = 0
            p[2] = chunk
            p[3] = end_stream
        self._push()

    def end_stream(self, sid):
        self.send_body(sid, b"", end_stream=True)

    def reset_stream(self, sid, code=ErrorCodes.CANCEL):
        self._pending.pop(sid, None)
        self.h2.reset_stream(sid, code)
        self.streams[sid].reset_by_us = code
        self.flush()

    def _push(self):
        """Send what the windows allow of every queued body."""
        for sid in list(self._pending):
            data, pos, chunk, end = self._pending[sid]
            st = self.streams.get(sid)
            if st is not None and st.reset is not None:
                del self._pending[sid]          # the server reset it: stop
                continue
            try:
                while True:
                    left = len(data) - pos
                    if left == 0:
                        if end:
                            self.h2.end_stream(sid)
                        del self._pending[sid]
                        break
                    n = min(left, chunk, self.h2.local_flow_control_window(sid),
                            self.h2.max_outbound_frame_size)
                    if n <= 0:
                        self._pending[sid][1] = pos
                        break
                    last = n == left
                    self.h2.send_data(sid, data[pos:pos + n].tobytes(), end_stream=end and last)
                    self.data_frames_sent[sid] = self.data_frames_sent.get(sid, 0) + 1
                    pos += n
                    if last and end:
                        del self._pending[sid]
                        break
                    self._pending[sid][1] = pos
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                # The stream ended under us: an answer that came before the
                # whole body (the server resets with NO_ERROR then, RFC 9113
                # §8.1), or a reset.
                self._pending.pop(sid, None)
            self.flush()

    @property
    def sending(self):
        return bool(self._pending)

    # -- receiving -------------------------------------------------------------
    def _pump(self, deadline):
        """Read once and handle what came; False once the connection is
        closed. Raises socket.timeout when the deadline passes."""
        self.flush()
        self._push()
        if self.closed:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed waiting for HTTP/2 frames")
        self.sock.settimeout(min(remaining, 0.5) if self._pending else remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            if self._pending:
                return True          # the windows may have opened meanwhile
            raise
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            data = b""
        if not data:
            self.closed = True
            return False
        try:
            events = self.h2.receive_data(self._take_goaway(data))
        except h2.exceptions.ProtocolError as e:
            raise H2Error(f"the server broke the protocol: {e!r}") from e
        for ev in events:
            self._event(ev)
        self.flush()
        self._push()
        return True

    def _take_goaway(self, data):
        """The bytes for python-h2, GOAWAY frames taken out and recorded
        here: python-h2 closes its side at a GOAWAY and then refuses the
        frames of the streams the server still finishes (RFC 9113 §6.8)."""
        self._rbuf += data
        out = []
        while len(self._rbuf) >= 9:
            n = 9 + int.from_bytes(self._rbuf[:3], "big")
            if len(self._rbuf) < n:
                break
            frame, self._rbuf = self._rbuf[:n], self._rbuf[n:]
            if frame[3] == 0x7:
                g, _ = Frame.parse_frame_header(memoryview(frame[:9]))
                g.parse_body(memoryview(frame[9:]))
                code = g.error_code
                if code in ErrorCodes._value2member_map_:
                    code = ErrorCodes(code)
                self.goaway = (code, g.last_stream_id, g.additional_data)
            else:
                out.append(frame)
        return b"".join(out)

    def _stream(self, sid):
        st = self.streams.get(sid)
        if st is None:
            self.unexpected.append(sid)
        return st

    def _event(self, ev):
        E = h2.events
        if isinstance(ev, (E.ResponseReceived, E.InformationalResponseReceived,
                           E.TrailersReceived)):
            st = self._stream(ev.stream_id)
            if st is None:
                return
            hl = [(_s(k), _s(v)) for k, v in ev.headers]
            if isinstance(ev, E.InformationalResponseReceived):
                st.informational.append(hl)
            elif isinstance(ev, E.TrailersReceived):
                st.trailers = hl
            else:
                st.headers = hl
                st.head_at = time.time()
                st.status = int(dict(hl)[":status"])
                st.headers_end_stream = bool(ev.stream_ended)
        elif isinstance(ev, E.DataReceived):
            if ev.flow_controlled_length:
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            st = self._stream(ev.stream_id)
            if st is None:
                return
            st.data_frames += 1
            st.body += ev.data
            if len(st.body) > MAX_BUFFERED:
                raise H2Error("response larger than the test bound")
        elif isinstance(ev, E.StreamEnded):
            st = self._stream(ev.stream_id)
            if st is not None:
                st.ended = True
                st.done_at = time.time()
        elif isinstance(ev, E.StreamReset):
            st = self._stream(ev.stream_id)
            if st is not None:
                if ev.remote_reset:
                    st.reset = ErrorCodes(ev.error_code) if ev.error_code in \
                        ErrorCodes._value2member_map_ else ev.error_code
                else:
                    st.reset_by_us = ev.error_code
                st.done_at = st.done_at or time.time()
            self._pending.pop(ev.stream_id, None)
        elif isinstance(ev, E.ConnectionTerminated):
            code = ev.error_code
            if code in ErrorCodes._value2member_map_:
                code = ErrorCodes(code)
            self.goaway = (code, ev.last_stream_id, ev.additional_data)
        elif isinstance(ev, E.RemoteSettingsChanged):
            self.got_settings = True
            for k, v in ev.changed_settings.items():
                self.remote_settings[k] = v.new_value
        elif isinstance(ev, E.SettingsAcknowledged):
            self.settings_acked = True
        elif isinstance(ev, E.PushedStreamReceived):
            raise H2Error("a PUSH_PROMISE though we said ENABLE_PUSH 0")

    def pump_until(self, predicate, timeout=DEFAULT_TIMEOUT, what="the condition"):
        """Read and handle frames until predicate() holds (or the connection
        closes: then predicate() decides). Returns predicate()'s value."""
        deadline = time.monotonic() + timeout
        while not predicate():
            try:
                if not self._pump(deadline):
                    break
            except socket.timeout:
                raise H2Error(f"timed out after {timeout:.1f} s waiting for {what}") from None
        return predicate()

    def response(self, sid, timeout=DEFAULT_TIMEOUT):
        """The stream's outcome once it ended or was reset (or the
        connection closed: a stream not done then is reported as it is)."""
        st = self.streams[sid]
        self.pump_until(lambda: st.done or self.closed, timeout, f"stream {sid}")
        return H2Response(st, self)

    def request(self, method, path, headers=(), body=None, timeout=DEFAULT_TIMEOUT, **kw):
        """One complete request and its outcome (see response())."""
        return self.response(self.start_request(method, path, headers, body, **kw), timeout)

    def get(self, path, headers=(), timeout=DEFAULT_TIMEOUT, **kw):
        return self.request("GET", path, headers, timeout=timeout, **kw)

    def wait_settings(self, timeout=DEFAULT_TIMEOUT):
        """Until the server's SETTINGS came and ours were acknowledged."""
        return self.pump_until(lambda: self.settings_acked and self.remote_settings, timeout,
                               "the SETTINGS exchange")

    def wait_goaway(self, timeout=DEFAULT_TIMEOUT):
        """The GOAWAY (code, last stream id, data), or None if the connection
        closed without one. Raises when neither happens in time."""
        self.pump_until(lambda: self.goaway is not None or self.closed, timeout, "GOAWAY")
        return self.goaway

    def wait_closed(self, timeout=3.0 * SLOW):
        """True once the server closed the connection within timeout."""
        deadline = time.monotonic() + timeout
        try:
            while self._pump(deadline):
                pass
        except socket.timeout:
            return False
        return True

    def quiet(self, seconds=0.3):
        """Read for `seconds`: True when the connection stayed open and no
        frame came for a stream we did not expect."""
        deadline = time.monotonic() + seconds
        try:
            while self._pump(deadline):
                pass
        except socket.timeout:
            pass
        return not self.closed and not self.unexpected


def fetch(port, path, method="GET", headers=(), body=None, tls=False, timeout=DEFAULT_TIMEOUT,
          **kw):
    """One request on a fresh HTTP/2 connection; returns the H2Response."""
    with H2Conn.open(port, tls=tls, timeout=timeout) as c:
        return c.request(method, path, headers, body, timeout=timeout, **kw)


# ---------------------------------------------------------------------------
# RawH2: frames by hand
# ---------------------------------------------------------------------------
class RawH2(SocketOwner):
    """Frames written and read as they are: hyperframe for the frames, hpack
    for header blocks. The connection preface and an empty SETTINGS go first
    unless preface=False. read_frame() acknowledges the server's SETTINGS
    and PINGs (as every client must; auto_ack=False: it does not) and
    returns every frame it read."""

    def __init__(self, port, tls=False, timeout=DEFAULT_TIMEOUT, preface=True, host="127.0.0.1",
                 auto_ack=True, settle=True):
        self.sock = open_socket(port, tls, timeout, host)
        self.auto_ack = auto_ack
        self.timeout = timeout
        self.buf = b""
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.frames = []             # every frame read, in order
        self.closed = False
        self.next_id = 1
        if preface:
            self.send(PREFACE + SettingsFrame(0).serialize())
            if settle:
                # Until the server acknowledged our SETTINGS: what a test
                # sends then is not in the server's first read (test_h2.py
                # has tests of that first flight).
                self.read_until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags)

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, frame):
        self.send(frame.serialize())

    def headers_frame(self, sid, fields, end_stream=True, end_headers=True):
        block = self.enc.encode([(_b(k), _b(v)) for k, v in fields])
        f = HeadersFrame(sid, block)
        if end_stream:
            f.flags.add("END_STREAM")
        if end_headers:
            f.flags.add("END_HEADERS")
        return f

    def send_headers(self, sid, fields, end_stream=True):
        self.send_frame(self.headers_frame(sid, fields, end_stream))

    def data_frame(self, sid, data, end_stream=False):
        f = DataFrame(sid, data)
        if end_stream:
            f.flags.add("END_STREAM")
        return f

    def new_id(self):
        sid = self.next_id
        self.next_id += 2
        return sid

    @staticmethod
    def get_fields(path, authority="localhost", method="GET"):
        return [(":method", method), (":scheme", "http"), (":authority", authority),
                (":path", path)]

    def read_frame(self, timeout=None):
        """The next frame, or None once the connection is closed. Raises
        H2Error when none comes within timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + length:
                    f, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
                    f.parse_body(memoryview(self.buf[9:9 + length]))
                    self.buf = self.buf[9 + length:]
                    self._auto(f)
                    self.frames.append(f)
                    return f
            if self.closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise H2Error("timed out waiting for a frame")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise H2Error("timed out waiting for a frame") from None
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                self.closed = True
            self.buf += data

    def _auto(self, f):
        try:
            if self.auto_ack and isinstance(f, SettingsFrame) and "ACK" not in f.flags:
                self.send_frame(SettingsFrame(0, flags=["ACK"]))
            elif self.auto_ack and isinstance(f, PingFrame) and "ACK" not in f.flags:
                self.send_frame(PingFrame(0, f.opaque_data, flags=["ACK"]))
        except OSError:
            pass
        if isinstance(f, (HeadersFrame, ContinuationFrame)):
            # Keep the HPACK state in step; a HEADERS split across
            # CONTINUATION frames is not expected from this server.
            f.decoded = [(_s(k), _s(v)) for k, v in self.dec.decode(f.data)] \
                if "END_HEADERS" in f.flags else None

    def read_until(self, predicate, timeout=None):
        """Frames up to and with the first for which predicate(frame) holds;
        (frames, matched frame or None when the connection closed first)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got = []
        while True:
            f = self.read_frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                return got, None
            got.append(f)
            if predicate(f):
                return got, f

    def expect_goaway(self, timeout=None):
        """The GOAWAY the server sends, then the connection closes: (frame,
        closed within the timeout)."""
        _, g = self.read_until(lambda f: isinstance(f, GoAwayFrame), timeout)
        return g, self.wait_closed(timeout)

    def expect_rst(self, sid, timeout=None):
        """The RST_STREAM for sid (None if the connection closed first)."""
        _, r = self.read_until(lambda f: isinstance(f, RstStreamFrame) and f.stream_id == sid,
                               timeout)
        return r

    def wait_closed(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while self.read_frame(max(0.0, deadline - time.monotonic())) is not None:
                pass
        except H2Error:
            return False
        return True

    def exchange(self, path, timeout=None, extra=()):
        """A good GET on a new stream: (status, fields, body). Fails on a
        reset, a GOAWAY or a close."""
        sid = self.new_id()
        self.send_headers(sid, self.get_fields(path) + list(extra))
        status, fields, body = None, None, b""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            f = self.read_frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                raise H2Error(f"connection closed before the answer on stream {sid}")
            if isinstance(f, GoAwayFrame):
                raise H2Error(f"GOAWAY {f.error_code} before the answer on stream {sid}")
            if f.stream_id != sid:
                continue
            if isinstance(f, RstStreamFrame):
                raise H2Error(f"stream {sid} reset with {f.error_code}")
            if isinstance(f, HeadersFrame):
                fields = f.decoded
                status = int(dict(fields)[":status"])
            elif isinstance(f, DataFrame):
                body += f.data
                if f.flow_controlled_length:
                    self.send_frame(WindowUpdateFrame(0, f.flow_controlled_length))
                    if "END_STREAM" not in f.flags:
                        self.send_frame(WindowUpdateFrame(sid, f.flow_controlled_length))
            if "END_STREAM" in f.flags:
                return status, fields, body


# ---------------------------------------------------------------------------
# H2Http1Conn: HTTP/1.1 requests replayed as HTTP/2 streams
# ---------------------------------------------------------------------------
class NotExpressible(AssertionError):
    """HTTP/1.1 syntax that has no HTTP/2 form (a test that sends it is
    about HTTP/1.1 framing: mark it httputil.http1_only)."""


def _parse_head(raw):
    """(method, target, [(name, value)]) of a clean HTTP/1.1 head."""
    if b"\r\n\r\n" not in raw:
        raise NotExpressible(f"not a complete CRLF head: {raw[:80]!r}")
    lines = raw[:raw.index(b"\r\n\r\n")].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[2] != b"HTTP/1.1" or not parts[0] or not parts[1]:
        raise NotExpressible(f"request line {lines[0][:80]!r} is not 'METHOD target HTTP/1.1'")
    fields = []
    for line in lines[1:]:
        if any(c < 0x20 and c != 0x09 or c == 0x7f for c in line) or b":" not in line \
                or line[:1] in (b" ", b"\t"):
            raise NotExpressible(f"header line {line[:80]!r} is HTTP/1.1 syntax")
        k, v = line.split(b":", 1)
        if not k or k != k.strip():
            raise NotExpressible(f"header name {k!r}")
        fields.append((_s(k), _s(v.strip(b" \t"))))
    if any(c < 0x21 or c == 0x7f for c in parts[1]):
        raise NotExpressible(f"target {parts[1][:80]!r}")
    return _s(parts[0]), _s(parts[1]), fields


class _Pending:
    """One HTTP/1.1 request being turned into a stream."""

    def __init__(self, sid, method, left, chunked):
        self.sid = sid
        self.method = method
        self.left = left             # body bytes still to come (Content-Length)
        self.chunked = chunked       # chunked body being decoded
        self.cbuf = b""              # undecoded chunked bytes


class H2Http1Conn:
    """httputil.Conn's interface over HTTP/2 (see the module's doc)."""

    def __init__(self, port, timeout=DEFAULT_TIMEOUT, tls=False):
        self.h = H2Conn.open(port, tls=tls, timeout=timeout)
        self.sock = self.h.sock
        self.opened_at = self.h.opened_at
        self.inbuf = b""
        self.current = None          # the request whose body is coming
        self.order = []              # stream ids in the order sent, not yet read
        self.heads = {}

    @property
    def buf(self):
        """What the HTTP/1.1 client would hold past the answers it read:
        frames for streams we never opened."""
        return b"".join(b"<frames on stream %d>" % s for s in self.h.unexpected)

    @property
    def eof(self):
        return self.h.closed

    def close(self):
        self.h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests ----------------------------------------------------------
    def send(self, data):
        self.inbuf += data
        while self.inbuf:
            if self.current is not None and self.h.streams[self.current.sid].done:
                # Answered (and reset, RFC 9113 §8.1) before its whole body
                # was sent: the rest of that body is not sent, and what
                # follows is the next request (where an HTTP/1.1 server that
                # answers early must drain the body or close).
                self.current = None
            if self.current is not None:
                self._body()
                if self.current is not None:
                    return
                continue
            if b"\r\n\r\n" not in self.inbuf:
                if len(self.inbuf) > 65536:
                    raise NotExpressible("a head larger than 64 KiB")
                return
            i = self.inbuf.index(b"\r\n\r\n") + 4
            head, self.inbuf = self.inbuf[:i], self.inbuf[i:]
            self._start(head)

    def _start(self, head):
        method, target, fields = _parse_head(head)
        authority, scheme, path = None, self.h.scheme, target
        low = target.lower()
        if low.startswith("http://") or low.startswith("https://"):
            scheme, rest = target.split("://", 1)
            scheme = scheme.lower()
            authority, sep, path = rest.partition("/")
            path = "/" + path if sep else "/"
        out, cl, chunked = [], None, False
        for k, v in fields:
            lk = k.lower()
            if lk == "host":
                if authority is None:
                    authority = v
                continue
            if lk == "content-length":
                if cl is not None or not v.isdigit():
                    raise NotExpressible(f"Content-Length {v!r} (or twice)")
                cl = int(v)
            if lk == "transfer-encoding":
                if v.lower() != "chunked":
                    raise NotExpressible(f"Transfer-Encoding {v!r}")
                chunked = True
                continue
            if lk in CONNECTION_SPECIFIC or (lk == "te" and v.lower() != "trailers"):
                continue                  # RFC 9113 §8.2.2: an intermediary drops them
            out.append((lk, v))
        if chunked and cl is not None:
            raise NotExpressible("Content-Length with Transfer-Encoding")
        has_body = chunked or bool(cl)
        sid = self.h.start_request(method, path, out, end_stream=not has_body,
                                   authority=authority if authority is not None else False,
                                   scheme=scheme)
        self.heads[sid] = method == "HEAD"
        self.order.append(sid)
        if has_body:
            self.current = _Pending(sid, method, cl or 0, chunked)
            self._body()

    def _body(self):
        p = self.current
        if not p.chunked:
            take = self.inbuf[:p.left]
            self.inbuf = self.inbuf[len(take):]
            p.left -= len(take)
            self.h.send_body(p.sid, take, end_stream=p.left == 0)
            if p.left == 0:
                self.current = None
            return
        p.cbuf += self.inbuf
        self.inbuf = b""
        out = b""
        while True:
            if b"\r\n" not in p.cbuf:
                break
            line, rest = p.cbuf.split(b"\r\n", 1)
            try:
                size = int(line.split(b";")[0], 16)
            except ValueError:
                raise NotExpressible(f"chunk size line {line[:40]!r}") from None
            if size == 0:
                # the trailer section (ignored) ends with an empty line
                end = 2 if rest.startswith(b"\r\n") else rest.find(b"\r\n\r\n") + 4
                if end < 4 and not rest.startswith(b"\r\n"):
                    break
                self.inbuf = rest[end:]
                self.h.send_body(p.sid, out, end_stream=True)
                self.current = None
                return
            if len(rest) < size + 2:
                break
            if rest[size:size + 2] != b"\r\n":
                raise NotExpressible("chunk data not followed by CRLF")
            out += rest[:size]
            p.cbuf = rest[size + 2:]
        if out:
            self.h.send_body(p.sid, out, end_stream=False)

    # -- answers -----------------------------------------------------------
    def read_response(self, head=False, timeout=DEFAULT_TIMEOUT, skip_interim=True):
        if not self.order:
            raise HTTPParseError("no request waiting for an answer")
        sid = self.order.pop(0)
        r = self.h.response(sid, timeout)
        if r.reset is not None and not r.ended:
            raise HTTPParseError(f"stream {sid} reset with {r.reset!r} (no whole answer): {r!r}")
        if not r.ended:
            raise HTTPParseError(f"connection closed before the answer on stream {sid} "
                                 f"ended (GOAWAY {self.h.goaway!r}): {r!r}")
        if r.status is None:
            raise HTTPParseError(f"stream {sid} ended without a response head")
        return to_response(r, self.opened_at)

    def read_responses(self, n, heads=None, timeout=DEFAULT_TIMEOUT):
        heads = heads or [False] * n
        return [self.read_response(head=h, timeout=timeout) for h in heads]

    def wait_closed(self, timeout=3.0 * SLOW):
        return self.h.wait_closed(timeout)

    def answer_started(self, marker=b"", timeout=DEFAULT_TIMEOUT):
        """Until the oldest unread answer's head has come, and its body holds
        `marker` (a streaming answer under way); returns the status."""
        if not self.order:
            raise HTTPParseError("no request waiting for an answer")
        st = self.h.streams[self.order[0]]
        self.h.pump_until(lambda: st.done or self.h.closed or
                          (st.status is not None and marker in st.body), timeout,
                          f"{marker!r} on stream {st.id}")
        if st.status is None or marker not in st.body:
            raise HTTPParseError(f"stream {st.id} ended before {marker!r}: {st!r}")
        return st.status

    def send_queued(self, pieces):
        """send() every piece at once (bodies go as the windows allow, while
        the answers are read): test_cgi's send_in_thread for HTTP/2, where
        one thread must drive the connection. Returns (sender, errors); the
        sender is alive while a body is still to be sent."""
        for piece in pieces:
            self.send(piece)
        return _QueuedSender(self), []

    def is_open(self, timeout=0.3):
        if not self.h.quiet(timeout):
            if self.h.unexpected:
                raise HTTPParseError(f"frames on streams never opened: {self.h.unexpected}")
            return False
        return True


class _QueuedSender:
    """Thread-like view of the bodies an H2Http1Conn still has to send."""

    def __init__(self, conn):
        self.conn = conn

    def is_alive(self):
        return self.conn.h.sending

    def join(self, timeout=None):
        h = self.conn.h
        try:
            h.pump_until(lambda: not h.sending or h.closed,
                         DEFAULT_TIMEOUT if timeout is None else timeout, "the bodies to go")
        except H2Error:
            pass


def to_response(r, opened_at=None):
    """An H2Response as an httputil.Response (version "HTTP/2", no reason
    phrase); `keep_alive` says the HTTP/2 connection stayed open."""
    resp = Response("HTTP/2", r.status, "", r.header_list, r.body, b"",
                    opened_at if opened_at is not None else r.sent_at, r.received_at)
    resp.h2 = r
    return resp
