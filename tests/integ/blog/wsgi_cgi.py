#!/usr/bin/python3
"""WSGI-to-CGI wrapper (PEP 3333 on top of RFC 3875) for the blog app.

lisod runs this file as its CGI program. It builds the WSGI environ from the
CGI environment, gives the app the request body on stdin (CONTENT_LENGTH
bytes, or to EOF when there is none), and writes *parsed* CGI output:
"Status: ..." and the app's header fields, an empty line, then the body.

lisod passes only the CGI environment, so the data directory is found next
to this file: ./blog.json ({"data_dir": ...}), written by the test; without
it, ./data.
"""
import json
import os
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade"}


class InputStream:
    """stdin bounded by CONTENT_LENGTH (reads never block past the body)."""

    def __init__(self, raw, length):
        self.raw = raw
        self.left = length          # None: to EOF

    def _want(self, size):
        if self.left is None:
            return size
        if size is None or size < 0:
            return self.left
        return min(size, self.left)

    def read(self, size=-1):
        want = self._want(size)
        data = self.raw.read() if want is None or want < 0 else self.raw.read(want)
        if self.left is not None:
            self.left -= len(data)
        return data

    def readline(self, size=-1):
        want = self._want(size)
        data = self.raw.readline() if want is None or want < 0 else self.raw.readline(want)
        if self.left is not None:
            self.left -= len(data)
        return data

    def readlines(self, hint=-1):
        return list(iter(self.readline, b""))

    def __iter__(self):
        return iter(self.readline, b"")


def environ_from_cgi():
    env = dict(os.environ)
    cl = env.get("CONTENT_LENGTH", "")
    length = int(cl) if cl.isdigit() else None
    if length is None:
        env.pop("CONTENT_LENGTH", None)
    env.setdefault("SCRIPT_NAME", "")
    env.setdefault("PATH_INFO", "")
    env.setdefault("QUERY_STRING", "")
    # PEP 3333: "native strings" carry the bytes as latin-1
    for k in ("PATH_INFO", "SCRIPT_NAME"):
        env[k] = env[k].encode("utf-8", "surrogateescape").decode("latin-1")
    https = env.get("HTTPS", "").lower() in ("on", "1", "yes")
    env.update({
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https" if https else "http",
        "wsgi.input": InputStream(sys.stdin.buffer, length),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": True,
    })
    return env


def run(app):
    out = sys.stdout.buffer
    state = {"status": None, "headers": None, "sent": False}

    def send_head():
        if state["sent"]:
            return
        if state["status"] is None:
            raise AssertionError("app wrote a body before start_response")
        lines = [f"Status: {state['status']}"]
        for name, value in state["headers"]:
            if name.lower() in HOP_BY_HOP:
                continue
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError("header with a line break")
            lines.append(f"{name}: {value}")
        out.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        state["sent"] = True

    def write(data):
        send_head()
        out.write(data)

    def start_response(status, headers, exc_info=None):
        if exc_info:
            try:
                if state["sent"]:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif state["status"] is not None:
            raise AssertionError("start_response called twice")
        state["status"], state["headers"] = status, list(headers)
        return write

    environ = environ_from_cgi()
    try:
        result = app(environ, start_response)
        try:
            for chunk in result:
                if chunk:
                    write(chunk)
            send_head()     # an empty body still gets its header section
        finally:
            if hasattr(result, "close"):
                result.close()
    except Exception:       # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        if not state["sent"]:
            state.update(status="500 Internal Server Error",
                         headers=[("Content-Type", "text/plain")])
            write(b"internal error\n")
    out.flush()


def main():
    conf = HERE / "blog.json"
    data_dir = HERE / "data"
    if conf.exists():
        data_dir = Path(json.loads(conf.read_text())["data_dir"])
    sys.path.insert(0, str(HERE))
    from app import create_app
    run(create_app(data_dir))


if __name__ == "__main__":
    main()
