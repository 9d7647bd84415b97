/*
 * Fuzz target for the CGI output header parser: cgi_head_scan, then
 * cgi_head_parse and cgi_head_write on what it found. A CGI program's output
 * is untrusted input to the server.
 * Invariants: the scanned length lies within the input; the same input
 * scanned at every prefix never reports a longer head than the whole; what
 * we write is a well-formed head (status line, CRLF-terminated fields, no
 * bare CR or LF smuggled from the program).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void check_head_bytes(const char *p, size_t n)
{
	CHECK(n > 4 && memcmp(p, "HTTP/1.1 ", 9) == 0);
	CHECK(memcmp(p + n - 4, "\r\n\r\n", 4) == 0);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r')
			CHECK(i + 1 < n && p[i + 1] == '\n');
		if (p[i] == '\n')
			CHECK(i > 0 && p[i - 1] == '\r');
		CHECK(p[i] != '\0');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	long end = cgi_head_scan(buf, size);
	CHECK(end >= -1 && end <= (long)size);
	if (end > 0) {
		struct cgi_head h;
		if (cgi_head_parse(buf, (size_t)end, &h) == 0) {
			CHECK(h.status >= 100 && h.status <= 999);
			CHECK(h.header_count <= CGI_HEADERS_MAX);
			char out[32 * 1024];
			struct buf b = { .data = out, .cap = sizeof(out) };
			struct http_date_cache date = { .sec = 0 };
			http_date_update(&date, 784111777);
			for (int variant = 0; variant < 2; variant++) {
				b.rpos = b.wpos = 0;
				if (cgi_head_write(&b, &h, variant, variant, &date) == 0)
					check_head_bytes(buf_rptr(&b), buf_len(&b));
			}
		}
	}
	free(buf);
	return 0;
}
