#include "cors.h"
#include "http_resp.h"

#include <string.h>
#include <strings.h>

bool cors_list_has(const char *list, const char *item, size_t n, bool ignore_case)
{
	const char *p = list;
	while (*p) {
		p += strspn(p, ", \t");
		size_t k = strcspn(p, ", \t");
		if (k == n && k > 0 &&
		    (ignore_case ? strncasecmp(p, item, n) == 0 : memcmp(p, item, n) == 0))
			return true;
		p += k;
	}
	return false;
}

struct http_slice cors_allow_origin(const struct site_serve *sv, const struct http_request *req,
				    bool *vary_origin)
{
	struct http_slice none = { "", 0 };
	*vary_origin = false;
	if (!cors_enabled(sv))
		return none;
	if (strcmp(sv->cors_origins[0], "*") == 0)
		return HTTP_SLICE_STR("*");
	*vary_origin = true; /* the answer differs by Origin, its absence included */
	const struct http_header *origin = http_find_header(req, "origin");
	if (!origin)
		return none;
	for (unsigned i = 0; i < sv->cors_origin_count; i++) {
		size_t n = strlen(sv->cors_origins[i]);
		if (origin->value.len == n && strncasecmp(origin->value.p, sv->cors_origins[i], n) == 0)
			return origin->value;
	}
	return none;
}

/* Every element of the requested headers' list is in the site's list. */
static bool headers_allowed(const char *allowed, struct http_slice asked)
{
	size_t i = 0;
	while (i < asked.len) {
		while (i < asked.len && (asked.p[i] == ',' || asked.p[i] == ' ' || asked.p[i] == '\t'))
			i++;
		size_t start = i;
		while (i < asked.len && asked.p[i] != ',' && asked.p[i] != ' ' && asked.p[i] != '\t')
			i++;
		if (i > start && !cors_list_has(allowed, asked.p + start, i - start, true))
			return false;
	}
	return true;
}

enum cors_preflight cors_preflight(const struct site_serve *sv, const struct http_request *req,
				   struct http_slice *allow_origin, bool *vary_origin,
				   struct http_slice *allow_headers)
{
	const struct http_header *method = http_find_header(req, "access-control-request-method");
	const struct http_header *origin = http_find_header(req, "origin");
	const struct http_header *asked = http_find_header(req, "access-control-request-headers");
	*allow_headers = (struct http_slice){ "", 0 };
	*allow_origin = cors_allow_origin(sv, req, vary_origin);
	if (!method || !origin)
		return CORS_NOT_PREFLIGHT;
	if (allow_origin->len == 0)
		return CORS_REFUSED;
	if (!cors_list_has(sv->cors_methods, method->value.p, method->value.len, false))
		return CORS_REFUSED;
	if (asked && asked->value.len) {
		if (sv->cors_headers && !headers_allowed(sv->cors_headers, asked->value))
			return CORS_REFUSED;
		*allow_headers = sv->cors_headers ? HTTP_SLICE_STR(sv->cors_headers) : asked->value;
	}
	return CORS_ALLOWED;
}
