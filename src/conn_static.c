/*
 * conn_static — answering a request from the document root: the file
 * through the open-file cache (its body copied behind the head when small
 * and cached, else sent with sendfile), conditional and range answers, the
 * redirect of a directory named without its slash, and what a site's
 * settings add (config.h, struct site_serve): hidden names refused, the
 * `try-html` and `fallback` lookups, directory listings, custom error
 * pages, Cache-Control/Expires and the site's own header fields.
 *
 * The order for a path, each step only when the one before found nothing:
 * the file (or the directory's index); /x.html with try-html; a listing of
 * a directory without an index; the fallback page (200). A path with a
 * hidden segment is a 404 before any of that, the fallback included, so a
 * probe for /.git/config never gets the application's page as an answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accept_enc.h"
#include "compress.h"
#include "conn_priv.h"
#include "cors.h"
#include "fcache.h"
#include "http_resp.h"
#include "listing.h"
#include "log.h"
#include "site_fields.h"
#include "static.h"
#include "worker.h"

enum { EXTRA_MAX = 6 };

/* The fields one answer adds to its file's: Cache-Control and Expires,
 * CORS's, Vary. */
struct extra_fields {
	struct http_header f[EXTRA_MAX];
	uint32_t count;
	char expires[40];
};

static const struct site_serve *conn_serve(const struct conn *c)
{
	return &worker_site(c->w, c->site)->conf->serve;
}

static void extra_add(struct extra_fields *x, const char *name, const char *value, size_t n)
{
	if (x->count < EXTRA_MAX)
		x->f[x->count++] = (struct http_header){ HTTP_SLICE_STR(name),
							 { value, (uint32_t)n } };
}

/* Cache-Control of the first matching rule; Expires from its max-age. */
static void extra_cache(struct conn *c, const struct http_request *req, struct extra_fields *x)
{
	const struct serve_rule *r = site_cache_rule(conn_serve(c), req->path.p, req->path.len);
	if (!r)
		return;
	extra_add(x, "Cache-Control", r->value, strlen(r->value));
	long age = site_cache_max_age(r->value);
	if (age < 0)
		return;
	size_t n = http_date_format(loop_now_sec(c->w->loop) + age, x->expires, sizeof(x->expires));
	if (n)
		extra_add(x, "Expires", x->expires, n);
}

/* Access-Control-Allow-Origin for an allowed Origin; Vary: Origin when
 * the answer depends on it. */
static void extra_cors(struct conn *c, const struct http_request *req, struct extra_fields *x,
		       bool *vary_origin)
{
	struct http_slice origin = cors_allow_origin(conn_serve(c), req, vary_origin);
	if (origin.len)
		extra_add(x, "Access-Control-Allow-Origin", origin.p, origin.len);
}

enum content_coding conn_choose_coding(const struct http_request *req, unsigned available)
{
	const struct http_header *f = http_find_header(req, "accept-encoding");
	struct accept_enc ae;
	accept_enc_parse(f ? f->value.p : NULL, f ? f->value.len : 0, &ae);
	return accept_enc_choose(&ae, available);
}

/* A sidecar's fields: the file's Content-Type line (the sidecar's own
 * would say application/gzip), then the sidecar's validators. */
static uint16_t variant_fields(const struct fcache_entry *file, const struct fcache_entry *v,
			       char *out, size_t cap)
{
	const char *eol = memchr(file->fields, '\n', file->fields_len);
	const char *veol = memchr(v->fields, '\n', v->fields_len);
	if (!eol || !veol)
		return 0;
	size_t a = (size_t)(eol + 1 - file->fields);
	size_t b = (size_t)(v->fields + v->fields_len - (veol + 1));
	if (a + b > cap)
		return 0;
	memcpy(out, file->fields, a);
	memcpy(out + a, veol + 1, b);
	return (uint16_t)(a + b);
}

/* The representation of e to send: a precompressed sidecar the client
 * accepts (e released, the sidecar held instead, *coding set, its fields
 * in fields[0 .. *fields_len)), or e. *negotiable: there was a choice, so
 * the answer varies by Accept-Encoding. */
static struct fcache_entry *conn_representation(struct conn *c, const struct http_request *req,
						struct fcache_entry *e, enum content_coding *coding,
						bool *negotiable, char *fields, uint16_t *fields_len)
{
	struct fcache *fcache = worker_site(c->w, c->site)->fcache;
	*coding = CODING_IDENTITY;
	unsigned set = fcache_variants(fcache, e, loop_now_sec(c->w->loop));
	if (!set)
		return e;
	*negotiable = true;
	enum content_coding k = conn_choose_coding(req, set);
	struct fcache_entry *v = k == CODING_IDENTITY ? NULL : fcache_variant_get(e, k);
	if (!v)
		return e;
	*fields_len = variant_fields(e, v, fields, 2 * FCACHE_FIELDS_MAX);
	if (*fields_len == 0) {
		fcache_release(fcache, v);
		return e;
	}
	*coding = k;
	fcache_release(fcache, e);
	return v;
}

/* The gzip form of e made here (compress.h's cache) when the site
 * compresses, the type is worth it, the size is in bounds and the client
 * takes gzip: held, or NULL (send e as it is). *negotiable when the type
 * and size made it a choice. */
static const struct zcache_item *conn_gzip_on_the_fly(struct conn *c,
							const struct http_request *req,
							const struct fcache_entry *e,
							bool *negotiable)
{
	const struct site_serve *sv = conn_serve(c);
	const struct static_file *f = &e->file;
	if (!sv->compress || !e->compressible || f->size < (off_t)sv->compress_min_size ||
	    f->size > ZCACHE_FILE_MAX_BYTES)
		return NULL;
	*negotiable = true;
	if (conn_choose_coding(req, 1u << CODING_GZIP) != CODING_GZIP)
		return NULL;
	struct zcache_key key = { .dev = f->dev, .ino = f->ino, .size = f->size,
				  .mtime_ns = f->mtime_ns, .coding = ZCACHE_GZIP };
	return zcache_get_or_make(c->w->zcache, &key, f->fd, f->size);
}

/* The compressed form's validators: the file's fields with its ETag
 * marked (a representation of its own, RFC 9110 §8.8.3); into out (cap
 * bytes), *zf described for static_evaluate. 0 when it does not fit. */
static uint16_t gzip_fields(const struct fcache_entry *e, const struct zcache_item *z,
			    struct static_file *zf, char *out, size_t cap)
{
	*zf = e->file;
	zf->fd = -1;
	zf->size = (off_t)z->len;
	size_t n = strlen(e->file.etag);
	if (n < 2 || n + 3 >= sizeof(zf->etag))
		return 0;
	memcpy(zf->etag, e->file.etag, n - 1);
	memcpy(zf->etag + n - 1, "-gz\"", 5);
	const char *tag = strstr(e->fields, "ETag: ");
	const char *eol = tag ? strstr(tag, "\r\n") : NULL;
	if (!eol)
		return 0;
	int len = snprintf(out, cap, "%.*sETag: %s%s", (int)(tag - e->fields), e->fields, zf->etag,
			   eol);
	return len > 0 && (size_t)len < cap ? (uint16_t)len : 0;
}

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

/* The same for compressed bytes in memory (z held until they are out). */
static void conn_queue_memory(struct conn *c, const struct zcache_item *z, off_t start, off_t len)
{
	if ((uint64_t)len <= buf_space(&c->out)) {
		(void)buf_append(&c->out, z->data + start, (uint32_t)len);
		zcache_release(z);
		return;
	}
	c->zitem = z;
	c->file_off = start;
	c->file_left = len;
}

/* Make room for an answer of `need` bytes besides the head; WAIT: nothing
 * was written, answer later (SERVE_RETRY). */
static enum reserve_result conn_room(struct conn *c, uint32_t need)
{
	return conn_reserve_out(c, HTTP_RESP_ERROR_MAX_BYTES + c->w->site_fields_max + need);
}

/* A redirect to the slashed directory path. Its Location may be longer
 * than the room left behind pipelined answers: then flush them first and
 * answer later (SERVE_RETRY: nothing was written). */
static enum serve_result conn_redirect(struct conn *c, const struct http_request *req,
				       const char *location, bool keep, bool head_only)
{
	switch (conn_room(c, (uint32_t)strlen(location))) {
	case RESERVE_OK: break;
	case RESERVE_WAIT: return SERVE_RETRY;
	case RESERVE_CLOSED: return SERVE_DONE;
	}
	struct http_resp_head h = { .status = 301, .keep_alive = keep,
				    .location = HTTP_SLICE_STR(location) };
	conn_respond_page(c, req, &h, head_only);
	return SERVE_DONE;
}

/* The site's page for an error status, served with that status (its
 * Content-Type, no validators: they would describe the page, not the
 * answer); false when the site has none or it cannot be opened. */
static bool conn_error_page(struct conn *c, const struct http_request *req, int status,
			    bool keep, bool head_only)
{
	const struct site_serve *sv = conn_serve(c);
	const char *page = NULL;
	for (unsigned i = 0; i < sv->error_page_count && !page; i++)
		if (sv->error_pages[i].status == status)
			page = sv->error_pages[i].path;
	if (!page)
		return false;
	struct fcache *fcache = worker_site(c->w, c->site)->fcache;
	struct fcache_entry *e = NULL;
	char unused[8];
	if (fcache_get(fcache, page, strlen(page), loop_now_sec(c->w->loop), &e, unused,
		       sizeof(unused)) != 0) {
		log_warn(c->w->log, "error page %s for %d: cannot open it", page, status);
		return false;
	}
	char type[128];
	bool charset = sv->charset && site_type_has_charset(e->file.mime);
	int tlen = snprintf(type, sizeof(type), "%s%s%s", e->file.mime,
			    charset ? "; charset=" : "", charset ? sv->charset : "");
	struct http_resp_head h = { .status = status, .keep_alive = keep,
				    .content_length = e->file.size,
				    .content_type = { type, (uint32_t)tlen } };
	conn_site_fields(c, &h);
	if (http_resp_write_head(&c->out, &h, worker_date(c->w)) < 0) {
		fcache_release(fcache, e);
		return false;
	}
	bool body = !head_only && e->file.size > 0;
	if (body)
		conn_queue_body(c, e, 0, e->file.size);
	else
		fcache_release(fcache, e);
	conn_answered(c, req, status, body ? (uint64_t)e->file.size : 0, keep);
	return true;
}

static void conn_static_error(struct conn *c, const struct http_request *req, int status,
			      bool keep, bool head_only)
{
	if (!conn_error_page(c, req, status, keep, head_only))
		conn_respond_error(c, req, status, keep, head_only);
}

/* Is a segment of the path hidden (starts with '.')? /.well-known/ is not
 * (RFC 8615: ACME challenges and the like live there). The raw path is
 * checked after decoding: "/%2egit/" is "/.git/". For a path the cache has
 * an entry for, the entry knows (fcache_entry.hidden): this is for the
 * others, before a listing or the fallback page could answer them. */
static bool conn_path_hidden(const struct http_request *req)
{
	const char *p = req->path.p;
	uint32_t n = req->path.len;
	char norm[STATIC_PATH_MAX];
	if (static_normalize_path(p, n, norm, sizeof(norm)) != 0)
		return false; /* static_open answers 400 or 414 for it */
	return static_path_hidden(norm);
}

/* A directory named with its slash and no index: its listing, when the
 * site lists directories. 0 (answered, or SERVE_RETRY in *retry), or the
 * status to answer instead (404 when listings are off). */
static int conn_listing(struct conn *c, const struct http_request *req, bool keep,
			bool head_only, bool *retry)
{
	const struct worker_site *site = worker_site(c->w, c->site);
	if (!site->conf->serve.listing || req->path.len == 0 ||
	    req->path.p[req->path.len - 1] != '/')
		return 404;
	char norm[STATIC_PATH_MAX];
	int fd = -1;
	int status = static_open_dir(site->root, req->path.p, req->path.len, &fd, norm,
				     sizeof(norm));
	if (status != 0)
		return status;
	const struct http_header *accept = http_find_header(req, "accept");
	bool json = accept && listing_wants_json(accept->value.p, accept->value.len);
	char *body = NULL;
	size_t len = 0;
	int rc = listing_render(fd, norm, json ? LISTING_JSON : LISTING_HTML, &body, &len);
	int saved = errno;
	close(fd);
	if (rc != 0) {
		log_err(c->w->log, "listing %s: %s", norm, strerror(saved));
		return 500;
	}
	switch (conn_room(c, head_only ? 0 : (uint32_t)len)) {
	case RESERVE_OK: break;
	case RESERVE_WAIT:
		*retry = true;
		free(body);
		return 0;
	case RESERVE_CLOSED:
		free(body);
		return 0;
	}
	struct http_resp_head h = {
		.status = 200, .keep_alive = keep, .content_length = (int64_t)len,
		.content_type = json ? HTTP_SLICE_STR("application/json")
				     : HTTP_SLICE_STR("text/html; charset=utf-8"),
	};
	static const struct http_header vary = { { "Vary", 4 }, { "Accept", 6 } };
	h.extra = &vary;
	h.extra_count = 1;
	conn_site_fields(c, &h);
	if (http_resp_write_head(&c->out, &h, worker_date(c->w)) < 0 ||
	    (!head_only && buf_append(&c->out, body, (uint32_t)len) < 0)) {
		free(body);
		conn_close(c); /* room was made: cannot happen */
		return 0;
	}
	free(body);
	conn_answered(c, req, 200, head_only ? 0 : (uint64_t)len, keep);
	return 0;
}

/* The lookups after a 404 (try-html, then the fallback page), into *e.
 * Returns the final status: 0 when one of them found a file. */
static int conn_try_more(struct conn *c, const struct http_request *req, struct fcache_entry **e,
			 char *location, size_t cap)
{
	const struct site_serve *sv = conn_serve(c);
	struct fcache *fcache = worker_site(c->w, c->site)->fcache;
	time_t now = loop_now_sec(c->w->loop);
	bool dir = req->path.len && req->path.p[req->path.len - 1] == '/';
	if (sv->try_html && !dir && req->path.len + 6 <= STATIC_PATH_MAX) {
		char alt[STATIC_PATH_MAX];
		memcpy(alt, req->path.p, req->path.len);
		memcpy(alt + req->path.len, ".html", 5);
		if (fcache_get(fcache, alt, req->path.len + 5, now, e, location, cap) == 0)
			return 0;
	}
	if (sv->fallback &&
	    fcache_get(fcache, sv->fallback, strlen(sv->fallback), now, e, location, cap) == 0)
		return 0;
	return 404;
}

/* What one answer sends: a file's entry (the file, or its sidecar) or the
 * compressed form made here, and the fields that describe it. */
struct representation {
	struct fcache_entry *e;          /* held */
	const struct zcache_item *z;     /* held when gzip was made here, else NULL */
	struct static_file zf;           /* z described for static_evaluate */
	enum content_coding coding;
	bool negotiable;                 /* there was a choice: Vary: Accept-Encoding */
	uint16_t fields_len;             /* 0: e's own fields */
	char fields[2 * FCACHE_FIELDS_MAX];
};

/* Choose among the sidecars, gzip on the fly and the file itself. */
static void repr_choose(struct conn *c, const struct http_request *req, struct fcache_entry *e,
			struct representation *r)
{
	r->e = e;
	r->z = NULL;
	r->coding = CODING_IDENTITY;
	r->negotiable = false;
	r->fields_len = 0;
	if (conn_serve(c)->precompressed)
		r->e = conn_representation(c, req, e, &r->coding, &r->negotiable, r->fields,
					   &r->fields_len);
	if (r->coding != CODING_IDENTITY)
		return;
	r->z = conn_gzip_on_the_fly(c, req, r->e, &r->negotiable);
	if (!r->z)
		return;
	r->fields_len = gzip_fields(r->e, r->z, &r->zf, r->fields, sizeof(r->fields));
	if (r->fields_len == 0) {
		zcache_release(r->z);
		r->z = NULL;
		return;
	}
	r->coding = CODING_GZIP;
}

static const struct static_file *repr_file(const struct representation *r)
{
	return r->z ? &r->zf : &r->e->file;
}

static void repr_release(struct conn *c, struct representation *r)
{
	fcache_release(worker_site(c->w, c->site)->fcache, r->e);
	zcache_release(r->z);
	r->e = NULL;
	r->z = NULL;
}

/* 412 and 416: a short page (416's Content-Range says the size). */
static void conn_precondition_page(struct conn *c, const struct http_request *req, int status,
				   off_t size, bool keep, bool head_only)
{
	struct http_resp_head h = { .status = status, .keep_alive = keep,
				    .range_unsatisfied = status == 416, .range_total = size };
	conn_respond_page(c, req, &h, head_only);
}

/* The fields this answer adds: Cache-Control/Expires, CORS, the coding,
 * one Vary naming what it depends on. */
static void extra_for(struct conn *c, const struct http_request *req,
		      const struct representation *r, struct extra_fields *x)
{
	bool vary_origin = false;
	extra_cache(c, req, x);
	if (cors_enabled(conn_serve(c)))
		extra_cors(c, req, x, &vary_origin);
	if (r->coding != CODING_IDENTITY) {
		const char *name = content_coding_name(r->coding);
		extra_add(x, "Content-Encoding", name, strlen(name));
	}
	if (r->negotiable || vary_origin) {
		const char *vary = r->negotiable && vary_origin ? "Origin, Accept-Encoding"
				 : r->negotiable ? "Accept-Encoding" : "Origin";
		extra_add(x, "Vary", vary, strlen(vary));
	}
}

/* Answer with representation r (its references pass to the body, or are
 * released): 200, 206, 304, or a precondition's page. */
static void conn_send(struct conn *c, const struct http_request *req, struct representation *r,
		      bool keep, bool head_only)
{
	const struct static_file *f = repr_file(r);
	off_t start = 0, len = f->size;
	int status = static_evaluate(f, req, &start, &len);
	if (status == 416 || status == 412) {
		off_t size = f->size;
		repr_release(c, r);
		conn_precondition_page(c, req, status, size, keep, head_only);
		return;
	}
	struct extra_fields x; /* only count and the entries it counts are read */
	x.count = 0;
	extra_for(c, req, r, &x);
	struct http_resp_head h = {
		.status = status,
		.keep_alive = keep,
		.content_length = status == 304 ? -1 : (int64_t)len,
		.fields = r->fields_len ? r->fields : r->e->fields,
		.fields_len = r->fields_len ? r->fields_len : r->e->fields_len,
		.extra = x.f,
		.extra_count = x.count,
		.range_start = start,
		.range_len = len,
		.range_total = f->size,
	};
	conn_site_fields(c, &h);
	if (http_resp_write_head(&c->out, &h, worker_date(c->w)) < 0) {
		repr_release(c, r);
		conn_respond_error(c, req, 500, false, head_only);
		return;
	}
	bool body = status != 304 && !head_only && len > 0;
	if (body && r->z) {
		fcache_release(worker_site(c->w, c->site)->fcache, r->e);
		conn_queue_memory(c, r->z, start, len);
	} else if (body) {
		conn_queue_body(c, r->e, start, len);
	} else {
		repr_release(c, r);
	}
	conn_answered(c, req, status, body ? (uint64_t)len : 0, keep);
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
	bool dotfiles = conn_serve(c)->dotfiles;
	int status = fcache_get(fcache, req->path.p, req->path.len, loop_now_sec(w->loop), &e,
				location, sizeof(location));
	/* Hidden paths are 404 whatever exists, and get no listing or fallback. */
	if (!dotfiles && (status == 0 ? e->hidden : conn_path_hidden(req))) {
		fcache_release(fcache, e);
		conn_static_error(c, req, 404, keep, head_only);
		return SERVE_DONE;
	}
	if (status == 404) {
		bool retry = false;
		status = conn_listing(c, req, keep, head_only, &retry);
		if (status == 0)
			return retry ? SERVE_RETRY : SERVE_DONE;
	}
	if (status == 404)
		status = conn_try_more(c, req, &e, location, sizeof(location));
	if (status == 301)
		return conn_redirect(c, req, location, keep, head_only);
	if (status != 0) {
		if (status == 500)
			log_err(w->log, "cannot open %.*s: %s", (int)req->path.len, req->path.p,
				strerror(errno));
		conn_static_error(c, req, status, keep, head_only);
		return SERVE_DONE;
	}
	struct representation r;
	repr_choose(c, req, e, &r);
	conn_send(c, req, &r, keep, head_only);
	return SERVE_DONE;
}
