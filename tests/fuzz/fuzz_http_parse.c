/*
 * Fuzz target for the request-head scanner and parser.
 *
 * The first input byte seeds the split points and its top bit chooses the
 * parser flags (HTTP_PARSE_HOST_OPTIONAL); the rest is the request stream. The head is scanned whole and incrementally (prefixes of random
 * lengths, each copied to an exactly-sized heap buffer so that reading past
 * it is an ASan error); both must agree. A found head is parsed, and the
 * parser is also run directly on the raw input, and with the other flag
 * value to check that the flag changes nothing but a missing Host's 400.
 * Invariants are checked with abort() so that they hold in every build.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static struct http_request req_a, req_b, req_c;

static void check_slice(struct http_slice s, const char *buf, size_t len)
{
	if (s.p == NULL) {
		CHECK(s.len == 0);
		return;
	}
	CHECK(s.p >= buf && s.p + s.len <= buf + len);
}

static void check_request(const struct http_request *r, const char *buf,
			  size_t len, int status, unsigned flags)
{
	uint32_t i;

	CHECK(status == r->status);
	CHECK(status == 0 || status == 400 || status == 414 || status == 431 ||
	      status == 501 || status == 505);
	if (status == 0) {
		CHECK(r->framing_known);
		CHECK(r->method_name.len > 0);
		CHECK(r->target.len > 0);
		CHECK(r->version_major == 1 && r->version_minor <= 1);
		CHECK(r->method != HTTP_METHOD_OTHER);
		CHECK(!(r->chunked && r->content_length >= 0));
		CHECK(r->version_minor == 0 || r->has_host ||
		      (flags & HTTP_PARSE_HOST_OPTIONAL));
	}
	if (!r->framing_known)
		CHECK(!r->keep_alive);
	CHECK(r->content_length >= -1);
	CHECK(r->header_count <= HTTP_HEADERS_MAX);
	check_slice(r->method_name, buf, len);
	check_slice(r->target, buf, len);
	if (!(r->absolute_form && r->path.len == 1 && r->path.p[0] == '/'))
		check_slice(r->path, buf, len); /* else it may be the static "/" */
	check_slice(r->query, buf, len);
	check_slice(r->host, buf, len);
	check_slice(r->connection, buf, len);
	check_slice(r->content_type, buf, len);
	check_slice(r->user_agent, buf, len);
	check_slice(r->referer, buf, len);
	check_slice(r->if_none_match, buf, len);
	check_slice(r->if_modified_since, buf, len);
	check_slice(r->range, buf, len);
	check_slice(r->if_range, buf, len);
	if (r->absolute_form) {
		/* the authority is in the target, right after "://"; the path
		 * follows it, or is "/" when empty; the query follows that */
		const char *after;

		CHECK(r->target.len > 0 && r->has_host && r->host.len > 0);
		CHECK(r->host.p >= r->target.p + 7 &&
		      r->host.p + r->host.len <= r->target.p + r->target.len);
		CHECK(memcmp(r->host.p - 3, "://", 3) == 0);
		CHECK(memchr(r->host.p, '@', r->host.len) == NULL);
		CHECK(r->path.len > 0 && r->path.p[0] == '/');
		after = r->host.p + r->host.len;
		if (r->path.p == after)
			after += r->path.len;
		else
			CHECK(r->path.len == 1 && (after == r->target.p + r->target.len ||
						   *after == '?' || *after == '#'));
		if (r->has_query)
			CHECK(r->query.p == after + 1);
		else
			CHECK(r->query.len == 0);
	} else if (r->path.p != NULL) { /* NULL: a target of no form we accept */
		CHECK(r->target.len > 0 && r->path.p == r->target.p);
		CHECK(r->path.len <= r->target.len);
		if (r->has_query)
			CHECK(r->query.p == r->path.p + r->path.len + 1);
		else
			CHECK(r->query.len == 0);
	}
	if (r->path.p == NULL)
		CHECK(!r->has_query && r->query.len == 0);
	if (status == 0) /* served: origin- or absolute-form ("*" is 501 or 400) */
		CHECK(r->path.len > 0 && r->path.p[0] == '/');
	for (i = 0; i < r->header_count; i++) {
		const struct http_header *h = &r->headers[i];

		check_slice(h->name, buf, len);
		check_slice(h->value, buf, len);
		CHECK(h->name.len > 0);
		CHECK(memchr(h->name.p, ':', h->name.len) == NULL);
		if (h->value.len > 0) {
			CHECK(h->value.p[0] != ' ' && h->value.p[0] != '\t');
			CHECK(h->value.p[h->value.len - 1] != ' ' &&
			      h->value.p[h->value.len - 1] != '\t');
			CHECK(memchr(h->value.p, '\r', h->value.len) == NULL);
			CHECK(memchr(h->value.p, '\n', h->value.len) == NULL);
		}
		CHECK(http_find_header(r, "x") == NULL ||
		      http_slice_eq_ci(http_find_header(r, "x")->name, "X"));
	}
}

/* Same outcome, slices compared by offset. */
static void check_same(const struct http_request *a, const char *abuf,
		       const struct http_request *b, const char *bbuf)
{
	uint32_t i;

	CHECK(a->status == b->status && a->framing_known == b->framing_known);
	CHECK(a->keep_alive == b->keep_alive && a->chunked == b->chunked);
	CHECK(a->content_length == b->content_length);
	CHECK(a->header_count == b->header_count);
	CHECK(a->method == b->method);
	CHECK(a->target.len == b->target.len);
	CHECK(a->target.p == NULL ||
	      a->target.p - abuf == b->target.p - bbuf);
	CHECK(a->absolute_form == b->absolute_form && a->has_host == b->has_host);
	CHECK(a->host.len == b->host.len && a->path.len == b->path.len);
	CHECK(a->host.p == NULL || a->host.p - abuf == b->host.p - bbuf);
	for (i = 0; i < a->header_count; i++) {
		CHECK(a->headers[i].value.len == b->headers[i].value.len);
		CHECK(a->headers[i].value.p - abuf == b->headers[i].value.p - bbuf);
	}
}

/* r is buf parsed with flags. Parsed with the other value of
 * HTTP_PARSE_HOST_OPTIONAL, the strict result must be 400 exactly where the
 * lenient one forgave a missing Host on HTTP/1.1 (unless a limit's 414/431
 * wins), and the same status everywhere else. */
static void check_other_flag(const char *buf, size_t len, unsigned flags,
			     const struct http_request *r)
{
	const struct http_request *lenient = r, *strict = &req_c;
	unsigned other = flags ^ HTTP_PARSE_HOST_OPTIONAL;
	bool forgiven;
	int st;

	st = http_head_parse(buf, len, other, &req_c);
	check_request(&req_c, buf, len, st, other);
	if (other & HTTP_PARSE_HOST_OPTIONAL) {
		lenient = &req_c;
		strict = r;
	}
	forgiven = lenient->version_major == 1 && lenient->version_minor == 1 &&
		   !lenient->has_host && lenient->status != 414 &&
		   lenient->status != 431;
	CHECK(strict->status == (forgiven ? 400 : lenient->status));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_scan s;
	uint32_t seed;
	size_t len, n = 0;
	const char *in;
	char *buf;
	int whole, split = 0, st;
	unsigned flags;

	if (size < 1)
		return 0;
	seed = data[0] * 2654435761u + 1;
	flags = (data[0] & 0x80) ? HTTP_PARSE_HOST_OPTIONAL : 0;
	in = (const char *)data + 1;
	len = size - 1;
	if (len > 256 * 1024)
		return 0;

	buf = malloc(len ? len : 1);
	CHECK(buf != NULL);
	memcpy(buf, in, len);
	http_scan_reset(&s);
	whole = http_head_scan(buf, len, &s);
	CHECK(whole == 0 || whole == -400 || whole == -414 || whole == -431 ||
	      (whole > 0 && (size_t)whole <= len &&
	       whole <= HTTP_HEAD_MAX_BYTES));

	/* Incrementally, over prefixes each in its own exactly-sized buffer
	 * (the scanner keeps offsets, not pointers). */
	http_scan_reset(&s);
	while (n < len && split == 0) {
		char *p;

		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		n += 1 + (seed >> 8) % (seed & 1 ? 8 : 512);
		if (n > len)
			n = len;
		p = malloc(n);
		CHECK(p != NULL);
		memcpy(p, in, n);
		split = http_head_scan(p, n, &s);
		free(p);
	}
	CHECK(split == whole);

	if (whole > 0) {
		char *head = malloc((size_t)whole);

		CHECK(head != NULL);
		memcpy(head, in, (size_t)whole);
		st = http_head_parse(head, (size_t)whole, flags, &req_a);
		check_request(&req_a, head, (size_t)whole, st, flags);
		CHECK(st != 414);
		/* pure: parsing again, elsewhere, gives the same result */
		st = http_head_parse(buf, (size_t)whole, flags, &req_b);
		check_request(&req_b, buf, (size_t)whole, st, flags);
		check_same(&req_a, head, &req_b, buf);
		check_other_flag(head, (size_t)whole, flags, &req_a);
		free(head);
	}

	/* The parser on its own must survive anything. */
	st = http_head_parse(buf, len, flags, &req_a);
	check_request(&req_a, buf, len, st, flags);
	check_other_flag(buf, len, flags, &req_a);
	if (whole <= 0 || (size_t)whole != len)
		CHECK(st != 0); /* not exactly one complete head, or invalid */
	if (whole < 0 && len <= HTTP_HEAD_MAX_BYTES && -whole != 400)
		CHECK(st == -whole || st == 400);

	free(buf);
	return 0;
}
