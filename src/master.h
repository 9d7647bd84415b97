/*
 * master — several worker processes around the same listening sockets.
 *
 * The master keeps the lock file, the signals and its log; it forks N
 * workers after everything that can fail at startup has been opened, so
 * each worker runs the very same loop as a single-process lisod. Each
 * worker has its own SO_REUSEPORT socket per listener (opened by main), so
 * the kernel spreads connections over the workers and a new one wakes only
 * the worker it is queued for. A worker that dies is logged and
 * restarted (after a pause if it dies right after starting, so a crash loop
 * cannot become a fork storm). SIGTERM/SIGINT/SIGHUP/SIGUSR1 are forwarded;
 * on a stop the master waits for the workers (killing them after the
 * shutdown deadline) and exits 0.
 */
#ifndef LISOD_MASTER_H
#define LISOD_MASTER_H

#include "worker.h"

/* Runs until stopped; returns the exit code. slot_fds: the listening
 * sockets of worker w at slot_fds[w * WORKER_LISTENERS_MAX + i]; the master
 * keeps them all open so a restarted worker gets its slot's sockets back
 * (connections queued meanwhile wait in that backlog). notify_fd >= 0: the
 * launcher of a daemon waits on it; daemon_ready() is called on it before
 * the first worker is forked (see daemon.h), and a failure before that is
 * also written to stderr. */
int master_run(struct worker_setup *ws, unsigned workers, const int *slot_fds,
	       int notify_fd);

#endif
