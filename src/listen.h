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

#include "loop.h"

struct worker;

struct listener {
	struct loop_watch watch;  /* fd: the listening socket */
	struct worker *worker;
	uint16_t port;
	bool tls;
};

/* Create, bind and listen. Returns the fd, or -1 with a message in err. */
int listen_open(const char *addr, uint16_t port, bool reuseport, char *err, size_t errlen);

/* The loop callback: accept every pending connection (bounded per call). */
void listen_on_ready(struct loop *loop, struct loop_watch *w, uint32_t events);

#endif
