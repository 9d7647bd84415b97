/*
 * Fuzz target for the small matchers a site's settings use on every answer:
 * the cache-rule glob, the max-age of a Cache-Control value, which types
 * take a charset, the Accept of a directory listing and the CORS lists.
 * The input is split on its first two NUL bytes into pattern, path and
 * rest (a part whose NUL is missing is empty). The path and the rest are
 * exact-length heap copies, so ASan sees a read past them.
 * Invariants: site_pattern_match agrees with a dynamic-programming matcher
 * written from site_fields.h's rule (and so is deterministic); a pattern
 * without '*' matches exactly the whole path (with a '/') or the last
 * segment (without); site_cache_max_age is -1 or a value at most about 10^9,
 * and only for a value with "max-age="; a text/ type takes a charset;
 * cors_list_has finds only non-empty items without separators, and an
 * exact match implies a match without case.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cors.h"
#include "fuzz_check.h"
#include "listing.h"
#include "site_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { PATTERN_MAX = 256, PATH_MAX_BYTES = 1024 };

/* Does p[i..) match s[j..n)? Bottom-up over a (m+1) x (n+1) table. */
static bool dp_glob(const char *p, size_t m, const char *s, size_t n, bool star_rest)
{
	bool *t = calloc((m + 1) * (n + 1), sizeof(bool));
	if (!t)
		abort();
#define T(i, j) t[(i) * (n + 1) + (j)]
	T(m, n) = true;
	for (size_t i = m; i-- > 0;) {
		for (size_t j = n + 1; j-- > 0;) {
			if (p[i] == '*') {
				if (i == m - 1 && star_rest)
					T(i, j) = true;
				else
					T(i, j) = T(i + 1, j) || (j < n && s[j] != '/' && T(i, j + 1));
			} else {
				T(i, j) = j < n && p[i] == s[j] && T(i + 1, j + 1);
			}
		}
	}
	bool r = T(0, 0);
#undef T
	free(t);
	return r;
}

static bool ref_match(const char *pattern, const char *path, size_t len)
{
	size_t m = strlen(pattern);
	if (memchr(pattern, '/', m))
		return dp_glob(pattern, m, path, len, true);
	size_t last = 0;
	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			last = i + 1;
	return dp_glob(pattern, m, path + last, len - last, false);
}

static char *copy(const uint8_t *p, size_t n, bool nul)
{
	char *c = malloc(n + (nul || n == 0));
	if (!c)
		abort();
	memcpy(c, p, n);
	if (nul)
		c[n] = '\0';
	return c;
}

static void check_glob(const char *pattern, const char *path, size_t len)
{
	bool got = site_pattern_match(pattern, path, len);
	CHECK(site_pattern_match(pattern, path, len) == got);
	if (strlen(pattern) <= PATTERN_MAX && len <= PATH_MAX_BYTES)
		CHECK(ref_match(pattern, path, len) == got);
	if (!strchr(pattern, '*')) {
		size_t m = strlen(pattern);
		bool want;
		if (strchr(pattern, '/')) {
			want = m == len && memcmp(pattern, path, len) == 0;
		} else {
			size_t last = 0;
			for (size_t i = 0; i < len; i++)
				if (path[i] == '/')
					last = i + 1;
			want = m == len - last && memcmp(pattern, path + last, m) == 0;
		}
		CHECK(got == want);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16 * 1024)
		return 0;
	const uint8_t *end = data + size;
	const uint8_t *z1 = memchr(data, '\0', size);
	const uint8_t *z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(end - z1 - 1)) : NULL;
	size_t pattern_len = z1 ? (size_t)(z1 - data) : size;
	const uint8_t *path_p = z1 ? z1 + 1 : end;
	size_t path_len = z2 ? (size_t)(z2 - path_p) : (size_t)(end - path_p);
	const uint8_t *rest_p = z2 ? z2 + 1 : end;
	size_t rest_len = (size_t)(end - rest_p);

	char *pattern = copy(data, pattern_len, true);
	char *path = copy(path_p, path_len, false);
	char *rest = copy(rest_p, rest_len, false);
	char *rest_str = copy(rest_p, rest_len, true);

	check_glob(pattern, path, path_len);
	/* The pattern against its own bytes: a star-free one matches itself. */
	check_glob(pattern, pattern, pattern_len);

	long age = site_cache_max_age(rest_str);
	CHECK(age >= -1 && age <= 1000000009L);
	if (age >= 0)
		CHECK(strcasestr(rest_str, "max-age=") != NULL);
	CHECK(site_cache_max_age(rest_str) == age);

	bool cs = site_type_has_charset(rest_str);
	if (strncasecmp(rest_str, "text/", 5) == 0)
		CHECK(cs);

	bool json = listing_wants_json(rest, rest_len);
	CHECK(listing_wants_json(rest, rest_len) == json);

	bool exact = cors_list_has(pattern, path, path_len, false);
	bool any_case = cors_list_has(pattern, path, path_len, true);
	if (exact)
		CHECK(any_case);
	if (any_case) {
		CHECK(path_len > 0);
		for (size_t i = 0; i < path_len; i++)
			CHECK(path[i] != ',' && path[i] != ' ' && path[i] != '\t');
	}
	/* An item that is the whole list, with no separator in it, is found. */
	if (pattern_len > 0 && strcspn(pattern, ", \t") == pattern_len)
		CHECK(cors_list_has(pattern, pattern, pattern_len, false));

	free(rest_str);
	free(rest);
	free(path);
	free(pattern);
	return 0;
}
