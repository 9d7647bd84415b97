/*
 * daemon — detaching from the terminal and the lock file.
 *
 * daemon_start() forks twice; the launcher blocks until the daemon calls
 * daemon_ready() (ports bound, key loaded, log open, lock held) and then
 * exits 0; if the daemon exits first, the launcher exits 1. Until then the
 * daemon's stdin/stdout/stderr are still the launcher's, so its startup
 * errors reach the operator. daemon_ready() points them at /dev/null before
 * it wakes the launcher: whoever waits for EOF on the launcher's output
 * (`lisod ... | cat`, `$(lisod ...)`, ssh) waits for every process holding
 * it. So a daemon that forks (the master) calls daemon_ready() before it
 * forks: a child inherits the descriptors as they are at fork.
 */
#ifndef LISOD_DAEMON_H
#define LISOD_DAEMON_H

#include <sys/types.h>

/* In the launcher: never returns. In the daemon: returns the fd to pass to
 * daemon_ready(). -1 if fork/pipe failed (message on stderr). */
int daemon_start(void);
/* Point stdin/stdout/stderr at /dev/null, then tell the launcher we are up;
 * closes notify_fd. -1 if /dev/null could not take their place (message on
 * stderr; the launcher is not told, so it exits 1 when we do) or the
 * launcher could not be told (it is gone): either way the caller stops. */
int daemon_ready(int notify_fd);
/* daemon_ready() in two steps, for a daemon that forks between them (the
 * master: its workers must inherit /dev/null, yet it tells the launcher
 * only once they are up). daemon_detach() points stdin/stdout/stderr at
 * /dev/null and returns a close-on-exec copy of the launcher's stderr for
 * the last startup errors (a child forked meanwhile closes it and notify_fd
 * at once), or -1 (message on stderr: stop). daemon_notify() tells the
 * launcher and closes both; -1 if it could not be told. */
int daemon_detach(void);
int daemon_notify(int notify_fd, int err_fd);

/* Open and lock path, then write our pid. Returns the fd to keep open
 * (the lock lives as long as it), or -1: the message, naming the pid that
 * holds the lock when that is the cause, is written to err. */
int lockfile_acquire(const char *path, char *err, size_t errlen);
/* For -t: 0 if the lock is free (or the file does not exist and could be
 * created), 1 if a running server holds it (its pid text in holder), -1 if
 * it cannot be used (message in err). Writes and creates nothing, and
 * holds the lock for no longer than a flock/unlock pair. */
int lockfile_probe(const char *path, char *holder, size_t holder_len, char *err,
		   size_t errlen);

#endif
