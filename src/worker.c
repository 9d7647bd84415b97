#include "worker.h"
#include "compress.h"
#include "site_fields.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chan.h"
#include "conn.h"
#include "log.h"
#include "sdnotify.h"
#include "site_route.h"
#include "fcache.h"
#include "static.h"
#include "tls.h"

enum {
	WORKER_FCACHE_ENTRIES = 512,
	WORKER_TICK_MS = 1000,
	WORKER_LINGER_MS = 2000,
	WORKER_REFUSE_MS = 2000,  /* a refused TLS client's handshake deadline */
	WORKER_POOL_FREE_MAX = 256,
};

static void worker_on_batch(void *arg)
{
	struct worker *w = arg;
	conn_reap(w);
	cgi_procs_collect(&w->cgi);
	w->stats->cgi_running = w->cgi.count;
}

static void worker_on_accept(struct listener *l, int fd, const struct sockaddr_storage *peer,
			     socklen_t peer_len)
{
	conn_accept(l->owner, l, fd, peer, peer_len);
}

static void worker_stop_accepting(struct worker *w);
static void worker_flush_logs(struct worker *w);

static void worker_on_tick(struct loop *loop, struct timer *t)
{
	struct worker *w = container_of(t, struct worker, tick);
	worker_flush_logs(w);
	conn_release_quiet_tls(w);
	if (w->drain_announced && !w->draining && loop_now_ms(loop) >= w->drain_listen_until_ms)
		worker_stop_accepting(w);
	if (w->draining && loop_now_ms(loop) >= w->drain_deadline_ms) {
		log_warn(w->log, "shutdown deadline passed: closing %u connection(s)",
			 w->conns_active);
		conn_close_all(w);
		loop_stop(loop);
		return;
	}
	loop_timer_arm(loop, t, &w->q_tick);
}

static void worker_on_fcache_notify(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	struct worker_site *site = container_of(watch, struct worker_site, fcache_watch);
	fcache_on_notify(site->fcache);
}

/* The servername callback's questions (tls.h): which site a name is, and
 * its certificate. */
static int worker_sni_pick(void *arg, const char *name)
{
	struct worker *w = arg;
	return name ? site_router_find(w->router, name, strlen(name)) : -1;
}

static struct tls_ctx *worker_sni_ctx(void *arg, int site)
{
	struct worker *w = arg;
	struct tls_ctx *own = w->sites[site].tls;
	return own ? own : w->tls;
}

/* Is log that of an earlier site than i (so freed or flushed already)? */
static bool site_log_seen(const struct worker *w, unsigned i)
{
	for (unsigned j = 0; j < i; j++)
		if (w->sites[j].access == w->sites[i].access)
			return true;
	return w->sites[i].access == w->log;
}

static bool site_tls_seen(const struct worker *w, unsigned i)
{
	for (unsigned j = 0; j < i; j++)
		if (w->sites[j].tls == w->sites[i].tls)
			return true;
	return !w->sites[i].tls;
}

static void worker_flush_logs(struct worker *w)
{
	log_flush(w->log);
	for (unsigned i = 0; i < w->cfg->site_count && w->sites; i++)
		if (!site_log_seen(w, i))
			log_flush(w->sites[i].access);
}

/* Take what the setup opened for the sites (certificates, logs), then
 * open each one's root. 0, or -1 (logged). */
static int worker_sites_init(struct worker *w, const struct worker_setup *setup)
{
	const struct config *cfg = w->cfg;
	w->sites = calloc(cfg->site_count, sizeof(*w->sites));
	if (!w->sites) {
		log_err(w->log, "sites: %s", strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < cfg->site_count; i++) {
		struct worker_site *site = &w->sites[i];
		site->conf = &cfg->sites[i];
		site->fcache_watch.fd = -1;
		w->hosts_listed |= site->conf->host_count > 0;
		site->access = setup->site_logs && setup->site_logs[i] ? setup->site_logs[i] : w->log;
		struct tls_ctx *tls = setup->site_tls ? setup->site_tls[i] : NULL;
		site->tls = tls == setup->tls ? NULL : tls;
	}
	w->router = site_router_new(cfg);
	if (!w->router) {
		log_err(w->log, "site router: %s", strerror(errno));
		return -1;
	}
	w->sni = (struct tls_sni){ worker_sni_pick, worker_sni_ctx, w };
	if (w->tls && cfg->site_count > 1)
		tls_ctx_set_sni(w->tls, &w->sni);
	for (unsigned i = 0; i < cfg->site_count && cfg->mode == CONFIG_MODE_HTTP; i++) {
		struct worker_site *site = &w->sites[i];
		const struct site *conf = site->conf;
		if (site->tls)
			tls_ctx_set_sni(site->tls, &w->sni);
		site->root = static_root_new(conf->root);
		if (site->root) {
			static_root_set_index(site->root, conf->index, conf->index_count);
			site->fcache = fcache_new(site->root, WORKER_FCACHE_ENTRIES);
		}
		if (!site->root || !site->fcache) {
			log_err(w->log, "document root %s of site %s: %s", conf->root, conf->name,
				strerror(errno));
			return -1;
		}
		site->fcache_watch.fd = fcache_notify_fd(site->fcache);
		site->fcache_watch.fn = worker_on_fcache_notify;
		if (site->fcache_watch.fd >= 0 &&
		    loop_add_level(w->loop, &site->fcache_watch, EPOLLIN) < 0) {
			log_err(w->log, "epoll_ctl on inotify: %s", strerror(errno));
			return -1;
		}
		fcache_set_charset(site->fcache, conf->serve.charset);
		if (site_fields_build(&conf->serve, false, &site->fields_plain,
				      &site->fields_plain_len) < 0 ||
		    site_fields_build(&conf->serve, true, &site->fields_tls,
				      &site->fields_tls_len) < 0) {
			log_err(w->log, "header fields of site %s: out of memory, or over %d bytes",
				conf->name, SITE_FIELDS_MAX);
			return -1;
		}
		if (site->fields_tls_len > w->site_fields_max)
			w->site_fields_max = site->fields_tls_len;
		if (site->fields_plain_len > w->site_fields_max)
			w->site_fields_max = site->fields_plain_len;
		struct stat st;
		site->cgi_is_dir = conf->cgi_path && stat(conf->cgi_path, &st) == 0 &&
				   S_ISDIR(st.st_mode);
	}
	return 0;
}

static void worker_sites_fini(struct worker *w)
{
	if (!w->sites)
		return;
	for (unsigned i = 0; i < w->cfg->site_count; i++) {
		struct worker_site *site = &w->sites[i];
		fcache_free(site->fcache); /* after the connections released their entries */
		static_root_free(site->root);
		free(site->fields_plain);
		free(site->fields_tls);
	}
	/* Shared logs and certificates once each: from the last site back, so
	 * "seen in an earlier site" still reads live pointers. */
	for (unsigned i = w->cfg->site_count; i-- > 0;) {
		if (!site_log_seen(w, i))
			log_free(w->sites[i].access);
		if (!site_tls_seen(w, i))
			tls_ctx_free(w->sites[i].tls);
	}
	free(w->sites);
	w->sites = NULL;
	site_router_free(w->router);
	w->router = NULL;
}

/* The second half of a graceful stop: no new connections; those in flight
 * finish (up to the shutdown timeout), idle ones close now. */
static void worker_stop_accepting(struct worker *w)
{
	w->draining = true;
	w->drain_deadline_ms = loop_now_ms(w->loop) + w->cfg->shutdown_timeout_ms;
	for (unsigned i = 0; i < w->listener_count; i++) {
		loop_del(w->loop, &w->listeners[i].watch);
		close(w->listeners[i].watch.fd);
		w->listeners[i].watch.fd = -1;
	}
	w->listener_count = 0;
	if (w->retiring)
		conn_retire_idle(w);
	else
		conn_close_idle(w);
	if (w->conns_active == 0)
		loop_stop(w->loop);
}

void worker_drain(struct worker *w)
{
	if (w->draining || w->drain_announced)
		return;
	if (w->cfg->drain_delay_ms == 0) {
		worker_stop_accepting(w);
		return;
	}
	/* --drain-delay: say it first (the health path answers 503, answers
	 * stop keeping their connections) while still accepting, so a load
	 * balancer stops sending before the listeners close. */
	w->drain_announced = true;
	w->drain_listen_until_ms = loop_now_ms(w->loop) + w->cfg->drain_delay_ms;
}

/* New connections get the new key and certificate; live ones keep theirs
 * (each SSL holds a reference to its ctx). A failed reload keeps the old. */
static void worker_reload_tls(struct worker *w)
{
	if (!w->tls)
		return;
	char err[512];
	bool self_signed = false;
	struct tls_ctx *fresh = tls_ctx_reload(w->tls, w->cfg->key_path, w->cfg->cert_path,
					       &self_signed, err, sizeof(err));
	if (!fresh) {
		log_err(w->log, "TLS reload failed, keeping the old certificate: %s", err);
		return;
	}
	tls_ctx_free(w->tls);
	w->tls = fresh;
	log_info(w->log, "TLS key and certificate reloaded%s",
		 self_signed ? " (new self-signed certificate)" : "");
}

/* A failed sd_notify costs a log line, nothing more. */
static void worker_notify(struct worker *w, int rc)
{
	if (rc < 0)
		log_warn(w->log, "notifying systemd: %s", strerror(errno));
}

/* What the master opened for us (chan.h): a key and certificate, reopened
 * logs. Each part that fails keeps what we had. */
static void worker_take_handover(struct worker *w, const struct chan_msg *m, int *fds,
				 unsigned nfds)
{
	unsigned k = 0;
	int pem_fd = -1, err_fd = -1, acc_fd = -1;
	if ((m->what & CHAN_TLS) && k < nfds)
		pem_fd = fds[k++];
	if ((m->what & CHAN_ERROR_LOG) && k < nfds)
		err_fd = fds[k++];
	if ((m->what & CHAN_ACCESS_LOG) && k < nfds)
		acc_fd = fds[k++];
	if (k != nfds) {
		log_err(w->log, "malformed handover from the master: ignored");
		pem_fd = err_fd = acc_fd = -1;
	}
	if (err_fd >= 0 || acc_fd >= 0) {
		if (log_adopt(w->log, err_fd, acc_fd) < 0)
			log_err(w->log, "taking over the reopened logs: %s", strerror(errno));
		else
			log_info(w->log, "logs reopened (handed over by the master)");
	}
	if (pem_fd >= 0 && w->tls) {
		char err[512];
		struct tls_pem pem;
		struct tls_ctx *fresh = NULL;
		if (chan_pem_read(pem_fd, m->key_len, m->len, &pem) < 0) {
			snprintf(err, sizeof(err), "reading it: %s", strerror(errno));
		} else {
			fresh = tls_ctx_from_pem(w->tls, &pem, err, sizeof(err));
			tls_pem_free(&pem);
		}
		if (!fresh) {
			log_err(w->log, "TLS reload failed, keeping the old certificate: %s", err);
		} else {
			tls_ctx_free(w->tls);
			w->tls = fresh;
			log_info(w->log, "TLS key and certificate reloaded (handed over by the "
				 "master)");
		}
	}
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	struct chan_msg done = { .type = CHAN_DONE, .seq = m->seq };
	if (chan_send(w->chan_watch.fd, &done, NULL, 0) < 0)
		log_err(w->log, "answering the master: %s", strerror(errno));
}

static void worker_on_chan(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	struct worker *w = container_of(watch, struct worker, chan_watch);
	for (int i = 0; i < 16 && watch->fd >= 0; i++) {
		struct chan_msg m;
		int fds[CHAN_FDS_MAX];
		unsigned nfds;
		int r = chan_recv(watch->fd, &m, fds, &nfds);
		if (r < 0 && errno == EAGAIN)
			return;
		if (r < 0 && errno == EBADMSG) {
			log_err(w->log, "malformed message from the master: ignored");
			continue;
		}
		if (r <= 0) {
			/* The master is gone: nobody restarts or reloads us. */
			log_err(w->log, "the master is gone: stopping");
			loop_del(w->loop, watch);
			close(watch->fd);
			watch->fd = -1;
			worker_drain(w);
			return;
		}
		if (m.type == CHAN_HANDOVER) {
			worker_take_handover(w, &m, fds, nfds);
			continue;
		}
		if (m.type == CHAN_RETIRE && !w->draining) {
			log_info(w->log, "replaced by a reload: finishing %u connection(s)",
				 w->conns_active);
			w->retiring = true;
			worker_stop_accepting(w);
		}
		if (m.type == CHAN_STOP && !w->draining) {
			log_info(w->log, "the master stops us: stopping gracefully (%u "
				 "connection(s) open)", w->conns_active);
			worker_drain(w);
		}
		for (unsigned k = 0; k < nfds; k++)
			close(fds[k]);
	}
}

static void worker_on_signal(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	struct worker *w = container_of(watch, struct worker, signal_watch);
	struct signalfd_siginfo si;
	for (;;) {
		ssize_t n = read(watch->fd, &si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			return;
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info(w->log, "signal %u: stopping gracefully (%u connection(s) open)",
				 si.ssi_signo, w->conns_active);
			if (!w->draining)
				worker_notify(w, sdnotify_stopping(w->notify));
			worker_drain(w);
			break;
		case SIGHUP:
		case SIGUSR1:
			if (w->chan_watch.fd >= 0) {
				/* The master reloads and hands over (chan.h). */
				log_debug(w->log, "signal %u ignored: the master reloads",
					  si.ssi_signo);
				break;
			}
			if (si.ssi_signo == SIGHUP) {
				worker_notify(w, sdnotify_reloading(w->notify));
				worker_reload_tls(w);
			}
			if (log_reopen(w->log) < 0)
				log_err(w->log, "reopening logs: %s", strerror(errno));
			else
				log_info(w->log, "signal %u: logs reopened", si.ssi_signo);
			if (si.ssi_signo == SIGHUP)
				worker_notify(w, sdnotify_ready(w->notify, w->status));
			break;
		case SIGCHLD:
			cgi_procs_on_sigchld(&w->cgi);
			break;
		default:
			break;
		}
	}
}

static int worker_queues(struct worker *w)
{
	const struct config *cfg = w->cfg;
	int rc = 0;
	rc |= loop_timer_queue_add(w->loop, &w->q_tls, cfg->tls_handshake_timeout_ms);
	rc |= loop_timer_queue_add(w->loop, &w->q_header, cfg->header_timeout_ms);
	rc |= loop_timer_queue_add(w->loop, &w->q_body, cfg->body_timeout_ms);
	rc |= loop_timer_queue_add(w->loop, &w->q_idle, cfg->idle_timeout_ms);
	rc |= loop_timer_queue_add(w->loop, &w->q_cgi, cfg->cgi_timeout_ms);
	rc |= loop_timer_queue_add(w->loop, &w->q_write, cfg->write_timeout_ms);
	rc |= loop_timer_queue_add(w->loop, &w->q_linger, WORKER_LINGER_MS);
	rc |= loop_timer_queue_add(w->loop, &w->q_refuse, WORKER_REFUSE_MS);
	/* A detached program may run until the CGI timeout; an attached one
	 * until the total cap. */
	rc |= cgi_procs_init(&w->cgi, w->loop, w->log, cfg->cgi_timeout_ms, cfg->cgi_max_time_ms);
	rc |= loop_timer_queue_add(w->loop, &w->q_tick, WORKER_TICK_MS);
	return rc;
}

int worker_init(struct worker *w, const struct worker_setup *setup)
{
	const struct config *cfg = setup->cfg;
	struct log *log = setup->log;
	unsigned count = setup->listener_count;
	memset(w, 0, sizeof(*w));
	w->tls = setup->tls;
	w->cfg = cfg;
	w->log = log;
	w->reserve.fd = -1;
	w->stats_all = setup->stats_all ? setup->stats_all : &w->own_stats;
	w->stats_count = setup->stats_all ? setup->stats_count : 1;
	w->stats = &w->stats_all[setup->stats_all ? setup->stats_slot : 0];
	memset(w->stats, 0, sizeof(*w->stats));
	w->stats->pid = (int32_t)getpid();
	w->signal_watch.fd = -1;
	w->chan_watch.fd = -1;
	w->notify = setup->notify;
	w->status = setup->status ? setup->status : "serving";
	if (count > WORKER_LISTENERS_MAX) {
		log_err(log, "too many listeners");
		return -1;
	}
	w->loop = loop_new();
	if (!w->loop || buf_pool_init(&w->pool, WORKER_POOL_FREE_MAX) < 0 || worker_queues(w) < 0) {
		log_err(log, "event loop setup: %s", strerror(errno));
		return -1;
	}
	if (worker_sites_init(w, setup) < 0)
		return -1;
	w->zcache = zcache_new(0);
	if (!w->zcache) {
		log_err(log, "compressed-file cache: %s", strerror(errno));
		return -1;
	}
	if (listen_reserve_init(&w->reserve, log) < 0) {
		log_err(log, "reserve descriptor: %s", strerror(errno));
		return -1;
	}
	http_date_update(&w->date, loop_now_sec(w->loop));
	loop_set_batch_hook(w->loop, worker_on_batch, w);
	timer_init(&w->tick, worker_on_tick);
	loop_timer_arm(w->loop, &w->tick, &w->q_tick);
	for (unsigned i = 0; i < count; i++) {
		struct listener *l = &w->listeners[i];
		l->watch.fd = setup->listen_fds[i];
		l->watch.fn = listen_on_ready;
		l->on_accept = worker_on_accept;
		l->owner = w;
		l->reserve = &w->reserve;
		l->port = setup->ports[i];
		l->tls = setup->listen_tls[i];
		l->shared = setup->listen_shared[i];
		/* Level-triggered: accept a bounded batch per wakeup, fairly.
		 * (Each worker has its own SO_REUSEPORT socket, or the shared one
		 * with EPOLLEXCLUSIVE: no thundering herd either way.) */
		if (listen_watch(w->loop, l) < 0) {
			log_err(log, "epoll_ctl on listener: %s", strerror(errno));
			return -1;
		}
		w->listener_count++;
	}
	if (setup->managed) {
		w->chan_watch.fd = setup->chan_fd;
		w->chan_watch.fn = worker_on_chan;
		if (loop_add_level(w->loop, &w->chan_watch, EPOLLIN) < 0) {
			w->chan_watch.fd = -1;
			log_err(log, "epoll_ctl on the master's channel: %s", strerror(errno));
			return -1;
		}
	}
	if (setup->sigfd >= 0) {
		w->signal_watch.fd = setup->sigfd;
		w->signal_watch.fn = worker_on_signal;
		if (loop_add_level(w->loop, &w->signal_watch, EPOLLIN) < 0) {
			log_err(log, "epoll_ctl on signalfd: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

int worker_run(struct worker *w)
{
	if (loop_run(w->loop) < 0) {
		log_err(w->log, "epoll_wait: %s", strerror(errno));
		return 1;
	}
	return w->exit_code;
}

void worker_fini(struct worker *w)
{
	if (w->q_tick.head.next) /* the queues exist only if init got that far */
		conn_close_all(w);
	cgi_procs_kill_all(&w->cgi);
	conn_free_all(w);
	for (unsigned i = 0; i < w->listener_count; i++)
		close(w->listeners[i].watch.fd);
	w->listener_count = 0;
	if (w->chan_watch.fd >= 0)
		close(w->chan_watch.fd);
	w->chan_watch.fd = -1;
	listen_reserve_fini(&w->reserve);
	worker_sites_fini(w);
	zcache_free(w->zcache); /* after the connections released their items */
	w->zcache = NULL;
	tls_ctx_free(w->tls);
	w->tls = NULL;
	buf_pool_reset(&w->pool);
	loop_free(w->loop);
	w->loop = NULL;
}
