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
#include "tls.h"

enum {
	MASTER_RESTART_DELAY_MS = 1000,
	MASTER_CRASH_WINDOW_MS = 1000,
	MASTER_TICK_MS = 1000,
	MASTER_RELOAD_WAIT_MS = 10000, /* workers confirm a handover within this */
};

struct master;

struct master_slot {
	struct loop_watch chan;   /* our end of its channel; fd -1 when none */
	struct master *m;
	pid_t pid;                /* 0: slot empty (waiting for a restart) */
	uint64_t started_ms;
	bool up;                  /* it said CHAN_UP */
	bool pending;             /* it has not confirmed the last handover */
};

struct master {
	struct worker_setup *ws;    /* its TLS context is replaced on SIGHUP */
	const struct master_opts *o;
	struct log *log;
	struct loop *loop;
	struct loop_watch sig;
	struct timer_queue q_tick;
	struct timer tick;
	struct master_slot *slots;
	unsigned count;
	pid_t pid;
	bool stopping;
	bool ready;                 /* every worker has been up: readiness told */
	bool reloading;             /* a SIGHUP's handover is not confirmed yet */
	uint64_t kill_at_ms, reload_deadline_ms;
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
	else if (m->notify_fd < 0 && !m->ready && m->ws->cfg->log_path)
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

static void worker_main(struct master *m, unsigned slot, int chan_fd)
{
	/* Die with the master, whatever kills it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != m->pid)
		_exit(1); /* it died before the line above */
	loop_free(m->loop); /* the master's epoll set is not ours */
	log_set_pid(m->log, (long)getpid());
	for (unsigned i = 0; i < m->count; i++)
		if (i != slot && m->slots[i].chan.fd >= 0)
			close(m->slots[i].chan.fd); /* the other workers' channels */
	if (m->notify_fd >= 0)
		close(m->notify_fd);
	if (m->launcher_err >= 0)
		close(m->launcher_err);
	struct worker_setup ws = *m->ws;
	ws.stats_slot = slot;
	const int *fds = m->o->slot_fds;
	for (unsigned w = 0; w < m->count; w++)
		for (unsigned i = 0; i < ws.listener_count; i++) {
			int fd = fds[w * WORKER_LISTENERS_MAX + i];
			int own = fds[slot * WORKER_LISTENERS_MAX + i];
			if (w == slot)
				ws.listen_fds[i] = fd;
			else if (fd != own)
				close(fd); /* other workers' sockets (a shared one is ours too) */
		}
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
		log_flush(m->log);
		child_report(chan_fd, CHAN_FAIL, text);
	}
	worker_fini(&w); /* closes chan_fd */
	log_free(m->log);
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

static void master_spawn(struct master *m, unsigned slot)
{
	struct master_slot *s = &m->slots[slot];
	int sv[2];
	s->pid = 0;
	s->up = s->pending = false;
	s->started_ms = loop_now_ms(m->loop);
	if (chan_pair(sv) < 0) {
		log_err(m->log, "socketpair: %s; retrying in a second", strerror(errno));
		return;
	}
	log_flush(m->log); /* or the child would write our buffered lines again */
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		worker_main(m, slot, sv[1]);
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

static void master_forward(struct master *m, int sig)
{
	for (unsigned i = 0; i < m->count; i++)
		if (m->slots[i].pid > 0 && kill(m->slots[i].pid, sig) < 0 && errno == EPERM)
			log_err(m->log, "cannot signal worker %ld: %s (is CAP_KILL missing?)",
				(long)m->slots[i].pid, strerror(errno));
}

/* A stop goes over the channels too: it needs no permission to signal. */
static void master_stop_workers(struct master *m)
{
	struct chan_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.type = CHAN_STOP;
	for (unsigned i = 0; i < m->count; i++)
		if (m->slots[i].pid > 0 && m->slots[i].chan.fd >= 0)
			(void)chan_send(m->slots[i].chan.fd, &msg, NULL, 0);
	master_forward(m, SIGTERM);
}

static unsigned master_alive(const struct master *m)
{
	unsigned n = 0;
	for (unsigned i = 0; i < m->count; i++)
		n += m->slots[i].pid > 0;
	return n;
}

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
	if (m->ready || m->stopping)
		return;
	for (unsigned i = 0; i < m->count; i++)
		if (!m->slots[i].up)
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
	log_info(m->log, "ready: %u workers up", m->count);
	master_notify(m, sdnotify_ready(m->o->notify, m->o->status));
}

/* Every worker has taken the last SIGHUP's handover (or gone, or the wait
 * is over): systemd learns the reload is done. */
static void master_check_reloaded(struct master *m, bool give_up)
{
	if (!m->reloading)
		return;
	for (unsigned i = 0; i < m->count && !give_up; i++)
		if (m->slots[i].pending)
			return;
	if (give_up)
		for (unsigned i = 0; i < m->count; i++)
			m->slots[i].pending = false;
	m->reloading = false;
	if (m->ready && !m->stopping)
		master_notify(m, sdnotify_ready(m->o->notify, m->o->status));
}

static void master_on_chan(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	struct master_slot *s = container_of(watch, struct master_slot, chan);
	struct master *m = s->m;
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
			s->up = true;
			master_check_ready(m);
			break;
		case CHAN_DONE:
			if (s->pending && msg.seq == m->seq) {
				s->pending = false;
				master_check_reloaded(m, false);
			}
			break;
		case CHAN_FAIL:
			/* Before readiness it fails the start (master_reap says
			 * it); after, a restarted worker's reason goes to the log. */
			snprintf(m->fail_text, sizeof(m->fail_text), "%s", msg.text);
			if (m->ready)
				log_err(m->log, "worker %ld: %s", (long)s->pid, msg.text);
			break;
		default:
			break;
		}
	}
}

static void master_reap(struct master *m)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < m->count; i++) {
			struct master_slot *s = &m->slots[i];
			if (s->pid != pid)
				continue;
			/* What it said before it died (CHAN_FAIL) may still wait. */
			if (s->chan.fd >= 0)
				master_on_chan(m->loop, &s->chan, 0);
			s->pid = 0;
			master_close_chan(m, s);
			if (s->pending) {
				s->pending = false;
				master_check_reloaded(m, false);
			}
			if (m->stopping)
				break;
			if (!m->ready) {
				char why[CHAN_TEXT_MAX + 64];
				if (m->fail_text[0])
					snprintf(why, sizeof(why), "%s", m->fail_text);
				else if (WIFSIGNALED(status))
					snprintf(why, sizeof(why), "worker %ld killed by signal %d "
						 "before it was ready", (long)pid, WTERMSIG(status));
				else
					snprintf(why, sizeof(why), "worker %ld exited with status %d "
						 "before it was ready", (long)pid, WEXITSTATUS(status));
				master_abort(m, why);
				break;
			}
			if (WIFSIGNALED(status))
				log_err(m->log, "worker %ld killed by signal %d: restarting", (long)pid,
					WTERMSIG(status));
			else
				log_err(m->log, "worker %ld exited with status %d: restarting",
					(long)pid, WEXITSTATUS(status));
			/* Restart at once unless it died young; the tick retries. */
			if (loop_now_ms(m->loop) - s->started_ms >= MASTER_CRASH_WINDOW_MS)
				master_spawn(m, i);
			break;
		}
	}
	if (m->stopping && master_alive(m) == 0)
		loop_stop(m->loop);
}

/* SIGHUP (reload: key, certificate, logs) or SIGUSR1 (logs). The master
 * opens everything itself — as root when the workers dropped to --user,
 * so root-only files keep working — and hands it to every worker; a worker
 * restarted later inherits the new context and files at fork. */
static void master_handover(struct master *m, bool reload)
{
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
	if (reload && m->ws->tls) {
		char err[512];
		bool self_signed = false;
		const struct config *cfg = m->ws->cfg;
		struct tls_ctx *fresh = tls_ctx_reload(m->ws->tls, cfg->key_path, cfg->cert_path,
						       &self_signed, err, sizeof(err));
		if (!fresh) {
			log_err(m->log, "TLS reload failed, keeping the old certificate: %s", err);
		} else {
			/* The sites that shared the old context share the new. */
			for (unsigned i = 0; m->ws->site_tls && i < cfg->site_count; i++)
				if (m->ws->site_tls[i] == m->ws->tls)
					m->ws->site_tls[i] = fresh;
			tls_ctx_free(m->ws->tls);
			m->ws->tls = fresh;
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
	for (unsigned i = 0; i < m->count; i++) {
		struct master_slot *s = &m->slots[i];
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
						m->ws->cfg->shutdown_timeout_ms + 2000;
			}
			master_stop_workers(m);
			if (master_alive(m) == 0)
				loop_stop(m->loop);
			break;
		case SIGHUP:
		case SIGUSR1:
			if (!m->stopping)
				master_handover(m, si.ssi_signo == SIGHUP);
			break;
		default:
			break;
		}
	}
}

static void master_on_tick(struct loop *loop, struct timer *t)
{
	struct master *m = container_of(t, struct master, tick);
	log_flush(m->log);
	if (m->stopping && loop_now_ms(loop) >= m->kill_at_ms) {
		log_warn(m->log, "workers still running after the deadline: killing them");
		master_forward(m, SIGKILL);
	}
	if (m->reloading && loop_now_ms(loop) >= m->reload_deadline_ms) {
		log_warn(m->log, "not every worker confirmed the reload in time");
		master_check_reloaded(m, true);
	}
	if (!m->stopping && m->ready)
		for (unsigned i = 0; i < m->count; i++)
			if (m->slots[i].pid == 0 &&
			    loop_now_ms(loop) - m->slots[i].started_ms >= MASTER_RESTART_DELAY_MS)
				master_spawn(m, i);
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
	struct master m = { .ws = ws, .o = o, .log = ws->log, .count = o->workers,
			    .pid = getpid(), .notify_fd = o->notify_fd, .launcher_err = -1,
			    .rc = 1 };
	m.slots = calloc(o->workers, sizeof(*m.slots));
	for (unsigned i = 0; m.slots && i < o->workers; i++) {
		m.slots[i].chan.fd = -1;
		m.slots[i].m = &m;
	}
	m.loop = loop_new();
	if (!m.slots || !m.loop || loop_timer_queue_add(m.loop, &m.q_tick, MASTER_TICK_MS) < 0) {
		master_fail(&m, "master setup");
		goto out;
	}
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
	for (unsigned i = 0; i < o->workers; i++)
		master_spawn(&m, i);
	for (unsigned i = 0; i < o->workers; i++)
		if (m.slots[i].pid == 0) {
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
	for (unsigned i = 0; m.slots && i < o->workers; i++)
		if (m.slots[i].chan.fd >= 0)
			close(m.slots[i].chan.fd);
	if (m.notify_fd >= 0)
		close(m.notify_fd);
	if (m.launcher_err >= 0)
		close(m.launcher_err);
	loop_free(m.loop);
	free(m.slots);
	return m.rc;
}
