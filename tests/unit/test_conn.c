/*
 * Unit tests for the connection core (conn.c, conn_cgi.c), driven in
 * memory: a real worker (loop, open-file cache, a small document root, a
 * CGI directory), connections started over the fake transport
 * (fake_transport.h), events delivered by hand, timers fired by hand.
 *
 * The table rows are {line, name, what the client sends, what it must get:
 * the statuses in order, whether the connection stays (and in which state)
 * or ends}. Every row also runs with the input split at every byte, one
 * read per byte, and must give the same answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <zlib.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "config.h"
#include "conn.h"
#include "conn_priv.h"
#include "fake_transport.h"
#include "log.h"
#include "worker.h"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_conn.c:%d: %s: ", (line), (name));           \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the fixture: a worker around a small document root ------------------- */

static char dir[64];
static struct config cfg;
static struct worker w;
static struct log *wlog;

static void put_file(const char *rel, const char *content, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	fclose(f);
}

static void put_script(const char *name, const char *text)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "cgi/%s", name);
	put_file(rel, text, strlen(text));
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(chmod(path, 0755), 0);
}

enum { BIG_BYTES = 100000 };

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/lisod-test-conn-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/www", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/www/sub", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/cgi", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	put_file("www/index.html", "hello\n", 6);
	put_file("www/sub/index.html", "sub\n", 4);
	put_file("www/old.txt", "old file\n", 9);
	struct utimbuf old = { 1577836800, 1577836800 }; /* 2020-01-01 */
	snprintf(path, sizeof(path), "%s/www/old.txt", dir);
	assert_int_equal(utime(path, &old), 0);
	char *big = malloc(BIG_BYTES);
	assert_non_null(big);
	for (int i = 0; i < BIG_BYTES; i++)
		big[i] = (char)('a' + i % 26);
	put_file("www/big.bin", big, BIG_BYTES);
	/* Letters from a fixed LCG: text that gzip shrinks to about 60 %, so its
	 * compressed form is bigger than an output buffer (sent from memory). */
	uint32_t x = 1;
	for (int i = 0; i < BIG_BYTES; i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (char)('a' + (x >> 16) % 26);
	}
	put_file("www/noise.txt", big, BIG_BYTES);
	free(big);
	put_file("www/.env", "SECRET\n", 7);
	put_script("hello", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nContent-Length: 5\\r\\n\\r\\nhello'\n");
	put_script("echo", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nexec cat\n");
	put_script("noread", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nContent-Length: 2\\r\\n\\r\\nok'\n");

	static char root[128], cgi[128], logpath[128];
	snprintf(root, sizeof(root), "%s/www", dir);
	snprintf(cgi, sizeof(cgi), "%s/cgi", dir);
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	/* Parsed, not poked into the struct: the sites are made from these. */
	char *argv[] = { "lisod", "--root", root, "--cgi", cgi, "--max-body", "1000", NULL };
	FILE *null = fopen("/dev/null", "w");
	assert_int_equal(config_parse(&cfg, 7, argv, null, null), CONFIG_OK);
	fclose(null);
	wlog = log_new(logpath, "off", LOG_LVL_ERR);
	assert_non_null(wlog);
	struct worker_setup ws = { .cfg = &cfg, .log = wlog, .sigfd = -1 };
	assert_int_equal(worker_init(&w, &ws), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	worker_fini(&w);
	config_free(&cfg);
	log_free(wlog);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ---- driving one connection ------------------------------------------------- */

struct drive {
	struct fake_io io;
	struct conn *c;
};

static void drive_start(struct drive *d)
{
	fake_reset(&d->io);
	struct sockaddr_storage peer = { .ss_family = AF_INET };
	d->c = conn_new(&w, -1, &peer, sizeof(peer), 8080);
	assert_non_null(d->c);
}

/* Deliver an edge, then run whatever the connection posted for later
 * (it stops at its I/O budget per wakeup). */
static void drive_event(struct drive *d, uint32_t events)
{
	if (!d->io.freed)
		d->c->watch.fn(w.loop, &d->c->watch, events);
	for (int i = 0; i < 10000 && !d->io.freed && d->c->watch.posted; i++)
		loop_run_once(w.loop, 0);
}

static void drive_begin(struct drive *d)
{
	assert_int_equal(conn_start(d->c, &fake_transport_ops, &d->io), 0);
	for (int i = 0; i < 10000 && !d->io.freed && d->c->watch.posted; i++)
		loop_run_once(w.loop, 0);
}

/* Fire the connection's current timer as the loop would. */
static void drive_timeout(struct drive *d)
{
	if (d->io.freed)
		return;
	struct timer *t = &d->c->timer;
	timer_disarm(t);
	t->fn(w.loop, t);
	for (int i = 0; i < 10000 && !d->io.freed && d->c->watch.posted; i++)
		loop_run_once(w.loop, 0);
}

/* Run the loop (CGI pipes) until cond or about 5 s. */
static void drive_until(struct drive *d, bool (*cond)(struct drive *))
{
	for (int i = 0; i < 5000 && !d->io.freed && !cond(d); i++)
		loop_run_once(w.loop, 1);
}

static void drive_end(struct drive *d)
{
	if (!d->io.freed)
		conn_close_all(&w); /* the only connection */
	loop_run_once(w.loop, 0); /* its batch: recycled */
	free(d->io.out);
	d->io.out = NULL;
}

/* ---- the table -------------------------------------------------------------- */

/* END_QUIET: closed at once after the last answer, without a FIN first
 * (shutdown): nothing of the client's was left unread (conn_finish).
 * END_LINGER_WHOLE: bytes follow the last request; given whole, they are
 * there when it is answered: END_LINGER. Byte by byte they arrive after
 * the answer, when nothing was unread: END_QUIET. */
enum end { END_OPEN, END_LINGER, END_CLOSED, END_QUIET, END_LINGER_WHOLE };
enum act { ACT_NONE, ACT_TIMEOUT, ACT_EOF };

struct conn_case {
	int line;
	const char *name;
	const char *input[8];      /* chunks the client sends, in order */
	enum act then;             /* after the input */
	const char *statuses;      /* e.g. "200 200 100 200"; 'h' after one: a HEAD answer */
	enum end end;
	enum conn_state state;     /* END_OPEN: the state it waits in */
	const char *contains;      /* the output contains this, if not NULL */
};

#define H "Host: x\r\n"
#define GET(p) "GET " p " HTTP/1.1\r\n" H "\r\n"
static char long_target[8300], long_field[8300];

static const struct conn_case CASES[] = {
	{ __LINE__, "keep-alive", { GET("/index.html") }, ACT_NONE, "200", END_OPEN, CONN_IDLE,
	  "\r\n\r\nhello\n" },
	{ __LINE__, "Connection: close", { "GET /index.html HTTP/1.1\r\n" H "Connection: close\r\n\r\n" },
	  ACT_NONE, "200", END_QUIET, 0, "Connection: close\r\n" },
	{ __LINE__, "HTTP/1.0 closes", { "GET /index.html HTTP/1.0\r\n\r\n" }, ACT_NONE, "200",
	  END_QUIET, 0, NULL },
	{ __LINE__, "bytes behind the last request: linger", { "GET /index.html HTTP/1.0\r\n\r\njunk" },
	  ACT_NONE, "200", END_LINGER_WHOLE, 0, NULL },
	{ __LINE__, "a request behind Connection: close: linger", { "GET /index.html HTTP/1.1\r\n" H
	  "Connection: close\r\n\r\n" GET("/old.txt") }, ACT_NONE, "200", END_LINGER_WHOLE, 0, NULL },
	{ __LINE__, "POST read whole, then close at once", { "POST /index.html HTTP/1.0\r\n"
	  "Content-Length: 5\r\n\r\n", "hello" }, ACT_NONE, "200", END_QUIET, 0, NULL },
	{ __LINE__, "HTTP/1.0 keep-alive", { "GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" },
	  ACT_NONE, "200", END_OPEN, CONN_IDLE, "Connection: keep-alive\r\n" },
	{ __LINE__, "pipelined in one chunk", { GET("/index.html") GET("/old.txt") GET("/missing") },
	  ACT_NONE, "200 200 404", END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "pipelined across chunks", { GET("/index.html") "GET /old", ".txt HTTP/1.1\r\n" H "\r\n" },
	  ACT_NONE, "200 200", END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "incomplete head waits", { "GET /index.html HTTP/1.1\r\nHo" }, ACT_NONE, "",
	  END_OPEN, CONN_READ_HEAD, NULL },
	{ __LINE__, "408 for a stalled head", { "GET /index.html HTTP/1.1\r\nHo" }, ACT_TIMEOUT, "408",
	  END_LINGER, 0, NULL },
	{ __LINE__, "idle timeout closes silently", { GET("/index.html") }, ACT_TIMEOUT, "200",
	  END_CLOSED, 0, NULL },
	{ __LINE__, "411 POST without length", { "POST /index.html HTTP/1.1\r\n" H "\r\n" GET("/old.txt") },
	  ACT_NONE, "411 200", END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "413 over --max-body", { "POST /index.html HTTP/1.1\r\n" H "Content-Length: 5000\r\n\r\n" },
	  ACT_NONE, "413", END_LINGER, 0, NULL },
	{ __LINE__, "POST body read and dropped", { "POST /index.html HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\n",
	  "hel", "lo" GET("/old.txt") }, ACT_NONE, "200 200", END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "chunked body", { "POST /index.html HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
	  "5\r\nhello\r\n0\r\n\r\n" GET("/old.txt") }, ACT_NONE, "200 200", END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "bad chunk: 400 and close", { "POST /index.html HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
	  "zz\r\n" GET("/old.txt") }, ACT_NONE, "400", END_LINGER, 0, NULL },
	{ __LINE__, "408 for a stalled body", { "POST /index.html HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nab" },
	  ACT_TIMEOUT, "408", END_LINGER, 0, NULL },
	{ __LINE__, "Expect: 100-continue", { "POST /index.html HTTP/1.1\r\n" H "Expect: 100-continue\r\n"
	  "Content-Length: 5\r\n\r\n", "hello" }, ACT_NONE, "100 200", END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "414", { long_target }, ACT_NONE, "414", END_LINGER, 0, NULL },
	{ __LINE__, "431", { long_field }, ACT_NONE, "431", END_LINGER, 0, NULL },
	{ __LINE__, "400 with known end goes on", { "GET /index.html HTTP/1.1\r\n" H "X-A b\r\n\r\n" GET("/old.txt") },
	  ACT_NONE, "400 200", END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "bare CR: 400 at once", { "GET /index.html HTTP/1.1\r\nHost: x\rY" }, ACT_NONE, "400",
	  END_LINGER, 0, NULL },
	{ __LINE__, "501 before the file lookup", { "BREW /missing HTTP/1.1\r\n" H "\r\n" GET("/old.txt") },
	  ACT_NONE, "501 200", END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "505 closes", { "GET /index.html HTTP/2.0\r\n" H "\r\n" }, ACT_NONE, "505", END_LINGER,
	  0, NULL },
	{ __LINE__, "HEAD: the head, no body", { "HEAD /index.html HTTP/1.1\r\n" H "\r\n" GET("/old.txt") },
	  ACT_NONE, "200h 200", END_OPEN, CONN_IDLE, "Content-Length: 6\r\n" },
	{ __LINE__, "Range", { "GET /big.bin HTTP/1.1\r\n" H "Range: bytes=0-9\r\n\r\n" }, ACT_NONE, "206",
	  END_OPEN, CONN_IDLE, "Content-Range: bytes 0-9/100000\r\n" },
	{ __LINE__, "Range unsatisfiable", { "GET /big.bin HTTP/1.1\r\n" H "Range: bytes=200000-\r\n\r\n" },
	  ACT_NONE, "416", END_OPEN, CONN_IDLE, "Content-Range: bytes */100000\r\n" },
	{ __LINE__, "304", { "GET /old.txt HTTP/1.1\r\n" H "If-Modified-Since: Wed, 01 Jan 2020 00:00:00 GMT\r\n\r\n" },
	  ACT_NONE, "304", END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "a file body by sendfile", { GET("/big.bin") GET("/index.html") }, ACT_NONE, "200 200",
	  END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "301 to the slashed directory", { GET("/sub") }, ACT_NONE, "301", END_OPEN, CONN_IDLE,
	  "Location: /sub/\r\n" },
	{ __LINE__, "absolute-form", { "GET http://x/index.html HTTP/1.1\r\n\r\n" }, ACT_NONE, "200",
	  END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "half-close: answered, then closed", { GET("/index.html") }, ACT_EOF, "200",
	  END_CLOSED, 0, NULL },
	{ __LINE__, "linger drains after the last answer", { "GET /index.html HTTP/1.0\r\n\r\n", "junk after" },
	  ACT_EOF, "200", END_CLOSED, 0, NULL },
	{ __LINE__, "gzip on the fly, sent from memory", { "GET /noise.txt HTTP/1.1\r\n" H
	  "Accept-Encoding: gzip\r\n\r\n" GET("/index.html") }, ACT_NONE, "200 200", END_OPEN,
	  CONN_IDLE, "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n" },
	{ __LINE__, "gzip refused: the file as it is, Vary still", { "GET /noise.txt HTTP/1.1\r\n" H
	  "Accept-Encoding: gzip;q=0\r\n\r\n" }, ACT_NONE, "200", END_OPEN, CONN_IDLE,
	  "Vary: Accept-Encoding\r\nContent-Length: 100000\r\n" },
	{ __LINE__, "HEAD of a gzipped answer", { "HEAD /noise.txt HTTP/1.1\r\n" H
	  "Accept-Encoding: gzip\r\n\r\n" GET("/old.txt") }, ACT_NONE, "200h 200", END_OPEN,
	  CONN_IDLE, "Content-Encoding: gzip\r\n" },
	{ __LINE__, "a hidden file is 404", { GET("/.env") GET("/old.txt") }, ACT_NONE, "404 200",
	  END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "OPTIONS without CORS: 501, and on", { "OPTIONS /index.html HTTP/1.1\r\n" H
	  "Origin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n\r\n"
	  GET("/old.txt") }, ACT_NONE, "501 200", END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "412 for If-Match", { "GET /old.txt HTTP/1.1\r\n" H "If-Match: \"x\"\r\n\r\n"
	  GET("/old.txt") }, ACT_NONE, "412 200", END_OPEN, CONN_IDLE, NULL },
	{ __LINE__, "several ranges: one coalesced 206", { "GET /big.bin HTTP/1.1\r\n" H
	  "Range: bytes=10-19,0-4\r\n\r\n" }, ACT_NONE, "206", END_OPEN, CONN_IDLE,
	  "Content-Range: bytes 0-19/100000\r\n" },
	{ __LINE__, "leading empty lines", { "\r\n\r\n" GET("/index.html") }, ACT_NONE, "200", END_OPEN,
	  CONN_IDLE, NULL },
};

/* Compare what came out with the row. */
static int check_row(const struct conn_case *r, struct drive *d, const char *how)
{
	int failures = 0;
	bool head_only[64] = { false };
	int want[64];
	unsigned nwant = 0;
	for (const char *p = r->statuses; *p && nwant < 64;) {
		char *e;
		long v = strtol(p, &e, 10);
		if (e == p)
			break;
		bool interim = v >= 100 && v < 200;
		if (*e == 'h') {
			unsigned finals = 0;
			for (unsigned k = 0; k < nwant; k++)
				finals += !(want[k] >= 100 && want[k] < 200);
			head_only[finals] = true;
			e++;
		}
		(void)interim;
		want[nwant++] = (int)v;
		p = e;
		while (*p == ' ')
			p++;
	}
	struct fake_resp resp[64];
	bool bad;
	unsigned got = fake_responses(&d->io, resp, 64, head_only, &bad);
	if (bad)
		FAIL_ROW(r->line, r->name, "%s: malformed output: %.*s", how, (int)d->io.out_len,
			 d->io.out);
	if (got != nwant) {
		FAIL_ROW(r->line, r->name, "%s: %u answers, want %u: %.*s", how, got, nwant,
			 (int)(d->io.out_len > 600 ? 600 : d->io.out_len), d->io.out);
		return failures;
	}
	for (unsigned i = 0; i < got; i++)
		if (resp[i].status != want[i])
			FAIL_ROW(r->line, r->name, "%s: answer %u is %d, want %d", how, i,
				 resp[i].status, want[i]);
	if (r->contains && !memmem(d->io.out, d->io.out_len, r->contains, strlen(r->contains)))
		FAIL_ROW(r->line, r->name, "%s: output lacks %s", how, r->contains);
	enum end end = r->end;
	if (end == END_LINGER_WHOLE)
		end = strcmp(how, "whole") == 0 ? END_LINGER : END_QUIET;
	switch (end) {
	case END_OPEN:
		if (d->io.freed || d->io.shut || d->c->state != r->state)
			FAIL_ROW(r->line, r->name, "%s: not open in state %d (freed %d shut %d state %d)",
				 how, r->state, d->io.freed, d->io.shut, d->io.freed ? -1 : (int)d->c->state);
		break;
	case END_LINGER:
		if (d->io.freed || !d->io.shut || d->c->state != CONN_LINGER)
			FAIL_ROW(r->line, r->name, "%s: not lingering (freed %d shut %d)", how,
				 d->io.freed, d->io.shut);
		break;
	case END_CLOSED:
		if (!d->io.freed)
			FAIL_ROW(r->line, r->name, "%s: still open in state %d", how, d->c->state);
		break;
	case END_LINGER_WHOLE: /* made one of the two above */
	case END_QUIET:
		if (!d->io.freed || d->io.shut)
			FAIL_ROW(r->line, r->name, "%s: not closed at once (freed %d shut %d)", how,
				 d->io.freed, d->io.shut);
		break;
	}
	return failures;
}

static void run_row(const struct conn_case *r, struct drive *d, bool bytewise)
{
	drive_start(d);
	/* bytewise: one chunk per byte, each its own read */
	static char one[FAKE_CHUNKS_MAX];
	unsigned k = 0;
	for (int i = 0; i < 8 && r->input[i]; i++) {
		size_t n = strlen(r->input[i]);
		if (!bytewise) {
			fake_add(&d->io, r->input[i], n);
			continue;
		}
		for (size_t j = 0; j < n && k < FAKE_CHUNKS_MAX; j++, k++) {
			one[k] = r->input[i][j];
			fake_add(&d->io, &one[k], 1);
		}
	}
	fake_release(&d->io, false);
	drive_begin(d);
	while (d->io.released < d->io.chunks && !d->io.freed) {
		fake_release(&d->io, false);
		drive_event(d, EPOLLIN);
	}
	if (r->then == ACT_TIMEOUT)
		drive_timeout(d);
	if (r->then == ACT_EOF) {
		d->io.end = FAKE_EOF;
		drive_event(d, EPOLLIN | EPOLLRDHUP);
	}
}

static void test_table(void **state)
{
	(void)state;
	int failures = 0;
	memset(long_target, 'a', sizeof(long_target) - 1);
	memcpy(long_target, "GET /", 5);
	memset(long_field, 'b', sizeof(long_field) - 1);
	memcpy(long_field, "GET / HTTP/1.1\r\nX: ", 19);
	for (size_t i = 0; i < ARRAY_LEN(CASES); i++) {
		const struct conn_case *r = &CASES[i];
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			/* a 8 KiB line a byte at a time is 8 K chunks: over the cap */
			if (bytewise && (r->input[0] == long_target || r->input[0] == long_field))
				continue;
			struct drive d;
			memset(&d, 0, sizeof(d));
			run_row(r, &d, bytewise);
			failures += check_row(r, &d, bytewise ? "byte by byte" : "whole");
			drive_end(&d);
		}
	}
	assert_int_equal(failures, 0);
}

/* ---- back-pressure, budgets, CGI ---------------------------------------------- */

/* A client that pipelines without reading: once `out` and the socket are
 * full the connection stops parsing and reading; when the socket drains,
 * every answer comes, in order. */
static void test_backpressure(void **state)
{
	(void)state;
	enum { N = 400 };
	static char batch[N * 64];
	size_t len = 0;
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(batch + len, sizeof(batch) - len, "GET /index.html HTTP/1.1\r\n" H "\r\n");
	struct drive d;
	memset(&d, 0, sizeof(d));
	drive_start(&d);
	d.io.window = 0; /* the socket takes nothing */
	fake_add(&d.io, batch, len);
	fake_release(&d.io, true);
	drive_begin(&d);
	assert_false(d.io.freed);
	assert_int_equal(d.io.out_len, 0);
	assert_int_equal(d.c->state, CONN_WRITE);
	unsigned reads = d.io.reads;
	drive_event(&d, EPOLLIN); /* more input: not read while output waits */
	assert_int_equal(d.io.reads, reads);
	assert_true(buf_len(&d.c->out) <= BUF_BLOCK_BYTES);
	d.io.window = SIZE_MAX;
	for (int i = 0; i < 100 && d.c->state != CONN_IDLE; i++)
		drive_event(&d, EPOLLOUT);
	struct fake_resp r[N + 1];
	bool bad;
	assert_int_equal(fake_responses(&d.io, r, N + 1, NULL, &bad), N);
	assert_false(bad);
	drive_end(&d);
}

/* A gzipped body bigger than the output buffer leaves from memory in
 * pieces, as the socket takes them (a window of 1000 bytes per wakeup):
 * byte-exact, it inflates to the file, and the next answer follows it. */
static void test_gzip_body_from_memory(void **state)
{
	(void)state;
	static const char req[] = "GET /noise.txt HTTP/1.1\r\n" H "Accept-Encoding: gzip\r\n\r\n"
				  GET("/index.html");
	struct drive d;
	memset(&d, 0, sizeof(d));
	drive_start(&d);
	d.io.window = 1000;
	fake_add(&d.io, req, sizeof(req) - 1);
	fake_release(&d.io, true);
	drive_begin(&d);
	for (int i = 0; i < 1000 && d.c->state != CONN_IDLE; i++) {
		d.io.window = 1000;
		drive_event(&d, EPOLLOUT);
	}
	assert_int_equal(d.c->state, CONN_IDLE);
	struct fake_resp r[3];
	bool bad;
	assert_int_equal(fake_responses(&d.io, r, 3, NULL, &bad), 2);
	assert_false(bad);
	const char *body = memmem(d.io.out, d.io.out_len, "\r\n\r\n", 4);
	assert_non_null(body);
	body += 4;
	const char *cl = strstr(d.io.out, "Content-Length: ");
	assert_non_null(cl);
	size_t zlen = strtoul(cl + 16, NULL, 10);
	assert_true(zlen > BUF_BLOCK_BYTES); /* the memory path, not a copy into out */
	static char plain[BIG_BYTES + 1];
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
	zs.next_in = (Bytef *)body;
	zs.avail_in = (uInt)zlen;
	zs.next_out = (Bytef *)plain;
	zs.avail_out = sizeof(plain);
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.total_out, BIG_BYTES);
	inflateEnd(&zs);
	uint32_t x = 1;
	for (int i = 0; i < BIG_BYTES; i++) {
		x = x * 1103515245u + 12345u;
		if (plain[i] != (char)('a' + (x >> 16) % 26))
			fail_msg("byte %d differs", i);
	}
	assert_memory_equal(body + zlen + (strstr(body + zlen, "\r\n\r\n") - (body + zlen)) + 4,
			    "hello\n", 6);
	drive_end(&d);
}

/* A bad head behind answers that cannot be sent yet: it waits for them,
 * then gets its 400, and the connection closes after. */
static void test_bad_head_behind_unsent_answers(void **state)
{
	(void)state;
	static char batch[64 * 80 + 64];
	size_t len = 0;
	for (int i = 0; i < 64; i++)
		len += (size_t)snprintf(batch + len, sizeof(batch) - len, GET("/old.txt"));
	len += (size_t)snprintf(batch + len, sizeof(batch) - len, "GET /\x01 HTTP/1.1\r\n\r\n");
	struct drive d;
	memset(&d, 0, sizeof(d));
	drive_start(&d);
	d.io.window = 100;
	fake_add(&d.io, batch, len);
	fake_release(&d.io, true);
	drive_begin(&d);
	assert_false(d.io.shut);
	assert_false(d.io.freed);
	d.io.window = SIZE_MAX;
	for (int i = 0; i < 100 && !d.io.freed; i++)
		drive_event(&d, EPOLLOUT);
	struct fake_resp r[70];
	bool bad;
	unsigned n = fake_responses(&d.io, r, 70, NULL, &bad);
	assert_false(bad);
	assert_int_equal(n, 65);
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(r[i].status, 200);
	assert_int_equal(r[64].status, 400);
	/* the bad head was read whole and nothing follows it: closed at once */
	assert_true(d.io.freed);
	assert_false(d.io.shut);
	drive_end(&d);
}

/* One wakeup does a bounded amount of I/O: a client with a long pipelined
 * batch and an open socket is answered over several loop iterations
 * (posted), and still completely. */
static void test_budget_posts(void **state)
{
	(void)state;
	enum { N = 3000 };
	static char batch[N * 40];
	size_t len = 0;
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(batch + len, sizeof(batch) - len, GET("/index.html"));
	struct drive d;
	memset(&d, 0, sizeof(d));
	drive_start(&d);
	fake_add(&d.io, batch, len);
	fake_release(&d.io, true);
	assert_int_equal(conn_start(d.c, &fake_transport_ops, &d.io), 0);
	assert_true(d.c->watch.posted); /* stopped at its budget, more to do */
	struct fake_resp r[8];
	bool bad;
	(void)fake_responses(&d.io, r, 8, NULL, &bad);
	size_t first = d.io.out_len;
	assert_true(first > 0);
	int rounds = 0;
	while (d.c->watch.posted && rounds < 100000) {
		loop_run_once(w.loop, 0);
		rounds++;
	}
	assert_true(rounds > 1);
	static struct fake_resp all[N + 1];
	assert_int_equal(fake_responses(&d.io, all, N + 1, NULL, &bad), N);
	assert_false(bad);
	drive_end(&d);
}

static bool got_answer(struct drive *d)
{
	struct fake_resp r[2];
	bool bad;
	return fake_responses(&d->io, r, 2, NULL, &bad) >= 1;
}

static bool got_two(struct drive *d)
{
	struct fake_resp r[3];
	bool bad;
	return fake_responses(&d->io, r, 3, NULL, &bad) >= 2;
}

/* The CGI phase against real (tiny) programs: a fixed answer, a body
 * streamed through cat, and a program that never reads a body (drained,
 * the pipelined request behind it answered once). */
static void test_cgi_phase(void **state)
{
	(void)state;
	static const struct {
		int line;
		const char *input, *later; /* later: sent once the first answer is out */
		int answers;
		const char *body0;
	} rows[] = {
		{ __LINE__, GET("/cgi/hello"), NULL, 1, "hello" },
		{ __LINE__, "POST /cgi/echo HTTP/1.1\r\n" H "Content-Length: 7\r\n\r\npayload", NULL, 1,
		  "payload" },
		/* the unread body is in before the answer: dropped with the request */
		{ __LINE__, "POST /cgi/noread HTTP/1.1\r\n" H "Content-Length: 40\r\n\r\n" GET("/index.html")
		  "xxx" GET("/old.txt"), NULL, 2, "ok" },
		/* ... or arrives after it: read and dropped (drained), never answered */
		{ __LINE__, "POST /cgi/noread HTTP/1.1\r\n" H "Content-Length: 40\r\n\r\n",
		  GET("/index.html") "xxx" GET("/old.txt"), 2, "ok" },
		{ __LINE__, "HEAD /cgi/hello HTTP/1.1\r\n" H "\r\n" GET("/cgi/hello"), NULL, 2, NULL },
	};
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		struct drive d;
		memset(&d, 0, sizeof(d));
		drive_start(&d);
		fake_add(&d.io, rows[i].input, strlen(rows[i].input));
		if (rows[i].later)
			fake_add(&d.io, rows[i].later, strlen(rows[i].later));
		fake_release(&d.io, false);
		drive_begin(&d);
		drive_until(&d, got_answer);
		if (rows[i].later) {
			fake_release(&d.io, false);
			drive_event(&d, EPOLLIN);
		}
		drive_until(&d, rows[i].answers == 1 ? got_answer : got_two);
		/* let it settle back to waiting for the next request */
		for (int k = 0; k < 2000 && !d.io.freed && d.c->state != CONN_IDLE; k++)
			loop_run_once(w.loop, 1);
		struct fake_resp r[4];
		bool bad;
		bool head_only[4] = { rows[i].body0 == NULL, false };
		unsigned n = fake_responses(&d.io, r, 4, head_only, &bad);
		if (bad || (int)n != rows[i].answers || r[0].status != 200)
			FAIL_ROW(rows[i].line, "cgi", "%u answers (bad %d): %.*s", n, bad,
				 (int)d.io.out_len, d.io.out);
		else if (rows[i].body0 &&
			 (r[0].body_len != strlen(rows[i].body0) ||
			  !memmem(d.io.out + r[0].body_off, d.io.out_len - r[0].body_off,
				  rows[i].body0, strlen(rows[i].body0))))
			FAIL_ROW(rows[i].line, "cgi", "body: %.*s", (int)d.io.out_len, d.io.out);
		if (d.io.freed || d.c->state != CONN_IDLE)
			FAIL_ROW(rows[i].line, "cgi", "not back to idle (freed %d, state %d): %.*s",
				 d.io.freed, d.io.freed ? -1 : (int)d.c->state, (int)d.io.out_len,
				 d.io.out);
		drive_end(&d);
		/* the program is reaped and its record freed after the batch */
		for (int k = 0; k < 2000 && w.cgi.count; k++)
			loop_run_once(w.loop, 1);
		if (w.cgi.count)
			FAIL_ROW(rows[i].line, "cgi", "%u program(s) not reaped", w.cgi.count);
	}
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_gzip_body_from_memory),
		cmocka_unit_test(test_bad_head_behind_unsent_answers),
		cmocka_unit_test(test_budget_posts),
		cmocka_unit_test(test_cgi_phase),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
