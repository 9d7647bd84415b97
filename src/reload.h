/*
 * reload — what a reload (SIGHUP with -c) needs before any worker of the
 * new configuration starts: the file read again and checked as a start
 * would check it, and everything the new workers need opened by the
 * master (as root): listeners, certificates, logs, the status counters.
 *
 * Nothing here touches the running configuration: on any problem every
 * one is logged ("FILE:LINE: what") and the caller keeps serving the old.
 * Listeners of the ports that stay are the very same sockets (their fds
 * copied from the running setup), so not one connection on them is
 * refused; ports that are new are bound here; ports that go are the
 * caller's to close once the old workers are gone.
 */
#ifndef LISOD_RELOAD_H
#define LISOD_RELOAD_H

#include "worker.h"

struct log;

/* Parse argv (and the file it names) again into *cfg, with the worker
 * count resolved as at startup; then the settings only a restart can
 * change must equal running's. 0, or -1 with every problem logged (cfg
 * freed then). */
int reload_parse(int argc, char **argv, const struct config *running, struct config *cfg,
		 struct log *log);

/* Open what cfg's workers need, reusing old's listeners where the port and
 * kind stay (and every socket systemd handed over). Fills *ws (cfg, log,
 * listeners of slot 0, sites, counters) and *slot_fds (malloc'd, workers
 * × WORKER_LISTENERS_MAX). 0, or -1 with the reason logged and nothing
 * left open that was opened here. */
int reload_open(const struct config *cfg, const struct worker_setup *old, const int *old_fds,
		struct worker_setup *ws, int **slot_fds, struct log *log);

/* Free what reload_open() (or startup) opened for ws but the listeners:
 * certificates, site logs, the log, the counters. Which sockets can close
 * depends on the other generations: the caller's to say. */
void reload_close(struct worker_setup *ws);

#endif
