/*
 * conn_body — the core's request-body reader and the CONN_READ_BODY
 * phase (see conn_priv.h for the contract of conn_body_*).
 *
 * The head stays at the front of `in` while its body is read; decoded body
 * bytes follow it (body_pending of them) until the consumer takes them:
 * the static responder drops them, the CGI phase gives them to its
 * program. A body nobody read is read and dropped after its answer
 * (body_drain), so its bytes are never parsed as a request.
 */
#include <string.h>

#include "conn_priv.h"
#include "log.h"
#include "worker.h"

/* Remove n bytes at offset off of the readable region of `in`. */
static void conn_drop_in(struct conn *c, uint32_t off, uint32_t n)
{
	char *p = buf_rptr(&c->in);
	uint32_t tail = buf_len(&c->in) - off - n;
	memmove(p + off, p + off + n, tail);
	buf_unwind(&c->in, c->in.wpos - n);
}

void conn_body_begin(struct conn *c, const struct http_request *req)
{
	c->body_chunked = req->chunked;
	c->body_left = req->chunked ? 0 : (uint64_t)(req->content_length > 0 ? req->content_length : 0);
	c->body_pending = 0;
	c->body_done = !conn_has_body(req);
	c->body_drain = false;
	c->body_status = 0;
	http_chunked_init(&c->chunked);
	if (!c->body_done && req->expect_continue && buf_len(&c->in) == c->head_len) {
		/* The client waits for this before it sends the body (RFC 9110
		 * §10.1.1); room for it was made with the head's. Best effort: if
		 * it does not fit, the client sends after its own short wait. */
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (buf_acquire(&c->out, &c->w->pool) == 0)
			(void)buf_append(&c->out, cont, sizeof(cont) - 1);
	}
}

void conn_body_consume(struct conn *c, uint32_t n)
{
	if (n > c->body_pending)
		n = c->body_pending;
	conn_drop_in(c, c->head_len, n);
	c->body_pending -= n;
}

static enum conn_body conn_body_fail(struct conn *c, uint16_t status)
{
	c->body_status = status;
	return CONN_BODY_FAILED;
}

/* Decode the raw bytes that follow the pending ones. */
static enum conn_body conn_body_decode(struct conn *c)
{
	uint32_t start = c->head_len + c->body_pending;
	uint32_t raw = buf_len(&c->in) - start;
	if (c->body_done || raw == 0)
		return c->body_done ? CONN_BODY_DONE : CONN_BODY_AGAIN;
	if (!c->body_chunked) {
		uint32_t take = c->body_left < raw ? (uint32_t)c->body_left : raw;
		c->body_pending += take; /* bytes past the body are the next request */
		c->body_left -= take;
		c->body_done = c->body_left == 0;
		return c->body_done ? CONN_BODY_DONE : CONN_BODY_AGAIN;
	}
	size_t in_len = raw, out_len = 0;
	enum http_chunked_result r =
		http_chunked_decode(&c->chunked, buf_rptr(&c->in) + start, &in_len, &out_len);
	/* Data went to the front; drop the framing bytes that were consumed. */
	conn_drop_in(c, start + (uint32_t)out_len, (uint32_t)(in_len - out_len));
	c->body_pending += (uint32_t)out_len;
	if (r == HTTP_CHUNKED_ERROR) {
		log_info(c->w->log, "malformed chunked request body: %s",
			 http_chunked_error(&c->chunked));
		return conn_body_fail(c, 400);
	}
	if (c->chunked.total > c->w->cfg->max_body_bytes) {
		log_info(c->w->log, "chunked request body over the %llu-byte limit",
			 (unsigned long long)c->w->cfg->max_body_bytes);
		return conn_body_fail(c, 413);
	}
	c->body_done = r == HTTP_CHUNKED_DONE;
	return c->body_done ? CONN_BODY_DONE : CONN_BODY_AGAIN;
}

/* Room to read more of the body behind the head and the pending bytes.
 * false: none (the consumer must take pending bytes first) or no memory. */
static bool conn_body_room(struct conn *c)
{
	if (buf_space(&c->in) > 0)
		return true;
	buf_compact(&c->in);
	if (buf_space(&c->in) > 0)
		return true;
	if (c->body_pending > 0)
		return false; /* back-pressure */
	/* The head alone fills the buffer (a head of exactly a block, say):
	 * one more block makes room for the body. Bounded: the head is at most
	 * HTTP_HEAD_MAX_BYTES. */
	return buf_grow(&c->in, c->in.cap + BUF_BLOCK_BYTES) == 0;
}

enum conn_body conn_body_take(struct conn *c, bool *progress)
{
	if (c->body_status)
		return CONN_BODY_FAILED;
	enum conn_body r = conn_body_decode(c);
	if (r != CONN_BODY_AGAIN || !c->readable || !conn_body_room(c))
		return r;
	uint32_t before = buf_len(&c->in);
	switch (conn_read(c)) {
	case IO_OK:
		break;
	case IO_AGAIN:
		return r;
	case IO_EOF:
	case IO_ERROR:
		return CONN_BODY_GONE;
	}
	*progress = true;
	if (c->state == CONN_READ_BODY &&
	    !conn_rate_ok(c, buf_len(&c->in) - before, c->w->cfg->body_timeout_ms,
			  c->w->cfg->min_body_rate)) {
		log_info(c->w->log, "request body slower than %u bytes/s", c->w->cfg->min_body_rate);
		return conn_body_fail(c, 408);
	}
	return conn_body_decode(c);
}

void conn_request_done(struct conn *c)
{
	if (!worker_keeps_alive(c->w))
		c->close_after = true;
	c->clean_end = c->body_done && !c->body_status;
	conn_body_consume(c, c->body_pending);
	if (!c->body_done && !c->close_after && !c->body_status) {
		/* Answered before its body was in (a CGI program that did not
		 * read it): read the rest and drop it, so it is never parsed as a
		 * request; close instead if that fails. */
		c->body_drain = true;
		conn_set_state(c, CONN_READ_BODY);
		return;
	}
	conn_consume_request(c);
	conn_set_state(c, CONN_IDLE);
}

/* The body is complete (or broken): answer the request it belongs to. */
static void conn_on_body_done(struct conn *c)
{
	if (c->body_drain) {
		conn_consume_request(c);
		conn_set_state(c, CONN_IDLE);
		return;
	}
	/* RESERVE_WAIT: stay in READ_BODY; the writable edge brings us back. */
	if (conn_reserve_out(c, HTTP_RESP_HEAD_MAX_BYTES + c->w->site_fields_max) != RESERVE_OK)
		return;
	struct http_request *req = conn_request(c);
	if (c->body_status) {
		conn_respond_error(c, req, c->body_status, false, req->method == HTTP_METHOD_HEAD);
	} else if (conn_static_serve(c, req) == SERVE_RETRY) {
		return; /* nothing written: again once the socket takes more */
	}
	conn_request_done(c);
}

void conn_on_read_body(struct conn *c)
{
	for (;;) {
		if (conn_output_pending(c) && conn_flush(c) == FLUSH_ERROR) {
			conn_close(c);
			return;
		}
		bool progress = false;
		enum conn_body r = conn_body_take(c, &progress);
		conn_body_consume(c, c->body_pending); /* read and dropped */
		if (r == CONN_BODY_GONE || (r == CONN_BODY_FAILED && c->body_drain)) {
			conn_close(c); /* the answer is out already: nothing to say */
			return;
		}
		if (r != CONN_BODY_AGAIN) {
			conn_on_body_done(c);
			return;
		}
		if (!progress)
			return;
		conn_arm_timer(c); /* the body timeout is per stall, not total */
	}
}

/* Once a body is in (CGI phase): read what the client sends next, so that
 * its leaving is noticed. */
enum conn_read_more conn_read_more(struct conn *c)
{
	if (!c->readable)
		return CONN_READ_NONE;
	if (buf_space(&c->in) == 0) {
		buf_compact(&c->in);
		if (buf_space(&c->in) == 0)
			/* Full of pipelined requests: a FIN seen by epoll is all we
			 * can know. */
			return c->rdhup ? CONN_READ_GONE : CONN_READ_NONE;
	}
	switch (conn_read(c)) {
	case IO_OK: return CONN_READ_GOT;
	case IO_AGAIN: return CONN_READ_NONE;
	case IO_EOF:
	case IO_ERROR: break;
	}
	return CONN_READ_GONE;
}
