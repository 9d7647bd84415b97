"""Sites (-c FILE): routing by Host and SNI, 421, the configuration file's
errors (each with its exact line), lisod -t -c, and the old forms unchanged.

Every site serves an index.html naming it ("site a", ...), so a body says
which site answered. Certificates are made per test module with their own
names (a.test, *.a.test; b.test, *.b.test), so the certificate a TLS
client was given says which site the handshake chose.
"""
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from conftest import command, free_port
from httputil import Conn, get, raw_exchange, request, tcp_connect
from tlsutil import OPENSSL, der_subject, tls_connector

T = 5.0
V = pytest.mark.valgrind  # the TLS table, the policies, the file's errors, -t


def named_cert(directory, name):
    """directory/name.key and .crt for name and *.name (CN name)."""
    key, crt = directory / f"{name}.key", directory / f"{name}.crt"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "3", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name},DNS:*.{name}"],
                   check=True, capture_output=True, timeout=60)
    return key, crt


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("site-certs")
    return {n: named_cert(d, n) for n in ("a.test", "b.test")}


def make_roots(workdir, names):
    roots = {}
    for n in names:
        r = workdir / f"site-{n}"
        r.mkdir(exist_ok=True)
        (r / "index.html").write_text(f"site {n}\n")
        roots[n] = r
    return roots


def sites_conf(workdir, certs, extra_main=""):
    """Four sites: a (own certificate, a wildcard), b (the default, own
    certificate), w (www.b.test, exact beats *.b.test; b's files by
    inheritance? no: main's self-signed), c (index home.html)."""
    roots = make_roots(workdir, "abwc")
    (roots["c"] / "index.html").unlink()
    (roots["c"] / "home.html").write_text("site c\n")
    (ak, ac), (bk, bc) = certs["a.test"], certs["b.test"]
    conf = workdir / "lisod.conf"
    conf.write_text(f"""# sites for test_sites.py
{extra_main}
[site a]
hosts = a.test, *.a.test
root = {roots['a']}
key = {ak}
cert = {ac}

[site b]
hosts = b.test
hosts = *.b.test     # repeated: the list grows
default = yes
root = {roots['b']}
key = {bk}
cert = {bc}

[site w]
hosts = www.b.test
root = {roots['w']}

[site c]
hosts = c.test
root = {roots['c']}
index = missing.html, home.html
""")
    return conf


def site_of(resp):
    """Which site's index answered, or None."""
    body = resp.body.decode(errors="replace").strip()
    return body[5:] if body.startswith("site ") else None


# ---- routing over HTTP ------------------------------------------------------

HTTP_ROUTES = [
    # (line, what, request bytes, status, site)
    ("exact name", get("/", host="a.test"), 200, "a"),
    ("case does not matter", get("/", host="A.Test"), 200, "a"),
    ("a port is ignored", get("/", host="a.test:8080"), 200, "a"),
    ("a final dot is ignored", get("/", host="a.test."), 200, "a"),
    ("wildcard: one label", get("/", host="x.a.test"), 200, "a"),
    ("wildcard: two labels", get("/", host="y.x.a.test"), 200, "a"),
    ("exact beats the wildcard", get("/", host="www.b.test"), 200, "w"),
    ("below an exact name the wildcard again", get("/", host="m.www.b.test"), 200, "b"),
    ("index names tried in order", get("/", host="c.test"), 200, "c"),
    ("unknown host: the default site", get("/", host="nowhere.test"), 200, "b"),
    ("an address: the default site", get("/", host="[::1]:80"), 200, "b"),
    ("HTTP/1.0 without Host: the default site",
     request("GET", "/", version="HTTP/1.0", host=None), 200, "b"),
    ("absolute form: the authority, not Host",
     request("GET", "http://a.test/", host="b.test"), 200, "a"),
]


@pytest.fixture
def sites_server(start_server, workdir, certs):
    conf = sites_conf(workdir, certs)
    https = free_port()
    return start_server("-c", str(conf), "--https-port", str(https)), https


@pytest.mark.parametrize("what,data,status,site", HTTP_ROUTES, ids=[r[0] for r in HTTP_ROUTES])
def test_http_routing(sites_server, what, data, status, site):
    srv, _ = sites_server
    [resp] = raw_exchange(srv.port, data)
    assert resp.status == status, (what, resp)
    assert site_of(resp) == site, (what, resp.body)


@V
@pytest.mark.parametrize("policy,status", [("404", 404), ("421", 421)])
def test_unknown_host_policy(start_server, workdir, certs, policy, status):
    conf = sites_conf(workdir, certs, extra_main=f"unknown-host = {policy}")
    srv = start_server("-c", str(conf))
    [unknown, known, none] = raw_exchange(
        srv.port, get("/", host="nowhere.test") + get("/", host="a.test") +
        request("GET", "/", version="HTTP/1.1", host=None, headers=["Connection: close"]), 3)
    assert unknown.status == status
    assert unknown.header("connection") == "keep-alive"  # answered, the stream goes on
    assert (known.status, site_of(known)) == (200, "a")
    # No Host at all is not an unknown name: HTTP/1.1 without one stays
    # the 400 of RFC 9112 §3.2, not the policy's status.
    assert none.status == 400


def test_unknown_host_policy_without_hosts(start_server):
    """One implicit site lists no hosts: there is nothing to be unknown to."""
    srv = start_server("--unknown-host", "421")
    [resp] = raw_exchange(srv.port, get("/", host="anything.test"))
    assert resp.status == 200


@V
def test_access_log_per_site(start_server, workdir, certs):
    conf = sites_conf(workdir, certs)
    own = workdir / "a-access.log"
    text = conf.read_text().replace("[site a]\n", f"[site a]\naccess-log = {own}\n")
    conf.write_text(text)
    srv = start_server("-c", str(conf))
    raw_exchange(srv.port, get("/?a", host="a.test") + get("/?b", host="b.test"), 2)
    srv.stop()
    a_lines = own.read_text().splitlines()
    assert len(a_lines) == 1 and '"GET /?a HTTP/1.1" 200' in a_lines[0], a_lines
    main = srv.log()
    assert '"GET /?b HTTP/1.1" 200' in main and "GET /?a" not in main


# ---- TLS: the certificate by SNI, 421 ---------------------------------------

def tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


TLS_ROUTES = [
    # (what, SNI, Host, status, site, certificate CN)
    ("SNI a, Host a", "a.test", "a.test", 200, "a", "a.test"),
    ("SNI b, Host b", "b.test", "b.test", 200, "b", "b.test"),
    ("wildcard SNI", "x.a.test", "x.a.test", 200, "a", "a.test"),
    ("no SNI: the default site's certificate", None, "b.test", 200, "b", "b.test"),
    ("unknown SNI: the default site's certificate", "nowhere.test", "nowhere.test", 200, "b",
     "b.test"),
    ("a site without its own certificate: the main one (self-signed)", "c.test", "c.test",
     200, "c", "localhost"),
    ("SNI a, Host b: 421", "a.test", "b.test", 421, None, "a.test"),
    ("no SNI, Host a: made for the default site, 421", None, "a.test", 421, None, "b.test"),
    ("SNI a, unknown Host (the default site): 421", "a.test", "nowhere.test", 421, None,
     "a.test"),
]


@V
@pytest.mark.parametrize("what,sni,host,status,site,cn", TLS_ROUTES,
                         ids=[r[0] for r in TLS_ROUTES])
def test_tls_routing(sites_server, what, sni, host, status, site, cn):
    _, https = sites_server
    connect = tls_connector(tls_ctx(), server_hostname=sni)
    with Conn.open(https, connect) as c:
        assert f"CN = {cn}" in der_subject(c.sock.getpeercert(binary_form=True)), what
        c.send(get("/", host=host) + get("/", host=host))
        first, second = c.read_responses(2, timeout=T)
    assert first.status == status, (what, first)
    assert site_of(first) == site, what
    # 421 is an answer, not a broken stream: the next request is read too.
    assert second.status == status


# ---- the configuration file's errors: exit 1, every one with its line --------

BAD_FILES = [
    # (what, file text, expected stderr lines; {F} is the file's path)
    ("no '='", "http-port 80\n", ["{F}:1: expected 'key = value'"]),
    ("unknown key", "\n\nfrob = 1\n", ["{F}:3: unknown key 'frob'"]),
    ("bad value", "http-port = eighty\n",
     ["{F}:1: invalid HTTP port for 'http-port': 'eighty'"]),
    ("a flag takes yes or no", "daemon = maybe\n",
     ["{F}:1: expected yes or no for 'daemon': 'maybe'"]),
    ("no value", "root =\n", ["{F}:1: 'root' has no value"]),
    ("no value after the comment goes", "root = # later\n", ["{F}:1: 'root' has no value"]),
    ("set twice", "workers = 1\nworkers = 2\n",
     ["{F}:2: 'workers' is set twice (first on line 1)"]),
    ("not in a file", "config = /x\ntest-config = yes\n",
     ["{F}:1: 'config' cannot be set in a configuration file",
      "{F}:2: 'test-config' cannot be set in a configuration file"]),
    ("a site key in the main section", "hosts = a.test\n",
     ["{F}:1: 'hosts' belongs in a [site] section"]),
    ("a main key in a site", "[site a]\nhosts = a.test\nhttp-port = 80\n",
     ["{F}:3: 'http-port' is a main setting: put it before the first [site]"]),
    ("unknown key in a site", "[site a]\nhosts = a.test\nfrob = 1\n",
     ["{F}:3: unknown key 'frob' in site 'a'"]),
    ("set twice in a site", "[site a]\nhosts = a.test\nroot = /a\nroot = /b\n",
     ["{F}:4: 'root' is set twice in site 'a' (first on line 3)"]),
    ("bad header", "[server x]\nroot = /x\n", ["{F}:1: expected [site NAME], got [server x]"]),
    ("unclosed header", "[site x\n", ["{F}:1: expected [site NAME]"]),
    ("bad site name", "[site a/b]\n",
     ["{F}:1: bad site name 'a/b': 1 to 64 letters, digits, '.', '_' or '-'"]),
    ("a site twice", "[site a]\nhosts = a.test\n[site a]\n",
     ["{F}:3: site 'a' is defined twice (first on line 1)"]),
    ("indented line", "index = a.html\n  b.html\n",
     ["{F}:2: indented line: a value cannot continue on the next line"]),
    ("line too long", "root = /" + "x" * 200 + "\n", ["{F}:1: line longer than 199 characters"]),
    ("NUL byte", "root = /a\0b\n", ["{F}:1: NUL byte in line"]),
    ("empty list entry", "[site a]\nhosts = a.test,,b.test\n",
     ["{F}:2: empty entry in the list for 'hosts': 'a.test,,b.test'"]),
    ("a host with a port", "[site a]\nhosts = a.test:80\n",
     ["{F}:2: a host takes no port (sites are chosen by name on every port) for 'hosts': "
      "'a.test:80'"]),
    ("a bare star", "[site a]\nhosts = *\n",
     ["{F}:2: a bare '*' matches nothing: mark the site 'default = yes' for 'hosts': '*'"]),
    ("not a host name", "[site a]\nhosts = a_b..test\n",
     ["{F}:2: not a host name (letters, digits, '-', '.'; '*.' only in front) for 'hosts': "
      "'a_b..test'"]),
    ("an index name is a file name", "index = ../x.html\n",
     ["{F}:1: an index name is a file name (no '/', not . or ..) for 'index': '../x.html'"]),
    ("too many index names", "index = " + ",".join(f"i{n}" for n in range(9)) + "\n",
     ["{F}:1: too many entries for 'index': '" + ",".join(f"i{n}" for n in range(9)) + "'"]),
    ("unknown-host", "unknown-host = 500\n",
     ["{F}:1: expected default, 404 or 421 for 'unknown-host': '500'"]),
    ("two default sites", "[site a]\ndefault = yes\n[site b]\nhosts = b.test\ndefault = yes\n",
     ["{F}:5: site 'b' is a second default site (the first is 'a')"]),
    ("a site nothing can reach", "[site a]\nhosts = a.test\n[site b]\nroot = /b\n",
     ["{F}:3: site 'b' has no hosts and is not the default site: no request could reach it"]),
    ("one host, two sites", "[site a]\nhosts = a.test\n[site b]\nhosts = x.test, A.test\n",
     ["{F}:4: host 'a.test' is claimed by site 'a' (line 2) and site 'b'"]),
    ("one host twice in a site", "[site a]\nhosts = a.test\nhosts = a.test\n",
     ["{F}:2: host 'a.test' is listed twice in site 'a'"]),
    ("a key without its certificate", "[site a]\nhosts = a.test\nkey = /k.pem\n",
     ["{F}:3: site 'a': key and cert go together"]),
    ("main key without cert", "key = /k.pem\n", ["{F}:1: --key and --cert go together"]),
    ("a daemon needs a lock", "daemon = yes\n", ["{F}:1: --daemon needs --lock"]),
    ("every problem, in order",
     "frob = 1\n[site]\nroot = /never/read\n[site a]\nhosts = a.test\n  x\nroot\n",
     ["{F}:1: unknown key 'frob'", "{F}:2: expected [site NAME], got [site]",
      "{F}:6: indented line: a value cannot continue on the next line",
      "{F}:7: expected 'key = value'"]),
]


def run_lisod(*args, timeout=120):
    """lisod (under valgrind in `make valgrind`: a leak on an error path fails
    it, exit 99) with args; stdout and stderr as text."""
    return subprocess.run(command(args), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, text=True, errors="replace")


@V
@pytest.mark.parametrize("what,text,lines", BAD_FILES, ids=[r[0] for r in BAD_FILES])
def test_config_error_names_the_line(workdir, what, text, lines):
    conf = workdir / "bad.conf"
    conf.write_bytes(text.encode())
    for args in (["-c", str(conf)], ["-t", "-c", str(conf)]):
        r = run_lisod(*args)
        assert r.returncode == 1, (what, args, r.stderr)
        want = [f"lisod: {line.format(F=conf)}" for line in lines]
        assert r.stderr.splitlines() == want, (what, args)
        assert r.stdout == ""


def test_config_file_missing(workdir):
    r = run_lisod("-c", str(workdir / "nope.conf"))
    assert r.returncode == 1
    assert r.stderr == f"lisod: cannot read configuration file {workdir}/nope.conf: " \
                       "No such file or directory\n"


def test_command_line_overrides_the_file(start_server, workdir):
    """The file says port 1 and a root that does not exist; argv wins."""
    conf = workdir / "o.conf"
    conf.write_text("http-port = 1\nroot = /nonexistent\n")
    srv = start_server("-c", str(conf))  # start_server's --http-port and --root follow
    [resp] = raw_exchange(srv.port, get("/"))
    assert resp.status == 200 and b"hello" in resp.body


@V
def test_test_config_checks_every_site(workdir, certs):
    conf = sites_conf(workdir, certs)
    port = free_port()
    r = run_lisod("-t", "-c", str(conf), "--http-port", str(port), "--https-port", "0")
    assert r.returncode == 0, r.stderr
    assert "lisod: configuration ok" in r.stdout
    # Break two sites: each problem names its site and the line that set it.
    text = conf.read_text()
    text = text.replace(f"root = {workdir}/site-w", "root = /nonexistent/w")
    text = text.replace(f"cert = {certs['a.test'][1]}", f"cert = {certs['b.test'][1]}")
    conf.write_text(text)
    r = run_lisod("-t", "-c", str(conf), "--http-port", str(port), "--https-port", str(port + 1))
    assert r.returncode == 1
    lines = text.splitlines()
    w_root = lines.index("root = /nonexistent/w") + 1
    a_key = lines.index(f"key = {certs['a.test'][0]}") + 1
    assert (f"lisod: {conf}:{w_root}: site 'w': cannot read document root /nonexistent/w: "
            "No such file or directory") in r.stderr.splitlines(), r.stderr
    assert any(line.startswith(f"lisod: {conf}:{a_key}: site 'a': ") and "key" in line.lower()
               for line in r.stderr.splitlines()), r.stderr


def test_options_form_is_one_default_site(start_server, workdir):
    """No file: the options form is one default site, as before (routing
    cannot get in the way: any Host, no Host). The 8-argument form goes
    through the same path; test_daemon.py runs it."""
    srv = start_server()
    resps = raw_exchange(srv.port, get("/", host="whatever.example") +
                         request("GET", "/", version="HTTP/1.0", host=None), 2)
    assert [r.status for r in resps] == [200, 200]


def test_example_configuration_is_valid():
    """docs/lisod.conf.example parses: -t gets past the file (to the checks
    of paths this machine does not have), and names the lines it came from."""
    example = Path(__file__).resolve().parents[2] / "docs" / "lisod.conf.example"
    r = run_lisod("-t", "-c", str(example))
    assert r.returncode == 1
    assert "configuration test failed" in r.stderr, r.stderr
    line = example.read_text().splitlines().index("root = /var/www/shop/public") + 1
    assert f"lisod: {example}:{line}: site 'shop': cannot read document root " \
           "/var/www/shop/public" in r.stderr
