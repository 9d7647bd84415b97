/*
 * configtest — lisod -t. See configtest.h.
 */
#include "configtest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "listen.h"
#include "priv.h"
#include "sdlisten.h"
#include "tls.h"

enum { CONFIGTEST_TEXT_MAX = 1024 };

struct ctest {
	unsigned problems;
	configtest_report_fn report;
	void *arg;
	char prefix[384];     /* "FILE:LINE: site 'x': " while a site is checked */
};

static void say(struct ctest *t, enum configtest_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(struct ctest *t, enum configtest_kind kind, const char *fmt, ...)
{
	char text[CONFIGTEST_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(text, sizeof(text), "%s", t->prefix);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = 0;
	vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	va_end(ap);
	if (kind == CONFIGTEST_PROBLEM)
		t->problems++;
	t->report(t->arg, kind, text);
}

/* What a site's messages start with: where its key was set and its name,
 * unless it is the one implicit site (no file: the messages of old). */
static void site_prefix(struct ctest *t, const struct config *cfg, const struct site *site,
			const char *key)
{
	t->prefix[0] = '\0';
	if (!site || (!cfg->config_path && cfg->site_count == 1))
		return;
	char where[320];
	config_where(cfg, site, key, where, sizeof(where));
	snprintf(t->prefix, sizeof(t->prefix), "%ssite '%s': ", where, site->name);
}

/* -t prints: problems and warnings on stderr, notes on stdout. */
static void print_report(void *arg, enum configtest_kind kind, const char *text)
{
	(void)arg;
	switch (kind) {
	case CONFIGTEST_PROBLEM: fprintf(stderr, "lisod: %s\n", text); break;
	case CONFIGTEST_WARNING: fprintf(stderr, "lisod: warning: %s\n", text); break;
	case CONFIGTEST_NOTE: fprintf(stdout, "lisod: note: %s\n", text); break;
	}
	fflush(NULL);
}

/* The directory a path's file lives in. */
static void dir_of(const char *path, char *dir, size_t cap)
{
	snprintf(dir, cap, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, cap, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
}

/* ---- as the serving user ------------------------------------------------ */

/* A file we will open for append, as the caller is now: is it (or, when it
 * does not exist, its directory) writable? 0, or -1 with errno and the
 * path that failed in where. */
static int can_append(const char *path, char *where, size_t cap)
{
	snprintf(where, cap, "%s", path);
	if (access(path, W_OK) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	dir_of(path, where, cap);
	return access(where, W_OK | X_OK);
}

static bool is_log_file(const char *path)
{
	return path && strcmp(path, "-") != 0 && strcmp(path, "off") != 0;
}

unsigned configtest_as_user(const struct config *cfg, const char *user, bool single,
			    bool at_startup, configtest_report_fn report, void *arg)
{
	struct ctest t = { .report = report, .arg = arg };
	enum configtest_kind cgi_kind = at_startup ? CONFIGTEST_WARNING : CONFIGTEST_PROBLEM;
	if (cfg->mode != CONFIG_MODE_HTTP)
		return 0;
	for (unsigned i = 0; i < cfg->site_count; i++) {
		const struct site *site = &cfg->sites[i];
		site_prefix(&t, cfg, site, "root");
		if (access(site->root, R_OK | X_OK) < 0)
			say(&t, CONFIGTEST_PROBLEM, "document root %s is not readable by user %s: %s",
			    site->root, user, strerror(errno));
		struct stat st;
		site_prefix(&t, cfg, site, "cgi");
		if (site->cgi_path && stat(site->cgi_path, &st) == 0) {
			bool dir = S_ISDIR(st.st_mode);
			if (access(site->cgi_path, X_OK) < 0)
				say(&t, cgi_kind, "CGI %s %s is not %s by user %s: %s",
				    dir ? "directory" : "program", site->cgi_path,
				    dir ? "searchable" : "executable", user, strerror(errno));
		}
	}
	t.prefix[0] = '\0';
	if (!single)
		return t.problems; /* a master keeps root: it reloads and reopens */
	const char *hint = "run with --workers 2 or more: the master keeps root and does it";
	if (cfg->key_path && cfg->https_port) {
		const char *files[] = { cfg->key_path, cfg->cert_path };
		for (int i = 0; i < 2; i++)
			if (access(files[i], R_OK) < 0)
				say(&t, CONFIGTEST_WARNING,
				    "%s %s is not readable by user %s: SIGHUP cannot reload it (%s)",
				    i == 0 ? "private key" : "certificate", files[i], user, hint);
	}
	const char *logs[] = { cfg->log_path, cfg->access_log_path };
	for (int i = 0; i < 2; i++) {
		char where[PATH_MAX];
		if (!is_log_file(logs[i]) || (i == 1 && cfg->log_path &&
					      strcmp(logs[1], cfg->log_path) == 0))
			continue;
		if (can_append(logs[i], where, sizeof(where)) < 0)
			say(&t, CONFIGTEST_WARNING, "%s is not writable by user %s (%s): "
			    "SIGUSR1/SIGHUP cannot reopen the log %s (%s)",
			    where, user, strerror(errno), logs[i], hint);
		else if (strcmp(where, logs[i]) == 0) {
			/* It exists and is ours to write; after a rotation it
			 * must be created again, in its directory. */
			dir_of(logs[i], where, sizeof(where));
			if (access(where, W_OK | X_OK) < 0)
				say(&t, CONFIGTEST_WARNING,
				    "log directory %s is not writable by user %s: after a "
				    "rotation SIGUSR1/SIGHUP reopen %s only if the rotation "
				    "creates it writable by that user (%s)",
				    where, user, logs[i], hint);
		}
	}
	return t.problems;
}

/* ---- as ourselves ----------------------------------------------------------- */

static void check_file(struct ctest *t, const char *what, const char *path, bool want_dir)
{
	struct stat st;
	if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
		say(t, CONFIGTEST_PROBLEM, "cannot read %s %s: %s", what, path, strerror(errno));
		return;
	}
	if (want_dir && !S_ISDIR(st.st_mode))
		say(t, CONFIGTEST_PROBLEM, "%s %s is not a directory", what, path);
	else if (want_dir && access(path, X_OK) < 0)
		say(t, CONFIGTEST_PROBLEM, "%s %s is not searchable: %s", what, path,
		    strerror(errno));
}

static void check_cgi(struct ctest *t, const char *cgi_path)
{
	struct stat st;
	if (stat(cgi_path, &st) < 0) {
		say(t, CONFIGTEST_PROBLEM, "CGI program %s: %s", cgi_path, strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		if (access(cgi_path, X_OK) < 0)
			say(t, CONFIGTEST_PROBLEM, "CGI directory %s is not searchable: %s",
			    cgi_path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) || access(cgi_path, X_OK) < 0 ||
		   !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
		say(t, CONFIGTEST_PROBLEM, "CGI program %s is not executable", cgi_path);
	}
}

static void check_tls(struct ctest *t, const char *key_path, const char *cert_path)
{
	unsigned before = t->problems;
	check_file(t, "private key", key_path, false);
	check_file(t, "certificate", cert_path, false);
	if (t->problems != before)
		return;
	char err[512];
	struct tls_ctx *ctx = tls_ctx_new(key_path, cert_path, NULL, err, sizeof(err));
	if (!ctx)
		say(t, CONFIGTEST_PROBLEM, "%s", err);
	tls_ctx_free(ctx);
}

static void check_log(struct ctest *t, const char *what, const char *path);

/* Every site's root, CGI, key and certificate and access log. */
static void check_sites(struct ctest *t, const struct config *cfg, const struct sdlisten *act,
			uid_t serving)
{
	bool need_tls = act->https || (cfg->https_port && !act->https);
	bool any_cgi = false;
	for (unsigned i = 0; i < cfg->site_count; i++) {
		const struct site *site = &cfg->sites[i];
		site_prefix(t, cfg, site, "root");
		check_file(t, "document root", site->root, true);
		site_prefix(t, cfg, site, "cgi");
		if (site->cgi_path)
			check_cgi(t, site->cgi_path);
		any_cgi |= site->cgi_path != NULL;
		site_prefix(t, cfg, site, "key");
		if (need_tls && site->key_path)
			check_tls(t, site->key_path, site->cert_path);
		site_prefix(t, cfg, site, "access-log");
		const char *own = site->access_log_path;
		if (own && !(cfg->access_log_path && strcmp(own, cfg->access_log_path) == 0))
			check_log(t, "access log", own);
	}
	t->prefix[0] = '\0';
	if (any_cgi && serving == 0 && !cfg->cgi_as_root)
		say(t, CONFIGTEST_PROBLEM, "refusing to run CGI programs as root: give --user NAME "
		    "(or --cgi-as-root)");
}

/* Returns the lock's holder pid text, "" when the lock is free. */
static void check_lock(struct ctest *t, const char *path, char *holder, size_t cap)
{
	char err[PATH_MAX + 128];
	holder[0] = '\0';
	int r = lockfile_probe(path, holder, cap, err, sizeof(err));
	if (r < 0)
		say(t, CONFIGTEST_PROBLEM, "%s", err);
	else if (r == 1)
		say(t, CONFIGTEST_NOTE, "lock file %s is held by pid %s, a running server: not a "
		    "problem for -t", path, holder);
	if (r != 1)
		holder[0] = '\0';
}

static void check_port(struct ctest *t, const char *addr, const char *what, uint16_t port,
		       const char *holder)
{
	char err[256];
	if (listen_check(addr, port, err, sizeof(err)) == 0)
		return;
	if (errno == EADDRINUSE && holder[0])
		say(t, CONFIGTEST_NOTE, "%s port %u is in use, presumably by the running server "
		    "(pid %s)", what, port, holder);
	else
		say(t, CONFIGTEST_PROBLEM, "%s", err);
}

static void check_ports(struct ctest *t, const struct config *cfg, const struct sdlisten *act,
			const char *holder)
{
	if (cfg->mode == CONFIG_MODE_ECHO) {
		if (act->count)
			say(t, CONFIGTEST_PROBLEM, "socket activation is not supported with --echo");
		check_port(t, cfg->listen_addr, "echo", cfg->echo_port, holder);
		return;
	}
	uint16_t http = act->http ? 0 : cfg->http_port, https = act->https ? 0 : cfg->https_port;
	if (!http && !https && act->count == 0) {
		say(t, CONFIGTEST_PROBLEM, "no listener: both ports are 0");
		return;
	}
	if (http && http == https) {
		say(t, CONFIGTEST_PROBLEM, "HTTP and HTTPS cannot share port %u", http);
		return;
	}
	if (http)
		check_port(t, cfg->listen_addr, "HTTP", http, holder);
	if (https)
		check_port(t, cfg->listen_addr, "HTTPS", https, holder);
	if (act->count + (http != 0) + (https != 0) > SDLISTEN_MAX)
		say(t, CONFIGTEST_PROBLEM, "too many listeners (at most %d)", SDLISTEN_MAX);
}

static void check_log(struct ctest *t, const char *what, const char *path)
{
	if (!is_log_file(path))
		return;
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd >= 0) {
		close(fd);
		return;
	}
	if (errno != ENOENT) {
		say(t, CONFIGTEST_PROBLEM, "cannot open %s %s: %s", what, path, strerror(errno));
		return;
	}
	char dir[PATH_MAX];
	dir_of(path, dir, sizeof(dir));
	if (access(dir, W_OK | X_OK) < 0)
		say(t, CONFIGTEST_PROBLEM, "cannot create %s %s: %s: %s", what, path, dir,
		    strerror(errno));
}

/* The serving user's checks, in a child that has become it. */
static void check_as_user(struct ctest *t, const struct config *cfg, const struct priv_user *u)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		say(t, CONFIGTEST_PROBLEM, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		char err[512];
		if (priv_drop(u, err, sizeof(err)) < 0) {
			print_report(NULL, CONFIGTEST_PROBLEM, err);
			_exit(1);
		}
		unsigned n = configtest_as_user(cfg, u->name, cfg->workers <= 1 && !cfg->config_path, false,
						print_report, NULL);
		fflush(NULL);
		_exit(n > 100 ? 100 : (int)n);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			say(t, CONFIGTEST_PROBLEM, "waitpid: %s", strerror(errno));
			return;
		}
	if (WIFEXITED(status))
		t->problems += (unsigned)WEXITSTATUS(status);
	else
		say(t, CONFIGTEST_PROBLEM, "the check as user %s was killed by signal %d", u->name,
		    WTERMSIG(status));
}

int configtest_run(const struct config *cfg)
{
	struct ctest t = { .report = print_report };
	char err[512], holder[64] = "";
	struct sdlisten act;
	if (sdlisten_adopt(&act, err, sizeof(err)) < 0)
		say(&t, CONFIGTEST_PROBLEM, "%s", err);
	struct priv_user user;
	bool have_user = false;
	if (cfg->user) {
		if (priv_lookup(cfg->user, &user, err, sizeof(err)) < 0)
			say(&t, CONFIGTEST_PROBLEM, "%s", err);
		else
			have_user = true;
	} else if (geteuid() == 0) {
		say(&t, CONFIGTEST_WARNING, "running as root without --user: the workers%s run "
		    "as root", cfg->cgi_path ? " and CGI programs" : "");
	}
	/* An unknown user cannot be root: its CGI check waits for a real one. */
	uid_t serving = have_user ? user.uid : cfg->user ? 1 : geteuid();
	if (cfg->mode == CONFIG_MODE_HTTP)
		check_sites(&t, cfg, &act, serving);
	if (cfg->lock_path)
		check_lock(&t, cfg->lock_path, holder, sizeof(holder));
	check_ports(&t, cfg, &act, holder);
	if (cfg->daemonize && !cfg->log_path)
		say(&t, CONFIGTEST_PROBLEM, "a daemon needs a log file");
	check_log(&t, "log file", cfg->log_path);
	if (!(cfg->log_path && cfg->access_log_path &&
	      strcmp(cfg->log_path, cfg->access_log_path) == 0))
		check_log(&t, "access log", cfg->access_log_path);
	if (have_user) {
		check_as_user(&t, cfg, &user);
		priv_user_fini(&user);
	}
	for (unsigned i = 0; i < act.count; i++)
		close(act.sockets[i].fd);
	if (t.problems) {
		fprintf(stderr, "lisod: configuration test failed: %u problem%s\n", t.problems,
			t.problems == 1 ? "" : "s");
		return 1;
	}
	printf("lisod: configuration ok\n");
	return 0;
}
