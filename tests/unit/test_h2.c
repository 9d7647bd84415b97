/*
 * HTTP/2 in memory: a real worker's connection driven through the fake
 * transport, with a libnghttp2 client session as the peer (it writes the
 * frames and checks everything the server sends as a client must). Table
 * rows: requests, the answer each must get (status, body, fields), under a
 * socket that takes everything or a few hundred bytes per edge, and with
 * the client's stream window small or large (flow control end to end).
 *
 * Built without HTTP/2 (make HTTP2=no) the preface is an HTTP/1.1 request
 * line and gets a plain HTTP/1.1 400: that is the row then.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "conn_priv.h"
#include "fake_transport.h"
#include "h2.h"
#include "log.h"
#include "worker.h"

#if defined(LISOD_HTTP2)
#include <nghttp2/nghttp2.h>
#endif

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static char dir[64];
static struct config cfg;
static struct worker w;
static struct log *wlog;

enum { BIG_BYTES = 100000 };
static char big[BIG_BYTES];
/* Over the 1 MiB an inner connection hands to one sendfile call: the file
 * goes out as several ranges, one after the other. */
enum { HUGE_BYTES = 2600000 };
static char *huge;

static void put_file(const char *rel, const char *content, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/lisod-test-h2-XXXXXX");
	assert_non_null(mkdtemp(dir));
	put_file("index.html", "hello\n", 6);
	for (int i = 0; i < BIG_BYTES; i++)
		big[i] = (char)('a' + (i * 7) % 26);
	put_file("big.bin", big, BIG_BYTES);
	huge = malloc(HUGE_BYTES);
	assert_non_null(huge);
	for (int i = 0; i < HUGE_BYTES; i++)
		huge[i] = (char)(i * 31 + i / 7);
	put_file("huge.bin", huge, HUGE_BYTES);
	char *argv[] = { "lisod", "--root", dir, "--http2-max-streams", "8", "--max-body", "1048576",
			 NULL };
	FILE *null = fopen("/dev/null", "w");
	assert_int_equal(config_parse(&cfg, 7, argv, null, null), CONFIG_OK);
	fclose(null);
	wlog = log_new("/dev/null", "off", LOG_LVL_ERR);
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
	free(huge);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_preface_match(void **state)
{
	(void)state;
	static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	assert_int_equal(h2_preface_match(pre, 24), 1);
	assert_int_equal(h2_preface_match(pre, 30), 1);
	assert_int_equal(h2_preface_match(pre, 0), 0);
	assert_int_equal(h2_preface_match(pre, 5), 0);
	assert_int_equal(h2_preface_match("PRI * HTTP/1.1\r\n", 16), -1);
	assert_int_equal(h2_preface_match("GET / HTTP/1.1\r\n", 16), -1);
}

#if defined(LISOD_HTTP2)

/* ---- the client --------------------------------------------------------- */

enum { STREAMS_MAX = 16, SENT_MAX = 1 << 20 };

struct answer {
	int32_t id;
	int status;
	char *body;
	size_t body_len;
	bool closed;
	uint32_t reset;          /* RST_STREAM / close error code */
	bool has_connection_field, upper_case_name, has_vary;
	char content_range[64];
};

struct client {
	nghttp2_session *ng;
	struct fake_io io;
	struct conn *c;
	char *sent;              /* every chunk the client sent, kept alive */
	size_t sent_len;
	size_t out_read;         /* of io.out, given to the session */
	struct answer a[STREAMS_MAX];
	unsigned answers;
	bool goaway;
	uint32_t goaway_code;
	bool started;            /* conn_start was called */
	const char *post_body;   /* the data provider's */
	size_t post_left;
};

static struct answer *answer_of(struct client *cl, int32_t id)
{
	for (unsigned i = 0; i < cl->answers; i++)
		if (cl->a[i].id == id)
			return &cl->a[i];
	return NULL;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	(void)ng;
	(void)flags;
	struct answer *a = answer_of(ud, frame->hd.stream_id);
	if (!a)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0)
		a->status = atoi((const char *)value);
	for (size_t i = 0; i < namelen; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			a->upper_case_name = true;
	if ((namelen == 10 && memcmp(name, "connection", 10) == 0) ||
	    (namelen == 17 && memcmp(name, "transfer-encoding", 17) == 0) ||
	    (namelen == 10 && memcmp(name, "keep-alive", 10) == 0))
		a->has_connection_field = true;
	if (namelen == 4 && memcmp(name, "vary", 4) == 0)
		a->has_vary = true;
	if (namelen == 13 && memcmp(name, "content-range", 13) == 0 &&
	    valuelen < sizeof(a->content_range)) {
		memcpy(a->content_range, value, valuelen);
		a->content_range[valuelen] = '\0';
	}
	return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
		   size_t len, void *ud)
{
	(void)ng;
	(void)flags;
	struct answer *a = answer_of(ud, id);
	if (!a)
		return 0;
	char *b = realloc(a->body, a->body_len + len + 1);
	if (!b)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	memcpy(b + a->body_len, data, len);
	a->body = b;
	a->body_len += len;
	return 0;
}

static int on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
	(void)ng;
	struct answer *a = answer_of(ud, id);
	if (a) {
		a->closed = true;
		a->reset = code;
	}
	return 0;
}

static int on_frame(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
	(void)ng;
	struct client *cl = ud;
	if (frame->hd.type == NGHTTP2_GOAWAY) {
		cl->goaway = true;
		cl->goaway_code = frame->goaway.error_code;
	}
	return 0;
}

static ssize_t post_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)ng;
	(void)id;
	(void)src;
	struct client *cl = ud;
	size_t n = len < cl->post_left ? len : cl->post_left;
	if (n > 1000)
		n = 1000; /* many frames */
	memcpy(buf, cl->post_body, n);
	cl->post_body += n;
	cl->post_left -= n;
	if (cl->post_left == 0)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void client_init(struct client *cl, int32_t window, size_t sock_window)
{
	memset(cl, 0, sizeof(*cl));
	fake_reset(&cl->io);
	cl->io.window = sock_window;
	cl->sent = malloc(SENT_MAX);
	assert_non_null(cl->sent);
	nghttp2_session_callbacks *cb;
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	assert_int_equal(nghttp2_session_client_new(&cl->ng, cb, cl), 0);
	nghttp2_session_callbacks_del(cb);
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)window } };
	assert_int_equal(nghttp2_submit_settings(cl->ng, NGHTTP2_FLAG_NONE, iv, 1), 0);
	struct sockaddr_storage peer = { .ss_family = AF_INET };
	cl->c = conn_new(&w, -1, &peer, sizeof(peer), 8080);
	assert_non_null(cl->c);
}

static int32_t client_get(struct client *cl, const char *method, const char *path,
			  const nghttp2_nv *extra, size_t extra_n, const char *body, size_t body_len)
{
	nghttp2_nv nv[8] = {
		{ (uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0 },
		{ (uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0 },
		{ (uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, 0 },
	};
	size_t n = 4;
	for (size_t i = 0; i < extra_n && n < ARRAY_LEN(nv); i++)
		nv[n++] = extra[i];
	nghttp2_data_provider dp = { .read_callback = post_read };
	cl->post_body = body;
	cl->post_left = body_len;
	int32_t id = nghttp2_submit_request(cl->ng, NULL, nv, n, body ? &dp : NULL, NULL);
	assert_true(id > 0);
	assert_true(cl->answers < STREAMS_MAX);
	cl->a[cl->answers++] = (struct answer){ .id = id };
	return id;
}

/* One exchange: the client's pending bytes become a chunk of the fake
 * socket, the server runs (an edge, then what it posted), and what it sent
 * goes to the client session; then the client "reads" sock_window more.
 * *moved: bytes went either way. */
static void client_step(struct client *cl, size_t sock_window, bool *moved)
{
	const uint8_t *data;
	ssize_t n = nghttp2_session_mem_send(cl->ng, &data);
	assert_true(n >= 0);
	if (n > 0) { /* the first bytes are the preface: the library's */
		assert_true(cl->sent_len + (size_t)n <= SENT_MAX);
		memcpy(cl->sent + cl->sent_len, data, (size_t)n);
		fake_add(&cl->io, cl->sent + cl->sent_len, (size_t)n);
		cl->sent_len += (size_t)n;
		fake_release(&cl->io, true);
	}
	if (!cl->started) {
		assert_int_equal(conn_start(cl->c, &fake_transport_ops, &cl->io), 0);
		cl->started = true;
	} else {
		cl->c->watch.fn(w.loop, &cl->c->watch, (n > 0 ? EPOLLIN : 0) | EPOLLOUT);
	}
	for (int i = 0; i < 1000 && !cl->io.freed && cl->c->watch.posted; i++)
		loop_run_once(w.loop, 0);
	size_t fresh = cl->io.out_len - cl->out_read;
	if (fresh) {
		ssize_t used = nghttp2_session_mem_recv(
			cl->ng, (const uint8_t *)cl->io.out + cl->out_read, fresh);
		assert_true(used == (ssize_t)fresh); /* the server obeys the protocol */
		cl->out_read += fresh;
	}
	if (sock_window != SIZE_MAX)
		cl->io.window += sock_window; /* the client read a little */
	*moved = n > 0 || fresh > 0;
}

/* Exchange until both sides are quiet (or a bound is hit). */
static void client_run(struct client *cl, size_t sock_window)
{
	for (int step = 0; step < 20000 && !cl->io.freed; step++) {
		bool moved;
		client_step(cl, sock_window, &moved);
		bool all_closed = true;
		for (unsigned i = 0; i < cl->answers; i++)
			all_closed &= cl->a[i].closed;
		if (all_closed && !nghttp2_session_want_write(cl->ng) && !moved)
			break;
	}
}

static void client_end(struct client *cl)
{
	if (!cl->io.freed)
		conn_close_all(&w);
	loop_run_once(w.loop, 0);
	assert_int_equal(w.conns_active, 0);
	nghttp2_session_del(cl->ng);
	for (unsigned i = 0; i < cl->answers; i++)
		free(cl->a[i].body);
	free(cl->sent);
	free(cl->io.out);
	cl->io.out = NULL;
}

/* ---- rows ----------------------------------------------------------------- */

struct row {
	int line;
	const char *name;
	const char *method, *path;
	const char *range;        /* a Range field, or NULL */
	int status;
	const char *body;         /* expected, or NULL: big[from .. from+len) */
	size_t body_off, body_len;
	const char *content_range;
};

static const struct row ROWS[] = {
	{ __LINE__, "a file", "GET", "/index.html", NULL, 200, "hello\n", 0, 6, NULL },
	{ __LINE__, "the index", "GET", "/", NULL, 200, "hello\n", 0, 6, NULL },
	{ __LINE__, "HEAD: no DATA", "HEAD", "/index.html", NULL, 200, "", 0, 0, NULL },
	{ __LINE__, "missing", "GET", "/nope", NULL, 404, NULL, 0, (size_t)-1, NULL },
	{ __LINE__, "above the root", "GET", "/../etc/passwd", NULL, 400, NULL, 0, (size_t)-1,
	  NULL },
	{ __LINE__, "not implemented", "DELETE", "/index.html", NULL, 501, NULL, 0, (size_t)-1,
	  NULL },
	{ __LINE__, "a big file", "GET", "/big.bin", NULL, 200, NULL, 0, BIG_BYTES, NULL },
	{ __LINE__, "a range", "GET", "/big.bin", "bytes=10-19", 206, NULL, 10, 10,
	  "bytes 10-19/100000" },
	{ __LINE__, "a range across frames", "GET", "/big.bin", "bytes=1000-60999", 206, NULL,
	  1000, 60000, "bytes 1000-60999/100000" },
	{ __LINE__, "unsatisfiable", "GET", "/big.bin", "bytes=200000-", 416, NULL, 0,
	  (size_t)-1, "bytes */100000" },
};

static void check_answer(const struct row *r, const struct answer *a, const char *how,
			 int *failures)
{
	if (a->status != r->status || !a->closed || a->reset != 0 || a->has_connection_field ||
	    a->upper_case_name) {
		print_error("test_h2.c:%d: %s (%s): status %d closed %d reset %u conn %d upper %d\n",
			    r->line, r->name, how, a->status, a->closed, a->reset,
			    a->has_connection_field, a->upper_case_name);
		(*failures)++;
		return;
	}
	if (r->body_len != (size_t)-1) {
		const char *want = r->body ? r->body : big + r->body_off;
		if (a->body_len != r->body_len || (r->body_len && memcmp(a->body, want, r->body_len))) {
			print_error("test_h2.c:%d: %s (%s): body %zu bytes, want %zu\n", r->line,
				    r->name, how, a->body_len, r->body_len);
			(*failures)++;
		}
	}
	if (r->content_range && strcmp(a->content_range, r->content_range) != 0) {
		print_error("test_h2.c:%d: %s (%s): content-range '%s'\n", r->line, r->name, how,
			    a->content_range);
		(*failures)++;
	}
}

/* Every row alone, then all rows as concurrent streams of one connection,
 * each under a roomy and a tight socket and client window. */
static void test_rows(void **state)
{
	(void)state;
	static const struct {
		int32_t window;
		size_t sock;
		const char *how;
	} modes[] = {
		{ 1 << 20, SIZE_MAX, "roomy" },
		{ 700, 300, "tight" },
	};
	int failures = 0;
	for (size_t m = 0; m < ARRAY_LEN(modes); m++) {
		for (size_t i = 0; i < ARRAY_LEN(ROWS); i++) {
			const struct row *r = &ROWS[i];
			struct client cl;
			client_init(&cl, modes[m].window, modes[m].sock);
			nghttp2_nv range = { (uint8_t *)"range", (uint8_t *)r->range, 5,
					     r->range ? strlen(r->range) : 0, 0 };
			client_get(&cl, r->method, r->path, &range, r->range ? 1 : 0, NULL, 0);
			client_run(&cl, modes[m].sock);
			check_answer(r, &cl.a[0], modes[m].how, &failures);
			client_end(&cl);
		}
		struct client cl;
		client_init(&cl, modes[m].window, modes[m].sock);
		for (size_t i = 0; i < ARRAY_LEN(ROWS) && i < 8; i++) {
			const struct row *r = &ROWS[i];
			nghttp2_nv range = { (uint8_t *)"range", (uint8_t *)r->range, 5,
					     r->range ? strlen(r->range) : 0, 0 };
			client_get(&cl, r->method, r->path, &range, r->range ? 1 : 0, NULL, 0);
		}
		client_run(&cl, modes[m].sock);
		for (size_t i = 0; i < ARRAY_LEN(ROWS) && i < 8; i++)
			check_answer(&ROWS[i], &cl.a[i], "concurrent", &failures);
		client_end(&cl);
	}
	assert_int_equal(failures, 0);
}

/* A body in many DATA frames, with and without a length; the static
 * responder reads and drops it, the stream ends cleanly, the connection
 * serves the next stream. */
static void test_request_bodies(void **state)
{
	(void)state;
	static char body[5000];
	memset(body, 'x', sizeof(body));
	for (int with_length = 0; with_length < 2; with_length++) {
		struct client cl;
		client_init(&cl, 65535, SIZE_MAX);
		nghttp2_nv len = { (uint8_t *)"content-length", (uint8_t *)"5000", 14, 4, 0 };
		client_get(&cl, "POST", "/index.html", &len, (size_t)with_length, body, sizeof(body));
		client_run(&cl, SIZE_MAX);
		client_get(&cl, "GET", "/index.html", NULL, 0, NULL, 0);
		client_run(&cl, SIZE_MAX);
		assert_int_equal(cl.a[0].reset, 0);
		assert_true(cl.a[0].closed);
		assert_int_equal(cl.a[0].status, 200);
		assert_int_equal(cl.a[1].status, 200);
		assert_int_equal(cl.a[1].body_len, 6);
		client_end(&cl);
	}
}

/* A body over --max-body (1 MiB by default here: 2 MiB sent) gets 413,
 * and the stream the client is still sending on is reset with NO_ERROR
 * once the answer is out (RFC 9113 §8.1), not left waiting for a window. */
static void test_early_answer_resets_with_no_error(void **state)
{
	(void)state;
	size_t n = 2u << 20;
	char *body = malloc(n);
	assert_non_null(body);
	memset(body, 'y', n);
	struct client cl;
	client_init(&cl, 65535, SIZE_MAX);
	char clen[32];
	snprintf(clen, sizeof(clen), "%zu", n);
	nghttp2_nv len = { (uint8_t *)"content-length", (uint8_t *)clen, 14, strlen(clen), 0 };
	client_get(&cl, "POST", "/index.html", &len, 1, body, n);
	client_run(&cl, SIZE_MAX);
	assert_int_equal(cl.a[0].status, 413);
	assert_true(cl.a[0].closed);
	assert_int_equal(cl.a[0].reset, NGHTTP2_NO_ERROR);
	client_get(&cl, "GET", "/index.html", NULL, 0, NULL, 0);
	client_run(&cl, SIZE_MAX);
	assert_int_equal(cl.a[1].status, 200);
	client_end(&cl);
	free(body);
}

/* More streams than SETTINGS_MAX_CONCURRENT_STREAMS (8 here) at once: the
 * client library queues them, as it must; every one is answered. */
static void test_many_streams(void **state)
{
	(void)state;
	struct client cl;
	client_init(&cl, 65535, 500);
	for (int i = 0; i < STREAMS_MAX; i++)
		client_get(&cl, "GET", "/big.bin", NULL, 0, NULL, 0);
	client_run(&cl, 500);
	for (int i = 0; i < STREAMS_MAX; i++) {
		assert_int_equal(cl.a[i].status, 200);
		assert_int_equal(cl.a[i].body_len, BIG_BYTES);
		assert_int_equal(cl.a[i].reset, 0);
	}
	client_end(&cl);
}

/* A client that resets its stream mid-answer: the inner connection goes
 * at once, the others on the connection go on. */
static void test_reset_mid_answer(void **state)
{
	(void)state;
	struct client cl;
	client_init(&cl, 65535, 200);
	int32_t a = client_get(&cl, "GET", "/big.bin", NULL, 0, NULL, 0);
	client_get(&cl, "GET", "/big.bin", NULL, 0, NULL, 0);
	bool moved;
	for (int i = 0; i < 30; i++) /* a few exchanges: the answers have begun */
		client_step(&cl, 200, &moved);
	assert_true(cl.a[0].body_len > 0 && cl.a[0].body_len < BIG_BYTES);
	assert_int_equal(nghttp2_submit_rst_stream(cl.ng, NGHTTP2_FLAG_NONE, a, NGHTTP2_CANCEL), 0);
	client_run(&cl, 2000);
	assert_true(cl.a[0].closed);
	assert_int_equal(cl.a[0].reset, NGHTTP2_CANCEL);
	assert_int_equal(cl.a[1].status, 200);
	assert_int_equal(cl.a[1].body_len, BIG_BYTES);
	assert_int_equal(cl.a[1].reset, 0);
	client_end(&cl);
}

/* Graceful stop: GOAWAY(NO_ERROR), the stream in flight completes, the
 * connection closes. */
static void test_graceful_goaway(void **state)
{
	(void)state;
	struct client cl;
	client_init(&cl, 65535, 300);
	client_get(&cl, "GET", "/big.bin", NULL, 0, NULL, 0);
	bool moved;
	for (int i = 0; i < 5; i++)
		client_step(&cl, 300, &moved);
	assert_int_equal(cl.c->state, CONN_H2);
	w.draining = true; /* as worker_drain does */
	conn_close_idle(&w);
	client_run(&cl, 5000);
	assert_true(cl.goaway);
	assert_int_equal(cl.goaway_code, NGHTTP2_NO_ERROR);
	assert_int_equal(cl.a[0].status, 200);
	assert_int_equal(cl.a[0].body_len, BIG_BYTES);
	/* Closing once the stream was done: FIN sent, lingering for the
	 * client's (or closed already). */
	assert_true(cl.io.freed || (cl.io.shut && cl.c->state == CONN_LINGER));
	client_end(&cl);
	w.draining = false;
}

/* A file bigger than one sendfile chunk, twice at once: every byte, in
 * order (a second range must follow the first with no frame to wake it). */
static void test_file_over_a_sendfile_chunk(void **state)
{
	(void)state;
	struct client cl;
	client_init(&cl, 1 << 30, SIZE_MAX);
	client_get(&cl, "GET", "/huge.bin", NULL, 0, NULL, 0);
	client_get(&cl, "GET", "/huge.bin", NULL, 0, NULL, 0);
	nghttp2_session_set_local_window_size(cl.ng, NGHTTP2_FLAG_NONE, 0, 1 << 30);
	client_run(&cl, SIZE_MAX);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cl.a[i].status, 200);
		assert_int_equal(cl.a[i].reset, 0);
		assert_int_equal(cl.a[i].body_len, HUGE_BYTES);
		assert_memory_equal(cl.a[i].body, huge, HUGE_BYTES);
	}
	client_end(&cl);
}

#define H2_TESTS                                                  \
	cmocka_unit_test(test_rows),                              \
	cmocka_unit_test(test_file_over_a_sendfile_chunk),        \
	cmocka_unit_test(test_request_bodies),                    \
	cmocka_unit_test(test_early_answer_resets_with_no_error), \
	cmocka_unit_test(test_many_streams),                      \
	cmocka_unit_test(test_reset_mid_answer),                  \
	cmocka_unit_test(test_graceful_goaway),

#else /* built without HTTP/2 */

/* The preface is then an HTTP/1.1 request line ("PRI *", an asterisk
 * target our methods never take): 400, and the connection closes. */
static void test_preface_without_http2(void **state)
{
	(void)state;
	static struct fake_io io;
	fake_reset(&io);
	static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	fake_add(&io, pre, sizeof(pre) - 1);
	fake_release(&io, true);
	io.end = FAKE_EOF;
	struct sockaddr_storage peer = { .ss_family = AF_INET };
	struct conn *c = conn_new(&w, -1, &peer, sizeof(peer), 8080);
	assert_non_null(c);
	assert_int_equal(conn_start(c, &fake_transport_ops, &io), 0);
	for (int k = 0; k < 1000 && !io.freed; k++) {
		c->watch.fn(w.loop, &c->watch, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
		loop_run_once(w.loop, 0);
	}
	assert_true(io.out_len > 12);
	assert_memory_equal(io.out, "HTTP/1.1 400", 12);
	if (!io.freed)
		conn_close_all(&w);
	loop_run_once(w.loop, 0);
	free(io.out);
	io.out = NULL;
}

#define H2_TESTS cmocka_unit_test(test_preface_without_http2),

#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preface_match),
		H2_TESTS
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
