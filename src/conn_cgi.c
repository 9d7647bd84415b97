/*
 * conn_cgi — the CONN_CGI phase of a connection: relay the request body to
 * a CGI program and its output back to the client.
 *
 *   client --(conn_body_take: the core decodes)--> in --> program's stdin
 *   program's stdout --(head parsed, body framed)--> out --> client
 *
 * Back-pressure both ways: the core stops reading the client while decoded
 * body bytes wait for the program; stdout is not read while `out` is full.
 * The process itself (spawn, reap, kill, stderr) belongs to cgi_proc; this
 * file only relays, and reaches the request body only through the core's
 * conn_body_* functions.
 *
 * The framing the program declares is enforced (spec §5): never more body
 * bytes than its Content-Length (the rest is dropped, logged, and the
 * connection closed after the answer); fewer: the connection is closed so
 * the client sees a short body; Status 204/304 and HEAD carry no body (HEAD
 * gets the head GET would get). An answer is finished as soon as the client
 * has all of it (its Content-Length relayed, or the head of a bodiless
 * one): a program that keeps running, or keeps its output open, gets until
 * the orphan deadline. Output starting with "HTTP/" is NPH: relayed
 * verbatim, then the connection closes.
 *
 * gzip on the fly (relay_choose_coding has the rules): the program's body
 * goes through a gz_stream into chunks (HTTP/1.0: until the close) and its
 * Content-Length is not sent, but it is still enforced on what the program
 * writes: excess is dropped, a short body ends the connection without the
 * gzip trailer and the last chunk, so the client sees it cut. When the
 * program pauses (its pipe is empty) what was compressed so far is flushed
 * to the client (Z_SYNC_FLUSH), so streamed output still streams. The
 * stream's ~54 KiB exist only while one answer is compressed.
 *
 * Time: the phase timer counts from the last progress in either direction
 * (body to the program, output from it, bytes to the client), so a client
 * reading a long answer steadily is never cut off; cgi_proc enforces the
 * total cap. A client that leaves stops its program at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accept_enc.h"
#include "cgi.h"
#include "cgi_proc.h"
#include "compress.h"
#include "conn.h"
#include "conn_priv.h"
#include "log.h"
#include "static.h"
#include "worker.h"

enum {
	RELAY_READ_CHUNK = 16 * 1024,
	RELAY_CHUNK_OVERHEAD = 16,  /* "%x\r\n" + "\r\n" around one chunk */
	RELAY_LAST_CHUNK_BYTES = 5, /* "0\r\n\r\n" */
};

struct conn_cgi {
	struct cgi_proc *proc;
	struct gz_stream *gz;   /* compressing the body: from the head to relay_free */
	struct buf held;        /* output not yet in `out`: the header section until
	                         * parsed, then body bytes `out` had no room for */
	uint64_t relayed;       /* body bytes sent on (NPH: every byte) */
	uint64_t declared;      /* the program's Content-Length, if has_length */
	int status;             /* for the access log */
	bool in_ready, out_ready;   /* last edges of the program's stdin / stdout */
	bool stdin_closed;      /* we closed it, or the program did */
	bool out_eof;
	bool expired;           /* killed by cgi_proc's total cap */
	bool head_done, nph, has_length, chunked, no_body, head_only;
	bool req_keep, http11;  /* what the request allows */
	bool keep_alive;        /* what our head announced */
	bool excess, drop_logged;
	bool encoded;           /* our head said Content-Encoding: gzip */
	bool gz_flushing;       /* a sync flush waits for room in `out` */
	uint64_t sent;          /* encoded: body bytes queued (chunk framing excluded) */
};

/* Body bytes for the access log: what the client is sent. */
static uint64_t relay_body_bytes(const struct conn_cgi *g)
{
	return g->encoded ? g->sent : g->relayed;
}

/* ---- starting ----------------------------------------------------------- */

static void relay_wake(void *owner, enum cgi_proc_event ev)
{
	struct conn *c = owner;
	struct conn_cgi *g = c->cgi;
	switch (ev) {
	case CGI_PROC_STDIN: g->in_ready = true; break;
	case CGI_PROC_STDOUT: g->out_ready = true; break;
	case CGI_PROC_TIMEOUT: g->expired = true; break;
	}
	conn_wake(c);
}

/* Resolve, build the environment and spawn; 0, or the status to answer. */
static int relay_spawn(struct conn *c, const struct http_request *req, struct conn_cgi *g)
{
	struct worker *w = c->w;
	char program[CGI_PROGRAM_MAX], path_info[STATIC_PATH_MAX];
	const struct worker_site *site = worker_site(w, c->site);
	int status = cgi_resolve(site->conf->cgi_path, site->cgi_is_dir, req->path.p, req->path.len,
				 program, sizeof(program), path_info, sizeof(path_info));
	if (status)
		return status;
	char addr[64];
	conn_peer_name(c, addr, sizeof(addr));
	struct cgi_env_input in = {
		.req = req,
		.path_info = path_info,
		.remote_addr = addr,
		.remote_port = conn_peer_port(c),
		.server_port = c->local_port,
		.https = c->tls,
		.http2 = c->h2_stream,
		.content_length = req->chunked ? -1 : req->content_length,
	};
	char **env = cgi_env_build(&in);
	if (!env) {
		log_err(w->log, "CGI environment: %s", strerror(errno));
		return 500;
	}
	g->proc = cgi_procs_start(&w->cgi, program, env, relay_wake, c);
	int saved = errno;
	free(env);
	if (!g->proc) {
		log_err(w->log, "cannot run CGI program %s: %s", program, strerror(saved));
		return 500;
	}
	return 0;
}

void conn_cgi_start(struct conn *c, const struct http_request *req)
{
	struct worker *w = c->w;
	bool head_only = req->method == HTTP_METHOD_HEAD;
	int status = 0;
	struct conn_cgi *g = NULL;
	if (!worker_site(w, c->site)->conf->cgi_path)
		status = 404;
	else if (w->cgi.count >= w->cfg->max_cgi)
		status = 503;
	else if (!(g = calloc(1, sizeof(*g))))
		status = 500;
	if (!status)
		status = relay_spawn(c, req, g);
	if (status) {
		free(g);
		/* The body, if any, was not read: this must be the last response
		 * (and a 503 always is: spec §3). */
		bool has_body = req->chunked || req->content_length > 0;
		bool keep = req->keep_alive && !has_body && status != 503;
		conn_respond_error(c, req, status, keep, head_only);
		conn_consume_request(c);
		return;
	}
	g->in_ready = g->out_ready = true;
	g->head_only = head_only;
	g->req_keep = req->keep_alive;
	g->http11 = req->version_minor >= 1;
	g->status = 200;
	c->cgi = g;
	conn_body_begin(c, req);
	conn_set_state(c, CONN_CGI);
}

/* ---- gzip on the fly ------------------------------------------------------------ */

enum {
	/* Room `out` must have before the encoder is given a step: a chunk's
	 * framing plus a little output. */
	RELAY_GZ_ROOM_MIN = RELAY_CHUNK_OVERHEAD + 64,
	RELAY_GZ_FINISH_STEPS = 4, /* deflate calls per wakeup for the trailer */
};

/* Queue n encoded bytes: one chunk, or as they are (HTTP/1.0). The caller
 * made sure they fit with the chunk framing. */
static void relay_put_encoded(struct conn *c, struct conn_cgi *g, const char *p, size_t n)
{
	if (n == 0)
		return;
	if (g->chunked) {
		char hdr[RELAY_CHUNK_OVERHEAD];
		int h = snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
		(void)buf_append(&c->out, hdr, (uint32_t)h);
		(void)buf_append(&c->out, p, (uint32_t)n);
		(void)buf_append(&c->out, "\r\n", 2);
	} else {
		(void)buf_append(&c->out, p, (uint32_t)n);
	}
	g->sent += n;
}

/* Encoder output room: what `out` has past the framing and `reserve`,
 * capped by the scratch buffer. 0: not enough for a step. */
static size_t relay_gz_room(struct conn *c, size_t reserve, size_t scratch)
{
	size_t space = buf_space(&c->out);
	if (space < RELAY_GZ_ROOM_MIN + reserve)
		return 0;
	size_t room = space - RELAY_CHUNK_OVERHEAD - reserve;
	return room < scratch ? room : scratch;
}

/* Compress up to n body bytes into `out`; returns the bytes consumed
 * (0 when `out` has no room: back-pressure). One deflate call. */
static size_t relay_gz_write(struct conn *c, struct conn_cgi *g, const char *data, size_t n)
{
	char z[RELAY_READ_CHUNK];
	size_t room = relay_gz_room(c, 0, sizeof(z)), got = 0;
	if (room == 0)
		return 0;
	size_t took = gz_stream_write(g->gz, data, n, z, room, &got, false);
	relay_put_encoded(c, g, z, got);
	g->relayed += took;
	return took;
}

/* The program has nothing more for now: push what was compressed to the
 * client. true: the flush is complete. */
static bool relay_gz_flush(struct conn *c, struct conn_cgi *g)
{
	char z[RELAY_READ_CHUNK];
	size_t room = relay_gz_room(c, 0, sizeof(z)), got = 0;
	g->gz_flushing = true;
	if (room == 0)
		return false;
	bool done = gz_stream_flush(g->gz, z, room, &got);
	relay_put_encoded(c, g, z, got);
	g->gz_flushing = !done;
	return done;
}

/* Write the gzip trailer as room allows, keeping room for the last chunk.
 * true: it is all queued. */
static bool relay_gz_finish(struct conn *c, struct conn_cgi *g)
{
	char z[RELAY_READ_CHUNK];
	for (int i = 0; i < RELAY_GZ_FINISH_STEPS && !gz_stream_done(g->gz); i++) {
		size_t room = relay_gz_room(c, RELAY_LAST_CHUNK_BYTES, sizeof(z)), got = 0;
		if (room == 0 || gz_stream_failed(g->gz))
			return false;
		(void)gz_stream_write(g->gz, NULL, 0, z, room, &got, true);
		relay_put_encoded(c, g, z, got);
	}
	return gz_stream_done(g->gz) && !gz_stream_failed(g->gz);
}

/* ---- the end ---------------------------------------------------------------- */

static void relay_free(struct conn *c, bool kill_it)
{
	struct conn_cgi *g = c->cgi;
	c->cgi = NULL;
	if (g->gz) {
		gz_stream_end(g->gz);
		free(g->gz);
		c->w->gz_streams--;
	}
	cgi_proc_detach(g->proc, kill_it);
	buf_release(&g->held, &c->w->pool);
	free(g);
}

void conn_cgi_detach(struct conn *c, bool kill_it)
{
	struct conn_cgi *g = c->cgi;
	if (!g)
		return;
	/* The connection closes mid-answer (the client left, or it reads too
	 * slowly): the access log still gets the line for what was sent. */
	if (g->head_done)
		conn_answered(c, conn_request(c), g->status, relay_body_bytes(g), false);
	relay_free(c, kill_it);
}

/* The program failed (or the request body did) before or while answering.
 * status: what to answer if nothing of the answer was queued yet. */
static void relay_fail(struct conn *c, int status, const char *why)
{
	struct conn_cgi *g = c->cgi;
	log_err(c->w->log, "CGI %s (pid %ld): %s", cgi_proc_program(g->proc),
		(long)cgi_proc_pid(g->proc), why);
	if (g->head_done) {
		conn_close(c); /* bytes of this answer are queued or gone: cut it */
		return;
	}
	struct http_request *req = conn_request(c);
	/* A 500 keeps the connection when the body can still be drained; a
	 * broken request body (400, 413, 408) leaves its end unknown. */
	bool keep = status == 500 && req->keep_alive;
	conn_respond_error(c, req, status, keep, g->head_only);
	relay_free(c, true);
	conn_request_done(c);
}

/* The program's output ended: finish the answer. */
static void relay_finish(struct conn *c)
{
	struct conn_cgi *g = c->cgi;
	if (!g->head_done) {
		relay_fail(c, 500, "no valid header section (did it start? see its exit status)");
		return;
	}
	bool short_body = g->has_length && !g->no_body && g->relayed < g->declared;
	if (g->gz && !short_body && !relay_gz_finish(c, g)) {
		if (gz_stream_failed(g->gz))
			relay_fail(c, 500, "gzip encoding failed");
		return; /* the rest of the trailer when `out` has room */
	}
	/* A short encoded body gets no last chunk: the client must see it cut. */
	if (g->chunked && !g->no_body && !(g->encoded && short_body))
		(void)buf_append(&c->out, "0\r\n\r\n", RELAY_LAST_CHUNK_BYTES); /* room kept */
	if (short_body)
		log_warn(c->w->log, "CGI %s (pid %ld) sent %llu of its %llu body bytes: connection closed",
			 cgi_proc_program(g->proc), (long)cgi_proc_pid(g->proc),
			 (unsigned long long)g->relayed, (unsigned long long)g->declared);
	conn_answered(c, conn_request(c), g->status, relay_body_bytes(g),
		      g->keep_alive && !g->nph && !g->excess && !short_body);
	relay_free(c, false);
	conn_request_done(c);
}

/* ---- the program's output --------------------------------------------------- */

static void relay_note_drop(struct conn *c, struct conn_cgi *g, const char *what)
{
	if (g->drop_logged)
		return;
	g->drop_logged = true;
	log_warn(c->w->log, "CGI %s (pid %ld) %s: dropped", cgi_proc_program(g->proc),
		 (long)cgi_proc_pid(g->proc), what);
}

/* Pass on up to n bytes of the program's body; returns how many were taken
 * (dropped bytes count as taken; fewer than n when `out` is full). */
static size_t relay_emit(struct conn *c, struct conn_cgi *g, const char *data, size_t n)
{
	size_t space = buf_space(&c->out);
	if (g->nph) {
		if (n > space)
			n = space;
		(void)buf_append(&c->out, data, (uint32_t)n);
		g->relayed += n;
		return n;
	}
	if (g->no_body) {
		if (n && !g->head_only)
			relay_note_drop(c, g, "sent a body with a status that has none");
		return n;
	}
	size_t use = n, drop = 0;
	if (g->has_length && use > g->declared - g->relayed) {
		use = (size_t)(g->declared - g->relayed);
		drop = n - use;
		g->excess = true;
		relay_note_drop(c, g, "sent more than its Content-Length");
	}
	if (g->gz) {
		size_t took = use ? relay_gz_write(c, g, data, use) : 0;
		return took == use ? use + drop : took; /* the excess is seen again with the rest */
	}
	size_t fit = space;
	if (g->chunked)
		fit = space > RELAY_CHUNK_OVERHEAD ? space - RELAY_CHUNK_OVERHEAD : 0;
	if (use > fit) {
		use = fit;
		drop = 0; /* the excess is seen again with the rest */
	}
	if (use == 0)
		return drop;
	if (g->chunked) {
		char hdr[RELAY_CHUNK_OVERHEAD];
		int h = snprintf(hdr, sizeof(hdr), "%zx\r\n", use);
		(void)buf_append(&c->out, hdr, (uint32_t)h);
		(void)buf_append(&c->out, data, (uint32_t)use);
		(void)buf_append(&c->out, "\r\n", 2);
	} else {
		(void)buf_append(&c->out, data, (uint32_t)use);
	}
	g->relayed += use;
	return use + drop;
}

/* Relay what waits in g->held as `out` has room. true: nothing is left. */
static bool relay_drain_held(struct conn *c, struct conn_cgi *g)
{
	while (buf_len(&g->held) > 0) {
		size_t taken = relay_emit(c, g, buf_rptr(&g->held), buf_len(&g->held));
		if (taken == 0)
			return false;
		buf_consume(&g->held, (uint32_t)taken);
	}
	buf_release(&g->held, &c->w->pool);
	return true;
}

/* ---- content coding ------------------------------------------------------------ */

static bool ascii_eq_ci(const char *p, size_t len, const char *lit)
{
	return http_slice_eq_ci((struct http_slice){ p, (uint32_t)len }, lit);
}

/* Does a comma-separated field value list this token (any case)? */
static bool list_has_token(struct http_slice v, const char *tok)
{
	const char *p = v.p, *end = v.p + v.len;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *te = comma ? comma : end, *t = p;
		while (t < te && http_is_ows(*t))
			t++;
		while (te > t && http_is_ows(te[-1]))
			te--;
		if (ascii_eq_ci(t, (size_t)(te - t), tok))
			return true;
		p = comma ? comma + 1 : end;
	}
	return false;
}

static const struct http_header *head_field(const struct cgi_head *h, const char *name)
{
	for (uint32_t i = 0; i < h->header_count; i++)
		if (http_slice_eq_ci(h->headers[i].name, name))
			return &h->headers[i];
	return NULL;
}

enum relay_coding {
	RELAY_IDENTITY,       /* not negotiable: as it is, no Vary */
	RELAY_IDENTITY_VARY,  /* negotiable, but identity this time */
	RELAY_GZIP,
};

/*
 * Content coding for the program's answer. Negotiable when the site
 * compresses, the status has a body (not 204/304), the type is worth it
 * (compress_type_ok), the program chose no Content-Encoding, sent no
 * Content-Range (a range of the identity form) nor Cache-Control:
 * no-transform (RFC 9110 §7.7), and its Content-Length, if any, is at least
 * compress_min_size; and when there is room for our two fields. Then gzip
 * if the client accepts it and, for a body, a stream is free in this worker
 * (HEAD gets the head GET would get, and needs no stream). NPH never comes
 * here.
 */
static enum relay_coding relay_choose_coding(struct conn *c, const struct conn_cgi *g,
					     const struct cgi_head *h)
{
	const struct site_serve *serve = &worker_site(c->w, c->site)->conf->serve;
	if (!serve->compress || h->status == 204 || h->status == 304 || !h->content_type.p ||
	    !compress_type_ok(h->content_type.p, h->content_type.len) ||
	    head_field(h, "content-encoding") || head_field(h, "content-range") ||
	    h->header_count + 2 > CGI_HEADERS_MAX)
		return RELAY_IDENTITY;
	const struct http_header *cc = head_field(h, "cache-control");
	if (cc && list_has_token(cc->value, "no-transform"))
		return RELAY_IDENTITY;
	if (h->has_content_length && h->content_length < serve->compress_min_size)
		return RELAY_IDENTITY;
	if (conn_choose_coding(conn_request(c), 1u << CODING_GZIP) != CODING_GZIP)
		return RELAY_IDENTITY_VARY;
	if (!g->head_only && c->w->gz_streams >= COMPRESS_STREAMS_MAX)
		return RELAY_IDENTITY_VARY;
	return RELAY_GZIP;
}

/* Add Vary: Accept-Encoding unless the program's Vary covers it already.
 * The caller checked there is room (relay_choose_coding). */
static void relay_add_vary(struct cgi_head *h)
{
	const struct http_header *vary = head_field(h, "vary");
	if (vary && (list_has_token(vary->value, "accept-encoding") ||
		     list_has_token(vary->value, "*")))
		return;
	h->headers[h->header_count++] = (struct http_header){ HTTP_SLICE_STR("Vary"),
							      HTTP_SLICE_STR("Accept-Encoding") };
}

/* Set up gzip for the answer: the fields, and the stream for a body.
 * false: no memory for the stream (the answer goes as it is). */
static bool relay_start_gzip(struct conn *c, struct conn_cgi *g, struct cgi_head *h)
{
	if (!g->head_only) {
		struct gz_stream *gz = malloc(sizeof(*gz));
		if (!gz || gz_stream_init(gz) < 0) {
			free(gz);
			log_warn(c->w->log, "CGI %s: no memory to compress its answer: sent as it is",
				 cgi_proc_program(g->proc));
			return false;
		}
		g->gz = gz;
		c->w->gz_streams++;
	}
	g->encoded = true;
	h->headers[h->header_count++] = (struct http_header){ HTTP_SLICE_STR("Content-Encoding"),
							      HTTP_SLICE_STR("gzip") };
	return true;
}

/* The header section is complete in g->held: decide the framing, write our
 * head. false: malformed output. */
static bool relay_start_response(struct conn *c, struct conn_cgi *g, size_t head_len)
{
	struct cgi_head h;
	if (cgi_head_parse(buf_rptr(&g->held), head_len, &h) < 0 || h.status < 200)
		return false;
	/* The head GET would get, HEAD included (RFC 9110 §9.3.2). */
	bool bodiless_status = h.status == 204 || h.status == 304;
	g->no_body = bodiless_status || g->head_only;
	g->has_length = h.has_content_length && !bodiless_status;
	g->declared = h.content_length;
	enum relay_coding coding = relay_choose_coding(c, g, &h);
	if (coding != RELAY_IDENTITY)
		relay_add_vary(&h);
	if (coding == RELAY_GZIP && relay_start_gzip(c, g, &h))
		h.has_content_length = false; /* still enforced on the program (has_length) */
	/* An encoded body is chunked (HTTP/1.1) or ends with the connection. */
	/* An HTTP/2 stream's answer ends with the stream (h2.c frames it). */
	g->chunked = (g->encoded || !g->has_length) && !bodiless_status && g->http11 &&
		     !c->h2_stream;
	/* Without a length an HTTP/1.0 answer ends when the connection does. */
	g->keep_alive = g->req_keep && ((g->has_length && !g->encoded) || g->chunked ||
					bodiless_status);
	if (bodiless_status)
		h.has_content_length = false; /* RFC 9110 §8.6: never for 204 */
	bool announce = g->keep_alive && worker_keeps_alive(c->w);
	if (cgi_head_write(&c->out, &h, announce, g->chunked, worker_date(c->w)) < 0)
		return false;
	g->keep_alive = announce;
	g->status = h.status;
	g->head_done = true;
	return true;
}

/* Output bytes while the header section is incomplete. false: malformed. */
static bool relay_head_bytes(struct conn *c, struct conn_cgi *g, const char *data, size_t n,
			     bool eof)
{
	if (buf_acquire(&g->held, &c->w->pool) < 0 || buf_append(&g->held, data, (uint32_t)n) < 0)
		return false;
	uint32_t have = buf_len(&g->held);
	const char *p = buf_rptr(&g->held);
	if (have >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* NPH: the program wrote the whole response; relay it verbatim
		 * (HEAD too) and close after it: its framing is its own. */
		g->nph = g->head_done = true;
		g->no_body = false;
		g->status = 200;
		/* "HTTP/1.1 NNN": the status for our access log (the buffer is
		 * not NUL-terminated: no sscanf). */
		if (have >= 12 && p[9] >= '1' && p[9] <= '9' && p[10] >= '0' && p[10] <= '9' &&
		    p[11] >= '0' && p[11] <= '9')
			g->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
		return true; /* everything held is pending output */
	}
	if (have < 5 && !eof)
		return true;
	long end = cgi_head_scan(p, have);
	if (end < 0 || (end == 0 && (eof || buf_space(&g->held) == 0)))
		return false;
	if (end == 0)
		return true;
	if (!relay_start_response(c, g, (size_t)end))
		return false;
	buf_consume(&g->held, (uint32_t)end); /* the rest is body, pending */
	return true;
}

/* The client has the whole answer once its declared length is relayed
 * (or, for a bodiless answer, once the head is): finish then, without
 * waiting for the program to close its output, so a client that leaves
 * after a complete answer never costs the program its life. Chunked and
 * NPH answers end only with the program's output. */
static bool relay_complete(const struct conn_cgi *g)
{
	return g->head_done && !g->nph && buf_len(&g->held) == 0 &&
	       (g->no_body || (g->has_length && g->relayed == g->declared));
}

/* Move the program's stdout towards `out` as room allows. true: progress. */
static bool relay_stdout(struct conn *c, struct conn_cgi *g)
{
	if (g->gz && gz_stream_failed(g->gz)) {
		relay_fail(c, 500, "gzip encoding failed");
		return false;
	}
	if (g->head_done && buf_len(&g->held) > 0 && !relay_drain_held(c, g))
		return false; /* back-pressure: the client must read first */
	if (g->gz_flushing && !relay_gz_flush(c, g))
		return false;
	if (relay_complete(g)) {
		relay_finish(c);
		return false;
	}
	if (g->out_eof) {
		if (g->chunked && !g->no_body && buf_space(&c->out) < RELAY_LAST_CHUNK_BYTES)
			return false; /* the last chunk must fit */
		relay_finish(c);
		return false;
	}
	if (!g->out_ready)
		return false;
	size_t want = RELAY_READ_CHUNK;
	if (!g->head_done) {
		uint32_t held = buf_len(&g->held);
		if (held >= BUF_BLOCK_BYTES) {
			relay_fail(c, 500, "header section over 16 KiB");
			return false;
		}
		want = BUF_BLOCK_BYTES - held;
	} else {
		/* Body bytes we will pass on: only as many as `out` can take
		 * (compressed: a full read once it has room for a step; what
		 * the encoder leaves waits in `held`). */
		uint32_t space = buf_space(&c->out);
		if (g->gz && space < RELAY_GZ_ROOM_MIN)
			return false;
		if (space <= RELAY_CHUNK_OVERHEAD + 1)
			return false;
		if (!g->gz && want > space - RELAY_CHUNK_OVERHEAD)
			want = space - RELAY_CHUNK_OVERHEAD;
	}
	if (!conn_budget_take(c))
		return false;
	char data[RELAY_READ_CHUNK];
	ssize_t n = cgi_proc_read(g->proc, data, want);
	if (n < 0) {
		if (errno == EAGAIN) {
			g->out_ready = false;
			/* The program pauses: what it wrote reaches the client now. */
			if (g->gz && g->head_done) {
				uint32_t before = buf_len(&c->out);
				(void)relay_gz_flush(c, g);
				return buf_len(&c->out) != before;
			}
			return false;
		}
		relay_fail(c, 500, "reading its output failed");
		return false;
	}
	if (n == 0)
		g->out_eof = true;
	if (!g->head_done) {
		if (n == 0 && buf_len(&g->held) == 0) {
			relay_fail(c, 500, "no valid header section (no output: see its exit status)");
			return false;
		}
		if (!relay_head_bytes(c, g, data, (size_t)n, n == 0)) {
			relay_fail(c, 500, n == 0 ? "no valid header section (output ended inside it)"
						  : "malformed header section");
			return false;
		}
		return true;
	}
	size_t taken = relay_emit(c, g, data, (size_t)n);
	if (taken < (size_t)n && (buf_acquire(&g->held, &c->w->pool) < 0 ||
				  buf_append(&g->held, data + taken, (uint32_t)((size_t)n - taken)) < 0)) {
		relay_fail(c, 500, "out of memory relaying its output");
		return false;
	}
	return true;
}

/* ---- the request body, and the client ------------------------------------------ */

enum relay_step { RELAY_IDLE, RELAY_PROGRESS, RELAY_ENDED };

/* Give the program the body bytes the core has decoded. */
static enum relay_step relay_body(struct conn *c, struct conn_cgi *g)
{
	bool progress = false;
	switch (conn_body_take(c, &progress)) {
	case CONN_BODY_GONE:
		conn_close(c); /* the client left mid-body: the program goes too */
		return RELAY_ENDED;
	case CONN_BODY_FAILED:
		relay_fail(c, conn_body_status(c), "the request body failed");
		return RELAY_ENDED;
	case CONN_BODY_AGAIN:
	case CONN_BODY_DONE:
		break;
	}
	uint32_t avail = conn_body_pending(c);
	if (avail > 0 && g->stdin_closed) {
		conn_body_consume(c, avail); /* it reads no more: drain and drop */
		progress = true;
	} else if (avail > 0 && g->in_ready && conn_budget_take(c)) {
		ssize_t n = cgi_proc_write(g->proc, conn_body_data(c), avail);
		if (n > 0) {
			conn_body_consume(c, (uint32_t)n);
			progress = true;
		} else if (n < 0 && errno == EAGAIN) {
			g->in_ready = false;
		} else {
			g->stdin_closed = true;
			progress = true;
		}
	}
	if (!g->stdin_closed && conn_body_complete(c) && conn_body_pending(c) == 0) {
		cgi_proc_close_stdin(g->proc); /* end of the body for the program */
		g->stdin_closed = true;
	}
	return progress ? RELAY_PROGRESS : RELAY_IDLE;
}

/* Once the body is in, keep an eye on the client: read what it pipelines
 * (as room allows) so that its leaving is seen at once, not at the CGI
 * timeout. */
static enum relay_step relay_watch_client(struct conn *c)
{
	if (!conn_body_complete(c))
		return RELAY_IDLE; /* conn_body_take reads the client */
	switch (conn_read_more(c)) {
	case CONN_READ_GONE:
		log_info(c->w->log, "client left during a CGI answer");
		conn_close(c);
		return RELAY_ENDED;
	case CONN_READ_GOT:
		return RELAY_PROGRESS;
	case CONN_READ_NONE:
		break;
	}
	return RELAY_IDLE;
}

void conn_on_cgi(struct conn *c)
{
	struct conn_cgi *g = c->cgi;
	if (g->expired) {
		relay_fail(c, 500, "ran past the total CGI time cap: killed");
		return;
	}
	if (buf_acquire(&c->out, &c->w->pool) < 0) {
		conn_close(c);
		return;
	}
	bool any = false, progress = true;
	while (progress && c->state == CONN_CGI) {
		progress = false;
		enum relay_step s = relay_body(c, g);
		if (s == RELAY_ENDED)
			return;
		progress |= s == RELAY_PROGRESS;
		s = relay_watch_client(c);
		if (s == RELAY_ENDED)
			return;
		progress |= s == RELAY_PROGRESS;
		/* Read the program's output before writing, so a short answer
		 * (head, body, last chunk) leaves in one write. */
		while (c->state == CONN_CGI && relay_stdout(c, g))
			progress = true;
		if (c->state != CONN_CGI)
			return;
		if (conn_output_pending(c)) {
			uint32_t before = buf_len(&c->out);
			if (conn_flush(c) == FLUSH_ERROR) {
				conn_close(c);
				return;
			}
			progress |= buf_len(&c->out) != before;
		}
		any |= progress;
	}
	if (any && c->state == CONN_CGI)
		conn_arm_timer(c); /* the CGI timeout counts from the last progress */
}

void conn_cgi_timeout(struct conn *c)
{
	char why[96];
	snprintf(why, sizeof(why), "made no progress for %u ms: killed",
		 c->w->cfg->cgi_timeout_ms);
	relay_fail(c, 500, why); /* kills it */
}
