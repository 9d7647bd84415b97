/*
 * cgi_proc — the lifetime of one CGI program: spawn, its pipes, its stderr,
 * reaping and killing. Needs only the loop and the log.
 *
 * Owns the child process and our ends of its three pipes. The owner (a
 * connection's CGI phase) writes the request body with cgi_proc_write(),
 * reads the program's output with cgi_proc_read(), and is told through its
 * wake callback when either pipe becomes ready (edge-triggered: after a
 * wake, keep going until EAGAIN) or when the program ran past its total
 * time cap and was killed. When the owner is done it detaches: from then on
 * nothing calls it back.
 *
 * stderr goes to the error log, line by line, at most CGI_STDERR_LOG_LINES
 * lines per program (the rest is counted and reported in one line when the
 * program is freed), reading at most a bounded amount per loop iteration:
 * a program that floods stderr costs the loop bounded work per wakeup.
 *
 * Deferred free (as for connections): a process record is freed only by
 * cgi_procs_collect(), the worker's end-of-batch hook, because another
 * event of the same epoll batch may still point at one of its watches.
 * It is freed once it is detached and reaped; a detached program that still
 * runs is killed (with its process group) at the orphan deadline. A
 * descendant that left the group (setsid) and keeps the pipes open is not
 * killed, but our ends of its pipes are closed with the record.
 */
#ifndef LISOD_CGI_PROC_H
#define LISOD_CGI_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

struct log;
struct cgi_proc;

enum { CGI_STDERR_LOG_LINES = 100 };

/* Every CGI process of one worker. */
struct cgi_procs {
	struct loop *loop;
	struct log *log;
	struct timer_queue q_orphan;   /* detached but running: kill at deadline */
	struct timer_queue q_total;    /* attached: the total time cap */
	struct cgi_proc *live;         /* not yet freed */
	struct cgi_proc *dead;         /* to free after this batch */
	unsigned count;                /* records not yet freed (the --max-cgi count) */
};

enum cgi_proc_event {
	CGI_PROC_STDIN,    /* stdin may take more bytes */
	CGI_PROC_STDOUT,   /* stdout may have bytes (or EOF) */
	CGI_PROC_TIMEOUT,  /* ran past the total cap: killed; give up on it */
};

typedef void (*cgi_proc_wake_fn)(void *owner, enum cgi_proc_event ev);

/* orphan_ms: how long a detached program may keep running; total_ms: the
 * cap on an attached program's whole run. 0 or -1 (timer queues full). */
int cgi_procs_init(struct cgi_procs *s, struct loop *loop, struct log *log,
		   uint64_t orphan_ms, uint64_t total_ms);

/* Start program with env (see cgi_spawn in cgi.h). NULL with errno set
 * (nothing leaked, nothing left running). Both pipes start "ready": the
 * first wake may never come for a pipe that is ready at once. */
struct cgi_proc *cgi_procs_start(struct cgi_procs *s, const char *program, char *const env[],
				 cgi_proc_wake_fn wake, void *owner);

/* Write to the program's stdin: bytes written, or -1 with errno EAGAIN
 * (wait for CGI_PROC_STDIN) or EPIPE (stdin is closed: it will read no
 * more, whatever the reason). */
ssize_t cgi_proc_write(struct cgi_proc *p, const void *data, size_t n);
/* Close stdin: end of the request body for the program. */
void cgi_proc_close_stdin(struct cgi_proc *p);
/* Read the program's stdout: bytes read, 0 at end of output, or -1 with
 * errno (EAGAIN: wait for CGI_PROC_STDOUT). */
ssize_t cgi_proc_read(struct cgi_proc *p, void *buf, size_t n);

/* The owner is done with p (p must not be used afterwards). kill: the
 * program is killed at once (the client left, or it failed); otherwise a
 * program that still runs gets until the orphan deadline. */
void cgi_proc_detach(struct cgi_proc *p, bool kill);

pid_t cgi_proc_pid(const struct cgi_proc *p);
const char *cgi_proc_program(const struct cgi_proc *p);

/* SIGCHLD: reap the children that have no pidfd (old kernels, valgrind). */
void cgi_procs_on_sigchld(struct cgi_procs *s);
/* End of a loop batch: free the records that are done. */
void cgi_procs_collect(struct cgi_procs *s);
/* Teardown: kill and reap every child (blocking; only at exit), free all. */
void cgi_procs_kill_all(struct cgi_procs *s);

#endif
