#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "sites.h"
#include "tls.h"

/* Every line config_parse printed ("lisod: FILE:LINE: what") into the log. */
static void log_lines(struct log *log, char *text)
{
	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strncmp(line, "lisod: ", 7) == 0)
			line += 7;
		if (*line && strncmp(line, "Try 'lisod --help'", 18) != 0)
			log_err(log, "reload: %s", line);
		line = nl ? nl + 1 : NULL;
	}
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* What the master itself holds (its user, lock, daemon state, address
 * family of the sockets, worker slots) is a restart's to change. */
static unsigned check_restart_only(const struct config *cfg, const struct config *running,
				   struct log *log)
{
	static const char *const needs = "needs a restart: the reload keeps the old";
	unsigned problems = 0;
	if (!same_str(cfg->user, running->user) && ++problems)
		log_err(log, "reload: a change of user %s", needs);
	if (!same_str(cfg->lock_path, running->lock_path) && ++problems)
		log_err(log, "reload: a change of lock file %s", needs);
	if (cfg->daemonize != running->daemonize && ++problems)
		log_err(log, "reload: a change of daemon %s", needs);
	if (cfg->mode != running->mode && ++problems)
		log_err(log, "reload: a change of echo %s", needs);
	if (!same_str(cfg->listen_addr, running->listen_addr) && ++problems)
		log_err(log, "reload: a change of listen address %s", needs);
	if (cfg->workers != running->workers && ++problems)
		log_err(log, "reload: a change of workers (%u to %u) %s", running->workers,
			cfg->workers, needs);
	return problems;
}

/* What a start checks before it opens anything (main.c's check_paths). */
static unsigned check_sites(const struct config *cfg, struct log *log)
{
	unsigned problems = 0;
	bool cgi = false;
	for (unsigned i = 0; i < cfg->site_count; i++) {
		const struct site *site = &cfg->sites[i];
		char where[320];
		struct stat st;
		cgi |= site->cgi_path != NULL;
		if (stat(site->root, &st) < 0 || !S_ISDIR(st.st_mode) || access(site->root, R_OK | X_OK) < 0) {
			log_err(log, "reload: %ssite %s: document root %s is not a readable directory",
				config_where(cfg, site, "root", where, sizeof(where)), site->name,
				site->root);
			problems++;
		}
		if (site->cgi_path && access(site->cgi_path, F_OK) < 0) {
			log_err(log, "reload: %ssite %s: CGI program %s: %s",
				config_where(cfg, site, "cgi", where, sizeof(where)), site->name,
				site->cgi_path, strerror(errno));
			problems++;
		}
	}
	if (cgi && !cfg->cgi_as_root && !cfg->user && geteuid() == 0 && ++problems)
		log_err(log, "reload: refusing to run CGI programs as root: give --user NAME "
			     "(or --cgi-as-root)");
	return problems;
}

int reload_parse(int argc, char **argv, const struct config *running, struct config *cfg,
		 struct log *log)
{
	if (running->mode == CONFIG_MODE_ECHO) {
		log_err(log, "reload refused: an echo server has no configuration to reload");
		return -1;
	}
	char *text = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&text, &len);
	if (!err) {
		log_err(log, "reload: %s", strerror(errno));
		return -1;
	}
	enum config_result r = config_parse(cfg, argc, argv, err, err);
	fclose(err);
	unsigned problems = r != CONFIG_OK;
	log_lines(log, text);
	free(text);
	if (r == CONFIG_OK) {
		if (cfg->workers == 0) {
			long n = sysconf(_SC_NPROCESSORS_ONLN);
			cfg->workers = n > 0 ? (unsigned)n : 1;
		}
		if (cfg->mode == CONFIG_MODE_ECHO)
			cfg->workers = 1;
		problems += check_restart_only(cfg, running, log);
		if (!problems && cfg->mode == CONFIG_MODE_HTTP)
			problems += check_sites(cfg, log);
	}
	if (problems) {
		log_err(log, "reload refused (%s): still serving the running configuration",
			r == CONFIG_OK ? "see above" : "the configuration has problems, see above");
		config_free(cfg);
		return -1;
	}
	return 0;
}

/* The listener of old that serves (port, tls) as cfg wants it, or -1. */
static int old_listener(const struct worker_setup *old, uint16_t port, bool tls)
{
	for (unsigned i = 0; i < old->listener_count; i++)
		if (old->ports[i] == port && old->listen_tls[i] == tls)
			return (int)i;
	return -1;
}

static int add_listener(const struct config *cfg, struct worker_setup *ws, int *fds,
			const struct worker_setup *old, const int *old_fds, uint16_t port,
			bool tls, struct log *log)
{
	unsigned i = ws->listener_count;
	int from = old_listener(old, port, tls);
	for (unsigned w = 0; w < cfg->workers; w++) {
		int fd;
		if (from >= 0) {
			fd = old_fds[w * WORKER_LISTENERS_MAX + (unsigned)from];
		} else {
			char err[256];
			fd = listen_open(cfg->listen_addr, port, cfg->workers > 1, err, sizeof(err));
			if (fd < 0) {
				char where[320];
				log_err(log, "reload: %s%s",
					config_where(cfg, NULL, tls ? "https-port" : "http-port", where,
						     sizeof(where)), err);
				for (unsigned k = 0; k < w; k++)
					close(fds[k * WORKER_LISTENERS_MAX + i]);
				return -1;
			}
		}
		fds[w * WORKER_LISTENERS_MAX + i] = fd;
	}
	ws->listen_fds[i] = fds[i];
	ws->ports[i] = port;
	ws->listen_tls[i] = tls;
	ws->listen_shared[i] = from >= 0 && old->listen_shared[from];
	ws->listen_inherited[i] = from >= 0 && old->listen_inherited[from];
	ws->listener_count = i + 1;
	return 0;
}

/* Listeners: systemd's stay whatever the file says (their kinds are
 * systemd's); the others follow http-port and https-port. */
static int open_listeners(const struct config *cfg, struct worker_setup *ws, int *fds,
			  const struct worker_setup *old, const int *old_fds, struct log *log)
{
	bool inherited_http = false, inherited_https = false;
	for (unsigned i = 0; i < old->listener_count; i++) {
		if (!old->listen_inherited[i])
			continue;
		unsigned k = ws->listener_count;
		for (unsigned w = 0; w < cfg->workers; w++)
			fds[w * WORKER_LISTENERS_MAX + k] = old_fds[w * WORKER_LISTENERS_MAX + i];
		ws->listen_fds[k] = fds[k];
		ws->ports[k] = old->ports[i];
		ws->listen_tls[k] = old->listen_tls[i];
		ws->listen_shared[k] = old->listen_shared[i];
		ws->listen_inherited[k] = true;
		ws->listener_count = k + 1;
		*(old->listen_tls[i] ? &inherited_https : &inherited_http) = true;
	}
	if (cfg->http_port && !inherited_http &&
	    add_listener(cfg, ws, fds, old, old_fds, cfg->http_port, false, log) < 0)
		return -1;
	if (cfg->https_port && !inherited_https &&
	    add_listener(cfg, ws, fds, old, old_fds, cfg->https_port, true, log) < 0)
		return -1;
	if (ws->listener_count == 0) {
		log_err(log, "reload: no listener: both ports are 0");
		return -1;
	}
	return 0;
}

/* The listeners opened here (not old's): closed after a failure. */
static void close_new_listeners(const struct config *cfg, const struct worker_setup *ws,
				const int *fds, const struct worker_setup *old)
{
	for (unsigned i = 0; i < ws->listener_count; i++) {
		if (ws->listen_inherited[i] || old_listener(old, ws->ports[i], ws->listen_tls[i]) >= 0)
			continue;
		for (unsigned w = 0; w < cfg->workers; w++)
			close(fds[w * WORKER_LISTENERS_MAX + i]);
	}
}

static bool needs_tls(const struct worker_setup *ws)
{
	for (unsigned i = 0; i < ws->listener_count; i++)
		if (ws->listen_tls[i])
			return true;
	return false;
}

int reload_open(const struct config *cfg, const struct worker_setup *old, const int *old_fds,
		struct worker_setup *ws, int **slot_fds, struct log *log)
{
	char err[512];
	*ws = (struct worker_setup){ .cfg = cfg, .sigfd = -1, .chan_fd = -1 };
	int *fds = malloc(sizeof(int) * WORKER_LISTENERS_MAX * cfg->workers);
	if (!fds) {
		log_err(log, "reload: out of memory");
		return -1;
	}
	for (size_t k = 0; k < (size_t)WORKER_LISTENERS_MAX * cfg->workers; k++)
		fds[k] = -1; /* slots past listener_count stay unused */
	if (open_listeners(cfg, ws, fds, old, old_fds, log) < 0)
		goto fail;
	if (cfg->mode == CONFIG_MODE_HTTP &&
	    sites_open(cfg, needs_tls(ws), ws, NULL, err, sizeof(err)) < 0) {
		log_err(log, "reload: %s", err);
		goto fail_listeners;
	}
	if (ws->tls && old->tls && tls_ctx_keep_tickets(ws->tls, old->tls, err, sizeof(err)) < 0)
		log_warn(log, "reload: %s: sessions from before it will not resume", err);
	ws->log = log_new(cfg->log_path, cfg->access_log_path, (enum log_level)cfg->log_level);
	if (!ws->log) {
		char where[320];
		log_err(log, "reload: %scannot open log file: %s",
			config_where(cfg, NULL, "log", where, sizeof(where)), strerror(errno));
		goto fail_sites;
	}
	size_t bytes = sizeof(struct worker_stats) * cfg->workers;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_err(log, "reload: mmap for the status counters: %s", strerror(errno));
		goto fail_log;
	}
	ws->stats_all = p;
	ws->stats_count = cfg->workers;
	*slot_fds = fds;
	return 0;
fail_log:
	log_free(ws->log);
	ws->log = NULL;
fail_sites:
	sites_close(cfg, ws, true);
fail_listeners:
	close_new_listeners(cfg, ws, fds, old);
fail:
	free(fds);
	return -1;
}

void reload_close(struct worker_setup *ws)
{
	if (ws->cfg->mode == CONFIG_MODE_HTTP)
		sites_close(ws->cfg, ws, true);
	log_free(ws->log);
	ws->log = NULL;
	if (ws->stats_all)
		munmap(ws->stats_all, sizeof(struct worker_stats) * ws->stats_count);
	ws->stats_all = NULL;
}
