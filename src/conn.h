/*
 * conn — one client connection and its state machine.
 *
 * States (enum conn_state) and the single driver conn_run(): every
 * transition goes through conn_set_state(), which also arms the timer of the
 * new phase. Invariant: every live connection has exactly one armed timer,
 * so every phase has a timeout and a graceful stop can find every
 * connection through the timer queues.
 *
 * The socket is registered once, edge-triggered, for both directions;
 * `readable`/`writable` remember the last edge and are cleared when a read
 * or write comes back short or with EAGAIN, so a keep-alive request costs a
 * read and a write and never an epoll_ctl.
 *
 * Closing is deferred: conn_close() releases the socket, buffers and file
 * at once but the struct itself is recycled after the current epoll batch,
 * since other events of the batch may still point at it.
 */
#ifndef LISOD_CONN_H
#define LISOD_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "buf.h"
#include "http_parse.h"
#include "loop.h"
#include "transport.h"

struct worker;
struct listener;
struct cgi_proc;
struct fcache_entry;

enum conn_state {
	CONN_TLS_HANDSHAKE, /* TLS listener: until the handshake completes */
	CONN_ECHO,       /* --echo: read, write back, with back-pressure */
	CONN_READ_HEAD,  /* waiting for / parsing request heads (idle included) */
	CONN_READ_BODY,  /* reading and discarding a request body */
	CONN_CGI,        /* a CGI program runs: body to its stdin, its stdout to us */
	CONN_WRITE,      /* flushing responses the socket would not take yet */
	CONN_LINGER,     /* response sent, write side shut: drain input, then close */
	CONN_CLOSED,     /* released; struct waits to be recycled */
};

struct conn {
	struct loop_watch watch;    /* first: the loop hands back &watch */
	struct transport io;
	struct timer timer;
	struct worker *w;
	struct conn *next;          /* closing list / free list */
	struct buf in, out;
	struct http_scan scan;
	enum conn_state state;
	bool readable, writable;    /* last edge seen, not yet consumed */
	bool head_started;          /* bytes of a request head are in (408 applies) */
	bool close_after;           /* last response: close once it is sent */
	bool peer_eof;
	bool rdhup;                 /* the peer's FIN was seen: read until 0 */
	bool tls;
	bool read_wants_write;      /* TLS: a read is blocked until writable */
	bool write_wants_read;      /* TLS: a write is blocked until readable */

	uint32_t head_len;          /* READ_BODY: the head stays at in[rpos..+head_len) */
	uint64_t body_left;         /* Content-Length bytes still to read */
	uint64_t body_total;
	bool body_chunked;
	bool body_done;
	uint16_t body_status;        /* 400/413 when the body broke its framing */
	struct http_chunked chunked;

	struct cgi_proc *cgi;       /* CONN_CGI: the running program */

	struct fcache_entry *file_entry; /* held while its body is sent */
	int file_fd;                /* body to sendfile after out, or -1 (the entry's) */
	off_t file_off, file_left;

	uint16_t local_port;
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} peer;
};

/* A new socket from a listener: set up and run, or refuse (503 / close). */
void conn_accept(struct worker *w, struct listener *l, int fd,
		 const struct sockaddr_storage *peer, socklen_t peer_len);

/* Release everything; the struct is recycled by conn_reap(). */
void conn_close(struct conn *c);
/* Recycle the connections closed during this batch (the loop's batch hook). */
void conn_reap(struct worker *w);
/* Free recycled structs (worker teardown). */
void conn_free_all(struct worker *w);

/* Graceful stop: close every connection that is idle right now. */
void conn_close_idle(struct worker *w);
/* Deadline passed: close every connection. */
void conn_close_all(struct worker *w);
/* Teardown: kill and reap every CGI child (blocking; only at exit). */
void conn_cgi_kill_all(struct worker *w);
/* SIGCHLD: reap the CGI children that have no pidfd. */
void conn_cgi_on_sigchld(struct worker *w);

#endif
