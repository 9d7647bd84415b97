/*
 * sites — what the sites of a configuration need opened before any worker
 * starts (as root, when serving as --user drops privileges later): one TLS
 * context per distinct key and certificate pair, one log per distinct
 * access-log path of its own. Startup and a reload (master.c) open them the
 * same way; the workers take them over (worker_setup).
 */
#ifndef LISOD_SITES_H
#define LISOD_SITES_H

#include <stdbool.h>
#include <stddef.h>

#include "worker.h"

/* Fill ws->tls (the default site's context), ws->site_tls and
 * ws->site_logs for cfg's sites; with_tls false: no contexts. *self_signed:
 * the default site's certificate was made in memory. 0, or -1 with the
 * reason in err (then nothing is left open). */
int sites_open(const struct config *cfg, bool with_tls, struct worker_setup *ws,
	       bool *self_signed, char *err, size_t errlen);
/* Release the arrays; with contents, the contexts and logs too (they are
 * the caller's, not a worker's that took them over). */
void sites_close(const struct config *cfg, struct worker_setup *ws, bool contents);

#endif
