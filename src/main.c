/*
 * main — the startup sequence: arguments, what systemd handed over
 * (listeners, the notify socket), the --user, daemon, lock file, TLS
 * context, listeners, signals, logs; then the drop to --user and one
 * worker runs the event loop, or a master forks N workers (which drop).
 *
 * Everything that can fail for a reason the operator must fix (a bad
 * argument, a port in use, an unreadable root or key, a held lock, an
 * unknown user) fails here, before the launcher of a daemon reports
 * success. `lisod -t` makes the same checks (configtest.c) and stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "configtest.h"
#include "daemon.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "priv.h"
#include "sdlisten.h"
#include "sdnotify.h"
#include "sites.h"
#include "tls.h"
#include "worker.h"

struct startup {
	struct config cfg;
	struct worker_setup ws;  /* listeners, TLS ctx, signalfd, log */
	/* With N > 1 workers, each listener is N SO_REUSEPORT sockets, one per
	 * worker: slot_fds[w * WORKER_LISTENERS_MAX + i] (slot 0 is ws's); a
	 * socket from systemd is one, shared: the same fd in every slot. */
	int *slot_fds;
	bool self_signed;
	int lock_fd;
	int notify_fd;
	struct log *log;
	struct sdnotify notify;   /* $NOTIFY_SOCKET */
	struct sdlisten act;      /* listeners from systemd ($LISTEN_FDS) */
	struct priv_user user;    /* --user */
	bool have_user;
	char notify_warning[256]; /* a bad $NOTIFY_SOCKET, for the log */
	char status[160];         /* STATUS= for systemd */
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("lisod: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return -1;
}

static int check_readable(const char *what, const char *path, bool want_dir)
{
	struct stat st;
	if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
		fprintf(stderr, "lisod: cannot read %s %s: %s\n", what, path, strerror(errno));
		return -1;
	}
	if (want_dir && !S_ISDIR(st.st_mode))
		return fail("%s is not a directory", path);
	return 0;
}

/* More descriptors than connections: raise the soft limit to the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int add_listener(struct startup *s, uint16_t port, bool tls)
{
	char err[256];
	struct worker_setup *ws = &s->ws;
	unsigned i = ws->listener_count, workers = s->cfg.workers;
	if (i == WORKER_LISTENERS_MAX)
		return fail("too many listeners (at most %d)", WORKER_LISTENERS_MAX);
	/* One socket per worker: the kernel spreads connections evenly over
	 * SO_REUSEPORT sockets, where a shared socket lets the busiest worker
	 * take them all (measured: 64 of 64 with EPOLLEXCLUSIVE). */
	for (unsigned w = 0; w < workers; w++) {
		int fd = listen_open(s->cfg.listen_addr, port, workers > 1, err, sizeof(err));
		if (fd < 0)
			return fail("%s", err);
		s->slot_fds[w * WORKER_LISTENERS_MAX + i] = fd;
	}
	ws->listen_fds[i] = s->slot_fds[i];
	ws->ports[i] = port;
	ws->listen_tls[i] = tls;
	ws->listener_count = i + 1;
	return 0;
}

/* A socket systemd opened: one for every worker (see listen.c). */
static int add_inherited(struct startup *s, const struct sdlisten_socket *sock)
{
	struct worker_setup *ws = &s->ws;
	unsigned i = ws->listener_count;
	if (i == WORKER_LISTENERS_MAX)
		return fail("too many listeners (at most %d)", WORKER_LISTENERS_MAX);
	for (unsigned w = 0; w < s->cfg.workers; w++)
		s->slot_fds[w * WORKER_LISTENERS_MAX + i] = sock->fd;
	ws->listen_fds[i] = sock->fd;
	ws->ports[i] = sock->port;
	ws->listen_tls[i] = sock->tls;
	ws->listen_shared[i] = s->cfg.workers > 1;
	ws->listen_inherited[i] = true;
	ws->listener_count++;
	return 0;
}

static int open_listeners(struct startup *s)
{
	const struct config *cfg = &s->cfg;
	s->slot_fds = malloc(sizeof(int) * WORKER_LISTENERS_MAX * cfg->workers);
	if (!s->slot_fds)
		return fail("%s", "out of memory");
	if (cfg->mode == CONFIG_MODE_ECHO) {
		if (s->act.count)
			return fail("%s", "socket activation is not supported with --echo");
		return add_listener(s, cfg->echo_port, false);
	}
	/* The kinds systemd handed over are its; we bind only the others. */
	for (unsigned i = 0; i < s->act.count; i++)
		if (add_inherited(s, &s->act.sockets[i]) < 0)
			return -1;
	if (cfg->http_port && !s->act.http && add_listener(s, cfg->http_port, false) < 0)
		return -1;
	if (cfg->https_port && !s->act.https && add_listener(s, cfg->https_port, true) < 0)
		return -1;
	if (s->ws.listener_count == 0)
		return fail("%s", "no listener: both ports are 0");
	return 0;
}

static int block_signals(struct startup *s)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD); /* the master reaps workers through the signalfd */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return fail("sigprocmask: %s", strerror(errno));
	s->ws.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->ws.sigfd < 0)
		return fail("signalfd: %s", strerror(errno));
	/* A peer that resets while we write must cost one connection, not us. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int check_paths(const struct config *cfg)
{
	if (cfg->mode == CONFIG_MODE_ECHO)
		return 0;
	for (unsigned i = 0; i < cfg->site_count; i++) {
		const struct site *site = &cfg->sites[i];
		if (check_readable("document root", site->root, true) < 0)
			return -1;
		if (site->key_path && (check_readable("private key", site->key_path, false) < 0 ||
				       check_readable("certificate", site->cert_path, false) < 0))
			return -1;
		if (site->cgi_path && access(site->cgi_path, F_OK) < 0)
			return fail("CGI program %s does not exist", site->cgi_path);
	}
	return 0;
}

static bool any_cgi(const struct config *cfg)
{
	for (unsigned i = 0; i < cfg->site_count; i++)
		if (cfg->sites[i].cgi_path)
			return true;
	return false;
}

static bool need_tls(const struct startup *s)
{
	return s->cfg.mode == CONFIG_MODE_HTTP &&
	       (s->act.https || (s->cfg.https_port && !s->act.https));
}

/* Everything before the event loop; on failure the message is on stderr. */
static int startup(struct startup *s)
{
	if (check_paths(&s->cfg) < 0)
		return -1;
	if (s->cfg.mode == CONFIG_MODE_HTTP && any_cgi(&s->cfg) && !s->cfg.cgi_as_root &&
	    priv_serving_uid(s->have_user ? &s->user : NULL) == 0)
		return fail("%s", "refusing to run CGI programs as root: give --user NAME "
			    "(or --cgi-as-root)");
	if (s->cfg.daemonize) {
		s->notify_fd = daemon_start();
		if (s->notify_fd < 0)
			return -1;
	}
	if (s->cfg.lock_path) {
		char err[512];
		s->lock_fd = lockfile_acquire(s->cfg.lock_path, err, sizeof(err));
		if (s->lock_fd < 0)
			return fail("%s", err);
	}
	raise_fd_limit();
	if (s->cfg.mode == CONFIG_MODE_HTTP) {
		char err[512];
		if (sites_open(&s->cfg, need_tls(s), &s->ws, &s->self_signed, err,
			       sizeof(err)) < 0)
			return fail("%s", err);
	}
	if (open_listeners(s) < 0 || block_signals(s) < 0)
		return -1;
	const char *log_path = s->cfg.log_path;
	if (!log_path && s->cfg.daemonize)
		return fail("%s", "a daemon needs a log file");
	s->log = log_new(log_path, s->cfg.access_log_path, (enum log_level)s->cfg.log_level);
	if (!s->log)
		return fail("cannot open log file: %s", strerror(errno));
	return 0;
}

/* The status endpoint's counters: one slot per worker, in memory every
 * worker shares (mapped before the fork), so any worker can answer with
 * all of them. */
static int share_stats(struct startup *s)
{
	size_t bytes = sizeof(struct worker_stats) * s->cfg.workers;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_err(s->log, "mmap for the status counters: %s", strerror(errno));
		return -1;
	}
	s->ws.stats_all = p;
	s->ws.stats_count = s->cfg.workers;
	return 0;
}

static void log_banner(struct startup *s)
{
	const struct config *cfg = &s->cfg;
	const struct worker_setup *ws = &s->ws;
	log_info(s->log, "%s %s starting, pid %ld", LISOD_NAME, LISOD_VERSION, (long)getpid());
	if (cfg->mode == CONFIG_MODE_ECHO) {
		log_info(s->log, "echo server on port %u", cfg->echo_port);
		snprintf(s->status, sizeof(s->status), "echo server on port %u", cfg->echo_port);
		return;
	}
	int n = snprintf(s->status, sizeof(s->status), "serving on");
	for (unsigned i = 0; i < ws->listener_count; i++) {
		bool inherited = i < s->act.count;
		if (!ws->listen_tls[i])
			log_info(s->log, "HTTP on port %u%s, document root %s", ws->ports[i],
				 inherited ? " (socket from systemd)" : "",
				 config_default_site(cfg)->root);
		else
			log_info(s->log, "HTTPS on port %u%s with %s", ws->ports[i],
				 inherited ? " (socket from systemd)" : "",
				 s->self_signed ? "a self-signed certificate for localhost made at "
						  "startup"
						: config_default_site(cfg)->cert_path);
		if (n > 0 && (size_t)n < sizeof(s->status))
			n += snprintf(s->status + n, sizeof(s->status) - (size_t)n, "%s %u",
				      i ? "," : "", ws->ports[i]);
	}
	if (n > 0 && (size_t)n < sizeof(s->status))
		snprintf(s->status + n, sizeof(s->status) - (size_t)n, "; %u worker%s",
			 cfg->workers, cfg->workers == 1 ? "" : "s");
	for (unsigned i = 0; cfg->config_path && i < cfg->site_count; i++) {
		const struct site *site = &cfg->sites[i];
		log_info(s->log, "site %s%s: %u host name%s, root %s%s%s%s%s", site->name,
			 site->is_default ? " (default)" : "", site->host_count,
			 site->host_count == 1 ? "" : "s", site->root,
			 site->cgi_path ? ", CGI " : "", site->cgi_path ? site->cgi_path : "",
			 site->cert_path ? ", certificate " : "",
			 site->cert_path ? site->cert_path : "");
	}
}

/* What the operator should know about our privileges and systemd. */
static void log_warnings(const struct startup *s)
{
	if (s->notify_warning[0])
		log_warn(s->log, "%s", s->notify_warning);
	if (s->act.ignored)
		log_warn(s->log, "LISTEN_FDS is set for another process (LISTEN_PID): ignored");
	/* A single process says it serves as the user once the drop took. */
	if (s->have_user && (s->cfg.workers > 1 || s->cfg.config_path))
		log_info(s->log, "serving as user %s, group %s (the master keeps root)",
			 s->user.name, s->user.group);
	if (!s->have_user && geteuid() == 0)
		log_warn(s->log, "running as root without --user: the workers%s run as root",
			 any_cgi(&s->cfg) ? " and CGI programs" : "");
}

static void log_report(void *arg, enum configtest_kind kind, const char *text)
{
	const struct startup *s = arg;
	/* A problem stops the start: the operator sees it on stderr (once,
	 * when the log is stderr). */
	if (kind == CONFIGTEST_PROBLEM && s->cfg.log_path)
		fprintf(stderr, "lisod: %s\n", text);
	log_msg(s->log, kind == CONFIGTEST_PROBLEM ? LOG_LVL_ERR : LOG_LVL_WARN, "%s", text);
}

/* A single process serves as --user: it drops here, after everything root
 * had to open, and checks what it can still reach. */
static int drop_single(struct startup *s)
{
	char err[512];
	if (priv_drop(&s->user, err, sizeof(err)) < 0) {
		log_err(s->log, "%s", err);
		return s->cfg.log_path ? fail("%s", err) : -1; /* (a log on stderr has it) */
	}
	log_info(s->log, "serving as user %s, group %s", s->user.name, s->user.group);
	if (configtest_as_user(&s->cfg, s->user.name, true, true, log_report, s) > 0)
		return -1;
	return 0;
}

/* A daemon's launcher waits for this (see daemon.h); -1: it could not be
 * told, so it reports failure and we must stop. */
static int report_ready(struct startup *s)
{
	if (s->notify_fd < 0)
		return 0;
	log_flush(s->log); /* the banner is in the log when the launcher returns */
	int rc = daemon_ready(s->notify_fd);
	s->notify_fd = -1;
	if (rc < 0)
		log_err(s->log, "the launcher could not be told we are ready: stopping");
	return rc;
}

/* A launcher may have closed our stdin, stdout or stderr (`lisod ... >&-`).
 * Fill the holes with /dev/null: else the next files opened (readiness
 * pipe, lock file, listeners) take those numbers, and a message to stderr or
 * the daemon's switch to /dev/null would write over or close them. */
static int stdio_fill(void)
{
	for (;;) {
		int fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			return -1;
		if (fd > STDERR_FILENO)
			return close(fd);
	}
}

int main(int argc, char **argv)
{
	if (stdio_fill() < 0) {
		/* Harmless if fd 2 is closed: nothing else can be there yet. */
		fprintf(stderr, "lisod: /dev/null: %s\n", strerror(errno));
		return 1;
	}
	struct startup s;
	memset(&s, 0, sizeof(s));
	s.lock_fd = s.notify_fd = s.ws.sigfd = -1;
	switch (config_parse(&s.cfg, argc, argv, stdout, stderr)) {
	case CONFIG_OK: break;
	case CONFIG_EXIT_OK: return 0;
	case CONFIG_EXIT_USAGE: config_free(&s.cfg); return 2;
	case CONFIG_EXIT_FAIL: config_free(&s.cfg); return 1;
	}
	if (s.cfg.workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		s.cfg.workers = n > 0 ? (unsigned)n : 1;
	}
	if (s.cfg.mode == CONFIG_MODE_ECHO)
		s.cfg.workers = 1;
	if (s.cfg.test_config) {
		int tested = configtest_run(&s.cfg);
		config_free(&s.cfg);
		return tested;
	}
	int rc = 1;
	char err[512];
	/* What systemd handed over is ours before anything can fork or exec
	 * (LISTEN_PID is this process; the variables go from the environment). */
	if (sdnotify_init(&s.notify, s.notify_warning, sizeof(s.notify_warning)) < 0)
		fprintf(stderr, "lisod: warning: %s\n", s.notify_warning);
	s.notify.main_pid = s.cfg.daemonize; /* the daemon is not what systemd started */
	if (sdlisten_adopt(&s.act, err, sizeof(err)) < 0) {
		fail("%s", err);
		goto out;
	}
	if (s.cfg.user) {
		if (priv_lookup(s.cfg.user, &s.user, err, sizeof(err)) < 0) {
			fail("%s", err);
			goto out;
		}
		s.have_user = true;
	}
	if (startup(&s) < 0) {
		/* Free what it got, so a sanitizer build reports real leaks only. */
		sites_close(&s.cfg, &s.ws, true);
		goto out;
	}
	log_banner(&s);
	log_warnings(&s);
	s.ws.cfg = &s.cfg;
	s.ws.log = s.log;
	if (share_stats(&s) < 0)
		goto out;
	s.ws.status = s.status;
	if (s.cfg.workers > 1 || s.cfg.config_path) {
		/* With -c a master even for one worker: a reload starts the new
		 * workers beside the old ones. */
		struct master_opts mo = {
			.workers = s.cfg.workers, .slot_fds = s.slot_fds, .notify_fd = s.notify_fd,
			.user = s.have_user ? &s.user : NULL, .notify = &s.notify,
			.status = s.status, .argc = argc, .argv = argv,
		};
		s.notify_fd = -1; /* the master's now */
		rc = master_run(&s.ws, &mo);
		s.log = NULL; /* the master closed it, with the sockets and sites */
		goto out;
	}
	s.ws.notify = &s.notify;
	if (s.have_user && drop_single(&s) < 0) {
		sites_close(&s.cfg, &s.ws, true);
		goto out;
	}
	struct worker w;
	if (worker_init(&w, &s.ws) < 0) {
		/* The reason is in the log; a daemon's launcher still waits on
		 * our stderr and must not exit 1 without a word. */
		if (s.notify_fd >= 0)
			fail("cannot start: see the log %s", s.cfg.log_path);
	} else if (report_ready(&s) == 0) {
		if (sdnotify_ready(&s.notify, s.status) < 0)
			log_warn(s.log, "notifying systemd: %s", strerror(errno));
		rc = worker_run(&w);
		log_info(s.log, "stopped");
	}
	worker_fini(&w); /* it took the sites' certificates and logs */
	sites_close(&s.cfg, &s.ws, false);
out:
	free(s.slot_fds);
	log_free(s.log);
	if (s.ws.sigfd >= 0)
		close(s.ws.sigfd);
	if (s.lock_fd >= 0)
		close(s.lock_fd);
	if (s.notify_fd >= 0)
		close(s.notify_fd);
	if (s.have_user)
		priv_user_fini(&s.user);
	config_free(&s.cfg);
	return rc;
}
