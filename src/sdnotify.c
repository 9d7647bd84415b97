/*
 * sdnotify — sd_notify datagrams written by hand. See sdnotify.h.
 */
#include "sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { SDNOTIFY_MSG_MAX = 1024 };

int sdnotify_init(struct sdnotify *n, char *err, size_t errlen)
{
	memset(n, 0, sizeof(*n));
	const char *v = getenv("NOTIFY_SOCKET");
	if (!v)
		return 0;
	size_t len = strlen(v);
	bool abstract = v[0] == '@';
	/* A path needs its NUL inside sun_path; an abstract name does not. */
	size_t max = sizeof(n->addr.sun_path) - (abstract ? 0 : 1);
	int rc = 0;
	if (v[0] != '/' && !(abstract && len > 1)) {
		snprintf(err, errlen, "NOTIFY_SOCKET '%.200s' is neither an absolute path nor an "
			 "@abstract name: not notifying systemd", v);
		rc = -1;
	} else if (len > max) {
		snprintf(err, errlen, "NOTIFY_SOCKET is too long for a unix socket address: "
			 "not notifying systemd");
		rc = -1;
	} else {
		n->addr.sun_family = AF_UNIX;
		memcpy(n->addr.sun_path, v, len);
		if (abstract)
			n->addr.sun_path[0] = '\0';
		n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
					  (abstract ? 0 : 1));
		n->on = true;
	}
	/* Gone from the environment whatever it held: no child inherits it. */
	unsetenv("NOTIFY_SOCKET");
	return rc;
}

static int send_text(const struct sdnotify *n, const char *msg, size_t len)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ssize_t r;
	do
		r = sendto(fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
			   n->addr_len);
	while (r < 0 && errno == EINTR);
	int saved = errno;
	close(fd);
	if (r == (ssize_t)len)
		return 0;
	errno = r < 0 ? saved : EMSGSIZE;
	return -1;
}

int sdnotify_send(const struct sdnotify *n, const char *fmt, ...)
{
	if (!n || !n->on)
		return 0;
	char msg[SDNOTIFY_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(msg)) {
		errno = EMSGSIZE;
		return -1;
	}
	return send_text(n, msg, (size_t)len);
}

int sdnotify_ready(const struct sdnotify *n, const char *status)
{
	if (!n || !n->on)
		return 0;
	if (n->main_pid)
		return sdnotify_send(n, "READY=1\nSTATUS=%s\nMAINPID=%ld", status,
				     (long)getpid());
	return sdnotify_send(n, "READY=1\nSTATUS=%s", status);
}

int sdnotify_reloading(const struct sdnotify *n)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return -1;
	uint64_t usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	return sdnotify_send(n, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
			     (unsigned long long)usec);
}

int sdnotify_stopping(const struct sdnotify *n)
{
	return sdnotify_send(n, "STOPPING=1\nSTATUS=stopping");
}
