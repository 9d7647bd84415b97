/*
 * conn_priv — struct conn, its states, and the core's services to the
 * phases. Shared by conn.c (the state machine, I/O, request heads),
 * conn_body.c (request bodies), conn_static.c (answers from the document
 * root) and conn_cgi.c (the CONN_CGI phase). Not for any other module.
 *
 * States (enum conn_state) and the single driver conn_run(): every
 * transition goes through conn_set_state(), which also arms the timer of
 * the new phase. Invariant: every live connection has exactly one armed
 * timer, so every phase has a timeout and a graceful stop can find every
 * connection through the timer queues.
 *
 * The socket is registered once, edge-triggered, for both directions;
 * `readable`/`writable` remember the last edge and are cleared when a read
 * or write comes back short or with EAGAIN, so a keep-alive request costs a
 * read and a write and never an epoll_ctl.
 *
 * Bounded work per wakeup: every read and write of a connection, on its
 * socket or its CGI program's pipes, takes one unit of io_budget
 * (conn_budget_take). When the budget is spent the connection posts itself
 * to the loop (loop_post) and resumes in the next iteration, so no peer can
 * hold the loop however fast it sends or reads.
 */
#ifndef LISOD_CONN_PRIV_H
#define LISOD_CONN_PRIV_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "accept_enc.h"
#include "buf.h"
#include "conn.h"
#include "http_parse.h"
#include "loop.h"
#include "transport.h"

struct conn_cgi;
struct h2_session;
struct fcache_entry;
struct zcache_item;

enum conn_state {
	CONN_PROXY,      /* --proxy-protocol: reading the balancer's PROXY header */
	CONN_TLS_HANDSHAKE, /* TLS listener: until the handshake completes */
	CONN_ECHO,       /* --echo: read, write back, with back-pressure */
	CONN_IDLE,       /* between requests: no byte of the next head yet */
	CONN_READ_HEAD,  /* a head has begun and is not complete (408 applies) */
	CONN_READ_BODY,  /* reading a request body (to discard it, or the rest
	                  * of one a CGI program did not read: body_drain) */
	CONN_CGI,        /* a CGI program runs: body to its stdin, its stdout to us */
	CONN_WRITE,      /* flushing responses the socket would not take yet */
	CONN_H2_IDLE,    /* HTTP/2 (h2.c) with no stream open: the idle timeout */
	CONN_H2,         /* HTTP/2 with streams: a connection whose answers wait
	                  * and do not move for a write timeout is reset */
	CONN_LINGER,     /* response sent, write side shut: drain input, then close */
	CONN_CLOSED,     /* released; struct waits to be recycled */
	CONN_STATE_COUNT
};

struct conn {
	struct loop_watch watch;    /* the socket; the loop hands back &watch */
	struct transport io;
	struct timer timer;
	struct worker *w;
	struct conn *next;          /* closing list / free list */
	struct buf in, out;
	struct http_scan scan;
	enum conn_state state;
	bool readable, writable;    /* last edge seen, not yet consumed */
	bool resume_read, resume_write; /* cleared by a spent budget: set again when posted */
	uint8_t io_budget;          /* I/O operations left in this wakeup */
	bool close_after;           /* last response: close once it is sent */
	bool peer_eof;
	bool rdhup;                 /* the peer's FIN was seen: read until 0 */
	bool tls;
	bool read_wants_write;      /* TLS: a read is blocked until writable */
	bool write_wants_read;      /* TLS: a write is blocked until readable */
	bool refusing;              /* over the connection limit: 503, then close */
	bool answered;              /* some request of it was answered */
	bool clean_end;             /* the last answer's request was read whole
	                             * (head and body): no lingering needed if
	                             * nothing follows it (conn_finish) */
	bool h2_stream;             /* an HTTP/2 stream's inner connection (h2.c):
	                             * no socket, its transport is the stream */

	/* The request body (conn_body_*). The head stays at in[rpos..+head_len);
	 * decoded body bytes not yet consumed follow it (body_pending). */
	bool body_chunked;
	bool body_done;             /* every body byte has arrived */
	bool body_drain;            /* answered already: read the rest, drop it */
	uint16_t body_status;       /* 400/408/413 when the body failed */
	uint32_t head_len;
	uint32_t body_pending;
	uint64_t body_left;         /* Content-Length bytes still to arrive */
	struct http_chunked chunked;

	/* Minimum data rate of READ_BODY and WRITE: bytes moved in the current
	 * window, which is one phase timeout long (conn_rate_ok). */
	uint32_t window_start_ms, window_bytes;

	struct conn_cgi *cgi;       /* CONN_CGI: the relay */
	struct h2_session *h2;      /* CONN_H2*: the HTTP/2 session */

	struct fcache_entry *file_entry; /* held while its body is sent */
	const struct zcache_item *zitem; /* or: a compressed body in memory, held */
	int file_fd;                /* body to sendfile after out, or -1 (the entry's) */
	off_t file_off, file_left;  /* of the file, or of zitem's bytes */

	uint16_t local_port;
	uint16_t site;              /* of the request being answered (cfg->sites) */
	uint16_t tls_site;          /* the site its TLS handshake was for (SNI) */
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} peer;
};

enum flush_result { FLUSH_DONE, FLUSH_AGAIN, FLUSH_ERROR };

/* An HTTP/2 stream's inner connection over ops (the stream's transport,
 * its state impl): no socket, no loop registration; tls and tls_site are
 * its connection's. It runs at once (the request is there). */
void conn_start_stream(struct conn *c, const struct transport_ops *ops, void *impl, bool tls,
		       uint16_t tls_site);
/* The last answer is out: FIN (close_notify), then CONN_LINGER; or, when
 * nothing of the client's is unread (clean_end), close at once. */
void conn_finish(struct conn *c);

void conn_set_state(struct conn *c, enum conn_state s);
/* Progress of n bytes in a phase with a minimum data rate: false when the
 * window (one phase timeout long) that just ended moved too little. */
bool conn_rate_ok(struct conn *c, uint64_t n, uint32_t window_ms, uint32_t min_rate);
void conn_arm_timer(struct conn *c);
void conn_close(struct conn *c);
/* Run the state machine for an event of another descriptor (a CGI pipe):
 * a wakeup of its own, with a fresh budget. */
void conn_wake(struct conn *c);
/* One unit of this wakeup's I/O budget; false: spent (the connection is
 * posted and resumes in the next loop iteration). */
bool conn_budget_take(struct conn *c);

enum io_result conn_read(struct conn *c);
bool conn_output_pending(const struct conn *c);
/* A body queued after `out` (a file, or compressed bytes in memory). */
static inline bool conn_body_queued(const struct conn *c)
{
	return c->file_fd >= 0 || c->zitem;
}
enum flush_result conn_flush(struct conn *c);

enum conn_read_more { CONN_READ_NONE, CONN_READ_GOT, CONN_READ_GONE };
/* Read what the client sends next (pipelined requests) into `in` if it is
 * readable and there is room; CONN_READ_GONE: it closed or reset. */
enum conn_read_more conn_read_more(struct conn *c);

enum reserve_result { RESERVE_OK, RESERVE_WAIT, RESERVE_CLOSED };
/* Make room in `out` for need bytes, flushing earlier answers first (and
 * growing an empty buffer too small for one answer). WAIT: the socket is
 * full, retry when writable; CLOSED: the connection was closed. */
enum reserve_result conn_reserve_out(struct conn *c, uint32_t need);

bool conn_has_body(const struct http_request *req);
/* The head at the front of `in`, parsed again (pure: the same result as
 * when it arrived) into the worker's scratch request. */
struct http_request *conn_request(struct conn *c);
/* The answer to req is queued: the access log line, and whether the
 * connection goes on after it (keep_alive false: it is the last). */
void conn_answered(struct conn *c, const struct http_request *req, int status,
		   uint64_t body_bytes, bool keep_alive);
/* The fields the connection's site adds to every answer (its `header`
 * lines; HSTS on TLS), into h. c->site is the request's once routed; an
 * answer before that (a bad head) gets the last request's site's. */
struct http_resp_head;
void conn_site_fields(const struct conn *c, struct http_resp_head *h);
/* Queue h's answer with the short page naming its status (HEAD: the head
 * alone), the site's fields added; room for it was made. */
void conn_respond_page(struct conn *c, const struct http_request *req, struct http_resp_head *h,
		       bool head_only);
void conn_respond_error(struct conn *c, const struct http_request *req, int status,
			bool keep_alive, bool head_only);
/* Drop the head at the front of `in` (no body left) and reset the scanner. */
void conn_consume_request(struct conn *c);
/* The answer to the request at the front of `in` is queued: drop what is
 * left of its body, or read and drop the rest first (body_drain), then go
 * on with the next request (close_after decides whether there is one). */
void conn_request_done(struct conn *c);
void conn_peer_name(const struct conn *c, char *out, socklen_t cap);
uint16_t conn_peer_port(const struct conn *c);

/* The request body: framing from the head, bytes decoded in place. */
enum conn_body { CONN_BODY_AGAIN, CONN_BODY_DONE, CONN_BODY_FAILED, CONN_BODY_GONE };
/* Start reading req's body (nothing to do if it has none); queues
 * "100 Continue" when the client waits for it. */
void conn_body_begin(struct conn *c, const struct http_request *req);
/* Decode what has arrived, reading the client once more when it is
 * readable and there is room. *progress: bytes were read. DONE: every body
 * byte is in (some may still be pending); FAILED: conn_body_status() says
 * why (400 bad chunking, 408 too slow, 413 too large); GONE: the client
 * closed or reset. Back-pressure: nothing is read while the decoded bytes
 * fill the buffer. */
enum conn_body conn_body_take(struct conn *c, bool *progress);
static inline uint32_t conn_body_pending(const struct conn *c) { return c->body_pending; }
static inline const char *conn_body_data(const struct conn *c)
{
	return buf_rptr(&c->in) + c->head_len;
}
static inline bool conn_body_complete(const struct conn *c) { return c->body_done; }
static inline int conn_body_status(const struct conn *c) { return c->body_status; }
/* The first n pending body bytes were used. */
void conn_body_consume(struct conn *c, uint32_t n);

/* conn_body.c: the CONN_READ_BODY phase */
void conn_on_read_body(struct conn *c);

/* conn_static.c: answer from the document root. RETRY: nothing was
 * written, try again once earlier answers are out (a long Location). */
/* conn_site.c: OPTIONS, and plain HTTP sent to HTTPS. */
bool conn_is_options(const struct http_request *req);
/* A CORS preflight's answer, or 501 where the site has no CORS. */
void conn_options(struct conn *c, const struct http_request *req, bool keep);
/* 308 to https:// when the site says so; false: not redirected. */
bool conn_https_redirect(struct conn *c, const struct http_request *req, bool keep,
			 bool head_only);

/* The content coding to answer req with among `available` (bits of
 * accept_enc.h's codings; identity is always available), by its
 * Accept-Encoding. conn_static.c. */
enum content_coding conn_choose_coding(const struct http_request *req, unsigned available);

enum serve_result { SERVE_DONE, SERVE_RETRY };
enum serve_result conn_static_serve(struct conn *c, const struct http_request *req);

/* conn_endpoints.c: the health and status paths. NONE: not one of ours;
 * RETRY: nothing written, again once earlier answers are out. */
enum endpoint_result { ENDPOINT_NONE, ENDPOINT_DONE, ENDPOINT_RETRY };
enum endpoint_result conn_endpoint(struct conn *c, const struct http_request *req);

/* h2.c: the CONN_H2_IDLE and CONN_H2 phases. h2_session_start: a session
 * for c (c->h2), its SETTINGS queued; -1 out of memory. The handler reads,
 * runs the streams and sends. h2_session_timeout: the phase's timer fired:
 * 1 keep waiting, 0 close (a GOAWAY was sent), -1 reset (a stalled
 * reader). h2_session_goaway: graceful stop (streams in flight finish);
 * h2_session_bye: GOAWAY if it can go at once, then close. */
int h2_session_start(struct conn *c);
void conn_on_h2(struct conn *c);
int h2_session_timeout(struct conn *c);
void h2_session_goaway(struct conn *c);
void h2_session_bye(struct conn *c);
void h2_session_free(struct conn *c);

/* conn_cgi.c: the CONN_CGI phase */
void conn_cgi_start(struct conn *c, const struct http_request *req);
void conn_on_cgi(struct conn *c);
void conn_cgi_timeout(struct conn *c);
void conn_cgi_detach(struct conn *c, bool kill_child);

#endif
