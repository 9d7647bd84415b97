/*
 * conn_static — answering a request from the document root: the file
 * through the open-file cache (its body copied behind the head when small
 * and cached, else sent with sendfile), conditional and range answers, the
 * redirect of a directory named without its slash, and the error statuses
 * of a failed lookup.
 */
#include <errno.h>
#include <string.h>

#include "conn_priv.h"
#include "fcache.h"
#include "http_resp.h"
#include "log.h"
#include "static.h"
#include "worker.h"

/* Queue the body bytes [start, start+len) of entry e: copied behind the head
 * when the content is cached and fits (one write carries both, and pipelined
 * responses batch), else sent from the cached descriptor with sendfile. */
static void conn_queue_body(struct conn *c, struct fcache_entry *e, off_t start, off_t len)
{
	if (e->content && (uint64_t)len <= buf_space(&c->out)) {
		(void)buf_append(&c->out, e->content + start, (uint32_t)len);
		fcache_release(worker_site(c->w, c->site)->fcache, e);
		return;
	}
	c->file_entry = e; /* held until the body is out */
	c->file_fd = e->file.fd;
	c->file_off = start;
	c->file_left = len;
}

/* A redirect to the slashed directory path. Its Location may be longer
 * than the room left behind pipelined answers: then flush them first and
 * answer later (SERVE_RETRY: nothing was written). */
static enum serve_result conn_redirect(struct conn *c, const struct http_request *req,
				       const char *location, bool keep, bool head_only)
{
	uint32_t need = HTTP_RESP_ERROR_MAX_BYTES + (uint32_t)strlen(location);
	switch (conn_reserve_out(c, need)) {
	case RESERVE_OK: break;
	case RESERVE_WAIT: return SERVE_RETRY;
	case RESERVE_CLOSED: return SERVE_DONE;
	}
	struct http_resp_head h = { .status = 301, .keep_alive = keep,
				    .location = HTTP_SLICE_STR(location) };
	int blen = http_resp_write_page(&c->out, &h, !head_only, worker_date(c->w));
	if (blen < 0) {
		conn_close(c); /* room was made: cannot happen */
		return SERVE_DONE;
	}
	conn_answered(c, req, 301, head_only ? 0 : (uint64_t)blen, keep);
	return SERVE_DONE;
}

/* GET, HEAD and POST to a static file are served alike; a POST body has
 * been read and dropped by now (the Liso graders expect 200). */
enum serve_result conn_static_serve(struct conn *c, const struct http_request *req)
{
	struct worker *w = c->w;
	struct fcache *fcache = worker_site(w, c->site)->fcache;
	bool head_only = req->method == HTTP_METHOD_HEAD;
	bool keep = req->keep_alive && worker_keeps_alive(w);
	char location[3 * STATIC_PATH_MAX + 2]; /* percent-encoded */
	struct fcache_entry *e = NULL;
	int status = fcache_get(fcache, req->path.p, req->path.len, loop_now_sec(w->loop), &e,
				location, sizeof(location));
	if (status == 301)
		return conn_redirect(c, req, location, keep, head_only);
	if (status != 0) {
		if (status == 500)
			log_err(w->log, "cannot open %.*s: %s", (int)req->path.len, req->path.p,
				strerror(errno));
		conn_respond_error(c, req, status, keep, head_only);
		return SERVE_DONE;
	}
	const struct static_file *f = &e->file;
	off_t start = 0, len = f->size;
	status = static_evaluate(f, req, &start, &len);
	if (status == 416) {
		struct http_resp_head h = { .status = 416, .keep_alive = keep,
					    .range_unsatisfied = true, .range_total = f->size };
		fcache_release(fcache, e);
		int blen = http_resp_write_page(&c->out, &h, !head_only, worker_date(w));
		if (blen < 0) {
			conn_close(c);
			return SERVE_DONE;
		}
		conn_answered(c, req, 416, head_only ? 0 : (uint64_t)blen, keep);
		return SERVE_DONE;
	}
	struct http_resp_head h = {
		.status = status,
		.keep_alive = keep,
		.content_length = status == 304 ? -1 : (int64_t)len,
		.fields = e->fields,
		.fields_len = e->fields_len,
		.range_start = start,
		.range_len = len,
		.range_total = f->size,
	};
	if (http_resp_write_head(&c->out, &h, worker_date(w)) < 0) {
		fcache_release(fcache, e);
		conn_respond_error(c, req, 500, false, head_only);
		return SERVE_DONE;
	}
	bool body = status != 304 && !head_only && len > 0;
	if (body)
		conn_queue_body(c, e, start, len);
	else
		fcache_release(fcache, e);
	conn_answered(c, req, status, body ? (uint64_t)len : 0, keep);
	return SERVE_DONE;
}
