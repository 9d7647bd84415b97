"""TLS helpers for the lisod HTTPS integration tests.

- make_cert(): an RSA-2048 or ECDSA P-256 key plus a self-signed certificate
  for CN=localhost (SAN DNS:localhost, IP:127.0.0.1), made with the openssl CLI.
- tls_connector(): a `connect(port, timeout)` callable returning an
  ssl.SSLSocket, so httputil's Conn/raw_exchange/fetch work over TLS.
- s_client(): run `openssl s_client` with a bounded timeout, return its output.
- client_hello_bytes(): the first flight of a real TLS client, for tests that
  stop in the middle of a handshake.
- cert_der()/cert_serial(): compare what the server presents with a file.

Everything talks to 127.0.0.1 only.
"""
import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

VALGRIND = bool(os.environ.get("LISOD_VALGRIND"))
# Handshakes under valgrind are slow (RSA in an emulated CPU).
TLS_TIMEOUT = 60.0 if VALGRIND else 5.0


def _tool(name):
    """The path of a tool the TLS tests need; a missing one stops the suite
    at import (scripts/deps.sh installs it), never a silent skip."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found on PATH: the HTTPS tests need it "
                           "(scripts/deps.sh test installs it)")
    return path


OPENSSL = _tool("openssl")
CURL = _tool("curl")


class CertPair:
    def __init__(self, name, key, cert, kind):
        self.name = name
        self.key = Path(key)
        self.cert = Path(cert)
        self.kind = kind

    @property
    def der(self):
        return cert_der(self.cert)

    @property
    def serial(self):
        return cert_serial(self.cert)

    def __repr__(self):
        return f"<CertPair {self.name} {self.kind}>"


def _run(cmd, timeout=60, **kw):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, check=True, **kw)


def make_cert(directory, name, kind="rsa", serial=None, days=3):
    """Create directory/name.key and directory/name.crt; kind 'rsa' or 'ec'."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / f"{name}.key"
    crt = directory / f"{name}.crt"
    if kind == "rsa":
        newkey = ["-newkey", "rsa:2048"]
    elif kind == "ec":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    else:
        raise ValueError(kind)
    cmd = [OPENSSL, "req", "-x509", *newkey, "-nodes", "-keyout", str(key), "-out", str(crt),
           "-days", str(days), "-subj", "/CN=localhost",
           "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    if serial is not None:
        cmd += ["-set_serial", str(serial)]
    _run(cmd)
    return CertPair(name, key, crt, kind)


def cert_der(cert_path):
    return ssl.PEM_cert_to_DER_cert(Path(cert_path).read_text())


def cert_serial(cert_path=None, der=None):
    """Serial as an upper-case hex string (openssl x509 -serial)."""
    if der is not None:
        out = subprocess.run([OPENSSL, "x509", "-inform", "DER", "-noout", "-serial"],
                             input=der, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=30, check=True).stdout
    else:
        out = _run([OPENSSL, "x509", "-in", str(cert_path), "-noout", "-serial"]).stdout
    return out.decode().strip().split("=", 1)[1].upper()


def der_subject(der):
    return subprocess.run([OPENSSL, "x509", "-inform", "DER", "-noout", "-subject"],
                          input=der, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=30, check=True).stdout.decode().strip()


def client_context(cafile=None, verify=True, min_version=None, max_version=None, alpn=True):
    """A client SSLContext; verify=True checks the chain against `cafile`
    and the host name 'localhost'."""
    if verify:
        ctx = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if alpn:
        ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def tls_socket(port, ctx, timeout=None, host="127.0.0.1", server_hostname="localhost",
               session=None, suppress_ragged_eofs=True):
    """Connect and complete the handshake (bounded by timeout)."""
    timeout = TLS_TIMEOUT if timeout is None else max(timeout, TLS_TIMEOUT)
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname=server_hostname, session=session,
                            suppress_ragged_eofs=suppress_ragged_eofs)
    except BaseException:
        raw.close()
        raise
    return s


def tls_connector(ctx, **kw):
    """A `connect(port, timeout)` callable for httputil (Conn.open, raw_exchange)."""
    def connect(port, timeout=None):
        return tls_socket(port, ctx, timeout, **kw)
    return connect


def s_client(port, *args, stdin=b"", timeout=None):
    """Run `openssl s_client -connect 127.0.0.1:port args...`; returns
    (returncode, combined stdout+stderr text)."""
    timeout = timeout or (120 if VALGRIND else 20)
    cmd = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
           *args]
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


def client_hello_bytes():
    """The bytes a TLS 1.3-capable client sends first (its ClientHello record)."""
    ctx = client_context(verify=False)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=False, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = out.read()
    assert data[:1] == b"\x16", data[:10]        # handshake record
    return data


def read_until_eof(sock, timeout, limit=1 << 20):
    """Read until EOF/reset or timeout. Returns (closed, data, how)."""
    import time
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline and len(data) < limit:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False, data, "timeout"
        except (ConnectionResetError, BrokenPipeError):
            return True, data, "reset"
        except ssl.SSLZeroReturnError:
            return True, data, "close_notify"
        except ssl.SSLEOFError:
            return True, data, "ragged-eof"
        if not chunk:
            return True, data, "eof"
        data += chunk
    return False, data, "timeout"
