/*
 * cgi_proc — a CGI program's process and pipes on the loop. See cgi_proc.h.
 *
 * The child is reaped through a pidfd when the kernel has pidfd_open (so
 * exactly when it exits, and no other child of ours is touched), else on
 * SIGCHLD with waitpid(pid, WNOHANG) per live record. stdin and stdout are
 * edge-triggered and only relayed to the owner; stderr is level-triggered
 * because we always drain it: one bounded read per wakeup, and epoll
 * reports it again if more is left.
 */
#include "cgi_proc.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgi.h"
#include "log.h"

enum {
	CGI_STDERR_LINE_MAX = 1024,     /* a logged line is cut here */
	CGI_STDERR_READ_BYTES = 4096,   /* one read per wakeup */
};

struct cgi_proc {
	struct loop_watch w_stdin, w_stdout, w_stderr, w_exit; /* fd -1 when closed */
	struct timer timer;         /* total cap while attached, orphan deadline after */
	struct cgi_procs *set;
	cgi_proc_wake_fn wake;
	void *owner;                /* NULL once detached */
	struct cgi_proc *prev, *next; /* in set->live; set->dead uses next */
	pid_t pid;
	bool running;               /* not reaped yet */
	bool dead;                  /* on set->dead, freed after the batch */
	bool killed;                /* by us: its SIGKILL needs no log line */
	char *program;              /* for log lines; may be NULL (no memory) */
	uint32_t err_len;           /* bytes in err_line */
	uint32_t err_lines;         /* lines logged so far */
	uint64_t err_dropped;       /* bytes not logged (over the line or count cap) */
	char err_line[CGI_STDERR_LINE_MAX];
};

static void proc_drain_stderr(struct cgi_proc *p);

static const char *proc_name(const struct cgi_proc *p)
{
	return p->program ? p->program : "?";
}

static void proc_close_fd(struct cgi_proc *p, struct loop_watch *w)
{
	if (w->fd < 0)
		return;
	loop_del(p->set->loop, w);
	close(w->fd);
	w->fd = -1;
}

/* Queue p for freeing once it is detached and reaped. */
static void proc_release_if_done(struct cgi_proc *p)
{
	struct cgi_procs *s = p->set;
	if (p->owner || p->running || p->dead)
		return;
	timer_disarm(&p->timer);
	/* Our ends of every pipe go now: a descendant that keeps them open
	 * (it left the process group, so the kill missed it) writes into a
	 * closed pipe and gets EPIPE, and holds nothing of ours. */
	proc_close_fd(p, &p->w_stdin);
	proc_close_fd(p, &p->w_stdout);
	proc_drain_stderr(p);
	if (p->prev)
		p->prev->next = p->next;
	else
		s->live = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->dead = true;
	p->prev = NULL;
	p->next = s->dead;
	s->dead = p;
}

/* ---- stderr ------------------------------------------------------------ */

static void proc_log_line(struct cgi_proc *p)
{
	if (p->err_lines < CGI_STDERR_LOG_LINES)
		log_warn(p->set->log, "CGI %s (pid %ld): %.*s", proc_name(p), (long)p->pid,
			 (int)p->err_len, p->err_line);
	else
		p->err_dropped += p->err_len;
	p->err_lines++;
	p->err_len = 0;
}

/* Split into lines; control bytes are shown as \xHH so a program cannot
 * write terminal escapes or forge the next log line. */
static void proc_take_stderr(struct cgi_proc *p, const char *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (p->err_lines >= CGI_STDERR_LOG_LINES) {
		p->err_dropped += n; /* over the cap: not even scanned */
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)data[i];
		if (ch == '\n') {
			proc_log_line(p);
			if (p->err_lines >= CGI_STDERR_LOG_LINES) {
				p->err_dropped += n - i - 1;
				return;
			}
			continue;
		}
		bool plain = ch >= 0x20 && ch < 0x7f;
		if (p->err_len + (plain ? 1 : 4) > sizeof(p->err_line)) {
			p->err_dropped++; /* over-long line: the rest is cut */
			continue;
		}
		if (plain) {
			p->err_line[p->err_len++] = (char)ch;
			continue;
		}
		p->err_line[p->err_len++] = '\\';
		p->err_line[p->err_len++] = 'x';
		p->err_line[p->err_len++] = hex[ch >> 4];
		p->err_line[p->err_len++] = hex[ch & 15];
	}
}

static void proc_stderr_done(struct cgi_proc *p)
{
	if (p->err_len)
		proc_log_line(p);
	if (p->err_dropped)
		log_warn(p->set->log, "CGI %s (pid %ld): %llu more bytes of stderr not logged",
			 proc_name(p), (long)p->pid, (unsigned long long)p->err_dropped);
	p->err_dropped = 0;
	proc_close_fd(p, &p->w_stderr);
}

/* The program is gone: log what is left in the pipe (at most a pipe's
 * worth of reads, so a descendant still writing cannot hold us), close. */
static void proc_drain_stderr(struct cgi_proc *p)
{
	char data[CGI_STDERR_READ_BYTES];
	for (int i = 0; i < 16 && p->w_stderr.fd >= 0; i++) {
		ssize_t n = read(p->w_stderr.fd, data, sizeof(data));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		proc_take_stderr(p, data, (size_t)n);
	}
	if (p->w_stderr.fd >= 0)
		proc_stderr_done(p);
}

static void proc_on_stderr(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	struct cgi_proc *p = container_of(watch, struct cgi_proc, w_stderr);
	if (watch->fd < 0)
		return; /* closed earlier in this batch */
	char data[CGI_STDERR_READ_BYTES];
	ssize_t n;
	do
		n = read(watch->fd, data, sizeof(data));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		proc_take_stderr(p, data, (size_t)n);
		return; /* level-triggered: more comes at the next wakeup */
	}
	if (n < 0 && errno == EAGAIN)
		return;
	proc_stderr_done(p);
}

/* ---- exit ---------------------------------------------------------------- */

/* Our own SIGKILL (logged with its reason when sent), or SIGPIPE once
 * we stopped reading a program whose answer was complete (a HEAD, say). */
static bool proc_signal_expected(const struct cgi_proc *p, int sig)
{
	return (sig == SIGKILL && p->killed) || (sig == SIGPIPE && !p->owner);
}

static void proc_kill(struct cgi_proc *p)
{
	if (!p->running)
		return;
	p->killed = true;
	kill(-p->pid, SIGKILL); /* its process group: descendants too */
}

/* Reap the child if it has exited. */
static void proc_try_reap(struct cgi_proc *p)
{
	int status;
	pid_t r;
	do
		r = waitpid(p->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return;
	if (r == p->pid && WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warn(p->set->log, "CGI %s (pid %ld) exited with status %d", proc_name(p),
			 (long)p->pid, WEXITSTATUS(status));
	else if (r == p->pid && WIFSIGNALED(status) && !proc_signal_expected(p, WTERMSIG(status)))
		log_warn(p->set->log, "CGI %s (pid %ld) killed by signal %d", proc_name(p),
			 (long)p->pid, WTERMSIG(status));
	/* Its process group may still hold descendants: they go too. */
	kill(-p->pid, SIGKILL);
	p->running = false;
	proc_close_fd(p, &p->w_exit);
	proc_release_if_done(p);
}

static void proc_on_exit(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	if (watch->fd >= 0)
		proc_try_reap(container_of(watch, struct cgi_proc, w_exit));
}

void cgi_procs_on_sigchld(struct cgi_procs *s)
{
	/* Only children without a pidfd are reaped here; the others are
	 * reaped when their pidfd fires. */
	struct cgi_proc *p = s->live;
	while (p) {
		struct cgi_proc *next = p->next;
		if (p->running && p->w_exit.fd < 0)
			proc_try_reap(p);
		p = next;
	}
}

/* ---- stdin, stdout: tell the owner --------------------------------------- */

static void proc_wake(struct cgi_proc *p, enum cgi_proc_event ev)
{
	if (p->owner)
		p->wake(p->owner, ev);
}

static void proc_on_stdin(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	if (watch->fd >= 0)
		proc_wake(container_of(watch, struct cgi_proc, w_stdin), CGI_PROC_STDIN);
}

static void proc_on_stdout(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)loop;
	(void)events;
	if (watch->fd >= 0)
		proc_wake(container_of(watch, struct cgi_proc, w_stdout), CGI_PROC_STDOUT);
}

static void proc_on_timer(struct loop *loop, struct timer *t)
{
	(void)loop;
	struct cgi_proc *p = container_of(t, struct cgi_proc, timer);
	if (p->owner) {
		proc_kill(p); /* the owner logs why */
		proc_wake(p, CGI_PROC_TIMEOUT);
		return;
	}
	if (p->running) {
		log_warn(p->set->log, "CGI %s (pid %ld) outlived its response: killed",
			 proc_name(p), (long)p->pid);
		proc_kill(p);
	}
}

/* ---- the owner's side ------------------------------------------------------ */

ssize_t cgi_proc_write(struct cgi_proc *p, const void *data, size_t n)
{
	if (p->w_stdin.fd < 0) {
		errno = EPIPE;
		return -1;
	}
	ssize_t r;
	do
		r = write(p->w_stdin.fd, data, n);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno != EAGAIN) {
		proc_close_fd(p, &p->w_stdin); /* EPIPE: it will read no more */
		errno = EPIPE;
	}
	return r;
}

void cgi_proc_close_stdin(struct cgi_proc *p)
{
	proc_close_fd(p, &p->w_stdin);
}

ssize_t cgi_proc_read(struct cgi_proc *p, void *buf, size_t n)
{
	if (p->w_stdout.fd < 0)
		return 0;
	ssize_t r;
	do
		r = read(p->w_stdout.fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

void cgi_proc_detach(struct cgi_proc *p, bool kill_it)
{
	p->owner = NULL;
	if (kill_it)
		proc_kill(p);
	proc_close_fd(p, &p->w_stdin);
	proc_close_fd(p, &p->w_stdout);
	if (p->running)
		loop_timer_arm(p->set->loop, &p->timer, &p->set->q_orphan);
	proc_release_if_done(p);
}

pid_t cgi_proc_pid(const struct cgi_proc *p) { return p->pid; }
const char *cgi_proc_program(const struct cgi_proc *p) { return proc_name(p); }

/* ---- the set ----------------------------------------------------------------- */

int cgi_procs_init(struct cgi_procs *s, struct loop *loop, struct log *log,
		   uint64_t orphan_ms, uint64_t total_ms)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->log = log;
	if (loop_timer_queue_add(loop, &s->q_orphan, orphan_ms) < 0 ||
	    loop_timer_queue_add(loop, &s->q_total, total_ms) < 0)
		return -1;
	return 0;
}

static int proc_watch(struct cgi_proc *p, struct loop_watch *w, int fd, loop_io_fn fn,
		      uint32_t events, bool level)
{
	w->fd = fd;
	w->fn = fn;
	if (fd < 0)
		return 0;
	return level ? loop_add_level(p->set->loop, w, events) : loop_add(p->set->loop, w, events);
}

static int pidfd_open_compat(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void child_abandon(const struct cgi_child *child)
{
	kill(-child->pid, SIGKILL);
	close(child->stdin_fd);
	close(child->stdout_fd);
	close(child->stderr_fd);
	while (waitpid(child->pid, NULL, 0) < 0 && errno == EINTR)
		;
}

struct cgi_proc *cgi_procs_start(struct cgi_procs *s, const char *program, char *const env[],
				 cgi_proc_wake_fn wake, void *owner)
{
	struct cgi_proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	struct cgi_child child;
	if (cgi_spawn(program, env, &child) < 0) {
		int saved = errno;
		free(p);
		errno = saved;
		return NULL;
	}
	p->set = s;
	p->wake = wake;
	p->owner = owner;
	p->pid = child.pid;
	p->running = true;
	p->program = strdup(program); /* NULL is tolerated in logs */
	p->w_stdin.fd = p->w_stdout.fd = p->w_stderr.fd = p->w_exit.fd = -1;
	timer_init(&p->timer, proc_on_timer);
	/* Without pidfd_open (ENOSYS) the child is reaped on SIGCHLD instead. */
	int pidfd = pidfd_open_compat(child.pid);
	if (proc_watch(p, &p->w_exit, pidfd, proc_on_exit, EPOLLIN, false) < 0 ||
	    proc_watch(p, &p->w_stdin, child.stdin_fd, proc_on_stdin, EPOLLOUT, false) < 0 ||
	    proc_watch(p, &p->w_stdout, child.stdout_fd, proc_on_stdout, EPOLLIN, false) < 0 ||
	    proc_watch(p, &p->w_stderr, child.stderr_fd, proc_on_stderr, EPOLLIN, true) < 0)
		goto fail;
	p->next = s->live;
	if (p->next)
		p->next->prev = p;
	s->live = p;
	s->count++;
	loop_timer_arm(s->loop, &p->timer, &s->q_total);
	return p;
fail:;
	int saved = errno;
	/* Unregister what was registered; the pipes close below. */
	struct loop_watch *watches[] = { &p->w_exit, &p->w_stdin, &p->w_stdout, &p->w_stderr };
	for (size_t i = 0; i < sizeof(watches) / sizeof(watches[0]); i++)
		if (watches[i]->fd >= 0)
			loop_del(s->loop, watches[i]);
	if (pidfd >= 0)
		close(pidfd);
	child_abandon(&child);
	free(p->program);
	free(p);
	errno = saved;
	return NULL;
}

void cgi_procs_collect(struct cgi_procs *s)
{
	while (s->dead) {
		struct cgi_proc *p = s->dead;
		s->dead = p->next;
		s->count--;
		free(p->program);
		free(p);
	}
}

void cgi_procs_kill_all(struct cgi_procs *s)
{
	for (struct cgi_proc *p = s->live; p; p = p->next)
		if (p->running)
			kill(-p->pid, SIGKILL);
	while (s->live) {
		struct cgi_proc *p = s->live;
		if (p->running)
			while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
				;
		p->running = false;
		p->owner = NULL;
		proc_close_fd(p, &p->w_exit);
		proc_release_if_done(p);
	}
	cgi_procs_collect(s);
}
