/*
 * master — several worker processes around the same listening sockets.
 *
 * The master keeps the lock file, the signals, its log and its privileges
 * (with --user it stays root, as nginx's does: it reads no request); it
 * forks N workers after everything that can fail at startup has been
 * opened, so each worker runs the very same loop as a single-process lisod.
 * A worker drops to --user right after the fork, before it touches the
 * document root, and tells the master it is up over its channel (chan.h).
 * Once every worker is up the master is ready: it wakes a daemon's
 * launcher and tells systemd (READY=1).
 *
 * Listeners: each worker has its own SO_REUSEPORT socket per port (opened
 * by main), so the kernel spreads connections over the workers and a new
 * one wakes only the worker it is queued for; sockets handed over by
 * systemd are one per port, shared by every worker (EPOLLEXCLUSIVE).
 *
 * A worker that dies is logged and restarted (after a pause if it dies
 * right after starting, so a crash loop cannot become a fork storm); one
 * that dies before the first readiness fails the start. SIGTERM/SIGINT are
 * forwarded; on a stop the master waits for the workers (killing them
 * after the shutdown deadline) and exits 0. SIGHUP and SIGUSR1 are not
 * forwarded: the master reads the key and certificate and reopens the
 * logs itself, as root, and hands them over to every worker, which cannot
 * open root-only files after the drop (docs/design.md).
 *
 * With -c (a configuration file; then there is a master even for one
 * worker) SIGHUP and SIGUSR1 reload instead: the file is read again and
 * checked whole (reload.h); on any problem the running configuration
 * stays. Else a new generation of workers starts beside the running one,
 * on the same sockets for the ports that stay; once every new worker is
 * up the old ones stop accepting, finish their requests and exit (killed
 * after the shutdown deadline). A new worker that fails first fails the
 * reload, not the server.
 */
#ifndef LISOD_MASTER_H
#define LISOD_MASTER_H

#include "worker.h"

struct priv_user;
struct sdnotify;

struct master_opts {
	unsigned workers;
	/* The listening sockets of worker w at slot_fds[w * WORKER_LISTENERS_MAX
	 * + i] (a shared socket has the same fd in every slot); the master
	 * keeps them all open so a restarted worker gets its slot's sockets
	 * back (connections queued meanwhile wait in that backlog). */
	const int *slot_fds;
	/* >= 0: the launcher of a daemon waits on it (daemon.h): it is told
	 * once every worker is up; a failure before is also written to the
	 * launcher's stderr. */
	int notify_fd;
	const struct priv_user *user;   /* workers drop to it; NULL: they keep ours */
	const struct sdnotify *notify;  /* systemd, or NULL */
	const char *status;             /* STATUS= when ready */
	/* The command line, parsed again (with the file it names) by a
	 * reload: SIGHUP and SIGUSR1 when the configuration has -c. */
	int argc;
	char **argv;
};

/* Runs until stopped; returns the exit code. Ownership of what ws holds
 * (listening sockets in slot_fds, certificates, logs, counters) moves to
 * the master: it closes and frees all of it, and logs "stopped", before it
 * returns. ws->cfg stays the caller's. */
int master_run(struct worker_setup *ws, const struct master_opts *opts);

#endif
