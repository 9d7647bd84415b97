/*
 * Unit tests for site_route.c and the sites config.c resolves:
 *
 *   normalize rows   a Host value -> its normal form, or not a host name;
 *   pattern rows     a hosts entry -> its normal form, or why it is refused;
 *   route rows       a Host value -> the site that answers it, against one
 *                    configuration of sites (exact names, wildcards, an
 *                    exact name under a wildcard, a deeper wildcard);
 *   site rows        a configuration file -> every resolved site (what it
 *                    inherited, which one is the default), through
 *                    config_parse as lisod runs it.
 *
 * Every row carries its __LINE__; a failing row prints it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "site_route.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FAIL_ROW(line, ...)                                                  \
	do {                                                                 \
		print_error("test_site_route.c:%d: ", (line));               \
		print_error(__VA_ARGS__);                                    \
		print_error("\n");                                           \
		failures++;                                                  \
	} while (0)

/* ---- Host normal form ---------------------------------------------------- */

static const struct {
	int line;
	const char *in;
	const char *want; /* NULL: not a host name */
} NORMALIZE[] = {
	{ __LINE__, "example.org", "example.org" },
	{ __LINE__, "Example.ORG", "example.org" },
	{ __LINE__, "example.org:8080", "example.org" },
	{ __LINE__, "example.org:", "example.org" },   /* an empty port is valid (RFC 3986) */
	{ __LINE__, "example.org.", "example.org" },
	{ __LINE__, "example.org.:443", "example.org" },
	{ __LINE__, "[::1]", "[::1]" },
	{ __LINE__, "[::1]:8443", "[::1]" },
	{ __LINE__, "[FE80::1]", "[fe80::1]" },
	{ __LINE__, "127.0.0.1:80", "127.0.0.1" },
	{ __LINE__, "a_b.example", "a_b.example" },
	{ __LINE__, "", NULL },
	{ __LINE__, ":80", NULL },
	{ __LINE__, ".", NULL },
	{ __LINE__, "a..b", NULL },
	{ __LINE__, ".a", NULL },
	{ __LINE__, "a.b:8x", NULL },
	{ __LINE__, "a b", NULL },
	{ __LINE__, "a/b", NULL },
	{ __LINE__, "[::1", NULL },
	{ __LINE__, "[::1]x", NULL },
	{ __LINE__, "[g::1]", NULL },
	{ __LINE__, "a:b:c", NULL },
};

static void test_normalize_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(NORMALIZE); i++) {
		char out[CONFIG_NAME_MAX + 1];
		int n = site_host_normalize(NORMALIZE[i].in, strlen(NORMALIZE[i].in), out,
					    sizeof(out));
		const char *want = NORMALIZE[i].want;
		if (!want && n >= 0)
			FAIL_ROW(NORMALIZE[i].line, "'%s' -> '%s', want refused", NORMALIZE[i].in, out);
		if (want && (n < 0 || strcmp(out, want) != 0 || (size_t)n != strlen(want)))
			FAIL_ROW(NORMALIZE[i].line, "'%s' -> %s, want '%s'", NORMALIZE[i].in,
				 n < 0 ? "refused" : out, want);
	}
	/* The longest name there can be, and one byte more. */
	char name[CONFIG_NAME_MAX + 2], out[CONFIG_NAME_MAX + 1];
	memset(name, 'a', sizeof(name));
	for (size_t i = 63; i < sizeof(name); i += 64)
		name[i] = '.';
	assert_int_equal(site_host_normalize(name, CONFIG_NAME_MAX, out, sizeof(out)),
			 CONFIG_NAME_MAX);
	assert_int_equal(site_host_normalize(name, CONFIG_NAME_MAX + 1, out, sizeof(out)), -1);
	assert_int_equal(failures, 0);
}

static const struct {
	int line;
	const char *in;
	const char *want; /* the normal form, or the start of the refusal */
	bool ok;
} PATTERNS[] = {
	{ __LINE__, "Example.org", "example.org", true },
	{ __LINE__, "*.Example.org", "*.example.org", true },
	{ __LINE__, "example.org.", "example.org", true },
	{ __LINE__, "[::1]", "[::1]", true },
	{ __LINE__, "*", "a bare '*'", false },
	{ __LINE__, "*.", "not a host name", false },
	{ __LINE__, "a.*.org", "not a host name", false },
	{ __LINE__, "*a.org", "not a host name", false },
	{ __LINE__, "**.org", "not a host name", false },
	{ __LINE__, "example.org:80", "a host takes no port", false },
	{ __LINE__, "", "not a host name", false },
};

static void test_pattern_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(PATTERNS); i++) {
		char out[CONFIG_NAME_MAX + 3];
		const char *why = site_pattern_normalize(PATTERNS[i].in, out, sizeof(out));
		if (PATTERNS[i].ok && (why || strcmp(out, PATTERNS[i].want) != 0))
			FAIL_ROW(PATTERNS[i].line, "'%s' -> %s, want '%s'", PATTERNS[i].in,
				 why ? why : out, PATTERNS[i].want);
		if (!PATTERNS[i].ok &&
		    (!why || strncmp(why, PATTERNS[i].want, strlen(PATTERNS[i].want)) != 0))
			FAIL_ROW(PATTERNS[i].line, "'%s' -> %s, want refused: %s...", PATTERNS[i].in,
				 why ? why : "accepted", PATTERNS[i].want);
	}
	assert_int_equal(failures, 0);
}

/* ---- routing -------------------------------------------------------------- */

/* A configuration as config_parse makes it, from a file's text. */
static int parse_file(struct config *cfg, const char *text, char **err_text)
{
	char path[] = "/tmp/lisod-site-route-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char *argv[] = { "lisod", "-c", path, NULL };
	size_t len;
	FILE *err = open_memstream(err_text, &len);
	FILE *out = fopen("/dev/null", "w");
	int rc = (int)config_parse(cfg, 3, argv, out, err);
	fclose(err);
	fclose(out);
	unlink(path);
	return rc;
}

static const char ROUTE_CONF[] =
	"[site plain]\n"
	"hosts = example.org, www.example.org\n"
	"[site wild]\n"
	"hosts = *.example.org\n"
	"[site deep]\n"
	"hosts = *.eu.example.org\n"
	"[site exact-under]\n"
	"hosts = shop.eu.example.org\n"
	"[site other]\n"
	"hosts = Other.Test, [::1]\n"
	"default = yes\n";

static const struct {
	int line;
	const char *host;
	int site; /* index in ROUTE_CONF, -1: none claims it */
} ROUTES[] = {
	{ __LINE__, "example.org", 0 },
	{ __LINE__, "EXAMPLE.org:80", 0 },
	{ __LINE__, "www.example.org.", 0 },          /* exact beats *.example.org */
	{ __LINE__, "a.example.org", 1 },
	{ __LINE__, "a.b.c.example.org", 1 },         /* any depth under the suffix */
	{ __LINE__, "eu.example.org", 1 },            /* *.eu.example.org needs a label more */
	{ __LINE__, "fr.eu.example.org", 2 },         /* the longest suffix wins */
	{ __LINE__, "x.fr.eu.example.org", 2 },
	{ __LINE__, "shop.eu.example.org", 3 },       /* exact beats the deeper wildcard */
	{ __LINE__, "a.shop.eu.example.org", 2 },     /* ...but not below it */
	{ __LINE__, "other.test", 4 },
	{ __LINE__, "[::1]:8080", 4 },
	{ __LINE__, "example.com", -1 },
	{ __LINE__, "org", -1 },
	{ __LINE__, "xexample.org", -1 },             /* a suffix is whole labels */
	{ __LINE__, "test", -1 },
	{ __LINE__, "[::2]", -1 },
	{ __LINE__, "bad host", -1 },
	{ __LINE__, "", -1 },
};

static void test_route_table(void **state)
{
	(void)state;
	struct config cfg;
	char *err = NULL;
	assert_int_equal(parse_file(&cfg, ROUTE_CONF, &err), CONFIG_OK);
	assert_string_equal(err, "");
	free(err);
	assert_int_equal(cfg.site_count, 5);
	assert_int_equal(cfg.default_site, 4);
	struct site_router *r = site_router_new(&cfg);
	assert_non_null(r);
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(ROUTES); i++) {
		int got = site_router_find(r, ROUTES[i].host, strlen(ROUTES[i].host));
		if (got != ROUTES[i].site)
			FAIL_ROW(ROUTES[i].line, "'%s' -> %d (%s), want %d", ROUTES[i].host, got,
				 got >= 0 ? cfg.sites[got].name : "none", ROUTES[i].site);
	}
	site_router_free(r);
	config_free(&cfg);
	assert_int_equal(failures, 0);
}

/* A thousand sites: each one's names route to it (no collision loses one). */
static void test_route_many_sites(void **state)
{
	(void)state;
	size_t cap = 1 << 17, n = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "[site s%d]\nhosts = h%d.test, *.w%d.test\n", i, i, i);
	struct config cfg;
	char *err = NULL;
	assert_int_equal(parse_file(&cfg, text, &err), CONFIG_OK);
	free(err);
	free(text);
	struct site_router *r = site_router_new(&cfg);
	assert_non_null(r);
	for (int i = 0; i < 1000; i++) {
		char name[64];
		int len = snprintf(name, sizeof(name), "h%d.test", i);
		assert_int_equal(site_router_find(r, name, (size_t)len), i);
		len = snprintf(name, sizeof(name), "x.y.w%d.test", i);
		assert_int_equal(site_router_find(r, name, (size_t)len), i);
	}
	assert_int_equal(site_router_find(r, "h1000.test", 10), -1);
	site_router_free(r);
	config_free(&cfg);
}

/* ---- sites as config.c resolves them --------------------------------------------- */

static const struct {
	int line;
	const char *name;
	const char *text;   /* the file */
	/* Per site, "name*|hosts|root|cgi|index|key|cert|access-log@where", '*'
	 * marking the default, where = the lines root, key, access-log came
	 * from ("-": the command line or the default) */
	const char *want;
} SITES[] = {
	{ __LINE__, "no sites: one, made of the main settings",
	  "root = /srv/main\ncgi = /srv/cgi\nindex = a.html, b.html\n",
	  "default*||/srv/main|/srv/cgi|a.html,b.html|-|-|-@1,-,-" },
	{ __LINE__, "a site inherits what it does not set",
	  "root = /srv/main\nkey = /k\ncert = /c\naccess-log = /var/log/a\n"
	  "[site one]\nhosts = one.test\n",
	  "one*|one.test|/srv/main|-|index.html|/k|/c|/var/log/a@1,2,4" },
	{ __LINE__, "a site's own values, and the default marked",
	  "root = /srv/main\n"
	  "[site one]\nhosts = one.test, *.One.Test\nroot = /srv/one\nindex = i.htm\n"
	  "[site two]\nhosts = two.test\ndefault = yes\nkey = /k2\ncert = /c2\n"
	  "access-log = off\ncgi = /srv/cgi2\n",
	  "one|one.test,*.one.test|/srv/one|-|i.htm|-|-|-@4,-,- "
	  "two*|two.test|/srv/main|/srv/cgi2|index.html|/k2|/c2|off@1,9,11" },
	{ __LINE__, "without a default mark the first site is the default",
	  "[site one]\nhosts = one.test\n[site two]\nhosts = two.test\n",
	  "one*|one.test|www|-|index.html|-|-|-@-,-,- two|two.test|www|-|index.html|-|-|-@-,-,-" },
};

static void describe(const struct config *cfg, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < cfg->site_count && o < cap; i++) {
		const struct site *s = &cfg->sites[i];
		char hosts[512] = "", index[256] = "";
		size_t h = 0, x = 0;
		for (unsigned k = 0; k < s->host_count; k++)
			h += (size_t)snprintf(hosts + h, sizeof(hosts) - h, "%s%s", k ? "," : "",
					      s->hosts[k]);
		for (unsigned k = 0; k < s->index_count; k++)
			x += (size_t)snprintf(index + x, sizeof(index) - x, "%s%s", k ? "," : "",
					      s->index[k]);
		char where[3][16];
		const enum site_key keys[3] = { SITE_KEY_ROOT, SITE_KEY_KEY, SITE_KEY_ACCESS_LOG };
		for (int k = 0; k < 3; k++) {
			if (s->at[keys[k]].file)
				snprintf(where[k], sizeof(where[k]), "%u", s->at[keys[k]].line);
			else
				snprintf(where[k], sizeof(where[k]), "-");
		}
		o += (size_t)snprintf(out + o, cap - o, "%s%s%s|%s|%s|%s|%s|%s|%s|%s@%s,%s,%s",
				      i ? " " : "", s->name, s->is_default ? "*" : "", hosts,
				      s->root, s->cgi_path ? s->cgi_path : "-", index,
				      s->key_path ? s->key_path : "-",
				      s->cert_path ? s->cert_path : "-",
				      s->access_log_path ? s->access_log_path : "-", where[0],
				      where[1], where[2]);
	}
}

static void test_sites_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(SITES); i++) {
		struct config cfg;
		char *err = NULL, got[2048];
		int rc = parse_file(&cfg, SITES[i].text, &err);
		if (rc != CONFIG_OK) {
			FAIL_ROW(SITES[i].line, "%s: rc %d: %s", SITES[i].name, rc, err);
		} else {
			describe(&cfg, got, sizeof(got));
			if (strcmp(got, SITES[i].want) != 0)
				FAIL_ROW(SITES[i].line, "%s:\n  got  %s\n  want %s", SITES[i].name,
					 got, SITES[i].want);
		}
		free(err);
		config_free(&cfg);
	}
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize_table),
		cmocka_unit_test(test_pattern_table),
		cmocka_unit_test(test_route_table),
		cmocka_unit_test(test_route_many_sites),
		cmocka_unit_test(test_sites_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
