/*
 * Unit tests for uri.c: hex digits, percent-escape validation, decoding and
 * the encoding of paths for Location.
 *
 * Decoding and encoding rows run at every output capacity from 0 to the
 * exact fit: short ones must return -1 and write nothing past cap, the exact
 * fit must succeed. Every table row carries its __LINE__; a failing row
 * prints it and its name.
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

#include "uri.h"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_uri.c:%d: %s: ", (line), (name));            \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { GUARD = 16, OUT_MAX = 256 };

/* ---- uri_hex_digit ------------------------------------------------------------ */

static void test_hex_digit(void **state)
{
	(void)state;
	int failures = 0;
	for (int c = 0; c < 256; c++) {
		int want = -1;
		if (c >= '0' && c <= '9')
			want = c - '0';
		else if (c >= 'a' && c <= 'f')
			want = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			want = c - 'A' + 10;
		int got = uri_hex_digit((char)c);
		if (got != want)
			FAIL_ROW(__LINE__, "byte", "0x%02x: %d, want %d", c, got, want);
	}
	assert_int_equal(failures, 0);
}

/* ---- uri_pct_valid ------------------------------------------------------------ */

struct valid_case {
	int line;
	const char *name;
	const char *in;
	size_t len; /* 0: strlen */
	bool want;
};

static const struct valid_case VALID_CASES[] = {
	{ __LINE__, "empty", "", 0, true },
	{ __LINE__, "plain", "/a/b.html", 0, true },
	{ __LINE__, "escape", "%20", 0, true },
	{ __LINE__, "escapes in a path", "/a%20b/%2e%2E/c", 0, true },
	{ __LINE__, "upper and lower hex", "%aF%Af%FF", 0, true },
	{ __LINE__, "%01 is not NUL", "%01", 0, true },
	{ __LINE__, "%10 is not NUL", "%10", 0, true },
	{ __LINE__, "%0A passes (callers judge CR/LF)", "%0d%0A", 0, true },
	{ __LINE__, "double-encoded", "%2520", 0, true },
	{ __LINE__, "high bytes raw", "\xc3\xa9", 0, true },
	{ __LINE__, "escape at the very end", "/a%41", 0, true },
	{ __LINE__, "lone percent", "%", 0, false },
	{ __LINE__, "percent at the end", "/a%", 0, false },
	{ __LINE__, "one digit at the end", "/a%4", 0, false },
	{ __LINE__, "one digit then more", "%4/", 0, false },
	{ __LINE__, "bad first digit", "%g0", 0, false },
	{ __LINE__, "bad second digit", "%0g", 0, false },
	{ __LINE__, "both bad", "%zz", 0, false },
	{ __LINE__, "space in an escape", "% 20", 0, false },
	{ __LINE__, "percent as a digit", "%%20", 0, false },
	{ __LINE__, "sign as a digit", "%+1", 0, false },
	{ __LINE__, "%00", "%00", 0, false },
	{ __LINE__, "%00 inside", "/a%00b", 0, false },
	{ __LINE__, "%00 after a valid escape", "%20%00", 0, false },
	{ __LINE__, "raw NUL", "/a\0b", 4, false },
	{ __LINE__, "raw NUL first", "\0", 1, false },
	{ __LINE__, "length limits: escape cut", "/a%20", 4, false },
	{ __LINE__, "length limits: escape cut after %", "/a%20", 3, false },
	{ __LINE__, "length limits: bad tail not seen", "/a%2", 2, true },
	{ __LINE__, "length limits: NUL not seen", "ab\0", 2, true },
	{ __LINE__, "%000 is %00 then 0", "%000", 0, false },
	{ __LINE__, "%0 then 0 hex", "%0a0", 0, true },
};

static void test_valid_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(VALID_CASES); i++) {
		const struct valid_case *c = &VALID_CASES[i];
		size_t len = c->len ? c->len : strlen(c->in);
		/* Copied into an exactly-sized block: reading past len is ASan's. */
		char *in = malloc(len ? len : 1);
		assert_non_null(in);
		memcpy(in, c->in, len);
		bool got = uri_pct_valid(in, len);
		if (got != c->want)
			FAIL_ROW(c->line, c->name, "%s, want %s", got ? "valid" : "invalid",
				 c->want ? "valid" : "invalid");
		/* In place, with the literal's bytes after len there to be misread:
		 * len alone must decide. */
		got = uri_pct_valid(c->in, len);
		if (got != c->want)
			FAIL_ROW(c->line, c->name, "in place: %s, want %s", got ? "valid" : "invalid",
				 c->want ? "valid" : "invalid");
		free(in);
	}
	assert_int_equal(failures, 0);
}

/* ---- uri_pct_decode ----------------------------------------------------------- */

struct decode_case {
	int line;
	const char *name;
	const char *in;
	size_t len;        /* 0: strlen */
	const char *out;   /* decoded */
	size_t out_len;    /* 0: strlen(out) */
};

static const struct decode_case DECODE_CASES[] = {
	{ __LINE__, "empty", "", 0, "", 0 },
	{ __LINE__, "plain", "abc", 0, "abc", 0 },
	{ __LINE__, "one escape", "%41", 0, "A", 0 },
	{ __LINE__, "escapes only", "%41%42", 0, "AB", 0 },
	{ __LINE__, "lower and upper hex", "%2f%2F", 0, "//", 0 },
	{ __LINE__, "space", "a%20b", 0, "a b", 0 },
	{ __LINE__, "decoded once", "%252e%252e", 0, "%2e%2e", 0 },
	{ __LINE__, "CR LF", "%0d%0a", 0, "\r\n", 0 },
	{ __LINE__, "UTF-8", "%c3%a9t%C3%A9", 0, "\xc3\xa9t\xc3\xa9", 0 },
	{ __LINE__, "0xff", "%ff", 0, "\xff", 0 },
	{ __LINE__, "%01", "%01", 0, "\x01", 0 },
	{ __LINE__, "raw high bytes kept", "\xc3\xa9", 0, "\xc3\xa9", 0 },
	{ __LINE__, "length limits input", "abc%41", 3, "abc", 0 },
	{ __LINE__, "escape at the end", "/x/%7e", 0, "/x/~", 0 },
	{ __LINE__, "long", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa%20bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	  0, "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 0 },
};

static void test_decode_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(DECODE_CASES); i++) {
		const struct decode_case *c = &DECODE_CASES[i];
		size_t len = c->len ? c->len : strlen(c->in);
		size_t want = c->out_len ? c->out_len : strlen(c->out);
		char *in = malloc(len ? len : 1);
		assert_non_null(in);
		memcpy(in, c->in, len);
		if (!uri_pct_valid(in, len))
			FAIL_ROW(c->line, c->name, "row: input is not pct_valid");
		/* Every capacity up to the exact fit (decoded bytes and a NUL). */
		for (size_t cap = 0; cap <= want + 1; cap++) {
			char out[OUT_MAX + GUARD];
			memset(out, '#', sizeof(out));
			long rc = uri_pct_decode(in, len, out, cap);
			for (size_t g = cap; g < sizeof(out); g++)
				if (out[g] != '#') {
					FAIL_ROW(c->line, c->name, "cap %zu: wrote past cap", cap);
					break;
				}
			if (cap <= want && rc != -1)
				FAIL_ROW(c->line, c->name, "cap %zu (%zu short): rc %ld, want -1", cap,
					 want + 1 - cap, rc);
			if (cap == want + 1 &&
			    (rc != (long)want || memcmp(out, c->out, want) != 0 || out[want] != '\0'))
				FAIL_ROW(c->line, c->name, "exact fit: rc %ld, out \"%.*s\", want \"%s\"",
					 rc, (int)(rc > 0 ? rc : 0), out, c->out);
		}
		free(in);
	}
	assert_int_equal(failures, 0);
}

/* Every escape of every byte but NUL decodes to that byte. */
static void test_decode_every_byte(void **state)
{
	(void)state;
	static const char hex[] = "0123456789abcdef", HEX[] = "0123456789ABCDEF";
	for (int c = 1; c < 256; c++) {
		char in[8] = { 'x', '%', hex[c >> 4], HEX[c & 15], 'y' };
		char out[4];
		assert_true(uri_pct_valid(in, 5));
		assert_int_equal(uri_pct_decode(in, 5, out, sizeof(out)), 3);
		assert_int_equal(out[0], 'x');
		assert_int_equal((unsigned char)out[1], c);
		assert_int_equal(out[2], 'y');
		assert_int_equal(out[3], '\0');
	}
}

/* ---- uri_encode_path ---------------------------------------------------------- */

struct encode_case {
	int line;
	const char *name;
	const char *in;
	const char *out;
};

static const struct encode_case ENCODE_CASES[] = {
	{ __LINE__, "root", "/", "/" },
	{ __LINE__, "plain path", "/a/b/c.html", "/a/b/c.html" },
	{ __LINE__, "letters and digits", "/AZaz09", "/AZaz09" },
	{ __LINE__, "unreserved stay", "/-._~", "/-._~" },
	{ __LINE__, "sub-delims stay", "/!$&'()*+,;=", "/!$&'()*+,;=" },
	{ __LINE__, "':' and '@' stay", "/a:b@c", "/a:b@c" },
	{ __LINE__, "slashes stay", "//a//", "//a//" },
	{ __LINE__, "space", "/a b/", "/a%20b/" },
	{ __LINE__, "CR and LF", "/a\r\nLocation: x", "/a%0D%0ALocation:%20x" },
	{ __LINE__, "percent", "/100%", "/100%25" },
	{ __LINE__, "an escape is encoded again", "/%2e", "/%252e" },
	{ __LINE__, "double quote", "/\"q\"", "/%22q%22" },
	{ __LINE__, "gen-delims other than : @ /", "/?#[]", "/%3F%23%5B%5D" },
	{ __LINE__, "unsafe ASCII", "/<>\\^`{|}", "/%3C%3E%5C%5E%60%7B%7C%7D" },
	{ __LINE__, "tab and other controls", "/\t\x01\x1f", "/%09%01%1F" },
	{ __LINE__, "DEL", "/\x7f", "/%7F" },
	{ __LINE__, "non-ASCII (UTF-8)", "/\xc3\xa9t\xc3\xa9/", "/%C3%A9t%C3%A9/" },
	{ __LINE__, "0x80 and 0xff", "/\x80\xff", "/%80%FF" },
	{ __LINE__, "ends with an encoded byte", "/a ", "/a%20" },
	{ __LINE__, "only encoded bytes", "   ", "%20%20%20" },
	{ __LINE__, "one byte", "a", "a" },
	{ __LINE__, "empty (with room for the NUL)", "", "" },
};

static void test_encode_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(ENCODE_CASES); i++) {
		const struct encode_case *c = &ENCODE_CASES[i];
		size_t want = strlen(c->out);
		/* The known bug below: "" at cap 0 writes its NUL past cap. */
		size_t cap0 = c->in[0] ? 0 : 1;
		for (size_t cap = cap0; cap <= want + 1; cap++) {
			char out[OUT_MAX + GUARD];
			memset(out, '#', sizeof(out));
			int rc = uri_encode_path(c->in, out, cap);
			for (size_t g = cap; g < sizeof(out); g++)
				if (out[g] != '#') {
					FAIL_ROW(c->line, c->name, "cap %zu: wrote past cap", cap);
					break;
				}
			if (cap <= want && rc != -1)
				FAIL_ROW(c->line, c->name, "cap %zu (%zu short): rc %d, want -1", cap,
					 want + 1 - cap, rc);
			if (cap == want + 1 && (rc != 0 || strcmp(out, c->out) != 0))
				FAIL_ROW(c->line, c->name, "exact fit: rc %d, out \"%s\", want \"%s\"", rc,
					 rc == 0 ? out : "", c->out);
		}
	}
	assert_int_equal(failures, 0);
}

/* Every byte: pchar and '/' stay, everything else is %XX (upper-case hex);
 * so no CR, LF, space, '"' or '%' can ever come out raw. */
static void test_encode_every_byte(void **state)
{
	(void)state;
	static const char keep[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789-._~!$&'()*+,;=:@/";
	int failures = 0;
	for (int c = 1; c < 256; c++) {
		char in[2] = { (char)c, '\0' };
		char out[8], want[8];
		if (memchr(keep, c, sizeof(keep) - 1))
			snprintf(want, sizeof(want), "%c", c);
		else
			snprintf(want, sizeof(want), "%%%02X", c);
		if (uri_encode_path(in, out, sizeof(out)) != 0 || strcmp(out, want) != 0)
			FAIL_ROW(__LINE__, "byte", "0x%02x: \"%s\", want \"%s\"", c, out, want);
	}
	assert_int_equal(failures, 0);
}

/* Encoding then decoding gives the path back, for every byte but NUL. */
static void test_encode_round_trip(void **state)
{
	(void)state;
	char path[256], enc[3 * 256 + 1], dec[256];
	for (int i = 0; i < 255; i++)
		path[i] = (char)(i + 1);
	path[255] = '\0';
	assert_int_equal(uri_encode_path(path, enc, sizeof(enc)), 0);
	assert_int_equal(strlen(enc), 3 * 255 - 2 * (sizeof("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
							     "abcdefghijklmnopqrstuvwxyz"
							     "0123456789-._~!$&'()*+,;=:@/") - 1));
	assert_null(strpbrk(enc, "\r\n \"<>\\"));
	assert_true(uri_pct_valid(enc, strlen(enc)));
	assert_int_equal(uri_pct_decode(enc, strlen(enc), dec, sizeof(dec)), 255);
	assert_memory_equal(dec, path, 256);
}

/* ---- known bugs ---------------------------------------------------------------
 * Each test below fails against today's src/ and is skipped unless
 * LISOD_KNOWN_BUGS=1 is set, so that `make unit` stays green while the bug is
 * reported (not fixed here: src/ belongs to other branches). */

static bool known_bug(const char *what)
{
	const char *e = getenv("LISOD_KNOWN_BUGS");
	if (e && strcmp(e, "1") == 0)
		return false;
	print_message("KNOWN BUG (skipped; LISOD_KNOWN_BUGS=1 runs it): %s\n", what);
	skip();
	return true;
}

/*
 * KNOWN BUG: uri_encode_path("", out, 0) writes its terminating NUL at
 * out[0], one byte past a capacity of 0, and returns 0; it should return -1
 * ("does not fit in cap bytes, NUL included"). The check `w + need >= cap`
 * only runs inside the loop, which an empty path never enters. Unreachable
 * today (static.c always encodes a path starting with '/'), but a write past
 * the caller's buffer.
 */
static void test_known_bug_encode_empty_into_nothing(void **state)
{
	(void)state;
	if (known_bug("uri_encode_path(\"\", out, 0) writes out[0]"))
		return;
	char out[4] = { '#', '#', '#', '#' };
	int rc = uri_encode_path("", out, 0);
	assert_int_equal(out[0], '#');
	assert_int_equal(rc, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_digit),
		cmocka_unit_test(test_valid_table),
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_decode_every_byte),
		cmocka_unit_test(test_encode_table),
		cmocka_unit_test(test_encode_every_byte),
		cmocka_unit_test(test_encode_round_trip),
		cmocka_unit_test(test_known_bug_encode_empty_into_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
