#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

enum { LOOP_EVENTS_PER_WAIT = 256 };

struct loop {
	int epfd;
	bool stop;
	uint64_t now_ms;   /* monotonic */
	time_t now_sec;    /* wall clock */
	struct timer_queue *queues[LOOP_TIMER_QUEUES_MAX];
	unsigned queue_count;
	struct loop_watch *posted_head, *posted_tail; /* FIFO: fair among posters */
	void (*batch_fn)(void *arg);
	void *batch_arg;
	struct epoll_event events[LOOP_EVENTS_PER_WAIT];
};

static void loop_update_time(struct loop *loop)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
		loop->now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		loop->now_sec = ts.tv_sec;
}

struct loop *loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int saved = errno;
		free(loop);
		errno = saved;
		return NULL;
	}
	loop_update_time(loop);
	return loop;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

static int loop_ctl(struct loop *loop, int op, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	return epoll_ctl(loop->epfd, op, w->fd, &ev);
}

int loop_add(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	return loop_ctl(loop, EPOLL_CTL_ADD, w, events | EPOLLET);
}

int loop_add_level(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	return loop_ctl(loop, EPOLL_CTL_ADD, w, events);
}

int loop_del(struct loop *loop, struct loop_watch *w)
{
	return epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

void loop_post(struct loop *loop, struct loop_watch *w)
{
	if (w->posted)
		return;
	w->posted = true;
	w->posted_next = NULL;
	if (loop->posted_tail)
		loop->posted_tail->posted_next = w;
	else
		loop->posted_head = w;
	loop->posted_tail = w;
}

/* Run what was posted before this call; what these handlers post again
 * waits for the next iteration (so one watch cannot hold the loop). */
static void loop_run_posted(struct loop *loop)
{
	struct loop_watch *w = loop->posted_head;
	loop->posted_head = loop->posted_tail = NULL;
	while (w) {
		struct loop_watch *next = w->posted_next;
		w->posted = false;
		w->posted_next = NULL;
		w->fn(loop, w, 0);
		w = next;
	}
}

int loop_timer_queue_add(struct loop *loop, struct timer_queue *q, uint64_t duration_ms)
{
	if (loop->queue_count == LOOP_TIMER_QUEUES_MAX) {
		errno = ENOSPC;
		return -1;
	}
	q->head.prev = q->head.next = &q->head;
	q->head.queue = q;
	q->duration_ms = duration_ms;
	loop->queues[loop->queue_count++] = q;
	return 0;
}

void timer_init(struct timer *t, timer_fn fn)
{
	t->prev = t->next = NULL;
	t->queue = NULL;
	t->deadline_ms = 0;
	t->fn = fn;
}

void timer_disarm(struct timer *t)
{
	if (!t->next)
		return;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->prev = t->next = NULL;
	t->queue = NULL;
}

void loop_timer_arm(struct loop *loop, struct timer *t, struct timer_queue *q)
{
	timer_disarm(t);
	/* Appending keeps the queue sorted: every entry has the same duration
	 * and loop time never goes backwards. */
	t->deadline_ms = loop->now_ms + q->duration_ms;
	t->queue = q;
	t->prev = q->head.prev;
	t->next = &q->head;
	q->head.prev->next = t;
	q->head.prev = t;
}

void loop_set_batch_hook(struct loop *loop, void (*fn)(void *arg), void *arg)
{
	loop->batch_fn = fn;
	loop->batch_arg = arg;
}

uint64_t loop_now_ms(const struct loop *loop) { return loop->now_ms; }
time_t loop_now_sec(const struct loop *loop) { return loop->now_sec; }
void loop_stop(struct loop *loop) { loop->stop = true; }

static int loop_next_timeout_ms(const struct loop *loop)
{
	uint64_t next = UINT64_MAX;
	for (unsigned i = 0; i < loop->queue_count; i++) {
		const struct timer_queue *q = loop->queues[i];
		if (q->head.next != &q->head && q->head.next->deadline_ms < next)
			next = q->head.next->deadline_ms;
	}
	if (next == UINT64_MAX)
		return -1;
	if (next <= loop->now_ms)
		return 0;
	uint64_t wait = next - loop->now_ms;
	return wait > 60000 ? 60000 : (int)wait;
}

static void loop_fire_timers(struct loop *loop)
{
	for (unsigned i = 0; i < loop->queue_count; i++) {
		struct timer_queue *q = loop->queues[i];
		/* A callback may re-arm its timer in the same queue (it then lands
		 * at the tail with a later deadline), so this terminates. */
		while (q->head.next != &q->head && q->head.next->deadline_ms <= loop->now_ms) {
			struct timer *t = q->head.next;
			timer_disarm(t);
			t->fn(loop, t);
		}
	}
}

int loop_run_once(struct loop *loop, int timeout_ms)
{
	if (loop->posted_head)
		timeout_ms = 0;
	int n = epoll_wait(loop->epfd, loop->events, LOOP_EVENTS_PER_WAIT, timeout_ms);
	if (n < 0 && errno != EINTR)
		return -1;
	loop_update_time(loop);
	for (int i = 0; i < n; i++) {
		struct loop_watch *w = loop->events[i].data.ptr;
		w->fn(loop, w, loop->events[i].events);
	}
	loop_run_posted(loop);
	loop_fire_timers(loop);
	if (loop->batch_fn)
		loop->batch_fn(loop->batch_arg);
	return n < 0 ? 0 : n;
}

int loop_run(struct loop *loop)
{
	while (!loop->stop)
		if (loop_run_once(loop, loop_next_timeout_ms(loop)) < 0)
			return -1;
	return 0;
}
