/*
 * Unit tests for http_date.c: formatting IMF-fixdates, parsing the three
 * forms RFC 9110 §5.6.7 allows, and the cached Date header line.
 *
 * Every table row carries its __LINE__; a failing row prints it and its name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "http_date.h"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_http_date.c:%d: %s: ", (line), (name));      \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

static void test_http_date_format(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(http_date_format(784111777, out, sizeof(out)), 29);
	assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(http_date_format(0, out, 30), 29);
	assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
	assert_int_equal(http_date_format(951782400, out, 30), 29);
	assert_string_equal(out, "Tue, 29 Feb 2000 00:00:00 GMT");
	assert_int_equal(http_date_format(0, out, 29), 0);
	assert_string_equal(out, "");
	assert_int_equal(http_date_format((time_t)1 << 60, out, sizeof(out)), 0);

	static const time_t ts[] = { 0, 1, 59, 86399, 86400, 784111777, 951782400,
				     1700000000, 2147483647, 2147483648LL,
				     253402300799LL /* 9999-12-31 23:59:59 */ };
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		assert_int_equal(http_date_format(ts[i], out, sizeof(out)), 29);
		assert_int_equal(http_date_parse(out, 29), ts[i]);
	}
	/* Walk a few years, a day and a bit at a time. */
	for (time_t t = 0; t < 4 * 366 * 86400; t += 86400 + 3607) {
		assert_int_equal(http_date_format(t, out, sizeof(out)), 29);
		assert_int_equal(http_date_parse(out, 29), t);
	}
}

struct date_case {
	int line;
	const char *name;
	const char *in;
	time_t want;
};

static const struct date_case DATE_CASES[] = {
	{ __LINE__, "IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 },
	{ __LINE__, "RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", 784111777 },
	{ __LINE__, "asctime", "Sun Nov  6 08:49:37 1994", 784111777 },
	{ __LINE__, "asctime two-digit day", "Wed Nov 16 08:49:37 1994", 784975777 },
	{ __LINE__, "RFC 850 20xx", "Wednesday, 09-Nov-05 08:49:37 GMT", 1131526177 },
	{ __LINE__, "RFC 850 wrong length", "Sun, 06-Nov-94 08:49:37 GMT", -1 },
	{ __LINE__, "leap day", "Thu, 29 Feb 1996 00:00:00 GMT", 825552000 },
	{ __LINE__, "epoch", "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
	{ __LINE__, "no leap day", "Wed, 29 Feb 1995 00:00:00 GMT", -1 },
	{ __LINE__, "day 32", "Sun, 32 Nov 1994 08:49:37 GMT", -1 },
	{ __LINE__, "day 31 of Nov", "Sun, 31 Nov 1994 08:49:37 GMT", -1 },
	{ __LINE__, "day 0", "Sun, 00 Nov 1994 08:49:37 GMT", -1 },
	{ __LINE__, "hour 24", "Sun, 06 Nov 1994 24:49:37 GMT", -1 },
	{ __LINE__, "minute 60", "Sun, 06 Nov 1994 08:60:37 GMT", -1 },
	{ __LINE__, "UTC not GMT", "Sun, 06 Nov 1994 08:49:37 UTC", -1 },
	{ __LINE__, "lower-case month", "Sun, 06 nov 1994 08:49:37 GMT", -1 },
	{ __LINE__, "bad day name", "Xyz, 06 Nov 1994 08:49:37 GMT", -1 },
	{ __LINE__, "bad month", "Sun, 06 Noo 1994 08:49:37 GMT", -1 },
	{ __LINE__, "before 1970", "Wed, 31 Dec 1969 23:59:59 GMT", -1 },
	{ __LINE__, "trailing space", "Sun, 06 Nov 1994 08:49:37 GMT ", -1 },
	{ __LINE__, "one-digit day", "Sun, 6 Nov 1994 08:49:37 GMT", -1 },
	{ __LINE__, "sign in year", "Sun, 06 Nov +994 08:49:37 GMT", -1 },
	{ __LINE__, "garbage", "yesterday", -1 },
	{ __LINE__, "empty", "", -1 },
	{ __LINE__, "number", "784111777", -1 },
	{ __LINE__, "asctime bad spacing", "Sun Nov 6  08:49:37 1994", -1 },
	{ __LINE__, "RFC 850 bad day", "Sundae, 06-Nov-94 08:49:37 GMT", -1 },
};

static void test_http_date_parse(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(DATE_CASES) / sizeof(DATE_CASES[0]); i++) {
		const struct date_case *c = &DATE_CASES[i];
		time_t got = http_date_parse(c->in, strlen(c->in));
		if (got != c->want)
			FAIL_ROW(c->line, c->name, "got %lld, want %lld", (long long)got,
				 (long long)c->want);
	}
	/* Not NUL-terminated: only len bytes are read. */
	const char *s = "Sun, 06 Nov 1994 08:49:37 GMTxyz";
	assert_int_equal(http_date_parse(s, 29), 784111777);
	assert_int_equal(failures, 0);
}

static void test_date_cache(void **state)
{
	(void)state;
	struct http_date_cache d = { 0 };
	http_date_update(&d, 784111777);
	assert_int_equal(d.len, strlen("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
	assert_memory_equal(d.line, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", d.len);
	d.line[6] = 'X'; /* the same second: left alone */
	http_date_update(&d, 784111777);
	assert_int_equal(d.line[6], 'X');
	http_date_update(&d, 784111778); /* the next: rebuilt */
	assert_memory_equal(d.line, "Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n", d.len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_date_format),
		cmocka_unit_test(test_http_date_parse),
		cmocka_unit_test(test_date_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
