/*
 * listen — listening sockets: creation before the server is ready (so a
 * bad port fails the launch), and the accept loop on the event loop.
 *
 * A listener is bound dual-stack ([::] with IPV6_V6ONLY off) unless an
 * address is given. Sockets are non-blocking, close-on-exec, SO_REUSEADDR;
 * SO_REUSEPORT when the caller will open one socket per worker.
 */
#ifndef LISOD_LISTEN_H
#define LISOD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"

struct log;
struct listener;

/* What a listener hands each accepted socket to (its owner: a worker). */
typedef void (*listen_accept_fn)(struct listener *l, int fd,
				 const struct sockaddr_storage *peer, socklen_t peer_len);

/* Descriptor exhaustion: a descriptor kept in reserve and spent to accept
 * and close a connection when accept fails with EMFILE/ENFILE, so the
 * client gets a clean close and the level-triggered listener does not spin.
 * One per process, shared by its listeners. */
struct listen_reserve {
	int fd;                   /* /dev/null, or -1 while spent */
	uint64_t shed;            /* connections shed so far */
	uint64_t last_log_ms;
	struct log *log;
};

struct listener {
	struct loop_watch watch;  /* fd: the listening socket */
	uint16_t port;
	bool tls;
	bool shared;              /* one socket for every worker (socket activation) */
	listen_accept_fn on_accept;
	void *owner;              /* for on_accept */
	struct listen_reserve *reserve;
};

/* 0, or -1 with errno (the reserve descriptor cannot be opened). */
int listen_reserve_init(struct listen_reserve *r, struct log *log);
void listen_reserve_fini(struct listen_reserve *r);

/* Create, bind and listen. Returns the fd, or -1 with a message in err. */
int listen_open(const char *addr, uint16_t port, bool reuseport, char *err, size_t errlen);

/* Bind like listen_open() (without SO_REUSEPORT, so a running server's
 * sockets cannot be joined) and close at once, never listening: does the
 * port look free to us? For -t. 0, or -1 with a message in err. */
int listen_check(const char *addr, uint16_t port, char *err, size_t errlen);

/* Put the listener's watch on the loop: level-triggered, and with
 * EPOLLEXCLUSIVE when the socket is shared by several workers (see
 * listen.c for how they take turns). 0, or -1 with errno. */
int listen_watch(struct loop *loop, struct listener *l);

/* The loop callback of a listener's watch (level-triggered): accept up to
 * a bounded batch of pending connections and hand each to on_accept. */
void listen_on_ready(struct loop *loop, struct loop_watch *w, uint32_t events);

#endif
