/*
 * conn — client connections: accept, serve HTTP/1.1 (or echo), close.
 *
 * The public side is these few functions; the state machine and struct
 * conn are private to conn.c and conn_cgi.c (conn_priv.h).
 *
 * Closing is deferred: conn_close() releases the socket, buffers and file
 * at once, but the struct itself is recycled by conn_reap() after the
 * current epoll batch, since other events of the batch may still point at
 * it.
 */
#ifndef LISOD_CONN_H
#define LISOD_CONN_H

#include <sys/socket.h>

struct worker;
struct listener;

/* A new socket from a listener: set up and run, or refuse (503 / close). */
void conn_accept(struct worker *w, struct listener *l, int fd,
		 const struct sockaddr_storage *peer, socklen_t peer_len);

/* Recycle the connections closed during this batch (the loop's batch hook). */
void conn_reap(struct worker *w);
/* Free recycled structs (worker teardown). */
void conn_free_all(struct worker *w);

/* Graceful stop: close every connection that is idle right now. */
void conn_close_idle(struct worker *w);
/* Deadline passed: close every connection. */
void conn_close_all(struct worker *w);

#endif
