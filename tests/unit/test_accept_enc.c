/*
 * Unit tests for accept_enc.c: Accept-Encoding parsing and the choice of a
 * content coding.
 *
 * Each value is parsed from a heap copy of exactly its length (no NUL
 * after it), so an ASan build catches a read past the field. Every table
 * row carries its __LINE__; a failing row prints it and its name.
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

#include "accept_enc.h"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_accept_enc.c:%d: %s: ", (line), (name));     \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Available masks. Identity is always available, so NONE means "only the
 * plain file". */
#define NONE 0u
#define GZ (1u << CODING_GZIP)
#define BR (1u << CODING_BR)
#define ZS (1u << CODING_ZSTD)
#define ALL (GZ | BR | ZS)

#define ID CODING_IDENTITY
#define GZIP CODING_GZIP
#define BROT CODING_BR
#define ZSTD CODING_ZSTD

/* Parse value (NULL: absent) from an exact-length heap copy. */
static void parse(const char *value, struct accept_enc *ae)
{
	if (value == NULL) {
		accept_enc_parse(NULL, 0, ae);
		return;
	}
	size_t n = strlen(value);
	char *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	memcpy(copy, value, n);
	accept_enc_parse(copy, n, ae);
	free(copy);
}

/* ---- accept_enc_choose --------------------------------------------------- */

struct choose_case {
	int line;
	const char *value;  /* NULL: the field is absent */
	unsigned available;
	enum content_coding want;
};

static const struct choose_case CHOOSE_CASES[] = {
	/* Absent and empty */
	{ __LINE__, NULL, ALL, ID },
	{ __LINE__, NULL, NONE, ID },
	{ __LINE__, "", ALL, ID },
	{ __LINE__, " \t ", ALL, ID },
	{ __LINE__, ",,", ALL, ID },
	/* One coding */
	{ __LINE__, "gzip", ALL, GZIP },
	{ __LINE__, "gzip", GZ, GZIP },
	{ __LINE__, "gzip", BR | ZS, ID },
	{ __LINE__, "gzip", NONE, ID },
	{ __LINE__, "br", ALL, BROT },
	{ __LINE__, "zstd", ALL, ZSTD },
	{ __LINE__, "gzip;q=0", ALL, ID },
	{ __LINE__, "gzip;q=0", GZ, ID },
	{ __LINE__, "compress, deflate", ALL, ID },
	/* identity */
	{ __LINE__, "identity;q=0, gzip", ALL, GZIP },
	{ __LINE__, "identity;q=0, gzip", NONE, ID },   /* disregarded: no 406 */
	{ __LINE__, "identity;q=0", NONE, ID },
	{ __LINE__, "identity", ALL, ID },
	{ __LINE__, "identity, gzip;q=0.5", ALL, ID },
	{ __LINE__, "identity;q=0.5, gzip", ALL, GZIP },
	{ __LINE__, "identity;q=0.5, gzip;q=0.5", ALL, GZIP }, /* tie: gzip first */
	/* "*" */
	{ __LINE__, "*", ALL, BROT },
	{ __LINE__, "*", GZ, GZIP },
	{ __LINE__, "*", ZS | GZ, ZSTD },
	{ __LINE__, "*", NONE, ID },
	{ __LINE__, "*;q=0", ALL, ID },
	{ __LINE__, "*;q=0", NONE, ID },
	{ __LINE__, "*;q=0, identity", ALL, ID },
	{ __LINE__, "*;q=0, gzip", ALL, GZIP },
	{ __LINE__, "*;q=0.5, gzip", ALL, GZIP },
	{ __LINE__, "*, br;q=0", ALL, ZSTD },
	{ __LINE__, "*, br;q=0, zstd;q=0", ALL, GZIP },
	{ __LINE__, "gzip;q=0.2, *;q=0.3", ALL, BROT },
	{ __LINE__, "gzip;q=0.2, *;q=0.3", GZ, GZIP },
	/* Weights */
	{ __LINE__, "br;q=0.5, gzip;q=0.8", ALL, GZIP },
	{ __LINE__, "br;q=0.8, gzip;q=0.5", ALL, BROT },
	{ __LINE__, "br;q=0.5, gzip;q=0.8", BR, BROT },
	{ __LINE__, "gzip;q=0.001", ALL, GZIP },  /* above implicit identity */
	{ __LINE__, "zstd;q=0.999, br", ALL, BROT },
	{ __LINE__, "gzip;q=1.000, br;q=0.999", ALL, GZIP },
	{ __LINE__, "gzip;q=1., br;q=0.", ALL, GZIP },
	/* Ties */
	{ __LINE__, "gzip, br, zstd", ALL, BROT },
	{ __LINE__, "gzip, zstd", ALL, ZSTD },
	{ __LINE__, "gzip;q=0.5, br;q=0.5", ALL, BROT },
	{ __LINE__, "gzip, deflate, br, zstd", GZ | ZS, ZSTD },
	{ __LINE__, "gzip, deflate, br", GZ, GZIP },
	/* Case and aliases */
	{ __LINE__, "GZIP", ALL, GZIP },
	{ __LINE__, "Br", ALL, BROT },
	{ __LINE__, "ZsTd", ALL, ZSTD },
	{ __LINE__, "x-gzip", ALL, GZIP },
	{ __LINE__, "X-GZIP;Q=0.8, br;q=0.7", ALL, GZIP },
	{ __LINE__, "br;Q=0", ALL, ID },
	{ __LINE__, "IDENTITY;q=0, GZIP", GZ, GZIP },
	/* Duplicates: the first valid element wins */
	{ __LINE__, "gzip;q=0, gzip", ALL, ID },
	{ __LINE__, "gzip, x-gzip;q=0", GZ, GZIP },
	{ __LINE__, "gzip;q=2, gzip;q=0.5", GZ, GZIP }, /* the invalid one is skipped */
	/* Invalid qvalues: the element is ignored */
	{ __LINE__, "gzip;q=2", ALL, ID },
	{ __LINE__, "gzip;q=abc", ALL, ID },
	{ __LINE__, "gzip;q=0.1234", ALL, ID },
	{ __LINE__, "gzip;q=1.0001", ALL, ID },
	{ __LINE__, "gzip;q=1.001", ALL, ID },
	{ __LINE__, "gzip;q=1.5", ALL, ID },
	{ __LINE__, "gzip;q=-1", ALL, ID },
	{ __LINE__, "gzip;q=", ALL, ID },
	{ __LINE__, "gzip;q", ALL, ID },
	{ __LINE__, "gzip;q=.5", ALL, ID },
	{ __LINE__, "gzip;q=0.5;q=1", ALL, ID },
	{ __LINE__, "br;q=2, gzip", ALL, GZIP },
	{ __LINE__, "*;q=abc", ALL, ID },
	/* OWS */
	{ __LINE__, "gzip ; q=0.5 , br ; q = 0.4", ALL, GZIP },
	{ __LINE__, "\tbr\t;\tq\t=\t0.9\t,\tgzip;q=0.8", ALL, BROT },
	{ __LINE__, "  gzip  ", GZ, GZIP },
	{ __LINE__, "gzip,br", ALL, BROT },
	{ __LINE__, ",gzip,,", GZ, GZIP },
	/* Other parameters */
	{ __LINE__, "gzip;level=9", GZ, GZIP },
	{ __LINE__, "gzip;level=9;q=0", GZ, ID },
	{ __LINE__, "gzip;x=\"a,b;q=1\";q=0.5, br;q=0.4", ALL, GZIP },
	{ __LINE__, "gzip;x=\"a\\\"b\", br;q=0", ALL, GZIP },
	{ __LINE__, "gzip;x=\"unterminated, br", ALL, ID },
	{ __LINE__, "gzip;x", GZ, ID },
	{ __LINE__, "gzip;=1", GZ, ID },
	{ __LINE__, "gzip;", GZ, ID },
	/* Garbage: skipped element by element */
	{ __LINE__, "garbage", ALL, ID },
	{ __LINE__, "\x01\x02\xff", ALL, ID },
	{ __LINE__, "gzip br", ALL, ID },
	{ __LINE__, "gzip br, zstd", ALL, ZSTD },
	{ __LINE__, "gz ip, br", ALL, BROT },
	{ __LINE__, ";q=1, gzip", GZ, GZIP },
	{ __LINE__, "@@@, gzip;q=0.3", GZ, GZIP },
	{ __LINE__, "gzipx, brr, zstd2", ALL, ID },
	{ __LINE__, "identityx;q=0", NONE, ID },
	{ __LINE__, "**", ALL, ID },
	{ __LINE__, "\"gzip\"", ALL, ID },
};

static void test_choose_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(CHOOSE_CASES); i++) {
		const struct choose_case *c = &CHOOSE_CASES[i];
		const char *name = c->value ? c->value : "(absent)";
		struct accept_enc ae;
		parse(c->value, &ae);
		enum content_coding got = accept_enc_choose(&ae, c->available);
		if (got != c->want)
			FAIL_ROW(c->line, name, "mask %#x: %s, want %s", c->available,
				 content_coding_name(got), content_coding_name(c->want));
		if (ae.present != (c->value != NULL))
			FAIL_ROW(c->line, name, "present %d", ae.present);
	}
	assert_int_equal(failures, 0);
}

/* ---- accept_enc_parse: the resolved weights ------------------------------ */

struct q_case {
	int line;
	const char *value;
	uint16_t q[CODING_COUNT]; /* identity, gzip, br, zstd */
};

static const struct q_case Q_CASES[] = {
	{ __LINE__, NULL, { 0, 0, 0, 0 } },
	{ __LINE__, "", { 1, 0, 0, 0 } },
	{ __LINE__, "gzip", { 1, 1000, 0, 0 } },
	{ __LINE__, "gzip;q=0.5", { 1, 500, 0, 0 } },
	{ __LINE__, "gzip;q=0.05", { 1, 50, 0, 0 } },
	{ __LINE__, "gzip;q=0.005", { 1, 5, 0, 0 } },
	{ __LINE__, "gzip;q=0.123", { 1, 123, 0, 0 } },
	{ __LINE__, "gzip;q=1.000", { 1, 1000, 0, 0 } },
	{ __LINE__, "gzip;q=0.000", { 1, 0, 0, 0 } },
	{ __LINE__, "*", { 1, 1000, 1000, 1000 } },
	{ __LINE__, "*;q=0.4", { 1, 400, 400, 400 } },
	{ __LINE__, "*;q=0", { 0, 0, 0, 0 } },
	{ __LINE__, "*;q=0, identity", { 1000, 0, 0, 0 } },
	{ __LINE__, "*;q=0, identity;q=0.2", { 200, 0, 0, 0 } },
	{ __LINE__, "identity;q=0", { 0, 0, 0, 0 } },
	{ __LINE__, "identity;q=0.7, br;q=0.3", { 700, 0, 300, 0 } },
	{ __LINE__, "x-gzip;q=0.25, zstd;q=0.75, *;q=0.1", { 1, 250, 100, 750 } },
	{ __LINE__, "gzip;q=9, br;q=0.9", { 1, 0, 900, 0 } },
};

static void test_q_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(Q_CASES); i++) {
		const struct q_case *c = &Q_CASES[i];
		struct accept_enc ae;
		parse(c->value, &ae);
		for (int k = 0; k < CODING_COUNT; k++)
			if (ae.q[k] != c->q[k])
				FAIL_ROW(c->line, c->value ? c->value : "(absent)",
					 "q[%s] = %u, want %u",
					 content_coding_name((enum content_coding)k),
					 ae.q[k], c->q[k]);
	}
	assert_int_equal(failures, 0);
}

/* The length bounds the value: bytes after it are not read. */
static void test_length_bounds(void **state)
{
	(void)state;
	struct accept_enc ae;
	accept_enc_parse("gzip;q=0.5", 4, &ae);
	assert_int_equal(ae.q[CODING_GZIP], 1000);
	accept_enc_parse("br, gzip", 2, &ae);
	assert_int_equal(accept_enc_choose(&ae, ALL), CODING_BR);
	assert_int_equal(ae.q[CODING_GZIP], 0);
	accept_enc_parse("x", 0, &ae);
	assert_true(ae.present);
	assert_int_equal(accept_enc_choose(&ae, ALL), CODING_IDENTITY);
}

/* ---- names --------------------------------------------------------------- */

static void test_names(void **state)
{
	(void)state;
	static const struct {
		int line;
		enum content_coding c;
		const char *name, *suffix;
	} rows[] = {
		{ __LINE__, CODING_IDENTITY, "identity", "" },
		{ __LINE__, CODING_GZIP, "gzip", ".gz" },
		{ __LINE__, CODING_BR, "br", ".br" },
		{ __LINE__, CODING_ZSTD, "zstd", ".zst" },
		{ __LINE__, CODING_COUNT, "identity", "" },
		{ __LINE__, (enum content_coding)-1, "identity", "" },
	};
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		if (strcmp(content_coding_name(rows[i].c), rows[i].name) != 0)
			FAIL_ROW(rows[i].line, rows[i].name, "name %s", content_coding_name(rows[i].c));
		if (strcmp(content_coding_suffix(rows[i].c), rows[i].suffix) != 0)
			FAIL_ROW(rows[i].line, rows[i].name, "suffix %s",
				 content_coding_suffix(rows[i].c));
	}
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose_table),
		cmocka_unit_test(test_q_table),
		cmocka_unit_test(test_length_bounds),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
