/*
 * Fuzz target for request-path normalisation, the first line of defence of
 * the document root (the kernel's RESOLVE_BENEATH is the second).
 * Invariants on success: the result starts with '/', has no NUL, no "."
 * or ".." segment, no "//"; normalising it again (as a raw path without
 * escapes) gives the same string.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "static.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static bool has_dot_segment(const char *p)
{
	for (const char *s = p; (s = strchr(s, '/')) != NULL; s++) {
		const char *seg = s + 1;
		size_t n = strcspn(seg, "/");
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16 * 1024)
		return 0;
	char *raw = malloc(size ? size : 1);
	if (!raw)
		return 0;
	memcpy(raw, data, size);
	char out[STATIC_PATH_MAX];
	int st = static_normalize_path(raw, size, out, sizeof(out));
	CHECK(st == 0 || st == 400 || st == 414);
	if (st == 0) {
		size_t n = strlen(out);
		CHECK(n < sizeof(out) && out[0] == '/');
		CHECK(strstr(out, "//") == NULL);
		CHECK(!has_dot_segment(out));
		if (!strchr(out, '%')) {
			char again[STATIC_PATH_MAX];
			CHECK(static_normalize_path(out, n, again, sizeof(again)) == 0);
			CHECK(strcmp(again, out) == 0);
		}
	}
	free(raw);
	return 0;
}
