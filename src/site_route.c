#include "site_route.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Open addressing over a power-of-two table at most half full; keys point
 * into the configuration, which outlives the router. Written here, not
 * taken from a library: it is twenty lines, and the lookup is on every
 * request's path. */
struct route_slot {
	const char *key; /* NULL: empty */
	uint32_t len;
	uint16_t site;
};

struct site_router {
	struct route_slot *slots;
	size_t mask;
};

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static struct route_slot *probe(const struct site_router *r, const char *key, size_t n)
{
	size_t i = hash(key, n) & r->mask;
	for (;;) {
		struct route_slot *s = &r->slots[i];
		if (!s->key || (s->len == n && memcmp(s->key, key, n) == 0))
			return s;
		i = (i + 1) & r->mask;
	}
}

struct site_router *site_router_new(const struct config *cfg)
{
	size_t n = 0;
	for (unsigned i = 0; i < cfg->site_count; i++)
		n += cfg->sites[i].host_count;
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	struct site_router *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->slots = calloc(cap, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return NULL;
	}
	r->mask = cap - 1;
	for (unsigned i = 0; i < cfg->site_count; i++)
		for (unsigned h = 0; h < cfg->sites[i].host_count; h++) {
			const char *key = cfg->sites[i].hosts[h];
			size_t len = strlen(key);
			struct route_slot *s = probe(r, key, len);
			if (!s->key)
				*s = (struct route_slot){ key, (uint32_t)len, (uint16_t)i };
		}
	return r;
}

void site_router_free(struct site_router *r)
{
	if (!r)
		return;
	free(r->slots);
	free(r);
}

static bool name_byte(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.';
}

int site_host_normalize(const char *name, size_t len, char *out, size_t cap)
{
	size_t n = len;
	if (n && name[0] == '[') {
		/* An IP literal: "[v6]" or "[v6]:port"; kept with its brackets. */
		const char *close = memchr(name, ']', len);
		if (!close)
			return -1;
		n = (size_t)(close - name) + 1;
		if (n < len && name[n] != ':')
			return -1;
	} else {
		const char *colon = memchr(name, ':', len);
		if (colon)
			n = (size_t)(colon - name);
	}
	if (n < len) { /* ":port": digits only, maybe none ("host:" is valid) */
		for (size_t i = n + 1; i < len; i++)
			if (name[i] < '0' || name[i] > '9')
				return -1;
	}
	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n > CONFIG_NAME_MAX || n + 1 > cap)
		return -1;
	bool literal = name[0] == '[';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (literal ? !(isxdigit(c) || c == ':' || c == '.' || c == '[' || c == ']')
			    : !name_byte(c))
			return -1;
		if (!literal && c == '.' && (i == 0 || name[i - 1] == '.'))
			return -1; /* an empty label */
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return (int)n;
}

const char *site_pattern_normalize(const char *pattern, char *out, size_t cap)
{
	size_t len = strlen(pattern);
	bool wild = len >= 2 && pattern[0] == '*' && pattern[1] == '.';
	if (strcmp(pattern, "*") == 0)
		return "a bare '*' matches nothing: mark the site 'default = yes'";
	const char *name = wild ? pattern + 2 : pattern;
	size_t n = wild ? len - 2 : len;
	if (cap < 3)
		return "no room";
	char *dst = wild ? out + 2 : out;
	int m = site_host_normalize(name, n, dst, cap - (wild ? 2 : 0));
	if (m < 0 || strchr(name, '*'))
		return "not a host name (letters, digits, '-', '.'; '*.' only in front)";
	if (memchr(name, ':', n) && name[0] != '[')
		return "a host takes no port (sites are chosen by name on every port)";
	if (wild) {
		out[0] = '*';
		out[1] = '.';
	}
	return NULL;
}

int site_router_find(const struct site_router *r, const char *name, size_t len)
{
	/* buf[0] is room for the '*' of the wildcard probes. */
	char buf[CONFIG_NAME_MAX + 3];
	int n = site_host_normalize(name, len, buf + 1, sizeof(buf) - 1);
	if (n < 0)
		return -1;
	const struct route_slot *s = probe(r, buf + 1, (size_t)n);
	if (s->key)
		return s->site;
	if (buf[1] == '[')
		return -1; /* no wildcard covers an address */
	/* "*.b.example.org", then "*.example.org", then "*.org": the longest
	 * suffix first. At dot d, buf[d] (a byte of the name before it) is
	 * borrowed for the '*'. */
	for (int d = 1; d <= n; d++) {
		if (buf[d] != '.' || d == 1)
			continue;
		char saved = buf[d - 1];
		buf[d - 1] = '*';
		s = probe(r, buf + d - 1, (size_t)(n - d + 2));
		buf[d - 1] = saved;
		if (s->key)
			return s->site;
	}
	return -1;
}
