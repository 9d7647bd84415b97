/*
 * cors — cross-origin resource sharing (the Fetch standard's CORS
 * protocol) for a site that lists cors-origins: which Origin may read an
 * answer, and the answer to a preflight (OPTIONS with
 * Access-Control-Request-Method).
 *
 * What we allow: the origins listed (compared without case, browsers send
 * them normalised) or any ("*"); the methods of cors-methods (compared
 * exactly, as the standard says); the request headers of cors-headers
 * (without case), or, when it is not set, whatever the preflight asks for.
 * Credentials are never allowed (no Access-Control-Allow-Credentials): a
 * static site has none to protect, and "*" could not be used with them.
 * Pure functions over the request: conn.c and conn_static.c write the
 * fields.
 */
#ifndef LISOD_CORS_H
#define LISOD_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "http_parse.h"

/* Is CORS on for the site? */
static inline bool cors_enabled(const struct site_serve *sv)
{
	return sv->cors_origin_count > 0;
}

/* The Access-Control-Allow-Origin value for req (its Origin field, or
 * "*"), or a slice of length 0 when the request has no Origin or it is not
 * allowed. *vary_origin: the answer depends on Origin (not "*"). */
struct http_slice cors_allow_origin(const struct site_serve *sv, const struct http_request *req,
				    bool *vary_origin);

enum cors_preflight {
	CORS_NOT_PREFLIGHT,  /* an OPTIONS without Origin and Access-Control-Request-Method */
	CORS_ALLOWED,        /* answer 204 with the fields below */
	CORS_REFUSED,        /* origin, method or a header not allowed: 403 */
};

/* Judge an OPTIONS request. For CORS_ALLOWED, *allow_headers is what
 * Access-Control-Allow-Headers says (the site's list, or the requested
 * ones; length 0: none asked). */
enum cors_preflight cors_preflight(const struct site_serve *sv, const struct http_request *req,
				   struct http_slice *allow_origin, bool *vary_origin,
				   struct http_slice *allow_headers);

/* Is item (n bytes) an element of the comma-separated list? */
bool cors_list_has(const char *list, const char *item, size_t n, bool ignore_case);

#endif
