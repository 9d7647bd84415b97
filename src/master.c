#include "master.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chan.h"
#include "daemon.h"
#include "log.h"
#include "priv.h"
#include "sdnotify.h"
#include "reload.h"
#include "tls.h"

enum {
	MASTER_RESTART_DELAY_MS = 1000,
	MASTER_CRASH_WINDOW_MS = 1000,
	MASTER_TICK_MS = 1000,
	MASTER_RELOAD_WAIT_MS = 10000, /* workers confirm a handover within this */
};

struct master;
struct master_gen;

struct master_slot {
	struct loop_watch chan;   /* our end of its channel; fd -1 when none */
	struct master_gen *gen;
	pid_t pid;                /* 0: slot empty (waiting for a restart) */
	uint64_t started_ms;
	bool up;                  /* it said CHAN_UP */
	bool pending;             /* it has not confirmed the last handover */
};

/*
 * A generation: one configuration and the workers serving it, with what
 * was opened for them (listeners, certificates, logs, counters). The first
 * comes from main; with -c each SIGHUP builds the next one beside it. It
 * is current once all its workers are up; the one before then retires:
 * its workers stop accepting, finish what is in flight and exit, and it is
 * freed when the last one has gone. Slots never move (epoll holds
 * pointers to their channel watches).
 */
struct master_gen {
	struct master *m;
	struct master_gen *next;    /* every live generation: m->gens */
	unsigned id;
	bool retiring;
	struct config *cfg;         /* owned unless it is startup's */
	bool cfg_owned;
	struct worker_setup ws;     /* its TLS context is replaced on SIGHUP without -c */
	/* slot_fds[w * WORKER_LISTENERS_MAX + i]: listener i of worker w; -1
	 * once closed. Ports kept by a reload have the same fds in both. */
	int *slot_fds;
	struct master_slot *slots;
	unsigned count;
	size_t stats_bytes;
	uint64_t kill_at_ms;        /* retiring: SIGKILL what is left then */
	char status[160];           /* STATUS= for systemd */
};

struct master {
	const struct master_opts *o;
	struct log *log;            /* the current generation's */
	struct loop *loop;
	struct loop_watch sig;
	struct timer_queue q_tick;
	struct timer tick;
	struct master_gen *gens;    /* all live ones, newest first */
	struct master_gen *cur;     /* serving */
	struct master_gen *starting; /* a reload's, not all up yet; or NULL */
	unsigned gen_ids;
	pid_t pid;
	bool stopping;
	bool ready;                 /* every worker has been up: readiness told */
	bool reloading;             /* a SIGHUP's handover is not confirmed yet */
	bool reload_wanted;         /* -c: a SIGHUP came before the start was done */
	uint64_t kill_at_ms, reload_deadline_ms, next_deadline_ms;
	uint32_t seq;               /* of the last handover */
	int notify_fd, launcher_err; /* a daemon's launcher, until ready */
	int rc;
	char fail_text[CHAN_TEXT_MAX];
};

static void master_notify(struct master *m, int rc)
{
	if (rc < 0)
		log_warn(m->log, "notifying systemd: %s", strerror(errno));
}

/* A failure while the launcher (or the terminal) still waits for us: say it
 * there too, not only in the log. */
static void master_tell(struct master *m, const char *text)
{
	log_err(m->log, "%s", text);
	log_flush(m->log);
	if (m->launcher_err >= 0)
		dprintf(m->launcher_err, "lisod: %s\n", text);
	else if (m->notify_fd < 0 && !m->ready && m->cur->cfg->log_path)
		fprintf(stderr, "lisod: %s\n", text); /* (a log on stderr has it already) */
}

static void child_report(int chan_fd, enum chan_type type, const char *text)
{
	struct chan_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	if (text)
		snprintf(msg.text, sizeof(msg.text), "%s", text);
	(void)chan_send(chan_fd, &msg, NULL, 0);
}

/* After the drop: can we still reach what the worker opens next? */
static int child_check_root(const struct worker_setup *ws, const struct priv_user *u,
			    char *err, size_t errlen)
{
	const struct config *cfg = ws->cfg;
	for (unsigned i = 0; cfg->mode == CONFIG_MODE_HTTP && i < cfg->site_count; i++) {
		const char *root = cfg->sites[i].root;
		if (access(root, R_OK | X_OK) == 0)
			continue;
		snprintf(err, errlen, "document root %s is not readable by user %s: %s", root,
			 u->name, strerror(errno));
		return -1;
	}
	return 0;
}

static bool fd_in(int fd, const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] == fd)
			return true;
	return false;
}

/* In a new worker: of every generation's descriptors, keep only our own
 * slot's listeners and our channel. A socket of another generation kept
 * open here would outlive its port's removal. */
static void child_close_others(struct master *m, const struct master_slot *self,
			       const int *own, unsigned own_count)
{
	for (struct master_gen *g = m->gens; g; g = g->next) {
		for (unsigned k = 0; k < g->count; k++)
			if (&g->slots[k] != self && g->slots[k].chan.fd >= 0)
				close(g->slots[k].chan.fd);
		size_t n = (size_t)g->count * WORKER_LISTENERS_MAX;
		for (size_t k = 0; k < n; k++) {
			int fd = g->slot_fds[k];
			if (fd < 0 || fd_in(fd, own, own_count))
				continue;
			/* Closed once per number: sockets shared by slots or
			 * generations appear several times. */
			bool seen = false;
			for (struct master_gen *h = m->gens; h != g->next && !seen; h = h->next) {
				size_t end = h == g ? k : (size_t)h->count * WORKER_LISTENERS_MAX;
				seen = fd_in(fd, h->slot_fds, end);
			}
			if (!seen)
				close(fd);
		}
	}
}

static void worker_main(struct master_slot *self, int chan_fd)
{
	struct master_gen *g = self->gen;
	struct master *m = g->m;
	unsigned slot = (unsigned)(self - g->slots);
	/* Die with the master, whatever kills it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != m->pid)
		_exit(1); /* it died before the line above */
	loop_free(m->loop); /* the master's epoll set is not ours */
	log_set_pid(g->ws.log, (long)getpid());
	if (m->notify_fd >= 0)
		close(m->notify_fd);
	if (m->launcher_err >= 0)
		close(m->launcher_err);
	struct worker_setup ws = g->ws;
	ws.stats_slot = slot;
	for (unsigned i = 0; i < ws.listener_count; i++)
		ws.listen_fds[i] = g->slot_fds[slot * WORKER_LISTENERS_MAX + i];
	child_close_others(m, self, ws.listen_fds, ws.listener_count);
	ws.managed = true;
	ws.chan_fd = chan_fd;
	ws.notify = NULL; /* only the master talks to systemd */
	const struct priv_user *u = m->o->user;
	if (u) {
		char err[CHAN_TEXT_MAX];
		if (priv_drop(u, err, sizeof(err)) < 0 ||
		    child_check_root(&ws, u, err, sizeof(err)) < 0) {
			child_report(chan_fd, CHAN_FAIL, err); /* the master logs it */
			_exit(1);
		}
		/* The uid change cleared the parent-death signal. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != m->pid)
			_exit(1);
	}
	struct worker w;
	int rc = 1;
	if (worker_init(&w, &ws) == 0) {
		child_report(chan_fd, CHAN_UP, NULL);
		rc = worker_run(&w);
	} else {
		char text[CHAN_TEXT_MAX];
		snprintf(text, sizeof(text), "a worker could not start: see the log%s%s",
			 ws.cfg->log_path ? " " : "", ws.cfg->log_path ? ws.cfg->log_path : "");
		log_flush(ws.log);
		child_report(chan_fd, CHAN_FAIL, text);
	}
	worker_fini(&w); /* closes chan_fd */
	log_free(ws.log);
	_exit(rc);
}

static void master_close_chan(struct master *m, struct master_slot *s)
{
	if (s->chan.fd < 0)
		return;
	loop_del(m->loop, &s->chan);
	close(s->chan.fd);
	s->chan.fd = -1;
}

static void master_on_chan(struct loop *loop, struct loop_watch *watch, uint32_t events);

static void master_spawn(struct master_slot *s)
{
	struct master *m = s->gen->m;
	int sv[2];
	s->pid = 0;
	s->up = s->pending = false;
	s->started_ms = loop_now_ms(m->loop);
	if (chan_pair(sv) < 0) {
		log_err(m->log, "socketpair: %s; retrying in a second", strerror(errno));
		return;
	}
	/* Or the child would write our buffered lines again. */
	for (struct master_gen *g = m->gens; g; g = g->next)
		log_flush(g->ws.log);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		worker_main(s, sv[1]);
	}
	close(sv[1]);
	if (pid < 0) {
		log_err(m->log, "fork: %s; retrying in a second", strerror(errno));
		close(sv[0]);
		return;
	}
	s->pid = pid;
	s->chan.fd = sv[0];
	s->chan.fn = master_on_chan;
	if (loop_add_level(m->loop, &s->chan, EPOLLIN) < 0) {
		log_err(m->log, "epoll_ctl on a worker's channel: %s", strerror(errno));
		close(sv[0]);
		s->chan.fd = -1;
	}
}

static void gen_forward(struct master_gen *g, int sig)
{
	for (unsigned i = 0; i < g->count; i++)
		if (g->slots[i].pid > 0 && kill(g->slots[i].pid, sig) < 0 && errno == EPERM)
			log_err(g->m->log, "cannot signal worker %ld: %s (is CAP_KILL missing?)",
				(long)g->slots[i].pid, strerror(errno));
}

static void master_forward(struct master *m, int sig)
{
	for (struct master_gen *g = m->gens; g; g = g->next)
		gen_forward(g, sig);
}

/* A stop goes over the channels: it needs no permission to signal. */
static void gen_send(struct master_gen *g, enum chan_type type)
{
	struct chan_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	for (unsigned i = 0; i < g->count; i++)
		if (g->slots[i].pid > 0 && g->slots[i].chan.fd >= 0)
			(void)chan_send(g->slots[i].chan.fd, &msg, NULL, 0);
}

static void master_stop_workers(struct master *m)
{
	for (struct master_gen *g = m->gens; g; g = g->next)
		gen_send(g, CHAN_STOP);
	master_forward(m, SIGTERM);
}

static unsigned gen_alive(const struct master_gen *g)
{
	unsigned n = 0;
	for (unsigned i = 0; i < g->count; i++)
		n += g->slots[i].pid > 0;
	return n;
}

static unsigned master_alive(const struct master *m)
{
	unsigned n = 0;
	for (const struct master_gen *g = m->gens; g; g = g->next)
		n += gen_alive(g);
	return n;
}

static bool gen_all_up(const struct master_gen *g)
{
	for (unsigned i = 0; i < g->count; i++)
		if (!g->slots[i].up)
			return false;
	return true;
}

/* ---- generations ------------------------------------------------------------ */

static struct master_gen *gen_new(struct master *m, struct config *cfg, bool cfg_owned,
				  const struct worker_setup *ws, int *slot_fds)
{
	struct master_gen *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->slots = calloc(cfg->workers, sizeof(*g->slots));
	if (!g->slots) {
		free(g);
		return NULL;
	}
	g->m = m;
	g->id = ++m->gen_ids;
	g->cfg = cfg;
	g->cfg_owned = cfg_owned;
	g->ws = *ws;
	g->slot_fds = slot_fds;
	g->count = cfg->workers;
	for (unsigned i = 0; i < g->count; i++) {
		g->slots[i].chan.fd = -1;
		g->slots[i].gen = g;
	}
	g->next = m->gens;
	m->gens = g;
	return g;
}

/* Is fd a listener of another live generation? */
static bool fd_used_elsewhere(const struct master *m, const struct master_gen *self, int fd)
{
	for (const struct master_gen *g = m->gens; g; g = g->next)
		if (g != self && fd_in(fd, g->slot_fds, (size_t)g->count * WORKER_LISTENERS_MAX))
			return true;
	return false;
}

/* Close the listeners no other generation serves (each number once). */
static void gen_close_listeners(struct master *m, struct master_gen *g)
{
	size_t n = (size_t)g->count * WORKER_LISTENERS_MAX;
	for (size_t k = 0; k < n; k++) {
		int fd = g->slot_fds[k];
		if (fd < 0)
			continue;
		if (!fd_used_elsewhere(m, g, fd))
			close(fd);
		for (size_t j = k; j < n; j++)
			if (g->slot_fds[j] == fd)
				g->slot_fds[j] = -1;
	}
}

static void gen_free(struct master *m, struct master_gen *g)
{
	for (struct master_gen **p = &m->gens; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	for (unsigned i = 0; i < g->count; i++)
		master_close_chan(m, &g->slots[i]);
	g->next = NULL;
	gen_close_listeners(m, g);
	if (g->ws.log == m->log)
		m->log = m->cur && m->cur != g ? m->cur->ws.log : NULL;
	reload_close(&g->ws);
	if (g->cfg_owned) {
		config_free(g->cfg);
		free(g->cfg);
	}
	free(g->slot_fds);
	free(g->slots);
	free(g);
}

/* Its workers finish what is in flight and exit; it goes with the last. */
static void gen_retire(struct master *m, struct master_gen *g, bool stop_now)
{
	g->retiring = true;
	g->kill_at_ms = loop_now_ms(m->loop) + g->cfg->shutdown_timeout_ms + 2000;
	gen_send(g, stop_now ? CHAN_RETIRE : CHAN_STOP);
	/* The master's copies of sockets only it served go now: a removed
	 * port closes when its last worker lets go of it. */
	gen_close_listeners(m, g);
	if (gen_alive(g) == 0)
		gen_free(m, g);
}

static void gen_status(struct master_gen *g)
{
	const struct worker_setup *ws = &g->ws;
	int n = snprintf(g->status, sizeof(g->status), "serving %u site%s on",
			 g->cfg->site_count, g->cfg->site_count == 1 ? "" : "s");
	for (unsigned i = 0; i < ws->listener_count && n > 0 && (size_t)n < sizeof(g->status); i++)
		n += snprintf(g->status + n, sizeof(g->status) - (size_t)n, "%s %u", i ? "," : "",
			      ws->ports[i]);
	if (n > 0 && (size_t)n < sizeof(g->status))
		snprintf(g->status + n, sizeof(g->status) - (size_t)n, "; %u worker%s", g->count,
			 g->count == 1 ? "" : "s");
}

static void master_reload(struct master *m);

/* A SIGHUP that came while the start or a reload was under way. */
static void master_reload_queued(struct master *m)
{
	if (!m->reload_wanted || m->stopping)
		return;
	m->reload_wanted = false;
	master_reload(m);
}

/* A reload's workers are all up: they serve, the old ones retire. */
static void master_promote(struct master *m)
{
	struct master_gen *old = m->cur, *g = m->starting;
	m->starting = NULL;
	m->cur = g;
	log_flush(m->log);
	m->log = g->ws.log;
	gen_retire(m, old, true);
	gen_status(g);
	log_info(m->log, "configuration reloaded: %s (generation %u)", g->status, g->id);
	master_notify(m, sdnotify_ready(m->o->notify, g->status));
	master_reload_queued(m);
}

/* A reload's workers could not all start: they go, the old ones stay. */
static void master_reload_failed(struct master *m, const char *why)
{
	struct master_gen *g = m->starting;
	m->starting = NULL;
	log_err(m->log, "reload failed: %s; still serving the running configuration", why);
	gen_forward(g, SIGTERM);
	gen_retire(m, g, true);
	master_notify(m, sdnotify_ready(m->o->notify, m->cur->status));
	master_reload_queued(m);
}

/* SIGHUP or SIGUSR1 with -c: the file again, all of it checked, then a new
 * generation beside the running one (see master.h). */
static void master_reload(struct master *m)
{
	if (m->starting) {
		log_info(m->log, "reload: the previous one is still starting; this one follows");
		m->reload_wanted = true;
		return;
	}
	log_info(m->log, "reloading %s", m->cur->cfg->config_path);
	m->fail_text[0] = '\0'; /* a new worker's CHAN_FAIL names this reload's failure */
	master_notify(m, sdnotify_reloading(m->o->notify));
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct worker_setup ws;
	int *slot_fds = NULL;
	struct master_gen *g = NULL;
	if (!cfg) {
		log_err(m->log, "reload: out of memory");
		goto fail;
	}
	if (reload_parse(m->o->argc, m->o->argv, m->cur->cfg, cfg, m->log) < 0)
		goto fail;
	if (reload_open(cfg, &m->cur->ws, m->cur->slot_fds, &ws, &slot_fds, m->log) < 0)
		goto fail_cfg;
	ws.sigfd = m->cur->ws.sigfd; /* the workers' signals, as at startup */
	g = gen_new(m, cfg, true, &ws, slot_fds);
	if (!g) {
		log_err(m->log, "reload: out of memory");
		goto fail_open;
	}
	m->starting = g;
	m->next_deadline_ms = loop_now_ms(m->loop) + MASTER_RELOAD_WAIT_MS;
	for (unsigned i = 0; i < g->count; i++)
		master_spawn(&g->slots[i]);
	for (unsigned i = 0; i < g->count; i++)
		if (g->slots[i].pid == 0) {
			master_reload_failed(m, "cannot start the workers (fork failed)");
			break;
		}
	return;
fail_open:
	/* Sockets opened for it alone: close them (shared ones stay). */
	for (size_t k = 0; k < (size_t)cfg->workers * WORKER_LISTENERS_MAX; k++)
		if (slot_fds[k] >= 0 && !fd_used_elsewhere(m, NULL, slot_fds[k])) {
			close(slot_fds[k]);
			for (size_t j = k + 1; j < (size_t)cfg->workers * WORKER_LISTENERS_MAX; j++)
				if (slot_fds[j] == slot_fds[k])
					slot_fds[j] = -1;
		}
	free(slot_fds);
	reload_close(&ws);
fail_cfg:
	log_err(m->log, "reload refused (see above): still serving the running configuration");
	config_free(cfg);
fail:
	free(cfg);
	master_notify(m, sdnotify_ready(m->o->notify, m->cur->status));
}

/* ---- startup readiness, handovers ------------------------------------------- */

/* The start failed: every worker goes, the master exits 1. */
static void master_abort(struct master *m, const char *why)
{
	master_tell(m, why);
	m->rc = 1;
	m->stopping = true;
	loop_stop(m->loop);
}

static void master_check_ready(struct master *m)
{
	if (m->ready || m->stopping || !gen_all_up(m->cur))
		return;
	if (m->notify_fd >= 0) {
		log_flush(m->log); /* the banner is in the log when the launcher returns */
		int rc = daemon_notify(m->notify_fd, m->launcher_err);
		m->notify_fd = m->launcher_err = -1;
		if (rc < 0) {
			log_err(m->log, "the launcher could not be told we are ready: stopping");
			m->rc = 1;
			m->stopping = true;
			loop_stop(m->loop);
			return;
		}
	}
	m->ready = true;
	log_info(m->log, "ready: %u workers up", m->cur->count);
	master_notify(m, sdnotify_ready(m->o->notify, m->o->status));
	master_reload_queued(m);
}

/* Every worker has taken the last SIGHUP's handover (or gone, or the wait
 * is over): systemd learns the reload is done. */
static void master_check_reloaded(struct master *m, bool give_up)
{
	if (!m->reloading)
		return;
	struct master_gen *g = m->cur;
	for (unsigned i = 0; i < g->count && !give_up; i++)
		if (g->slots[i].pending)
			return;
	if (give_up)
		for (unsigned i = 0; i < g->count; i++)
			g->slots[i].pending = false;
	m->reloading = false;
	if (m->ready && !m->stopping)
		master_notify(m, sdnotify_ready(m->o->notify, m->o->status));
}

static void master_on_up(struct master *m, struct master_slot *s)
{
	s->up = true;
	if (s->gen == m->cur)
		master_check_ready(m);
	else if (s->gen == m->starting && gen_all_up(s->gen))
		master_promote(m);
}

static void master_on_chan(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	struct master_slot *s = container_of(watch, struct master_slot, chan);
	struct master *m = s->gen->m;
	for (int i = 0; i < 16 && watch->fd >= 0; i++) {
		struct chan_msg msg;
		int fds[CHAN_FDS_MAX];
		unsigned nfds;
		int r = chan_recv(watch->fd, &msg, fds, &nfds);
		for (unsigned k = 0; k < nfds; k++)
			close(fds[k]); /* workers send none */
		if (r < 0 && errno == EAGAIN)
			return;
		if (r < 0 && errno == EBADMSG)
			continue;
		if (r <= 0) {
			master_close_chan(m, s); /* it exited: reaped on SIGCHLD */
			return;
		}
		switch (msg.type) {
		case CHAN_UP:
			master_on_up(m, s);
			break;
		case CHAN_DONE:
			if (s->pending && msg.seq == m->seq) {
				s->pending = false;
				master_check_reloaded(m, false);
			}
			break;
		case CHAN_FAIL:
			/* Before readiness it fails the start (master_reap says
			 * it); in a reload it fails the reload; after, a
			 * restarted worker's reason goes to the log. */
			snprintf(m->fail_text, sizeof(m->fail_text), "%s", msg.text);
			if (m->ready)
				log_err(m->log, "worker %ld: %s", (long)s->pid, msg.text);
			break;
		default:
			break;
		}
	}
}

/* Why a worker that was not up yet is gone: what it said, else how it ended. */
static void exit_text(const struct master *m, char *why, size_t cap, pid_t pid, int status)
{
	if (m->fail_text[0])
		snprintf(why, cap, "%s", m->fail_text);
	else if (WIFSIGNALED(status))
		snprintf(why, cap, "worker %ld killed by signal %d before it was ready", (long)pid,
			 WTERMSIG(status));
	else
		snprintf(why, cap, "worker %ld exited with status %d before it was ready",
			 (long)pid, WEXITSTATUS(status));
}

static struct master_slot *master_find(struct master *m, pid_t pid)
{
	for (struct master_gen *g = m->gens; g; g = g->next)
		for (unsigned i = 0; i < g->count; i++)
			if (g->slots[i].pid == pid)
				return &g->slots[i];
	return NULL;
}

/* One worker of the current generation exited. */
static void master_reaped_current(struct master *m, struct master_slot *s, pid_t pid,
				  int status)
{
	if (m->stopping)
		return;
	if (!m->ready) {
		char why[CHAN_TEXT_MAX + 64];
		exit_text(m, why, sizeof(why), pid, status);
		master_abort(m, why);
		return;
	}
	if (WIFSIGNALED(status))
		log_err(m->log, "worker %ld killed by signal %d: restarting", (long)pid,
			WTERMSIG(status));
	else
		log_err(m->log, "worker %ld exited with status %d: restarting", (long)pid,
			WEXITSTATUS(status));
	/* Restart at once unless it died young; the tick retries. */
	if (loop_now_ms(m->loop) - s->started_ms >= MASTER_CRASH_WINDOW_MS)
		master_spawn(s);
}

static void master_reap(struct master *m)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct master_slot *s = master_find(m, pid);
		if (!s)
			continue;
		struct master_gen *g = s->gen;
		/* What it said before it died (CHAN_FAIL) may still wait. */
		if (s->chan.fd >= 0)
			master_on_chan(m->loop, &s->chan, 0);
		s->pid = 0;
		master_close_chan(m, s);
		if (s->pending) {
			s->pending = false;
			master_check_reloaded(m, false);
		}
		if (g == m->cur) {
			master_reaped_current(m, s, pid, status);
		} else if (g == m->starting) {
			char why[CHAN_TEXT_MAX + 64];
			exit_text(m, why, sizeof(why), pid, status);
			master_reload_failed(m, why);
		} else if (gen_alive(g) == 0) {
			log_info(m->log, "generation %u has finished", g->id);
			gen_free(m, g);
		}
	}
	if (m->stopping && master_alive(m) == 0)
		loop_stop(m->loop);
}

/* SIGHUP (reload: key, certificate, logs) or SIGUSR1 (logs) without -c.
 * The master opens everything itself — as root when the workers dropped
 * to --user, so root-only files keep working — and hands it to every
 * worker; a worker restarted later inherits the new context and files. */
static void master_handover(struct master *m, bool reload)
{
	struct master_gen *g = m->cur;
	struct worker_setup *ws = &g->ws;
	struct tls_pem pem = { 0 };
	int fds[CHAN_FDS_MAX], nfds = 0, pem_fd = -1;
	struct chan_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.type = CHAN_HANDOVER;
	msg.seq = ++m->seq;
	if (reload) {
		m->reloading = true;
		m->reload_deadline_ms = loop_now_ms(m->loop) + MASTER_RELOAD_WAIT_MS;
		master_notify(m, sdnotify_reloading(m->o->notify));
	}
	if (reload && ws->tls) {
		char err[512];
		bool self_signed = false;
		const struct config *cfg = ws->cfg;
		struct tls_ctx *fresh = tls_ctx_reload(ws->tls, cfg->key_path, cfg->cert_path,
						       &self_signed, err, sizeof(err));
		if (!fresh) {
			log_err(m->log, "TLS reload failed, keeping the old certificate: %s", err);
		} else {
			/* The sites that shared the old context share the new. */
			for (unsigned i = 0; ws->site_tls && i < cfg->site_count; i++)
				if (ws->site_tls[i] == ws->tls)
					ws->site_tls[i] = fresh;
			tls_ctx_free(ws->tls);
			ws->tls = fresh;
			if (tls_ctx_export(fresh, &pem, err, sizeof(err)) < 0 ||
			    (pem_fd = chan_pem_memfd(&pem)) < 0)
				log_err(m->log, "TLS reload: cannot hand the new certificate over: %s",
					pem.data ? strerror(errno) : err);
		}
	}
	if (pem_fd >= 0) {
		msg.what |= CHAN_TLS;
		msg.key_len = pem.key_len;
		msg.len = pem.len;
		fds[nfds++] = pem_fd;
	}
	tls_pem_free(&pem);
	if (log_reopen(m->log) < 0) {
		log_err(m->log, "reopening logs: %s", strerror(errno));
	} else {
		int err_fd, acc_fd;
		log_files(m->log, &err_fd, &acc_fd);
		if (err_fd >= 0) {
			msg.what |= CHAN_ERROR_LOG;
			fds[nfds++] = err_fd;
		}
		if (acc_fd >= 0) {
			msg.what |= CHAN_ACCESS_LOG;
			fds[nfds++] = acc_fd;
		}
	}
	unsigned sent = 0;
	for (unsigned i = 0; i < g->count; i++) {
		struct master_slot *s = &g->slots[i];
		s->pending = false;
		if (s->pid <= 0 || s->chan.fd < 0)
			continue;
		if (chan_send(s->chan.fd, &msg, fds, (unsigned)nfds) < 0) {
			log_err(m->log, "handing over to worker %ld: %s", (long)s->pid,
				strerror(errno));
			continue;
		}
		s->pending = true;
		sent++;
	}
	if (pem_fd >= 0)
		close(pem_fd);
	log_info(m->log, "%s handed to %u worker(s)",
		 (msg.what & CHAN_TLS) ? "new key, certificate and logs" : "reopened logs", sent);
	master_check_reloaded(m, false);
}

static void master_on_signal(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	struct master *m = container_of(watch, struct master, sig);
	struct signalfd_siginfo si;
	while (read(watch->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			master_reap(m);
			break;
		case SIGTERM:
		case SIGINT:
			if (!m->stopping) {
				log_info(m->log, "signal %u: stopping %u worker(s)", si.ssi_signo,
					 master_alive(m));
				master_notify(m, sdnotify_stopping(m->o->notify));
				m->stopping = true;
				m->kill_at_ms = loop_now_ms(m->loop) +
						m->cur->cfg->shutdown_timeout_ms + 2000;
			}
			master_stop_workers(m);
			if (master_alive(m) == 0)
				loop_stop(m->loop);
			break;
		case SIGHUP:
		case SIGUSR1:
			if (m->stopping)
				break;
			if (!m->cur->cfg->config_path)
				master_handover(m, si.ssi_signo == SIGHUP);
			else if (m->ready)
				master_reload(m);
			else
				m->reload_wanted = true; /* done once the start is */
			break;
		default:
			break;
		}
	}
}

static void master_on_tick(struct loop *loop, struct timer *t)
{
	struct master *m = container_of(t, struct master, tick);
	for (struct master_gen *g = m->gens; g; g = g->next)
		log_flush(g->ws.log);
	uint64_t now = loop_now_ms(loop);
	if (m->stopping && now >= m->kill_at_ms) {
		log_warn(m->log, "workers still running after the deadline: killing them");
		master_forward(m, SIGKILL);
	}
	for (struct master_gen *g = m->gens; g; g = g->next)
		if (g->retiring && now >= g->kill_at_ms && gen_alive(g)) {
			log_warn(m->log, "generation %u: %u worker(s) still running after the "
				 "shutdown deadline: killing them", g->id, gen_alive(g));
			gen_forward(g, SIGKILL);
		}
	if (m->starting && now >= m->next_deadline_ms)
		master_reload_failed(m, "the new workers did not start in time");
	if (m->reloading && now >= m->reload_deadline_ms) {
		log_warn(m->log, "not every worker confirmed the reload in time");
		master_check_reloaded(m, true);
	}
	if (!m->stopping && m->ready)
		for (unsigned i = 0; i < m->cur->count; i++) {
			struct master_slot *s = &m->cur->slots[i];
			if (s->pid == 0 && now - s->started_ms >= MASTER_RESTART_DELAY_MS)
				master_spawn(s);
		}
	loop_timer_arm(loop, t, &m->q_tick);
}

/* Before readiness a daemon's launcher still waits on our stderr: say it
 * there too, or it would exit 1 without a word. */
static void master_fail(struct master *m, const char *what)
{
	char text[256];
	snprintf(text, sizeof(text), "%s: %s", what, strerror(errno));
	master_tell(m, text);
}

int master_run(struct worker_setup *ws, const struct master_opts *o)
{
	struct master m = { .o = o, .log = ws->log, .pid = getpid(), .notify_fd = o->notify_fd,
			    .launcher_err = -1, .rc = 1 };
	size_t nfds = (size_t)o->workers * WORKER_LISTENERS_MAX;
	int *fds = malloc(sizeof(int) * nfds);
	if (fds) {
		memcpy(fds, o->slot_fds, sizeof(int) * nfds);
		for (size_t k = 0; k < nfds; k++)
			if (k % WORKER_LISTENERS_MAX >= ws->listener_count)
				fds[k] = -1;
	}
	/* The first generation is startup's: its config stays main's. */
	m.cur = fds ? gen_new(&m, (struct config *)ws->cfg, false, ws, fds) : NULL;
	m.loop = loop_new();
	if (!m.cur || !m.loop || loop_timer_queue_add(m.loop, &m.q_tick, MASTER_TICK_MS) < 0) {
		if (!m.cur)
			free(fds);
		master_fail(&m, "master setup");
		goto out;
	}
	snprintf(m.cur->status, sizeof(m.cur->status), "%s", o->status ? o->status : "");
	m.sig.fd = ws->sigfd;
	m.sig.fn = master_on_signal;
	if (loop_add_level(m.loop, &m.sig, EPOLLIN) < 0) {
		master_fail(&m, "epoll_ctl");
		goto out;
	}
	timer_init(&m.tick, master_on_tick);
	loop_timer_arm(m.loop, &m.tick, &m.q_tick);
	log_info(m.log, "master %ld starting %u workers", (long)m.pid, o->workers);
	log_flush(m.log);
	/* A daemon lets go of the launcher's stdio before the first fork, so
	 * the workers inherit /dev/null and not its pipes; the launcher is told
	 * once every worker is up (master_check_ready), and until then our
	 * copy of its stderr carries a failure to it. */
	if (m.notify_fd >= 0) {
		m.launcher_err = daemon_detach();
		if (m.launcher_err < 0)
			goto out;
	}
	m.rc = 0;
	for (unsigned i = 0; i < m.cur->count; i++)
		master_spawn(&m.cur->slots[i]);
	for (unsigned i = 0; i < m.cur->count; i++)
		if (m.cur->slots[i].pid == 0) {
			master_abort(&m, "cannot start the workers (fork failed)");
			break;
		}
	if (!m.stopping && loop_run(m.loop) < 0)
		m.rc = 1;
	/* Whatever happened, leave no worker behind. */
	master_forward(&m, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
out:
	if (m.log)
		log_info(m.log, "stopped");
	/* Every generation's sockets, certificates and logs: ours now. */
	m.cur = NULL;
	while (m.gens)
		gen_free(&m, m.gens);
	if (m.notify_fd >= 0)
		close(m.notify_fd);
	if (m.launcher_err >= 0)
		close(m.launcher_err);
	loop_free(m.loop);
	return m.rc;
}
