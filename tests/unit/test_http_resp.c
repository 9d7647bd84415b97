/*
 * Unit tests for http_resp.c: reason phrases, the cached Date line, response
 * heads and the short pages of errors and redirects.
 *
 * Every writer is run at every capacity from 0 to one byte short of what it
 * needs (each must return -1, leave wpos and the readable bytes as they
 * were, and write nothing past cap) and at the exact fit (must succeed with
 * the exact bytes), behind bytes already in the buffer.
 * Every table row carries its __LINE__; a failing row prints it and its name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http_resp.h"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_http_resp.c:%d: %s: ", (line), (name));      \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* 784111777 is RFC 9110's example date. */
enum { EXAMPLE_TIME = 784111777 };
#define DATE_LINE "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
#define SERVER_LINE "Server: Liso/1.0\r\n"

static struct http_date_cache example_date(void)
{
	struct http_date_cache d;
	memset(&d, 0, sizeof(d));
	http_date_update(&d, EXAMPLE_TIME);
	return d;
}

/* ---- http_reason ------------------------------------------------------------- */

struct reason_case {
	int line;
	int status;
	const char *reason;
};

static const struct reason_case REASON_CASES[] = {
	/* Every status the server itself produces. */
	{ __LINE__, 200, "OK" },
	{ __LINE__, 206, "Partial Content" },
	{ __LINE__, 301, "Moved Permanently" },
	{ __LINE__, 304, "Not Modified" },
	{ __LINE__, 400, "Bad Request" },
	{ __LINE__, 403, "Forbidden" },
	{ __LINE__, 404, "Not Found" },
	{ __LINE__, 408, "Request Timeout" },
	{ __LINE__, 411, "Length Required" },
	{ __LINE__, 413, "Content Too Large" },
	{ __LINE__, 414, "URI Too Long" },
	{ __LINE__, 406, "Not Acceptable" },
	{ __LINE__, 412, "Precondition Failed" },
	{ __LINE__, 416, "Range Not Satisfiable" },
	{ __LINE__, 431, "Request Header Fields Too Large" },
	{ __LINE__, 500, "Internal Server Error" },
	{ __LINE__, 501, "Not Implemented" },
	{ __LINE__, 503, "Service Unavailable" },
	{ __LINE__, 505, "HTTP Version Not Supported" },
	/* Statuses a CGI program may name without a reason. */
	{ __LINE__, 100, "Continue" },
	{ __LINE__, 201, "Created" },
	{ __LINE__, 204, "No Content" },
	{ __LINE__, 302, "Found" },
	{ __LINE__, 303, "See Other" },
	{ __LINE__, 307, "Temporary Redirect" },
	{ __LINE__, 308, "Permanent Redirect" },
	{ __LINE__, 401, "Unauthorized" },
	{ __LINE__, 405, "Method Not Allowed" },
	{ __LINE__, 502, "Bad Gateway" },
	{ __LINE__, 504, "Gateway Timeout" },
	/* Anything else. */
	{ __LINE__, 0, "Unknown" },
	{ __LINE__, -1, "Unknown" },
	{ __LINE__, 199, "Unknown" },
	{ __LINE__, 202, "Unknown" },
	{ __LINE__, 299, "Unknown" },
	{ __LINE__, 418, "Unknown" },
	{ __LINE__, 599, "Unknown" },
	{ __LINE__, 600, "Unknown" },
	{ __LINE__, 2000, "Unknown" },
};

static void test_reason_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(REASON_CASES); i++) {
		const struct reason_case *c = &REASON_CASES[i];
		const char *got = http_reason(c->status);
		char name[16];
		snprintf(name, sizeof(name), "%d", c->status);
		if (!got || strcmp(got, c->reason) != 0)
			FAIL_ROW(c->line, name, "reason \"%s\", want \"%s\"", got ? got : "(null)",
				 c->reason);
	}
	assert_int_equal(failures, 0);
}

/* ---- http_date_update -------------------------------------------------------- */

struct date_case {
	int line;
	const char *name;
	long long t;
	const char *line_want;
};

static const struct date_case DATE_CASES[] = {
	{ __LINE__, "RFC 9110 example", 784111777, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" },
	{ __LINE__, "epoch", 0, "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n" },
	{ __LINE__, "leap day", 951782400, "Date: Tue, 29 Feb 2000 00:00:00 GMT\r\n" },
	{ __LINE__, "end of a leap day", 951868799, "Date: Tue, 29 Feb 2000 23:59:59 GMT\r\n" },
	{ __LINE__, "last 32-bit second", 2147483647, "Date: Tue, 19 Jan 2038 03:14:07 GMT\r\n" },
	{ __LINE__, "first second past 32 bits", 2147483648LL,
	  "Date: Tue, 19 Jan 2038 03:14:08 GMT\r\n" },
	{ __LINE__, "2100 is no leap year", 4102444800LL, "Date: Fri, 01 Jan 2100 00:00:00 GMT\r\n" },
	{ __LINE__, "last second of 9999", 253402300799LL,
	  "Date: Fri, 31 Dec 9999 23:59:59 GMT\r\n" },
	{ __LINE__, "recent", 1700000000, "Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n" },
};

static void test_date_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(DATE_CASES); i++) {
		const struct date_case *c = &DATE_CASES[i];
		/* From a zeroed cache (which must build even for t == 0), and from
		 * one holding another second. */
		for (int from = 0; from < 2; from++) {
			struct http_date_cache d;
			memset(&d, 0, sizeof(d));
			if (from)
				http_date_update(&d, (time_t)(c->t + 86400 * 3 + 7));
			http_date_update(&d, (time_t)c->t);
			if (d.len != strlen(c->line_want) || memcmp(d.line, c->line_want, d.len) != 0)
				FAIL_ROW(c->line, c->name, "line \"%.*s\" (%u bytes), want \"%s\"",
					 (int)d.len, d.line, d.len, c->line_want);
			if (d.sec != (time_t)c->t)
				FAIL_ROW(c->line, c->name, "sec %lld", (long long)d.sec);
			if (d.len >= sizeof(d.line) || d.line[d.len] != '\0')
				FAIL_ROW(c->line, c->name, "not NUL-terminated");
		}
	}
	assert_int_equal(failures, 0);
}

static void test_date_cached(void **state)
{
	(void)state;
	struct http_date_cache d = example_date();
	assert_string_equal(d.line, DATE_LINE);
	/* Within the same second the line is not rebuilt: mark it and see the
	 * mark survive. */
	d.line[6] = 'X';
	http_date_update(&d, EXAMPLE_TIME);
	assert_int_equal(d.line[6], 'X');
	assert_int_equal(d.len, strlen(DATE_LINE));
	/* The next second rebuilds it. */
	http_date_update(&d, EXAMPLE_TIME + 1);
	assert_string_equal(d.line, "Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n");
	assert_int_equal(d.sec, EXAMPLE_TIME + 1);
	/* So does a step back (the wall clock may be set back). */
	http_date_update(&d, EXAMPLE_TIME);
	assert_string_equal(d.line, DATE_LINE);
	/* And a second that happens to equal a zeroed cache's sec. */
	memset(&d, 0, sizeof(d));
	http_date_update(&d, 0);
	assert_string_equal(d.line, "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
}

/* ---- capacity sweep ---------------------------------------------------------- */

#define PRE "prefix:"           /* readable bytes already in the buffer */
enum { PRE_LEN = sizeof(PRE) - 1, SKIP = 3 /* consumed bytes before them */,
       GUARD = 32, MEM_MAX = 2048 };

/* What a writer call is given, so one sweep serves all writers. */
struct writer {
	const struct http_resp_head *head;   /* http_resp_write_head / _page */
	int page;                            /* 0: head; 1: page; 2: error */
	bool include_body;
	int status;                          /* error */
	bool keep_alive;                     /* error */
};

static int call_writer(const struct writer *w, struct buf *b, const struct http_date_cache *d,
		       struct http_resp_head *after)
{
	struct http_resp_head h;
	switch (w->page) {
	case 0:
		return http_resp_write_head(b, w->head, d);
	case 1:
		h = *w->head;
		int rc = http_resp_write_page(b, &h, w->include_body, d);
		if (after)
			*after = h;
		return rc;
	default:
		return http_resp_write_error(b, w->status, w->keep_alive, w->include_body, d);
	}
}

/* Run w at every capacity up to an exact fit and then with room to spare
 * (*after: the head as the writer left it, then). */
static void sweep(int line, const char *name, const struct writer *w, const char *want,
		 size_t want_len, int want_rc, int *failures_out, struct http_resp_head *after)
{
	int failures = 0;
	struct http_date_cache d = example_date();
	if (after)
		memset(after, 0, sizeof(*after));
	static char mem[MEM_MAX + GUARD];
	assert_true(SKIP + PRE_LEN + want_len + 64 <= MEM_MAX);
	for (size_t room = 0; room <= want_len; room++) {
		memset(mem, '~', sizeof(mem));
		memcpy(mem + SKIP, PRE, PRE_LEN);
		struct buf b = { .data = mem, .rpos = SKIP, .wpos = SKIP + PRE_LEN,
				 .cap = (uint32_t)(SKIP + PRE_LEN + room) };
		int rc = call_writer(w, &b, &d, NULL);
		bool fits = room == want_len;
		if (memcmp(mem + SKIP, PRE, PRE_LEN) != 0 || b.rpos != SKIP ||
		    memcmp(mem, "~~~", SKIP) != 0) {
			FAIL_ROW(line, name, "room %zu: readable bytes changed", room);
			break;
		}
		for (size_t g = b.cap; g < sizeof(mem); g++)
			if (mem[g] != '~') {
				FAIL_ROW(line, name, "room %zu: wrote past cap (at +%zu)", room,
					 g - b.cap);
				goto out;
			}
		if (!fits && (rc != -1 || b.wpos != SKIP + PRE_LEN)) {
			FAIL_ROW(line, name, "room %zu of %zu: rc %d, wpos +%u: want -1, nothing",
				 room, want_len, rc, b.wpos - SKIP - PRE_LEN);
			break;
		}
		if (fits && (rc != want_rc || b.wpos != SKIP + PRE_LEN + want_len ||
			     memcmp(mem + SKIP + PRE_LEN, want, want_len) != 0)) {
			FAIL_ROW(line, name, "exact fit (%zu): rc %d, wrote\n%.*s\nwant\n%s", want_len,
				 rc, (int)(b.wpos - SKIP - PRE_LEN), mem + SKIP + PRE_LEN, want);
			break;
		}
	}
	/* Room to spare: the same bytes, nothing more. */
	char *big = calloc(1, MEM_MAX);
	assert_non_null(big);
	struct buf b = { .data = big, .rpos = 0, .wpos = 0, .cap = MEM_MAX };
	int rc = call_writer(w, &b, &d, after);
	if (rc != want_rc || b.wpos != want_len || memcmp(big, want, want_len) != 0)
		FAIL_ROW(line, name, "rc %d (want %d), wrote %u bytes\n%.*s\nwant %zu\n%s", rc,
			 want_rc, b.wpos, (int)b.wpos, big, want_len, want);
	free(big);
out:
	*failures_out += failures;
}

/* ---- http_resp_write_head ---------------------------------------------------- */

struct head_case {
	int line;
	const char *name;
	struct http_resp_head h;
	const char *want;
};

#define FIELDS(s) .fields = (s), .fields_len = sizeof(s) - 1
#define SLICE(s) { (s), sizeof(s) - 1 }
#define HEAD200 "HTTP/1.1 200 OK\r\n" SERVER_LINE DATE_LINE
#define KA "Connection: keep-alive\r\n\r\n"
#define CLOSE "Connection: close\r\n\r\n"

static const struct head_case HEAD_CASES[] = {
	{ __LINE__, "200 with a length, keep-alive",
	  { .status = 200, .keep_alive = true, .content_length = 5 },
	  HEAD200 "Content-Length: 5\r\n" KA },
	{ __LINE__, "200 close",
	  { .status = 200, .keep_alive = false, .content_length = 5 },
	  HEAD200 "Content-Length: 5\r\n" CLOSE },
	{ __LINE__, "200 with fields and type, in that order",
	  { .status = 200, .keep_alive = true, .content_length = 1234,
	    FIELDS("Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\nETag: \"1-2-3\"\r\n"
		   "Accept-Ranges: bytes\r\n"),
	    .content_type = SLICE("text/html; charset=utf-8") },
	  HEAD200 "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\nETag: \"1-2-3\"\r\n"
		  "Accept-Ranges: bytes\r\nContent-Type: text/html; charset=utf-8\r\n"
		  "Content-Length: 1234\r\n" KA },
	{ __LINE__, "a site's fields follow the file's, before the extra ones",
	  { .status = 200, .keep_alive = true, .content_length = 0,
	    FIELDS("ETag: \"1\"\r\n"), .site_fields = "X-Frame-Options: DENY\r\nX-Z: 9\r\n",
	    .site_fields_len = 23,
	    .extra = (const struct http_header[]){ { SLICE("Vary"), SLICE("Origin") } },
	    .extra_count = 1 },
	  HEAD200 "ETag: \"1\"\r\nX-Frame-Options: DENY\r\nVary: Origin\r\nContent-Length: 0\r\n" KA },
	{ __LINE__, "fields_len bounds the fields",
	  { .status = 200, .keep_alive = true, .content_length = 0,
	    .fields = "X-A: 1\r\nX-B: 2\r\n", .fields_len = 8 },
	  HEAD200 "X-A: 1\r\nContent-Length: 0\r\n" KA },
	{ __LINE__, "empty fields",
	  { .status = 200, .keep_alive = true, .content_length = 0, .fields = "", .fields_len = 0 },
	  HEAD200 "Content-Length: 0\r\n" KA },
	{ __LINE__, "content length 0 is sent",
	  { .status = 200, .keep_alive = false, .content_length = 0 },
	  HEAD200 "Content-Length: 0\r\n" CLOSE },
	{ __LINE__, "content length -1 is omitted (chunked)",
	  { .status = 200, .keep_alive = true, .content_length = -1,
	    FIELDS("Transfer-Encoding: chunked\r\n"), .content_type = SLICE("text/plain") },
	  HEAD200 "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n" KA },
	{ __LINE__, "content length -1, close-delimited",
	  { .status = 200, .keep_alive = false, .content_length = -1 },
	  HEAD200 CLOSE },
	{ __LINE__, "largest content length",
	  { .status = 200, .keep_alive = true, .content_length = INT64_MAX },
	  HEAD200 "Content-Length: 9223372036854775807\r\n" KA },
	{ __LINE__, "206 Content-Range",
	  { .status = 206, .keep_alive = true, .content_length = 50, .content_type = SLICE("image/png"),
	    .range_start = 100, .range_len = 50, .range_total = 1000 },
	  "HTTP/1.1 206 Partial Content\r\n" SERVER_LINE DATE_LINE "Content-Type: image/png\r\n"
	  "Content-Length: 50\r\nContent-Range: bytes 100-149/1000\r\n" KA },
	{ __LINE__, "206 first byte only",
	  { .status = 206, .keep_alive = false, .content_length = 1,
	    .range_start = 0, .range_len = 1, .range_total = 1 },
	  "HTTP/1.1 206 Partial Content\r\n" SERVER_LINE DATE_LINE
	  "Content-Length: 1\r\nContent-Range: bytes 0-0/1\r\n" CLOSE },
	{ __LINE__, "206 last byte of a large file",
	  { .status = 206, .keep_alive = true, .content_length = 1,
	    .range_start = 6815743, .range_len = 1, .range_total = 6815744 },
	  "HTTP/1.1 206 Partial Content\r\n" SERVER_LINE DATE_LINE
	  "Content-Length: 1\r\nContent-Range: bytes 6815743-6815743/6815744\r\n" KA },
	{ __LINE__, "206 beyond 4 GiB",
	  { .status = 206, .keep_alive = true, .content_length = 10,
	    .range_start = 5000000000LL, .range_len = 10, .range_total = 6000000000LL },
	  "HTTP/1.1 206 Partial Content\r\n" SERVER_LINE DATE_LINE
	  "Content-Length: 10\r\nContent-Range: bytes 5000000000-5000000009/6000000000\r\n" KA },
	{ __LINE__, "416 bytes */N",
	  { .status = 416, .keep_alive = true, .content_length = 0, .range_unsatisfied = true,
	    .range_total = 1234 },
	  "HTTP/1.1 416 Range Not Satisfiable\r\n" SERVER_LINE DATE_LINE
	  "Content-Length: 0\r\nContent-Range: bytes */1234\r\n" KA },
	{ __LINE__, "416 of an empty file",
	  { .status = 416, .keep_alive = false, .content_length = -1, .range_unsatisfied = true,
	    .range_total = 0 },
	  "HTTP/1.1 416 Range Not Satisfiable\r\n" SERVER_LINE DATE_LINE
	  "Content-Range: bytes */0\r\n" CLOSE },
	{ __LINE__, "416 without range_unsatisfied has no Content-Range",
	  { .status = 416, .keep_alive = true, .content_length = 0, .range_total = 9 },
	  "HTTP/1.1 416 Range Not Satisfiable\r\n" SERVER_LINE DATE_LINE
	  "Content-Length: 0\r\n" KA },
	{ __LINE__, "range fields ignored on a 200",
	  { .status = 200, .keep_alive = true, .content_length = 3,
	    .range_start = 1, .range_len = 1, .range_total = 3 },
	  HEAD200 "Content-Length: 3\r\n" KA },
	{ __LINE__, "301 Location",
	  { .status = 301, .keep_alive = true, .content_length = 0, .location = SLICE("/sub/") },
	  "HTTP/1.1 301 Moved Permanently\r\n" SERVER_LINE DATE_LINE
	  "Content-Length: 0\r\nLocation: /sub/\r\n" KA },
	{ __LINE__, "Location after Content-Range",
	  { .status = 206, .keep_alive = true, .content_length = 2, .location = SLICE("/x"),
	    .range_start = 2, .range_len = 2, .range_total = 4 },
	  "HTTP/1.1 206 Partial Content\r\n" SERVER_LINE DATE_LINE
	  "Content-Length: 2\r\nContent-Range: bytes 2-3/4\r\nLocation: /x\r\n" KA },
	{ __LINE__, "304 without length",
	  { .status = 304, .keep_alive = true, .content_length = -1,
	    FIELDS("ETag: \"a-b-c\"\r\n") },
	  "HTTP/1.1 304 Not Modified\r\n" SERVER_LINE DATE_LINE "ETag: \"a-b-c\"\r\n" KA },
	{ __LINE__, "error status close",
	  { .status = 505, .keep_alive = false, .content_length = 0 },
	  "HTTP/1.1 505 HTTP Version Not Supported\r\n" SERVER_LINE DATE_LINE
	  "Content-Length: 0\r\n" CLOSE },
	{ __LINE__, "unknown status",
	  { .status = 299, .keep_alive = true, .content_length = -1 },
	  "HTTP/1.1 299 Unknown\r\n" SERVER_LINE DATE_LINE KA },
};

static void test_head_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(HEAD_CASES); i++) {
		const struct head_case *c = &HEAD_CASES[i];
		struct writer w = { .head = &c->h, .page = 0 };
		sweep(c->line, c->name, &w, c->want, strlen(c->want), 0, &failures, NULL);
	}
	assert_int_equal(failures, 0);
}

/* An empty Date cache (never updated) adds no Date line. */
static void test_head_no_date(void **state)
{
	(void)state;
	struct http_date_cache d;
	memset(&d, 0, sizeof(d));
	char mem[256];
	struct buf b = { .data = mem, .cap = sizeof(mem) };
	struct http_resp_head h = { .status = 200, .keep_alive = true, .content_length = 1 };
	assert_int_equal(http_resp_write_head(&b, &h, &d), 0);
	const char *want = "HTTP/1.1 200 OK\r\n" SERVER_LINE "Content-Length: 1\r\n" KA;
	assert_int_equal(b.wpos, strlen(want));
	assert_memory_equal(mem, want, b.wpos);
}

/* ---- http_resp_write_page / http_resp_write_error ------------------------------ */

#define PAGE(code, reason)                                                         \
	"<!DOCTYPE html>\n<html><head><title>" code " " reason "</title></head>"     \
	"<body><h1>" code " " reason "</h1></body></html>\n"

struct page_case {
	int line;
	const char *name;
	int page;                  /* 1: http_resp_write_page, 2: http_resp_write_error */
	struct http_resp_head h;   /* page: the head given; error: status, keep_alive */
	const char *head, *body;   /* expected */
};

#define PHEAD(status_line, ctl, extra, conn)                                      \
	"HTTP/1.1 " status_line "\r\n" SERVER_LINE DATE_LINE                         \
	"Content-Type: text/html\r\nContent-Length: " ctl "\r\n" extra conn

static const struct page_case PAGE_CASES[] = {
	{ __LINE__, "404 close", 2, { .status = 404, .keep_alive = false },
	  PHEAD("404 Not Found", "106", "", CLOSE), PAGE("404", "Not Found") },
	{ __LINE__, "400 keep-alive", 2, { .status = 400, .keep_alive = true },
	  PHEAD("400 Bad Request", "110", "", KA), PAGE("400", "Bad Request") },
	{ __LINE__, "431, the longest reason", 2, { .status = 431, .keep_alive = false },
	  PHEAD("431 Request Header Fields Too Large", "150", "", CLOSE),
	  PAGE("431", "Request Header Fields Too Large") },
	{ __LINE__, "503", 2, { .status = 503, .keep_alive = false },
	  PHEAD("503 Service Unavailable", "126", "", CLOSE), PAGE("503", "Service Unavailable") },
	{ __LINE__, "301 page keeps Location", 1,
	  { .status = 301, .keep_alive = true, .location = SLICE("/a%20dir/") },
	  PHEAD("301 Moved Permanently", "122", "Location: /a%20dir/\r\n", KA),
	  PAGE("301", "Moved Permanently") },
	{ __LINE__, "416 page keeps Content-Range", 1,
	  { .status = 416, .keep_alive = true, .range_unsatisfied = true, .range_total = 77 },
	  PHEAD("416 Range Not Satisfiable", "130", "Content-Range: bytes */77\r\n", KA),
	  PAGE("416", "Range Not Satisfiable") },
	{ __LINE__, "page replaces the given length and type", 1,
	  { .status = 500, .keep_alive = false, .content_length = 99999,
	    .content_type = SLICE("image/png") },
	  PHEAD("500 Internal Server Error", "130", "", CLOSE),
	  PAGE("500", "Internal Server Error") },
	{ __LINE__, "page keeps the given fields", 1,
	  { .status = 403, .keep_alive = true, FIELDS("X-Why: because\r\n") },
	  "HTTP/1.1 403 Forbidden\r\n" SERVER_LINE DATE_LINE "X-Why: because\r\n"
	  "Content-Type: text/html\r\nContent-Length: 106\r\n" KA, PAGE("403", "Forbidden") },
	{ __LINE__, "unknown status", 2, { .status = 299, .keep_alive = true },
	  PHEAD("299 Unknown", "102", "", KA), PAGE("299", "Unknown") },
};

static void test_page_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(PAGE_CASES); i++) {
		const struct page_case *c = &PAGE_CASES[i];
		size_t hl = strlen(c->head), bl = strlen(c->body);
		char *full = malloc(hl + bl + 1);
		assert_non_null(full);
		memcpy(full, c->head, hl);
		memcpy(full + hl, c->body, bl + 1);
		/* The Content-Length in the expected head is the body's length. */
		char cl[40];
		snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", bl);
		if (!strstr(c->head, cl))
			FAIL_ROW(c->line, c->name, "row: body is %zu bytes", bl);
		for (int get = 1; get >= 0; get--) {
			struct writer w = { .head = &c->h, .page = c->page, .include_body = get,
					    .status = c->h.status, .keep_alive = c->h.keep_alive };
			char name[128];
			snprintf(name, sizeof(name), "%s (%s)", c->name, get ? "GET" : "HEAD");
			/* GET: head then body; HEAD: the identical head alone. Both
			 * return the body's length. */
			struct http_resp_head after;
			sweep(c->line, name, &w, full, get ? hl + bl : hl, (int)bl, &failures, &after);
			if (c->page == 1 && (after.content_length != (int64_t)bl || after.content_type.len != 9 ||
					     memcmp(after.content_type.p, "text/html", 9) != 0))
				FAIL_ROW(c->line, name, "head not updated: length %lld",
					 (long long)after.content_length);
		}
		free(full);
	}
	assert_int_equal(failures, 0);
}

/* Every status we send as a page fits HTTP_RESP_ERROR_MAX_BYTES, and its
 * reason is the table's. */
static void test_error_max_bytes(void **state)
{
	(void)state;
	static const int statuses[] = { 301, 400, 403, 404, 408, 411, 413, 414, 416, 431,
					500, 501, 503, 505 };
	struct http_date_cache d = example_date();
	for (size_t i = 0; i < ARRAY_LEN(statuses); i++) {
		for (int ka = 0; ka < 2; ka++) {
			char mem[HTTP_RESP_ERROR_MAX_BYTES];
			struct buf b = { .data = mem, .cap = sizeof(mem) };
			int blen = http_resp_write_error(&b, statuses[i], ka, true, &d);
			assert_true(blen > 0);
			assert_true(b.wpos <= HTTP_RESP_ERROR_MAX_BYTES);
			char status_line[80];
			snprintf(status_line, sizeof(status_line), "HTTP/1.1 %d %s\r\n", statuses[i],
				 http_reason(statuses[i]));
			assert_memory_equal(mem, status_line, strlen(status_line));
			/* The body is the last blen bytes. */
			assert_memory_equal(mem + b.wpos - (uint32_t)blen, "<!DOCTYPE html>\n", 16);
			assert_memory_equal(mem + b.wpos - 8, "</html>\n", 8);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_table),
		cmocka_unit_test(test_date_table),
		cmocka_unit_test(test_date_cached),
		cmocka_unit_test(test_head_table),
		cmocka_unit_test(test_head_no_date),
		cmocka_unit_test(test_page_table),
		cmocka_unit_test(test_error_max_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
