/*
 * fuzz_world — what fuzz_conn and fuzz_h2 share: a real worker serving a
 * small document root in a temporary directory (made once per process,
 * removed at exit), the input split into the chunks a client sends through
 * the fake transport, and the drive loop that delivers them as edges.
 * Header-only, every function static; the including target owns the one
 * `struct fuzz_world`.
 */
#ifndef LISOD_FUZZ_WORLD_H
#define LISOD_FUZZ_WORLD_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/fake_transport.h"
#include "config.h"
#include "conn.h"
#include "conn_priv.h"
#include "fuzz_check.h"
#include "log.h"
#include "worker.h"

struct fuzz_world {
	char dir[64];
	struct config cfg;
	struct worker w;
	struct log *log;
	bool ready;
};

static struct fuzz_world *fuzz_world_at_exit;

static void fuzz_put(const struct fuzz_world *fw, const char *rel, const char *text)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", fw->dir, rel);
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
}

static void fuzz_world_teardown(void)
{
	struct fuzz_world *fw = fuzz_world_at_exit;
	worker_fini(&fw->w);
	config_free(&fw->cfg);
	log_free(fw->log);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fw->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", fw->dir);
}

/* The temporary directory, made as /tmp/<prefix>-XXXXXX (files go in with
 * fuzz_put before fuzz_world_start). */
static void fuzz_world_dir(struct fuzz_world *fw, const char *prefix)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(fw->dir, sizeof(fw->dir), "/tmp/%s-XXXXXX", prefix);
	CHECK(mkdtemp(fw->dir) != NULL);
}

/* The worker, configured from argv (parsed, not poked into the struct:
 * the site is made from it). */
static void fuzz_world_start(struct fuzz_world *fw, int argc, char **argv)
{
	FILE *null = fopen("/dev/null", "w");
	CHECK(null != NULL);
	CHECK(config_parse(&fw->cfg, argc, argv, null, null) == CONFIG_OK);
	fclose(null);
	fw->log = log_new("/dev/null", "off", LOG_LVL_ERR);
	CHECK(fw->log != NULL);
	struct worker_setup ws = { .cfg = &fw->cfg, .log = fw->log, .sigfd = -1 };
	CHECK(worker_init(&fw->w, &ws) == 0);
	fuzz_world_at_exit = fw;
	atexit(fuzz_world_teardown);
	fw->ready = true;
}

/* The input after byte 0 as chunks: a length byte, then that many bytes. */
static void fuzz_chunks(struct fake_io *io, const uint8_t *data, size_t size)
{
	for (size_t i = 1; i < size;) {
		size_t n = data[i++];
		if (n == 0)
			n = 1;
		if (n > size - i)
			n = size - i;
		fake_add(io, (const char *)data + i, n);
		i += n;
	}
}

/* Start c over io and deliver the chunks one edge at a time, with a window
 * of `window` more bytes read by the client after each (SIZE_MAX: it reads
 * everything); then the client's EOF (drain_first: once what the server
 * queued has been read, within a bound), then writability until the
 * connection is done. Every connection is closed and recycled at the end. */
static void fuzz_drive(struct fuzz_world *fw, struct conn *c, struct fake_io *io, size_t window,
		       bool drain_first)
{
	struct worker *w = &fw->w;
	fake_release(io, false);
	if (conn_start(c, &fake_transport_ops, io) == 0) {
		for (unsigned step = 0; step < 4 * FAKE_CHUNKS_MAX && !io->freed; step++) {
			while (!io->freed && c->watch.posted)
				loop_run_once(w->loop, 0);
			if (io->freed)
				break;
			if (io->released < io->chunks) {
				fake_release(io, false);
				c->watch.fn(w->loop, &c->watch, EPOLLIN);
			} else if (drain_first && conn_output_pending(c) && step % 64 != 63) {
				io->window = SIZE_MAX; /* read what was sent before leaving */
				c->watch.fn(w->loop, &c->watch, EPOLLOUT);
			} else if (io->end != FAKE_EOF && (drain_first || c->state != CONN_WRITE)) {
				io->end = FAKE_EOF; /* the client is done */
				io->window = SIZE_MAX;
				c->watch.fn(w->loop, &c->watch, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
			} else {
				io->window = SIZE_MAX; /* let everything out */
				c->watch.fn(w->loop, &c->watch, EPOLLOUT);
			}
			if (window != SIZE_MAX && io->window != SIZE_MAX)
				io->window += window; /* the client read a little */
		}
		while (!io->freed && c->watch.posted)
			loop_run_once(w->loop, 0);
		if (!io->freed)
			conn_close_all(w); /* still waiting (a head left unfinished) */
	}
	loop_run_once(w->loop, 0); /* the batch hook recycles them */
	CHECK(w->conns_active == 0);
}

#endif
