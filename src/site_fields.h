/*
 * site_fields — the header fields a site's settings add to its answers:
 * the configured `header` lines and HSTS (pre-formatted once per worker,
 * one block for plain connections and one for TLS), the Cache-Control and
 * Expires of the first `cache` rule whose pattern matches the path, and
 * the charset parameter of text types.
 *
 * Patterns (config.h, struct serve_rule): without a '/', a pattern is
 * matched against the last segment of the path ("*.css"); with one, against
 * the whole path. '*' matches any run of bytes except '/', except at the
 * very end of a pattern with a '/', where it matches the rest (/assets/ then a star
 * covers /assets/a/b.js). Paths are matched as the request wrote them
 * (percent-escapes not decoded): a rule only adds headers, so a request
 * that escapes its way past one loses nothing but caching.
 */
#ifndef LISOD_SITE_FIELDS_H
#define LISOD_SITE_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

/* SERVE_HEADER_BYTES_MAX of header lines (checked when the configuration is
 * read) and the HSTS line always fit. */
enum { SITE_FIELDS_MAX = 4096 };
_Static_assert(SERVE_HEADER_BYTES_MAX + 64 <= SITE_FIELDS_MAX, "room for HSTS");

/* The `header` lines, then Strict-Transport-Security when tls and hsts is
 * set, as "Name: value\r\n" lines into a malloc'ed *out (NULL when there
 * are none). 0, or -1: out of memory, or longer than SITE_FIELDS_MAX. */
int site_fields_build(const struct site_serve *sv, bool tls, char **out, uint16_t *len);

/* Does pattern match path[0..len)? (the rules above) */
bool site_pattern_match(const char *pattern, const char *path, size_t len);

/* The first cache rule matching the path, or NULL. */
const struct serve_rule *site_cache_rule(const struct site_serve *sv, const char *path,
					 size_t len);

/* The max-age of a Cache-Control value ("public, max-age=600"), or -1. */
long site_cache_max_age(const char *value);

/* Does a media type take a charset parameter here: every text type, JavaScript,
 * XML and XHTML. */
bool site_type_has_charset(const char *type);

#endif
