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

#include <stdint.h>
#include <sys/socket.h>

struct worker;
struct listener;
struct conn;
struct transport_ops;

/* A new socket from a listener: set up and run, or refuse (503 / close). */
void conn_accept(struct worker *w, struct listener *l, int fd,
		 const struct sockaddr_storage *peer, socklen_t peer_len);

/* The two halves of conn_accept, so that a connection can be driven over
 * another transport (the tests' in-memory one). conn_new: a connection for
 * fd (-1: none; nothing is registered with the loop and the driver
 * delivers events itself), NULL when out of memory. conn_start: serve over
 * ops, whose state is impl (TLS: the SSL); it runs the first phase at once
 * (a TLS handshake, echo, or the wait for a request). -1: it could not be
 * registered (logged; fd closed, the connection recycled). */
struct conn *conn_new(struct worker *w, int fd, const struct sockaddr_storage *peer,
		      socklen_t peer_len, uint16_t local_port);
int conn_start(struct conn *c, const struct transport_ops *ops, void *impl);

/* Recycle the connections closed during this batch (the loop's batch hook). */
void conn_reap(struct worker *w);
/* Free recycled structs (worker teardown). */
void conn_free_all(struct worker *w);

/* Graceful stop: close every connection that is idle right now. */
void conn_close_idle(struct worker *w);
/* A reload replaced us (no stop of the server): an idle keep-alive
 * connection is read once more (a request may be on its way) and closed
 * if nothing came; handshakes and connections not yet used go on, to
 * their first answer (sent with Connection: close). */
void conn_retire_idle(struct worker *w);
/* Deadline passed: close every connection. */
void conn_close_all(struct worker *w);
/* Once a second: TLS connections idle for a second or more give back
 * OpenSSL's record buffers (a busy one keeps them from request to
 * request). */
void conn_release_quiet_tls(struct worker *w);

#endif
