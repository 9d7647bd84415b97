/*
 * Unit tests for proxy_proto.c: PROXY protocol v1 and v2 headers (valid,
 * incomplete at every prefix, malformed), and the trusted-network list.
 * Every table row carries its __LINE__.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "proxy_proto.h"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_proxy_proto.c:%d: %s: ", (line), (name));    \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct parse_case {
	int line;
	const char *name;
	const char *in;
	size_t len;          /* 0: strlen */
	int want;            /* length, or -1 */
	const char *addr;    /* the source address, NULL: none carried */
	int port;
};

#define SIG "\r\n\r\n\0\r\nQUIT\n"
/* v2 TCP4 PROXY 192.0.2.1:1234 -> 198.51.100.2:443 */
#define V2_TCP4 SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x04\xd2" "\x01\xbb"
#define V2_TCP6 SIG "\x21\x21\x00\x24" \
	"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" \
	"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02" "\x00\x50" "\x01\xbb"

static const struct parse_case PARSE_CASES[] = {
	{ __LINE__, "v1 TCP4", "PROXY TCP4 192.0.2.1 198.51.100.2 1234 443\r\nGET", 0, 44,
	  "192.0.2.1", 1234 },
	{ __LINE__, "v1 TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 80 443\r\n", 0, 43,
	  "2001:db8::1", 80 },
	{ __LINE__, "v1 UNKNOWN", "PROXY UNKNOWN\r\n", 0, 15, NULL, 0 },
	{ __LINE__, "v1 UNKNOWN with addresses", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 0, 35,
	  NULL, 0 },
	{ __LINE__, "v1 port 0 and 65535", "PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n", 0, 36,
	  "1.2.3.4", 0 },
	{ __LINE__, "v1 port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 leading zero port", "PROXY TCP4 1.2.3.4 5.6.7.8 080 1\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 TCP4 with an IPv6 address", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 bad destination", "PROXY TCP4 1.2.3.4 5.6.7 1 2\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 double space", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 missing field", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 CR without LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", 0, -1, NULL, 0 },
	{ __LINE__, "v1 lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 UDP4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 control byte", "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "v1 incomplete", "PROXY TCP4 1.2.3.4 5.6", 0, 0, NULL, 0 },
	{ __LINE__, "v1 over 107 bytes",
	  "PROXY UNKNOWN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaa\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "plain HTTP", "GET / HTTP/1.1\r\n\r\n", 0, -1, NULL, 0 },
	{ __LINE__, "a TLS ClientHello", "\x16\x03\x01\x02\x00\x01", 6, -1, NULL, 0 },
	{ __LINE__, "v2 TCP4", V2_TCP4 "\x16\x03", 30, 28, "192.0.2.1", 1234 },
	{ __LINE__, "v2 TCP6", V2_TCP6, 52, 52, "2001:db8::1", 80 },
	{ __LINE__, "v2 LOCAL", SIG "\x20\x00\x00\x00", 16, 16, NULL, 0 },
	{ __LINE__, "v2 LOCAL with a body", SIG "\x20\x11\x00\x0c" "012345678901", 28, 28, NULL, 0 },
	{ __LINE__, "v2 UNSPEC", SIG "\x21\x00\x00\x00", 16, 16, NULL, 0 },
	{ __LINE__, "v2 UDP4 keeps our address", SIG "\x21\x12\x00\x0c" "012345678901", 28, 28, NULL,
	  0 },
	{ __LINE__, "v2 TCP4 with a TLV", SIG "\x21\x11\x00\x10" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02"
	  "\x04\xd2" "\x01\xbb" "\x04\x00\x01\x00", 32, 32, "192.0.2.1", 1234 },
	{ __LINE__, "v2 TCP4 too short", SIG "\x21\x11\x00\x08" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02",
	  24, -1, NULL, 0 },
	{ __LINE__, "v2 version 1", SIG "\x11\x11\x00\x00", 16, -1, NULL, 0 },
	{ __LINE__, "v2 command 2", SIG "\x22\x11\x00\x00", 16, -1, NULL, 0 },
	{ __LINE__, "v2 family 4", SIG "\x21\x41\x00\x00", 16, -1, NULL, 0 },
	{ __LINE__, "v2 transport 3", SIG "\x21\x13\x00\x00", 16, -1, NULL, 0 },
	{ __LINE__, "v2 over the bound", SIG "\x21\x11\x02\x01", 16, -1, NULL, 0 },
	{ __LINE__, "v2 bad signature", "\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x00", 16, -1, NULL, 0 },
	{ __LINE__, "v2 incomplete body", V2_TCP4, 20, 0, NULL, 0 },
};

static void check_parse(const struct parse_case *c, size_t len, int *failures_out)
{
	int failures = 0;
	struct proxy_header h;
	memset(&h, 0x5a, sizeof(h));
	int got = proxy_parse((const uint8_t *)c->in, len, &h);
	if (got != c->want) {
		FAIL_ROW(c->line, c->name, "got %d, want %d", got, c->want);
	} else if (got > 0) {
		if (!c->addr && h.has_addr)
			FAIL_ROW(c->line, c->name, "carried an address");
		if (c->addr) {
			char text[INET6_ADDRSTRLEN] = "";
			int port = -1;
			if (h.has_addr && h.src.ss_family == AF_INET) {
				const struct sockaddr_in *s4 = (const struct sockaddr_in *)&h.src;
				inet_ntop(AF_INET, &s4->sin_addr, text, sizeof(text));
				port = ntohs(s4->sin_port);
			} else if (h.has_addr && h.src.ss_family == AF_INET6) {
				const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&h.src;
				inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof(text));
				port = ntohs(s6->sin6_port);
			}
			if (strcmp(text, c->addr) != 0 || port != c->port)
				FAIL_ROW(c->line, c->name, "address %s:%d, want %s:%d", text, port,
					 c->addr, c->port);
		}
	}
	*failures_out += failures;
}

static void test_parse_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(PARSE_CASES); i++) {
		const struct parse_case *c = &PARSE_CASES[i];
		size_t len = c->len ? c->len : strlen(c->in);
		check_parse(c, len, &failures);
		/* Every proper prefix of a valid header asks for more. */
		if (c->want > 0)
			for (size_t k = 0; k < (size_t)c->want; k++) {
				struct proxy_header h;
				int got = proxy_parse((const uint8_t *)c->in, k, &h);
				if (got != 0)
					FAIL_ROW(c->line, c->name, "prefix of %zu: %d, want 0", k, got);
			}
	}
	assert_int_equal(failures, 0);
}

struct trust_case {
	int line;
	const char *spec;
	int parse;           /* 0 or -1 */
	const char *addr;    /* checked against the list when parse == 0 */
	bool match;
};

static const struct trust_case TRUST_CASES[] = {
	{ __LINE__, "127.0.0.1/32", 0, "127.0.0.1", true },
	{ __LINE__, "127.0.0.1/32", 0, "127.0.0.2", false },
	{ __LINE__, "127.0.0.1", 0, "127.0.0.1", true },
	{ __LINE__, "127.0.0.0/8", 0, "127.9.9.9", true },
	{ __LINE__, "127.0.0.0/8", 0, "::ffff:127.1.2.3", true },   /* dual-stack listener */
	{ __LINE__, "127.0.0.0/8", 0, "128.0.0.1", false },
	{ __LINE__, "10.0.0.0/8,192.168.0.0/16", 0, "192.168.7.7", true },
	{ __LINE__, "10.0.0.0/8,192.168.0.0/16", 0, "192.169.0.1", false },
	{ __LINE__, "10.1.2.0/23", 0, "10.1.3.255", true },
	{ __LINE__, "10.1.2.0/23", 0, "10.1.4.0", false },
	{ __LINE__, "0.0.0.0/0", 0, "8.8.8.8", true },
	{ __LINE__, "0.0.0.0/0", 0, "::1", false },
	{ __LINE__, "::1", 0, "::1", true },
	{ __LINE__, "::1", 0, "127.0.0.1", false },
	{ __LINE__, "2001:db8::/32", 0, "2001:db8:ffff::1", true },
	{ __LINE__, "2001:db8::/33", 0, "2001:db8:8000::1", false },
	{ __LINE__, "10.0.0.1/8", -1, NULL, false },        /* host bits set */
	{ __LINE__, "10.0.0.0/33", -1, NULL, false },
	{ __LINE__, "10.0.0.0/", -1, NULL, false },
	{ __LINE__, "10.0.0.0/08", -1, NULL, false },
	{ __LINE__, "10.0.0.0/x", -1, NULL, false },
	{ __LINE__, "localhost", -1, NULL, false },
	{ __LINE__, "", -1, NULL, false },
	{ __LINE__, "10.0.0.0/8,", -1, NULL, false },
	{ __LINE__, " 10.0.0.0/8", -1, NULL, false },
	{ __LINE__, "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5,6.6.6.6,7.7.7.7,8.8.8.8,9.9.9.9,"
		    "1.0.0.1,1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,1.0.0.6,1.0.0.7,1.0.0.8", -1, NULL, false },
};

static void test_trust_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(TRUST_CASES); i++) {
		const struct trust_case *c = &TRUST_CASES[i];
		struct proxy_trust t;
		char err[128] = "";
		int rc = proxy_trust_parse(c->spec, &t, err, sizeof(err));
		if (rc != c->parse) {
			FAIL_ROW(c->line, c->spec, "parse %d, want %d", rc, c->parse);
			continue;
		}
		if (rc < 0) {
			if (!err[0])
				FAIL_ROW(c->line, c->spec, "no message");
			continue;
		}
		struct sockaddr_storage ss = { 0 };
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET, c->addr, &s4->sin_addr) == 1)
			s4->sin_family = AF_INET;
		else if (inet_pton(AF_INET6, c->addr, &s6->sin6_addr) == 1)
			s6->sin6_family = AF_INET6;
		if (proxy_trust_match(&t, (struct sockaddr *)&ss) != c->match)
			FAIL_ROW(c->line, c->spec, "%s: want %s", c->addr, c->match ? "match" : "none");
	}
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_trust_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
