/*
 * Unit tests for log.c: the access line (Combined Log Format) and its
 * quoting against log forging, error lines, and reopening after rotation.
 *
 * Lines are written to a file in a mkdtemp() directory (log_new(path, NULL,
 * ...): access lines share the error log), flushed and read back, and
 * compared byte for byte. Whatever a client puts in the request line,
 * Referer or User-Agent must come out as printable ASCII inside its quotes,
 * so it can neither end the line nor close its field and forge the next.
 *
 * log.c is included to call clf_quote directly and to use LOG_LINE_MAX.
 * Every table row carries its __LINE__; a failing row prints it and its name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.c"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_log.c:%d: %s: ", (line), (name));            \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* 784111777: Sun, 06 Nov 1994 08:49:37 GMT. */
enum { WHEN = 784111777 };
#define STAMP "[06/Nov/1994:08:49:37 +0000]"

/* ---- files -------------------------------------------------------------------- */

struct dir {
	char path[64];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	snprintf(d->path, sizeof(d->path), "/tmp/lisod_log_XXXXXX");
	assert_non_null(mkdtemp(d->path));
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
	free(d);
	return 0;
}

static void dir_file(const struct dir *d, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", d->path, name);
}

/* The whole file (NUL-terminated; *len without it), or NULL if missing. */
static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *p = malloc(cap);
	assert_non_null(p);
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			p = realloc(p, cap);
			assert_non_null(p);
		}
		ssize_t r = read(fd, p + n, cap - n - 1);
		assert_true(r >= 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	p[n] = '\0';
	if (len)
		*len = n;
	return p;
}

/* ---- clf_quote ------------------------------------------------------------------ */

struct quote_case {
	int line;
	const char *name;
	const char *in;     /* NULL: no field */
	size_t len;         /* 0: strlen (in != NULL) */
	const char *out;
};

static const struct quote_case QUOTE_CASES[] = {
	{ __LINE__, "absent is -", NULL, 0, "-" },
	{ __LINE__, "empty is -", "", 0, "-" },
	{ __LINE__, "a dash stays a dash", "-", 0, "-" },
	{ __LINE__, "printable ASCII as is", "GET /a?b=c&d HTTP/1.1", 0, "GET /a?b=c&d HTTP/1.1" },
	{ __LINE__, "space and tilde", " ~ ", 0, " ~ " },
	{ __LINE__, "single quote as is", "it's", 0, "it's" },
	{ __LINE__, "double quote", "a\"b", 0, "a\\\"b" },
	{ __LINE__, "backslash", "a\\b", 0, "a\\\\b" },
	{ __LINE__, "backslash before a quote", "\\\"", 0, "\\\\\\\"" },
	{ __LINE__, "CR LF", "a\r\nb", 0, "a\\x0d\\x0ab" },
	{ __LINE__, "tab", "\t", 0, "\\x09" },
	{ __LINE__, "NUL", "a\0b", 3, "a\\x00b" },
	{ __LINE__, "other controls", "\x01\x1b[31m\x1f", 0, "\\x01\\x1b[31m\\x1f" },
	{ __LINE__, "DEL", "\x7f", 0, "\\x7f" },
	{ __LINE__, "bytes >= 0x80", "\x80\xc3\xa9\xff", 0, "\\x80\\xc3\\xa9\\xff" },
	{ __LINE__, "length limits the field", "abcdef", 3, "abc" },
};

static void test_quote_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(QUOTE_CASES); i++) {
		const struct quote_case *c = &QUOTE_CASES[i];
		size_t len = c->in ? (c->len ? c->len : strlen(c->in)) : 0;
		char out[256];
		memset(out, '#', sizeof(out));
		size_t n = clf_quote(out, 128, c->in, len);
		if (n != strlen(c->out) || memcmp(out, c->out, n) != 0)
			FAIL_ROW(c->line, c->name, "\"%.*s\", want \"%s\"", (int)n, out, c->out);
		for (size_t g = n; g < sizeof(out); g++)
			if (out[g] != '#') {
				FAIL_ROW(c->line, c->name, "wrote beyond what it returned");
				break;
			}
	}
	assert_int_equal(failures, 0);
}

/* At every capacity: fewer than cap bytes, a prefix of the full quoting that
 * ends between two escapes (never inside one), at most 4 bytes short. */
static void test_quote_caps(void **state)
{
	(void)state;
	static const char in[] = "a\"b\\c\r\nd\x01\xff" "efgh";
	size_t len = sizeof(in) - 1;
	char full[128];
	size_t full_len = clf_quote(full, sizeof(full), in, len);
	assert_int_equal(full_len, strlen("a\\\"b\\\\c\\x0d\\x0ad\\x01\\xffefgh"));
	/* Unit boundaries of the full quoting. */
	bool boundary[128] = { false };
	for (size_t o = 0, i = 0; i <= len; i++) {
		boundary[o] = true;
		if (i == len)
			break;
		unsigned char ch = (unsigned char)in[i];
		o += ch == '"' || ch == '\\' ? 2 : ch < 0x20 || ch >= 0x7f ? 4 : 1;
	}
	for (size_t cap = 0; cap <= full_len + 8; cap++) {
		char out[160];
		memset(out, '#', sizeof(out));
		size_t n = clf_quote(out, cap, in, len);
		assert_true(n < cap || (cap == 0 && n == 0));
		assert_memory_equal(out, full, n);
		assert_true(boundary[n]);
		assert_true(n == full_len || n + 4 >= cap);
		for (size_t g = n; g < sizeof(out); g++)
			assert_int_equal(out[g], '#');
	}
	/* An empty field in no room: nothing, not a lone "-" past cap. */
	char tiny[2] = { '#', '#' };
	assert_int_equal(clf_quote(tiny, 1, NULL, 0), 0);
	assert_int_equal(clf_quote(tiny, 0, "", 0), 0);
	assert_int_equal(tiny[0], '#');
	assert_int_equal(clf_quote(tiny, 2, NULL, 0), 1);
	assert_int_equal(tiny[0], '-');
}

/* ---- access lines --------------------------------------------------------------- */

struct access_case {
	int line;
	const char *name;
	const char *client;
	const char *req;      /* NULL: none */
	size_t req_len;       /* 0: strlen */
	int status;
	uint64_t bytes;
	const char *ref;      /* NULL: none */
	size_t ref_len;
	const char *ua;
	size_t ua_len;
	const char *want;     /* the whole line */
};

#define L(client, rest) client " - - " STAMP " " rest "\n"

static const struct access_case ACCESS_CASES[] = {
	{ __LINE__, "ordinary", "127.0.0.1", "GET /index.html HTTP/1.1", 0, 200, 802,
	  "http://localhost/", 0, "curl/8.0.1", 0,
	  L("127.0.0.1", "\"GET /index.html HTTP/1.1\" 200 802 \"http://localhost/\" \"curl/8.0.1\"") },
	{ __LINE__, "IPv6 client", "::1", "HEAD / HTTP/1.0", 0, 304, 0, NULL, 0, NULL, 0,
	  L("::1", "\"HEAD / HTTP/1.0\" 304 0 \"-\" \"-\"") },
	{ __LINE__, "absent fields are -", "10.0.0.1", NULL, 0, 408, 0, NULL, 0, NULL, 0,
	  L("10.0.0.1", "\"-\" 408 0 \"-\" \"-\"") },
	{ __LINE__, "empty fields are -", "10.0.0.1", "", 0, 400, 111, "", 0, "", 0,
	  L("10.0.0.1", "\"-\" 400 111 \"-\" \"-\"") },
	{ __LINE__, "largest byte count", "1.2.3.4", "GET /big HTTP/1.1", 0, 200,
	  UINT64_MAX, NULL, 0, NULL, 0,
	  L("1.2.3.4", "\"GET /big HTTP/1.1\" 200 18446744073709551615 \"-\" \"-\"") },
	{ __LINE__, "request line length is the slice's", "1.2.3.4", "GET / HTTP/1.1\r\nHost: x",
	  14, 200, 5, NULL, 0, NULL, 0, L("1.2.3.4", "\"GET / HTTP/1.1\" 200 5 \"-\" \"-\"") },
	{ __LINE__, "quotes in the User-Agent", "1.2.3.4", "GET / HTTP/1.1", 0, 200, 1, NULL, 0,
	  "Mozilla \"5.0\"", 0,
	  L("1.2.3.4", "\"GET / HTTP/1.1\" 200 1 \"-\" \"Mozilla \\\"5.0\\\"\"") },
	{ __LINE__, "User-Agent forging the fields after it", "1.2.3.4", "GET / HTTP/1.1", 0,
	  404, 0, NULL, 0, "x\" 200 999 \"-\" \"y", 0,
	  L("1.2.3.4", "\"GET / HTTP/1.1\" 404 0 \"-\" \"x\\\" 200 999 \\\"-\\\" \\\"y\"") },
	{ __LINE__, "User-Agent forging a second line", "1.2.3.4", "GET / HTTP/1.1", 0, 200, 3,
	  NULL, 0, "a\"\n6.6.6.6 - - " STAMP " \"GET /admin HTTP/1.1\" 200 1 \"-\" \"b", 0,
	  L("1.2.3.4", "\"GET / HTTP/1.1\" 200 3 \"-\" \"a\\\"\\x0a6.6.6.6 - - " STAMP
		       " \\\"GET /admin HTTP/1.1\\\" 200 1 \\\"-\\\" \\\"b\"") },
	{ __LINE__, "Referer with backslash and quote", "1.2.3.4", "GET / HTTP/1.1", 0, 200, 3,
	  "http://e/\\\"", 0, "ua", 0,
	  L("1.2.3.4", "\"GET / HTTP/1.1\" 200 3 \"http://e/\\\\\\\"\" \"ua\"") },
	{ __LINE__, "Referer ending in a backslash", "1.2.3.4", "GET / HTTP/1.1", 0, 200, 3,
	  "x\\", 0, "ua", 0,
	  L("1.2.3.4", "\"GET / HTTP/1.1\" 200 3 \"x\\\\\" \"ua\"") },
	{ __LINE__, "CR LF in the request line", "1.2.3.4", "GET /\r\nX HTTP/1.1", 0, 400, 111,
	  NULL, 0, NULL, 0,
	  L("1.2.3.4", "\"GET /\\x0d\\x0aX HTTP/1.1\" 400 111 \"-\" \"-\"") },
	{ __LINE__, "quote in the request line", "1.2.3.4", "GET /\" 200 1 \"x HTTP/1.1", 0,
	  404, 0, NULL, 0, NULL, 0,
	  L("1.2.3.4", "\"GET /\\\" 200 1 \\\"x HTTP/1.1\" 404 0 \"-\" \"-\"") },
	{ __LINE__, "terminal escapes", "1.2.3.4", "GET /\x1b[2J HTTP/1.1", 0, 404, 0, NULL, 0,
	  "\x1b]0;pwned\x07", 0,
	  L("1.2.3.4", "\"GET /\\x1b[2J HTTP/1.1\" 404 0 \"-\" \"\\x1b]0;pwned\\x07\"") },
	{ __LINE__, "DEL and bytes >= 0x80", "1.2.3.4", "GET /\x7f\xc3\xa9 HTTP/1.1", 0, 404, 0,
	  "\xff", 0, "\x80", 0,
	  L("1.2.3.4", "\"GET /\\x7f\\xc3\\xa9 HTTP/1.1\" 404 0 \"\\xff\" \"\\x80\"") },
	{ __LINE__, "NUL bytes", "1.2.3.4", "GET /\0 HTTP/1.1", 15, 400, 0, "a\0", 2, "\0", 1,
	  L("1.2.3.4", "\"GET /\\x00 HTTP/1.1\" 400 0 \"a\\x00\" \"\\x00\"") },
	{ __LINE__, "a lone CR in the User-Agent", "1.2.3.4", "GET / HTTP/1.1", 0, 200, 0, NULL, 0,
	  "a\rb", 0, L("1.2.3.4", "\"GET / HTTP/1.1\" 200 0 \"-\" \"a\\x0db\"") },
};

static char *access_line(const struct dir *d, const struct log_access *a, size_t *len)
{
	char path[128];
	dir_file(d, "access.log", path, sizeof(path));
	unlink(path);
	struct log *log = log_new(path, NULL, LOG_LVL_INFO);
	assert_non_null(log);
	assert_true(log_access_enabled(log));
	log_access(log, a);
	log_flush(log);
	char *got = slurp(path, len);
	log_free(log);
	assert_non_null(got);
	return got;
}

static void test_access_table(void **state)
{
	const struct dir *d = *state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(ACCESS_CASES); i++) {
		const struct access_case *c = &ACCESS_CASES[i];
		struct log_access a = {
			.client = c->client, .when = WHEN,
			.request_line = c->req,
			.request_line_len = c->req ? (c->req_len ? c->req_len : strlen(c->req)) : 0,
			.status = c->status, .bytes = c->bytes,
			.referer = c->ref,
			.referer_len = c->ref ? (c->ref_len ? c->ref_len : strlen(c->ref)) : 0,
			.user_agent = c->ua,
			.user_agent_len = c->ua ? (c->ua_len ? c->ua_len : strlen(c->ua)) : 0,
		};
		size_t len;
		char *got = access_line(d, &a, &len);
		if (len != strlen(c->want) || memcmp(got, c->want, len) != 0)
			FAIL_ROW(c->line, c->name, "line\n%s\nwant\n%s", got, c->want);
		free(got);
	}
	assert_int_equal(failures, 0);
}

/* The access line's time stamp, every month, both ends of the range. */
struct stamp_case {
	int line;
	long long when;
	const char *stamp;
};

static const struct stamp_case STAMP_CASES[] = {
	{ __LINE__, 1704243784, "[03/Jan/2024:01:03:04 +0000]" },
	{ __LINE__, 1707098768, "[05/Feb/2024:02:06:08 +0000]" },
	{ __LINE__, 1709780952, "[07/Mar/2024:03:09:12 +0000]" },
	{ __LINE__, 1712635936, "[09/Apr/2024:04:12:16 +0000]" },
	{ __LINE__, 1715404520, "[11/May/2024:05:15:20 +0000]" },
	{ __LINE__, 1718259504, "[13/Jun/2024:06:18:24 +0000]" },
	{ __LINE__, 1721028088, "[15/Jul/2024:07:21:28 +0000]" },
	{ __LINE__, 1723883072, "[17/Aug/2024:08:24:32 +0000]" },
	{ __LINE__, 1726738056, "[19/Sep/2024:09:27:36 +0000]" },
	{ __LINE__, 1729506640, "[21/Oct/2024:10:30:40 +0000]" },
	{ __LINE__, 1732361624, "[23/Nov/2024:11:33:44 +0000]" },
	{ __LINE__, 1735130208, "[25/Dec/2024:12:36:48 +0000]" },
	{ __LINE__, 0, "[01/Jan/1970:00:00:00 +0000]" },
	{ __LINE__, 951868799, "[29/Feb/2000:23:59:59 +0000]" },
	{ __LINE__, 253402300799LL, "[31/Dec/9999:23:59:59 +0000]" },
};

static void test_access_stamps(void **state)
{
	const struct dir *d = *state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(STAMP_CASES); i++) {
		const struct stamp_case *c = &STAMP_CASES[i];
		struct log_access a = { .client = "1.1.1.1", .when = (time_t)c->when,
					.request_line = "GET / HTTP/1.1", .request_line_len = 14,
					.status = 200, .bytes = 1 };
		char want[160];
		snprintf(want, sizeof(want), "1.1.1.1 - - %s \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"\n",
			 c->stamp);
		size_t len;
		char *got = access_line(d, &a, &len);
		if (strcmp(got, want) != 0)
			FAIL_ROW(c->line, c->stamp, "line\n%s", got);
		free(got);
	}
	assert_int_equal(failures, 0);
}

static int clf_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* lower-case only: that is what clf_quote writes */
}

/*
 * Parse a CLF line as a log reader would: client, "- -", [stamp], then three
 * quoted fields in which only \" and \\ and \xHH appear as escapes, with the
 * status and byte count between the first and second. Unescapes each quoted
 * field into fields[k]. Returns 0 if the line is exactly one well-formed
 * record, or a reason.
 */
static const char *parse_clf(const char *line, size_t len, char fields[3][LOG_LINE_MAX],
			     size_t flen[3], int *status, unsigned long long *bytes)
{
	if (len == 0 || line[len - 1] != '\n')
		return "does not end in a newline";
	if (memchr(line, '\n', len - 1))
		return "more than one line";
	for (size_t i = 0; i + 1 < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
			return "a byte that is not printable ASCII";
	const char *p = strstr(line, " - - " STAMP " \"");
	if (!p)
		return "no stamp";
	p += strlen(" - - " STAMP " ");
	for (int k = 0; k < 3; k++) {
		if (*p != '"')
			return "a field does not open with a quote";
		p++;
		size_t o = 0;
		for (;;) {
			if (*p == '\n' || *p == '\0')
				return "a field is not closed";
			if (*p == '"')
				break;
			if (*p == '\\') {
				if (p[1] == '"' || p[1] == '\\') {
					fields[k][o++] = p[1];
					p += 2;
				} else if (p[1] == 'x' && clf_hex(p[2]) >= 0 &&
					   clf_hex(p[3]) >= 0) {
					fields[k][o++] = (char)(clf_hex(p[2]) * 16 + clf_hex(p[3]));
					p += 4;
				} else {
					return "a backslash that is no escape";
				}
				continue;
			}
			fields[k][o++] = *p++;
		}
		flen[k] = o;
		p++; /* the closing quote */
		if (k == 0) {
			int used = 0;
			if (sscanf(p, " %d %llu %n", status, bytes, &used) != 2 || used == 0)
				return "no status and byte count";
			p += used;
		} else if (k == 1) {
			if (*p++ != ' ')
				return "no space between Referer and User-Agent";
		}
	}
	if (*p != '\n')
		return "bytes after the last field";
	return NULL;
}

/* Random client-controlled bytes (seeded), every length up to far past the
 * line limit: the line is one record whose fields unescape to a prefix of
 * what was sent (the whole of it when it fits), status and bytes intact. */
static void test_access_no_forging(void **state)
{
	const struct dir *d = *state;
	static char fields[3][LOG_LINE_MAX];
	size_t flen[3];
	unsigned seed = 12345;
	static char req[9000], ref[9000], ua[9000];
	static const char evil[] = { '"', '\\', '\r', '\n', '\0', ' ', 'x', '\x7f', '\xff', 'a' };
	for (int round = 0; round < 60; round++) {
		size_t lens[3];
		char *bufs[3] = { req, ref, ua };
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t max = round < 40 ? 80 : 9000;
			lens[k] = (seed >> 8) % max;
			for (size_t i = 0; i < lens[k]; i++) {
				seed = seed * 1103515245u + 12345u;
				bufs[k][i] = (seed >> 16) % 3 == 0 ? evil[(seed >> 8) % sizeof(evil)]
								   : (char)(seed >> 20);
			}
		}
		struct log_access a = {
			.client = "192.168.100.200", .when = WHEN, .request_line = req,
			.request_line_len = lens[0], .status = 200 + round, .bytes = 1000u + (unsigned)round,
			.referer = ref, .referer_len = lens[1], .user_agent = ua, .user_agent_len = lens[2],
		};
		size_t len;
		char *got = access_line(d, &a, &len);
		int status = 0;
		unsigned long long bytes = 0;
		const char *why = parse_clf(got, len, fields, flen, &status, &bytes);
		if (why)
			fail_msg("round %d: %s:\n%s", round, why, got);
		assert_true(len <= LOG_LINE_MAX);
		assert_int_equal(status, 200 + round);
		assert_int_equal(bytes, 1000u + (unsigned)round);
		/* Short fields always fit whole, even with every byte escaped. */
		bool cut = (lens[0] + lens[1] + lens[2]) * 4 > 1000;
		for (int k = 0; k < 3; k++) {
			if (lens[k] == 0) {
				assert_int_equal(flen[k], 1);
				assert_int_equal(fields[k][0], '-');
				continue;
			}
			assert_true(flen[k] <= lens[k]);
			assert_memory_equal(fields[k], bufs[k], flen[k]);
			if (!cut)
				assert_int_equal(flen[k], lens[k]);
		}
		free(got);
	}
}

/* An over-long request line is cut inside its quotes; the rest of the
 * record follows and the line ends in exactly one '\n'. */
static void test_access_long_request_line(void **state)
{
	const struct dir *d = *state;
	static char req[8200];
	memset(req, 'a', sizeof(req));
	memcpy(req, "GET /", 5);
	struct log_access a = { .client = "127.0.0.1", .when = WHEN, .request_line = req,
				.request_line_len = sizeof(req), .status = 414, .bytes = 0,
				.referer = "r", .referer_len = 1, .user_agent = "u",
				.user_agent_len = 1 };
	size_t len;
	char *got = access_line(d, &a, &len);
	const char *head = "127.0.0.1 - - " STAMP " \"GET /";
	const char *tail = "\" 414 0 \"r\" \"u\"\n";
	size_t hl = strlen(head), tl = strlen(tail);
	assert_true(len <= LOG_LINE_MAX);
	assert_true(len > hl + tl);
	assert_memory_equal(got, head, hl);
	assert_memory_equal(got + len - tl, tail, tl);
	size_t kept = len - hl - tl;
	for (size_t i = 0; i < kept; i++)
		assert_int_equal(got[hl + i], 'a');
	/* Cut, but most of the line limit is used for it. */
	assert_true(kept < sizeof(req) - 5);
	assert_true(kept > LOG_LINE_MAX / 2);
	free(got);

	/* The same with every byte escaped (4 bytes each): no escape is cut. */
	memset(req, '\n', sizeof(req));
	got = access_line(d, &a, &len);
	head = "127.0.0.1 - - " STAMP " \"";
	hl = strlen(head);
	assert_true(len <= LOG_LINE_MAX);
	assert_memory_equal(got, head, hl);
	assert_memory_equal(got + len - tl, tail, tl);
	kept = len - hl - tl;
	assert_int_equal(kept % 4, 0);
	for (size_t i = 0; i < kept; i += 4)
		assert_memory_equal(got + hl + i, "\\x0a", 4);
	free(got);
}

/* Several lines accumulate in order, and nothing reaches the file before a
 * flush (the buffer), then everything does. */
static void test_access_buffered(void **state)
{
	const struct dir *d = *state;
	char path[128];
	dir_file(d, "buffered.log", path, sizeof(path));
	struct log *log = log_new(path, NULL, LOG_LVL_INFO);
	assert_non_null(log);
	struct log_access a = { .client = "1.1.1.1", .when = WHEN, .request_line = "GET /1 HTTP/1.1",
				.request_line_len = 15, .status = 200, .bytes = 1 };
	log_access(log, &a);
	a.when = WHEN + 61;
	a.request_line = "GET /2 HTTP/1.1";
	log_access(log, &a);
	size_t len;
	char *got = slurp(path, &len);
	assert_non_null(got);
	assert_int_equal(len, 0);
	free(got);
	log_flush(log);
	got = slurp(path, &len);
	assert_string_equal(got,
			    "1.1.1.1 - - " STAMP " \"GET /1 HTTP/1.1\" 200 1 \"-\" \"-\"\n"
			    "1.1.1.1 - - [06/Nov/1994:08:50:38 +0000] \"GET /2 HTTP/1.1\" 200 1 \"-\" \"-\"\n");
	free(got);
	log_free(log);
}

/* ---- destinations --------------------------------------------------------------- */

static void test_access_destinations(void **state)
{
	const struct dir *d = *state;
	char err[128], acc[128];
	dir_file(d, "dest-error.log", err, sizeof(err));
	dir_file(d, "dest-access.log", acc, sizeof(acc));
	struct log_access a = { .client = "1.1.1.1", .when = WHEN, .request_line = "GET / HTTP/1.1",
				.request_line_len = 14, .status = 200, .bytes = 1 };
	const char *line = "1.1.1.1 - - " STAMP " \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"\n";

	/* A separate access log: access lines there, error lines in the other. */
	struct log *log = log_new(err, acc, LOG_LVL_INFO);
	assert_non_null(log);
	log_access(log, &a);
	log_err(log, "an error");
	log_free(log); /* flushes */
	char *e = slurp(err, NULL), *x = slurp(acc, NULL);
	assert_string_equal(x, line);
	assert_non_null(strstr(e, "an error\n"));
	assert_null(strstr(e, "GET /"));
	free(e);
	free(x);
	unlink(err);
	unlink(acc);

	/* The same path for both: one file, each line once. */
	log = log_new(err, err, LOG_LVL_INFO);
	assert_non_null(log);
	log_access(log, &a);
	log_free(log);
	e = slurp(err, NULL);
	assert_string_equal(e, line);
	free(e);
	unlink(err);

	/* "off": no access log at all. */
	log = log_new(err, "off", LOG_LVL_INFO);
	assert_non_null(log);
	assert_false(log_access_enabled(log));
	log_access(log, &a);
	log_free(log);
	e = slurp(err, NULL);
	assert_string_equal(e, "");
	free(e);
	assert_null(slurp(acc, NULL));
	assert_false(log_access_enabled(NULL));
	log_access(NULL, &a); /* a NULL log does nothing */
}

/* ---- error lines ----------------------------------------------------------------- */

static void test_error_lines(void **state)
{
	const struct dir *d = *state;
	char path[128];
	dir_file(d, "error.log", path, sizeof(path));
	struct log *log = log_new(path, NULL, LOG_LVL_INFO);
	assert_non_null(log);
	log_set_pid(log, 4242);
	time_t before = time(NULL);
	log_err(log, "bad %s", "thing");
	/* An error is written at once, without a flush. */
	char *got = slurp(path, NULL);
	int y, mo, da, h, mi, s;
	char tail[64];
	assert_int_equal(sscanf(got, "%4d-%2d-%2dT%2d:%2d:%2dZ %63[^\n]", &y, &mo, &da, &h, &mi, &s,
				tail), 7);
	assert_string_equal(tail, "[error] lisod[4242]: bad thing");
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = da, .tm_hour = h,
			 .tm_min = mi, .tm_sec = s };
	time_t stamped = timegm(&tm);
	assert_true(stamped >= before && stamped <= time(NULL));
	free(got);
	/* Levels above the set one are dropped; info is buffered. */
	log_debug(log, "not shown");
	log_info(log, "shown");
	log_warn(log, "warned");
	got = slurp(path, NULL);
	assert_null(strstr(got, "shown"));
	free(got);
	log->level = LOG_LVL_DEBUG; /* (no setter: nothing else changes it) */
	log_debug(log, "now shown");
	/* A message longer than a line is cut and still ends the line. */
	static char longmsg[3 * LOG_LINE_MAX];
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	log_info(log, "%s", longmsg);
	log_flush(log);
	size_t len;
	got = slurp(path, &len);
	assert_null(strstr(got, "not shown"));
	assert_non_null(strstr(got, "[info] lisod[4242]: shown\n"));
	assert_non_null(strstr(got, "[warn] lisod[4242]: warned\n"));
	assert_non_null(strstr(got, "[debug] lisod[4242]: now shown\n"));
	char *last = strstr(got, "[info] lisod[4242]: mmm");
	assert_non_null(last);
	char *line_start = last - strlen("2000-01-01T00:00:00Z ");
	size_t line_len = (size_t)(got + len - line_start);
	assert_true(line_len <= LOG_LINE_MAX - 1);
	assert_int_equal(got[len - 1], '\n');
	assert_null(memchr(last, '\n', (size_t)(got + len - 1 - last)));
	free(got);
	log_free(log);
	log_msg(NULL, LOG_LVL_ERR, "a NULL log does nothing");
}

/* ---- reopening ------------------------------------------------------------------- */

static void access_n(struct log *log, int n)
{
	char req[32];
	int l = snprintf(req, sizeof(req), "GET /%d HTTP/1.1", n);
	struct log_access a = { .client = "1.1.1.1", .when = WHEN, .request_line = req,
				.request_line_len = (size_t)l, .status = 200, .bytes = (uint64_t)n };
	log_access(log, &a);
}

static char *expect_lines(const int *ns, size_t count)
{
	static char out[1024];
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < count; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o,
				      "1.1.1.1 - - " STAMP " \"GET /%d HTTP/1.1\" 200 %d \"-\" \"-\"\n",
				      ns[i], ns[i]);
	return out;
}

static void test_reopen_after_rename(void **state)
{
	const struct dir *d = *state;
	char path[128], rotated[128];
	dir_file(d, "rot.log", path, sizeof(path));
	dir_file(d, "rot.log.1", rotated, sizeof(rotated));
	struct log *log = log_new(path, NULL, LOG_LVL_INFO);
	assert_non_null(log);
	int fd = log->error.fd;
	access_n(log, 1);
	log_flush(log);
	/* Rotation: the file is renamed; until the reopen, lines (buffered or
	 * not) still go to the renamed file. */
	assert_int_equal(rename(path, rotated), 0);
	access_n(log, 2);
	assert_int_equal(log_reopen(log), 0);
	assert_int_equal(log->error.fd, fd); /* same descriptor (CGI children hold it) */
	access_n(log, 3);
	log_err(log, "after reopen");
	log_flush(log);
	char *old = slurp(rotated, NULL), *cur = slurp(path, NULL);
	assert_non_null(cur);
	static const int old_ns[] = { 1, 2 }, new_ns[] = { 3 };
	assert_string_equal(old, expect_lines(old_ns, 2));
	assert_memory_equal(cur, expect_lines(new_ns, 1), strlen(expect_lines(new_ns, 1)));
	assert_non_null(strstr(cur, "[error] lisod["));
	assert_non_null(strstr(cur, "after reopen\n"));
	free(old);
	free(cur);

	/* Again: a second rotation works the same way. */
	char rotated2[128];
	dir_file(d, "rot.log.2", rotated2, sizeof(rotated2));
	assert_int_equal(rename(path, rotated2), 0);
	assert_int_equal(log_reopen(log), 0);
	access_n(log, 4);
	log_free(log);
	cur = slurp(path, NULL);
	static const int ns4[] = { 4 };
	assert_string_equal(cur, expect_lines(ns4, 1));
	free(cur);
}

static void test_reopen_separate_access_log(void **state)
{
	const struct dir *d = *state;
	char err[128], acc[128], err1[128], acc1[128];
	dir_file(d, "sep-error.log", err, sizeof(err));
	dir_file(d, "sep-access.log", acc, sizeof(acc));
	dir_file(d, "sep-error.log.1", err1, sizeof(err1));
	dir_file(d, "sep-access.log.1", acc1, sizeof(acc1));
	struct log *log = log_new(err, acc, LOG_LVL_INFO);
	assert_non_null(log);
	access_n(log, 1);
	log_flush(log);
	assert_int_equal(rename(err, err1), 0);
	assert_int_equal(rename(acc, acc1), 0);
	assert_int_equal(log_reopen(log), 0);
	access_n(log, 2);
	log_err(log, "fresh");
	log_free(log);
	char *a1 = slurp(acc1, NULL), *a = slurp(acc, NULL), *e = slurp(err, NULL);
	static const int n1[] = { 1 }, n2[] = { 2 };
	assert_string_equal(a1, expect_lines(n1, 1));
	assert_string_equal(a, expect_lines(n2, 1));
	assert_non_null(strstr(e, "fresh\n"));
	free(a1);
	free(a);
	free(e);
}

/* A reopen that cannot open the path fails and keeps the old file. */
static void test_reopen_failure_keeps_old(void **state)
{
	const struct dir *d = *state;
	char sub[128], path[192], moved[128], moved_path[192];
	dir_file(d, "sub", sub, sizeof(sub));
	dir_file(d, "sub-moved", moved, sizeof(moved));
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(path, sizeof(path), "%s/x.log", sub);
	snprintf(moved_path, sizeof(moved_path), "%s/x.log", moved);
	struct log *log = log_new(path, NULL, LOG_LVL_INFO);
	assert_non_null(log);
	access_n(log, 1);
	assert_int_equal(rename(sub, moved), 0); /* the directory is gone */
	assert_int_equal(log_reopen(log), -1);
	access_n(log, 2);
	log_free(log);
	char *got = slurp(moved_path, NULL);
	static const int ns[] = { 1, 2 };
	assert_string_equal(got, expect_lines(ns, 2));
	free(got);
	assert_null(slurp(path, NULL));
}

static void test_new_failure(void **state)
{
	const struct dir *d = *state;
	char path[128];
	dir_file(d, "missing-dir/x.log", path, sizeof(path));
	errno = 0;
	assert_null(log_new(path, NULL, LOG_LVL_INFO));
	assert_int_equal(errno, ENOENT);
	log_free(NULL);
}

/* ---- bugs these tests found (fixed; each test failed before its fix) ---- */

/*
 * Was a bug (found by this test): log_new(error_path, access_path, ...) with an access log that
 * cannot be opened leaks the strdup'd access path: sink_init() has stored it
 * in log->access_own.path when open() fails, but log->access still points at
 * log->error, so log_free() never closes access_own. LeakSanitizer (the asan
 * variant) reports 1 object leaked from sink_init at exit; without ASan this
 * test passes. Harmless in practice (a failing log_new stops the server at
 * startup), but the failure path should release what it took.
 */
static void test_fixed_access_log_open_failure_leaks(void **state)
{
	const struct dir *d = *state;
	char ok[128], missing[128];
	dir_file(d, "ok.log", ok, sizeof(ok));
	dir_file(d, "missing-dir/x.log", missing, sizeof(missing));
	errno = 0;
	assert_null(log_new(ok, missing, LOG_LVL_INFO)); /* the access log fails */
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_table),
		cmocka_unit_test(test_quote_caps),
		cmocka_unit_test_setup_teardown(test_access_table, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_access_stamps, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_access_no_forging, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_access_long_request_line, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_access_buffered, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_access_destinations, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_error_lines, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_rename, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_separate_access_log, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_failure_keeps_old, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_new_failure, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_fixed_access_log_open_failure_leaks,
						dir_setup, dir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
