/*
 * worker — everything one server process owns: its loop, listeners, logs,
 * buffer pool, timer queues and connections. There is no other mutable
 * state in lisod: every function reaches what it needs through the worker.
 *
 * A worker is set up after the listening sockets exist (they are inherited
 * from main/the master), so it may run unchanged in N forked processes.
 */
#ifndef LISOD_WORKER_H
#define LISOD_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "cgi_proc.h"
#include "config.h"
#include "http_parse.h"
#include "http_resp.h"
#include "listen.h"
#include "loop.h"
#include "tls.h"

struct conn;
struct log;
struct sdnotify;
struct static_root;
struct fcache;
struct site_router;

enum { WORKER_LISTENERS_MAX = 4, WORKER_STATES_MAX = 16 };

/* What one worker counts for the status endpoint. The counters of every
 * worker live in one block of memory shared by all of them (mapped before
 * the fork); each worker writes only its own, without locks, and the
 * status answer sums them as they are at that moment. */
struct worker_stats {
	int32_t pid;
	uint32_t by_state[WORKER_STATES_MAX]; /* connections, by enum conn_state */
	uint32_t cgi_running;
	uint64_t accepted, requests, bytes_out;
};

/* What a worker serves one site (config.h's struct site) with. */
struct worker_site {
	const struct site *conf;
	struct static_root *root;
	struct fcache *fcache;          /* open files, invalidated by inotify */
	struct loop_watch fcache_watch; /* its inotify descriptor */
	struct log *access;             /* its access lines: its own log, or the worker's */
	struct tls_ctx *tls;            /* its certificate (sites may share one) */
	bool cgi_is_dir;                /* its cgi names a directory of programs */
	/* Its `header` lines (and HSTS on TLS), pre-formatted: site_fields.h */
	char *fields_plain, *fields_tls;
	uint16_t fields_plain_len, fields_tls_len;
};

struct worker {
	const struct config *cfg;
	struct loop *loop;
	struct log *log;
	struct tls_ctx *tls;            /* the default site's; owned; swapped on SIGHUP */
	struct worker_site *sites;      /* cfg->site_count of them */
	struct site_router *router;     /* Host or SNI name → site */
	uint16_t site_fields_max;       /* the longest block of a site's own fields */
	bool hosts_listed;              /* some site lists hosts: --unknown-host applies */
	struct tls_sni sni;             /* tls's callback into the router */
	struct buf_pool pool;

	struct listener listeners[WORKER_LISTENERS_MAX];
	unsigned listener_count;
	struct loop_watch signal_watch; /* signalfd, or fd -1 when the master has signals */
	struct loop_watch chan_watch;   /* the master's channel (chan.h), or fd -1 */
	const struct sdnotify *notify;  /* tells systemd (the single process only) */
	const char *status;             /* STATUS= for systemd */

	/* One timer queue per phase (see loop.h). The connection queues hold
	 * only struct conn timers (conn_close_all relies on it). */
	struct timer_queue q_tls, q_header, q_body, q_idle, q_cgi, q_write, q_linger;
	struct timer_queue q_refuse;    /* over the limit: handshake, then 503 */
	struct timer_queue q_tick;
	struct timer tick;              /* once a second: log flush, shutdown check */

	struct worker_stats *stats;     /* this worker's slot of stats_all */
	struct worker_stats *stats_all; /* every worker's, stats_count of them */
	unsigned stats_count;
	struct worker_stats own_stats;  /* when nobody shares (tests) */
	bool drain_announced;           /* stopping soon: health 503, no keep-alive */
	uint64_t drain_listen_until_ms; /* --drain-delay: accept until then */

	struct http_date_cache date;
	struct http_request req;        /* scratch: valid during one call chain */

	unsigned conns_active;          /* refusing ones included */
	struct cgi_procs cgi;           /* every CGI program of this worker */
	struct zcache *zcache;          /* compressed static files (compress.h) */
	unsigned gz_streams;            /* CGI answers being gzipped now (compress.h:
	                                 * COMPRESS_STREAMS_MAX; over it: identity) */
	struct conn *closing;           /* closed this batch, freed after it */
	struct conn *free_conns;        /* recycled struct conn */
	unsigned free_conn_count;

	struct listen_reserve reserve;  /* spent when accept hits EMFILE */
	uint64_t stats_refused, last_refuse_log_ms;
	bool draining;                  /* graceful stop: no new connections */
	bool retiring;                  /* ... because a reload replaced us */
	uint64_t drain_deadline_ms;
	int exit_code;
};

/* What main (or the master) opened before the worker starts. */
struct worker_setup {
	const struct config *cfg;
	struct log *log;
	struct tls_ctx *tls;            /* the default site's; ownership moves to the worker */
	/* Per site (cfg->site_count), or NULL: its certificate (sites with the
	 * same files share one; the default site's is tls) and its own access
	 * log (NULL: the main one). Ownership moves to the worker. */
	struct tls_ctx **site_tls;
	struct log **site_logs;
	int listen_fds[WORKER_LISTENERS_MAX];
	uint16_t ports[WORKER_LISTENERS_MAX];
	bool listen_tls[WORKER_LISTENERS_MAX];
	bool listen_shared[WORKER_LISTENERS_MAX]; /* one socket for all workers */
	bool listen_inherited[WORKER_LISTENERS_MAX]; /* systemd's (socket activation) */
	unsigned listener_count;
	int sigfd;                      /* >= 0: this worker handles signals */
	struct worker_stats *stats_all; /* shared counters, or NULL (own ones) */
	unsigned stats_count, stats_slot;
	/* A master's worker: chan_fd is its end of the channel (chan.h). The
	 * master hands over keys and logs through it, so SIGHUP and SIGUSR1
	 * sent to the worker itself are ignored. */
	bool managed;
	int chan_fd;
	const struct sdnotify *notify;  /* NULL, or the process systemd watches */
	const char *status;             /* STATUS= line for systemd */
};

/* May the answer being built keep its connection? Not once stopping. */
static inline bool worker_keeps_alive(const struct worker *w)
{
	return !w->draining && !w->drain_announced;
}

/* The Date header for a response built now. The clock is read here, not
 * taken from the loop's once-per-iteration reading: one iteration can run
 * long (a TLS handshake under valgrind took over a second in CI), and the
 * answer must carry the second it was made in. CLOCK_REALTIME_COARSE is a
 * vDSO read, no system call; the cache reformats only when the second
 * changes, so a worker idle for minutes still dates its next answer right. */
static inline const struct http_date_cache *worker_date(struct worker *w)
{
	struct timespec now;
	time_t sec = clock_gettime(CLOCK_REALTIME_COARSE, &now) == 0 ? now.tv_sec
								       : loop_now_sec(w->loop);
	http_date_update(&w->date, sec);
	return &w->date;
}

/* The site a connection's current request is for. */
static inline struct worker_site *worker_site(struct worker *w, unsigned site)
{
	return &w->sites[site];
}

/* Set up a worker around already-open listening sockets. 0 or -1 (logged). */
int worker_init(struct worker *w, const struct worker_setup *setup);
/* Run the loop until a graceful stop completes; returns the exit code. */
int worker_run(struct worker *w);
void worker_fini(struct worker *w);
/* Start a graceful stop (stop accepting; finish in-flight responses). */
void worker_drain(struct worker *w);

#endif
