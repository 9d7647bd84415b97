/*
 * sdnotify — telling systemd how we are (sd_notify(3)), without libsystemd.
 *
 * sdnotify_init() reads $NOTIFY_SOCKET once at startup and removes it from
 * the environment, so no child (a worker's CGI program above all) can see
 * it: only the process that holds the struct notifies. The address is a
 * unix datagram socket path ("/run/systemd/notify") or an abstract name
 * ("@..."). Each message is one datagram of newline-separated KEY=VALUE
 * lines, sent from a socket opened and closed for it (close-on-exec,
 * MSG_NOSIGNAL), as libsystemd does; systemd learns our pid from the
 * kernel's credentials.
 *
 * What lisod sends, and when (docs/design.md, "systemd"):
 *   READY=1 + STATUS=...        once serving (every worker up), and after
 *                               each reload
 *   RELOADING=1 + MONOTONIC_USEC=...  when a SIGHUP reload starts
 *   STOPPING=1 + STATUS=...     when a graceful stop starts
 *   MAINPID=pid                 with READY=1 when the notifying process is
 *                               not the one systemd started (a daemon)
 *
 * Sending is best effort: a failure is returned (errno) for the caller to
 * log, never fatal. With no $NOTIFY_SOCKET every call does nothing.
 */
#ifndef LISOD_SDNOTIFY_H
#define LISOD_SDNOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

struct sdnotify {
	bool on;                 /* $NOTIFY_SOCKET was set and usable */
	bool main_pid;           /* send MAINPID= with READY=1 */
	socklen_t addr_len;
	struct sockaddr_un addr;
};

/* From $NOTIFY_SOCKET (then unset). 0: n->on says whether to notify; -1: the
 * variable is set but unusable (relative path, too long, another scheme
 * such as vsock:), with the reason in err; n->on is false. */
int sdnotify_init(struct sdnotify *n, char *err, size_t errlen);

/* One datagram with these lines (no trailing newline needed). 0, or -1
 * with errno; 0 when n is NULL or off. */
int sdnotify_send(const struct sdnotify *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* READY=1 and STATUS=status (and MAINPID= when n->main_pid). */
int sdnotify_ready(const struct sdnotify *n, const char *status);
/* RELOADING=1 and MONOTONIC_USEC= (CLOCK_MONOTONIC, as systemd >= 253
 * wants for Type=notify-reload; older ones ignore it). */
int sdnotify_reloading(const struct sdnotify *n);
/* STOPPING=1 and STATUS=stopping. */
int sdnotify_stopping(const struct sdnotify *n);

#endif
