/*
 * configtest — `lisod -t`: every check a real start makes, all of them,
 * reported at once, and nothing started.
 *
 * configtest_run() checks, as the user it runs as (root checks what a root
 * start would: low ports, root-only files): socket activation, the --user
 * and its group, the document root, the CGI program or directory, CGI as
 * root, the TLS key and certificate (readable, valid, matching), the
 * ports (bound and closed at once, never listened on, never with
 * SO_REUSEPORT, so a running server's sockets are not joined), the lock
 * file (probed: never written, never created, never kept), the log files
 * (opened for append without creating them, or their directory checked).
 * Then, with --user, a child process drops to that user and makes the
 * checks that need its rights (configtest_as_user). A lock held by a
 * running server is a note, not a problem, and so is a port in use while
 * it is held (presumably by that server).
 *
 * Output: each problem on its own line on stderr ("lisod: ..."), warnings
 * ("lisod: warning: ...") on stderr too, notes ("lisod: note: ...") and
 * finally "lisod: configuration ok" on stdout. Returns the exit code:
 * 0, or 1 when there was any problem.
 */
#ifndef LISOD_CONFIGTEST_H
#define LISOD_CONFIGTEST_H

#include <stdbool.h>

#include "config.h"

enum configtest_kind { CONFIGTEST_PROBLEM, CONFIGTEST_WARNING, CONFIGTEST_NOTE };

typedef void (*configtest_report_fn)(void *arg, enum configtest_kind kind, const char *text);

int configtest_run(const struct config *cfg);

/*
 * The checks that must be made as the serving user, in a process that has
 * become it: the document root readable and searchable, the CGI program
 * executable (a CGI directory searchable), and — for a single process,
 * which reloads and reopens as that user — the key and certificate
 * readable and the logs reopenable (warnings: only SIGHUP/SIGUSR1 need
 * them). at_startup: only the document root is a problem, the rest are
 * warnings. Returns the number of problems reported.
 */
unsigned configtest_as_user(const struct config *cfg, const char *user, bool single,
			    bool at_startup, configtest_report_fn report, void *arg);

#endif
