/*
 * Fuzz target for the chunked-body decoder.
 *
 * The first input byte seeds the split points; the rest is the body. It is
 * decoded in one call and again in random pieces (each in an exactly-sized
 * heap buffer); result, bytes consumed, decoded bytes and total must match.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


struct run {
	enum http_chunked_result res;
	size_t used;
	size_t out_len;
	uint64_t total;
};

static void decode(struct run *r, const char *in, size_t len, char *out,
		   uint32_t seed, int mode)
{
	struct http_chunked c;
	size_t pos = 0;

	http_chunked_init(&c);
	memset(r, 0, sizeof(*r));
	r->res = HTTP_CHUNKED_AGAIN;
	while (pos < len) {
		size_t piece = len - pos, in_len, out_len = 0;
		char *p;

		if (mode == 1) {
			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			piece = 1 + (seed >> 8) % (seed & 1 ? 4 : 300);
			if (piece > len - pos)
				piece = len - pos;
		}
		p = malloc(piece);
		CHECK(p != NULL);
		memcpy(p, in + pos, piece);
		in_len = piece;
		r->res = http_chunked_decode(&c, p, &in_len, &out_len);
		CHECK(in_len <= piece && out_len <= in_len);
		CHECK(r->res != HTTP_CHUNKED_AGAIN || in_len == piece);
		memcpy(out + r->out_len, p, out_len);
		r->out_len += out_len;
		pos += in_len;
		free(p);
		if (r->res != HTTP_CHUNKED_AGAIN)
			break;
	}
	r->used = pos;
	r->total = c.total;
	CHECK(r->total == r->out_len);
	CHECK(r->out_len <= r->used);
	if (r->res == HTTP_CHUNKED_ERROR)
		CHECK(strcmp(http_chunked_error(&c), "no error") != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a, b;
	char *oa, *ob;
	const char *in;
	size_t len;

	if (size < 1)
		return 0;
	in = (const char *)data + 1;
	len = size - 1;
	oa = malloc(len + 1);
	ob = malloc(len + 1);
	CHECK(oa != NULL && ob != NULL);

	decode(&a, in, len, oa, 0, 0);
	decode(&b, in, len, ob, data[0] * 2654435761u + 1, 1);
	CHECK(a.res == b.res);
	CHECK(a.used == b.used);
	CHECK(a.out_len == b.out_len);
	CHECK(memcmp(oa, ob, a.out_len) == 0);
	if (a.res == HTTP_CHUNKED_DONE)
		CHECK(a.used >= 5); /* at least "0\r\n\r\n" */

	free(oa);
	free(ob);
	return 0;
}
