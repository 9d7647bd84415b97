/*
 * Unit tests for listing.c: the Accept decision, the HTML and JSON
 * renderings of a directory full of hostile names, the entry cap, the
 * caller's descriptor after rendering, and every allocation failure.
 *
 * listing.c is #included (so the archive's listing.o is not linked) to
 * reach listing_render_max (a small cap) and utf8_seq_len, and to count
 * and fail its allocations: malloc/realloc/free are redirected to the
 * t_* wrappers below for that file only.
 *
 * Every table row carries its __LINE__; a failing row prints it and its name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "uri.h"

/* ---- allocation accounting for listing.c ------------------------------------
 * alloc_budget: how many more allocations succeed (-1: all). live_allocs:
 * blocks listing.c holds; it must be 0 after a failed render and 1 (the
 * output) after a successful one. */
static long alloc_budget = -1;
static long live_allocs;

static bool t_spend(void)
{
	if (alloc_budget == 0) {
		errno = ENOMEM;
		return false;
	}
	if (alloc_budget > 0)
		alloc_budget--;
	return true;
}

static void *t_malloc(size_t n)
{
	void *p = t_spend() ? malloc(n) : NULL;
	live_allocs += p != NULL;
	return p;
}

static void *t_realloc(void *old, size_t n)
{
	void *p = t_spend() ? realloc(old, n) : NULL;
	live_allocs += p != NULL && old == NULL;
	return p;
}

static void t_free(void *p)
{
	live_allocs -= p != NULL;
	free(p);
}

#define malloc t_malloc
#define realloc t_realloc
#define free t_free
#include "listing.c"
#undef malloc
#undef realloc
#undef free

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_listing.c:%d: %s: ", (line), (name));        \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

/* ---- independent checkers --------------------------------------------------- */

/* Strict UTF-8 (RFC 3629), written by decoding code points rather than by
 * the byte ranges listing.c uses, so the two do not share a mistake. */
static bool valid_utf8(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
					: (c & 0xF8) == 0xF0 ? 4 : 0;
		if (len == 0 || i + len > n)
			return false;
		uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
		for (size_t k = 1; k < len; k++) {
			if ((u[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (u[i + k] & 0x3Fu);
		}
		static const uint32_t MIN[5] = { 0, 0, 0x80, 0x800, 0x10000 };
		if (cp < MIN[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

/* A small RFC 8259 recogniser: advances *p past one value, false on any
 * syntax error. Depth is bounded; listing output nests two levels. */
static bool json_value(const char **p, const char *end, int depth);

static void json_ws(const char **p, const char *end)
{
	while (*p < end && strchr(" \t\r\n", **p) && **p)
		(*p)++;
}

static bool json_lit(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

static bool json_string(const char **p, const char *end)
{
	if (*p >= end || **p != '"')
		return false;
	for ((*p)++; *p < end; (*p)++) {
		unsigned char c = (unsigned char)**p;
		if (c == '"') {
			(*p)++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (++*p >= end)
			return false;
		if (strchr("\"\\/bfnrt", **p) && **p)
			continue;
		if (**p != 'u' || end - *p < 5)
			return false;
		for (int k = 1; k <= 4; k++)
			if (uri_hex_digit((*p)[k]) < 0)
				return false;
		*p += 4;
	}
	return false;
}

static bool json_number(const char **p, const char *end)
{
	const char *s = *p;
	if (*p < end && **p == '-')
		(*p)++;
	if (*p >= end || **p < '0' || **p > '9')
		return false;
	if (**p == '0')
		(*p)++;
	else
		while (*p < end && **p >= '0' && **p <= '9')
			(*p)++;
	if (*p < end && **p == '.') {
		const char *d = ++*p;
		while (*p < end && **p >= '0' && **p <= '9')
			(*p)++;
		if (*p == d)
			return false;
	}
	return *p > s; /* exponents never appear in listing output */
}

static bool json_members(const char **p, const char *end, int depth, char close, bool object)
{
	(*p)++;
	json_ws(p, end);
	if (*p < end && **p == close) {
		(*p)++;
		return true;
	}
	for (;;) {
		json_ws(p, end);
		if (object) {
			if (!json_string(p, end))
				return false;
			json_ws(p, end);
			if (*p >= end || **p != ':')
				return false;
			(*p)++;
		}
		if (!json_value(p, end, depth + 1))
			return false;
		json_ws(p, end);
		if (*p >= end)
			return false;
		if (**p == close) {
			(*p)++;
			return true;
		}
		if (**p != ',')
			return false;
		(*p)++;
	}
}

static bool json_value(const char **p, const char *end, int depth)
{
	if (depth > 8)
		return false;
	json_ws(p, end);
	if (*p >= end)
		return false;
	switch (**p) {
	case '{': return json_members(p, end, depth, '}', true);
	case '[': return json_members(p, end, depth, ']', false);
	case '"': return json_string(p, end);
	case 't': return json_lit(p, end, "true");
	case 'f': return json_lit(p, end, "false");
	case 'n': return json_lit(p, end, "null");
	default: return json_number(p, end);
	}
}

static bool valid_json(const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	if (!json_value(&p, end, 0))
		return false;
	json_ws(&p, end);
	return p == end;
}

/* Descriptors open in this process: a render must leave the count as it was. */
static size_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	size_t n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* ---- the fixture directory -------------------------------------------------- */

enum { KNOWN_MTIME = 1700000000 }; /* 2023-11-14T22:13:20Z */

struct fixture {
	char base[64];  /* the mkdtemp directory, removed at the end */
	char hostile[96];
	char small[96]; /* five files and a hidden one, for the cap */
	int fd;         /* hostile/, O_RDONLY | O_DIRECTORY */
	int small_fd;
};

static void put_file(const char *dir, const char *name, const char *body)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	size_t n = strlen(body);
	assert_int_equal(write(fd, body, n), (ssize_t)n);
	close(fd);
}

static void put_dir(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(mkdir(p, 0755), 0);
}

/* The names the renderers must cope with; '/' cannot be in a name, so the
 * "script" one closes with a backslash (which JSON must escape too). */
static const char *const HOSTILE_FILES[] = {
	"<script>alert(1)<\\script>", "a\"b", "it's", "a&b", "100%", "q?x#y", "a:b",
	"\xff\xfe.txt", "\xc3\xbcn\xc3\257code.txt", "new\nline", "del\x7f", ".env",
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->base, sizeof(f->base), "/tmp/lisod_listing_XXXXXX");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->hostile, sizeof(f->hostile), "%s/hostile", f->base);
	snprintf(f->small, sizeof(f->small), "%s/small", f->base);
	assert_int_equal(mkdir(f->hostile, 0755), 0);
	assert_int_equal(mkdir(f->small, 0755), 0);

	for (size_t i = 0; i < sizeof(HOSTILE_FILES) / sizeof(HOSTILE_FILES[0]); i++)
		put_file(f->hostile, HOSTILE_FILES[i], "x");
	put_dir(f->hostile, ".git");
	put_dir(f->hostile, "sub");
	put_file(f->hostile, "known.txt", "hello world\n"); /* 12 bytes */
	char p[512];
	snprintf(p, sizeof(p), "%s/link", f->hostile);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/pipe", f->hostile);
	assert_int_equal(mkfifo(p, 0644), 0);
	snprintf(p, sizeof(p), "%s/known.txt", f->hostile);
	const struct timespec times[2] = { { KNOWN_MTIME, 0 }, { KNOWN_MTIME, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, p, times, 0), 0);

	static const char *const SMALL[] = { "e", "d", "c", "b", "a", ".hidden" };
	for (size_t i = 0; i < sizeof(SMALL) / sizeof(SMALL[0]); i++)
		put_file(f->small, SMALL[i], "");

	f->fd = open(f->hostile, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f->small_fd = open(f->small, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->fd >= 0 && f->small_fd >= 0);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	close(f->fd);
	close(f->small_fd);
	int rc = nftw(f->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

/* Render and check the output is valid UTF-8 (and JSON, for JSON). */
static char *render_ok(int fd, const char *url_path, enum listing_format fmt, size_t max)
{
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(listing_render_max(fd, url_path, fmt, max, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	assert_true(valid_utf8(out, len));
	if (fmt == LISTING_JSON)
		assert_true(valid_json(out, len));
	return out;
}

/* ---- listing_wants_json ----------------------------------------------------- */

struct accept_case {
	int line;
	const char *name;
	const char *value; /* NULL: no Accept field */
	size_t len;        /* 0: strlen(value) */
	bool json;
};

static const struct accept_case ACCEPT_CASES[] = {
	{ __LINE__, "absent", NULL, 0, false },
	{ __LINE__, "empty", "", 0, false },
	{ __LINE__, "json alone", "application/json", 0, true },
	{ __LINE__, "case-insensitive", "Application/JSON", 0, true },
	{ __LINE__, "html preferred by q", "text/html,application/json;q=0.9", 0, false },
	{ __LINE__, "json first, equal q", "application/json, text/html", 0, true },
	{ __LINE__, "html first, equal q", "text/html, application/json", 0, false },
	{ __LINE__, "equal explicit q, json first", "application/json;q=0.5, text/html;q=0.5", 0, true },
	{ __LINE__, "any", "*/*", 0, false },
	{ __LINE__, "browser", "text/html,application/xhtml+xml,*/*;q=0.8", 0, false },
	{ __LINE__, "json then any", "application/json, */*;q=0.1", 0, true },
	{ __LINE__, "json higher q", "text/html;q=0.5, application/json", 0, true },
	{ __LINE__, "html refused", "text/html;q=0, application/json;q=0.1", 0, true },
	{ __LINE__, "json refused", "application/json;q=0", 0, false },
	{ __LINE__, "json refused, 0.000", "application/json;q=0.000, text/html;q=0", 0, false },
	{ __LINE__, "spaces around", "  application/json ; q=0.8 , text/html ; q=0.7 ", 0, true },
	{ __LINE__, "q not last", "application/json;q=0.9;level=1, text/html;q=0.8", 0, true },
	{ __LINE__, "q above 1 ignored", "application/json;q=2", 0, false },
	{ __LINE__, "q with 4 decimals ignored", "application/json;q=0.1234", 0, false },
	{ __LINE__, "q 1.000", "text/html;q=0.999, application/json;q=1.000", 0, true },
	{ __LINE__, "q 1.001 ignored", "application/json;q=1.001", 0, false },
	{ __LINE__, "bad q ignored, html wins", "application/json;q=abc, text/html", 0, false },
	{ __LINE__, "bad q, later valid json", "application/json;q=x, application/json", 0, true },
	{ __LINE__, "first occurrence counts", "application/json;q=0.1, text/html;q=0.5, application/json", 0, false },
	{ __LINE__, "quoted comma", "application/json;x=\"a,text/html;q=1\", text/html;q=0.5", 0, true },
	{ __LINE__, "longer subtype", "application/jsonx", 0, false },
	{ __LINE__, "json suffix type", "application/ld+json", 0, false },
	{ __LINE__, "wildcard subtype", "application/*", 0, false },
	{ __LINE__, "length cuts the value", "application/json", 11, false },
	{ __LINE__, "length ends the list", "application/json, text/html;q=0.1", 16, true },
	{ __LINE__, "garbage", "\x01\xff;;,,==;q=;", 0, false },
	{ __LINE__, "only separators", ",,, ;", 0, false },
	{ __LINE__, "unterminated quote", "text/html;x=\"a, application/json", 0, false },
};

static void test_wants_json_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(ACCEPT_CASES) / sizeof(ACCEPT_CASES[0]); i++) {
		const struct accept_case *c = &ACCEPT_CASES[i];
		size_t len = c->value && !c->len ? strlen(c->value) : c->len;
		bool got = listing_wants_json(c->value, len);
		if (got != c->json)
			FAIL_ROW(c->line, c->name, "got %d, want %d", got, c->json);
	}
	assert_int_equal(failures, 0);
}

/* ---- utf8_seq_len ----------------------------------------------------------- */

struct utf8_case {
	int line;
	const char *name;
	const char *s;
	size_t n;
	size_t len;
};

static const struct utf8_case UTF8_CASES[] = {
	{ __LINE__, "ascii", "a", 1, 1 },
	{ __LINE__, "two bytes", "\xc3\xbc", 2, 2 },
	{ __LINE__, "three bytes", "\xe2\x82\xac", 3, 3 },
	{ __LINE__, "four bytes", "\xf0\x9f\x98\x80", 4, 4 },
	{ __LINE__, "last code point", "\xf4\x8f\xbf\xbf", 4, 4 },
	{ __LINE__, "lone continuation", "\x80", 1, 0 },
	{ __LINE__, "overlong two", "\xc0\xaf", 2, 0 },
	{ __LINE__, "overlong three", "\xe0\x80\xaf", 3, 0 },
	{ __LINE__, "overlong four", "\xf0\x80\x80\xaf", 4, 0 },
	{ __LINE__, "surrogate", "\xed\xa0\x80", 3, 0 },
	{ __LINE__, "above U+10FFFF", "\xf4\x90\x80\x80", 4, 0 },
	{ __LINE__, "F5 lead", "\xf5\x80\x80\x80", 4, 0 },
	{ __LINE__, "truncated by n", "\xe2\x82\xac", 2, 0 },
	{ __LINE__, "bad third byte", "\xe2\x82\x41", 3, 0 },
	{ __LINE__, "ff", "\xff", 1, 0 },
};

static void test_utf8_seq_len_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(UTF8_CASES) / sizeof(UTF8_CASES[0]); i++) {
		const struct utf8_case *c = &UTF8_CASES[i];
		size_t got = utf8_seq_len((const unsigned char *)c->s, c->n);
		if (got != c->len)
			FAIL_ROW(c->line, c->name, "got %zu, want %zu", got, c->len);
		if (valid_utf8(c->s, c->n) != (c->len == c->n))
			FAIL_ROW(c->line, c->name, "the test's own checker disagrees");
	}
	assert_int_equal(failures, 0);
}

/* ---- HTML ------------------------------------------------------------------- */

/* Every listed entry of hostile/, in the order it must appear (strcmp). */
struct link_case {
	int line;
	const char *name;
	const char *href;
	const char *text;
};

static const struct link_case LINKS[] = {
	{ __LINE__, "percent", "100%25", "100%" },
	{ __LINE__, "script", "%3Cscript%3Ealert(1)%3C%5Cscript%3E",
	  "&lt;script&gt;alert(1)&lt;\\script&gt;" },
	{ __LINE__, "double quote", "a%22b", "a&quot;b" },
	{ __LINE__, "ampersand", "a%26b", "a&amp;b" },
	{ __LINE__, "colon (not a scheme)", "a%3Ab", "a:b" },
	{ __LINE__, "DEL", "del%7F", "del\xef\xbf\xbd" },
	{ __LINE__, "apostrophe", "it%27s", "it&#39;s" },
	{ __LINE__, "known file", "known.txt", "known.txt" },
	{ __LINE__, "symlink", "link", "link" },
	{ __LINE__, "newline", "new%0Aline", "new\xef\xbf\xbdline" },
	{ __LINE__, "query and fragment", "q%3Fx%23y", "q?x#y" },
	{ __LINE__, "directory", "sub/", "sub/" },
	{ __LINE__, "valid UTF-8 kept", "%C3%BCn%C3%AFcode.txt", "\xc3\xbcn\xc3\257code.txt" },
	{ __LINE__, "invalid UTF-8", "%FF%FE.txt", "\xef\xbf\xbd\xef\xbf\xbd.txt" },
};

static void test_html_links_in_order(void **state)
{
	struct fixture *f = *state;
	char *out = render_ok(f->fd, "/", LISTING_HTML, LISTING_MAX_ENTRIES);
	int failures = 0;
	const char *prev = out;
	for (size_t i = 0; i < sizeof(LINKS) / sizeof(LINKS[0]); i++) {
		const struct link_case *c = &LINKS[i];
		char want[512];
		snprintf(want, sizeof(want), "<tr><td><a href=\"%s\">%s</a></td>", c->href, c->text);
		const char *at = strstr(out, want);
		if (!at) {
			FAIL_ROW(c->line, c->name, "no %s", want);
			continue;
		}
		if (at <= prev)
			FAIL_ROW(c->line, c->name, "out of order");
		prev = at;
	}
	/* Nothing else is listed: one row per link plus the header row. */
	assert_int_equal(count(out, "<tr>"), sizeof(LINKS) / sizeof(LINKS[0]) + 1);
	t_free(out);
	assert_int_equal(failures, 0);
}

struct substr_case {
	int line;
	const char *name;
	const char *s;
	bool present;
};

static const struct substr_case HTML_SUBSTRINGS[] = {
	{ __LINE__, "doctype first", "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n", true },
	{ __LINE__, "title", "<title>Index of /</title>", true },
	{ __LINE__, "heading", "<h1>Index of /</h1>", true },
	{ __LINE__, "complete page", "</table>\n</body>\n</html>\n", true },
	{ __LINE__, "known size and date",
	  "<a href=\"known.txt\">known.txt</a></td><td>12</td><td>2023-11-14 22:13</td></tr>", true },
	{ __LINE__, "directory has no size", "<a href=\"sub/\">sub/</a></td><td>-</td>", true },
	{ __LINE__, "symlink has no size", "<a href=\"link\">link</a></td><td>-</td>", true },
	{ __LINE__, "no raw script tag", "<script>", false },
	{ __LINE__, "no raw invalid byte", "\xff", false },
	{ __LINE__, "no raw newline in a name", "new\nline", false },
	{ __LINE__, "no dotfile", ".env", false },
	{ __LINE__, "no dot directory", ".git", false },
	{ __LINE__, "no fifo", "pipe", false },
	{ __LINE__, "no parent at the root", "href=\"../\"", false },
	{ __LINE__, "no dot entry", "href=\"./\"", false },
	{ __LINE__, "not truncated", "truncated", false },
	{ __LINE__, "no absolute href", "href=\"/", false },
};

static void check_substrings(const char *out, const struct substr_case *cases, size_t n)
{
	int failures = 0;
	for (size_t i = 0; i < n; i++) {
		const struct substr_case *c = &cases[i];
		if ((strstr(out, c->s) != NULL) != c->present)
			FAIL_ROW(c->line, c->name, "\"%s\" %s", c->s, c->present ? "missing" : "present");
	}
	assert_int_equal(failures, 0);
}

static void test_html_page(void **state)
{
	struct fixture *f = *state;
	char *out = render_ok(f->fd, "/", LISTING_HTML, LISTING_MAX_ENTRIES);
	assert_true(strncmp(out, "<!DOCTYPE html>", 15) == 0);
	check_substrings(out, HTML_SUBSTRINGS, sizeof(HTML_SUBSTRINGS) / sizeof(HTML_SUBSTRINGS[0]));
	t_free(out);
}

/* The title's path is escaped as text; the parent link follows url_path. */
struct title_case {
	int line;
	const char *name;
	const char *url_path;
	const char *title;
	bool parent;
};

static const struct title_case TITLES[] = {
	{ __LINE__, "root", "/", "<title>Index of /</title>", false },
	{ __LINE__, "one level", "/a/", "<title>Index of /a/</title>", true },
	{ __LINE__, "two levels", "/a/b/", "<title>Index of /a/b/</title>", true },
	{ __LINE__, "markup escaped", "/<b>&'\"/", "<title>Index of /&lt;b&gt;&amp;&#39;&quot;/</title>", true },
	{ __LINE__, "invalid UTF-8", "/\xff\xc3/", "<title>Index of /\xef\xbf\xbd\xef\xbf\xbd/</title>", true },
	{ __LINE__, "valid UTF-8", "/\xc3\xa9t\xc3\xa9/", "<title>Index of /\xc3\xa9t\xc3\xa9/</title>", true },
};

static void test_html_title_and_parent(void **state)
{
	struct fixture *f = *state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(TITLES) / sizeof(TITLES[0]); i++) {
		const struct title_case *c = &TITLES[i];
		char *out = render_ok(f->small_fd, c->url_path, LISTING_HTML, LISTING_MAX_ENTRIES);
		if (!strstr(out, c->title))
			FAIL_ROW(c->line, c->name, "no %s", c->title);
		bool parent = strstr(out, "<tr><td><a href=\"../\">../</a></td><td>-</td><td>-</td></tr>\n<tr><td><a href=\"a\">") != NULL;
		if (parent != c->parent)
			FAIL_ROW(c->line, c->name, "parent link %s", parent ? "shown" : "missing");
		t_free(out);
	}
	assert_int_equal(failures, 0);
}

/* ---- JSON ------------------------------------------------------------------- */

static const struct substr_case JSON_SUBSTRINGS[] = {
	{ __LINE__, "head", "{\"path\": \"/\", \"entries\": [\n  {\"name\": \"100%\", \"type\": \"file\", \"size\": 1, ", true },
	{ __LINE__, "backslash and markup", "{\"name\": \"<script>alert(1)<\\\\script>\", \"type\": \"file\"", true },
	{ __LINE__, "quote", "{\"name\": \"a\\\"b\", \"type\": \"file\"", true },
	{ __LINE__, "ampersand raw", "{\"name\": \"a&b\", \"type\": \"file\"", true },
	{ __LINE__, "apostrophe raw", "{\"name\": \"it's\", \"type\": \"file\"", true },
	{ __LINE__, "query raw", "{\"name\": \"q?x#y\", \"type\": \"file\"", true },
	{ __LINE__, "DEL raw (JSON allows it)", "{\"name\": \"del\x7f\", \"type\": \"file\"", true },
	{ __LINE__, "control as \\u00XX", "{\"name\": \"new\\u000aline\", \"type\": \"file\"", true },
	{ __LINE__, "invalid UTF-8", "{\"name\": \"\\ufffd\\ufffd.txt\", \"type\": \"file\"", true },
	{ __LINE__, "valid UTF-8 kept", "{\"name\": \"\xc3\xbcn\xc3\257code.txt\", \"type\": \"file\"", true },
	{ __LINE__, "known entry exact",
	  "{\"name\": \"known.txt\", \"type\": \"file\", \"size\": 12, \"mtime\": 1700000000, "
	  "\"modified\": \"2023-11-14T22:13:20Z\"},\n", true },
	{ __LINE__, "dir: no slash, no size", "{\"name\": \"sub\", \"type\": \"dir\", \"mtime\": ", true },
	{ __LINE__, "link: no size", "{\"name\": \"link\", \"type\": \"link\", \"mtime\": ", true },
	{ __LINE__, "tail", "}\n], \"truncated\": false}\n", true },
	{ __LINE__, "no dotfile", ".env", false },
	{ __LINE__, "no dot directory", ".git", false },
	{ __LINE__, "no fifo", "pipe", false },
	{ __LINE__, "no parent", "\"..\"", false },
	{ __LINE__, "no raw invalid byte", "\xff", false },
};

static void test_json(void **state)
{
	struct fixture *f = *state;
	char *out = render_ok(f->fd, "/", LISTING_JSON, LISTING_MAX_ENTRIES);
	check_substrings(out, JSON_SUBSTRINGS, sizeof(JSON_SUBSTRINGS) / sizeof(JSON_SUBSTRINGS[0]));
	assert_int_equal(count(out, "{\"name\": "), sizeof(LINKS) / sizeof(LINKS[0]));
	/* The same order as the HTML: names compared bytewise. */
	assert_true(strstr(out, "\"it's\"") < strstr(out, "\"known.txt\""));
	assert_true(strstr(out, "\"sub\"") < strstr(out, "code.txt\""));
	assert_true(strstr(out, "code.txt\"") < strstr(out, "\\ufffd.txt\""));
	t_free(out);

	out = render_ok(f->small_fd, "/q\"\\\x01\xff/", LISTING_JSON, LISTING_MAX_ENTRIES);
	assert_true(strncmp(out, "{\"path\": \"/q\\\"\\\\\\u0001\\ufffd/\", ", 31) == 0);
	t_free(out);
}

static void test_json_empty_directory(void **state)
{
	struct fixture *f = *state;
	char p[160];
	snprintf(p, sizeof(p), "%s/hostile/sub", f->base);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	char *out = render_ok(fd, "/sub/", LISTING_JSON, LISTING_MAX_ENTRIES);
	assert_string_equal(out, "{\"path\": \"/sub/\", \"entries\": [], \"truncated\": false}\n");
	t_free(out);
	out = render_ok(fd, "/sub/", LISTING_HTML, LISTING_MAX_ENTRIES);
	assert_int_equal(count(out, "<tr>"), 2); /* the header and "../" */
	t_free(out);
	close(fd);
}

/* ---- the entry cap ---------------------------------------------------------- */

struct cap_case {
	int line;
	const char *name;
	size_t max;
	size_t listed;
	bool truncated;
};

/* small/ holds a..e and .hidden: hidden names do not count against the cap. */
static const struct cap_case CAPS[] = {
	{ __LINE__, "cap 0", 0, 0, true },
	{ __LINE__, "cap 1", 1, 1, true },
	{ __LINE__, "one short", 4, 4, true },
	{ __LINE__, "exact", 5, 5, false },
	{ __LINE__, "room to spare", 6, 5, false },
	{ __LINE__, "default", LISTING_MAX_ENTRIES, 5, false },
};

static void test_cap_table(void **state)
{
	struct fixture *f = *state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(CAPS) / sizeof(CAPS[0]); i++) {
		const struct cap_case *c = &CAPS[i];
		char *json = render_ok(f->small_fd, "/s/", LISTING_JSON, c->max);
		char *html = render_ok(f->small_fd, "/s/", LISTING_HTML, c->max);
		if (count(json, "{\"name\": ") != c->listed)
			FAIL_ROW(c->line, c->name, "JSON lists %zu", count(json, "{\"name\": "));
		if (count(html, "<tr>") != c->listed + 2)
			FAIL_ROW(c->line, c->name, "HTML has %zu rows", count(html, "<tr>"));
		const char *tail = c->truncated ? "\"truncated\": true}\n" : "\"truncated\": false}\n";
		if (!strstr(json, tail))
			FAIL_ROW(c->line, c->name, "JSON lacks %s", tail);
		char note[128];
		snprintf(note, sizeof(note),
			 "</table>\n<p>Listing truncated: only the first %zu entries read are shown.</p>\n", c->listed);
		if ((strstr(html, note) != NULL) != c->truncated || (strstr(html, "truncated") != NULL) != c->truncated)
			FAIL_ROW(c->line, c->name, "HTML truncation note wrong");
		/* What is listed is still sorted. */
		const char *prev = NULL;
		for (const char *n = json; (n = strstr(n, "{\"name\": \"")) != NULL; n++) {
			if (prev && strcmp(n, prev) < 0)
				FAIL_ROW(c->line, c->name, "not sorted");
			prev = n;
		}
		t_free(json);
		t_free(html);
	}
	assert_int_equal(failures, 0);
}

/* ---- the caller's descriptor and errors ------------------------------------- */

static void test_fd_still_usable(void **state)
{
	struct fixture *f = *state;
	size_t fds = open_fds();
	for (int fmt = LISTING_HTML; fmt <= LISTING_JSON; fmt++) {
		char *a = render_ok(f->fd, "/d/", (enum listing_format)fmt, LISTING_MAX_ENTRIES);
		char *b = render_ok(f->fd, "/d/", (enum listing_format)fmt, LISTING_MAX_ENTRIES);
		assert_string_equal(a, b);
		t_free(a);
		t_free(b);
	}
	struct stat st;
	assert_int_equal(fstat(f->fd, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(lseek(f->fd, 0, SEEK_CUR), 0);
	assert_int_equal(open_fds(), fds);
	/* And the caller can still read it from the start itself. */
	DIR *d = fdopendir(dup(f->fd));
	assert_non_null(d);
	size_t n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	assert_true(n >= sizeof(LINKS) / sizeof(LINKS[0]) + 2);
	assert_int_equal(lseek(f->fd, 0, SEEK_SET), 0); /* the dup shared our offset */
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	size_t fds = open_fds();
	char *out = (char *)"untouched";
	size_t len = 7;
	errno = 0;
	assert_int_equal(listing_render(-1, "/", LISTING_HTML, &out, &len), -1);
	assert_int_equal(errno, EBADF);
	assert_null(out);
	assert_int_equal(len, 0);

	char p[160];
	snprintf(p, sizeof(p), "%s/hostile/known.txt", f->base);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	errno = 0;
	assert_int_equal(listing_render(fd, "/", LISTING_JSON, &out, &len), -1);
	assert_int_equal(errno, ENOTDIR);
	close(fd);

	errno = 0;
	assert_int_equal(listing_render(f->fd, NULL, LISTING_HTML, &out, &len), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(listing_render(f->fd, "/", LISTING_HTML, NULL, &len), -1);
	assert_int_equal(listing_render(f->fd, "/", LISTING_HTML, &out, NULL), -1);
	assert_int_equal(live_allocs, 0);
	assert_int_equal(open_fds(), fds);
}

/* Fail the 1st, 2nd, ... allocation until a render succeeds: each failure
 * is -1/ENOMEM, leaves *out NULL and frees everything it took. */
static void test_every_allocation_failure(void **state)
{
	struct fixture *f = *state;
	size_t fds = open_fds();
	for (int fmt = LISTING_HTML; fmt <= LISTING_JSON; fmt++) {
		long k;
		for (k = 0; k < 1000; k++) {
			char *out = (char *)"untouched";
			size_t len = 7;
			alloc_budget = k;
			errno = 0;
			int rc = listing_render(f->fd, "/a/", (enum listing_format)fmt, &out, &len);
			alloc_budget = -1;
			if (rc == 0) {
				assert_int_equal(live_allocs, 1);
				t_free(out);
				break;
			}
			assert_int_equal(rc, -1);
			assert_int_equal(errno, ENOMEM);
			assert_null(out);
			assert_int_equal(live_allocs, 0);
			assert_int_equal(open_fds(), fds);
		}
		/* One per name, the array and the output at least. */
		assert_true(k > (long)(sizeof(LINKS) / sizeof(LINKS[0])));
		assert_true(k < 1000);
	}
	assert_int_equal(live_allocs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wants_json_table),
		cmocka_unit_test(test_utf8_seq_len_table),
		cmocka_unit_test(test_html_links_in_order),
		cmocka_unit_test(test_html_page),
		cmocka_unit_test(test_html_title_and_parent),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_empty_directory),
		cmocka_unit_test(test_cap_table),
		cmocka_unit_test(test_fd_still_usable),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_every_allocation_failure),
	};
	return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
