/*
 * fake_transport — an in-memory transport (transport.h) for driving a
 * connection without a socket, as s2n-tls drives its state machine through
 * injectable I/O: reads come from scripted chunks, writes land in a
 * capture buffer that takes at most `window` more bytes (0: "the socket is
 * full", IO_AGAIN), sendfile copies from the file with pread.
 *
 * Used by tests/unit/test_conn.c and tests/fuzz/fuzz_conn.c. Header-only:
 * every function is static.
 */
#ifndef LISOD_FAKE_TRANSPORT_H
#define LISOD_FAKE_TRANSPORT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport.h"

enum { FAKE_CHUNKS_MAX = 4096 };

enum fake_end { FAKE_AGAIN, FAKE_EOF, FAKE_RESET };

struct fake_io {
	/* what the client sends, one chunk per read (a read takes what fits) */
	const char *chunk[FAKE_CHUNKS_MAX];
	size_t chunk_len[FAKE_CHUNKS_MAX];
	unsigned chunks, next;
	size_t next_off;          /* bytes of chunk[next] already read */
	unsigned released;        /* chunks the client has sent so far */
	enum fake_end end;        /* once the sent chunks are read */
	unsigned reads;           /* read calls, for back-pressure checks */
	/* what the server sends */
	char *out;
	size_t out_len, out_cap;
	size_t window;            /* bytes the "socket" still takes */
	bool shut, freed;
};

static inline void fake_reset(struct fake_io *f)
{
	free(f->out);
	memset(f, 0, sizeof(*f));
	f->window = SIZE_MAX;
}

/* Queue a chunk the client will send (on fake_release). */
static inline void fake_add(struct fake_io *f, const char *p, size_t n)
{
	if (f->chunks < FAKE_CHUNKS_MAX) {
		f->chunk[f->chunks] = p;
		f->chunk_len[f->chunks] = n;
		f->chunks++;
	}
}

/* The client sends the next queued chunk (or all of them). */
static inline void fake_release(struct fake_io *f, bool all)
{
	if (f->released < f->chunks)
		f->released = all ? f->chunks : f->released + 1;
}

static enum io_result fake_read(struct transport *t, void *buf, size_t len, size_t *n)
{
	struct fake_io *f = t->impl;
	*n = 0;
	f->reads++;
	while (f->next < f->released && f->next_off == f->chunk_len[f->next]) {
		f->next++;
		f->next_off = 0;
	}
	if (f->next < f->released) {
		size_t left = f->chunk_len[f->next] - f->next_off;
		size_t take = left < len ? left : len;
		memcpy(buf, f->chunk[f->next] + f->next_off, take);
		f->next_off += take;
		*n = take;
		return IO_OK;
	}
	if (f->released == f->chunks && f->end == FAKE_EOF)
		return IO_EOF;
	if (f->released == f->chunks && f->end == FAKE_RESET)
		return IO_ERROR;
	t->want_write = false;
	return IO_AGAIN;
}

static inline bool fake_put(struct fake_io *f, const void *p, size_t n)
{
	if (f->out_len + n > f->out_cap) {
		size_t cap = f->out_cap ? f->out_cap : 4096;
		while (cap < f->out_len + n)
			cap *= 2;
		char *o = realloc(f->out, cap);
		if (!o)
			return false;
		f->out = o;
		f->out_cap = cap;
	}
	memcpy(f->out + f->out_len, p, n);
	f->out_len += n;
	return true;
}

static enum io_result fake_writev(struct transport *t, const struct iovec *iov, int iovcnt,
				  bool more, size_t *n)
{
	(void)more;
	struct fake_io *f = t->impl;
	*n = 0;
	for (int i = 0; i < iovcnt && f->window > 0; i++) {
		size_t take = iov[i].iov_len < f->window ? iov[i].iov_len : f->window;
		if (!fake_put(f, iov[i].iov_base, take))
			return IO_ERROR;
		f->window -= take;
		*n += take;
		if (take < iov[i].iov_len)
			break;
	}
	if (*n == 0 && iovcnt > 0) {
		t->want_write = true;
		return IO_AGAIN;
	}
	return IO_OK;
}

static enum io_result fake_sendfile(struct transport *t, int fd, off_t *off, size_t len, size_t *n)
{
	struct fake_io *f = t->impl;
	char buf[16384];
	*n = 0;
	if (f->window == 0) {
		t->want_write = true;
		return IO_AGAIN;
	}
	/* as much as the "socket" takes: a short count means it is full */
	while (*n < len && f->window > 0) {
		size_t want = len - *n < sizeof(buf) ? len - *n : sizeof(buf);
		if (want > f->window)
			want = f->window;
		ssize_t r = pread(fd, buf, want, *off);
		if (r <= 0)
			return *n ? IO_OK : IO_ERROR;
		if (!fake_put(f, buf, (size_t)r))
			return IO_ERROR;
		f->window -= (size_t)r;
		*off += r;
		*n += (size_t)r;
	}
	return IO_OK;
}

static enum io_result fake_handshake(struct transport *t)
{
	(void)t;
	return IO_OK;
}

static enum io_result fake_shutdown(struct transport *t)
{
	((struct fake_io *)t->impl)->shut = true;
	return IO_OK;
}

static inline void fake_free(struct transport *t)
{
	((struct fake_io *)t->impl)->freed = true;
}

static const struct transport_ops fake_transport_ops = {
	.secure = false,
	.read = fake_read,
	.writev = fake_writev,
	.sendfile = fake_sendfile,
	.handshake = fake_handshake,
	.shutdown = fake_shutdown,
	.free = fake_free,
};

/* ---- reading back what the server sent ------------------------------------ */

struct fake_resp {
	int status;
	size_t head_off, head_len;    /* the head, in out */
	size_t body_off, body_len;    /* the body, in out (dechunked length for chunked) */
};

/* Find a header's value in a head (case-insensitive name); NULL if absent. */
static inline const char *fake_header(const char *head, size_t len, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = head, *end = head + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			while (v < eol && *v == ' ')
				v++;
			const char *ve = eol;
			if (ve > v && ve[-1] == '\r')
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

/* Parse the responses in f->out: up to max into r. head_only[i]: the i-th
 * answer has no body (a HEAD). Returns how many parsed; *bad is set when the
 * bytes are not a well-formed sequence of answers (a status line, fields,
 * then a body framed by Content-Length or chunked, none for 1xx/204/304 and
 * HEAD). A trailing incomplete answer stops the parse without *bad. */
static inline unsigned fake_responses(const struct fake_io *f, struct fake_resp *r, unsigned max,
			       const bool *head_only, bool *bad)
{
	size_t pos = 0;
	unsigned n = 0, final_answers = 0;
	*bad = false;
	while (pos < f->out_len && n < max) {
		const char *p = f->out + pos;
		size_t left = f->out_len - pos;
		const char *e = memmem(p, left, "\r\n\r\n", 4);
		if (!e)
			return n;
		size_t hl = (size_t)(e - p) + 4;
		if (hl < 13 || memcmp(p, "HTTP/1.1 ", 9) != 0 || p[12] != ' ' ||
		    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
		    p[11] > '9') {
			*bad = true;
			return n;
		}
		for (size_t i = 0; i < hl; i++)
			if ((p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) ||
			    (p[i] == '\r' && p[i + 1] != '\n') || p[i] == '\0') {
				*bad = true;
				return n;
			}
		int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
		struct fake_resp *x = &r[n];
		x->status = status;
		x->head_off = pos;
		x->head_len = hl;
		x->body_off = pos + hl;
		x->body_len = 0;
		bool interim = status >= 100 && status < 200;
		bool no_body = interim || status == 204 || status == 304 ||
			       (head_only && head_only[final_answers]);
		size_t vl;
		const char *cl = fake_header(p, hl, "Content-Length", &vl);
		const char *te = fake_header(p, hl, "Transfer-Encoding", &vl);
		size_t body_end = pos + hl;
		if (!no_body && te) {
			/* chunked: walk the chunks */
			size_t q = pos + hl, total = 0;
			for (;;) {
				const char *line = f->out + q;
				const char *le = memmem(line, f->out_len - q, "\r\n", 2);
				if (!le)
					return n;
				size_t sz = strtoul(line, NULL, 16);
				q += (size_t)(le - line) + 2;
				if (sz == 0) {
					if (f->out_len - q < 2)
						return n;
					q += 2; /* no trailers from us */
					break;
				}
				if (f->out_len - q < sz + 2)
					return n;
				total += sz;
				q += sz + 2;
			}
			x->body_len = total;
			body_end = q;
		} else if (!no_body && cl) {
			size_t len = strtoul(cl, NULL, 10);
			if (f->out_len - (pos + hl) < len)
				return n;
			x->body_len = len;
			body_end = pos + hl + len;
		} else if (!no_body) {
			*bad = true; /* every answer of ours is framed */
			return n;
		}
		pos = body_end;
		n++;
		if (!interim)
			final_answers++;
	}
	return n;
}

#endif
