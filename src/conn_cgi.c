/*
 * conn_cgi — the CONN_CGI phase of a connection: a CGI program's three
 * pipes and its pidfd on the event loop.
 *
 *   client body --(decode)--> in --> child's stdin      (back-pressure: we
 *   stop reading the client while the child does not read its stdin)
 *   child's stdout --(parse head, frame body)--> out --> client
 *   (back-pressure: we stop reading the pipe while `out` is full)
 *   child's stderr --> error log, line by line
 *
 * A struct cgi_proc outlives its connection when needed: a child is reaped
 * only through its pidfd, so a connection that closes kills the child's
 * process group and leaves the struct to be freed once the child is reaped.
 * No SIGCHLD handler, no waitpid(-1): nothing else's children are touched.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <unistd.h>

#include "cgi.h"
#include "conn.h"
#include "conn_priv.h"
#include "log.h"
#include "static.h"
#include "worker.h"

enum {
	CGI_READ_CHUNK = 16 * 1024,
	CGI_CHUNK_OVERHEAD = 16,  /* "%x\r\n" + "\r\n" around one chunk */
	CGI_STDERR_LINE_MAX = 1024,
};

struct cgi_proc {
	struct loop_watch w_stdin, w_stdout, w_stderr, w_exit; /* fd -1 when closed */
	struct timer orphan_timer;  /* after the connection left: kill at the CGI timeout */
	struct worker *worker;
	struct conn *conn;          /* NULL once detached */
	struct cgi_proc *next, *prev;
	pid_t pid;
	bool running;               /* not reaped yet */
	bool stdin_ready, stdout_ready;
	bool head_done, nph, chunked, head_only, keep_alive, stdout_eof;
	int status;                 /* for the access log */
	uint64_t body_bytes;        /* body bytes relayed to the client */
	uint32_t body_pending;      /* decoded request-body bytes at in[head_len..] */
	char *program;              /* for log lines */
	struct buf head;            /* output not yet in `out`: the header section until
	                             * parsed, then body bytes `out` had no room for */
	uint32_t err_len;
	char err_line[CGI_STDERR_LINE_MAX];
};

static void cgi_close_fd(struct cgi_proc *p, struct loop_watch *w)
{
	if (w->fd < 0)
		return;
	loop_del(p->worker->loop, w);
	close(w->fd);
	w->fd = -1;
}

static void cgi_free_if_done(struct cgi_proc *p)
{
	if (p->conn || p->running || p->w_stderr.fd >= 0)
		return;
	struct worker *w = p->worker;
	timer_disarm(&p->orphan_timer);
	if (p->prev)
		p->prev->next = p->next;
	else
		w->cgi_procs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	w->cgi_active--;
	buf_release(&p->head, &w->pool);
	free(p->program);
	free(p);
}

static void cgi_kill(struct cgi_proc *p)
{
	if (p->running)
		kill(-p->pid, SIGKILL); /* its process group: grandchildren too */
}

/* ---- child exit and stderr ------------------------------------------- */

/* Reap the child if it has exited. true when it has. */
static bool cgi_try_reap(struct cgi_proc *p)
{
	int status;
	pid_t r;
	do
		r = waitpid(p->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	if (r == p->pid && WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warn(p->worker->log, "CGI pid %ld exited with status %d", (long)p->pid,
			 WEXITSTATUS(status));
	else if (r == p->pid && WIFSIGNALED(status))
		log_warn(p->worker->log, "CGI pid %ld killed by signal %d", (long)p->pid,
			 WTERMSIG(status));
	/* The process group may still hold grandchildren: make sure they go. */
	kill(-p->pid, SIGKILL);
	p->running = false;
	cgi_close_fd(p, &p->w_exit);
	cgi_free_if_done(p);
	return true;
}

static void cgi_on_exit(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	cgi_try_reap((struct cgi_proc *)((char *)watch - offsetof(struct cgi_proc, w_exit)));
}

void conn_cgi_on_sigchld(struct worker *w)
{
	/* Only children without a pidfd (no pidfd_open: old kernels, valgrind)
	 * are reaped here; the others are reaped when their pidfd fires. */
	struct cgi_proc *p = w->cgi_procs;
	while (p) {
		struct cgi_proc *next = p->next;
		if (p->running && p->w_exit.fd < 0)
			cgi_try_reap(p);
		p = next;
	}
}

static void cgi_log_stderr(struct cgi_proc *p, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = data[i];
		if (ch != '\n' && p->err_len < sizeof(p->err_line) - 1) {
			p->err_line[p->err_len++] = ch;
			continue;
		}
		if (ch != '\n')
			continue; /* over-long line: the rest is cut */
		log_warn(p->worker->log, "CGI pid %ld: %.*s", (long)p->pid, (int)p->err_len,
			 p->err_line);
		p->err_len = 0;
	}
}

static void cgi_on_stderr(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	struct cgi_proc *p = (struct cgi_proc *)((char *)watch - offsetof(struct cgi_proc, w_stderr));
	char data[4096];
	for (;;) {
		ssize_t n = read(watch->fd, data, sizeof(data));
		if (n > 0) {
			cgi_log_stderr(p, data, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (p->err_len)
			cgi_log_stderr(p, "\n", 1);
		cgi_close_fd(p, &p->w_stderr);
		cgi_free_if_done(p);
		return;
	}
}

/* ---- stdin/stdout readiness: run the connection ------------------------ */

static void cgi_on_stdin(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	struct cgi_proc *p = (struct cgi_proc *)((char *)watch - offsetof(struct cgi_proc, w_stdin));
	p->stdin_ready = true;
	if (p->conn)
		conn_run_external(p->conn);
}

static void cgi_on_stdout(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	struct cgi_proc *p = (struct cgi_proc *)((char *)watch - offsetof(struct cgi_proc, w_stdout));
	p->stdout_ready = true;
	if (p->conn)
		conn_run_external(p->conn);
}

static void cgi_on_orphan_timeout(struct loop *loop, struct timer *t)
{
	(void)loop;
	struct cgi_proc *p = (struct cgi_proc *)((char *)t - offsetof(struct cgi_proc, orphan_timer));
	log_warn(p->worker->log, "CGI pid %ld outlived its response: killed", (long)p->pid);
	cgi_kill(p);
}

/* ---- starting ---------------------------------------------------------- */

static int cgi_watch(struct cgi_proc *p, struct loop_watch *w, int fd, loop_io_fn fn,
		     uint32_t events)
{
	w->fd = fd;
	w->fn = fn;
	return fd < 0 ? 0 : loop_add(p->worker->loop, w, events);
}

static int pidfd_open_compat(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Spawn the program for req; returns 0, or the status to answer with. */
static int cgi_spawn_for(struct conn *c, const struct http_request *req, struct cgi_child *child,
			 char *program, size_t program_cap)
{
	struct worker *w = c->w;
	const struct config *cfg = w->cfg;
	char path_info[STATIC_PATH_MAX];
	int status = cgi_resolve(cfg->cgi_path, w->cgi_is_dir, req->path.p, req->path.len, program,
				 program_cap, path_info, sizeof(path_info));
	if (status)
		return status;
	char addr[64];
	conn_peer_name(c, addr, sizeof(addr));
	uint16_t port = ntohs(c->peer.sa.sa_family == AF_INET6 ? c->peer.v6.sin6_port
							       : c->peer.v4.sin_port);
	struct cgi_env_input in = {
		.req = req,
		.path_info = path_info,
		.remote_addr = addr,
		.remote_port = port,
		.server_port = c->local_port,
		.https = c->tls,
		.content_length = req->chunked ? -1 : req->content_length,
	};
	char **env = cgi_env_build(&in);
	if (!env) {
		log_err(w->log, "CGI environment: %s", strerror(errno));
		return 500;
	}
	int rc = cgi_spawn(program, env, child);
	free(env);
	if (rc < 0) {
		log_err(w->log, "cannot run CGI program %s: %s", program, strerror(errno));
		return 500;
	}
	return 0;
}

static struct cgi_proc *cgi_proc_new(struct worker *w, const struct cgi_child *child)
{
	struct cgi_proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->worker = w;
	p->pid = child->pid;
	p->running = true;
	p->w_stdin.fd = p->w_stdout.fd = p->w_stderr.fd = p->w_exit.fd = -1;
	timer_init(&p->orphan_timer, cgi_on_orphan_timeout);
	/* Without pidfd_open (ENOSYS) the child is reaped on SIGCHLD instead. */
	int pidfd = pidfd_open_compat(child->pid);
	if (pidfd >= 0 && cgi_watch(p, &p->w_exit, pidfd, cgi_on_exit, EPOLLIN) < 0) {
		close(pidfd);
		p->w_exit.fd = -1;
		goto fail;
	}
	if (cgi_watch(p, &p->w_stdin, child->stdin_fd, cgi_on_stdin, EPOLLOUT) < 0 ||
	    cgi_watch(p, &p->w_stdout, child->stdout_fd, cgi_on_stdout, EPOLLIN) < 0 ||
	    cgi_watch(p, &p->w_stderr, child->stderr_fd, cgi_on_stderr, EPOLLIN) < 0)
		goto fail;
	p->next = w->cgi_procs;
	if (p->next)
		p->next->prev = p;
	w->cgi_procs = p;
	w->cgi_active++;
	return p;
fail:
	log_err(w->log, "CGI pipes on the loop: %s", strerror(errno));
	/* Unregister what was registered; the caller closes the pipes. */
	struct loop_watch *watches[] = { &p->w_stdin, &p->w_stdout, &p->w_stderr };
	for (size_t i = 0; i < sizeof(watches) / sizeof(watches[0]); i++)
		if (watches[i]->fd >= 0)
			loop_del(w->loop, watches[i]);
	if (p->w_exit.fd >= 0) {
		loop_del(w->loop, &p->w_exit);
		close(p->w_exit.fd);
	}
	free(p);
	return NULL;
}

static void cgi_child_abandon(const struct cgi_child *child)
{
	kill(-child->pid, SIGKILL);
	close(child->stdin_fd);
	close(child->stdout_fd);
	close(child->stderr_fd);
	while (waitpid(child->pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void conn_cgi_start(struct conn *c, const struct http_request *req)
{
	struct worker *w = c->w;
	bool head_only = req->method == HTTP_METHOD_HEAD;
	bool has_body = req->chunked || req->content_length > 0;
	int status = 0;
	if (!w->cfg->cgi_path)
		status = 404;
	else if (w->cgi_active >= w->cfg->max_cgi)
		status = 503;
	struct cgi_child child = { .pid = -1 };
	char program[CGI_PROGRAM_MAX];
	if (!status)
		status = cgi_spawn_for(c, req, &child, program, sizeof(program));
	struct cgi_proc *p = NULL;
	if (!status) {
		p = cgi_proc_new(w, &child);
		if (p)
			p->program = strdup(program); /* NULL is tolerated in logs */
		if (!p) {
			cgi_child_abandon(&child);
			status = 500;
		}
	}
	if (status) {
		/* The body, if any, was not read: this must be the last response. */
		bool keep = req->keep_alive && !has_body && status != 503;
		conn_respond_error(c, req, status, keep, head_only);
		conn_consume_request(c);
		return;
	}
	p->conn = c;
	p->head_only = head_only;
	/* Chunked output keeps the connection when the program gives no length;
	 * an HTTP/1.0 client cannot read chunked, so it gets a close instead. */
	p->keep_alive = req->keep_alive && req->version_minor >= 1;
	p->status = 200;
	c->cgi = p;
	c->body_chunked = req->chunked;
	c->body_left = req->chunked ? 0 : (uint64_t)(req->content_length > 0 ? req->content_length : 0);
	c->body_done = !has_body;
	c->body_status = 0;
	http_chunked_init(&c->chunked);
	if (c->body_done)
		cgi_close_fd(p, &p->w_stdin);
	conn_set_state(c, CONN_CGI);
}

/* ---- the CONN_CGI phase ------------------------------------------------ */

/* Decode newly arrived body bytes so that in[head_len .. +body_pending)
 * holds body data for the child. false: the body is malformed. */
static bool cgi_take_body(struct conn *c, struct cgi_proc *p)
{
	uint32_t start = c->head_len + p->body_pending;
	uint32_t raw = buf_len(&c->in) - start;
	if (c->body_done || raw == 0)
		return true;
	if (!c->body_chunked) {
		uint32_t take = c->body_left < raw ? (uint32_t)c->body_left : raw;
		p->body_pending += take;
		c->body_left -= take;
		c->body_done = c->body_left == 0;
		return true;
	}
	size_t in_len = raw, out_len = 0;
	enum http_chunked_result r =
		http_chunked_decode(&c->chunked, buf_rptr(&c->in) + start, &in_len, &out_len);
	/* Data went to the front; drop the framing bytes that were consumed. */
	conn_drop_in(c, start + (uint32_t)out_len, (uint32_t)(in_len - out_len));
	p->body_pending += (uint32_t)out_len;
	if (r == HTTP_CHUNKED_ERROR)
		return false;
	if (c->chunked.total > c->w->cfg->max_body_bytes) {
		c->body_status = 413;
		return true;
	}
	c->body_done = r == HTTP_CHUNKED_DONE;
	return true;
}

/* Write pending body bytes to the child's stdin. true if progress. */
static bool cgi_feed_stdin(struct conn *c, struct cgi_proc *p)
{
	if (p->body_pending == 0 || !p->stdin_ready) {
		if (p->body_pending == 0 && c->body_done)
			cgi_close_fd(p, &p->w_stdin); /* EOF for the program */
		return false;
	}
	if (p->w_stdin.fd < 0) {
		/* The program closed its stdin: the body is read and dropped. */
		conn_drop_in(c, c->head_len, p->body_pending);
		p->body_pending = 0;
		return true;
	}
	ssize_t n = write(p->w_stdin.fd, buf_rptr(&c->in) + c->head_len, p->body_pending);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			p->stdin_ready = errno == EINTR;
			return false;
		}
		cgi_close_fd(p, &p->w_stdin); /* EPIPE: it will not read more */
		return true;
	}
	conn_drop_in(c, c->head_len, (uint32_t)n);
	p->body_pending -= (uint32_t)n;
	return true;
}

/* Read more of the request body from the client, if there is room. */
static bool cgi_read_client(struct conn *c)
{
	if (c->body_done || !c->readable)
		return false;
	if (buf_space(&c->in) == 0) {
		buf_compact(&c->in);
		if (buf_space(&c->in) == 0)
			return false; /* back-pressure: wait for the program to read */
	}
	enum io_result r = conn_read(c);
	if (r == IO_EOF || r == IO_ERROR) {
		c->body_status = 400; /* client went away mid-body */
		return false;
	}
	return r == IO_OK;
}

/* Append up to n body bytes from the program to `out`, framed; returns how
 * many were taken (fewer when `out` is full: the caller keeps the rest). */
static size_t cgi_emit(struct conn *c, struct cgi_proc *p, const char *data, size_t n)
{
	if (p->head_only || n == 0)
		return n; /* HEAD: the body is read and dropped; and a zero-size
			   * chunk would end a chunked body */
	size_t space = buf_space(&c->out);
	if (p->chunked) {
		if (space <= CGI_CHUNK_OVERHEAD)
			return 0;
		if (n > space - CGI_CHUNK_OVERHEAD)
			n = space - CGI_CHUNK_OVERHEAD;
		char hdr[CGI_CHUNK_OVERHEAD];
		int h = snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
		(void)buf_append(&c->out, hdr, (uint32_t)h);
		(void)buf_append(&c->out, data, (uint32_t)n);
		(void)buf_append(&c->out, "\r\n", 2);
	} else {
		if (n > space)
			n = space;
		(void)buf_append(&c->out, data, (uint32_t)n);
	}
	p->body_bytes += n;
	return n;
}

/* Relay output bytes held in p->head (after the header section, or NPH
 * output) as `out` has room. true: nothing is left pending. */
static bool cgi_drain_pending(struct conn *c, struct cgi_proc *p)
{
	while (buf_len(&p->head) > 0) {
		size_t taken = cgi_emit(c, p, buf_rptr(&p->head), buf_len(&p->head));
		if (taken == 0)
			return false;
		buf_consume(&p->head, (uint32_t)taken);
	}
	buf_release(&p->head, &c->w->pool);
	return true;
}

/* The program's header section is complete in p->head: write ours.
 * false: malformed output (answer 500). */
static bool cgi_start_response(struct conn *c, struct cgi_proc *p, size_t head_len)
{
	struct cgi_head h;
	if (cgi_head_parse(buf_rptr(&p->head), head_len, &h) < 0)
		return false;
	p->chunked = !h.has_content_length && p->keep_alive && !p->head_only;
	if (!h.has_content_length && !p->chunked && !p->head_only)
		p->keep_alive = false; /* body ends when the connection does */
	if (cgi_head_write(&c->out, &h, p->keep_alive && !c->w->draining, p->chunked,
			   worker_date(c->w)) < 0)
		return false;
	p->status = h.status;
	p->head_done = true;
	return true;
}

/* Take output bytes while the header section is incomplete. -1: malformed. */
static int cgi_on_head_bytes(struct conn *c, struct cgi_proc *p, const char *data, size_t n,
			     bool eof)
{
	if (buf_acquire(&p->head, &c->w->pool) < 0 || buf_append(&p->head, data, (uint32_t)n) < 0)
		return -1;
	uint32_t have = buf_len(&p->head);
	if (have >= 5 && memcmp(buf_rptr(&p->head), "HTTP/", 5) == 0) {
		/* NPH: the program wrote the whole response; relay it verbatim
		 * (even for HEAD) and close after it: we cannot know its framing. */
		p->nph = p->head_done = true;
		p->keep_alive = false;
		p->head_only = false;
		/* "HTTP/1.1 NNN": the status for our access log (the buffer is
		 * not NUL-terminated: no sscanf). */
		const char *st = buf_rptr(&p->head) + 9;
		p->status = 200;
		if (have >= 12 && st[0] >= '1' && st[0] <= '9' && st[1] >= '0' && st[1] <= '9' &&
		    st[2] >= '0' && st[2] <= '9')
			p->status = (st[0] - '0') * 100 + (st[1] - '0') * 10 + (st[2] - '0');
		return 0; /* everything in p->head is pending output */
	}
	if (have < 5 && !eof)
		return 0;
	long end = cgi_head_scan(buf_rptr(&p->head), have);
	if (end < 0 || (end == 0 && (eof || buf_space(&p->head) == 0)))
		return -1;
	if (end == 0)
		return 0;
	if (!cgi_start_response(c, p, (size_t)end))
		return -1;
	buf_consume(&p->head, (uint32_t)end); /* the rest is body, pending */
	return 0;
}

/* The program's output ended (or failed): finish this response. */
static void cgi_finish(struct conn *c, struct cgi_proc *p, bool failed)
{
	struct http_request *req = &c->w->req;
	http_head_parse(buf_rptr(&c->in), c->head_len, 0, req);
	if (failed || !p->head_done) {
		log_err(c->w->log, "CGI program %s (pid %ld): %s",
			p->program ? p->program : "?", (long)p->pid,
			p->head_done ? "output failed"
				     : "no valid header section (did it start? see its exit status)");
		if (p->head_done || buf_len(&c->out) > 0) {
			conn_close(c); /* bytes of this response already left: cut it */
			return;
		}
		conn_respond_error(c, req, 500, false, p->head_only);
	} else {
		if (p->chunked)
			(void)buf_append(&c->out, "0\r\n\r\n", 5); /* room kept by cgi_pump_stdout */
		conn_log_access(c, req, p->status, p->body_bytes);
		if (!p->keep_alive || c->w->draining)
			c->close_after = true;
	}
	/* The rest of an unread body is dropped with the connection. */
	if (!c->body_done)
		c->close_after = true;
	conn_cgi_detach(c, false);
	conn_consume_request(c);
	conn_set_state(c, CONN_READ_HEAD);
}

/* Move the program's stdout to `out` as room allows. true if progress. */
static bool cgi_pump_stdout(struct conn *c, struct cgi_proc *p)
{
	if (p->head_done && buf_len(&p->head) > 0 && !cgi_drain_pending(c, p))
		return false; /* back-pressure: the client must read first */
	if (p->stdout_eof) {
		if (p->chunked && buf_space(&c->out) < 5)
			return false; /* the last chunk must fit */
		cgi_finish(c, p, false);
		return false;
	}
	if (!p->stdout_ready)
		return false;
	uint32_t space = buf_space(&c->out);
	if (space <= CGI_CHUNK_OVERHEAD + 1)
		return false;
	char data[CGI_READ_CHUNK];
	size_t want = space - CGI_CHUNK_OVERHEAD;
	if (want > sizeof(data))
		want = sizeof(data);
	if (!p->head_done) {
		uint32_t held = buf_len(&p->head);
		if (held >= BUF_BLOCK_BYTES) {
			cgi_finish(c, p, true); /* a header section over 16 KiB */
			return false;
		}
		if (want > BUF_BLOCK_BYTES - held)
			want = BUF_BLOCK_BYTES - held;
	}
	ssize_t n = read(p->w_stdout.fd, data, want);
	if (n < 0) {
		if (errno == EINTR)
			return true;
		if (errno == EAGAIN) {
			p->stdout_ready = false;
			return false;
		}
		cgi_finish(c, p, true);
		return false;
	}
	if (n == 0)
		p->stdout_eof = true;
	if (!p->head_done) {
		if (cgi_on_head_bytes(c, p, data, (size_t)n, n == 0) < 0) {
			cgi_finish(c, p, true);
			return false;
		}
		return true;
	}
	size_t taken = cgi_emit(c, p, data, (size_t)n);
	if (taken < (size_t)n && (buf_acquire(&p->head, &c->w->pool) < 0 ||
				  buf_append(&p->head, data + taken, (uint32_t)(n - (ssize_t)taken)) < 0)) {
		cgi_finish(c, p, true);
		return false;
	}
	return true;
}

void conn_on_cgi(struct conn *c)
{
	struct cgi_proc *p = c->cgi;
	if (buf_acquire(&c->out, &c->w->pool) < 0) {
		conn_close(c);
		return;
	}
	bool progress = true;
	while (progress && c->state == CONN_CGI) {
		progress = false;
		if (!cgi_take_body(c, p)) {
			c->body_status = 400;
			log_info(c->w->log, "malformed chunked body for CGI");
		}
		if (c->body_status) {
			cgi_finish(c, p, true);
			return;
		}
		progress |= cgi_feed_stdin(c, p);
		progress |= cgi_read_client(c);
		/* Read the program's output before writing, so a short answer
		 * (head, body, last chunk) leaves in one write. */
		while (c->state == CONN_CGI && cgi_pump_stdout(c, p))
			progress = true;
		if (c->state != CONN_CGI)
			return;
		if (conn_output_pending(c)) {
			enum flush_result f = conn_flush(c);
			if (f == FLUSH_ERROR) {
				conn_close(c);
				return;
			}
			progress |= f == FLUSH_DONE;
		}
	}
}

void conn_cgi_timeout(struct conn *c)
{
	struct cgi_proc *p = c->cgi;
	log_err(c->w->log, "CGI pid %ld timed out after %u ms: killed", (long)p->pid,
		c->w->cfg->cgi_timeout_ms);
	cgi_kill(p);
	cgi_finish(c, p, true);
}

void conn_cgi_detach(struct conn *c, bool kill_child)
{
	struct cgi_proc *p = c->cgi;
	if (!p)
		return;
	c->cgi = NULL;
	p->conn = NULL;
	if (kill_child)
		cgi_kill(p);
	cgi_close_fd(p, &p->w_stdin);
	cgi_close_fd(p, &p->w_stdout);
	buf_release(&p->head, &p->worker->pool);
	if (p->running)
		loop_timer_arm(p->worker->loop, &p->orphan_timer, &p->worker->q_cgi_orphan);
	cgi_free_if_done(p);
}

void conn_cgi_kill_all(struct worker *w)
{
	for (struct cgi_proc *p = w->cgi_procs; p; p = p->next)
		cgi_kill(p);
	while (w->cgi_procs) {
		struct cgi_proc *p = w->cgi_procs;
		if (p->running)
			while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
				;
		p->running = false;
		cgi_close_fd(p, &p->w_exit);
		cgi_close_fd(p, &p->w_stderr);
		cgi_close_fd(p, &p->w_stdin);
		cgi_close_fd(p, &p->w_stdout);
		p->conn = NULL;
		cgi_free_if_done(p);
	}
}
