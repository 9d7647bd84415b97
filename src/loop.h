/*
 * loop — the event loop: edge-triggered epoll, timer queues, a batch hook.
 *
 * Owns the epoll descriptor and nothing else; watches and timers are
 * embedded in their owners (a connection, a listener) and only borrowed.
 *
 * Timers: every timeout in lisod belongs to a phase with a fixed duration
 * (request head, body, keep-alive idle, TLS handshake, CGI). So a timer queue
 * is a FIFO list per duration: arming appends at the tail with deadline
 * now + duration, which keeps each list sorted by deadline. Arming, re-arming
 * and disarming are O(1) pointer moves and the next deadline is the minimum
 * of a few list heads; hundreds of thousands of timers cost nothing extra.
 *
 * Time is read once per loop iteration (clock_gettime, a vDSO call, no
 * syscall); loop_now_ms() is that cached value.
 */
#ifndef LISOD_LOOP_H
#define LISOD_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct loop;
struct loop_watch;

/* The struct that embeds a watch or timer, from the pointer the loop hands
 * back (watches and timers live inside their owners). */
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

typedef void (*loop_io_fn)(struct loop *loop, struct loop_watch *w, uint32_t events);

struct loop_watch {
	int fd;
	bool posted;                   /* on the loop's posted list */
	loop_io_fn fn;
	struct loop_watch *posted_next;
};

struct timer_queue;
struct timer;
typedef void (*timer_fn)(struct loop *loop, struct timer *t);

struct timer {
	struct timer *prev, *next; /* NULL when not armed */
	struct timer_queue *queue;
	uint64_t deadline_ms;
	timer_fn fn;
};

struct timer_queue {
	struct timer head; /* sentinel of a circular list */
	uint64_t duration_ms;
};

enum { LOOP_TIMER_QUEUES_MAX = 12 };

/* Create a loop; -1/NULL on failure with errno set. */
struct loop *loop_new(void);
void loop_free(struct loop *loop);

/* Register w->fd for `events` (EPOLLIN, EPOLLOUT, ... ; EPOLLET is added). */
int loop_add(struct loop *loop, struct loop_watch *w, uint32_t events);
/* Unregister; call before close(fd). */
int loop_del(struct loop *loop, struct loop_watch *w);
/* Like loop_add but level-triggered (listeners, signalfd, which we drain). */
int loop_add_level(struct loop *loop, struct loop_watch *w, uint32_t events);

/*
 * Bounded work per wakeup: a handler that stops at its work bound while its
 * descriptor is still ready posts its watch. An edge-triggered descriptor
 * reports no new edge for data that is already there, so the loop calls
 * w->fn(loop, w, 0) itself in the next iteration (events == 0 means
 * "posted"), after that iteration's events, and does not sleep in epoll_wait
 * while anything is posted. Posting a posted watch does nothing.
 * The owner must stay allocated until the call has happened: check
 * `posted` before freeing (deferred free, as conn_reap does).
 */
void loop_post(struct loop *loop, struct loop_watch *w);

/* Register a queue of timers that all last duration_ms. */
int loop_timer_queue_add(struct loop *loop, struct timer_queue *q, uint64_t duration_ms);
void timer_init(struct timer *t, timer_fn fn);
/* (Re)arm t in q: it fires at loop_now_ms() + q->duration_ms. */
void loop_timer_arm(struct loop *loop, struct timer *t, struct timer_queue *q);
void timer_disarm(struct timer *t);
static inline bool timer_armed(const struct timer *t) { return t->next != NULL; }

/* Called once after each batch of events and expired timers. */
void loop_set_batch_hook(struct loop *loop, void (*fn)(void *arg), void *arg);

uint64_t loop_now_ms(const struct loop *loop);
time_t loop_now_sec(const struct loop *loop); /* wall clock, cached */

/* One iteration: wait up to timeout_ms (-1: forever; 0 while anything is
 * posted) for events, handle them, run what was posted, fire due timers,
 * call the batch hook. The number of events, or -1 if epoll_wait failed.
 * (loop_run is this in a loop; tests drive a loop with it.) */
int loop_run_once(struct loop *loop, int timeout_ms);
/* Run until loop_stop(). Returns 0, or -1 if epoll_wait fails for good. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

#endif
