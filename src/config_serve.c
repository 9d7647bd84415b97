/*
 * config_serve — the settings of how a site serves its files (config.h's
 * struct site_serve): their names, defaults, how a value is read and
 * checked, and how a site inherits what it does not set.
 *
 * One parser serves the command line, the main section of the file and
 * the [site] sections, so the three cannot disagree on what a value means.
 * Every value that ends up in a response header is checked here, once, for
 * bytes that could split or forge a header (CR, LF, NUL, other controls).
 */
#include <stdlib.h>
#include <string.h>

#include "config_priv.h"

static const char *const SERVE_NAMES[SERVE_KEY_COUNT] = {
	[SERVE_PRECOMPRESSED] = "precompressed", [SERVE_COMPRESS] = "compress",
	[SERVE_COMPRESS_MIN_SIZE] = "compress-min-size", [SERVE_LISTING] = "listing",
	[SERVE_DOTFILES] = "dotfiles", [SERVE_CHARSET] = "charset", [SERVE_HSTS] = "hsts",
	[SERVE_HTTPS_REDIRECT] = "https-redirect", [SERVE_CORS_ORIGINS] = "cors-origins",
	[SERVE_CORS_METHODS] = "cors-methods", [SERVE_CORS_HEADERS] = "cors-headers",
	[SERVE_CORS_MAX_AGE] = "cors-max-age", [SERVE_CACHE] = "cache", [SERVE_HEADER] = "header",
	[SERVE_ERROR_PAGE] = "error-page", [SERVE_TRY_HTML] = "try-html",
	[SERVE_FALLBACK] = "fallback",
};

/* Fields the server writes itself: a configured one would break framing
 * or contradict the answer. */
static const char *const RESERVED_FIELDS[] = {
	"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
	"trailer", "te", "content-range", "content-encoding", "date", "server", "location",
	"content-type", "etag", "last-modified", "vary", "accept-ranges",
};

int config_serve_key(const char *name)
{
	for (int k = 0; k < SERVE_KEY_COUNT; k++)
		if (strcmp(name, SERVE_NAMES[k]) == 0)
			return k;
	return -1;
}

const char *config_serve_name(int key)
{
	return SERVE_NAMES[key];
}

bool config_serve_repeatable(int key)
{
	return key == SERVE_CACHE || key == SERVE_HEADER || key == SERVE_ERROR_PAGE;
}

void config_serve_defaults(struct site_serve *sv)
{
	memset(sv, 0, sizeof(*sv));
	sv->precompressed = true;
	sv->compress = true;
	sv->compress_min_size = 1024;
	sv->charset = "utf-8";
	sv->cors_methods = "GET, HEAD, POST";
	sv->cors_max_age = 600;
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static bool token_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar(s[i]))
			return false;
	return true;
}

/* A header value: visible ASCII, blanks inside, nothing that ends a line. */
static bool field_value_ok(const char *s)
{
	if (!*s)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

/* "GET, HEAD" or "X-A,X-B": tokens separated by commas and blanks. */
static bool token_list_ok(const char *s)
{
	bool any = false;
	while (*s) {
		size_t n = strcspn(s, ", \t");
		if (n && !token_ok(s, n))
			return false;
		any |= n > 0;
		s += n;
		s += strspn(s, ", \t");
	}
	return any;
}

static bool origin_ok(const char *o)
{
	if (strcmp(o, "*") == 0)
		return true;
	const char *host = strncmp(o, "https://", 8) == 0 ? o + 8
			 : strncmp(o, "http://", 7) == 0 ? o + 7 : NULL;
	if (!host || !*host)
		return false;
	for (const char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr(".-:[]", *p)))
			return false; /* lower case: browsers send origins normalised */
	return true;
}

static const char *parse_seconds(const char *s, unsigned *out)
{
	if (*s < '0' || *s > '9')
		return "expected a number of seconds (at most ten years)";
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || v > 10ull * 366 * 24 * 3600)
		return "expected a number of seconds (at most ten years)";
	*out = (unsigned)v;
	return NULL;
}

static const char *parse_yes_no(const char *s, bool *out)
{
	int b = config_parse_bool(s);
	if (b < 0)
		return "expected yes or no";
	*out = b == 1;
	return NULL;
}

static bool url_path_ok(const char *s)
{
	if (s[0] != '/' || strpbrk(s, "?#"))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* A fresh list of SERVE_LIST_MAX rules, or the one sv has (a site's own
 * list replaces the inherited one: owned says it is already its own). */
static struct serve_rule *rule_slot(struct config *cfg, const struct serve_rule **list,
				    unsigned *count, bool owned)
{
	if (!owned || !*list) {
		*list = config_alloc(cfg, sizeof(struct serve_rule) * SERVE_LIST_MAX);
		*count = 0;
		if (!*list)
			return NULL;
	}
	if (*count == SERVE_LIST_MAX)
		return NULL;
	return (struct serve_rule *)&(*list)[(*count)++];
}

/* "FIRST REST": the first word and what follows the blanks after it. */
static const char *split_word(struct config *cfg, const char *value, const char **first,
			      const char **rest)
{
	size_t n = strcspn(value, " \t");
	const char *r = value + n + strspn(value + n, " \t");
	if (n == 0 || !*r)
		return "expected two parts separated by a blank";
	char *w = config_alloc(cfg, n + 1);
	if (!w)
		return "out of memory";
	memcpy(w, value, n);
	*first = w;
	*rest = r;
	return NULL;
}

static const char *apply_header(struct config *cfg, struct site_serve *sv, const char *value,
				bool owned)
{
	const char *colon = strchr(value, ':');
	if (!colon || !token_ok(value, (size_t)(colon - value)))
		return "expected 'Name: value'";
	const char *v = colon + 1 + strspn(colon + 1, " \t");
	if (!field_value_ok(v))
		return "a header value needs visible characters and no control bytes";
	size_t n = (size_t)(colon - value);
	for (size_t i = 0; i < sizeof(RESERVED_FIELDS) / sizeof(RESERVED_FIELDS[0]); i++)
		if (strlen(RESERVED_FIELDS[i]) == n && strncasecmp(value, RESERVED_FIELDS[i], n) == 0)
			return "the server writes this field itself";
	size_t bytes = n + 2 + strlen(v) + 2;
	for (unsigned i = 0; owned && i < sv->header_count; i++)
		bytes += strlen(sv->headers[i].pattern) + 2 + strlen(sv->headers[i].value) + 2;
	if (bytes > SERVE_HEADER_BYTES_MAX)
		return "the header lines add up to more than 4000 bytes";
	char *name = config_alloc(cfg, n + 1);
	if (!name)
		return "out of memory";
	memcpy(name, value, n);
	struct serve_rule *r = rule_slot(cfg, &sv->headers, &sv->header_count, owned);
	if (!r)
		return sv->headers ? "too many header entries" : "out of memory";
	*r = (struct serve_rule){ name, config_strdup(cfg, v) };
	return r->value ? NULL : "out of memory";
}

static const char *apply_cache(struct config *cfg, struct site_serve *sv, const char *value,
			       bool owned)
{
	const char *pattern, *v;
	const char *why = split_word(cfg, value, &pattern, &v);
	if (why)
		return why;
	if (!field_value_ok(v))
		return "a Cache-Control value needs visible characters and no control bytes";
	struct serve_rule *r = rule_slot(cfg, &sv->cache, &sv->cache_count, owned);
	if (!r)
		return sv->cache ? "too many cache entries" : "out of memory";
	*r = (struct serve_rule){ pattern, config_strdup(cfg, v) };
	return r->value ? NULL : "out of memory";
}

static const char *apply_error_page(struct config *cfg, struct site_serve *sv,
				    const char *value, bool owned)
{
	const char *code, *path;
	const char *why = split_word(cfg, value, &code, &path);
	if (why)
		return why;
	char *end;
	long status = strtol(code, &end, 10);
	if (*end || status < 400 || status > 599)
		return "expected 'STATUS /path' with a status from 400 to 599";
	if (!url_path_ok(path))
		return "an error page is a path beneath the root, like /404.html";
	if (!owned || !sv->error_pages) {
		sv->error_pages = config_alloc(cfg, sizeof(struct serve_error_page) * SERVE_LIST_MAX);
		sv->error_page_count = 0;
		if (!sv->error_pages)
			return "out of memory";
	}
	if (sv->error_page_count == SERVE_LIST_MAX)
		return "too many error pages";
	struct serve_error_page *p = (struct serve_error_page *)&sv->error_pages[sv->error_page_count++];
	*p = (struct serve_error_page){ (int)status, config_strdup(cfg, path) };
	return p->path ? NULL : "out of memory";
}

static const char *apply_origins(struct config *cfg, struct site_serve *sv, const char *value)
{
	const char **list = config_alloc(cfg, sizeof(char *) * SERVE_CORS_ORIGINS_MAX);
	unsigned count = 0;
	if (!list)
		return "out of memory";
	const char *why = config_list_append(cfg, value, list, &count, SERVE_CORS_ORIGINS_MAX);
	if (why)
		return why;
	for (unsigned i = 0; i < count; i++) {
		if (!origin_ok(list[i]))
			return "expected '*' or origins like https://a.example (lower case, no path)";
		if (strcmp(list[i], "*") == 0 && count > 1)
			return "'*' stands alone";
	}
	sv->cors_origins = list;
	sv->cors_origin_count = count;
	return NULL;
}

const char *config_serve_apply(struct config *cfg, struct site_serve *sv, int key,
			       const char *value, bool owned)
{
	switch ((enum serve_key)key) {
	case SERVE_PRECOMPRESSED: return parse_yes_no(value, &sv->precompressed);
	case SERVE_COMPRESS: return parse_yes_no(value, &sv->compress);
	case SERVE_LISTING: return parse_yes_no(value, &sv->listing);
	case SERVE_DOTFILES: return parse_yes_no(value, &sv->dotfiles);
	case SERVE_HTTPS_REDIRECT: return parse_yes_no(value, &sv->https_redirect);
	case SERVE_TRY_HTML: return parse_yes_no(value, &sv->try_html);
	case SERVE_COMPRESS_MIN_SIZE: {
		char *end;
		if (*value < '0' || *value > '9')
			return "expected a size in bytes";
		unsigned long long v = strtoull(value, &end, 10);
		if (*end || v > (1u << 30))
			return "expected a size in bytes (at most 1 GiB)";
		sv->compress_min_size = (unsigned)v;
		return NULL;
	}
	case SERVE_CHARSET:
		if (strcmp(value, "off") == 0) {
			sv->charset = NULL;
			return NULL;
		}
		if (!token_ok(value, strlen(value)))
			return "expected a charset name like utf-8, or off";
		sv->charset = value;
		return NULL;
	case SERVE_HSTS: return parse_seconds(value, &sv->hsts_max_age);
	case SERVE_CORS_MAX_AGE: return parse_seconds(value, &sv->cors_max_age);
	case SERVE_CORS_ORIGINS: return apply_origins(cfg, sv, value);
	case SERVE_CORS_METHODS:
	case SERVE_CORS_HEADERS:
		if (!token_list_ok(value))
			return "expected a comma-separated list of names";
		*(key == SERVE_CORS_METHODS ? &sv->cors_methods : &sv->cors_headers) = value;
		return NULL;
	case SERVE_CACHE: return apply_cache(cfg, sv, value, owned);
	case SERVE_HEADER: return apply_header(cfg, sv, value, owned);
	case SERVE_ERROR_PAGE: return apply_error_page(cfg, sv, value, owned);
	case SERVE_FALLBACK:
		if (!url_path_ok(value))
			return "expected a path beneath the root, like /index.html";
		sv->fallback = value;
		return NULL;
	case SERVE_KEY_COUNT: break;
	}
	return "unknown setting";
}

/* Each setting the site made stays; the others are the main settings'.
 * Copying the whole struct first keeps this correct as fields are added:
 * only what the site set is put back. */
void config_serve_inherit(struct site_serve *site, const struct config_origin *site_at,
			  const struct site_serve *main_sv)
{
	struct site_serve own = *site;
	*site = *main_sv;
	for (int k = 0; k < SERVE_KEY_COUNT; k++) {
		if (!site_at[k].file)
			continue;
		switch ((enum serve_key)k) {
		case SERVE_PRECOMPRESSED: site->precompressed = own.precompressed; break;
		case SERVE_COMPRESS: site->compress = own.compress; break;
		case SERVE_COMPRESS_MIN_SIZE: site->compress_min_size = own.compress_min_size; break;
		case SERVE_LISTING: site->listing = own.listing; break;
		case SERVE_DOTFILES: site->dotfiles = own.dotfiles; break;
		case SERVE_CHARSET: site->charset = own.charset; break;
		case SERVE_HSTS: site->hsts_max_age = own.hsts_max_age; break;
		case SERVE_HTTPS_REDIRECT: site->https_redirect = own.https_redirect; break;
		case SERVE_CORS_ORIGINS:
			site->cors_origins = own.cors_origins;
			site->cors_origin_count = own.cors_origin_count;
			break;
		case SERVE_CORS_METHODS: site->cors_methods = own.cors_methods; break;
		case SERVE_CORS_HEADERS: site->cors_headers = own.cors_headers; break;
		case SERVE_CORS_MAX_AGE: site->cors_max_age = own.cors_max_age; break;
		case SERVE_CACHE:
			site->cache = own.cache;
			site->cache_count = own.cache_count;
			break;
		case SERVE_HEADER:
			site->headers = own.headers;
			site->header_count = own.header_count;
			break;
		case SERVE_ERROR_PAGE:
			site->error_pages = own.error_pages;
			site->error_page_count = own.error_page_count;
			break;
		case SERVE_TRY_HTML: site->try_html = own.try_html; break;
		case SERVE_FALLBACK: site->fallback = own.fallback; break;
		case SERVE_KEY_COUNT: break;
		}
	}
}
