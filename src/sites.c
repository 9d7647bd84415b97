#include "sites.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tls.h"

static bool same_path(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* why, with the file and line that set key and the site's name in front
 * when there is a file (the messages of old without one). */
static void site_error(const struct config *cfg, const struct site *s, const char *key,
		       char *err, size_t errlen, const char *why)
{
	char where[320];
	if (!cfg->config_path && cfg->site_count == 1)
		snprintf(err, errlen, "%s", why);
	else
		snprintf(err, errlen, "%ssite %s: %s", config_where(cfg, s, key, where, sizeof(where)),
			 s->name, why);
}

/* The context of an earlier site with the same files, or a new one. */
static struct tls_ctx *site_ctx(const struct config *cfg, struct worker_setup *ws, unsigned i,
				bool *self_signed, char *err, size_t errlen)
{
	const struct site *s = &cfg->sites[i];
	for (unsigned j = 0; j < i; j++) {
		const struct site *o = &cfg->sites[j];
		if (same_path(o->key_path, s->key_path) && same_path(o->cert_path, s->cert_path))
			return ws->site_tls[j];
	}
	char why[512];
	struct tls_ctx *ctx = tls_ctx_new(s->key_path, s->cert_path, self_signed, why,
					  sizeof(why));
	if (!ctx)
		site_error(cfg, s, "key", err, errlen, why);
	return ctx;
}

/* A site's own access log (NULL: it writes to the main one). */
static int site_log(const struct config *cfg, struct worker_setup *ws, unsigned i, char *err,
		    size_t errlen)
{
	const struct site *s = &cfg->sites[i];
	ws->site_logs[i] = NULL;
	if (!s->access_log_path || same_path(s->access_log_path, cfg->access_log_path))
		return 0;
	for (unsigned j = 0; j < i; j++)
		if (ws->site_logs[j] && same_path(cfg->sites[j].access_log_path, s->access_log_path)) {
			ws->site_logs[i] = ws->site_logs[j];
			return 0;
		}
	/* Its error side is never written: the main log has the errors. */
	ws->site_logs[i] = log_new("-", s->access_log_path, LOG_LVL_ERR);
	if (!ws->site_logs[i]) {
		char why[PATH_MAX + 64];
		snprintf(why, sizeof(why), "cannot open access log %s: %s", s->access_log_path,
			 strerror(errno));
		site_error(cfg, s, "access-log", err, errlen, why);
		return -1;
	}
	return 0;
}

int sites_open(const struct config *cfg, bool with_tls, struct worker_setup *ws,
	       bool *self_signed, char *err, size_t errlen)
{
	unsigned n = cfg->site_count;
	ws->tls = NULL;
	ws->site_tls = calloc(n, sizeof(*ws->site_tls));
	ws->site_logs = calloc(n, sizeof(*ws->site_logs));
	if (!ws->site_tls || !ws->site_logs) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		if (with_tls) {
			bool generated = false;
			ws->site_tls[i] = site_ctx(cfg, ws, i, &generated, err, errlen);
			if (!ws->site_tls[i])
				goto fail;
			if (i == cfg->default_site && self_signed)
				*self_signed = generated;
		}
		if (site_log(cfg, ws, i, err, errlen) < 0)
			goto fail;
	}
	ws->tls = with_tls ? ws->site_tls[cfg->default_site] : NULL;
	return 0;
fail:
	sites_close(cfg, ws, true);
	return -1;
}

void sites_close(const struct config *cfg, struct worker_setup *ws, bool contents)
{
	for (unsigned i = cfg->site_count; contents && i-- > 0;) {
		bool tls_first = ws->site_tls && ws->site_tls[i], log_first = ws->site_logs &&
									   ws->site_logs[i];
		for (unsigned j = 0; j < i; j++) {
			if (tls_first && ws->site_tls[j] == ws->site_tls[i])
				tls_first = false;
			if (log_first && ws->site_logs[j] == ws->site_logs[i])
				log_first = false;
		}
		if (tls_first)
			tls_ctx_free(ws->site_tls[i]);
		if (log_first)
			log_free(ws->site_logs[i]);
	}
	free(ws->site_tls);
	free(ws->site_logs);
	ws->site_tls = NULL;
	ws->site_logs = NULL;
	if (contents)
		ws->tls = NULL;
}
