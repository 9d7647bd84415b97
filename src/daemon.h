/*
 * daemon — detaching from the terminal and the lock file.
 *
 * daemon_start() forks twice; the launcher blocks until the daemon calls
 * daemon_ready() (ports bound, key loaded, log open, lock held) and then
 * exits 0; if the daemon exits first, the launcher exits 1. The daemon's
 * messages before it is ready go to the launcher's stderr.
 */
#ifndef LISOD_DAEMON_H
#define LISOD_DAEMON_H

#include <sys/types.h>

/* In the launcher: never returns. In the daemon: returns the fd to pass to
 * daemon_ready(). -1 if fork/pipe failed (message on stderr). */
int daemon_start(void);
/* Tell the launcher we are up; point stdin/stdout/stderr at /dev/null. */
void daemon_ready(int notify_fd);

/* Open and lock path, then write our pid. Returns the fd to keep open
 * (the lock lives as long as it), or -1: the message, naming the pid that
 * holds the lock when that is the cause, is written to err. */
int lockfile_acquire(const char *path, char *err, size_t errlen);

#endif
