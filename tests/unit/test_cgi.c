/*
 * Unit tests for cgi.c: which paths are CGI, program/PATH_INFO resolution
 * (file and directory mode), the environment, spawning a child with its
 * pipes, and the CGI output header section (scan, parse, write).
 *
 * Every table row carries its __LINE__; a failing row prints it and its name.
 * The spawn tests run /bin/sh scripts written into a mkdtemp() directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cgi.h"
#include "http_parse.h"
#include "http_resp.h"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_cgi.c:%d: %s: ", (line), (name));            \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The scratch directory of the resolve and spawn tests (set up once). */
struct fixture {
	char dir[PATH_MAX];      /* as created (mkdtemp) */
	char real[PATH_MAX];     /* realpath(dir) */
};

/* ---- cgi_is_cgi_path ------------------------------------------------------- */

struct is_cgi_case {
	int line;
	const char *path;
	size_t len; /* 0: strlen */
	bool want;
};

static const struct is_cgi_case IS_CGI_CASES[] = {
	{ __LINE__, "/cgi", 0, true },
	{ __LINE__, "/cgi/", 0, true },
	{ __LINE__, "/cgi/x", 0, true },
	{ __LINE__, "/cgi/x/y/", 0, true },
	{ __LINE__, "/cgix", 0, false },
	{ __LINE__, "/cgi-bin/x", 0, false },
	{ __LINE__, "/cg", 0, false },
	{ __LINE__, "/CGI", 0, false },
	{ __LINE__, "/Cgi/x", 0, false },
	{ __LINE__, "/a/cgi", 0, false },
	{ __LINE__, "cgi", 0, false },
	{ __LINE__, "", 0, false },
	{ __LINE__, "/", 0, false },
	{ __LINE__, "//cgi", 0, false },
	{ __LINE__, "/cgi/x", 4, true },   /* length bounds the path */
	{ __LINE__, "/cgixyz", 4, true },
	{ __LINE__, "/cgi", 3, false },
};

static int run_is_cgi_table(const struct is_cgi_case *cases, size_t n,
			    bool (*fn)(const char *, size_t))
{
	int failures = 0;
	for (size_t i = 0; i < n; i++) {
		const struct is_cgi_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->path);
		if (fn(c->path, len) != c->want)
			FAIL_ROW(c->line, c->path, "want %s", c->want ? "true" : "false");
	}
	return failures;
}

static void test_is_cgi_path(void **state)
{
	(void)state;
	assert_int_equal(run_is_cgi_table(IS_CGI_CASES, ARRAY_LEN(IS_CGI_CASES), cgi_is_cgi_path), 0);
}

/* Routing decides on the decoded, normalised path (spec §5). */
static const struct is_cgi_case IS_CGI_TARGET_CASES[] = {
	{ __LINE__, "/cgi", 0, true },
	{ __LINE__, "/cgi/x", 0, true },
	{ __LINE__, "/%63gi/x", 0, true },
	{ __LINE__, "/%63%67%69", 0, true },
	{ __LINE__, "//cgi/x", 0, true },
	{ __LINE__, "///cgi", 0, true },
	{ __LINE__, "/./cgi/x", 0, true },
	{ __LINE__, "/a/../cgi/x", 0, true },
	{ __LINE__, "/cgi%2fx", 0, true },
	{ __LINE__, "/cgi/./x", 0, true },
	{ __LINE__, "/cgi/..", 0, false },       /* "/" */
	{ __LINE__, "/cgi/../x", 0, false },     /* "/x" */
	{ __LINE__, "/%43GI/x", 0, false },      /* "/CGI/x": case matters */
	{ __LINE__, "/cgix", 0, false },
	{ __LINE__, "/c%67ix", 0, false },
	{ __LINE__, "/.cgi/x", 0, false },
	{ __LINE__, "/../cgi/x", 0, false },     /* above the root: the static 400 */
	{ __LINE__, "/cgi/%00", 0, false },      /* %00: the static 400 */
	{ __LINE__, "/cgi/%zz", 0, false },
};

static void test_is_cgi_target(void **state)
{
	(void)state;
	assert_int_equal(run_is_cgi_table(IS_CGI_TARGET_CASES, ARRAY_LEN(IS_CGI_TARGET_CASES),
					  cgi_is_cgi_target), 0);
}

/* ---- fixture --------------------------------------------------------------- */

static const struct {
	const char *name;
	mode_t mode;
	const char *text;
} SCRIPTS[] = {
	{ "prog", 0755, "#!/bin/sh\necho prog\n" },
	{ "cat.sh", 0755, "#!/bin/sh\nexec cat\n" },
	{ "env.sh", 0755, "#!/bin/sh\nexec env\n" },
	{ "pwd.sh", 0755, "#!/bin/sh\npwd -P\n" },
	{ "fds.sh", 0755,
	  "#!/bin/sh\nfor n in $FDS; do\n"
	  "  if [ -e /proc/self/fd/$n ]; then echo \"open $n\"; else echo \"closed $n\"; fi\n"
	  "done\n" },
	{ "sig.sh", 0755, "#!/bin/sh\nexec grep -E '^Sig(Ign|Blk):' /proc/self/status\n" },
	{ "stat.sh", 0755, "#!/bin/sh\nexec cat /proc/self/stat\n" },
	{ "err.sh", 0755, "#!/bin/sh\necho oops >&2\necho out\nexit 3\n" },
	{ "tree.sh", 0755, "#!/bin/sh\nsleep 30 &\necho $!\nwait\n" },
	{ "noexec.sh", 0644, "#!/bin/sh\necho never\n" },
	{ "a b", 0755, "#!/bin/sh\necho space\n" },
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/lisod_test_cgi.XXXXXX");
	if (mkdtemp(f->dir) == NULL || realpath(f->dir, f->real) == NULL)
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(SCRIPTS); i++) {
		char p[PATH_MAX + 64];
		snprintf(p, sizeof(p), "%s/%s", f->dir, SCRIPTS[i].name);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		size_t n = strlen(SCRIPTS[i].text);
		if (write(fd, SCRIPTS[i].text, n) != (ssize_t)n || fchmod(fd, SCRIPTS[i].mode) < 0) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	char sub[PATH_MAX + 16];
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	if (mkdir(sub, 0755) < 0)
		return -1;
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	if (f == NULL)
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(SCRIPTS); i++) {
		char p[PATH_MAX + 64];
		snprintf(p, sizeof(p), "%s/%s", f->dir, SCRIPTS[i].name);
		unlink(p);
	}
	char sub[PATH_MAX + 16];
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	rmdir(sub);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- cgi_resolve ----------------------------------------------------------- */

struct resolve_case {
	int line;
	const char *name;
	bool dir_mode;
	const char *cgi_suffix;   /* appended to the fixture dir: the configured path */
	const char *path;
	size_t len;               /* 0: strlen */
	size_t program_cap;       /* 0: CGI_PROGRAM_MAX, else strlen(dir) + this */
	size_t path_info_cap;     /* 0: CGI_PROGRAM_MAX */
	int status;
	const char *program;      /* appended to the fixture dir, when status 0 */
	const char *path_info;
};

static const struct resolve_case RESOLVE_CASES[] = {
	/* file mode: every CGI path runs the one program */
	{ __LINE__, "spec example", false, "/prog", "/cgi/testfun/a/b", 0, 0, 0, 0, "/prog",
	  "/testfun/a/b" },
	{ __LINE__, "bare /cgi", false, "/prog", "/cgi", 0, 0, 0, 0, "/prog", "" },
	{ __LINE__, "/cgi/", false, "/prog", "/cgi/", 0, 0, 0, 0, "/prog", "/" },
	{ __LINE__, "trailing slash kept", false, "/prog", "/cgi/x/", 0, 0, 0, 0, "/prog", "/x/" },
	{ __LINE__, "encoded space", false, "/prog", "/cgi/a%20b", 0, 0, 0, 0, "/prog", "/a b" },
	{ __LINE__, "encoded slash", false, "/prog", "/cgi/a%2Fb", 0, 0, 0, 0, "/prog", "/a/b" },
	{ __LINE__, "encoded dots leave /cgi", false, "/prog", "/cgi/%2e%2e/etc", 0, 0, 0, 404,
	  NULL, NULL },
	{ __LINE__, "dot segments resolved", false, "/prog", "/cgi/a/./b/../c", 0, 0, 0, 0,
	  "/prog", "/a/c" },
	{ __LINE__, "encoded cgi", false, "/prog", "/%63gi/x", 0, 0, 0, 0, "/prog", "/x" },
	{ __LINE__, "double slash before cgi", false, "/prog", "//cgi/x", 0, 0, 0, 0, "/prog",
	  "/x" },
	{ __LINE__, "empty segments collapse", false, "/prog", "/cgi//x//y", 0, 0, 0, 0, "/prog",
	  "/x/y" },
	{ __LINE__, "above the root", false, "/prog", "/../cgi/x", 0, 0, 0, 400, NULL, NULL },
	{ __LINE__, "decoded once", false, "/prog", "/cgi/%2541", 0, 0, 0, 0, "/prog", "/%41" },
	{ __LINE__, "high bytes", false, "/prog", "/cgi/%C3%a9", 0, 0, 0, 0, "/prog",
	  "/\xc3\xa9" },
	{ __LINE__, "plus is literal", false, "/prog", "/cgi/a+b", 0, 0, 0, 0, "/prog", "/a+b" },
	{ __LINE__, "bad hex", false, "/prog", "/cgi/%zz", 0, 0, 0, 400, NULL, NULL },
	{ __LINE__, "bad second hex", false, "/prog", "/cgi/%4g", 0, 0, 0, 400, NULL, NULL },
	{ __LINE__, "truncated escape", false, "/prog", "/cgi/%4", 0, 0, 0, 400, NULL, NULL },
	{ __LINE__, "lone percent", false, "/prog", "/cgi/%", 0, 0, 0, 400, NULL, NULL },
	{ __LINE__, "encoded NUL", false, "/prog", "/cgi/a%00b", 0, 0, 0, 400, NULL, NULL },
	{ __LINE__, "raw NUL", false, "/prog", "/cgi/a\0b", 8, 0, 0, 400, NULL, NULL },
	{ __LINE__, "not a CGI path", false, "/prog", "/cgix", 0, 0, 0, 404, NULL, NULL },
	{ __LINE__, "path info exact fit", false, "/prog", "/cgi/abc", 0, 0, 5, 0, "/prog", "/abc" },
	{ __LINE__, "path info too long", false, "/prog", "/cgi/abcd", 0, 0, 5, 414, NULL, NULL },
	{ __LINE__, "program exact fit", false, "/prog", "/cgi/a", 0, 6, 0, 0, "/prog", "/a" },
	{ __LINE__, "program too long", false, "/prog", "/cgi/a", 0, 5, 0, 414, NULL, NULL },

	/* directory mode: /cgi/NAME/rest runs DIR/NAME */
	{ __LINE__, "dir: name and rest", true, "", "/cgi/prog/a/b", 0, 0, 0, 0, "/prog", "/a/b" },
	{ __LINE__, "dir: name only", true, "", "/cgi/prog", 0, 0, 0, 0, "/prog", "" },
	{ __LINE__, "dir: trailing slash", true, "", "/cgi/prog/", 0, 0, 0, 0, "/prog", "/" },
	{ __LINE__, "dir: configured with slash", true, "/", "/cgi/prog/x", 0, 0, 0, 0, "/prog",
	  "/x" },
	{ __LINE__, "dir: encoded name", true, "", "/cgi/pr%6Fg/x%20y", 0, 0, 0, 0, "/prog",
	  "/x y" },
	{ __LINE__, "dir: encoded space in name", true, "", "/cgi/a%20b", 0, 0, 0, 0, "/a b", "" },
	{ __LINE__, "dir: query-like rest", true, "", "/cgi/prog/%3Fq", 0, 0, 0, 0, "/prog", "/?q" },
	{ __LINE__, "dir: /cgi alone", true, "", "/cgi", 0, 0, 0, 404, NULL, NULL },
	{ __LINE__, "dir: /cgi/ alone", true, "", "/cgi/", 0, 0, 0, 404, NULL, NULL },
	{ __LINE__, "dir: empty segment collapses", true, "", "/cgi//prog", 0, 0, 0, 0, "/prog",
	  "" },
	{ __LINE__, "dir: dot segment dropped", true, "", "/cgi/./prog", 0, 0, 0, 0, "/prog", "" },
	{ __LINE__, "dir: dot-dot name", true, "", "/cgi/../prog", 0, 0, 0, 404, NULL, NULL },
	{ __LINE__, "dir: encoded dot-dot", true, "", "/cgi/%2e%2E/prog", 0, 0, 0, 404, NULL, NULL },
	{ __LINE__, "dir: triple dot", true, "", "/cgi/.../x", 0, 0, 0, 404, NULL, NULL },
	{ __LINE__, "dir: encoded slash in name", true, "", "/cgi/sub%2fprog", 0, 0, 0, 404, NULL,
	  NULL },
	{ __LINE__, "dir: dot-dot encoded slash", true, "", "/cgi/..%2fprog", 0, 0, 0, 404, NULL,
	  NULL },
	{ __LINE__, "dir: missing program", true, "", "/cgi/missing/x", 0, 0, 0, 404, NULL, NULL },
	{ __LINE__, "dir: name is a directory", true, "", "/cgi/sub/prog", 0, 0, 0, 404, NULL, NULL },
	{ __LINE__, "dir: encoded NUL in name", true, "", "/cgi/prog%00", 0, 0, 0, 400, NULL, NULL },
	{ __LINE__, "dir: bad escape in name", true, "", "/cgi/%zz/x", 0, 0, 0, 400, NULL, NULL },
	{ __LINE__, "dir: bad escape in rest", true, "", "/cgi/prog/%", 0, 0, 0, 400, NULL, NULL },
	{ __LINE__, "dir: path info too long", true, "", "/cgi/prog/abcd", 0, 0, 5, 414, NULL, NULL },
	{ __LINE__, "dir: program exact fit", true, "", "/cgi/prog", 0, 6, 0, 0, "/prog", "" },
	{ __LINE__, "dir: program too long", true, "", "/cgi/prog", 0, 5, 0, 414, NULL, NULL },
};

static void test_resolve_table(void **state)
{
	struct fixture *f = *state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(RESOLVE_CASES); i++) {
		const struct resolve_case *c = &RESOLVE_CASES[i];
		char cgi_path[PATH_MAX + 16], want_prog[PATH_MAX + 16];
		char program[CGI_PROGRAM_MAX], path_info[CGI_PROGRAM_MAX];
		size_t len = c->len ? c->len : strlen(c->path);
		size_t pcap = c->program_cap ? strlen(f->dir) + c->program_cap : sizeof(program);
		size_t icap = c->path_info_cap ? c->path_info_cap : sizeof(path_info);
		snprintf(cgi_path, sizeof(cgi_path), "%s%s", f->dir, c->cgi_suffix);
		memset(program, 'X', sizeof(program));
		memset(path_info, 'X', sizeof(path_info));
		int st = cgi_resolve(cgi_path, c->dir_mode, c->path, len, program, pcap, path_info,
				     icap);
		if (st != c->status) {
			FAIL_ROW(c->line, c->name, "status %d, want %d", st, c->status);
			continue;
		}
		if (st != 0)
			continue;
		snprintf(want_prog, sizeof(want_prog), "%s%s", f->dir, c->program);
		if (strcmp(program, want_prog) != 0)
			FAIL_ROW(c->line, c->name, "program \"%s\", want \"%s\"", program, want_prog);
		if (strcmp(path_info, c->path_info) != 0)
			FAIL_ROW(c->line, c->name, "path_info \"%s\", want \"%s\"", path_info,
				 c->path_info);
	}
	assert_int_equal(failures, 0);
}

/* ---- cgi_env_build --------------------------------------------------------- */

struct env_case {
	int line;
	const char *name;
	const char *head;
	const char *path_info;
	const char *remote_addr;
	uint16_t remote_port, server_port;
	const char *server_name;
	bool https;
	int64_t content_length;
	const char *expect[32]; /* exactly these, any order, NULL-terminated */
	bool http2;             /* the request came as an HTTP/2 stream */
};

#define ENV_FIXED                                                              \
	"GATEWAY_INTERFACE=CGI/1.1", "SCRIPT_NAME=/cgi", "SERVER_PROTOCOL=HTTP/1.1", \
		"SERVER_SOFTWARE=Liso/1.0", "PATH=/usr/local/bin:/usr/bin:/bin"

static const struct env_case ENV_CASES[] = {
	{ __LINE__, "spec example",
	  "GET /cgi/testfun/a/b?x=y HTTP/1.1\r\n"
	  "Host: example.com:8080\r\n"
	  "User-Agent: curl/8.0\r\n"
	  "Accept: */*\r\n"
	  "Cookie: a=1\r\n"
	  "Cookie: b=2\r\n"
	  "Proxy: http://evil.example/\r\n"
	  "Authorization: Basic Zm9vOmJhcg==\r\n"
	  "\r\n",
	  "/testfun/a/b", "127.0.0.1", 5555, 8080, NULL, false, -1,
	  { ENV_FIXED, "PATH_INFO=/testfun/a/b", "QUERY_STRING=x=y", "REMOTE_ADDR=127.0.0.1",
	    "REMOTE_PORT=5555", "REQUEST_METHOD=GET", "REQUEST_URI=/cgi/testfun/a/b?x=y",
	    "SERVER_NAME=example.com", "SERVER_PORT=8080", "HTTP_HOST=example.com:8080",
	    "HTTP_USER_AGENT=curl/8.0", "HTTP_ACCEPT=*/*", "HTTP_COOKIE=a=1; b=2", NULL }, false },
	{ __LINE__, "POST over TLS with a body",
	  "POST /cgi/form HTTP/1.1\r\n"
	  "Host: [::1]:80\r\n"
	  "Content-Length: 5\r\n"
	  "Content-Type: application/x-www-form-urlencoded\r\n"
	  "Connection: keep-alive\r\n"
	  "\r\n",
	  "/form", "::1", 40000, 443, NULL, true, 5,
	  { ENV_FIXED, "CONTENT_LENGTH=5", "CONTENT_TYPE=application/x-www-form-urlencoded",
	    "HTTPS=on", "PATH_INFO=/form", "QUERY_STRING=", "REMOTE_ADDR=::1", "REMOTE_PORT=40000",
	    "REQUEST_METHOD=POST", "REQUEST_URI=/cgi/form", "SERVER_NAME=[::1]", "SERVER_PORT=443",
	    "HTTP_HOST=[::1]:80", "HTTP_CONNECTION=keep-alive", NULL }, false },
	{ __LINE__, "HTTP/1.0 without Host",
	  "GET /cgi HTTP/1.0\r\n\r\n",
	  "", "10.1.2.3", 1, 80, NULL, false, -1,
	  { ENV_FIXED, "PATH_INFO=", "QUERY_STRING=", "REMOTE_ADDR=10.1.2.3", "REMOTE_PORT=1",
	    "REQUEST_METHOD=GET", "REQUEST_URI=/cgi", "SERVER_NAME=localhost", "SERVER_PORT=80",
	    NULL }, false },
	{ __LINE__, "configured server name wins",
	  "HEAD /cgi/x HTTP/1.1\r\nHost: other.example\r\n\r\n",
	  "/x", "192.0.2.1", 65535, 8443, "lisod.test", true, -1,
	  { ENV_FIXED, "HTTPS=on", "PATH_INFO=/x", "QUERY_STRING=", "REMOTE_ADDR=192.0.2.1",
	    "REMOTE_PORT=65535", "REQUEST_METHOD=HEAD", "REQUEST_URI=/cgi/x",
	    "SERVER_NAME=lisod.test", "SERVER_PORT=8443", "HTTP_HOST=other.example", NULL }, false },
	{ __LINE__, "every header the spec names",
	  "GET /cgi/h HTTP/1.1\r\n"
	  "Host: example.com\r\n"
	  "Accept: text/html\r\n"
	  "Referer: http://r.example/\r\n"
	  "Accept-Encoding: gzip\r\n"
	  "Accept-Language: en\r\n"
	  "Accept-Charset: utf-8\r\n"
	  "Cookie: k=v\r\n"
	  "User-Agent: Mozilla/5.0 (X11)\r\n"
	  "Connection: close\r\n"
	  "\r\n",
	  "/h", "127.0.0.1", 2, 8080, NULL, false, -1,
	  { ENV_FIXED, "PATH_INFO=/h", "QUERY_STRING=", "REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=2",
	    "REQUEST_METHOD=GET", "REQUEST_URI=/cgi/h", "SERVER_NAME=example.com",
	    "SERVER_PORT=8080", "HTTP_HOST=example.com", "HTTP_ACCEPT=text/html",
	    "HTTP_REFERER=http://r.example/", "HTTP_ACCEPT_ENCODING=gzip",
	    "HTTP_ACCEPT_LANGUAGE=en", "HTTP_ACCEPT_CHARSET=utf-8", "HTTP_COOKIE=k=v",
	    "HTTP_USER_AGENT=Mozilla/5.0 (X11)", "HTTP_CONNECTION=close", NULL }, false },
	{ __LINE__, "names: collisions, duplicates, exclusions",
	  "GET /cgi/n?a=%20b&c HTTP/1.1\r\n"
	  "Host: 10.0.0.1:81\r\n"
	  "X_Foo: underscore\r\n"
	  "X-Foo: dash\r\n"
	  "Accept: a\r\n"
	  "accept: b\r\n"
	  "ACCEPT: c\r\n"
	  "Proxy: x\r\n"
	  "proxy: y\r\n"
	  "Content-Length: 0\r\n"
	  "AUTHORIZATION: Bearer t\r\n"
	  "X.Dot: 1\r\n"
	  "X-Empty:\r\n"
	  "\r\n",
	  "/n", "127.0.0.1", 3, 81, NULL, false, 0,
	  { ENV_FIXED, "CONTENT_LENGTH=0", "PATH_INFO=/n", "QUERY_STRING=a=%20b&c",
	    "REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=3", "REQUEST_METHOD=GET",
	    "REQUEST_URI=/cgi/n?a=%20b&c", "SERVER_NAME=10.0.0.1", "SERVER_PORT=81",
	    "HTTP_HOST=10.0.0.1:81", "HTTP_X_FOO=dash", "HTTP_ACCEPT=a, b, c", "HTTP_X_EMPTY=",
	    NULL }, false },
	{ __LINE__, "chunked body: no CONTENT_LENGTH",
	  "POST /cgi/up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	  "Content-Type: text/plain\r\n\r\n",
	  "/up", "127.0.0.1", 4, 80, NULL, false, -1,
	  { ENV_FIXED, "CONTENT_TYPE=text/plain", "PATH_INFO=/up", "QUERY_STRING=",
	    "REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=4", "REQUEST_METHOD=POST",
	    "REQUEST_URI=/cgi/up", "SERVER_NAME=h", "SERVER_PORT=80", "HTTP_HOST=h",
	    "HTTP_TRANSFER_ENCODING=chunked", NULL }, false },
	{ __LINE__, "an HTTP/2 stream: HTTP/2.0, and none of the framing h2.c wrote",
	  "POST /cgi/s HTTP/1.1\r\nhost: h\r\ncookie: a=1; b=2\r\n"
	  "transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
	  "/s", "127.0.0.1", 6, 443, NULL, true, -1,
	  { "GATEWAY_INTERFACE=CGI/1.1", "SCRIPT_NAME=/cgi", "SERVER_PROTOCOL=HTTP/2.0",
	    "SERVER_SOFTWARE=Liso/1.0", "PATH=/usr/local/bin:/usr/bin:/bin", "HTTPS=on",
	    "PATH_INFO=/s", "QUERY_STRING=", "REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=6",
	    "REQUEST_METHOD=POST", "REQUEST_URI=/cgi/s", "SERVER_NAME=h", "SERVER_PORT=443",
	    "HTTP_HOST=h", "HTTP_COOKIE=a=1; b=2", NULL },
	  true },
	{ __LINE__, "empty query, IPv6 Host without port",
	  "GET /cgi/? HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n",
	  "/", "2001:db8::2", 5, 80, NULL, false, -1,
	  { ENV_FIXED, "PATH_INFO=/", "QUERY_STRING=", "REMOTE_ADDR=2001:db8::2",
	    "REMOTE_PORT=5", "REQUEST_METHOD=GET", "REQUEST_URI=/cgi/?",
	    "SERVER_NAME=[2001:db8::1]", "SERVER_PORT=80", "HTTP_HOST=[2001:db8::1]", NULL }, false },
};

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; env[i] != NULL; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

static int parse_head(const char *raw, struct http_request *req)
{
	return http_head_parse(raw, strlen(raw), 0, req);
}

static void test_env_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(ENV_CASES); i++) {
		const struct env_case *c = &ENV_CASES[i];
		struct http_request req;
		int st = parse_head(c->head, &req);
		if (st != 0) {
			FAIL_ROW(c->line, c->name, "http_head_parse %d", st);
			continue;
		}
		struct cgi_env_input in = {
			.req = &req,
			.path_info = c->path_info,
			.remote_addr = c->remote_addr,
			.remote_port = c->remote_port,
			.server_port = c->server_port,
			.server_name = c->server_name,
			.https = c->https,
			.http2 = c->http2,
			.content_length = c->content_length,
		};
		char **env = cgi_env_build(&in);
		if (env == NULL) {
			FAIL_ROW(c->line, c->name, "cgi_env_build NULL");
			continue;
		}
		size_t have = 0, want = 0;
		while (env[have] != NULL)
			have++;
		while (c->expect[want] != NULL)
			want++;
		for (size_t k = 0; k < want; k++) {
			bool found = false;
			for (size_t j = 0; j < have && !found; j++)
				found = strcmp(env[j], c->expect[k]) == 0;
			if (!found)
				FAIL_ROW(c->line, c->name, "missing \"%s\"", c->expect[k]);
		}
		for (size_t j = 0; j < have; j++) {
			bool found = false;
			for (size_t k = 0; k < want && !found; k++)
				found = strcmp(env[j], c->expect[k]) == 0;
			if (!found)
				FAIL_ROW(c->line, c->name, "unexpected \"%s\"", env[j]);
		}
		if (have != want)
			FAIL_ROW(c->line, c->name, "%zu variables, want %zu", have, want);
		/* Never present unless listed: the spec's explicit exclusions. */
		static const char *const never[] = { "HTTP_PROXY", "HTTP_CONTENT_LENGTH",
						     "HTTP_CONTENT_TYPE", "HTTP_AUTHORIZATION" };
		for (size_t k = 0; k < ARRAY_LEN(never); k++)
			if (env_get(env, never[k]) != NULL)
				FAIL_ROW(c->line, c->name, "%s present", never[k]);
		if (!c->https && env_get(env, "HTTPS") != NULL)
			FAIL_ROW(c->line, c->name, "HTTPS without TLS");
		free(env);
	}
	assert_int_equal(failures, 0);
}

static void test_env_block(void **state)
{
	(void)state;
	struct http_request req;
	const char *head = "GET /cgi HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n";
	assert_int_equal(parse_head(head, &req), 0);
	struct cgi_env_input in = { .req = &req, .path_info = "", .remote_addr = "127.0.0.1",
				    .content_length = -1 };

	/* One block: every string lies after the pointer array, inside it. */
	char **env = cgi_env_build(&in);
	assert_non_null(env);
	size_t n = 0;
	while (env[n] != NULL)
		n++;
	const char *lo = (const char *)(env + n + 1);
	for (size_t i = 0; i < n; i++) {
		assert_true(env[i] >= lo);
		if (i > 0)
			assert_true(env[i] == env[i - 1] + strlen(env[i - 1]) + 1);
	}
	assert_string_equal(env_get(env, "SERVER_PORT"), "0");
	assert_string_equal(env_get(env, "HTTP_X_A"), "1");
	free(env);

	/* Over 256 KiB in total: NULL. */
	enum { BIG = 300 * 1024 };
	char *pi = malloc(BIG + 1);
	assert_non_null(pi);
	memset(pi, 'a', BIG);
	pi[BIG] = '\0';
	in.path_info = pi;
	errno = 0;
	assert_null(cgi_env_build(&in));
	assert_int_equal(errno, E2BIG);
	/* Just under the limit still builds. */
	pi[200 * 1024] = '\0';
	env = cgi_env_build(&in);
	assert_non_null(env);
	assert_int_equal(strlen(env_get(env, "PATH_INFO")), 200 * 1024);
	free(env);
	free(pi);
}

/* ---- cgi_spawn ------------------------------------------------------------- */

struct run_result {
	char *out;
	size_t out_len;
	char err[4096];
	size_t err_len;
	int status; /* waitpid status */
};

static void check_parent_fd(int fd)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	assert_true(fl >= 0 && (fl & O_NONBLOCK));
	assert_true(fdfl >= 0 && (fdfl & FD_CLOEXEC));
}

/* Feed `in` to the child's stdin, collect stdout/stderr until EOF, reap it. */
static void collect(struct cgi_child *ch, const char *in, size_t in_len, struct run_result *r)
{
	size_t out_cap = 1 << 16, in_off = 0;
	int fin = ch->stdin_fd, fout = ch->stdout_fd, ferr = ch->stderr_fd;

	check_parent_fd(fin);
	check_parent_fd(fout);
	check_parent_fd(ferr);
	memset(r, 0, sizeof(*r));
	r->out = malloc(out_cap);
	assert_non_null(r->out);
	if (in_len == 0) {
		close(fin);
		fin = -1;
	}
	while (fout >= 0 || ferr >= 0) {
		struct pollfd p[3] = {
			{ .fd = fout, .events = POLLIN },
			{ .fd = ferr, .events = POLLIN },
			{ .fd = fin, .events = POLLOUT },
		};
		int n = poll(p, 3, 10000);
		if (n <= 0) {
			kill(-ch->pid, SIGKILL);
			fail_msg("child %d timed out", (int)ch->pid);
		}
		if (fin >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(fin, in + in_off, in_len - in_off);
			if (w > 0)
				in_off += (size_t)w;
			if (w < 0 && errno != EAGAIN) /* EPIPE: the child left */
				in_off = in_len;
			if (in_off == in_len) {
				close(fin);
				fin = -1;
			}
		}
		if (fout >= 0 && p[0].revents) {
			if (r->out_len == out_cap) {
				out_cap *= 2;
				r->out = realloc(r->out, out_cap);
				assert_non_null(r->out);
			}
			ssize_t got = read(fout, r->out + r->out_len, out_cap - r->out_len);
			if (got > 0)
				r->out_len += (size_t)got;
			else if (got == 0 || errno != EAGAIN) {
				close(fout);
				fout = -1;
			}
		}
		if (ferr >= 0 && p[1].revents) {
			char tmp[512];
			ssize_t got = read(ferr, tmp, sizeof(tmp));
			if (got > 0) {
				size_t k = (size_t)got;
				if (k > sizeof(r->err) - 1 - r->err_len)
					k = sizeof(r->err) - 1 - r->err_len;
				memcpy(r->err + r->err_len, tmp, k);
				r->err_len += k;
			} else if (got == 0 || errno != EAGAIN) {
				close(ferr);
				ferr = -1;
			}
		}
	}
	if (fin >= 0)
		close(fin);
	r->err[r->err_len] = '\0';
	assert_int_equal(waitpid(ch->pid, &r->status, 0), ch->pid);
	/* NUL-terminate for string checks */
	r->out = realloc(r->out, r->out_len + 1);
	assert_non_null(r->out);
	r->out[r->out_len] = '\0';
}

static char *const BASE_ENV[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "FOO=bar", NULL };

static void spawn_run(const struct fixture *f, const char *script, char *const envp[],
		      const char *in, size_t in_len, struct run_result *r)
{
	char prog[PATH_MAX + 64];
	struct cgi_child ch;
	snprintf(prog, sizeof(prog), "%s/%s", f->dir, script);
	assert_int_equal(cgi_spawn(prog, envp, &ch), 0);
	assert_true(ch.pid > 0);
	collect(&ch, in, in_len, r);
}

static bool exited_with(int status, int code)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

static void test_spawn_stdio(void **state)
{
	struct fixture *f = *state;
	struct run_result r;

	/* stdin to stdout through cat, larger than any pipe buffer */
	enum { BIG = 256 * 1024 };
	char *in = malloc(BIG);
	assert_non_null(in);
	for (size_t i = 0; i < BIG; i++)
		in[i] = (char)('a' + i % 26);
	spawn_run(f, "cat.sh", BASE_ENV, in, BIG, &r);
	assert_true(exited_with(r.status, 0));
	assert_int_equal(r.out_len, BIG);
	assert_memory_equal(r.out, in, BIG);
	free(r.out);
	free(in);

	/* stderr is its own pipe; the exit status comes through */
	spawn_run(f, "err.sh", BASE_ENV, NULL, 0, &r);
	assert_true(exited_with(r.status, 3));
	assert_string_equal(r.out, "out\n");
	assert_string_equal(r.err, "oops\n");
	free(r.out);

	/* empty stdin: cat sees EOF at once */
	spawn_run(f, "cat.sh", BASE_ENV, NULL, 0, &r);
	assert_true(exited_with(r.status, 0));
	assert_int_equal(r.out_len, 0);
	free(r.out);
}

static void test_spawn_env(void **state)
{
	struct fixture *f = *state;
	struct run_result r;

	assert_int_equal(setenv("LISOD_TEST_LEAK", "1", 1), 0);
	spawn_run(f, "env.sh", BASE_ENV, NULL, 0, &r);
	unsetenv("LISOD_TEST_LEAK");
	assert_true(exited_with(r.status, 0));
	assert_non_null(strstr(r.out, "FOO=bar\n"));
	assert_non_null(strstr(r.out, "PATH=/usr/local/bin:/usr/bin:/bin\n"));
	assert_null(strstr(r.out, "LISOD_TEST_LEAK"));
	free(r.out);

	/* An environment from cgi_env_build reaches the program. */
	struct http_request req;
	assert_int_equal(parse_head("GET /cgi/env.sh/p?q=1 HTTP/1.1\r\nHost: h:1\r\n"
				    "User-Agent: t\r\n\r\n", &req), 0);
	struct cgi_env_input ein = { .req = &req, .path_info = "/p", .remote_addr = "127.0.0.1",
				     .remote_port = 9, .server_port = 1, .content_length = -1 };
	char **env = cgi_env_build(&ein);
	assert_non_null(env);
	spawn_run(f, "env.sh", env, NULL, 0, &r);
	free(env);
	assert_true(exited_with(r.status, 0));
	assert_non_null(strstr(r.out, "QUERY_STRING=q=1\n"));
	assert_non_null(strstr(r.out, "HTTP_USER_AGENT=t\n"));
	assert_non_null(strstr(r.out, "SERVER_NAME=h\n"));
	assert_null(strstr(r.out, "FOO="));
	free(r.out);
}

static void test_spawn_cwd(void **state)
{
	struct fixture *f = *state;
	struct run_result r;
	char want[PATH_MAX + 2];
	snprintf(want, sizeof(want), "%s\n", f->real);

	/* absolute program path */
	spawn_run(f, "pwd.sh", BASE_ENV, NULL, 0, &r);
	assert_true(exited_with(r.status, 0));
	assert_string_equal(r.out, want);
	free(r.out);

	/* relative program path: made absolute before the child's chdir */
	int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(here >= 0);
	char parent[PATH_MAX];
	strcpy(parent, f->dir);
	char *slash = strrchr(parent, '/');
	assert_non_null(slash);
	char rel[PATH_MAX + 16];
	snprintf(rel, sizeof(rel), "%s/pwd.sh", slash + 1);
	*slash = '\0';
	assert_int_equal(chdir(parent[0] ? parent : "/"), 0);
	struct cgi_child ch;
	int rc = cgi_spawn(rel, BASE_ENV, &ch);
	assert_int_equal(fchdir(here), 0);
	close(here);
	assert_int_equal(rc, 0);
	collect(&ch, NULL, 0, &r);
	assert_true(exited_with(r.status, 0));
	assert_string_equal(r.out, want);
	free(r.out);
}

static void test_spawn_fds(void **state)
{
	struct fixture *f = *state;
	struct run_result r;

	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(nul >= 0);
	int cloexec_fd = fcntl(nul, F_DUPFD_CLOEXEC, 100);
	int inherit_fd = fcntl(nul, F_DUPFD, 200);
	assert_true(cloexec_fd >= 100 && inherit_fd >= 200);
	close(nul);

	char prog[PATH_MAX + 64];
	struct cgi_child ch;
	snprintf(prog, sizeof(prog), "%s/fds.sh", f->dir);
	/* Ask about 0-2, the two test descriptors and our ends of the pipes.
	 * (dash keeps the script open at fd 10; leave that number out.) */
	char fds[256];
	int parent_ends[3];
	/* The parent ends are only known after the spawn, so pass them via a
	 * second run: first learn which numbers the next spawn will use. */
	assert_int_equal(cgi_spawn(prog, BASE_ENV, &ch), 0);
	parent_ends[0] = ch.stdin_fd;
	parent_ends[1] = ch.stdout_fd;
	parent_ends[2] = ch.stderr_fd;
	collect(&ch, NULL, 0, &r);
	free(r.out);

	int len = snprintf(fds, sizeof(fds), "FDS=0 1 2 %d %d", cloexec_fd, inherit_fd);
	for (int i = 0; i < 3; i++)
		if (parent_ends[i] != 10)
			len += snprintf(fds + len, sizeof(fds) - (size_t)len, " %d", parent_ends[i]);
	char *envp[] = { BASE_ENV[0], fds, NULL };
	assert_int_equal(cgi_spawn(prog, envp, &ch), 0);
	/* Same descriptor numbers as the first run: nothing else was opened. */
	assert_int_equal(ch.stdin_fd, parent_ends[0]);
	assert_int_equal(ch.stdout_fd, parent_ends[1]);
	assert_int_equal(ch.stderr_fd, parent_ends[2]);
	collect(&ch, NULL, 0, &r);
	assert_true(exited_with(r.status, 0));

	char line[64];
	for (int fd = 0; fd <= 2; fd++) {
		snprintf(line, sizeof(line), "open %d\n", fd);
		assert_non_null(strstr(r.out, line));
	}
	snprintf(line, sizeof(line), "closed %d\n", cloexec_fd);
	assert_non_null(strstr(r.out, line));
	snprintf(line, sizeof(line), "open %d\n", inherit_fd); /* the method sees open fds */
	assert_non_null(strstr(r.out, line));
	for (int i = 0; i < 3; i++) {
		if (parent_ends[i] == 10)
			continue;
		snprintf(line, sizeof(line), "closed %d\n", parent_ends[i]);
		assert_non_null(strstr(r.out, line));
	}
	free(r.out);
	close(cloexec_fd);
	close(inherit_fd);
}

static void test_spawn_signals(void **state)
{
	struct fixture *f = *state;
	struct run_result r;
	sigset_t block, old;

	/* main() ignores SIGPIPE as the server does; also block a signal. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old), 0);
	spawn_run(f, "sig.sh", BASE_ENV, NULL, 0, &r);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	assert_true(exited_with(r.status, 0));
	assert_non_null(strstr(r.out, "SigBlk:\t0000000000000000\n"));
	/* glibc's posix_spawn (2.36) leaves its two internal signals, 32 and 33
	 * (below SIGRTMIN), ignored in every child whatever SETSIGDEF says;
	 * glibc programs reinstall their handlers for them at start-up. Every
	 * other signal, SIGPIPE first, must be at its default. */
	const char *ign = strstr(r.out, "SigIgn:\t");
	assert_non_null(ign);
	unsigned long long mask = strtoull(ign + 8, NULL, 16);
	assert_int_equal(mask & (1ULL << (SIGPIPE - 1)), 0);
	assert_int_equal(mask & ~((1ULL << 31) | (1ULL << 32)), 0);
	free(r.out);

	/* The child leads its own process group. */
	spawn_run(f, "stat.sh", BASE_ENV, NULL, 0, &r);
	assert_true(exited_with(r.status, 0));
	const char *rp = strrchr(r.out, ')');
	assert_non_null(rp);
	char st;
	int ppid, pgrp, pid = atoi(r.out);
	assert_int_equal(sscanf(rp + 1, " %c %d %d", &st, &ppid, &pgrp), 3);
	assert_int_equal(pgrp, pid);
	assert_int_equal(ppid, (int)getpid());
	free(r.out);
}

/* kill(-pid) reaches a grandchild. */
static void test_spawn_group_kill(void **state)
{
	struct fixture *f = *state;
	char prog[PATH_MAX + 64];
	struct cgi_child ch;
	snprintf(prog, sizeof(prog), "%s/tree.sh", f->dir);
	assert_int_equal(cgi_spawn(prog, BASE_ENV, &ch), 0);
	close(ch.stdin_fd);

	char line[64];
	size_t got = 0;
	while (got == 0 || line[got - 1] != '\n') {
		struct pollfd p = { .fd = ch.stdout_fd, .events = POLLIN };
		assert_true(poll(&p, 1, 10000) == 1);
		ssize_t n = read(ch.stdout_fd, line + got, sizeof(line) - 1 - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	line[got] = '\0';
	pid_t grandchild = (pid_t)atoi(line);
	assert_true(grandchild > 0);
	assert_int_equal(kill(-ch.pid, SIGKILL), 0);
	int status;
	assert_int_equal(waitpid(ch.pid, &status, 0), ch.pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* The grandchild dies too (gone, or a zombie until init reaps it). */
	bool dead = false;
	for (int i = 0; i < 200 && !dead; i++) {
		char path[64], buf[256];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)grandchild);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			dead = true;
			break;
		}
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			const char *rp = strrchr(buf, ')');
			if (rp != NULL && (rp[2] == 'Z' || rp[2] == 'X'))
				dead = true;
		}
		if (!dead)
			usleep(10000);
	}
	assert_true(dead);
	/* stdout reaches EOF now that everyone holding it is gone. */
	char tmp[16];
	struct pollfd p = { .fd = ch.stdout_fd, .events = POLLIN };
	assert_true(poll(&p, 1, 10000) == 1);
	assert_int_equal(read(ch.stdout_fd, tmp, sizeof(tmp)), 0);
	close(ch.stdout_fd);
	close(ch.stderr_fd);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* cgi_spawn(prog) must fail with `err`; or, where the libc reports a
 * failed exec through the child (valgrind's emulation does), the child
 * must exit 127 (126 is fine for "not executable"). */
static void expect_spawn_fails(const char *prog, int err)
{
	struct cgi_child ch = { .pid = -7, .stdin_fd = -7, .stdout_fd = -7, .stderr_fd = -7 };
	int before = count_fds();
	errno = 0;
	int rc = cgi_spawn(prog, BASE_ENV, &ch);
	if (rc == 0) {
		struct run_result r;
		collect(&ch, NULL, 0, &r);
		assert_true(exited_with(r.status, 127) || exited_with(r.status, 126));
		free(r.out);
	} else {
		assert_int_equal(rc, -1);
		assert_int_equal(errno, err);
		assert_int_equal(ch.pid, -7); /* untouched on failure */
	}
	assert_int_equal(count_fds(), before);
}

static void test_spawn_failures(void **state)
{
	struct fixture *f = *state;
	char prog[PATH_MAX + 64];

	snprintf(prog, sizeof(prog), "%s/nope", f->dir);
	expect_spawn_fails(prog, ENOENT);
	/* Not executable (root too needs an x bit to exec). */
	snprintf(prog, sizeof(prog), "%s/noexec.sh", f->dir);
	expect_spawn_fails(prog, EACCES);
	snprintf(prog, sizeof(prog), "%s/sub", f->dir);
	expect_spawn_fails(prog, EACCES);
	/* The program's directory is missing: the chdir fails. */
	snprintf(prog, sizeof(prog), "%s/nodir/prog", f->dir);
	expect_spawn_fails(prog, ENOENT);
	/* Empty path: refused before anything is opened. */
	expect_spawn_fails("", ENOENT);
}

/* ---- cgi_head_scan / cgi_head_parse ---------------------------------------- */

enum { SCAN_ALL = -100 }; /* scan returns the whole input length */

struct head_case {
	int line;
	const char *name;
	const char *in;
	size_t len;          /* 0: strlen */
	long scan;           /* SCAN_ALL, a length, 0 (need more) or -1 */
	int parse;           /* on the scanned section (or the whole input when scan <= 0) */
	int status;
	const char *reason;  /* NULL: none */
	const char *ctype, *location;
	int64_t clen;        /* -1: none */
	uint32_t nhdr;
	const char *hname, *hvalue; /* first passed-through field */
};

static const struct head_case HEAD_CASES[] = {
	{ __LINE__, "LF only", "Content-Type: text/html\n\n", 0, SCAN_ALL, 0, 200, NULL,
	  "text/html", NULL, -1, 0, NULL, NULL },
	{ __LINE__, "CRLF", "Content-Type: text/html\r\n\r\n", 0, SCAN_ALL, 0, 200, NULL,
	  "text/html", NULL, -1, 0, NULL, NULL },
	{ __LINE__, "mixed endings", "Content-Type: a/b\r\nX-Y: z\n\r\n", 0, SCAN_ALL, 0, 200, NULL,
	  "a/b", NULL, -1, 1, "X-Y", "z" },
	{ __LINE__, "status with reason", "Status: 404 Nope\r\n\r\n", 0, SCAN_ALL, 0, 404, "Nope",
	  NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "status reason with spaces", "Status: 418 I'm a teapot\r\n\r\n", 0, SCAN_ALL, 0,
	  418, "I'm a teapot", NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "status without reason", "Status: 201\r\n\r\n", 0, SCAN_ALL, 0, 201, NULL, NULL,
	  NULL, -1, 0, NULL, NULL },
	{ __LINE__, "status trailing space", "Status: 201  \r\n\r\n", 0, SCAN_ALL, 0, 201, NULL,
	  NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "status tab before reason", "Status: 404\t Gone away\r\n\r\n", 0, SCAN_ALL, 0,
	  404, "Gone away", NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "status and type", "Status: 201 Created\r\nContent-Type: t/x\r\n\r\n", 0,
	  SCAN_ALL, 0, 201, "Created", "t/x", NULL, -1, 0, NULL, NULL },
	{ __LINE__, "status name case", "STATUS: 500\r\ncontent-type: t/x\r\n\r\n", 0, SCAN_ALL, 0,
	  500, NULL, "t/x", NULL, -1, 0, NULL, NULL },
	{ __LINE__, "status 999", "Status: 999\r\n\r\n", 0, SCAN_ALL, 0, 999, NULL, NULL, NULL, -1,
	  0, NULL, NULL },
	{ __LINE__, "status 100", "Status: 100\r\n\r\n", 0, SCAN_ALL, 0, 100, NULL, NULL, NULL, -1,
	  0, NULL, NULL },
	{ __LINE__, "location alone: 302", "Location: /elsewhere\r\n\r\n", 0, SCAN_ALL, 0, 302,
	  NULL, NULL, "/elsewhere", -1, 0, NULL, NULL },
	{ __LINE__, "location with status", "Location: http://e.example/\r\nStatus: 301\r\n\r\n", 0,
	  SCAN_ALL, 0, 301, NULL, NULL, "http://e.example/", -1, 0, NULL, NULL },
	{ __LINE__, "location and type", "Location: /x\r\nContent-Type: t/h\r\n\r\n", 0, SCAN_ALL,
	  0, 302, NULL, "t/h", "/x", -1, 0, NULL, NULL },
	{ __LINE__, "OWS trimmed", "Content-Type: \t text/plain \t\r\n\r\n", 0, SCAN_ALL, 0, 200,
	  NULL, "text/plain", NULL, -1, 0, NULL, NULL },
	{ __LINE__, "no space after colon", "Content-Type:text/plain\r\n\r\n", 0, SCAN_ALL, 0, 200,
	  NULL, "text/plain", NULL, -1, 0, NULL, NULL },
	{ __LINE__, "body after head", "Content-Type: t/p\r\n\r\nBODY\r\n\r\n", 0, 21, 0, 200, NULL,
	  "t/p", NULL, -1, 0, NULL, NULL },
	{ __LINE__, "content-length", "Content-Length: 12\r\nContent-Type: t/p\r\n\r\n", 0,
	  SCAN_ALL, 0, 200, NULL, "t/p", NULL, 12, 0, NULL, NULL },
	{ __LINE__, "content-length 0", "Status: 204\r\nContent-Length: 0\r\n\r\n", 0, SCAN_ALL, 0,
	  204, NULL, NULL, NULL, 0, 0, NULL, NULL },
	{ __LINE__, "content-length max", "Content-Length: 9223372036854775807\nStatus: 200\n\n", 0,
	  SCAN_ALL, 0, 200, NULL, NULL, NULL, INT64_MAX, 0, NULL, NULL },
	{ __LINE__, "pass-through kept in order",
	  "Set-Cookie: a=1\r\nContent-Type: t/p\r\nX-Powered-By: sh\r\nSet-Cookie: b=2\r\n\r\n", 0,
	  SCAN_ALL, 0, 200, NULL, "t/p", NULL, -1, 3, "Set-Cookie", "a=1" },
	{ __LINE__, "framing and our own fields dropped",
	  "Connection: close\r\nTransfer-Encoding: chunked\r\nKeep-Alive: 5\r\nServer: evil\r\n"
	  "Date: never\r\nUpgrade: h2c\r\nProxy-Connection: x\r\nTE: trailers\r\nTrailer: X\r\n"
	  "Content-Type: t/p\r\nX-Kept: 1\r\n\r\n",
	  0, SCAN_ALL, 0, 200, NULL, "t/p", NULL, -1, 1, "X-Kept", "1" },
	{ __LINE__, "obs-text value", "Content-Type: t/p\r\nX-N: caf\xc3\xa9\r\n\r\n", 0, SCAN_ALL, 0,
	  200, NULL, "t/p", NULL, -1, 1, "X-N", "caf\xc3\xa9" },
	{ __LINE__, "empty other value", "Content-Type: t/p\r\nX-E:\r\n\r\n", 0, SCAN_ALL, 0, 200,
	  NULL, "t/p", NULL, -1, 1, "X-E", "" },

	/* malformed: parse -1 */
	{ __LINE__, "none of the three", "X-Foo: 1\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL, NULL,
	  -1, 0, NULL, NULL },
	{ __LINE__, "only a blank line", "\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL, NULL, -1, 0, NULL,
	  NULL },
	{ __LINE__, "only LF", "\n", 0, SCAN_ALL, -1, 0, NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "no colon", "Content-Type text/html\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL,
	  NULL, -1, 0, NULL, NULL },
	{ __LINE__, "space before colon", "Content-Type : text/html\r\n\r\n", 0, SCAN_ALL, -1, 0,
	  NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "empty name", ": x\r\nContent-Type: t/p\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL,
	  NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "bad name byte", "Content-Type: t/p\r\nX@Y: 1\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL,
	  NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "obs-fold", "Content-Type: t/p\r\n x\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL,
	  NULL, -1, 0, NULL, NULL },
	{ __LINE__, "status letters", "Status: abc\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL, NULL,
	  -1, 0, NULL, NULL },
	{ __LINE__, "status two digits", "Status: 99\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL, NULL,
	  -1, 0, NULL, NULL },
	{ __LINE__, "status below 100", "Status: 099\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL, NULL,
	  -1, 0, NULL, NULL },
	{ __LINE__, "status four digits", "Status: 2000\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL,
	  NULL, -1, 0, NULL, NULL },
	{ __LINE__, "status glued reason", "Status: 200OK\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL,
	  NULL, -1, 0, NULL, NULL },
	{ __LINE__, "status empty", "Status:\r\nContent-Type: t/p\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL,
	  NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "status signed", "Status: +200\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL, NULL,
	  -1, 0, NULL, NULL },
	{ __LINE__, "status twice", "Status: 200\r\nStatus: 404\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL,
	  NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "type twice", "Content-Type: a/b\r\nContent-Type: c/d\r\n\r\n", 0, SCAN_ALL, -1,
	  0, NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "empty location", "Location:\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL, NULL, -1,
	  0, NULL, NULL },
	{ __LINE__, "negative length", "Content-Type: t/p\r\nContent-Length: -1\r\n\r\n", 0,
	  SCAN_ALL, -1, 0, NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "length junk", "Content-Type: t/p\r\nContent-Length: 1x\r\n\r\n", 0, SCAN_ALL,
	  -1, 0, NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "length list", "Content-Type: t/p\r\nContent-Length: 5, 5\r\n\r\n", 0, SCAN_ALL,
	  -1, 0, NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "length empty", "Content-Type: t/p\r\nContent-Length:\r\n\r\n", 0, SCAN_ALL, -1,
	  0, NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "length overflow",
	  "Content-Type: t/p\r\nContent-Length: 9223372036854775808\r\n\r\n", 0, SCAN_ALL, -1, 0,
	  NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "length twice", "Content-Type: t/p\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	  0, SCAN_ALL, -1, 0, NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "CR inside value", "Content-Type: a\rb\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL,
	  NULL, -1, 0, NULL, NULL },
	{ __LINE__, "CR inside other value", "Content-Type: t/p\r\nX: a\rSet-Cookie: x\r\n\r\n", 0,
	  SCAN_ALL, -1, 0, NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "CR CR LF", "Content-Type: t/p\r\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL, NULL,
	  -1, 0, NULL, NULL },
	{ __LINE__, "control byte in value", "Content-Type: t/p\x01\r\n\r\n", 0, SCAN_ALL, -1, 0,
	  NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "DEL in value", "Content-Type: t/p\x7f\r\n\r\n", 0, SCAN_ALL, -1, 0, NULL, NULL,
	  NULL, -1, 0, NULL, NULL },

	/* scanning */
	{ __LINE__, "NUL in a line", "Content-Type: a\0b\r\n\r\n", 21, -1, -1, 0, NULL, NULL, NULL,
	  -1, 0, NULL, NULL },
	{ __LINE__, "NUL in a partial line", "Content-Type: a\0", 16, -1, -1, 0, NULL, NULL, NULL,
	  -1, 0, NULL, NULL },
	{ __LINE__, "NUL after the head is body", "Status: 200\n\n\0", 14, 13, 0, 200, NULL, NULL,
	  NULL, -1, 0, NULL, NULL },
	{ __LINE__, "empty input", "", 0, 0, -1, 0, NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "no blank line yet", "Content-Type: text/html\r\n", 0, 0, -1, 0, NULL, NULL, NULL,
	  -1, 0, NULL, NULL },
	{ __LINE__, "half a line", "Content-Ty", 0, 0, -1, 0, NULL, NULL, NULL, -1, 0, NULL, NULL },
	{ __LINE__, "CR awaiting LF", "Content-Type: t/p\r\n\r", 0, 0, -1, 0, NULL, NULL, NULL, -1, 0,
	  NULL, NULL },
};

static void check_head(const struct head_case *c, const char *buf, size_t len, int *fails)
{
	int failures = 0;
	long want_scan = c->scan == SCAN_ALL ? (long)len : c->scan;
	long scan = cgi_head_scan(buf, len);
	if (scan != want_scan)
		FAIL_ROW(c->line, c->name, "scan %ld, want %ld", scan, want_scan);
	/* Every prefix: need more, or already the final answer. */
	for (size_t k = 0; k < len; k++) {
		long s = cgi_head_scan(buf, k);
		if (s != 0 && s != want_scan) {
			FAIL_ROW(c->line, c->name, "prefix %zu: scan %ld", k, s);
			break;
		}
	}
	struct cgi_head h;
	size_t plen = want_scan > 0 ? (size_t)want_scan : len;
	int p = cgi_head_parse(buf, plen, &h);
	if (p != c->parse) {
		FAIL_ROW(c->line, c->name, "parse %d, want %d", p, c->parse);
	} else if (p == 0) {
		if (h.status != c->status)
			FAIL_ROW(c->line, c->name, "status %d, want %d", h.status, c->status);
		if (c->reason == NULL && h.reason.len != 0)
			FAIL_ROW(c->line, c->name, "reason \"%.*s\", want none", (int)h.reason.len,
				 h.reason.p);
		if (c->reason != NULL && (h.reason.len != strlen(c->reason) ||
					  memcmp(h.reason.p, c->reason, h.reason.len) != 0))
			FAIL_ROW(c->line, c->name, "reason \"%.*s\"", (int)h.reason.len, h.reason.p);
		if ((c->ctype == NULL) != (h.content_type.p == NULL) ||
		    (c->ctype && (h.content_type.len != strlen(c->ctype) ||
				  memcmp(h.content_type.p, c->ctype, h.content_type.len) != 0)))
			FAIL_ROW(c->line, c->name, "content type \"%.*s\"", (int)h.content_type.len,
				 h.content_type.p ? h.content_type.p : "");
		if ((c->location == NULL) != (h.location.p == NULL) ||
		    (c->location && (h.location.len != strlen(c->location) ||
				     memcmp(h.location.p, c->location, h.location.len) != 0)))
			FAIL_ROW(c->line, c->name, "location \"%.*s\"", (int)h.location.len,
				 h.location.p ? h.location.p : "");
		if (h.has_content_length != (c->clen >= 0) ||
		    (c->clen >= 0 && h.content_length != (uint64_t)c->clen))
			FAIL_ROW(c->line, c->name, "content length");
		if (h.header_count != c->nhdr)
			FAIL_ROW(c->line, c->name, "%u fields, want %u", h.header_count, c->nhdr);
		else if (c->nhdr > 0 &&
			 (h.headers[0].name.len != strlen(c->hname) ||
			  memcmp(h.headers[0].name.p, c->hname, h.headers[0].name.len) != 0 ||
			  h.headers[0].value.len != strlen(c->hvalue) ||
			  memcmp(h.headers[0].value.p, c->hvalue, h.headers[0].value.len) != 0))
			FAIL_ROW(c->line, c->name, "first field \"%.*s: %.*s\"",
				 (int)h.headers[0].name.len, h.headers[0].name.p,
				 (int)h.headers[0].value.len, h.headers[0].value.p);
	}
	*fails += failures;
}

static void test_head_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(HEAD_CASES); i++) {
		const struct head_case *c = &HEAD_CASES[i];
		size_t len = c->len ? c->len : strlen(c->in);
		/* An exact-size heap copy, so ASan sees any read past the end. */
		char *copy = malloc(len ? len : 1);
		assert_non_null(copy);
		memcpy(copy, c->in, len);
		check_head(c, copy, len, &failures);
		free(copy);
	}
	assert_int_equal(failures, 0);
}

static void test_head_limits(void **state)
{
	(void)state;
	enum { MAX = 8192, N = MAX + 64 };
	char *b = malloc(N + 64);
	struct cgi_head h;
	assert_non_null(b);

	/* A line of exactly 8192 bytes is fine, with LF or CRLF. */
	memcpy(b, "X-Long: ", 8);
	memset(b + 8, 'v', MAX - 8);
	memcpy(b + MAX, "\r\nStatus: 200\r\n\r\n", 17);
	assert_int_equal(cgi_head_scan(b, MAX + 17), MAX + 17);
	assert_int_equal(cgi_head_parse(b, MAX + 17, &h), 0);
	assert_int_equal(h.headers[0].value.len, MAX - 8);
	memcpy(b + MAX, "\nStatus: 200\n\n", 14);
	assert_int_equal(cgi_head_scan(b, MAX + 14), MAX + 14);
	assert_int_equal(cgi_head_parse(b, MAX + 14, &h), 0);
	/* 8192 bytes and a CR: still waiting for the LF. */
	b[MAX] = '\r';
	assert_int_equal(cgi_head_scan(b, MAX + 1), 0);
	/* 8193 bytes: never valid, whether the line has ended or not. */
	b[MAX] = 'v';
	assert_int_equal(cgi_head_scan(b, MAX + 1), -1);
	memcpy(b + MAX + 1, "\r\nStatus: 200\r\n\r\n", 17);
	assert_int_equal(cgi_head_scan(b, MAX + 18), -1);
	assert_int_equal(cgi_head_parse(b, MAX + 18, &h), -1);
	b[MAX + 1] = '\n';
	assert_int_equal(cgi_head_scan(b, MAX + 2), -1);
	/* A partial line of 8192 bytes is only waiting. */
	assert_int_equal(cgi_head_scan(b, MAX), 0);
	free(b);

	/* CGI_HEADERS_MAX passed-through fields fit; one more does not. */
	char *many = malloc((CGI_HEADERS_MAX + 2) * 16 + 32);
	assert_non_null(many);
	size_t off = 0;
	off += (size_t)sprintf(many + off, "Status: 200\r\n");
	for (int i = 0; i < CGI_HEADERS_MAX; i++)
		off += (size_t)sprintf(many + off, "X-%d: v\r\n", i);
	size_t end_fit = off;
	memcpy(many + off, "\r\n", 2);
	assert_int_equal(cgi_head_parse(many, off + 2, &h), 0);
	assert_int_equal(h.header_count, CGI_HEADERS_MAX);
	off = end_fit + (size_t)sprintf(many + end_fit, "X-last: v\r\n\r\n");
	assert_int_equal(cgi_head_scan(many, off), (long)off);
	assert_int_equal(cgi_head_parse(many, off, &h), -1);
	/* Parse insists on exactly one complete section. */
	assert_int_equal(cgi_head_parse("Status: 200\r\n", 13, &h), -1);
	assert_int_equal(cgi_head_parse("Status: 200\r\n\r\nx", 16, &h), -1);
	free(many);
}

/* ---- cgi_head_write -------------------------------------------------------- */

#define DATE_LINE "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"

struct write_case {
	int line;
	const char *name;
	const char *cgi;   /* the program's header section */
	bool keep_alive, chunked;
	const char *want;
};

static const struct write_case WRITE_CASES[] = {
	{ __LINE__, "status, reason, fields, length",
	  "Status: 404 Nope\r\nX-A: 1\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n"
	  "Connection: close\r\nSet-Cookie: s=1\r\n\r\n",
	  true, false,
	  "HTTP/1.1 404 Nope\r\nServer: Liso/1.0\r\n" DATE_LINE
	  "X-A: 1\r\nSet-Cookie: s=1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
	  "Connection: keep-alive\r\n\r\n" },
	{ __LINE__, "location: 302 Found, chunked",
	  "Location: /x\n\n", true, true,
	  "HTTP/1.1 302 Found\r\nServer: Liso/1.0\r\n" DATE_LINE
	  "Transfer-Encoding: chunked\r\nLocation: /x\r\nConnection: keep-alive\r\n\r\n" },
	{ __LINE__, "type only, close",
	  "Content-Type: text/html\n\n", false, false,
	  "HTTP/1.1 200 OK\r\nServer: Liso/1.0\r\n" DATE_LINE
	  "Content-Type: text/html\r\nConnection: close\r\n\r\n" },
	{ __LINE__, "chunked wins over length",
	  "Content-Type: a/b\r\nContent-Length: 7\r\n\r\n", true, true,
	  "HTTP/1.1 200 OK\r\nServer: Liso/1.0\r\n" DATE_LINE
	  "Content-Type: a/b\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n" },
	{ __LINE__, "status without reason uses our table",
	  "Status: 500\r\nContent-Type: a/b\r\nLocation: /y\r\n\r\n", false, false,
	  "HTTP/1.1 500 Internal Server Error\r\nServer: Liso/1.0\r\n" DATE_LINE
	  "Content-Type: a/b\r\nLocation: /y\r\nConnection: close\r\n\r\n" },
	{ __LINE__, "unknown status",
	  "Status: 299\r\n\r\n", false, false,
	  "HTTP/1.1 299 Unknown\r\nServer: Liso/1.0\r\n" DATE_LINE "Connection: close\r\n\r\n" },
};

static void test_head_write(void **state)
{
	(void)state;
	int failures = 0;
	struct http_date_cache date = { .sec = 0 };
	strcpy(date.line, DATE_LINE);
	date.len = (uint32_t)strlen(DATE_LINE);

	for (size_t i = 0; i < ARRAY_LEN(WRITE_CASES); i++) {
		const struct write_case *c = &WRITE_CASES[i];
		struct cgi_head h;
		if (cgi_head_parse(c->cgi, strlen(c->cgi), &h) != 0) {
			FAIL_ROW(c->line, c->name, "parse failed");
			continue;
		}
		size_t want = strlen(c->want);
		char *mem = malloc(want + 8);
		assert_non_null(mem);
		/* Every capacity too small: -1 and nothing written. */
		for (size_t cap = 0; cap <= want; cap++) {
			memcpy(mem, "PRE", 3);
			struct buf b = { .data = mem, .rpos = 0, .wpos = 3, .cap = (uint32_t)(cap + 3) };
			int rc = cgi_head_write(&b, &h, c->keep_alive, c->chunked, &date);
			if (cap < want && (rc != -1 || b.wpos != 3)) {
				FAIL_ROW(c->line, c->name, "cap %zu: rc %d wpos %u", cap, rc, b.wpos);
				break;
			}
			/* An exact fit succeeds. */
			if (cap == want &&
			    (rc != 0 || b.wpos != want + 3 || memcmp(mem + 3, c->want, want) != 0))
				FAIL_ROW(c->line, c->name, "exact cap: rc %d, wrong output", rc);
		}
		struct buf b = { .data = mem, .rpos = 0, .wpos = 0, .cap = (uint32_t)(want + 8) };
		if (cgi_head_write(&b, &h, c->keep_alive, c->chunked, &date) != 0) {
			FAIL_ROW(c->line, c->name, "write failed");
		} else if (b.wpos != want || memcmp(mem, c->want, want) != 0) {
			FAIL_ROW(c->line, c->name, "got\n%.*s\nwant\n%s", (int)b.wpos, mem, c->want);
		}
		free(mem);
	}
	assert_int_equal(failures, 0);
}

int main(void)
{
	/* As the server does: the child must not inherit this. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_cgi_path),
		cmocka_unit_test(test_is_cgi_target),
		cmocka_unit_test_setup_teardown(test_resolve_table, fixture_setup, fixture_teardown),
		cmocka_unit_test(test_env_table),
		cmocka_unit_test(test_env_block),
		cmocka_unit_test_setup_teardown(test_spawn_stdio, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spawn_env, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spawn_cwd, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spawn_fds, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spawn_signals, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spawn_group_kill, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spawn_failures, fixture_setup, fixture_teardown),
		cmocka_unit_test(test_head_table),
		cmocka_unit_test(test_head_limits),
		cmocka_unit_test(test_head_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
