/*
 * conn_site — answers a site's settings give before any file is looked
 * up: OPTIONS (CORS preflights; 501 as before where CORS is off) and the
 * redirect of plain HTTP to HTTPS (https-redirect).
 *
 * Both are written into the room conn_try_head reserved for a head plus
 * the site's fields; their values are bounded (a Location is the request
 * line's target, under the head limit, checked with the room here).
 */
#include <stdio.h>
#include <string.h>

#include "conn_priv.h"
#include "cors.h"
#include "http_resp.h"
#include "worker.h"

/* 204 has no body, not even a page; the others get the status's page. */
static void conn_write_answer(struct conn *c, const struct http_request *req,
			      struct http_resp_head *h, bool head_only)
{
	if (h->status != 204) {
		conn_respond_page(c, req, h, head_only);
		return;
	}
	conn_site_fields(c, h);
	if (http_resp_write_head(&c->out, h, worker_date(c->w)) < 0) {
		conn_close(c); /* room was reserved for a head: cannot happen */
		return;
	}
	conn_answered(c, req, 204, 0, h->keep_alive);
}

bool conn_is_options(const struct http_request *req)
{
	return req->method == HTTP_METHOD_OTHER && req->method_name.len == 7 &&
	       memcmp(req->method_name.p, "OPTIONS", 7) == 0;
}

void conn_options(struct conn *c, const struct http_request *req, bool keep)
{
	const struct site_serve *sv = &worker_site(c->w, c->site)->conf->serve;
	if (!cors_enabled(sv)) {
		conn_respond_error(c, req, 501, keep, false);
		return;
	}
	struct http_slice origin, headers;
	bool vary_origin;
	enum cors_preflight p = cors_preflight(sv, req, &origin, &vary_origin, &headers);
	struct http_header f[6];
	uint32_t n = 0;
	char max_age[16];
	struct http_resp_head h = { .status = 204, .keep_alive = keep, .content_length = -1 };
	if (p == CORS_NOT_PREFLIGHT) {
		f[n++] = (struct http_header){ { "Allow", 5 },
					       HTTP_SLICE_STR("GET, HEAD, POST, OPTIONS") };
	} else if (p == CORS_REFUSED) {
		h.status = 403;
	} else {
		int m = snprintf(max_age, sizeof(max_age), "%u", sv->cors_max_age);
		f[n++] = (struct http_header){ HTTP_SLICE_STR("Access-Control-Allow-Origin"), origin };
		f[n++] = (struct http_header){ HTTP_SLICE_STR("Access-Control-Allow-Methods"),
					       HTTP_SLICE_STR(sv->cors_methods) };
		if (headers.len)
			f[n++] = (struct http_header){ HTTP_SLICE_STR("Access-Control-Allow-Headers"),
						       headers };
		f[n++] = (struct http_header){ HTTP_SLICE_STR("Access-Control-Max-Age"),
					       { max_age, (uint32_t)m } };
	}
	if (p != CORS_NOT_PREFLIGHT)
		f[n++] = (struct http_header){
			HTTP_SLICE_STR("Vary"),
			HTTP_SLICE_STR("Origin, Access-Control-Request-Method, "
				       "Access-Control-Request-Headers") };
	h.extra = f;
	h.extra_count = n;
	conn_write_answer(c, req, &h, false);
}

bool conn_https_redirect(struct conn *c, const struct http_request *req, bool keep,
			 bool head_only)
{
	const struct config *cfg = c->w->cfg;
	const struct site_serve *sv = &worker_site(c->w, c->site)->conf->serve;
	if (c->tls || !sv->https_redirect || cfg->https_port == 0 || !req->has_host ||
	    req->host.len == 0)
		return false;
	/* The host without its port; an IPv6 literal keeps its brackets. */
	size_t hlen = req->host.len;
	const char *host = req->host.p;
	const char *colon = memrchr(host, ':', hlen);
	if (colon && (host[0] != '[' || colon > (const char *)memchr(host, ']', hlen)))
		hlen = (size_t)(colon - host);
	char port[8] = "";
	if (cfg->https_port != 443)
		snprintf(port, sizeof(port), ":%u", cfg->https_port);
	struct http_slice target = req->absolute_form ? req->path : req->target;
	char location[HTTP_RESP_HEAD_MAX_BYTES];
	int n = snprintf(location, sizeof(location), "https://%.*s%s%.*s", (int)hlen, host, port,
			 (int)target.len, target.p);
	if (req->absolute_form && req->has_query && n > 0 && (size_t)n < sizeof(location))
		n += snprintf(location + n, sizeof(location) - (size_t)n, "?%.*s",
			      (int)req->query.len, req->query.p);
	if (n < 0 || (size_t)n >= sizeof(location))
		return false; /* too long to redirect: served as it is */
	struct http_resp_head h = { .status = 308, .keep_alive = keep,
				    .location = { location, (uint32_t)n } };
	conn_write_answer(c, req, &h, head_only);
	return true;
}
