#include "site_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int site_fields_build(const struct site_serve *sv, bool tls, char **out, uint16_t *len)
{
	*out = NULL;
	*len = 0;
	bool hsts = tls && sv->hsts_max_age > 0;
	if (sv->header_count == 0 && !hsts)
		return 0;
	char *p = malloc(SITE_FIELDS_MAX);
	if (!p)
		return -1;
	size_t off = 0;
	for (unsigned i = 0; i <= sv->header_count; i++) {
		int n;
		if (i < sv->header_count)
			n = snprintf(p + off, SITE_FIELDS_MAX - off, "%s: %s\r\n",
				     sv->headers[i].pattern, sv->headers[i].value);
		else if (hsts)
			n = snprintf(p + off, SITE_FIELDS_MAX - off,
				     "Strict-Transport-Security: max-age=%u\r\n", sv->hsts_max_age);
		else
			break;
		if (n < 0 || (size_t)n >= SITE_FIELDS_MAX - off) {
			free(p);
			return -1;
		}
		off += (size_t)n;
	}
	*out = p;
	*len = (uint16_t)off;
	return 0;
}

/* Glob of '*' (no '/') over s[0..n); star_rest: a final '*' takes '/' too.
 * Backtracking to the last '*' only: linear in practice, and patterns are
 * the operator's, bounded by the line length. */
static bool glob(const char *p, const char *s, size_t n, bool star_rest)
{
	const char *star = NULL;
	size_t i = 0, star_i = 0;
	while (i < n) {
		if (*p == '*') {
			if (p[1] == '\0' && star_rest)
				return true;
			star = p++;
			star_i = i;
		} else if (*p && *p == s[i]) {
			p++;
			i++;
		} else if (star && s[star_i] != '/') {
			p = star + 1;
			i = ++star_i;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

bool site_pattern_match(const char *pattern, const char *path, size_t len)
{
	if (strchr(pattern, '/'))
		return glob(pattern, path, len, true);
	size_t base = len;
	while (base > 0 && path[base - 1] != '/')
		base--;
	return glob(pattern, path + base, len - base, false);
}

const struct serve_rule *site_cache_rule(const struct site_serve *sv, const char *path,
					 size_t len)
{
	for (unsigned i = 0; i < sv->cache_count; i++)
		if (site_pattern_match(sv->cache[i].pattern, path, len))
			return &sv->cache[i];
	return NULL;
}

long site_cache_max_age(const char *value)
{
	for (const char *p = value; (p = strcasestr(p, "max-age=")) != NULL; p++) {
		/* A directive starts the value or follows ',' and blanks
		 * (s-maxage is another directive). */
		const char *q = p;
		while (q > value && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		if (q != value && q[-1] != ',')
			continue;
		const char *d = p + 8;
		if (*d == '"')
			d++;
		if (*d < '0' || *d > '9')
			return -1;
		long v = 0;
		for (; *d >= '0' && *d <= '9'; d++)
			v = v > 100000000L ? v : v * 10 + (*d - '0');
		return v;
	}
	return -1;
}

bool site_type_has_charset(const char *type)
{
	static const char *const types[] = { "application/javascript", "application/xml",
					     "application/xhtml+xml", "image/svg+xml" };
	if (strncasecmp(type, "text/", 5) == 0)
		return true;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(type, types[i]) == 0)
			return true;
	return false;
}
