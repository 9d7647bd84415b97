/*
 * Unit tests for site_fields.c: the glob of cache rules (site_pattern_match),
 * the max-age of a Cache-Control value, which media types take a charset,
 * and the pre-formatted block of a site's header fields and HSTS.
 *
 * Paths are matched from a heap copy of exactly their length (no NUL after
 * them), so an ASan build catches a read past the path. The glob is also
 * compared with a plain recursive matcher written from the header's rule,
 * over every short pattern and path of a small alphabet. Every table row
 * carries its __LINE__; a failing row prints it and its name.
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
#include <time.h>

#include "site_fields.h"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_site_fields.c:%d: %s: ", (line), (name));    \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* site_pattern_match over an exact-length heap copy of path[0..len). */
static bool match(const char *pattern, const char *path, size_t len)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, path, len);
	bool r = site_pattern_match(pattern, copy, len);
	free(copy);
	return r;
}

/* ---- site_pattern_match --------------------------------------------------- */

struct match_case {
	int line;
	const char *name;
	const char *pattern;
	const char *path;
	bool want;
};

static const struct match_case MATCH_CASES[] = {
	/* Without '/': the last segment */
	{ __LINE__, "suffix", "*.css", "/a/b.css", true },
	{ __LINE__, "suffix at the root", "*.css", "/b.css", true },
	{ __LINE__, "suffix, more after it", "*.css", "/a/b.css.map", false },
	{ __LINE__, "case-sensitive", "*.css", "/x.CSS", false },
	{ __LINE__, "a directory's name does not count", "*.css", "/dir.css/x", false },
	{ __LINE__, "bare suffix name", "*.css", "/a/.css", true },
	{ __LINE__, "trailing slash: empty segment", "*.css", "/a.css/", false },
	{ __LINE__, "star: any last segment", "*", "/anything", true },
	{ __LINE__, "star: deep path", "*", "/a/b/c", true },
	{ __LINE__, "star: empty last segment", "*", "/", true },
	{ __LINE__, "star: empty path", "*", "", true },
	{ __LINE__, "exact name", "favicon.ico", "/favicon.ico", true },
	{ __LINE__, "exact name, deeper", "favicon.ico", "/img/favicon.ico", true },
	{ __LINE__, "exact name, longer", "favicon.ico", "/favicon.icon", false },
	{ __LINE__, "exact name, shorter", "favicon.ico", "/avicon.ico", false },
	{ __LINE__, "exact name, prefix only", "favicon.ico", "/favicon.ic", false },
	{ __LINE__, "empty pattern, empty segment", "", "/a/", true },
	{ __LINE__, "empty pattern, a name", "", "/a", false },
	{ __LINE__, "empty pattern, empty path", "", "", true },
	{ __LINE__, "prefix star", "app.*", "/js/app.3f2a.js", true },
	{ __LINE__, "middle star", "app.*.js", "/js/app.3f2a.js", true },
	{ __LINE__, "middle star, other ext", "app.*.js", "/js/app.3f2a.css", false },
	{ __LINE__, "backtracking", "a*b*c", "/abxbyc", true },
	{ __LINE__, "backtracking, no end", "a*b*c", "/abxbyd", false },
	{ __LINE__, "backtracking, repeats", "*ab", "/aab", true },
	{ __LINE__, "backtracking, overlapping", "*aab", "/aaab", true },
	{ __LINE__, "two stars", "**", "/x", true },
	{ __LINE__, "stars around", "*.*", "/noext", false },
	{ __LINE__, "stars around, dotted", "*.*", "/a.b", true },
	/* With '/': the whole path */
	{ __LINE__, "final star takes the rest", "/assets/*", "/assets/a/b.js", true },
	{ __LINE__, "final star, one level", "/assets/*", "/assets/a.js", true },
	{ __LINE__, "final star, empty rest", "/assets/*", "/assets/", true },
	{ __LINE__, "final star, no slash", "/assets/*", "/assets", false },
	{ __LINE__, "final star, other prefix", "/assets/*", "/other/assets/x", false },
	{ __LINE__, "final star, longer name", "/assets/*", "/assetsx/a", false },
	{ __LINE__, "final star after a name", "/img*", "/img2/a.png", true },
	{ __LINE__, "final star after a name, other", "/img*", "/images/a.png", false },
	{ __LINE__, "star in the middle", "/a/*/c", "/a/b/c", true },
	{ __LINE__, "star in the middle, empty", "/a/*/c", "/a//c", true },
	{ __LINE__, "star does not cross '/'", "/a/*/c", "/a/b/x/c", false },
	{ __LINE__, "star in the middle, no end", "/a/*/c", "/a/b/", false },
	{ __LINE__, "middle star then final star", "/*/x/*", "/a/x/b/c", true },
	{ __LINE__, "middle star then final star, no x", "/*/x/*", "/a/y/b/c", false },
	{ __LINE__, "slash pattern, star in a name", "/a/*.css", "/a/b.css", true },
	{ __LINE__, "slash pattern, star in a name, deeper", "/a/*.css", "/a/b/c.css", false },
	{ __LINE__, "exact path", "/robots.txt", "/robots.txt", true },
	{ __LINE__, "exact path, deeper", "/robots.txt", "/x/robots.txt", false },
	{ __LINE__, "exact path, longer", "/robots.txt", "/robots.txt/", false },
	{ __LINE__, "exact path vs empty", "/robots.txt", "", false },
	{ __LINE__, "root pattern", "/", "/", true },
	{ __LINE__, "root pattern, more", "/", "/a", false },
	{ __LINE__, "slash star", "/*", "/", true },
	{ __LINE__, "slash star, anything", "/*", "/a/b/c", true },
	{ __LINE__, "slash star, empty path", "/*", "", false },
	{ __LINE__, "escapes are not decoded", "*.css", "/a%2Ecss", false },
	{ __LINE__, "escapes as written", "/a%20b/*", "/a%20b/c", true },
};

static void test_match_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(MATCH_CASES); i++) {
		const struct match_case *c = &MATCH_CASES[i];
		bool got = match(c->pattern, c->path, strlen(c->path));
		if (got != c->want)
			FAIL_ROW(c->line, c->name, "\"%s\" vs \"%s\": %d, want %d", c->pattern,
				 c->path, got, c->want);
	}
	assert_int_equal(failures, 0);
}

/* The length bounds the path: the bytes after len are not read. */
static void test_match_length(void **state)
{
	(void)state;
	assert_true(site_pattern_match("*.css", "/a.css.map", 6));
	assert_false(site_pattern_match("*.css", "/a.css", 5));
	assert_true(site_pattern_match("/assets/*", "/assets/x", 8));
	assert_false(site_pattern_match("/assets/*", "/assets/x", 7));
	assert_true(site_pattern_match("/a/b", "/a/bc", 4));
	assert_true(site_pattern_match("*", "/a/b", 2)); /* "/a" */
	assert_true(site_pattern_match("b", "/a/b", 4));
	assert_false(site_pattern_match("b", "/a/b", 3)); /* "/a/": empty segment */
}

/* A matcher written from the header's rule, by plain recursion: '*' takes
 * any run without '/', and the last '*' of a pattern with a '/' takes the
 * rest. Exponential, so only for short inputs. */
static bool ref_glob(const char *p, const char *s, size_t n, bool star_rest)
{
	if (*p == '\0')
		return n == 0;
	if (*p == '*') {
		if (p[1] == '\0' && star_rest)
			return true;
		for (size_t k = 0; k <= n; k++) {
			if (ref_glob(p + 1, s + k, n - k, star_rest))
				return true;
			if (k < n && s[k] == '/')
				break;
		}
		return false;
	}
	return n > 0 && *p == *s && ref_glob(p + 1, s + 1, n - 1, star_rest);
}

static bool ref_match(const char *pattern, const char *path, size_t len)
{
	if (strchr(pattern, '/'))
		return ref_glob(pattern, path, len, true);
	size_t last = 0;
	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			last = i + 1;
	return ref_glob(pattern, path + last, len - last, false);
}

/* Write the n-th string of length len over the alphabet into out. */
static void nth_string(const char *alphabet, size_t k, size_t len, size_t nth, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[i] = alphabet[nth % k];
		nth /= k;
	}
	out[len] = '\0';
}

/* Every pattern of up to 5 bytes over "ab*./" against every path of up to
 * 5 bytes over "ab./". */
static void test_match_exhaustive(void **state)
{
	(void)state;
	static const char pat_abc[] = "ab*/.";
	static const char path_abc[] = "ab/.";
	int failures = 0;
	char pattern[8], path[8];
	for (size_t pl = 0; pl <= 5; pl++) {
		size_t pcount = 1;
		for (size_t i = 0; i < pl; i++)
			pcount *= sizeof(pat_abc) - 1;
		for (size_t pi = 0; pi < pcount; pi++) {
			nth_string(pat_abc, sizeof(pat_abc) - 1, pl, pi, pattern);
			for (size_t sl = 0; sl <= 5; sl++) {
				size_t scount = 1;
				for (size_t i = 0; i < sl; i++)
					scount *= sizeof(path_abc) - 1;
				for (size_t si = 0; si < scount; si++) {
					nth_string(path_abc, sizeof(path_abc) - 1, sl, si, path);
					bool got = site_pattern_match(pattern, path, sl);
					bool want = ref_match(pattern, path, sl);
					if (got != want && failures < 20)
						FAIL_ROW(__LINE__, "exhaustive",
							 "\"%s\" vs \"%s\": %d, want %d", pattern,
							 path, got, want);
					failures += got != want;
				}
			}
		}
	}
	assert_int_equal(failures, 0);
}

/* Long inputs: the glob backtracks to the last star only, so these must
 * answer at once (a backtracking-to-every-star glob would not finish). */
static void test_match_long(void **state)
{
	(void)state;
	enum { N = 4000 };
	char *path = malloc(N);
	assert_non_null(path);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	/* 3000 a's against many stars and a final b that never comes. */
	memset(path, 'a', 3000);
	assert_false(site_pattern_match("*a*a*a*a*a*b", path, 3000));
	assert_true(site_pattern_match("*a*a*a*a*a*", path, 3000));
	assert_true(site_pattern_match("*a*a*a*a*a*a", path, 3000));
	path[2999] = 'b';
	assert_true(site_pattern_match("*a*a*a*a*a*b", path, 3000));

	/* A 4000-byte path of segments, pattern full of stars. */
	for (size_t i = 0; i < N; i++)
		path[i] = (i % 8 == 0) ? '/' : 'a';
	char pat[2100];
	size_t k = 0;
	for (int i = 0; i < 100; i++) {
		memcpy(pat + k, "/*a*", 4);
		k += 4;
	}
	pat[k] = '\0';
	assert_true(site_pattern_match(pat, path, N));  /* the final star takes the rest */
	pat[k] = 'b';
	pat[k + 1] = '\0';
	assert_false(site_pattern_match(pat, path, N)); /* "*a*b" cannot cross '/' */
	for (int i = 100; i < 500; i++) {
		memcpy(pat + k, "/*a*", 4);
		k += 4;
	}
	pat[k] = 'a';
	pat[k + 1] = '\0';
	assert_true(site_pattern_match(pat, path, N));  /* 500 segments each way */
	pat[k] = '\0';
	memcpy(pat + k - 4, "/*a/", 4);
	assert_false(site_pattern_match(pat, path, N)); /* wants a trailing slash */
	char many[400];
	for (size_t i = 0; i < sizeof(many) - 2; i++)
		many[i] = (i % 2) ? 'a' : '*';
	many[sizeof(many) - 2] = 'b';
	many[sizeof(many) - 1] = '\0';
	assert_false(site_pattern_match(many, path, N)); /* last segment "aaaaaaa" */
	memset(path, 'a', N);
	assert_false(site_pattern_match(many, path, N)); /* one 4000-byte segment */
	path[N - 1] = 'b';
	assert_true(site_pattern_match(many, path, N));

	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (s > 0.5)
		print_message("test_match_long: %.3f s (expected well under a second)\n", s);
	free(path);
}

/* ---- site_cache_rule -------------------------------------------------------- */

static void test_cache_rule(void **state)
{
	(void)state;
	static const struct serve_rule rules[] = {
		{ "/assets/*", "public, max-age=31536000, immutable" },
		{ "*.css", "max-age=600" },
		{ "*", "no-cache" },
	};
	struct site_serve sv = { .cache = rules, .cache_count = 3 };
	assert_ptr_equal(site_cache_rule(&sv, "/assets/a.css", 13), &rules[0]);
	assert_ptr_equal(site_cache_rule(&sv, "/b/a.css", 8), &rules[1]);
	assert_ptr_equal(site_cache_rule(&sv, "/index.html", 11), &rules[2]);
	sv.cache_count = 2;
	assert_null(site_cache_rule(&sv, "/index.html", 11));
	sv.cache_count = 0;
	assert_null(site_cache_rule(&sv, "/assets/a.css", 13));
}

/* ---- site_cache_max_age ----------------------------------------------------- */

/* The saturation in site_cache_max_age: digits stop counting once the value
 * is over 10^8, so it never exceeds 10^9 + 9. */
#define MAX_AGE_BOUND 1000000009L

static void test_max_age_table(void **state)
{
	(void)state;
	static const struct {
		int line;
		const char *value;
		long want;          /* -2: huge, saturated (0 < v <= MAX_AGE_BOUND) */
	} rows[] = {
		{ __LINE__, "max-age=60", 60 },
		{ __LINE__, "public, max-age=600", 600 },
		{ __LINE__, "public,max-age=600", 600 },
		{ __LINE__, "public,\tmax-age=600, immutable", 600 },
		{ __LINE__, "s-maxage=10", -1 },
		{ __LINE__, "s-maxage=10, max-age=5", 5 },
		{ __LINE__, "max-age=\"30\"", 30 },
		{ __LINE__, "no-cache", -1 },
		{ __LINE__, "", -1 },
		{ __LINE__, "MAX-AGE=7", 7 },
		{ __LINE__, "Max-Age=8", 8 },
		{ __LINE__, "max-age=", -1 },
		{ __LINE__, "max-age=abc", -1 },
		{ __LINE__, "max-age=-1", -1 },
		{ __LINE__, "max-age= 5", -1 },
		{ __LINE__, "max-age", -1 },
		{ __LINE__, "x-max-age=3", -1 },
		{ __LINE__, "x-max-age=3, max-age=4", 4 },
		{ __LINE__, "private max-age=3", -1 },  /* not after ',' */
		{ __LINE__, "max-age=0", 0 },
		{ __LINE__, "max-age=007", 7 },
		{ __LINE__, "max-age=12abc", 12 },
		{ __LINE__, "max-age=1, max-age=2", 1 },  /* the first */
		{ __LINE__, "max-age=100000000", 100000000 },
		{ __LINE__, "max-age=2147483648", -2 },
		{ __LINE__, "max-age=99999999999999999999999999999999999999", -2 },
		{ __LINE__, "max-age=18446744073709551616", -2 },
	};
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		long got = site_cache_max_age(rows[i].value);
		if (rows[i].want == -2) {
			if (got <= 0 || got > MAX_AGE_BOUND)
				FAIL_ROW(rows[i].line, rows[i].value, "%ld, want in (0, %ld]", got,
					 MAX_AGE_BOUND);
		} else if (got != rows[i].want) {
			FAIL_ROW(rows[i].line, rows[i].value, "%ld, want %ld", got, rows[i].want);
		}
	}
	assert_int_equal(failures, 0);
}

/* ---- site_type_has_charset -------------------------------------------------- */

static void test_charset_table(void **state)
{
	(void)state;
	static const struct {
		int line;
		const char *type;
		bool want;
	} rows[] = {
		{ __LINE__, "text/html", true },
		{ __LINE__, "TEXT/CSS", true },
		{ __LINE__, "text/plain", true },
		{ __LINE__, "text/", true },
		{ __LINE__, "application/javascript", true },
		{ __LINE__, "Application/JavaScript", true },
		{ __LINE__, "application/json", false },
		{ __LINE__, "image/svg+xml", true },
		{ __LINE__, "image/png", false },
		{ __LINE__, "application/xml", true },
		{ __LINE__, "application/xhtml+xml", true },
		{ __LINE__, "application/octet-stream", false },
		{ __LINE__, "application/xmlx", false },
		{ __LINE__, "text", false },
		{ __LINE__, "", false },
		{ __LINE__, "xtext/html", false },
	};
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		bool got = site_type_has_charset(rows[i].type);
		if (got != rows[i].want)
			FAIL_ROW(rows[i].line, rows[i].type, "%d, want %d", got, rows[i].want);
	}
	assert_int_equal(failures, 0);
}

/* ---- site_fields_build ------------------------------------------------------ */

struct build_case {
	int line;
	const char *name;
	unsigned header_count;   /* of HEADERS below */
	unsigned hsts;
	bool tls;
	int rc;
	const char *want;        /* NULL: no block */
};

static const struct serve_rule HEADERS[] = {
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
};

static const struct build_case BUILD_CASES[] = {
	{ __LINE__, "nothing", 0, 0, false, 0, NULL },
	{ __LINE__, "nothing on tls", 0, 0, true, 0, NULL },
	{ __LINE__, "hsts on plain: nothing", 0, 31536000, false, 0, NULL },
	{ __LINE__, "hsts on tls", 0, 31536000, true, 0,
	  "Strict-Transport-Security: max-age=31536000\r\n" },
	{ __LINE__, "hsts of one second", 0, 1, true, 0, "Strict-Transport-Security: max-age=1\r\n" },
	{ __LINE__, "one header, plain", 1, 0, false, 0, "X-Frame-Options: DENY\r\n" },
	{ __LINE__, "one header, tls", 1, 0, true, 0, "X-Frame-Options: DENY\r\n" },
	{ __LINE__, "two headers, plain", 2, 0, false, 0,
	  "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n" },
	{ __LINE__, "two headers, tls", 2, 0, true, 0,
	  "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n" },
	{ __LINE__, "headers and hsts, plain", 2, 600, false, 0,
	  "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n" },
	{ __LINE__, "headers then hsts, tls", 2, 600, true, 0,
	  "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"
	  "Strict-Transport-Security: max-age=600\r\n" },
};

static void test_build_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(BUILD_CASES); i++) {
		const struct build_case *c = &BUILD_CASES[i];
		struct site_serve sv = { .headers = HEADERS, .header_count = c->header_count,
					 .hsts_max_age = c->hsts };
		char *out = (char *)"junk";
		uint16_t len = 77;
		int rc = site_fields_build(&sv, c->tls, &out, &len);
		if (rc != c->rc) {
			FAIL_ROW(c->line, c->name, "rc %d, want %d", rc, c->rc);
		} else if (!c->want) {
			if (out != NULL || len != 0)
				FAIL_ROW(c->line, c->name, "a block of %u bytes, want none", len);
		} else if (!out || len != strlen(c->want) || memcmp(out, c->want, len) != 0) {
			FAIL_ROW(c->line, c->name, "\"%.*s\", want \"%s\"", out ? (int)len : 0,
				 out ? out : "", c->want);
		}
		free(out);
	}
	assert_int_equal(failures, 0);
}

/* One header "X: " + value + CRLF, the value sized so the block is n bytes. */
static int build_one(size_t n, bool tls, unsigned hsts, uint16_t *len)
{
	char *value = malloc(n);
	assert_non_null(value);
	memset(value, 'v', n - 5);
	value[n - 5] = '\0';
	struct serve_rule rule = { "X", value };
	struct site_serve sv = { .headers = &rule, .header_count = 1, .hsts_max_age = hsts };
	char *out = NULL;
	int rc = site_fields_build(&sv, tls, &out, len);
	if (rc == 0) {
		assert_non_null(out);
		assert_int_equal(*len, n);
		assert_memory_equal(out, "X: vvv", 6);
		assert_memory_equal(out + n - 2, "\r\n", 2);
	} else {
		assert_null(out);
		assert_int_equal(*len, 0);
	}
	free(out);
	free(value);
	return rc;
}

/* The limit: SITE_FIELDS_MAX - 1 bytes fit, SITE_FIELDS_MAX do not. */
static void test_build_limit(void **state)
{
	(void)state;
	uint16_t len;
	assert_int_equal(build_one(SITE_FIELDS_MAX - 1, false, 0, &len), 0);
	assert_int_equal(len, SITE_FIELDS_MAX - 1);
	assert_int_equal(build_one(SITE_FIELDS_MAX, false, 0, &len), -1);
	assert_int_equal(build_one(SITE_FIELDS_MAX + 100, true, 0, &len), -1);
	/* HSTS pushes it over on TLS only. */
	assert_int_equal(build_one(SITE_FIELDS_MAX - 20, false, 600, &len), 0);
	assert_int_equal(build_one(SITE_FIELDS_MAX - 20, true, 600, &len), -1);
}

/* What the configuration allows (SERVE_LIST_MAX header lines of long
 * values) can be over the limit: the build says so, it does not cut. */
static void test_build_many(void **state)
{
	(void)state;
	static char names[SERVE_LIST_MAX][16];
	static char value[181];
	struct serve_rule rules[SERVE_LIST_MAX];
	memset(value, 'x', sizeof(value) - 1);
	for (unsigned i = 0; i < SERVE_LIST_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "X-Long-%02u", i);
		rules[i] = (struct serve_rule){ names[i], value };
	}
	struct site_serve sv = { .headers = rules, .header_count = SERVE_LIST_MAX };
	char *out = (char *)"junk";
	uint16_t len = 1;
	assert_int_equal(site_fields_build(&sv, false, &out, &len), -1);
	assert_null(out);
	assert_int_equal(len, 0);
	assert_int_equal(site_fields_build(&sv, true, &out, &len), -1);
	assert_null(out);

	/* 20 of them fit: 20 * (9 + 2 + 180 + 2) = 3860 bytes, in order. */
	sv.header_count = 20;
	sv.hsts_max_age = 63072000;
	assert_int_equal(site_fields_build(&sv, true, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(len, 3860 + strlen("Strict-Transport-Security: max-age=63072000\r\n"));
	for (unsigned i = 0; i < 20; i++) {
		char want[16];
		snprintf(want, sizeof(want), "X-Long-%02u: ", i);
		assert_memory_equal(out + i * 193, want, 11);
	}
	assert_memory_equal(out + 3860, "Strict-Transport-Security: max-age=63072000\r\n", len - 3860);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_match_length),
		cmocka_unit_test(test_match_exhaustive),
		cmocka_unit_test(test_match_long),
		cmocka_unit_test(test_cache_rule),
		cmocka_unit_test(test_max_age_table),
		cmocka_unit_test(test_charset_table),
		cmocka_unit_test(test_build_table),
		cmocka_unit_test(test_build_limit),
		cmocka_unit_test(test_build_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
