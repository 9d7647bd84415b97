/*
 * Unit tests for http_parse: the head scanner, the head parser and the
 * chunked decoder.
 *
 * Every table case runs four ways and must give the same outcome each time:
 *   whole     the whole input in one exactly-sized heap buffer;
 *   bytewise  http_head_scan fed one more byte at a time over the same buffer;
 *   split     random (seeded, deterministic) split points, each prefix copied
 *             so that it ends right before a PROT_NONE guard page;
 *   guard     the whole input ending right before the guard page, and the
 *             head alone placed there for http_head_parse.
 * A failing case prints its source line and name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http_parse.h"

/* Expectations: 0 means "not checked" throughout. */
enum { U = 0, Y = 1, N = 2 };
enum { AGAIN = -1 };                 /* status: head still incomplete */
#define CL(n) .cl_chk = 1, .cl = (n)  /* content_length; CL(-1): absent */
#define HC(n) ((n) + 1)              /* header_count */

struct head_case {
	int line;
	const char *name;
	const char *in;       /* NULL: built by build(arg) */
	size_t in_len;
	size_t (*build)(char *out, size_t arg);
	size_t arg;
	unsigned fl;          /* http_head_parse flags */
	int st;               /* expected status (0, 4xx, 5xx, AGAIN) */
	int fk;               /* framing_known Y/N */
	size_t hl;            /* expected head length; 0: the whole input */
	const char *m, *t, *path, *q;
	int hq;               /* has_query */
	int v;                /* 10 * major + minor */
	int cl_chk;
	int64_t cl;
	int ch, ka, ex, hh;   /* chunked, keep_alive, expect_continue, has_host */
	int af;               /* absolute_form */
	const char *host, *conn, *ctype, *ua;
	int hc;
};

#define C(nm, s) .line = __LINE__, .name = nm, .in = s, .in_len = sizeof(s) - 1
#define G(nm, fn, a) .line = __LINE__, .name = nm, .build = fn, .arg = a
#define OK .st = 0, .fk = Y
#define E(code, f) .st = code, .fk = f
#define HOPT .fl = HTTP_PARSE_HOST_OPTIONAL

#define REQ11 "GET / HTTP/1.1\r\nHost: a\r\n"

/* ------------------------------------------------------------ builders */

#define MAX_INPUT (80 * 1024)

static size_t put(char *o, size_t at, const char *s)
{
	size_t n = strlen(s);

	memcpy(o + at, s, n);
	return at + n;
}

static size_t fill(char *o, size_t at, char c, size_t n)
{
	memset(o + at, c, n);
	return at + n;
}

/* request line of exactly arg bytes (CRLF excluded), then a valid head */
static size_t b_reqline(char *o, size_t arg)
{
	size_t at = put(o, 0, "GET /");

	at = fill(o, at, 'a', arg - 14);
	return put(o, at, " HTTP/1.1\r\nHost: a\r\n\r\n");
}

/* request line of arg bytes and no line end yet */
static size_t b_reqline_open(char *o, size_t arg)
{
	size_t at = put(o, 0, "GET /");

	return fill(o, at, 'a', arg - 5);
}

/* one header line of exactly arg bytes (CRLF excluded) */
static size_t b_hdrline(char *o, size_t arg)
{
	size_t at = put(o, 0, REQ11 "X: ");

	at = fill(o, at, 'b', arg - 3);
	return put(o, at, "\r\n\r\n");
}

/* header line of arg bytes with no line end yet */
static size_t b_hdrline_open(char *o, size_t arg)
{
	size_t at = put(o, 0, REQ11 "X: ");

	return fill(o, at, 'b', arg - 3);
}

/* a complete head of exactly arg bytes */
static size_t b_head(char *o, size_t arg)
{
	size_t at = put(o, 0, REQ11);
	size_t rem = arg - at - 2;

	while (rem > 0) {
		size_t l = rem > 8000 ? 8000 : rem;

		if (rem - l > 0 && rem - l < 4)
			l -= 4;
		at = put(o, at, "X:");
		at = fill(o, at, 'c', l - 4);
		at = put(o, at, "\r\n");
		rem -= l;
	}
	return put(o, at, "\r\n");
}

/* arg header fields (Host included) */
static size_t b_nheaders(char *o, size_t arg)
{
	size_t at = put(o, 0, REQ11), i;

	for (i = 1; i < arg; i++) {
		char line[32];

		snprintf(line, sizeof(line), "X-%zu: v\r\n", i);
		at = put(o, at, line);
	}
	return put(o, at, "\r\n");
}

/* arg empty lines (CRLF) before a valid request */
static size_t b_leading(char *o, size_t arg)
{
	size_t at = 0, i;

	for (i = 0; i < arg; i++)
		at = put(o, at, "\r\n");
	return put(o, at, REQ11 "\r\n");
}

/* 70 000 bytes of CRLF: never a request line, the head limit stops it */
static size_t b_crlf_flood(char *o, size_t arg)
{
	size_t at = 0, i;

	for (i = 0; i < arg; i++)
		at = put(o, at, "\r\n");
	return at;
}

/* arg header fields (Host included) and no end of head yet */
static size_t b_nheaders_open(char *o, size_t arg)
{
	return b_nheaders(o, arg) - 2;
}

/* arg header fields and the CR of the final CRLF */
static size_t b_nheaders_cr(char *o, size_t arg)
{
	return b_nheaders(o, arg) - 1;
}

/* request line of arg bytes, then a CR and a byte that is not LF */
static size_t b_reqline_cr_x(char *o, size_t arg)
{
	return put(o, b_reqline_open(o, arg), "\rX");
}

/* header line of arg bytes, then a CR and a byte that is not LF */
static size_t b_hdrline_cr_x(char *o, size_t arg)
{
	return put(o, b_hdrline_open(o, arg), "\rX");
}

/* arg header fields (Host included), then a CR and a byte that is not LF */
static size_t b_nheaders_cr_x(char *o, size_t arg)
{
	return put(o, b_nheaders_cr(o, arg), "X");
}

/* arg CRLFs, then the first byte of a request line */
static size_t b_crlf_then_g(char *o, size_t arg)
{
	return put(o, b_crlf_flood(o, arg), "G");
}

/* ---------------------------------------------------------------- table */

static const struct head_case head_cases[] = {
	/* valid forms */
	{ C("simple GET", REQ11 "\r\n"), OK, .m = "GET", .t = "/", .path = "/",
	  .hq = N, .v = 11, CL(-1), .ch = N, .ka = Y, .ex = N, .hh = Y,
	  .host = "a", .hc = HC(1) },
	{ C("HEAD", "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"), OK, .m = "HEAD",
	  .t = "/x", .v = 11, .ka = Y },
	{ C("POST with body after head",
	    "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
	  OK, .hl = 48, .m = "POST", CL(5), .ch = N, .ka = Y },
	{ C("POST chunked", "POST /p HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
	  OK, .hl = 57, CL(-1), .ch = Y },
	{ C("TE Chunked mixed case and OWS", "POST / HTTP/1.1\r\nHost: a\r\n"
	    "transfer-encoding: \t ChUnKeD \t\r\n\r\n"), OK, .ch = Y },
	{ C("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n"), OK, .v = 10,
	  .ka = N, .hh = N, .hc = HC(0) },
	{ C("HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
	  OK, .v = 10, .ka = Y, .conn = "keep-alive" },
	{ C("HTTP/1.0 Connection: close", "GET / HTTP/1.0\r\nConnection: close\r\n\r\n"),
	  OK, .ka = N },
	{ C("HTTP/1.0 Connection:Keep-Alive", "GET / HTTP/1.0\r\nConnection:Keep-Alive\r\n\r\n"),
	  OK, .ka = Y, .conn = "Keep-Alive" },
	{ C("HTTP/1.0 keep-alive in a list", "GET / HTTP/1.0\r\nConnection: Upgrade ,  KEEP-ALIVE\r\n\r\n"),
	  OK, .ka = Y },
	{ C("HTTP/1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
	  OK, .ka = N },
	{ C("1.1 Connection: close", REQ11 "Connection: close\r\n\r\n"), OK, .ka = N },
	{ C("1.1 Connection: Close trailing space", REQ11 "Connection: Close \r\n\r\n"),
	  OK, .ka = N, .conn = "Close" },
	{ C("1.1 Connection:Keep-Alive", REQ11 "Connection:Keep-Alive\r\n\r\n"),
	  OK, .ka = Y, .conn = "Keep-Alive" },
	{ C("1.1 close in a list", REQ11 "Connection: foo, close\r\n\r\n"), OK, .ka = N },
	{ C("1.1 'closed' is not close", REQ11 "Connection: closed\r\n\r\n"), OK, .ka = Y },
	{ C("1.1 close in 2nd Connection", REQ11 "Connection: te\r\nConnection: close\r\n\r\n"),
	  OK, .ka = N, .conn = "te" },
	{ C("query", "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: a\r\n\r\n"), OK,
	  .t = "/a/b?x=1&y=2", .path = "/a/b", .q = "x=1&y=2", .hq = Y },
	{ C("empty query", "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n"), OK,
	  .path = "/a", .q = "", .hq = Y },
	{ C("fragment", "GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n"), OK,
	  .path = "/a", .hq = N },
	{ C("query and fragment", "GET /a?q#f HTTP/1.1\r\nHost: a\r\n\r\n"), OK,
	  .path = "/a", .q = "q", .hq = Y },
	{ C("'?' inside fragment", "GET /a#f?q HTTP/1.1\r\nHost: a\r\n\r\n"), OK,
	  .path = "/a", .hq = N },
	{ C("one leading CRLF", "\r\n" REQ11 "\r\n"), OK, .m = "GET", .hl = 0 },
	{ G("three leading CRLFs", b_leading, 3), OK, .m = "GET", .t = "/" },
	{ C("OWS around value", "GET / HTTP/1.1\r\nHost: \t a \t \r\nX-Y:\tb c\t\r\n\r\n"),
	  OK, .host = "a", .hc = HC(2) },
	{ C("empty value", REQ11 "X-Empty:\r\nX-Sp:   \r\n\r\n"), OK, .hc = HC(3) },
	{ C("case-insensitive names", "GET / HTTP/1.1\r\nHOST: a\r\ncontent-LENGTH: 3\r\n\r\n"),
	  OK, CL(3), .host = "a" },
	{ C("CL 0", REQ11 "Content-Length: 0\r\n\r\n"), OK, CL(0) },
	{ C("CL leading zeros", REQ11 "Content-Length: 007\r\n\r\n"), OK, CL(7) },
	{ C("CL OWS", REQ11 "Content-Length:\t 12 \t\r\n\r\n"), OK, CL(12) },
	{ C("CL max int64", REQ11 "Content-Length: 9223372036854775807\r\n\r\n"),
	  OK, CL(INT64_MAX) },
	{ C("Expect 100-continue", REQ11 "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\n"),
	  OK, .ex = Y },
	{ C("Expect on 1.0 ignored", "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"),
	  OK, .ex = N },
	{ C("Expect other", REQ11 "Expect: foo\r\n\r\n"), OK, .ex = N },
	{ C("Host with port", "GET / HTTP/1.1\r\nHost: www.example.com:8080\r\n\r\n"),
	  OK, .host = "www.example.com:8080" },
	{ C("Host IPv6", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), OK, .host = "[::1]:80" },
	{ C("Host empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n"), OK, .hh = Y, .host = "" },
	{ C("obs-text in value", REQ11 "X: caf\xc3\xa9\r\n\r\n"), OK },
	{ C("obs-text in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"), OK },
	{ C("HTAB inside value", REQ11 "User-Agent: a\tb\r\n\r\n"), OK, .ua = "a\tb" },
	{ C("convenience slices", "GET / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n"
	    "User-Agent: ua/1\r\nReferer: http://r/\r\n\r\n"), OK,
	  .ctype = "text/plain", .ua = "ua/1", .hc = HC(4) },
	{ C("pipelined: first head only", REQ11 "\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"),
	  OK, .hl = 27, .t = "/" },
	{ C("HTTP/1.0 POST CL", "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nab"), OK,
	  .hl = 38, CL(2), .ka = N },
	{ G("request line 4095", b_reqline, 4095), OK },
	{ G("request line 4097", b_reqline, 4097), OK },
	{ G("request line 8191", b_reqline, 8191), OK },
	{ G("request line 8192", b_reqline, 8192), OK },
	{ G("header line 4095", b_hdrline, 4095), OK },
	{ G("header line 4097", b_hdrline, 4097), OK },
	{ G("header line 8191", b_hdrline, 8191), OK },
	{ G("header line 8192", b_hdrline, 8192), OK },
	{ G("head 65535", b_head, 65535), OK },
	{ G("head 65536", b_head, 65536), OK },
	{ G("100 header fields", b_nheaders, 100), OK, .hc = HC(100) },

	/* request-target forms (RFC 9112 §3.2) */
	{ C("origin-form is not absolute", REQ11 "\r\n"), OK, .af = N, .host = "a" },
	{ C("absolute-form", "GET http://a/b?c HTTP/1.1\r\nHost: a\r\n\r\n"), OK,
	  .t = "http://a/b?c", .path = "/b", .q = "c", .hq = Y, .af = Y, .hh = Y,
	  .host = "a", .ka = Y },
	{ C("absolute-form, review example", "GET http://localhost/index.html HTTP/1.1\r\n"
	    "Host: localhost\r\n\r\n"), OK, .path = "/index.html", .hq = N, .af = Y,
	  .host = "localhost" },
	{ C("absolute-form without Host", "GET http://localhost/index.html HTTP/1.1\r\n\r\n"),
	  OK, .path = "/index.html", .af = Y, .hh = Y, .host = "localhost", .hc = HC(0) },
	{ C("absolute-form https with port", "GET https://h:8443/x HTTP/1.1\r\n\r\n"), OK,
	  .path = "/x", .af = Y, .host = "h:8443" },
	{ C("absolute-form scheme case", "GET HtTpS://h/ HTTP/1.1\r\n\r\n"), OK,
	  .path = "/", .af = Y, .host = "h" },
	{ C("absolute-form empty path", "GET http://h HTTP/1.1\r\n\r\n"), OK,
	  .t = "http://h", .path = "/", .hq = N, .af = Y, .host = "h" },
	{ C("absolute-form empty path, query", "GET http://h?x=1 HTTP/1.1\r\n\r\n"), OK,
	  .path = "/", .q = "x=1", .hq = Y, .af = Y, .host = "h" },
	{ C("absolute-form empty path, fragment", "GET http://h#f HTTP/1.1\r\n\r\n"), OK,
	  .path = "/", .hq = N, .host = "h" },
	{ C("absolute-form empty query", "GET http://h/a? HTTP/1.1\r\n\r\n"), OK,
	  .path = "/a", .q = "", .hq = Y },
	{ C("absolute-form query and fragment", "GET http://h/a?q#f HTTP/1.1\r\n\r\n"), OK,
	  .path = "/a", .q = "q", .hq = Y },
	{ C("absolute-form path //", "GET http://h//x HTTP/1.1\r\n\r\n"), OK, .path = "//x" },
	{ C("absolute-form IPv6 authority", "GET http://[::1]:8080/p HTTP/1.1\r\n\r\n"), OK,
	  .path = "/p", .host = "[::1]:8080" },
	{ C("absolute-form authority wins over Host", "GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n"),
	  OK, .host = "a", .hh = Y },
	{ C("absolute-form with an empty Host", "GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n"), OK,
	  .host = "a" },
	{ C("absolute-form on HTTP/1.0", "GET http://a/x HTTP/1.0\r\n\r\n"), OK, .v = 10,
	  .path = "/x", .hh = Y, .host = "a", .ka = N },
	{ C("absolute-form, Host optional", "GET http://a/x HTTP/1.1\r\n\r\n"), HOPT, OK,
	  .path = "/x", .host = "a" },
	{ C("absolute-form POST with a body", "POST http://a/p HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"),
	  OK, .hl = 47, .path = "/p", CL(2) },
	{ C("absolute-form OPTIONS: 501", "OPTIONS http://a/ HTTP/1.1\r\n\r\n"), E(501, Y) },
	{ C("absolute-form empty authority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"),
	  E(400, Y), .af = N },
	{ C("absolute-form empty authority, no path", "GET http:// HTTP/1.1\r\nHost: a\r\n\r\n"),
	  E(400, Y) },
	{ C("absolute-form empty authority, query", "GET http://?q HTTP/1.1\r\nHost: a\r\n\r\n"),
	  E(400, Y) },
	{ C("absolute-form userinfo", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n"), E(400, Y) },
	{ C("absolute-form userinfo:password", "GET http://u:p@h/ HTTP/1.1\r\n\r\n"), E(400, Y) },
	{ C("absolute-form bad authority byte", "GET http://a{b}/ HTTP/1.1\r\n\r\n"), E(400, Y) },
	{ C("absolute-form other scheme", "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n"), E(400, Y) },
	{ C("absolute-form scheme without //", "GET http:/x HTTP/1.1\r\nHost: h\r\n\r\n"),
	  E(400, Y) },
	{ C("absolute-form scheme only", "GET http: HTTP/1.1\r\nHost: h\r\n\r\n"), E(400, Y) },
	{ C("absolute-form scheme prefix of a word", "GET httpx://h/ HTTP/1.1\r\nHost: h\r\n\r\n"),
	  E(400, Y) },
	{ C("absolute-form, repeated Host", "GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
	  E(400, Y) },
	{ C("absolute-form, invalid Host", "GET http://a/ HTTP/1.1\r\nHost: a b\r\n\r\n"),
	  E(400, Y) },
	{ C("absolute-form, Host with @", "GET http://a/ HTTP/1.1\r\nHost: u@a\r\n\r\n"),
	  E(400, Y) },
	{ C("asterisk-form with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y), .ka = Y },
	{ C("asterisk-form with HEAD", "HEAD * HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("asterisk-form with POST", "POST * HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
	  E(400, Y) },
	{ C("asterisk and more", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("asterisk-form, lowercase options", "options * HTTP/1.1\r\nHost: a\r\n\r\n"),
	  E(400, Y) },
	{ C("relative target", "GET index.html HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y), .ka = Y },
	{ C("relative target with OPTIONS: 400 wins", "OPTIONS x HTTP/1.1\r\nHost: a\r\n\r\n"),
	  E(400, Y) },
	{ C("query-only target", "GET ?a HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("authority-form target", "GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("bad target with a body", "POST x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab"),
	  E(400, N), .hl = 47 },

	/* 501: valid tokens we do not implement */
	{ C("PUT", "PUT /x HTTP/1.1\r\nHost: a\r\n\r\n"), E(501, Y), .m = "PUT" },
	{ C("DELETE", "DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n"), E(501, Y) },
	{ C("BREW", "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"), E(501, Y), .m = "BREW" },
	{ C("lowercase get", "get / HTTP/1.1\r\nHost: a\r\n\r\n"), E(501, Y), .m = "get" },
	{ C("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), E(501, Y), .t = "*" },
	{ C("PUT with CL 0", "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
	  E(501, Y), .ka = Y },
	{ C("PUT with a body", "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
	  E(501, N), .hl = 46, .ka = N },
	{ C("PUT chunked", "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  E(501, N) },

	/* 505 */
	{ C("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n"), E(505, N), .v = 20, .ka = N },
	{ C("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n"), E(505, N), .v = 12 },
	{ C("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n"), E(505, N) },
	{ C("HTTP/3.0 no Host", "GET / HTTP/3.0\r\n\r\n"), E(505, N) },
	{ C("505 beats 501", "BREW / HTTP/2.0\r\n\r\n"), E(505, N) },
	{ C("400 beats 505", "GET / HTTP/2.0\r\nBad line\r\n\r\n"), E(400, N) },

	/* request line 400 */
	{ C("double SP", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("SP before version twice", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("trailing SP", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("junk after version", "GET / HTTP/1.1 junk\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("leading SP", " GET / HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("no version", "GET /\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("only a method", "GET\r\n\r\n"), E(400, Y) },
	{ C("lowercase http", "GET / http/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("HTTP/1", "GET / HTTP/1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("HTTP/11.1", "GET / HTTP/11.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("HTTP/a.b", "GET / HTTP/a.b\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("method not a token", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("HTAB as separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("HTAB in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("CTL in target", "GET /a\x01" "b HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("SP in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("empty target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, Y) },
	{ C("CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, N) },
	{ C("CRCRLF after request line", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"), E(400, N) },
	{ C("bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n"), E(400, N) },
	{ C("leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), E(400, N) },
	{ C("bad request line with a body", "GET  / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"),
	  E(400, N), .hl = 47 },

	/* header syntax 400 */
	{ C("bare LF in header", REQ11 "X: a\nY: b\r\n\r\n"), E(400, N) },
	{ C("bare LF ends head", REQ11 "\n"), E(400, N), .hl = 26 },
	{ C("all bare LF", "GET / HTTP/1.1\nHost: a\n\n"), E(400, N) },
	{ C("bare CR in value", REQ11 "X: a\rb\r\n\r\n"), E(400, N) },
	{ C("bare CR line", REQ11 "\r\r\n\r\n"), E(400, N) },
	{ C("obs-fold", REQ11 "X: a\r\n b\r\n\r\n"), E(400, Y) },
	{ C("obs-fold HTAB", REQ11 "X: a\r\n\tb\r\n\r\n"), E(400, Y) },
	{ C("obs-fold after CL", REQ11 "Content-Length: 1\r\n 2\r\n\r\n"), E(400, N) },
	{ C("obs-fold after CL 0", REQ11 "Content-Length: 0\r\n 5\r\n\r\n"), E(400, N) },
	{ C("obs-fold after TE", REQ11 "Transfer-Encoding: chunked\r\n\tx\r\n\r\n"), E(400, N) },
	{ C("obs-fold first line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"), E(400, Y) },
	{ C("no colon", REQ11 "Foo\r\n\r\n"), E(400, Y) },
	{ C("SP before colon", REQ11 "X-A : b\r\n\r\n"), E(400, Y) },
	{ C("HTAB before colon", REQ11 "X-A\t: b\r\n\r\n"), E(400, Y) },
	{ C("Host with SP before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"), E(400, Y) },
	{ C("CL with SP before colon", REQ11 "Content-Length : 5\r\n\r\n"), E(400, N) },
	{ C("TE with SP before colon", REQ11 "Transfer-Encoding : chunked\r\n\r\n"), E(400, N) },
	{ C("empty name", REQ11 ": a\r\n\r\n"), E(400, Y) },
	{ C("name not a token", REQ11 "X(a): b\r\n\r\n"), E(400, Y) },
	{ C("CTL in value", REQ11 "X: a\x01" "b\r\n\r\n"), E(400, Y) },
	{ C("DEL in value", REQ11 "X: a\x7f\r\n\r\n"), E(400, Y) },
	{ C("ESC in CL value", REQ11 "Content-Length: 1\x1b\r\n\r\n"), E(400, N) },
	{ C("NUL in value", REQ11 "X: a\0b\r\n\r\n"), E(400, N) },
	{ C("NUL in request line", "GET /\0 HTTP/1.1\r\n\r\n"), E(400, N) },
	{ C("NUL first", "\0"), E(400, N) },

	/* bare CR: judged by the byte after it, never at a line end */
	{ C("bare CRs as line ends", "GET /index.html HTTP/1.1\rHost: localhost\r"
	    "User-Agent: x\r\r"), E(400, N) },
	{ C("bare CR in request line, no LF", "GET / HTTP/1.1\rX"), E(400, N) },
	{ C("bare CR in value, no LF", REQ11 "X: a\rb"), E(400, N) },
	{ C("CR CR in value, no LF", REQ11 "X: a\r\r"), E(400, N) },
	{ C("bare CR ends the head, no LF", REQ11 "\rX"), E(400, N) },
	{ C("bare CR before the request line", "\rGET / HTTP/1.1\r\n"), E(400, N) },
	{ C("bare CR after a leading CRLF", "\r\n\r\r\n"), E(400, N) },
	{ C("bare CR then NUL", REQ11 "X: a\r\0"), E(400, N) },
	{ C("CR as the last byte: need more", REQ11 "X: a\r"), E(AGAIN, U) },
	{ G("request line 8190, bare CR", b_reqline_cr_x, 8190), E(400, N) },
	{ G("request line 8191, bare CR: 414 wins", b_reqline_cr_x, 8191), E(414, N) },
	{ G("request line 8192, bare CR: 414 wins", b_reqline_cr_x, 8192), E(414, N) },
	{ G("header line 8190, bare CR", b_hdrline_cr_x, 8190), E(400, N) },
	{ G("header line 8191, bare CR: 431 wins", b_hdrline_cr_x, 8191), E(431, N) },
	{ G("header line 8192, bare CR: 431 wins", b_hdrline_cr_x, 8192), E(431, N) },
	{ G("100 header fields, bare CR: 431 wins", b_nheaders_cr_x, 100), E(431, N) },

	/* Host */
	{ C("1.1 without Host", "GET / HTTP/1.1\r\n\r\n"), E(400, Y), .hh = N },
	{ C("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), E(400, Y) },
	{ C("Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), E(400, Y) },
	{ C("Host with SP", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), E(400, Y) },
	{ C("Host with @", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), E(400, Y) },

	/* Host optional (HTTP_PARSE_HOST_OPTIONAL): only a missing Host is forgiven */
	{ C("1.1 without Host, Host optional", "GET / HTTP/1.1\r\n\r\n"), HOPT, OK,
	  .v = 11, .ka = Y, .hh = N, .hc = HC(0) },
	{ C("1.1 with Host, Host optional", REQ11 "\r\n"), HOPT, OK, .hh = Y, .host = "a" },
	{ C("1.0 without Host, Host optional", "GET / HTTP/1.0\r\n\r\n"), HOPT, OK,
	  .v = 10, .hh = N },
	{ C("graders' pipeline, Host optional", "GET /1.html HTTP/1.1\r\n\r\n"
	    "GET /2.html HTTP/1.1\r\n\r\n"), HOPT, OK, .hl = 24, .t = "/1.html", .ka = Y },
	{ C("1.1 without Host, Connection: close, Host optional",
	    "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), HOPT, OK, .ka = N },
	{ C("BREW without Host, Host optional: 501", "BREW / HTTP/1.1\r\n\r\n"), HOPT,
	  E(501, Y) },
	{ C("BREW without Host: 400 wins", "BREW / HTTP/1.1\r\n\r\n"), E(400, Y) },
	{ C("POST CL without Host, Host optional", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"),
	  HOPT, OK, .hl = 38, CL(2) },
	{ C("two Hosts, Host optional", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), HOPT,
	  E(400, Y) },
	{ C("Host with slash, Host optional", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), HOPT,
	  E(400, Y) },
	{ C("bad header without Host, Host optional", "GET / HTTP/1.1\r\nX : y\r\n\r\n"), HOPT,
	  E(400, Y) },

	/* Content-Length / Transfer-Encoding: framing unknown */
	{ C("CL different values", REQ11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"),
	  E(400, N), .ka = N, CL(-1) },
	{ C("duplicate CL same value", REQ11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"),
	  E(400, N), .ka = N, CL(-1) },
	{ C("duplicate CL 0", REQ11 "Content-Length: 0\r\nContent-Length: 0\r\n\r\n"),
	  E(400, N), .ka = N, CL(-1) },
	{ C("duplicate CL, other case and OWS", REQ11 "Content-Length: 7\r\ncontent-length:\t7 \r\n\r\n"),
	  E(400, N), CL(-1) },
	{ C("duplicate CL apart", REQ11 "Content-Length: 2\r\nX: y\r\nContent-Length: 2\r\n\r\nab"),
	  E(400, N), .hl = 71, CL(-1) },
	{ C("duplicate CL same value on PUT: 400 wins", "PUT / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 1\r\nContent-Length: 1\r\n\r\n"), E(400, N) },
	{ C("CL list form", REQ11 "Content-Length: 5, 5\r\n\r\n"), E(400, N) },
	{ C("CL negative", REQ11 "Content-Length: -1000\r\n\r\n"), E(400, N) },
	{ C("CL plus sign", REQ11 "Content-Length: +5\r\n\r\n"), E(400, N) },
	{ C("CL not numeric", REQ11 "Content-Length: abc\r\n\r\n"), E(400, N) },
	{ C("CL hex", REQ11 "Content-Length: 0x10\r\n\r\n"), E(400, N) },
	{ C("CL inner SP", REQ11 "Content-Length: 1 2\r\n\r\n"), E(400, N) },
	{ C("CL empty", REQ11 "Content-Length:\r\n\r\n"), E(400, N) },
	{ C("CL 2^63", REQ11 "Content-Length: 9223372036854775808\r\n\r\n"), E(400, N) },
	{ C("CL huge", REQ11 "Content-Length: 99999999999999999999999999\r\n\r\n"), E(400, N) },
	{ C("CL with TE", REQ11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  E(400, N) },
	{ C("TE with CL", REQ11 "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"),
	  E(400, N) },
	{ C("TE gzip", REQ11 "Transfer-Encoding: gzip\r\n\r\n"), E(501, N), .ch = N },
	{ C("TE gzip, chunked", REQ11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), E(501, N) },
	{ C("TE chunked, gzip", REQ11 "Transfer-Encoding: chunked, gzip\r\n\r\n"), E(501, N) },
	{ C("TE chunked twice", REQ11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  E(501, N) },
	{ C("TE gzip then TE chunked", REQ11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  E(501, N), .ch = N },
	{ C("TE identity", REQ11 "Transfer-Encoding: identity\r\n\r\n"), E(501, N) },
	{ C("TE empty", REQ11 "Transfer-Encoding:\r\n\r\n"), E(400, N) },
	{ C("TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), E(400, N) },
	{ C("TE gzip + bad header: 400 wins", REQ11 "Transfer-Encoding: gzip\r\nX : y\r\n\r\n"),
	  E(400, N) },
	{ C("bad CL + PUT: 400 wins", "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n"),
	  E(400, N) },

	/* limits (scanner) */
	{ G("request line 8193", b_reqline, 8193), E(414, N) },
	{ G("request line 8193, no LF yet", b_reqline_open, 8193), E(414, N) },
	{ G("request line 8192, no LF yet", b_reqline_open, 8192), E(AGAIN, U) },
	{ G("request line 10000", b_reqline, 10000), E(414, N) },
	{ G("header line 8193", b_hdrline, 8193), E(431, N) },
	{ G("header line 8193, no LF yet", b_hdrline_open, 8193), E(431, N) },
	{ G("header line 8192, no LF yet", b_hdrline_open, 8192), E(AGAIN, U) },
	{ G("head 65537", b_head, 65537), E(431, N) },
	{ G("head 70000", b_head, 70000), E(431, N) },
	{ G("101 header fields", b_nheaders, 101), E(431, N) },
	{ G("CRLF flood", b_crlf_flood, 35000), E(431, N) },
	{ G("101 header fields, head open", b_nheaders_open, 101), E(431, N) },
	{ G("100 header fields, head open", b_nheaders_open, 100), E(AGAIN, U) },
	{ G("100 header fields, final CR", b_nheaders_cr, 100), E(AGAIN, U) },
	{ G("65535 bytes, head open", b_crlf_then_g, 32767), E(AGAIN, U) },
	{ G("65537 bytes, head open", b_crlf_then_g, 32768), E(431, N) },

	/* incomplete */
	{ C("empty input", ""), E(AGAIN, U) },
	{ C("only CRLFs", "\r\n\r\n\r\n"), E(AGAIN, U) },
	{ C("request line only", "GET / HTTP/1.1\r\n"), E(AGAIN, U) },
	{ C("no final CRLF", REQ11), E(AGAIN, U) },
	{ C("final CR only", REQ11 "\r"), E(AGAIN, U) },
};

/* ------------------------------------------------------------- harness */

static char *guard_end; /* first byte of the PROT_NONE page */
static size_t guard_room;

static void guard_setup(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t room = (MAX_INPUT + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
	char *base;

	if (guard_end != NULL)
		return;
	base = mmap(NULL, room + (size_t)pg, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(base != MAP_FAILED);
	assert_int_equal(mprotect(base + room, (size_t)pg, PROT_NONE), 0);
	guard_end = base + room;
	guard_room = room;
}

/* Copies n bytes so that they end right before the guard page. */
static const char *at_guard(const char *src, size_t n)
{
	char *dst = guard_end - n;

	assert_true(n <= guard_room);
	memmove(dst, src, n);
	return dst;
}

static uint64_t rng_state;

static uint32_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (uint32_t)(x >> 32);
}

/* A slice as an offset from the buffer start, -1 when absent, or
 * SOFF_SLASH for the parser's static "/" (absolute-form without a path). */
struct soff {
	long off;
	long len;
};

enum { SOFF_SLASH = -2 };

struct outcome {
	int scan;                 /* http_head_scan result */
	int status;               /* http_head_parse result (if scan > 0) */
	bool fk, hq, ch, ka, ex, hh, af;
	int method, v;
	int64_t cl;
	uint32_t hc;
	struct soff m, t, path, q, host, conn, ctype, ua, referer;
	struct soff hn[HTTP_HEADERS_MAX], hv[HTTP_HEADERS_MAX];
	bool slices_ok;           /* every slice inside the head */
};

static struct soff soff(const char *base, size_t head_len, struct http_slice s,
			bool *ok)
{
	struct soff o = { -1, 0 };

	if (s.p == NULL) {
		if (s.len != 0)
			*ok = false;
		return o;
	}
	if (s.p < base || s.p + s.len > base + head_len)
		*ok = false;
	o.off = (long)(s.p - base);
	o.len = (long)s.len;
	return o;
}

/* req->path may also be a static "/" outside the buffer. */
static struct soff soff_path(const char *base, size_t head_len, struct http_slice s,
			     bool *ok)
{
	if (s.p != NULL && s.len == 1 && (s.p < base || s.p >= base + head_len) &&
	    s.p[0] == '/')
		return (struct soff){ SOFF_SLASH, 1 };
	return soff(base, head_len, s, ok);
}

static void record(struct outcome *o, const char *base, int scan,
		   const struct http_request *r)
{
	size_t hl = scan > 0 ? (size_t)scan : 0;
	uint32_t i;

	memset(o, 0, sizeof(*o));
	o->scan = scan;
	o->slices_ok = true;
	if (scan <= 0)
		return;
	o->status = r->status;
	o->fk = r->framing_known;
	o->hq = r->has_query;
	o->ch = r->chunked;
	o->ka = r->keep_alive;
	o->ex = r->expect_continue;
	o->hh = r->has_host;
	o->af = r->absolute_form;
	o->method = (int)r->method;
	o->v = r->version_major * 10 + r->version_minor;
	o->cl = r->content_length;
	o->hc = r->header_count;
	o->m = soff(base, hl, r->method_name, &o->slices_ok);
	o->t = soff(base, hl, r->target, &o->slices_ok);
	o->path = soff_path(base, hl, r->path, &o->slices_ok);
	o->q = soff(base, hl, r->query, &o->slices_ok);
	o->host = soff(base, hl, r->host, &o->slices_ok);
	o->conn = soff(base, hl, r->connection, &o->slices_ok);
	o->ctype = soff(base, hl, r->content_type, &o->slices_ok);
	o->ua = soff(base, hl, r->user_agent, &o->slices_ok);
	o->referer = soff(base, hl, r->referer, &o->slices_ok);
	for (i = 0; i < r->header_count && i < HTTP_HEADERS_MAX; i++) {
		o->hn[i] = soff(base, hl, r->headers[i].name, &o->slices_ok);
		o->hv[i] = soff(base, hl, r->headers[i].value, &o->slices_ok);
	}
}

static bool soff_eq(struct soff a, struct soff b)
{
	return a.off == b.off && a.len == b.len;
}

static bool outcome_eq(const struct outcome *a, const struct outcome *b)
{
	uint32_t i;

	if (a->scan != b->scan || a->status != b->status || a->fk != b->fk ||
	    a->hq != b->hq || a->ch != b->ch || a->ka != b->ka ||
	    a->ex != b->ex || a->hh != b->hh || a->af != b->af ||
	    a->method != b->method ||
	    a->v != b->v || a->cl != b->cl || a->hc != b->hc ||
	    a->slices_ok != b->slices_ok)
		return false;
	if (!soff_eq(a->m, b->m) || !soff_eq(a->t, b->t) ||
	    !soff_eq(a->path, b->path) || !soff_eq(a->q, b->q) ||
	    !soff_eq(a->host, b->host) || !soff_eq(a->conn, b->conn) ||
	    !soff_eq(a->ctype, b->ctype) || !soff_eq(a->ua, b->ua) ||
	    !soff_eq(a->referer, b->referer))
		return false;
	for (i = 0; i < a->hc && i < HTTP_HEADERS_MAX; i++) {
		if (!soff_eq(a->hn[i], b->hn[i]) || !soff_eq(a->hv[i], b->hv[i]))
			return false;
	}
	return true;
}

static struct http_request req; /* large: keep it off the stack */

static void run_whole(struct outcome *o, const char *buf, size_t len, unsigned fl)
{
	struct http_scan s;
	int r;

	http_scan_reset(&s);
	r = http_head_scan(buf, len, &s);
	if (r > 0)
		http_head_parse(buf, (size_t)r, fl, &req);
	record(o, buf, r, &req);
}

static void run_bytewise(struct outcome *o, const char *buf, size_t len, unsigned fl)
{
	struct http_scan s;
	size_t n;
	int r = 0;

	http_scan_reset(&s);
	for (n = 1; n <= len && r == 0; n++)
		r = http_head_scan(buf, n, &s);
	if (r > 0)
		http_head_parse(buf, (size_t)r, fl, &req);
	record(o, buf, r, &req);
}

static void run_split(struct outcome *o, const char *buf, size_t len, unsigned fl,
		      uint64_t seed)
{
	struct http_scan s;
	size_t n = 0, maxstep = len < 256 ? 7 : len / 16;
	const char *g = buf;
	int r = 0;

	rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
	http_scan_reset(&s);
	while (n < len && r == 0) {
		n += 1 + rng() % maxstep;
		if (n > len)
			n = len;
		g = at_guard(buf, n);
		r = http_head_scan(g, n, &s);
	}
	if (r > 0) {
		g = at_guard(buf, (size_t)r);
		http_head_parse(g, (size_t)r, fl, &req);
	}
	record(o, g, r, &req);
}

static void run_guard(struct outcome *o, const char *buf, size_t len, unsigned fl)
{
	struct http_scan s;
	const char *g = at_guard(buf, len);
	int r;

	http_scan_reset(&s);
	r = http_head_scan(g, len, &s);
	if (r > 0) {
		g = at_guard(buf, (size_t)r);
		http_head_parse(g, (size_t)r, fl, &req);
	}
	record(o, g, r, &req);
}

static int failures;

#define FAILF(c, ...)                                                        \
	do {                                                                 \
		print_error("%s:%d: case \"%s\": ", __FILE__, (c)->line,     \
			    (c)->name);                                      \
		print_error(__VA_ARGS__);                                    \
		print_error("\n");                                           \
		failures++;                                                  \
	} while (0)

static void check_str(const struct head_case *c, const char *what,
		      const char *want, struct soff got, const char *base)
{
	size_t wl;
	const char *gp;

	if (want == NULL)
		return;
	wl = strlen(want);
	gp = got.off == SOFF_SLASH ? "/" : base + got.off;
	if (got.off == SOFF_SLASH)
		got.off = 0; /* present */
	if (got.off < 0 || (size_t)got.len != wl || memcmp(gp, want, wl) != 0)
		FAILF(c, "%s: want \"%s\", got \"%.*s\"%s", what, want,
		      got.off < 0 ? 0 : (int)got.len,
		      got.off < 0 ? "" : gp,
		      got.off < 0 ? " (absent)" : "");
}

static void check_flag(const struct head_case *c, const char *what, int want,
		       bool got)
{
	if (want != U && (want == Y) != got)
		FAILF(c, "%s: want %s", what, want == Y ? "true" : "false");
}

static void check_case(const struct head_case *c, const struct outcome *o,
			   const char *buf, size_t len)
{
	int status;
	bool fk;

	if (c->st == AGAIN) {
		if (o->scan != 0)
			FAILF(c, "want incomplete (0), scan returned %d", o->scan);
		return;
	}
	if (o->scan == 0) {
		FAILF(c, "scan returned 0 (incomplete), want status %d", c->st);
		return;
	}
	if (o->scan < 0) {
		status = -o->scan;
		fk = false;
	} else {
		size_t hl = c->hl ? c->hl : len;

		status = o->status;
		fk = o->fk;
		if ((size_t)o->scan != hl)
			FAILF(c, "head length %d, want %zu", o->scan, hl);
		if (!o->slices_ok)
			FAILF(c, "a slice lies outside the head");
	}
	if (status != c->st)
		FAILF(c, "status %d, want %d", status, c->st);
	check_flag(c, "framing_known", c->fk, fk);
	if (o->scan < 0)
		return;

	check_str(c, "method", c->m, o->m, buf);
	check_str(c, "target", c->t, o->t, buf);
	check_str(c, "path", c->path, o->path, buf);
	check_str(c, "query", c->q, o->q, buf);
	check_str(c, "host", c->host, o->host, buf);
	check_str(c, "connection", c->conn, o->conn, buf);
	check_str(c, "content_type", c->ctype, o->ctype, buf);
	check_str(c, "user_agent", c->ua, o->ua, buf);
	check_flag(c, "has_query", c->hq, o->hq);
	check_flag(c, "chunked", c->ch, o->ch);
	check_flag(c, "keep_alive", c->ka, o->ka);
	check_flag(c, "expect_continue", c->ex, o->ex);
	check_flag(c, "has_host", c->hh, o->hh);
	check_flag(c, "absolute_form", c->af, o->af);
	if (c->v && c->v != o->v)
		FAILF(c, "version %d, want %d", o->v, c->v);
	if (c->cl_chk && c->cl != o->cl)
		FAILF(c, "content_length %" PRId64 ", want %" PRId64, o->cl, c->cl);
	if (c->hc && (uint32_t)(c->hc - 1) != o->hc)
		FAILF(c, "header_count %u, want %d", o->hc, c->hc - 1);
	if (c->m) {
		enum http_method want = HTTP_METHOD_OTHER;

		if (strcmp(c->m, "GET") == 0)
			want = HTTP_METHOD_GET;
		else if (strcmp(c->m, "HEAD") == 0)
			want = HTTP_METHOD_HEAD;
		else if (strcmp(c->m, "POST") == 0)
			want = HTTP_METHOD_POST;
		if (o->method != (int)want)
			FAILF(c, "method enum %d, want %d", o->method, (int)want);
	}
	if (o->status == 0 && !o->fk)
		FAILF(c, "status 0 with framing_known false");
	if (!o->fk && o->ka)
		FAILF(c, "keep_alive with unknown framing");
}

static void test_head_table(void **state)
{
	static char scratch[MAX_INPUT];
	size_t i;
	int ncases = 0;

	(void)state;
	guard_setup();
	failures = 0;
	for (i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++) {
		const struct head_case *c = &head_cases[i];
		struct outcome whole, other;
		char *buf;
		size_t len;
		uint64_t seed;

		if (c->in != NULL) {
			len = c->in_len;
			memcpy(scratch, c->in, len);
		} else {
			len = c->build(scratch, c->arg);
		}
		assert_true(len <= MAX_INPUT);
		buf = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
		assert_non_null(buf);
		memcpy(buf, scratch, len);

		run_whole(&whole, buf, len, c->fl);
		check_case(c, &whole, buf, len);

		run_bytewise(&other, buf, len, c->fl);
		if (!outcome_eq(&whole, &other))
			FAILF(c, "byte-by-byte differs from whole (scan %d vs %d, status %d vs %d)",
			      other.scan, whole.scan, other.status, whole.status);
		for (seed = 1; seed <= 3; seed++) {
			run_split(&other, buf, len, c->fl, (uint64_t)c->line * 7 + seed);
			if (!outcome_eq(&whole, &other))
				FAILF(c, "random split (seed %" PRIu64 ") differs from whole (scan %d vs %d)",
				      seed, other.scan, whole.scan);
		}
		run_guard(&other, buf, len, c->fl);
		if (!outcome_eq(&whole, &other))
			FAILF(c, "guard-page run differs from whole");
		free(buf);
		ncases++;
	}
	print_message("%d head cases, 6 runs each\n", ncases);
	assert_int_equal(failures, 0);
}

/* Header content, lookups and helpers. */
static void test_head_fields(void **state)
{
	static const char in[] =
		"\r\nPOST /up?a=1 HTTP/1.1\r\nhost:  example.org \r\n"
		"X-Thing:\t  spaced  value\t\r\nIf-None-Match: \"e1\"\r\n"
		"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		"Range: bytes=0-9\r\nIf-Range: \"e1\"\r\nReferer: /r\r\n"
		"If-Match: \"e1\", \"e2\"\r\n"
		"IF-UNMODIFIED-SINCE: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		"if-match: \"later\"\r\n"
		"Content-Length: 3\r\n\r\nabc";
	struct http_scan s;
	const struct http_header *h;
	int r;

	(void)state;
	http_scan_reset(&s);
	r = http_head_scan(in, sizeof(in) - 1, &s);
	assert_int_equal(r, (int)(sizeof(in) - 1 - 3));
	assert_int_equal(http_head_parse(in, (size_t)r, 0, &req), 0);
	assert_int_equal(req.header_count, 11);
	assert_true(http_slice_eq_ci(req.headers[0].name, "HOST"));
	assert_int_equal(req.headers[0].name.len, 4);
	assert_memory_equal(req.headers[0].name.p, "host", 4);
	assert_true(http_slice_eq_ci(req.host, "example.org"));
	assert_false(http_slice_eq_ci(req.host, "example.or"));
	assert_false(http_slice_eq_ci(req.host, "example.orgx"));
	h = http_find_header(&req, "x-thing");
	assert_non_null(h);
	assert_int_equal(h->value.len, 13);
	assert_memory_equal(h->value.p, "spaced  value", 13);
	assert_null(http_find_header(&req, "X-Missing"));
	assert_true(http_slice_eq_ci(req.if_none_match, "\"e1\""));
	assert_true(http_slice_eq_ci(req.if_modified_since,
				     "sun, 06 nov 1994 08:49:37 gmt"));
	assert_true(http_slice_eq_ci(req.range, "bytes=0-9"));
	assert_true(http_slice_eq_ci(req.if_range, "\"e1\""));
	/* The first If-Match field wins, as for every slice field. */
	assert_true(http_slice_eq_ci(req.if_match, "\"e1\", \"e2\""));
	assert_true(http_slice_eq_ci(req.if_unmodified_since,
				     "sun, 06 nov 1994 08:49:37 gmt"));
	assert_true(http_slice_eq_ci(req.referer, "/r"));
	assert_null(req.user_agent.p);
	assert_int_equal(req.user_agent.len, 0);
	assert_null(req.content_type.p);
	assert_true(http_slice_eq_ci(req.user_agent, ""));
	assert_int_equal(req.content_length, 3);
	assert_int_equal(req.method, HTTP_METHOD_POST);
	assert_true(http_slice_eq_ci(req.path, "/up"));
	assert_true(http_slice_eq_ci(req.query, "a=1"));
	assert_int_equal(req.status, 0);
}

/* Pipelined heads are found one after the other. */
static void test_head_pipelined(void **state)
{
	static const char in[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
				 "\r\nHEAD /2 HTTP/1.1\r\nHost: a\r\n\r\n"
				 "GET /3 HTTP/1.0\r\n\r\n";
	const char *p = in;
	size_t left = sizeof(in) - 1;
	static const char *const want[] = { "/1", "/2", "/3" };
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		struct http_scan s;
		int r;

		http_scan_reset(&s);
		r = http_head_scan(p, left, &s);
		assert_true(r > 0);
		assert_int_equal(http_head_parse(p, (size_t)r, 0, &req), 0);
		assert_true(http_slice_eq_ci(req.target, want[i]));
		p += r;
		left -= (size_t)r;
	}
	assert_int_equal(left, 0);
}

/* The parser alone must cope with input that is not one complete head. */
static void test_parse_not_a_head(void **state)
{
	static const char *const bad[] = {
		"", "GET / HTTP/1.1", "GET / HTTP/1.1\r\nHost: a\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nextra", "\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a", "\r\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);
		const char *g = at_guard(bad[i], n);

		assert_int_equal(http_head_parse(g, n, 0, &req), 400);
		assert_false(req.framing_known);
		assert_false(req.keep_alive);
	}
}

/* The parser repeats the scanner's limits when called on its own. */
static void test_parse_limits(void **state)
{
	static char buf[MAX_INPUT];
	size_t n;

	(void)state;
	n = b_reqline(buf, 8193);
	assert_int_equal(http_head_parse(at_guard(buf, n), n, 0, &req), 414);
	assert_false(req.framing_known);
	n = b_reqline(buf, 8192);
	assert_int_equal(http_head_parse(at_guard(buf, n), n, 0, &req), 0);
	n = b_hdrline(buf, 8193);
	assert_int_equal(http_head_parse(at_guard(buf, n), n, 0, &req), 431);
	assert_false(req.framing_known);
	n = b_nheaders(buf, 101);
	assert_int_equal(http_head_parse(at_guard(buf, n), n, 0, &req), 431);
	n = b_head(buf, 65537);
	assert_int_equal(http_head_parse(at_guard(buf, n), n, 0, &req), 431);
	n = b_head(buf, 65536);
	assert_int_equal(http_head_parse(at_guard(buf, n), n, 0, &req), 0);
}

/* The scanner examines each byte once: feeding one byte at a time must not
 * re-examine the line (pos only moves forward, one byte per call). */
static void test_scan_resumes(void **state)
{
	static char buf[9000];
	struct http_scan s;
	size_t n, len = b_hdrline(buf, 8000);

	(void)state;
	http_scan_reset(&s);
	for (n = 1; n < len; n++) {
		assert_int_equal(http_head_scan(buf, n, &s), 0);
		assert_int_equal(s.pos, n);
	}
	assert_int_equal(http_head_scan(buf, len, &s), (int)len);
}

/* The scan's fast path reads header text a word (8 bytes) at a time: a
 * byte it must stop at is found at every offset within and across words,
 * whatever the bytes around it (high bytes, just above '\r'). */
static void test_scan_stops_at_every_offset(void **state)
{
	static const struct {
		unsigned char byte;
		int want; /* 0: the head goes on (a line end); else the result */
	} STOPS[] = { { '\0', -400 }, { 0x01, 0 }, { 0x0c, 0 }, { '\r', -400 }, { '\n', 0 } };
	static const unsigned char FILL[] = { 'a', 0x0e, 0x7f, 0x80, 0xff };
	char buf[128];

	(void)state;
	for (size_t f = 0; f < sizeof(FILL); f++) {
		for (size_t k = 0; k < 24; k++) {
			for (size_t b = 0; b < sizeof(STOPS) / sizeof(STOPS[0]); b++) {
				const char *line = "GET / HTTP/1.1\r\nX: ";
				size_t n = strlen(line);
				memcpy(buf, line, n);
				memset(buf + n, FILL[f], 24);
				buf[n + k] = (char)STOPS[b].byte;
				/* a bare CR is judged by the byte after it */
				if (STOPS[b].byte == '\r')
					buf[n + k + 1] = 'y';
				memcpy(buf + n + 24, "\r\n\r\n", 4);
				size_t len = n + 28;
				struct http_scan s;
				http_scan_reset(&s);
				int r = http_head_scan(buf, len, &s);
				int want = STOPS[b].want ? STOPS[b].want : (int)len;
				/* an LF just before the CRLF: that CRLF is the empty line */
				if (STOPS[b].byte == '\n' && k == 23)
					want = (int)(n + 26);
				if (r != want)
					fail_msg("fill 0x%02x, byte 0x%02x at %zu: %d, want %d", FILL[f],
						 STOPS[b].byte, k, r, want);
			}
		}
	}
}

/* ------------------------------------------------------------- chunked */

struct chunk_case {
	int line;
	const char *name;
	const char *in;
	size_t in_len;
	size_t (*build)(char *out, size_t arg);
	size_t arg;
	enum http_chunked_result res;
	const char *err;      /* ERROR: expected http_chunked_error() text */
	const char *out;      /* expected decoded bytes (DONE only) */
	size_t out_len;
	size_t used;          /* DONE: bytes consumed; 0 = whole input */
};

#define CC(nm, s) .line = __LINE__, .name = nm, .in = s, .in_len = sizeof(s) - 1
#define CG(nm, fn, a) .line = __LINE__, .name = nm, .build = fn, .arg = a
#define DONE(s) .res = HTTP_CHUNKED_DONE, .out = s, .out_len = sizeof(s) - 1
#define FAIL(e) .res = HTTP_CHUNKED_ERROR, .err = ERR_##e

/* http_chunked_error() of each named violation. Every error row names the
 * one it expects, so a violation reported under another name (a code
 * swapped at an error site or in the decoder's string table) fails. */
#define ERR_SIZE_NOT_HEX "chunk size does not start with a hex digit"
#define ERR_SIZE_TOO_BIG "chunk size over 15 hex digits"
#define ERR_SIZE_BAD_CHAR "invalid byte after chunk size"
#define ERR_SIZE_LINE_TOO_LONG "chunk size line (extensions) too long"
#define ERR_EXT_BAD_CHAR "control character in chunk extension"
#define ERR_BARE_LF "bare LF in chunked framing"
#define ERR_BARE_CR "CR not followed by LF in chunked framing"
#define ERR_DATA_NO_CRLF "chunk data not followed by CRLF"
#define ERR_TRAILER_BAD_NAME "invalid trailer field name"
#define ERR_TRAILER_BAD_CHAR "control character in trailer field"
#define ERR_TRAILER_LINE_TOO_LONG "trailer line too long"
#define ERR_TRAILERS_TOO_LONG "trailer section too long"

/* size line "1;" + extension so that the line has arg bytes */
static size_t b_ext(char *o, size_t arg)
{
	size_t at = put(o, 0, "1;");

	at = fill(o, at, 'e', arg - 2);
	return put(o, at, "\r\nx\r\n0\r\n\r\n");
}

/* size line of arg bytes: leading zeros, then "1" */
static size_t b_zeros(char *o, size_t arg)
{
	size_t at = fill(o, 0, '0', arg - 1);

	return put(o, at, "1\r\nx\r\n0\r\n\r\n");
}

/* size line of arg bytes: "1", BWS, then ";" */
static size_t b_bws(char *o, size_t arg)
{
	size_t at = put(o, 0, "1");

	at = fill(o, at, ' ', arg - 2);
	return put(o, at, ";\r\nx\r\n0\r\n\r\n");
}

static size_t b_trailer(char *o, size_t arg)
{
	size_t at = put(o, 0, "1\r\nx\r\n0\r\nT:");

	at = fill(o, at, 't', arg - 2);
	return put(o, at, "\r\n\r\n");
}

/* a trailer line of a field name of arg bytes and its colon */
static size_t b_trailer_name(char *o, size_t arg)
{
	size_t at = put(o, 0, "0\r\n");

	at = fill(o, at, 'n', arg);
	return put(o, at, ":\r\n\r\n");
}

/* arg trailer lines of 8000 bytes */
static size_t b_trailers(char *o, size_t arg)
{
	size_t at = put(o, 0, "0\r\n"), i;

	for (i = 0; i < arg; i++) {
		at = put(o, at, "T:");
		at = fill(o, at, 't', 7998);
		at = put(o, at, "\r\n");
	}
	return put(o, at, "\r\n");
}

/* one chunk of arg data bytes (hex size) */
static size_t b_big_chunk(char *o, size_t arg)
{
	char size[32];
	size_t at;

	snprintf(size, sizeof(size), "%zx\r\n", arg);
	at = put(o, 0, size);
	at = fill(o, at, 'd', arg);
	return put(o, at, "\r\n0\r\n\r\n");
}

static const struct chunk_case chunk_cases[] = {
	{ CC("empty body", "0\r\n\r\n"), DONE("") },
	{ CC("single chunk", "5\r\nhello\r\n0\r\n\r\n"), DONE("hello") },
	{ CC("many chunks", "1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n"), DONE("abcdef") },
	{ CC("uppercase hex", "A\r\n0123456789\r\n0\r\n\r\n"), DONE("0123456789") },
	{ CC("lowercase hex", "a\r\n0123456789\r\n0\r\n\r\n"), DONE("0123456789") },
	{ CC("leading zeros", "0005\r\nhello\r\n000\r\n\r\n"), DONE("hello") },
	{ CC("many leading zeros", "00000000000000000000001\r\nz\r\n0\r\n\r\n"), DONE("z") },
	{ CC("extension", "5;name=value\r\nhello\r\n0;x\r\n\r\n"), DONE("hello") },
	{ CC("extension quoted", "5;n=\"a b;c\"\r\nhello\r\n0\r\n\r\n"), DONE("hello") },
	{ CC("BWS before extension", "5 \t;n\r\nhello\r\n0\r\n\r\n"), DONE("hello") },
	{ CC("trailer", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:\r\n\r\n"), DONE("hello") },
	{ CC("CRLF in data", "4\r\n\r\n\r\n\r\n0\r\n\r\n"), DONE("\r\n\r\n") },
	{ CC("NUL in data", "3\r\na\0b\r\n0\r\n\r\n"), DONE("a\0b") },
	{ CC("bytes after the body", "1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n"),
	  DONE("x"), .used = 11 },
	{ CG("size line 4095", b_ext, 4095), DONE("x") },
	{ CG("size line 4096", b_ext, 4096), DONE("x") },
	{ CG("trailer line 8192", b_trailer, 8192), DONE("x") },
	{ CG("trailers 8 x 8002", b_trailers, 8), DONE("") },
	{ CG("4097-byte chunk", b_big_chunk, 4097), .res = HTTP_CHUNKED_DONE },
	{ CC("15 hex digits, incomplete", "fffffffffffffff\r\nabc"), .res = HTTP_CHUNKED_AGAIN },
	{ CC("incomplete data", "5\r\nhel"), .res = HTTP_CHUNKED_AGAIN },
	{ CC("no final CRLF", "5\r\nhello\r\n0\r\n"), .res = HTTP_CHUNKED_AGAIN },
	{ CC("empty input", ""), .res = HTTP_CHUNKED_AGAIN },

	{ CC("no CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n"), FAIL(DATA_NO_CRLF) },
	{ CC("LF only after data", "5\r\nhello\n0\r\n\r\n"), FAIL(DATA_NO_CRLF) },
	{ CC("CR only after data", "5\r\nhello\r0\r\n\r\n"), FAIL(DATA_NO_CRLF) },
	{ CC("bare LF after size", "5\nhello\r\n0\r\n\r\n"), FAIL(BARE_LF) },
	{ CC("bare CR after size", "5\rhello\r\n0\r\n\r\n"), FAIL(BARE_CR) },
	{ CC("bare LF as a size line", "1\r\nx\r\n\n0\r\n\r\n"), FAIL(BARE_LF) },
	{ CC("bare LF after BWS", "5 \nhello\r\n0\r\n\r\n"), FAIL(BARE_LF) },
	{ CC("bare LF in extension", "5;a\nhello\r\n0\r\n\r\n"), FAIL(BARE_LF) },
	{ CC("bare LF at the end", "0\r\n\n"), FAIL(BARE_LF) },
	{ CC("bare LF in trailer name", "0\r\nX\n\r\n"), FAIL(BARE_LF) },
	{ CC("bare LF after trailer", "0\r\nX: y\n\r\n"), FAIL(BARE_LF) },
	{ CC("non-hex size", "g\r\nx\r\n0\r\n\r\n"), FAIL(SIZE_NOT_HEX) },
	{ CC("empty size", "\r\nx\r\n0\r\n\r\n"), FAIL(SIZE_NOT_HEX) },
	{ CC("negative size", "-1\r\nx\r\n0\r\n\r\n"), FAIL(SIZE_NOT_HEX) },
	{ CC("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"), FAIL(SIZE_BAD_CHAR) },
	{ CC("SP before size", " 5\r\nhello\r\n0\r\n\r\n"), FAIL(SIZE_NOT_HEX) },
	{ CC("SP after size, no ext", "5 \r\nhello\r\n0\r\n\r\n"), FAIL(SIZE_BAD_CHAR) },
	{ CC("16 hex digits", "1000000000000000\r\nx\r\n0\r\n\r\n"), FAIL(SIZE_TOO_BIG) },
	{ CC("size overflow", "ffffffffffffffffffff\r\nx\r\n0\r\n\r\n"), FAIL(SIZE_TOO_BIG) },
	{ CC("CTL in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n"), FAIL(EXT_BAD_CHAR) },
	{ CC("NUL in extension", "5;a\0\r\nhello\r\n0\r\n\r\n"), FAIL(EXT_BAD_CHAR) },
	{ CG("size line 4097", b_ext, 4097), FAIL(SIZE_LINE_TOO_LONG) },
	{ CG("trailer line 8193", b_trailer, 8193), FAIL(TRAILER_LINE_TOO_LONG) },
	{ CG("trailer name 8191 and colon", b_trailer_name, 8191), DONE("") },
	{ CG("trailer name 8192 and colon", b_trailer_name, 8192), FAIL(TRAILER_LINE_TOO_LONG) },
	{ CG("4096 leading zeros", b_zeros, 4096), DONE("x") },
	{ CG("4097 leading zeros", b_zeros, 4097), FAIL(SIZE_LINE_TOO_LONG) },
	{ CG("BWS line 4096", b_bws, 4096), DONE("x") },
	{ CG("BWS line 4097", b_bws, 4097), FAIL(SIZE_LINE_TOO_LONG) },
	{ CC("bare CR in trailer", "0\r\nX: a\rb\r\n\r\n"), FAIL(BARE_CR) },
	{ CC("bare CR at the end", "0\r\n\rX"), FAIL(BARE_CR) },
	{ CC("bare CR then CR at the end", "0\r\n\r\r\n"), FAIL(BARE_CR) },
	{ CG("trailers over 64 KiB", b_trailers, 9), FAIL(TRAILERS_TOO_LONG) },
	{ CC("trailer without colon", "0\r\nX-Sum\r\n\r\n"), FAIL(TRAILER_BAD_NAME) },
	{ CC("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n"), FAIL(TRAILER_BAD_NAME) },
	{ CC("trailer SP before colon", "0\r\nX : a\r\n\r\n"), FAIL(TRAILER_BAD_NAME) },
	{ CC("trailer CTL", "0\r\nX: a\x02\r\n\r\n"), FAIL(TRAILER_BAD_CHAR) },
	{ CC("data longer than size", "2\r\nabc\r\n0\r\n\r\n"), FAIL(DATA_NO_CRLF) },
};

struct chunk_outcome {
	enum http_chunked_result res;
	size_t used;          /* input bytes consumed in total */
	size_t out_len;
	uint64_t total;
	const char *err;      /* http_chunked_error() at the end */
	char *out;            /* heap, out_len bytes */
};

/* Feeds buf in pieces given by next_piece(); each piece is copied to an
 * exactly-sized heap buffer, so reading past it is an ASan error. */
static void chunk_run(struct chunk_outcome *o, const char *buf, size_t len,
		      int mode, uint64_t seed)
{
	struct http_chunked c;
	size_t pos = 0;
	size_t maxstep = len < 256 ? 9 : len / 16;

	http_chunked_init(&c);
	rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
	memset(o, 0, sizeof(*o));
	o->out = malloc(len + 1);
	assert_non_null(o->out);
	o->res = HTTP_CHUNKED_AGAIN;
	while (pos < len) {
		size_t piece = mode == 0 ? len - pos : mode == 1 ? 1 : 1 + rng() % maxstep;
		size_t in_len, out_len = 0;
		char *p;

		if (piece > len - pos)
			piece = len - pos;
		p = malloc(piece);
		assert_non_null(p);
		memcpy(p, buf + pos, piece);
		in_len = piece;
		o->res = http_chunked_decode(&c, p, &in_len, &out_len);
		assert_true(in_len <= piece);
		assert_true(out_len <= in_len);
		memcpy(o->out + o->out_len, p, out_len);
		o->out_len += out_len;
		pos += in_len;
		free(p);
		if (o->res != HTTP_CHUNKED_AGAIN)
			break;
		assert_int_equal(in_len, piece);
	}
	o->used = pos;
	o->total = c.total;
	if (o->res != HTTP_CHUNKED_AGAIN) {
		/* sticky: further input is refused */
		char more[2] = { '0', '\r' };
		size_t in_len = sizeof(more), out_len = 0;

		assert_int_equal(http_chunked_decode(&c, more, &in_len, &out_len), o->res);
		assert_int_equal(in_len, 0);
		assert_int_equal(out_len, 0);
	}
	o->err = http_chunked_error(&c);
	if (o->res == HTTP_CHUNKED_ERROR)
		assert_string_not_equal(o->err, "no error");
	else
		assert_string_equal(o->err, "no error");
}

static void test_chunked_table(void **state)
{
	static char scratch[MAX_INPUT];
	static const char *const mode_name[] = { "whole", "bytewise", "split" };
	size_t i;
	int ncases = 0;

	(void)state;
	failures = 0;
	for (i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
		const struct chunk_case *c = &chunk_cases[i];
		struct chunk_outcome whole, other;
		size_t len;
		int mode;

		if (c->in != NULL) {
			len = c->in_len;
			memcpy(scratch, c->in, len);
		} else {
			len = c->build(scratch, c->arg);
		}
		chunk_run(&whole, scratch, len, 0, 0);
		if (whole.res != c->res)
			FAILF(c, "result %d, want %d", (int)whole.res, (int)c->res);
		if (whole.total != whole.out_len)
			FAILF(c, "total %" PRIu64 " but %zu bytes decoded", whole.total,
			      whole.out_len);
		if (c->res == HTTP_CHUNKED_DONE) {
			size_t used = c->used ? c->used : len;

			if (whole.used != used)
				FAILF(c, "consumed %zu, want %zu", whole.used, used);
			if (c->out != NULL &&
			    (whole.out_len != c->out_len ||
			     memcmp(whole.out, c->out, c->out_len) != 0))
				FAILF(c, "decoded %zu bytes \"%.*s\", want \"%s\"",
				      whole.out_len, (int)whole.out_len, whole.out, c->out);
		}
		if (c->res == HTTP_CHUNKED_AGAIN && whole.used != len)
			FAILF(c, "AGAIN but consumed %zu of %zu", whole.used, len);
		if (c->res == HTTP_CHUNKED_ERROR &&
		    (c->err == NULL || strcmp(whole.err, c->err) != 0))
			FAILF(c, "error \"%s\", want \"%s\"", whole.err,
			      c->err ? c->err : "(row names none)");
		for (mode = 1; mode <= 4; mode++) {
			int m = mode > 2 ? 2 : mode;

			chunk_run(&other, scratch, len, m, (uint64_t)c->line + (uint64_t)mode);
			if (other.res != whole.res || other.used != whole.used ||
			    strcmp(other.err, whole.err) != 0 ||
			    other.out_len != whole.out_len || other.total != whole.total ||
			    memcmp(other.out, whole.out, whole.out_len) != 0)
				FAILF(c, "%s run differs from whole (res %d/%d, used %zu/%zu, out %zu/%zu)",
				      mode_name[m], (int)other.res, (int)whole.res,
				      other.used, whole.used, other.out_len, whole.out_len);
			free(other.out);
		}
		free(whole.out);
		ncases++;
	}
	print_message("%d chunked cases, 5 runs each\n", ncases);
	assert_int_equal(failures, 0);
}

/* Decoding a body spread over calls, checking in-place compaction. */
static void test_chunked_in_place(void **state)
{
	char in[] = "3;x=y\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
	struct http_chunked c;
	size_t in_len = sizeof(in) - 1, out_len = 0;

	(void)state;
	http_chunked_init(&c);
	assert_int_equal(http_chunked_decode(&c, in, &in_len, &out_len),
			 HTTP_CHUNKED_DONE);
	assert_int_equal(in_len, sizeof(in) - 1);
	assert_int_equal(out_len, 7);
	assert_memory_equal(in, "abcdefg", 7);
	assert_int_equal(c.total, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_table),
		cmocka_unit_test(test_head_fields),
		cmocka_unit_test(test_head_pipelined),
		cmocka_unit_test(test_parse_not_a_head),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_scan_resumes),
		cmocka_unit_test(test_scan_stops_at_every_offset),
		cmocka_unit_test(test_chunked_table),
		cmocka_unit_test(test_chunked_in_place),
	};

	guard_setup();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
