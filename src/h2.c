#include "h2.h"

#include <string.h>

/* The 24 octets every HTTP/2 client sends first (RFC 9113 §3.4). */
static const char H2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
enum { H2_PREFACE_LEN = sizeof(H2_PREFACE) - 1 };

int h2_preface_match(const char *p, size_t len)
{
	size_t n = len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN;
	if (memcmp(p, H2_PREFACE, n) != 0)
		return -1;
	return n == H2_PREFACE_LEN ? 1 : 0;
}

#if defined(LISOD_HTTP2)

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conn_priv.h"
#include "http_resp.h"
#include "log.h"
#include "worker.h"

enum {
	/* What we announce, and bound ourselves: a request head as large as
	 * HTTP/1.1 allows (HTTP_HEAD_MAX_BYTES), counted as RFC 9113 §6.5.2
	 * does (name + value + 32 per field). */
	H2_HEADER_LIST_MAX = HTTP_HEAD_MAX_BYTES,
	/* Past this many decoded bytes a header block over the bound is no
	 * request that is merely too large: its stream is reset at once. */
	H2_BOMB_BYTES = 4 * H2_HEADER_LIST_MAX,
	/* A stream's window (the RFC's default): the most request body bytes
	 * a stream can hold unread. The connection window is opened wide and
	 * given back as bytes arrive, so a stalled stream never blocks another;
	 * each stream's own window is given back only as its inner connection
	 * reads (a slow CGI program stalls only its stream). */
	H2_STREAM_WINDOW = 65535,
	H2_CONN_WINDOW = 16 << 20,
	/* Request bytes a stream may hold: its head, its window of body and
	 * the chunk framing of its DATA frames (a client that sends a window
	 * in DATA frames of a few bytes each is reset: ENHANCE_YOUR_CALM). */
	H2_REQ_MAX = HTTP_HEAD_MAX_BYTES + 2 * H2_STREAM_WINDOW,
	/* Response head as the inner connection writes it (ours: a few hundred
	 * bytes; a CGI program's: its parser's limit), and its fields. */
	H2_RESP_HEAD_MAX = 64 * 1024,
	H2_RESP_FIELDS_MAX = 128,
	/* DATA frame payload: frame header and payload fit one output block. */
	H2_DATA_MAX = BUF_BLOCK_BYTES - 9,
	/* Frames that do no work for the peer — PING, SETTINGS, PRIORITY,
	 * RST_STREAM, empty DATA, and resets we were made to send — allowed
	 * per second before the connection is closed (ENHANCE_YOUR_CALM). */
	H2_JUNK_PER_SEC = 1000,
	/* Stream resets the peer may cause (RFC 9113 rapid reset): a burst,
	 * then this many a second (libnghttp2's limiter). */
	H2_RESET_BURST = 200,
	H2_RESET_RATE = 50,
	H2_CONTINUATIONS_MAX = 8,
	/* Send/run rounds per wakeup: inner connections that answer at once
	 * may queue more frames; the rest waits for the next wakeup. */
	H2_ROUNDS = 4,
};

/* One request stream. Its request is kept as an HTTP/1.1 message in `req`
 * (the head made from HEADERS, then the body, chunked when the client gave
 * no length), read by the inner connection; its answer, parsed from what
 * the inner connection writes, leaves from `resp` as DATA frames. */
struct h2_stream {
	struct h2_session *s;
	struct h2_stream *prev, *next;  /* the session's streams */
	struct h2_stream *ready_next;   /* on the session's ready list */
	struct conn *inner;             /* NULL: not started, or finished */
	int32_t id;

	/* the request */
	struct buf pseudo;              /* :method, :path, :authority, then cookies */
	uint32_t method_off, method_len, path_off, path_len, auth_off, auth_len;
	uint32_t cookie_off;            /* cookie crumbs from here, "; "-joined */
	uint32_t header_bytes;          /* RFC 9113 §6.5.2 size so far */
	struct buf req;
	uint64_t body_unread;           /* DATA bytes in req not yet given back */
	bool has_length, chunked, head_method, head_built, req_done;
	bool too_large;                 /* 431 */
	bool malformed;                 /* reset: its fields are ignored */
	bool ready;                     /* on the ready list */
	bool closed;                    /* the library closed the stream */

	/* the response */
	struct buf rhead;               /* its head while incomplete */
	struct buf resp;                /* body bytes not yet framed */
	uint64_t resp_left;             /* of its Content-Length, when has_resp_length */
	bool resp_head_done, resp_submitted, resp_no_body, has_resp_length;
	bool resp_eof;                  /* every body byte is in resp */
	bool deferred;                  /* the library waits for resume_data */
	bool inner_blocked;             /* the inner connection waits for room */
	bool seg_frame;                 /* the DATA being built is file bytes */
	/* A file body not yet read (stream_sendfile): its bytes are read
	 * straight into the output block as each DATA frame is built, and the
	 * inner connection is told of them (seg_done) afterwards, so its file
	 * stays open (held in the cache) until they are out. */
	int seg_fd;                     /* -1: none */
	off_t seg_off;
	uint64_t seg_left, seg_done;
	bool inner_finished;            /* it sent its answer (its shutdown) */
};

struct h2_session {
	nghttp2_session *ng;
	struct conn *c;
	struct h2_stream *streams;      /* every stream struct, for teardown */
	struct h2_stream *ready;        /* to run once the library returns */
	unsigned stream_count;
	uint64_t data_sent, data_sent_at_arm; /* DATA bytes: stall detection */
	uint64_t data_sent_ms;          /* when DATA last went (loop time) */
	bool stalled;                   /* a stream died waiting on a client
	                                 * that let nothing through: close */
	uint64_t junk_sec;
	unsigned junk;
	bool goaway;                    /* we sent (or queued) GOAWAY */
	bool settings_acked;
	bool failed;                    /* a callback failed: close */
};

bool h2_built(void) { return true; }

static struct conn *stream_conn(struct transport *t)
{
	return container_of(t, struct conn, io);
}

static void session_post(struct h2_session *s)
{
	loop_post(s->c->w->loop, &s->c->watch);
}

static void stream_make_ready(struct h2_stream *st)
{
	if (st->ready)
		return;
	st->ready = true;
	st->ready_next = st->s->ready;
	st->s->ready = st;
}

static void stream_free(struct h2_stream *st)
{
	struct h2_session *s = st->s;
	struct buf_pool *pool = &s->c->w->pool;
	if (st->prev)
		st->prev->next = st->next;
	else
		s->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	buf_release(&st->pseudo, pool);
	buf_release(&st->req, pool);
	buf_release(&st->rhead, pool);
	buf_release(&st->resp, pool);
	s->stream_count--;
	free(st);
}

/* Too much junk: the connection ends with ENHANCE_YOUR_CALM. */
static bool session_junk(struct h2_session *s, const char *what)
{
	uint64_t now = loop_now_sec(s->c->w->loop);
	if (now != s->junk_sec) {
		s->junk_sec = now;
		s->junk = 0;
	}
	if (++s->junk <= H2_JUNK_PER_SEC || s->goaway)
		return false;
	char addr[INET6_ADDRSTRLEN];
	conn_peer_name(s->c, addr, sizeof(addr));
	log_warn(s->c->w->log, "%s: HTTP/2 flood (%s): connection closed", addr, what);
	/* Not a graceful GOAWAY: streams in flight would keep the flood open. */
	nghttp2_session_terminate_session(s->ng, NGHTTP2_ENHANCE_YOUR_CALM);
	s->goaway = true;
	return true;
}

/* ---- buffers --------------------------------------------------------- */

/* Append n bytes to b (a pool block, grown up to max). */
static int buf_put(struct buf *b, struct buf_pool *pool, const void *p, size_t n, uint32_t max)
{
	if (b->data && buf_space(b) >= n) { /* the usual case */
		memcpy(buf_wptr(b), p, n);
		b->wpos += (uint32_t)n;
		return 0;
	}
	if (buf_acquire(b, pool) < 0)
		return -1;
	if (buf_space(b) < n) {
		buf_compact(b);
		if (buf_space(b) < n) {
			uint64_t want = (uint64_t)buf_len(b) + n;
			if (want > max)
				return -1;
			uint32_t cap = b->cap;
			while (cap < want)
				cap *= 2;
			if (buf_grow(b, cap > max ? max : cap) < 0)
				return -1;
		}
	}
	return buf_append(b, p, (uint32_t)n);
}

static int req_put(struct h2_stream *st, const void *p, size_t n)
{
	return buf_put(&st->req, &st->s->c->w->pool, p, n, H2_REQ_MAX);
}

/* "name: value\r\n" */
static int req_puts(struct h2_stream *st, const char *a, size_t an, const char *b, size_t bn)
{
	struct buf *r = &st->req;
	size_t n = an + bn + 4;
	if (!r->data || buf_space(r) < n) { /* the growing path, piece by piece */
		if (req_put(st, a, an) < 0 || req_put(st, ": ", 2) < 0 || req_put(st, b, bn) < 0)
			return -1;
		return req_put(st, "\r\n", 2);
	}
	char *w = buf_wptr(r);
	memcpy(w, a, an);
	memcpy(w + an, ": ", 2);
	memcpy(w + an + 2, b, bn);
	memcpy(w + an + 2 + bn, "\r\n", 2);
	r->wpos += (uint32_t)n;
	return 0;
}

/* ---- the request, as an HTTP/1.1 message ----------------------------- */

/* A field name equal to a literal (names are lower case in HTTP/2). */
#define NAME_IS(name, len, lit) \
	((len) == sizeof(lit) - 1 && memcmp((name), (lit), sizeof(lit) - 1) == 0)

/* The request line and Host, once the pseudo-header fields are all in
 * (they come first: libnghttp2 checks). */
/* A request line of these bytes parses as one: no SP, CTL or DEL in the
 * target and method (libnghttp2 checks fields, not every pseudo value as
 * strictly), so no stream can smuggle a second request line. */
static bool token_clean(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
			return false;
	return len > 0;
}

static int req_begin(struct h2_stream *st)
{
	/* No pseudo-header at all: no bytes (and no :method, so malformed). */
	const char *ps = st->pseudo.data ? st->pseudo.data : "";
	if (!token_clean(ps + st->method_off, st->method_len) ||
	    (st->path_len && !token_clean(ps + st->path_off, st->path_len))) {
		/* Malformed (RFC 9113 §8.1.1): the stream, not the connection. */
		st->malformed = true;
		nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id,
					  NGHTTP2_PROTOCOL_ERROR);
		return 0;
	}
	const char *target = ps + st->path_off;
	size_t target_len = st->path_len;
	if (!st->path_len) { /* CONNECT: authority-form (the parser answers 400) */
		target = ps + st->auth_off;
		target_len = st->auth_len;
	}
	if (req_put(st, ps + st->method_off, st->method_len) < 0 || req_put(st, " ", 1) < 0 ||
	    req_put(st, target, target_len) < 0 || req_put(st, " HTTP/1.1\r\n", 11) < 0)
		return -1;
	if (st->auth_len && req_puts(st, "host", 4, ps + st->auth_off, st->auth_len) < 0)
		return -1;
	st->head_built = true;
	return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user_data)
{
	(void)flags;
	(void)user_data;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* trailers: not kept (an HTTP/1.1 body's are not either) */
	struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
	if (!st || st->malformed)
		return 0;
	if (st->too_large) {
		st->header_bytes += (uint32_t)(namelen + valuelen + 32 < H2_HEADER_LIST_MAX
						       ? namelen + valuelen + 32
						       : H2_HEADER_LIST_MAX);
		if (st->header_bytes <= H2_BOMB_BYTES)
			return 0;
		st->too_large = false;
		st->malformed = true; /* nothing is answered: the reset says it */
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	uint64_t size = (uint64_t)st->header_bytes + namelen + valuelen + 32;
	if (size > H2_HEADER_LIST_MAX) {
		/* Over the bound: a 431. The rest of the block is still decoded
		 * (the HPACK state must follow it), and libnghttp2 checks every
		 * field it hands us, so a block that decodes to much more (an
		 * HPACK bomb: one byte naming a 4 KiB table entry, thousands of
		 * times) is cut: the stream is reset and the rest decoded
		 * unchecked. */
		st->header_bytes = (uint32_t)size;
		st->too_large = true;
		return 0;
	}
	st->header_bytes = (uint32_t)size;
	struct buf_pool *pool = &st->s->c->w->pool;
	if (namelen > 0 && name[0] == ':') {
		uint32_t off = buf_len(&st->pseudo);
		if (buf_put(&st->pseudo, pool, value, valuelen, H2_HEADER_LIST_MAX) < 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		if (NAME_IS(name, namelen, ":method")) {
			st->method_off = off;
			st->method_len = (uint32_t)valuelen;
			st->head_method = valuelen == 4 && memcmp(value, "HEAD", 4) == 0;
		} else if (NAME_IS(name, namelen, ":path")) {
			st->path_off = off;
			st->path_len = (uint32_t)valuelen;
		} else if (NAME_IS(name, namelen, ":authority")) {
			st->auth_off = off;
			st->auth_len = (uint32_t)valuelen;
		}
		st->cookie_off = buf_len(&st->pseudo);
		return 0;
	}
	if (!st->head_built && (req_begin(st) < 0 || st->malformed))
		return st->malformed ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (NAME_IS(name, namelen, "cookie")) {
		/* Crumbs are joined again for HTTP/1.1 (RFC 9113 §8.2.3). */
		bool first = buf_len(&st->pseudo) == st->cookie_off;
		if ((!first && buf_put(&st->pseudo, pool, "; ", 2, H2_HEADER_LIST_MAX) < 0) ||
		    buf_put(&st->pseudo, pool, value, valuelen, H2_HEADER_LIST_MAX) < 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		return 0;
	}
	if (NAME_IS(name, namelen, "host") && st->auth_len == valuelen &&
	    memcmp(st->pseudo.data + st->auth_off, value, valuelen) == 0)
		return 0; /* the same as :authority; a different one stays: 400 */
	if (NAME_IS(name, namelen, "expect"))
		return 0; /* flow control replaces 100 Continue */
	if (NAME_IS(name, namelen, "content-length"))
		st->has_length = true;
	if (req_puts(st, (const char *)name, namelen, (const char *)value, valuelen) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

/* The head is complete: cookies, framing, and the end of the head. Every
 * stream is one request: Connection: close makes the inner connection end
 * with its answer. */
static int req_end_head(struct h2_stream *st, bool end_stream)
{
	if (st->malformed)
		return 0;
	if (!st->head_built && req_begin(st) < 0)
		return -1;
	if (st->malformed)
		return 0;
	uint32_t crumbs = buf_len(&st->pseudo) - st->cookie_off;
	if (crumbs && req_puts(st, "cookie", 6, st->pseudo.data + st->cookie_off, crumbs) < 0)
		return -1;
	if (!st->has_length) {
		/* No length: chunked while DATA may come; an empty body is said
		 * as such except for GET and HEAD (a POST needs a length). */
		st->chunked = !end_stream;
		const char *ps = st->pseudo.data + st->method_off;
		bool get_or_head = st->head_method || (st->method_len == 3 && !memcmp(ps, "GET", 3));
		const char *framing = !end_stream  ? "transfer-encoding: chunked\r\n"
				      : get_or_head ? ""
						    : "content-length: 0\r\n";
		if (req_put(st, framing, strlen(framing)) < 0)
			return -1;
	}
	buf_release(&st->pseudo, &st->s->c->w->pool);
	return req_put(st, "connection: close\r\n\r\n", 21);
}

static int req_end_body(struct h2_stream *st)
{
	if (st->req_done)
		return 0;
	st->req_done = true;
	return st->chunked ? req_put(st, "0\r\n\r\n", 5) : 0;
}

/* ---- the answer -------------------------------------------------------- */

/* Fields of HTTP/1.1's connection, not of the message (RFC 9113 §8.2.2). */
static bool connection_specific(const char *name, size_t len)
{
	switch (len) {
	case 2: return NAME_IS(name, len, "te");
	case 7: return NAME_IS(name, len, "upgrade");
	case 10: return NAME_IS(name, len, "connection") || NAME_IS(name, len, "keep-alive");
	case 16: return NAME_IS(name, len, "proxy-connection");
	case 17: return NAME_IS(name, len, "transfer-encoding");
	default: return false;
	}
}

static ssize_t on_data_read(nghttp2_session *ng, int32_t id, uint8_t *out, size_t length,
			    uint32_t *flags, nghttp2_data_source *source, void *user_data);

/* The CRLF ending the line at p (our heads end lines so; a bare LF is not
 * an end of line here), or NULL. */
static const char *find_crlf(const char *p, const char *end)
{
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		if (!lf)
			return NULL;
		if (lf > p && lf[-1] == '\r')
			return lf - 1;
		p = lf + 1;
	}
	return NULL;
}

/* The complete head in rhead (len bytes up to and with its blank line):
 * HEADERS with its status and fields, connection-specific ones dropped and
 * names in lower case. -1: not a head we can pass on (the stream resets). */
static int resp_submit(struct h2_stream *st, char *p, size_t len)
{
	char *end = p + len;
	const char *eol = find_crlf(p, end);
	if (!eol || eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0)
		return -1;
	const char *status = p + 9;
	if (status[0] < '1' || status[0] > '5' || status[1] < '0' || status[1] > '9' ||
	    status[2] < '0' || status[2] > '9' || status[3] != ' ')
		return -1;
	/* The fields point into rhead, kept until the HEADERS frame is sent
	 * (on_frame_send): the library need not copy them. */
	const uint8_t no_copy = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
	nghttp2_nv nv[H2_RESP_FIELDS_MAX];
	size_t n = 0;
	nv[n++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)status, 7, 3, no_copy };
	int code = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
	st->resp_no_body = st->head_method || code == 204 || code == 304;
	st->has_resp_length = false;
	for (char *line = (char *)eol + 2; line < end;) {
		char *le = (char *)find_crlf(line, end);
		if (!le || le == line)
			break;
		char *colon = memchr(line, ':', (size_t)(le - line));
		if (!colon || colon == line || n == H2_RESP_FIELDS_MAX)
			return -1;
		size_t name_len = (size_t)(colon - line);
		for (size_t i = 0; i < name_len; i++)
			if (line[i] >= 'A' && line[i] <= 'Z')
				line[i] = (char)(line[i] - 'A' + 'a');
		char *v = colon + 1;
		while (v < le && (*v == ' ' || *v == '\t'))
			v++;
		char *ve = le;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (!connection_specific(line, name_len)) {
			nv[n++] = (nghttp2_nv){ (uint8_t *)line, (uint8_t *)v, name_len,
						(size_t)(ve - v), no_copy };
			if (NAME_IS(line, name_len, "content-length")) {
				st->has_resp_length = true;
				st->resp_left = strtoull(v, NULL, 10);
			}
		}
		line = le + 2;
	}
	if (code < 200)
		return 0; /* an interim answer: dropped, the final one follows */
	if (st->resp_no_body || (st->has_resp_length && st->resp_left == 0))
		st->resp_eof = true;
	nghttp2_data_provider dp = { .source.ptr = st, .read_callback = on_data_read };
	if (nghttp2_submit_response(st->s->ng, st->id, nv, n, st->resp_no_body ? NULL : &dp) != 0)
		return -1;
	st->resp_submitted = true;
	return 1;
}

/* The library may take more of this stream's answer. */
static void resp_wake_sender(struct h2_stream *st)
{
	if (st->deferred) {
		st->deferred = false;
		nghttp2_session_resume_data(st->s->ng, st->id);
	}
	session_post(st->s);
}

/* Room in resp for body bytes (0: full, or none wanted). */
static size_t resp_room(struct h2_stream *st)
{
	if (buf_acquire(&st->resp, &st->s->c->w->pool) < 0)
		return 0;
	buf_compact(&st->resp);
	size_t room = buf_space(&st->resp);
	if (st->has_resp_length && room > st->resp_left)
		room = (size_t)st->resp_left;
	return room;
}

/* n body bytes were put at resp's end. */
static void resp_commit(struct h2_stream *st, size_t n)
{
	buf_commit(&st->resp, (uint32_t)n);
	if (st->has_resp_length) {
		st->resp_left -= n;
		if (st->resp_left == 0)
			st->resp_eof = true;
	}
	if (n)
		resp_wake_sender(st);
}

/* Body bytes of the answer: into resp, as many as fit. */
static size_t resp_body(struct h2_stream *st, const char *p, size_t len)
{
	if (st->resp_eof || st->resp_no_body)
		return len; /* past the length, or no body: dropped */
	size_t take = resp_room(st);
	if (take > len)
		take = len;
	memcpy(buf_wptr(&st->resp), p, take);
	resp_commit(st, take);
	return take;
}

/* ---- the stream's transport (the inner connection's I/O) ------------- */

static enum io_result stream_read(struct transport *t, void *out, size_t len, size_t *n)
{
	struct h2_stream *st = t->impl;
	*n = 0;
	t->want_write = false;
	if (!st || st->closed)
		return IO_EOF;
	uint32_t have = buf_len(&st->req);
	if (have == 0) /* a whole request is no end of the stream: only a
			* reset is (or our own end, in the inner linger) */
		return st->inner_finished ? IO_EOF : IO_AGAIN;
	size_t take = len < have ? len : have;
	memcpy(out, buf_rptr(&st->req), take);
	buf_consume(&st->req, (uint32_t)take);
	if (buf_len(&st->req) == 0)
		buf_release(&st->req, &st->s->c->w->pool);
	/* Give the window back as the body is read (chunk framing counted as
	 * body: never more than what came). */
	uint64_t back = take < st->body_unread ? take : st->body_unread;
	if (back) {
		st->body_unread -= back;
		nghttp2_session_consume_stream(st->s->ng, st->id, (size_t)back);
		session_post(st->s);
	}
	*n = take;
	return IO_OK;
}

/* The "\r\n\r\n" that ends a head in [p, end), or NULL: line by line
 * (memchr), cheaper than a general substring search on a short head. */
static char *head_end(char *p, char *end)
{
	while (p < end) {
		char *lf = memchr(p, '\n', (size_t)(end - p));
		if (!lf || lf + 2 >= end)
			return NULL;
		if (lf[1] == '\r' && lf[2] == '\n' && lf > p && lf[-1] == '\r')
			return lf - 1;
		p = lf + 1;
	}
	return NULL;
}

static enum io_result stream_take(struct h2_stream *st, struct transport *t, const char *p,
				  size_t len, size_t *n)
{
	size_t used = 0;
	while (used < len && !st->resp_head_done) {
		/* The head is gathered whole, then turned into HEADERS. */
		size_t room = H2_RESP_HEAD_MAX - buf_len(&st->rhead);
		size_t take = len - used < room ? len - used : room;
		uint32_t before = buf_len(&st->rhead);
		if (take == 0 || buf_put(&st->rhead, &st->s->c->w->pool, p + used, take,
					 H2_RESP_HEAD_MAX) < 0)
			return IO_ERROR;
		char *h = buf_rptr(&st->rhead);
		uint32_t from = before > 3 ? before - 3 : 0; /* earlier bytes held no end */
		char *end = head_end(h + from, h + buf_len(&st->rhead));
		if (!end) {
			used += take;
			continue;
		}
		size_t head_len = (size_t)(end - h) + 4;
		used += head_len - before;
		int r = resp_submit(st, h, head_len);
		if (r <= 0) /* a final head's fields live on until its frame is out */
			buf_release(&st->rhead, &st->s->c->w->pool);
		if (r < 0)
			return IO_ERROR;
		st->resp_head_done = r > 0;
		session_post(st->s);
	}
	while (used < len) {
		size_t took = resp_body(st, p + used, len - used);
		if (took == 0)
			break;
		used += took;
	}
	*n = used;
	if (used < len) {
		/* A short write means "blocked" to the inner connection, as it
		 * does on a socket: it waits to be told there is room. */
		st->inner_blocked = true;
		if (used == 0) {
			t->want_write = true;
			return IO_AGAIN;
		}
	}
	return IO_OK;
}

static enum io_result stream_writev(struct transport *t, const struct iovec *iov, int iovcnt,
				    bool more, size_t *n)
{
	(void)more;
	struct h2_stream *st = t->impl;
	*n = 0;
	if (!st || st->closed)
		return IO_ERROR;
	for (int i = 0; i < iovcnt; i++) {
		size_t got = 0;
		enum io_result r = stream_take(st, t, iov[i].iov_base, iov[i].iov_len, &got);
		*n += got;
		if (r != IO_OK)
			return *n > 0 && r == IO_AGAIN ? IO_OK : r;
		if (got < iov[i].iov_len)
			break;
	}
	return IO_OK;
}

/* A file body: read into the stream's block, framed from there (sendfile
 * cannot put frame headers between its bytes; see docs/design.md). */
static enum io_result stream_sendfile(struct transport *t, int fd, off_t *off, size_t len,
				      size_t *n)
{
	struct h2_stream *st = t->impl;
	*n = 0;
	if (!st || st->closed || !st->resp_head_done || st->resp_eof)
		return IO_ERROR;
	if (st->seg_done) { /* what went out since the last call */
		*n = (size_t)st->seg_done;
		*off += (off_t)st->seg_done;
		st->seg_done = 0;
		if (st->seg_left == 0 && *n < len) {
			/* That range is out: the rest asked for now is the next one
			 * (no frame is in flight to wake the inner connection for it). */
			st->seg_off = *off;
			st->seg_left = len - *n;
			resp_wake_sender(st);
		} else if (st->seg_left == 0) {
			st->seg_fd = -1;
		}
		if (*n < len)
			st->inner_blocked = true; /* as in stream_take */
		return IO_OK;
	}
	if (st->seg_fd < 0 && buf_len(&st->resp) == 0) {
		st->seg_fd = fd;
		st->seg_off = *off;
		st->seg_left = len;
		resp_wake_sender(st);
	}
	if (st->seg_fd < 0)
		return IO_ERROR; /* a file after body bytes: our answers never do that */
	t->want_write = true;
	st->inner_blocked = true;
	return IO_AGAIN;
}

static enum io_result stream_handshake(struct transport *t)
{
	(void)t;
	return IO_OK;
}

/* The inner connection sent its last answer: a body without a length ends
 * here; its lingering read ends at once. */
static enum io_result stream_shutdown(struct transport *t)
{
	struct h2_stream *st = t->impl;
	if (st)
		st->inner_finished = true;
	if (st && !st->closed && st->resp_head_done) {
		st->resp_eof = true;
		resp_wake_sender(st);
	}
	stream_conn(t)->readable = true;
	return IO_OK;
}

/* The inner connection is gone. An answer it did not finish resets the
 * stream (the client must not take a cut body for a whole one). */
static void stream_io_free(struct transport *t)
{
	struct h2_stream *st = t->impl;
	t->impl = NULL;
	if (!st)
		return;
	st->inner = NULL;
	bool waiting = st->seg_left > 0 || buf_len(&st->resp) > 0;
	st->seg_fd = -1; /* its file goes with it */
	st->seg_left = 0;
	if (st->closed)
		return;
	/* Its write timeout ended it with its answer waiting on the client's
	 * window, and no DATA of any stream went for as long: the client lets
	 * nothing through, so the connection goes too (one stream held shut
	 * while others move is that stream's matter only). */
	struct conn *ic = stream_conn(t);
	struct conn *c = st->s->c;
	if (ic->state == CONN_WRITE && waiting &&
	    loop_now_ms(c->w->loop) - st->s->data_sent_ms >= c->w->cfg->write_timeout_ms)
		st->s->stalled = true;
	if (!st->resp_submitted || !st->resp_eof) {
		nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id,
					  NGHTTP2_INTERNAL_ERROR);
		st->resp_eof = true;
	}
	session_post(st->s);
}

static const struct transport_ops stream_ops = {
	.secure = false,
	.read = stream_read,
	.writev = stream_writev,
	.sendfile = stream_sendfile,
	.handshake = stream_handshake,
	.shutdown = stream_shutdown,
	.free = stream_io_free,
};

/* ---- libnghttp2's callbacks ------------------------------------------- */

/* Frames go to the connection's output block; when it is full it is
 * flushed first, and a socket that takes no more stops the library. */
static bool out_room(struct conn *c, size_t need)
{
	if (buf_acquire(&c->out, &c->w->pool) < 0)
		return false;
	if (buf_space(&c->out) >= need)
		return true;
	buf_compact(&c->out);
	if (buf_space(&c->out) >= need)
		return true;
	if (conn_flush(c) == FLUSH_ERROR)
		return false;
	buf_compact(&c->out);
	return buf_space(&c->out) >= need;
}

static ssize_t on_send(nghttp2_session *ng, const uint8_t *data, size_t length, int flags,
		       void *user_data)
{
	(void)ng;
	(void)flags;
	struct h2_session *s = user_data;
	struct conn *c = s->c;
	if (!out_room(c, 1))
		return NGHTTP2_ERR_WOULDBLOCK;
	size_t take = length < buf_space(&c->out) ? length : buf_space(&c->out);
	buf_append(&c->out, data, (uint32_t)take);
	return (ssize_t)take;
}

static ssize_t on_data_read(nghttp2_session *ng, int32_t id, uint8_t *out, size_t length,
			    uint32_t *flags, nghttp2_data_source *source, void *user_data)
{
	(void)ng;
	(void)id;
	(void)out;
	(void)user_data;
	struct h2_stream *st = source->ptr;
	size_t have = buf_len(&st->resp);
	st->seg_frame = have == 0 && st->seg_fd >= 0 && st->seg_left > 0;
	if (st->seg_frame)
		have = st->seg_left > H2_DATA_MAX ? H2_DATA_MAX : (size_t)st->seg_left;
	size_t n = length < have ? length : have;
	if (n > H2_DATA_MAX)
		n = H2_DATA_MAX;
	if (n == 0 && !st->resp_eof) {
		st->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	bool last = st->seg_frame ? st->has_resp_length && st->resp_left == n
				  : st->resp_eof && n == have;
	if (last)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int on_send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd,
			size_t length, nghttp2_data_source *source, void *user_data)
{
	(void)ng;
	struct h2_session *s = user_data;
	struct h2_stream *st = source->ptr;
	struct conn *c = s->c;
	size_t pad = frame->data.padlen;
	if (!out_room(c, 9 + length + pad))
		return NGHTTP2_ERR_WOULDBLOCK;
	uint32_t frame_start = c->out.wpos;
	buf_append(&c->out, framehd, 9);
	if (pad)
		buf_append(&c->out, (const char[1]){ (char)(pad - 1) }, 1);
	if (st->seg_frame) {
		/* Read straight into the block behind the frame header: one copy.
		 * (sendfile after a writev of the header was tried: two system
		 * calls per 16 KiB frame, half the throughput, the same CPU.) */
		size_t rest = length;
		ssize_t got;
		do
			got = pread(st->seg_fd, buf_wptr(&c->out), rest, st->seg_off);
		while (got < 0 && errno == EINTR);
		if (got != (ssize_t)rest) { /* the file shrank under us: no cut body */
			buf_unwind(&c->out, frame_start);
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		buf_commit(&c->out, (uint32_t)rest);
		st->seg_off += (off_t)length;
		st->seg_left -= length;
		st->seg_done += length;
		if (st->has_resp_length) { /* a file's answer always has one */
			st->resp_left -= length;
			if (st->resp_left == 0)
				st->resp_eof = true;
		}
	} else {
		buf_append(&c->out, buf_rptr(&st->resp), (uint32_t)length);
		buf_consume(&st->resp, (uint32_t)length);
	}
	if (pad > 1) {
		memset(buf_wptr(&c->out), 0, pad - 1);
		buf_commit(&c->out, (uint32_t)(pad - 1));
	}
	s->data_sent += length;
	s->data_sent_ms = loop_now_ms(c->w->loop);
	if (st->inner_blocked && st->inner) {
		st->inner_blocked = false;
		st->inner->writable = true;
		stream_make_ready(st);
	}
	if (buf_len(&st->resp) == 0 && st->resp_eof)
		buf_release(&st->resp, &c->w->pool);
	return 0;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user_data)
{
	struct h2_session *s = user_data;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct h2_stream *st = calloc(1, sizeof(*st));
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	st->s = s;
	st->id = frame->hd.stream_id;
	st->seg_fd = -1;
	st->next = s->streams;
	if (s->streams)
		s->streams->prev = st;
	s->streams = st;
	s->stream_count++;
	nghttp2_session_set_stream_user_data(ng, st->id, st);
	return 0;
}

/* The 431 for a header list over the bound, answered here (it never became
 * a request for an inner connection), but written by the one page writer
 * as every HTTP/1.1 answer is and turned into frames the same way. */
static void stream_answer_431(struct h2_stream *st)
{
	char raw[HTTP_RESP_ERROR_MAX_BYTES];
	struct buf b = { .data = raw, .cap = sizeof(raw) };
	struct transport t = { .impl = st };
	size_t n = 0;
	st->req_done = true;
	if (http_resp_write_error(&b, 431, false, !st->head_method, worker_date(st->s->c->w)) < 0 ||
	    stream_take(st, &t, buf_rptr(&b), buf_len(&b), &n) != IO_OK || n != buf_len(&b)) {
		nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id,
					  NGHTTP2_INTERNAL_ERROR);
		st->resp_submitted = st->resp_eof = true;
	}
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user_data)
{
	struct h2_session *s = user_data;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
	bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
		if (!st)
			return 0;
		if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
			if (st->too_large) {
				stream_answer_431(st);
				return 0;
			}
			if (req_end_head(st, end_stream) < 0)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
			if (st->malformed)
				return 0;
			if (end_stream)
				st->req_done = true;
		} else if (end_stream && req_end_body(st) < 0) { /* trailers */
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		}
		stream_make_ready(st);
		return 0;
	case NGHTTP2_DATA:
		if (frame->hd.length == 0 && !end_stream && session_junk(s, "empty DATA"))
			return 0;
		if (st && end_stream) {
			if (req_end_body(st) < 0)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
			stream_make_ready(st);
		}
		return 0;
	case NGHTTP2_SETTINGS:
		if (frame->hd.flags & NGHTTP2_FLAG_ACK)
			s->settings_acked = true;
		else
			session_junk(s, "SETTINGS");
		return 0;
	case NGHTTP2_PING:
		session_junk(s, "PING");
		return 0;
	case NGHTTP2_PRIORITY:
		session_junk(s, "PRIORITY");
		return 0;
	case NGHTTP2_RST_STREAM:
		session_junk(s, "RST_STREAM");
		return 0;
	default:
		return 0;
	}
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *user_data)
{
	(void)flags;
	(void)user_data;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
	/* The connection's window is given back at once; the stream's as its
	 * inner connection reads (stream_read). */
	nghttp2_session_consume_connection(ng, len);
	if (!st || st->req_done || st->malformed)
		return 0;
	if (!st->inner && st->resp_submitted) {
		/* Answered already (a 413, say): the rest is dropped as it comes. */
		nghttp2_session_consume_stream(ng, id, len);
		return 0;
	}
	char size[20];
	int sn = st->chunked ? snprintf(size, sizeof(size), "%zx\r\n", len) : 0;
	if ((sn > 0 && req_put(st, size, (size_t)sn) < 0) || req_put(st, data, len) < 0 ||
	    (st->chunked && req_put(st, "\r\n", 2) < 0)) {
		nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_ENHANCE_YOUR_CALM);
		return 0;
	}
	st->body_unread += len;
	if (st->inner)
		st->inner->readable = true;
	stream_make_ready(st);
	return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error_code, void *user_data)
{
	(void)error_code;
	(void)user_data;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
	if (!st)
		return 0;
	nghttp2_session_set_stream_user_data(ng, id, NULL);
	st->closed = true;
	if (st->inner) {
		struct conn *inner = st->inner;
		st->inner = NULL;
		inner->io.impl = NULL;
		conn_close(inner); /* a reset, or the answer is out */
	}
	if (!st->ready) {
		stream_free(st);
	} else { /* on the ready list: freed when it is taken off; its blocks now */
		struct buf_pool *pool = &st->s->c->w->pool;
		buf_release(&st->pseudo, pool);
		buf_release(&st->req, pool);
		buf_release(&st->rhead, pool);
		buf_release(&st->resp, pool);
	}
	return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user_data)
{
	struct h2_session *s = user_data;
	/* Resets we send count as junk too: a peer can provoke them
	 * ("MadeYouReset") as cheaply as it can send its own. */
	if (frame->hd.type == NGHTTP2_RST_STREAM)
		session_junk(s, "provoked RST_STREAM");
	if (frame->hd.type == NGHTTP2_GOAWAY)
		s->goaway = true;
	if (frame->hd.type == NGHTTP2_HEADERS) {
		struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
		if (st && st->resp_submitted)
			buf_release(&st->rhead, &s->c->w->pool); /* resp_submit's fields */
	}
	if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		/* The answer is complete before the request: the client may
		 * stop sending it (RFC 9113 §8.1), rather than wait on a window
		 * nobody will open again. */
		struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
		if (st && !st->req_done)
			nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
	}
	return 0;
}

/* ---- running ---------------------------------------------------------- */

static void stream_start(struct h2_stream *st)
{
	struct conn *c = st->s->c;
	struct conn *ic = conn_new(c->w, -1, (const struct sockaddr_storage *)&c->peer,
				   sizeof(c->peer), c->local_port);
	if (!ic) {
		log_err(c->w->log, "out of memory for an HTTP/2 stream");
		nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id,
					  NGHTTP2_REFUSED_STREAM);
		return;
	}
	st->inner = ic;
	conn_start_stream(ic, &stream_ops, st, c->tls, c->tls_site);
}

/* Run the streams that have something to do: start an inner connection
 * for a complete head, or wake it for new body bytes or room. */
static void session_run_ready(struct h2_session *s)
{
	while (s->ready) {
		struct h2_stream *st = s->ready;
		s->ready = st->ready_next;
		st->ready = false;
		if (st->closed) {
			stream_free(st);
			continue;
		}
		if (st->resp_submitted && !st->inner)
			continue; /* answered here (431), or the inner one is done */
		if (!st->inner) {
			if (!st->head_built && !st->req_done)
				continue;
			stream_start(st);
		} else {
			conn_wake(st->inner);
		}
	}
}

static int session_send(struct h2_session *s)
{
	int rv = nghttp2_session_send(s->ng);
	if (rv != 0) {
		log_info(s->c->w->log, "HTTP/2: %s: closed", nghttp2_strerror(rv));
		return -1;
	}
	return 0;
}

/* Frames to send, streams to run, until both are done or the socket (or
 * this wakeup's budget) takes no more. */
static int session_progress(struct h2_session *s)
{
	for (int round = 0; round < H2_ROUNDS; round++) {
		session_run_ready(s);
		if (s->failed || session_send(s) < 0)
			return -1;
		if (!s->ready)
			break;
	}
	if (s->ready)
		session_post(s);
	return 0;
}

static nghttp2_session_callbacks *callbacks_new(void)
{
	nghttp2_session_callbacks *cb;
	if (nghttp2_session_callbacks_new(&cb) != 0)
		return NULL;
	nghttp2_session_callbacks_set_send_callback(cb, on_send);
	nghttp2_session_callbacks_set_send_data_callback(cb, on_send_data);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	return cb;
}

int h2_session_start(struct conn *c)
{
	struct h2_session *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->c = c;
	s->data_sent_ms = loop_now_ms(c->w->loop);
	nghttp2_session_callbacks *cb = callbacks_new();
	nghttp2_option *opt = NULL;
	if (!cb || nghttp2_option_new(&opt) != 0)
		goto fail;
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_max_continuations(opt, H2_CONTINUATIONS_MAX);
	nghttp2_option_set_stream_reset_rate_limit(opt, H2_RESET_BURST, H2_RESET_RATE);
	nghttp2_option_set_max_settings(opt, 32);
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	if (nghttp2_session_server_new2(&s->ng, cb, s, opt) != 0)
		goto fail;
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	opt = NULL;
	cb = NULL;
	const nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, c->w->cfg->http2_max_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_HEADER_LIST_MAX },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};
	if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW) != 0)
		goto fail;
	c->h2 = s;
	return 0;
fail:
	if (s->ng)
		nghttp2_session_del(s->ng);
	nghttp2_option_del(opt);
	if (cb)
		nghttp2_session_callbacks_del(cb);
	free(s);
	return -1;
}

void h2_session_free(struct conn *c)
{
	struct h2_session *s = c->h2;
	if (!s)
		return;
	c->h2 = NULL;
	while (s->streams) {
		struct h2_stream *st = s->streams;
		st->closed = true;
		/* The library is not to find it while it goes (whatever it calls). */
		nghttp2_session_set_stream_user_data(s->ng, st->id, NULL);
		if (st->inner) {
			struct conn *inner = st->inner;
			st->inner = NULL;
			inner->io.impl = NULL;
			conn_close(inner);
		}
		stream_free(st);
	}
	nghttp2_session_del(s->ng);
	free(s);
}

void h2_session_goaway(struct conn *c)
{
	struct h2_session *s = c->h2;
	if (!s || s->goaway)
		return;
	s->goaway = true;
	nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
			      nghttp2_session_get_last_proc_stream_id(s->ng), NGHTTP2_NO_ERROR,
			      NULL, 0);
	session_post(s);
}

/* GOAWAY with code, sent now as far as the socket takes it. */
static void session_goaway_now(struct h2_session *s, uint32_t code)
{
	if (!s->goaway) {
		s->goaway = true;
		nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(s->ng), code, NULL, 0);
	}
	if (nghttp2_session_send(s->ng) == 0)
		(void)conn_flush(s->c);
}

/* The CONN_H2_IDLE / CONN_H2 handler: read and feed the session, run the
 * streams, send. */
void conn_on_h2(struct conn *c)
{
	struct h2_session *s = c->h2;
	if (s->stalled) {
		log_info(c->w->log, "HTTP/2 client reads nothing: reset");
		session_goaway_now(s, NGHTTP2_ENHANCE_YOUR_CALM);
		conn_close(c);
		return;
	}
	if (c->w->draining)
		h2_session_goaway(c);
	/* What came with the preface (it was read as HTTP/1.1 was) is fed
	 * first: the read that brought it may have been the last for a while. */
	bool buffered = buf_len(&c->in) > 0;
	while ((buffered || c->readable) && nghttp2_session_want_read(s->ng)) {
		if (!buffered) {
			if (buf_acquire(&c->in, &c->w->pool) < 0)
				goto fail;
			if (buf_space(&c->in) == 0)
				buf_compact(&c->in);
			enum io_result r = conn_read(c);
			if (r == IO_AGAIN)
				break;
			if (r != IO_OK)
				goto gone;
		}
		buffered = false;
		ssize_t used = nghttp2_session_mem_recv(s->ng, (const uint8_t *)buf_rptr(&c->in),
							buf_len(&c->in));
		if (used < 0) {
			char addr[INET6_ADDRSTRLEN];
			conn_peer_name(c, addr, sizeof(addr));
			log_info(c->w->log, "%s: HTTP/2: %s: closed", addr,
				 nghttp2_strerror((int)used));
			/* Say why (RFC 9113 §5.4.1), unless it never was HTTP/2. */
			if (used != NGHTTP2_ERR_BAD_CLIENT_MAGIC)
				nghttp2_session_terminate_session(
					s->ng, used == NGHTTP2_ERR_FLOODED ||
							       used == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
						       ? NGHTTP2_ENHANCE_YOUR_CALM
						       : NGHTTP2_PROTOCOL_ERROR);
			goto fail;
		}
		buf_consume(&c->in, buf_len(&c->in));
		if (session_progress(s) < 0)
			goto fail;
	}
	/* A frame the library could not hand over (the output block was
	 * full) is asked for again once the block is out. */
	for (int round = 0;; round++) {
		if (session_progress(s) < 0)
			goto fail;
		enum flush_result fr = conn_output_pending(c) ? conn_flush(c) : FLUSH_DONE;
		if (fr == FLUSH_ERROR)
			goto gone;
		if (fr == FLUSH_AGAIN || !nghttp2_session_want_write(s->ng))
			break;
		if (round == H2_ROUNDS) {
			session_post(s); /* more next time: others go first */
			break;
		}
	}
	if (!nghttp2_session_want_read(s->ng) && !nghttp2_session_want_write(s->ng) &&
	    !conn_output_pending(c)) {
		conn_finish(c);
		return;
	}
	if (buf_len(&c->in) == 0)
		buf_release(&c->in, &c->w->pool);
	if (buf_len(&c->out) == 0)
		buf_release(&c->out, &c->w->pool);
	enum conn_state want = s->stream_count ? CONN_H2 : CONN_H2_IDLE;
	if (c->state != want) {
		s->data_sent_at_arm = s->data_sent;
		conn_set_state(c, want);
	}
	/* Idle counts from the last stream (the state change arms it), not the
	 * last frame: PINGs do not keep a connection that asks for nothing. */
	return;
fail:
	/* A protocol error: what the library queued (GOAWAY) goes, once. */
	(void)nghttp2_session_send(s->ng);
	(void)conn_flush(c);
gone:
	conn_close(c);
}

int h2_session_timeout(struct conn *c)
{
	struct h2_session *s = c->h2;
	bool waiting = conn_output_pending(c);
	for (struct h2_stream *st = s->streams; st && !waiting; st = st->next)
		waiting = buf_len(&st->resp) > 0 || st->seg_left > 0;
	bool stalled = waiting && s->data_sent == s->data_sent_at_arm;
	s->data_sent_at_arm = s->data_sent;
	if (!s->settings_acked) {
		log_info(c->w->log, "HTTP/2 client never acknowledged our SETTINGS: closed");
		session_goaway_now(s, NGHTTP2_SETTINGS_TIMEOUT);
		return 0;
	}
	if (stalled) {
		log_info(c->w->log, "HTTP/2 client reads nothing: reset");
		session_goaway_now(s, NGHTTP2_ENHANCE_YOUR_CALM);
		return -1;
	}
	if (c->state == CONN_H2)
		return 1; /* streams at work (a CGI program, a body on its way) */
	session_goaway_now(s, NGHTTP2_NO_ERROR);
	return 0;
}

void h2_session_bye(struct conn *c)
{
	if (c->h2)
		session_goaway_now(c->h2, NGHTTP2_NO_ERROR);
	conn_close(c);
}

#else /* built without libnghttp2 */

#include "conn_priv.h"

bool h2_built(void) { return false; }
int h2_session_start(struct conn *c) { (void)c; return -1; }
void h2_session_free(struct conn *c) { (void)c; }
void h2_session_goaway(struct conn *c) { (void)c; }
void conn_on_h2(struct conn *c) { conn_close(c); }
int h2_session_timeout(struct conn *c) { (void)c; return 0; }
void h2_session_bye(struct conn *c) { conn_close(c); }

#endif
