/*
 * sdlisten — systemd socket activation (sd_listen_fds(3)), without
 * libsystemd: the listening sockets a service manager opened for us.
 *
 * The protocol: $LISTEN_PID is our pid, $LISTEN_FDS = n, and the sockets
 * are descriptors 3 .. 3+n-1, named in order by $LISTEN_FDNAMES
 * ("name:name:..."; FileDescriptorName= in a .socket unit, --fdname= of
 * systemd-socket-activate). lisod needs each named "http" or "https": that
 * is how it tells plain from TLS listeners. An unnamed socket (systemd
 * then names it after the unit, "lisod") or any other name is an error,
 * as is a descriptor that is not a listening TCP stream socket
 * (SO_ACCEPTCONN). Several sockets may share a name (IPv4 and IPv6, two
 * addresses).
 *
 * sdlisten_adopt() makes each socket non-blocking and close-on-exec (no CGI
 * program may inherit one), sets TCP_NODELAY as on our own listeners, and unsets LISTEN_PID, LISTEN_FDS and
 * LISTEN_FDNAMES, whatever they held, so no child believes they are its.
 * Variables meant for another pid are ignored (as sd_listen_fds does) and
 * reported in `ignored`.
 *
 * Owns: nothing; the descriptors belong to the caller once adopted.
 * Errors: -1 with a one-line message in err (no "lisod: " prefix).
 */
#ifndef LISOD_SDLISTEN_H
#define LISOD_SDLISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SDLISTEN_FD_START = 3, SDLISTEN_MAX = 4 };

struct sdlisten_socket {
	int fd;
	bool tls;        /* named "https" */
	uint16_t port;   /* its local port (getsockname) */
};

struct sdlisten {
	unsigned count;
	struct sdlisten_socket sockets[SDLISTEN_MAX];
	bool http, https;  /* some socket of that kind was handed over */
	bool ignored;      /* LISTEN_FDS was set for another pid */
};

/* 0 (count 0: not socket-activated), or -1 with the reason in err. */
int sdlisten_adopt(struct sdlisten *s, char *err, size_t errlen);

#endif
