/*
 * conn_endpoints — the server's own paths: the health check a load
 * balancer polls (--health-path) and the status page (--status-path).
 *
 * Health costs nothing: no file, no access-log line; 200 while serving,
 * 503 once a graceful stop has begun (so a balancer stops sending before
 * the listeners close). Status is allowed from --status-allow networks
 * only (403 otherwise) and reads every worker's counters from the memory
 * they share (struct worker_stats): text, or JSON when the client asks for
 * application/json (Accept, or ?format=json).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_priv.h"
#include "http_resp.h"
#include "worker.h"

_Static_assert((int)CONN_STATE_COUNT <= (int)WORKER_STATES_MAX, "worker_stats.by_state too small");

/* The status page's names of the states a connection can be counted in. */
static const char *const STATE_NAMES[CONN_STATE_COUNT] = {
	[CONN_PROXY] = "proxy",         [CONN_TLS_HANDSHAKE] = "handshake",
	[CONN_ECHO] = "echo",           [CONN_IDLE] = "idle",
	[CONN_READ_HEAD] = "head",      [CONN_READ_BODY] = "body",
	[CONN_CGI] = "cgi",             [CONN_WRITE] = "writing",
	[CONN_H2_IDLE] = "h2-idle",     [CONN_H2] = "h2",
	[CONN_LINGER] = "closing",      [CONN_CLOSED] = NULL,
};

static bool path_is(const struct http_request *req, const char *path)
{
	return path && req->path.len == strlen(path) && memcmp(req->path.p, path, req->path.len) == 0;
}

static void answer_health(struct conn *c, const struct http_request *req)
{
	bool stopping = !worker_keeps_alive(c->w);
	bool keep = req->keep_alive && !stopping;
	/* Room for it was made with the head's (HTTP_RESP_HEAD_MAX_BYTES). */
	if (http_resp_write_error(&c->out, stopping ? 503 : 200, keep,
				  req->method != HTTP_METHOD_HEAD, worker_date(c->w)) < 0) {
		conn_close(c);
		return;
	}
	if (!keep)
		c->close_after = true;
}

/* ---- the status page ------------------------------------------------------- */

struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	for (int tries = 0; tries < 2 && !t->failed; tries++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = (t->cap + (size_t)n + 1) * 2;
		char *q = realloc(t->p, cap);
		if (!q) {
			t->failed = true;
			return;
		}
		t->p = q;
		t->cap = cap;
	}
}

static void sum_stats(const struct worker *w, struct worker_stats *total)
{
	memset(total, 0, sizeof(*total));
	for (unsigned i = 0; i < w->stats_count; i++) {
		const struct worker_stats *s = &w->stats_all[i];
		for (int k = 0; k < CONN_STATE_COUNT; k++)
			total->by_state[k] += s->by_state[k];
		total->cgi_running += s->cgi_running;
		total->accepted += s->accepted;
		total->requests += s->requests;
		total->bytes_out += s->bytes_out;
	}
}

static uint32_t open_conns(const struct worker_stats *s)
{
	uint32_t n = 0;
	for (int k = 0; k < CONN_STATE_COUNT; k++)
		n += s->by_state[k];
	return n;
}

static void text_stats(struct text *t, const char *indent, const struct worker_stats *s)
{
	put(t, "%sconnections: %" PRIu32 " (", indent, open_conns(s));
	const char *sep = "";
	for (int k = 0; k < CONN_STATE_COUNT; k++) {
		if (!STATE_NAMES[k])
			continue;
		put(t, "%s%s %" PRIu32, sep, STATE_NAMES[k], s->by_state[k]);
		sep = ", ";
	}
	put(t, ")\n%saccepted: %" PRIu64 "\n%srequests: %" PRIu64 "\n%sbytes: %" PRIu64
	       "\n%scgi running: %" PRIu32 "\n",
	    indent, s->accepted, indent, s->requests, indent, s->bytes_out, indent,
	    s->cgi_running);
}

static void json_stats(struct text *t, const struct worker_stats *s)
{
	put(t, "{\"connections\":%" PRIu32 ",\"by_state\":{", open_conns(s));
	const char *sep = "";
	for (int k = 0; k < CONN_STATE_COUNT; k++) {
		if (!STATE_NAMES[k])
			continue;
		put(t, "%s\"%s\":%" PRIu32, sep, STATE_NAMES[k], s->by_state[k]);
		sep = ",";
	}
	put(t, "},\"accepted\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"cgi_running\":%" PRIu32 "}",
	    s->accepted, s->requests, s->bytes_out, s->cgi_running);
}

static bool wants_json(const struct http_request *req)
{
	const struct http_header *accept = http_find_header(req, "accept");
	if (accept && memmem(accept->value.p, accept->value.len, "application/json", 16))
		return true;
	return req->has_query && memmem(req->query.p, req->query.len, "format=json", 11);
}

static void status_body(const struct worker *w, bool json, struct text *t)
{
	struct worker_stats total;
	sum_stats(w, &total);
	if (json) {
		put(t, "{\"server\":\"" LISOD_SERVER_HEADER "\",\"workers\":[");
		for (unsigned i = 0; i < w->stats_count; i++) {
			put(t, "%s{\"pid\":%" PRId32 ",\"stats\":", i ? "," : "",
			    w->stats_all[i].pid);
			json_stats(t, &w->stats_all[i]);
			put(t, "}");
		}
		put(t, "],\"total\":");
		json_stats(t, &total);
		put(t, "}\n");
		return;
	}
	put(t, "lisod " LISOD_VERSION " status: %u worker(s)\n", w->stats_count);
	text_stats(t, "", &total);
	for (unsigned i = 0; i < w->stats_count; i++) {
		put(t, "worker %u (pid %" PRId32 "):\n", i, w->stats_all[i].pid);
		text_stats(t, "  ", &w->stats_all[i]);
	}
}

static enum endpoint_result answer_status(struct conn *c, const struct http_request *req)
{
	bool head_only = req->method == HTTP_METHOD_HEAD;
	if (!proxy_trust_match(&c->w->cfg->status_allow, &c->peer.sa)) {
		conn_respond_error(c, req, 403, req->keep_alive, head_only);
		return ENDPOINT_DONE;
	}
	bool json = wants_json(req);
	struct text t = { 0 };
	status_body(c->w, json, &t);
	if (t.failed) {
		free(t.p);
		conn_respond_error(c, req, 500, req->keep_alive, head_only);
		return ENDPOINT_DONE;
	}
	switch (conn_reserve_out(c, HTTP_RESP_HEAD_MAX_BYTES + (uint32_t)t.len)) {
	case RESERVE_OK: break;
	case RESERVE_WAIT: free(t.p); return ENDPOINT_RETRY;
	case RESERVE_CLOSED: free(t.p); return ENDPOINT_DONE;
	}
	bool keep = req->keep_alive && worker_keeps_alive(c->w);
	struct http_resp_head h = {
		.status = 200,
		.keep_alive = keep,
		.content_length = (int64_t)t.len,
		.content_type = HTTP_SLICE_STR(json ? "application/json" : "text/plain; charset=utf-8"),
		.fields = "Cache-Control: no-store\r\n",
		.fields_len = sizeof("Cache-Control: no-store\r\n") - 1,
	};
	if (http_resp_write_head(&c->out, &h, worker_date(c->w)) < 0 ||
	    (!head_only && buf_append(&c->out, t.p, (uint32_t)t.len) < 0)) {
		free(t.p);
		conn_close(c); /* room was made: cannot happen */
		return ENDPOINT_DONE;
	}
	free(t.p);
	conn_answered(c, req, 200, head_only ? 0 : t.len, keep);
	return ENDPOINT_DONE;
}

enum endpoint_result conn_endpoint(struct conn *c, const struct http_request *req)
{
	const struct config *cfg = c->w->cfg;
	if (!cfg->health_path && !cfg->status_path)
		return ENDPOINT_NONE; /* the common case costs two loads */
	if (conn_has_body(req))
		return ENDPOINT_NONE; /* ours take no body: served (404) like any path */
	if (path_is(req, cfg->health_path)) {
		answer_health(c, req);
		return ENDPOINT_DONE;
	}
	if (path_is(req, cfg->status_path))
		return answer_status(c, req);
	return ENDPOINT_NONE;
}
