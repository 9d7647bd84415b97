/*
 * Unit tests for cors.c: which Origin may read an answer, the judgement of
 * a preflight, and the comma-separated lists they use.
 *
 * Requests are real heads parsed by http_head_scan/http_head_parse, from a
 * heap copy of exactly their length, so the slices cors returns are the
 * request's own bytes and an ASan build catches a read past them. Sites are
 * struct site_serve values built here. Every table row carries its
 * __LINE__; a failing row prints it and its name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cors.h"
#include "http_parse.h"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_cors.c:%d: %s: ", (line), (name));           \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- sites ------------------------------------------------------------------ */

enum site_id { S_OFF, S_LIST, S_STAR, S_HDRS, S_ODD };

static const char *const LIST_ORIGINS[] = { "https://a.example", "http://b.example:8080" };
static const char *const STAR_ORIGINS[] = { "*" };

static const struct site_serve SITES[] = {
	[S_OFF] = { .cors_methods = "GET, HEAD, POST" },
	[S_LIST] = { .cors_origins = LIST_ORIGINS, .cors_origin_count = 2,
		     .cors_methods = "GET, HEAD, POST" },
	[S_STAR] = { .cors_origins = STAR_ORIGINS, .cors_origin_count = 1,
		     .cors_methods = "GET, HEAD, POST" },
	[S_HDRS] = { .cors_origins = LIST_ORIGINS, .cors_origin_count = 2,
		     .cors_methods = "GET, PUT", .cors_headers = "X-A, x-b, Content-Type" },
	[S_ODD] = { .cors_origins = STAR_ORIGINS, .cors_origin_count = 1,
		    .cors_methods = "GET,PUT ,\tPATCH", .cors_headers = "\tx-a,,X-B " },
};

/* ---- requests --------------------------------------------------------------- */

struct parsed {
	char *buf;
	size_t len;
	struct http_request req;
};

/* Parse "METHOD / HTTP/1.1", Host and the fields (whole lines with CRLF). */
static void parse_request(const char *method, const char *fields, struct parsed *p)
{
	char head[1024];
	int n = snprintf(head, sizeof(head), "%s / HTTP/1.1\r\nHost: h.test\r\n%s\r\n", method,
			 fields);
	assert_true(n > 0 && (size_t)n < sizeof(head));
	p->buf = malloc((size_t)n);
	assert_non_null(p->buf);
	memcpy(p->buf, head, (size_t)n);
	p->len = (size_t)n;
	struct http_scan s;
	http_scan_reset(&s);
	assert_int_equal(http_head_scan(p->buf, (size_t)n, &s), n);
	int st = http_head_parse(p->buf, (size_t)n, 0, &p->req);
	/* OPTIONS is a method the parser leaves to the caller (501); the
	 * fields are parsed all the same. */
	assert_true(st == 0 || (st == 501 && p->req.method == HTTP_METHOD_OTHER));
}

/* Does slice s point into the request's buffer? */
static bool in_request(const struct parsed *p, struct http_slice s)
{
	return s.p >= p->buf && s.p + s.len <= p->buf + p->len;
}

static bool slice_is(struct http_slice s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* ---- cors_allow_origin ------------------------------------------------------ */

struct origin_case {
	int line;
	const char *name;
	enum site_id site;
	const char *fields;
	const char *want;       /* "": none */
	bool vary;
	bool echoed;            /* the request's own bytes, not the site's */
};

static const struct origin_case ORIGIN_CASES[] = {
	{ __LINE__, "off, no Origin", S_OFF, "", "", false, false },
	{ __LINE__, "off, an Origin", S_OFF, "Origin: https://a.example\r\n", "", false, false },
	{ __LINE__, "listed", S_LIST, "Origin: https://a.example\r\n", "https://a.example", true,
	  true },
	{ __LINE__, "listed, second", S_LIST, "Origin: http://b.example:8080\r\n",
	  "http://b.example:8080", true, true },
	{ __LINE__, "listed, other case: its own value", S_LIST, "Origin: HTTPS://A.Example\r\n",
	  "HTTPS://A.Example", true, true },
	{ __LINE__, "field name in any case", S_LIST, "oRIGIN: https://a.example\r\n",
	  "https://a.example", true, true },
	{ __LINE__, "OWS around the value", S_LIST, "Origin:   https://a.example \t\r\n",
	  "https://a.example", true, true },
	{ __LINE__, "not listed", S_LIST, "Origin: https://c.example\r\n", "", true, false },
	{ __LINE__, "listed plus a suffix", S_LIST, "Origin: https://a.example.evil\r\n", "", true,
	  false },
	{ __LINE__, "a prefix of a listed one", S_LIST, "Origin: https://a.exampl\r\n", "", true,
	  false },
	{ __LINE__, "other scheme", S_LIST, "Origin: http://a.example\r\n", "", true, false },
	{ __LINE__, "other port", S_LIST, "Origin: http://b.example:8081\r\n", "", true, false },
	{ __LINE__, "without the port", S_LIST, "Origin: http://b.example\r\n", "", true, false },
	{ __LINE__, "null", S_LIST, "Origin: null\r\n", "", true, false },
	{ __LINE__, "empty Origin", S_LIST, "Origin:\r\n", "", true, false },
	{ __LINE__, "no Origin: varies all the same", S_LIST, "", "", true, false },
	{ __LINE__, "two listed in one field", S_LIST,
	  "Origin: https://a.example http://b.example:8080\r\n", "", true, false },
	{ __LINE__, "star, an Origin", S_STAR, "Origin: https://c.example\r\n", "*", false, false },
	{ __LINE__, "star, no Origin", S_STAR, "", "*", false, false },
	{ __LINE__, "star, null", S_STAR, "Origin: null\r\n", "*", false, false },
};

static void test_allow_origin_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(ORIGIN_CASES); i++) {
		const struct origin_case *c = &ORIGIN_CASES[i];
		struct parsed p;
		parse_request("GET", c->fields, &p);
		bool vary = !c->vary;
		struct http_slice got = cors_allow_origin(&SITES[c->site], &p.req, &vary);
		if (!slice_is(got, c->want))
			FAIL_ROW(c->line, c->name, "\"%.*s\", want \"%s\"", (int)got.len, got.p,
				 c->want);
		if (vary != c->vary)
			FAIL_ROW(c->line, c->name, "vary_origin %d, want %d", vary, c->vary);
		if (c->echoed && !in_request(&p, got))
			FAIL_ROW(c->line, c->name, "not the request's own Origin bytes");
		free(p.buf);
	}
	assert_int_equal(failures, 0);
}

/* ---- cors_preflight --------------------------------------------------------- */

#define ACRM "Access-Control-Request-Method: "
#define ACRH "Access-Control-Request-Headers: "
#define ORIGIN_A "Origin: https://a.example\r\n"

struct preflight_case {
	int line;
	const char *name;
	enum site_id site;
	const char *fields;
	enum cors_preflight want;
	/* For CORS_ALLOWED: */
	const char *origin;
	bool vary;
	const char *headers;
};

static const struct preflight_case PREFLIGHT_CASES[] = {
	/* Not a preflight */
	{ __LINE__, "nothing", S_LIST, "", CORS_NOT_PREFLIGHT, NULL, false, NULL },
	{ __LINE__, "no Origin", S_LIST, ACRM "GET\r\n", CORS_NOT_PREFLIGHT, NULL, false, NULL },
	{ __LINE__, "no method", S_LIST, ORIGIN_A, CORS_NOT_PREFLIGHT, NULL, false, NULL },
	{ __LINE__, "headers only", S_LIST, ORIGIN_A ACRH "X-A\r\n", CORS_NOT_PREFLIGHT, NULL,
	  false, NULL },
	{ __LINE__, "star site, no Origin", S_STAR, ACRM "GET\r\n", CORS_NOT_PREFLIGHT, NULL, false,
	  NULL },
	/* Allowed */
	{ __LINE__, "listed, GET", S_LIST, ORIGIN_A ACRM "GET\r\n", CORS_ALLOWED,
	  "https://a.example", true, "" },
	{ __LINE__, "listed, POST", S_LIST, ORIGIN_A ACRM "POST\r\n", CORS_ALLOWED,
	  "https://a.example", true, "" },
	{ __LINE__, "listed, other case", S_LIST, "Origin: HTTPS://a.EXAMPLE\r\n" ACRM "HEAD\r\n",
	  CORS_ALLOWED, "HTTPS://a.EXAMPLE", true, "" },
	{ __LINE__, "star", S_STAR, "Origin: https://z.example\r\n" ACRM "POST\r\n", CORS_ALLOWED,
	  "*", false, "" },
	{ __LINE__, "method with OWS", S_LIST, ORIGIN_A ACRM "  GET \r\n", CORS_ALLOWED,
	  "https://a.example", true, "" },
	{ __LINE__, "odd list, PATCH", S_ODD, "Origin: https://z.example\r\n" ACRM "PATCH\r\n",
	  CORS_ALLOWED, "*", false, "" },
	{ __LINE__, "odd list, PUT", S_ODD, "Origin: https://z.example\r\n" ACRM "PUT\r\n",
	  CORS_ALLOWED, "*", false, "" },
	/* Refused */
	{ __LINE__, "origin not listed", S_LIST, "Origin: https://c.example\r\n" ACRM "GET\r\n",
	  CORS_REFUSED, NULL, false, NULL },
	{ __LINE__, "empty origin", S_LIST, "Origin:\r\n" ACRM "GET\r\n", CORS_REFUSED, NULL, false,
	  NULL },
	{ __LINE__, "CORS off", S_OFF, ORIGIN_A ACRM "GET\r\n", CORS_REFUSED, NULL, false, NULL },
	{ __LINE__, "method in lower case", S_LIST, ORIGIN_A ACRM "get\r\n", CORS_REFUSED, NULL,
	  false, NULL },
	{ __LINE__, "method not listed", S_LIST, ORIGIN_A ACRM "PUT\r\n", CORS_REFUSED, NULL, false,
	  NULL },
	{ __LINE__, "method, a prefix", S_LIST, ORIGIN_A ACRM "GE\r\n", CORS_REFUSED, NULL, false,
	  NULL },
	{ __LINE__, "method, longer", S_LIST, ORIGIN_A ACRM "GETS\r\n", CORS_REFUSED, NULL, false,
	  NULL },
	{ __LINE__, "method, two of them", S_LIST, ORIGIN_A ACRM "GET, HEAD\r\n", CORS_REFUSED,
	  NULL, false, NULL },
	{ __LINE__, "method, empty", S_LIST, ORIGIN_A ACRM "\r\n", CORS_REFUSED, NULL, false,
	  NULL },
	{ __LINE__, "star site, method not listed", S_STAR,
	  "Origin: https://z.example\r\n" ACRM "DELETE\r\n", CORS_REFUSED, NULL, false, NULL },
	{ __LINE__, "star site, lower case", S_STAR, "Origin: https://z.example\r\n" ACRM "post\r\n",
	  CORS_REFUSED, NULL, false, NULL },
	/* Request headers: any asked, when the site lists none */
	{ __LINE__, "asked, no list", S_LIST, ORIGIN_A ACRM "GET\r\n" ACRH "X-Custom\r\n",
	  CORS_ALLOWED, "https://a.example", true, "X-Custom" },
	{ __LINE__, "asked with odd spacing, no list", S_LIST,
	  ORIGIN_A ACRM "GET\r\n" ACRH "X-A ,  x-b\r\n", CORS_ALLOWED, "https://a.example", true,
	  "X-A ,  x-b" },
	{ __LINE__, "asked, empty, no list", S_LIST, ORIGIN_A ACRM "GET\r\n" ACRH "\r\n",
	  CORS_ALLOWED, "https://a.example", true, "" },
	/* ... and only those of the site's list when it has one */
	{ __LINE__, "asked one", S_HDRS, ORIGIN_A ACRM "GET\r\n" ACRH "x-a\r\n", CORS_ALLOWED,
	  "https://a.example", true, "X-A, x-b, Content-Type" },
	{ __LINE__, "asked, odd spacing", S_HDRS, ORIGIN_A ACRM "PUT\r\n" ACRH "X-A ,  x-b\r\n",
	  CORS_ALLOWED, "https://a.example", true, "X-A, x-b, Content-Type" },
	{ __LINE__, "asked, tab and no blank", S_HDRS,
	  ORIGIN_A ACRM "GET\r\n" ACRH "X-A\t,X-B,content-type\r\n", CORS_ALLOWED,
	  "https://a.example", true, "X-A, x-b, Content-Type" },
	{ __LINE__, "asked, empty elements", S_HDRS, ORIGIN_A ACRM "GET\r\n" ACRH ",, x-a,,\r\n",
	  CORS_ALLOWED, "https://a.example", true, "X-A, x-b, Content-Type" },
	{ __LINE__, "asked none, with a list", S_HDRS, ORIGIN_A ACRM "GET\r\n", CORS_ALLOWED,
	  "https://a.example", true, "" },
	{ __LINE__, "asked empty, with a list", S_HDRS, ORIGIN_A ACRM "GET\r\n" ACRH "\r\n",
	  CORS_ALLOWED, "https://a.example", true, "" },
	{ __LINE__, "asked one not listed", S_HDRS, ORIGIN_A ACRM "GET\r\n" ACRH "x-a, x-c\r\n",
	  CORS_REFUSED, NULL, false, NULL },
	{ __LINE__, "asked a prefix of one", S_HDRS, ORIGIN_A ACRM "GET\r\n" ACRH "x-\r\n",
	  CORS_REFUSED, NULL, false, NULL },
	{ __LINE__, "asked a longer one", S_HDRS, ORIGIN_A ACRM "GET\r\n" ACRH "x-ab\r\n",
	  CORS_REFUSED, NULL, false, NULL },
	{ __LINE__, "asked fine, method not", S_HDRS, ORIGIN_A ACRM "POST\r\n" ACRH "x-a\r\n",
	  CORS_REFUSED, NULL, false, NULL },
	{ __LINE__, "odd site list", S_ODD,
	  "Origin: https://z.example\r\n" ACRM "GET\r\n" ACRH "X-a, x-B\r\n", CORS_ALLOWED, "*",
	  false, "\tx-a,,X-B " },
	{ __LINE__, "odd site list, refused", S_ODD,
	  "Origin: https://z.example\r\n" ACRM "GET\r\n" ACRH "X-C\r\n", CORS_REFUSED, NULL, false,
	  NULL },
};

static const char *preflight_name(enum cors_preflight p)
{
	switch (p) {
	case CORS_NOT_PREFLIGHT: return "NOT_PREFLIGHT";
	case CORS_ALLOWED: return "ALLOWED";
	case CORS_REFUSED: return "REFUSED";
	}
	return "?";
}

static void test_preflight_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(PREFLIGHT_CASES); i++) {
		const struct preflight_case *c = &PREFLIGHT_CASES[i];
		struct parsed p;
		parse_request("OPTIONS", c->fields, &p);
		struct http_slice origin = { "junk", 4 }, headers = { "junk", 4 };
		bool vary = !c->vary;
		enum cors_preflight got =
			cors_preflight(&SITES[c->site], &p.req, &origin, &vary, &headers);
		if (got != c->want) {
			FAIL_ROW(c->line, c->name, "%s, want %s", preflight_name(got),
				 preflight_name(c->want));
		} else if (got == CORS_ALLOWED) {
			if (!slice_is(origin, c->origin))
				FAIL_ROW(c->line, c->name, "origin \"%.*s\", want \"%s\"",
					 (int)origin.len, origin.p, c->origin);
			if (vary != c->vary)
				FAIL_ROW(c->line, c->name, "vary_origin %d, want %d", vary, c->vary);
			if (!slice_is(headers, c->headers))
				FAIL_ROW(c->line, c->name, "allow_headers \"%.*s\", want \"%s\"",
					 (int)headers.len, headers.p, c->headers);
		}
		free(p.buf);
	}
	assert_int_equal(failures, 0);
}

/* The allowed request headers, when the site lists none, are the request's
 * own bytes (valid as long as the request is). */
static void test_preflight_borrows(void **state)
{
	(void)state;
	struct parsed p;
	parse_request("OPTIONS", ORIGIN_A ACRM "GET\r\n" ACRH "X-Custom\r\n", &p);
	struct http_slice origin, headers;
	bool vary;
	assert_int_equal(cors_preflight(&SITES[S_LIST], &p.req, &origin, &vary, &headers),
			 CORS_ALLOWED);
	assert_true(in_request(&p, origin));
	assert_true(in_request(&p, headers));
	assert_ptr_equal(headers.p, http_find_header(&p.req, "access-control-request-headers")->value.p);
	free(p.buf);
}

/* ---- cors_list_has ---------------------------------------------------------- */

static void test_list_has_table(void **state)
{
	(void)state;
	static const struct {
		int line;
		const char *list;
		const char *item;
		size_t n;           /* 0: strlen(item) */
		bool ignore_case;
		bool want;
	} rows[] = {
		{ __LINE__, "GET, HEAD, POST", "GET", 0, false, true },
		{ __LINE__, "GET, HEAD, POST", "HEAD", 0, false, true },
		{ __LINE__, "GET, HEAD, POST", "POST", 0, false, true },
		{ __LINE__, "GET, HEAD, POST", "get", 0, false, false },
		{ __LINE__, "GET, HEAD, POST", "get", 0, true, true },
		{ __LINE__, "GET, HEAD, POST", "GE", 0, false, false },
		{ __LINE__, "GET, HEAD, POST", "GETS", 0, false, false },
		{ __LINE__, "GET, HEAD, POST", "PUT", 0, false, false },
		{ __LINE__, "GET, HEAD, POST", "GET, HEAD", 0, false, false },
		{ __LINE__, "GET, HEAD, POST", "", 0, false, false },
		{ __LINE__, "GET, HEAD, POST", "GETX", 3, false, true },  /* n bounds the item */
		{ __LINE__, "GET, HEAD, POST", "HEADER", 4, true, true },
		{ __LINE__, "", "GET", 0, false, false },
		{ __LINE__, ",, ,\t", "GET", 0, false, false },
		{ __LINE__, ",, ,\t", "", 0, false, false },
		{ __LINE__, "a,b", "b", 0, false, true },
		{ __LINE__, "a,b", "a", 0, false, true },
		{ __LINE__, "  a  ,  b  ", "a", 0, false, true },
		{ __LINE__, "  a  ,  b  ", "b", 0, false, true },
		{ __LINE__, "a\tb", "b", 0, false, true },      /* blanks separate too */
		{ __LINE__, "a b", "a b", 0, false, false },
		{ __LINE__, "ab", "a", 0, false, false },
		{ __LINE__, "ab", "b", 0, false, false },
		{ __LINE__, "a, ab", "ab", 0, false, true },
		{ __LINE__, "ab, a", "a", 0, false, true },
		{ __LINE__, "X-Requested-With", "x-requested-with", 0, true, true },
		{ __LINE__, "X-Requested-With", "x-requested-with", 0, false, false },
		{ __LINE__, "Content-Type,X-A", "CONTENT-TYPE", 0, true, true },
	};
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		size_t n = rows[i].n ? rows[i].n : strlen(rows[i].item);
		/* The item from an exact-length copy: n bytes, no NUL. */
		char *item = malloc(n ? n : 1);
		assert_non_null(item);
		memcpy(item, rows[i].item, n);
		bool got = cors_list_has(rows[i].list, item, n, rows[i].ignore_case);
		if (got != rows[i].want)
			FAIL_ROW(rows[i].line, rows[i].item, "in \"%s\" (%s): %d, want %d",
				 rows[i].list, rows[i].ignore_case ? "any case" : "exact", got,
				 rows[i].want);
		free(item);
	}
	assert_int_equal(failures, 0);
}

/* cors_enabled is the count of origins, nothing else. */
static void test_enabled(void **state)
{
	(void)state;
	assert_false(cors_enabled(&SITES[S_OFF]));
	assert_true(cors_enabled(&SITES[S_LIST]));
	assert_true(cors_enabled(&SITES[S_STAR]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_origin_table),
		cmocka_unit_test(test_preflight_table),
		cmocka_unit_test(test_preflight_borrows),
		cmocka_unit_test(test_list_has_table),
		cmocka_unit_test(test_enabled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
