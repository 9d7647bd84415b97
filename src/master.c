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

#include "daemon.h"
#include "log.h"
#include "tls.h"

enum { MASTER_RESTART_DELAY_MS = 1000, MASTER_CRASH_WINDOW_MS = 1000, MASTER_TICK_MS = 1000 };

struct master {
	struct worker_setup *ws;    /* its TLS context is replaced on SIGHUP */
	const int *slot_fds;
	struct log *log;
	struct loop *loop;
	struct loop_watch sig;
	struct timer_queue q_tick;
	struct timer tick;
	pid_t *pids;           /* 0: slot empty (waiting for a restart) */
	uint64_t *started_ms;
	unsigned count;
	bool stopping;
	uint64_t kill_at_ms;
};

static void worker_main(struct master *m, unsigned slot)
{
	/* Die with the master, whatever kills it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	loop_free(m->loop); /* the master's epoll set is not ours */
	log_set_pid(m->log, (long)getpid());
	struct worker_setup ws = *m->ws;
	ws.stats_slot = slot;
	for (unsigned w = 0; w < m->count; w++)
		for (unsigned i = 0; i < ws.listener_count; i++) {
			int fd = m->slot_fds[w * WORKER_LISTENERS_MAX + i];
			if (w == slot)
				ws.listen_fds[i] = fd;
			else
				close(fd); /* other workers' sockets */
		}
	struct worker w;
	int rc = 1;
	if (worker_init(&w, &ws) == 0)
		rc = worker_run(&w);
	worker_fini(&w);
	log_free(m->log);
	_exit(rc);
}

static void master_spawn(struct master *m, unsigned slot)
{
	log_flush(m->log); /* or the child would write our buffered lines again */
	pid_t pid = fork();
	if (pid == 0)
		worker_main(m, slot);
	if (pid < 0) {
		log_err(m->log, "fork: %s; retrying in a second", strerror(errno));
		m->pids[slot] = 0;
		return;
	}
	m->pids[slot] = pid;
	m->started_ms[slot] = loop_now_ms(m->loop);
}

static void master_forward(struct master *m, int sig)
{
	for (unsigned i = 0; i < m->count; i++)
		if (m->pids[i] > 0)
			kill(m->pids[i], sig);
}

static unsigned master_alive(const struct master *m)
{
	unsigned n = 0;
	for (unsigned i = 0; i < m->count; i++)
		n += m->pids[i] > 0;
	return n;
}

static void master_reap(struct master *m)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < m->count; i++) {
			if (m->pids[i] != pid)
				continue;
			m->pids[i] = 0;
			if (m->stopping)
				break;
			if (WIFSIGNALED(status))
				log_err(m->log, "worker %ld killed by signal %d: restarting", (long)pid,
					WTERMSIG(status));
			else
				log_err(m->log, "worker %ld exited with status %d: restarting",
					(long)pid, WEXITSTATUS(status));
			/* Restart at once unless it died young; the tick retries. */
			if (loop_now_ms(m->loop) - m->started_ms[i] >= MASTER_CRASH_WINDOW_MS)
				master_spawn(m, i);
			break;
		}
	}
	if (m->stopping && master_alive(m) == 0)
		loop_stop(m->loop);
}

/* Workers reload their own context on the forwarded SIGHUP; the master
 * reloads its copy too, so a worker restarted later starts with the new
 * certificate (and the same ticket keys as the others). */
static void master_reload_tls(struct master *m)
{
	if (!m->ws->tls)
		return;
	char err[512];
	bool self_signed;
	struct tls_ctx *fresh = tls_ctx_reload(m->ws->tls, m->ws->cfg->key_path,
					       m->ws->cfg->cert_path, &self_signed, err,
					       sizeof(err));
	if (!fresh) {
		log_err(m->log, "TLS reload failed in the master, keeping the old one: %s", err);
		return;
	}
	tls_ctx_free(m->ws->tls);
	m->ws->tls = fresh;
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
				m->stopping = true;
				m->kill_at_ms = loop_now_ms(m->loop) +
						m->ws->cfg->shutdown_timeout_ms + 2000;
			}
			master_forward(m, SIGTERM);
			if (master_alive(m) == 0)
				loop_stop(m->loop);
			break;
		case SIGHUP:
			master_reload_tls(m);
			__attribute__((fallthrough));
		case SIGUSR1:
			if (log_reopen(m->log) < 0)
				log_err(m->log, "reopening logs: %s", strerror(errno));
			master_forward(m, (int)si.ssi_signo);
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
	if (!m->stopping)
		for (unsigned i = 0; i < m->count; i++)
			if (m->pids[i] == 0 &&
			    loop_now_ms(loop) - m->started_ms[i] >= MASTER_RESTART_DELAY_MS)
				master_spawn(m, i);
	loop_timer_arm(loop, t, &m->q_tick);
}

/* Before readiness a daemon's launcher still waits on our stderr: say it
 * there too, or it would exit 1 without a word. */
static void master_fail(struct master *m, int notify_fd, const char *what)
{
	int saved = errno;
	log_err(m->log, "%s: %s", what, strerror(saved));
	if (notify_fd >= 0)
		fprintf(stderr, "lisod: %s: %s\n", what, strerror(saved));
}

int master_run(struct worker_setup *ws, unsigned workers, const int *slot_fds,
	       int notify_fd)
{
	struct master m = { .ws = ws, .slot_fds = slot_fds, .log = ws->log, .count = workers };
	int rc = 1;
	m.pids = calloc(workers, sizeof(*m.pids));
	m.started_ms = calloc(workers, sizeof(*m.started_ms));
	m.loop = loop_new();
	if (!m.pids || !m.started_ms || !m.loop ||
	    loop_timer_queue_add(m.loop, &m.q_tick, MASTER_TICK_MS) < 0) {
		master_fail(&m, notify_fd, "master setup");
		goto out;
	}
	m.sig.fd = ws->sigfd;
	m.sig.fn = master_on_signal;
	if (loop_add_level(m.loop, &m.sig, EPOLLIN) < 0) {
		master_fail(&m, notify_fd, "epoll_ctl");
		goto out;
	}
	timer_init(&m.tick, master_on_tick);
	loop_timer_arm(m.loop, &m.tick, &m.q_tick);
	log_info(m.log, "master %ld starting %u workers", (long)getpid(), workers);
	log_flush(m.log);
	/* Ready before the first fork, so the workers inherit /dev/null and not
	 * the launcher's stdio (nor the readiness pipe). Nothing after this can
	 * fail the startup: the listeners are bound, connections wait in their
	 * backlogs until the workers accept them. */
	if (notify_fd >= 0 && daemon_ready(notify_fd) < 0) {
		log_err(m.log, "the launcher could not be told we are ready: stopping");
		goto out;
	}
	for (unsigned i = 0; i < workers; i++)
		master_spawn(&m, i);
	rc = loop_run(m.loop) < 0 ? 1 : 0;
	/* Whatever happened, leave no worker behind. */
	master_forward(&m, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
out:
	loop_free(m.loop);
	free(m.pids);
	free(m.started_ms);
	return rc;
}
