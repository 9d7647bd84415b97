/*
 * Unit tests for loop.c: the timer queues and posted watches.
 *
 *   timer scripts  table rows that are short programs (set the loop's time,
 *                  arm, re-arm, disarm, fire, what a callback does when it
 *                  fires) checking after every step that each queue holds
 *                  exactly the expected timers in order, sorted by deadline,
 *                  each deadline its arm time plus the queue's duration, with
 *                  consistent links; and the next epoll timeout (minimum of
 *                  the queue heads, capped at 60 s);
 *   loop_post      a real loop (epoll, an eventfd) run for a bounded number of
 *                  iterations: posted watches run once, after the events of
 *                  the next iteration, in FIFO order; posting twice runs once;
 *                  a handler that posts again runs in the following iteration;
 *                  epoll_wait does not sleep while anything is posted.
 *
 * loop.c is included to reach its statics (loop_next_timeout_ms,
 * loop_fire_timers, loop_run_posted) and to set loop->now_ms directly.
 * Every table row carries its __LINE__; a failing row prints it and its name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.c"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_loop.c:%d: %s: ", (line), (name));           \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- timer scripts ---------------------------------------------------------- */

/* Queue durations: two short ones, exactly the cap, just over it, far over. */
static const uint64_t DURATIONS[] = { 100, 250, 60000, 60001, 90000 };
enum { NQ = ARRAY_LEN(DURATIONS), NT = 6 /* timers 'A'..'F' */ };

enum top { T_END, T_NOW, T_ARM, T_DISARM, T_FIRE, T_QUEUE, T_NEXT, T_ON_FIRE };
enum act { A_NONE, A_REARM, A_DISARM, A_ARM };

struct tstep {
	enum top op;
	char t;             /* timer 'A'.. */
	int q;              /* queue index */
	enum act act;       /* T_ON_FIRE: what t does when it fires */
	char other;         /* A_DISARM / A_ARM: the other timer */
	long v;             /* T_NOW: time; T_NEXT: expected timeout */
	const char *s;      /* T_FIRE: timers fired, in order; T_QUEUE: queue content */
};

#define NOW(ms) { .op = T_NOW, .v = (ms) }
#define ARM(tm, qi) { .op = T_ARM, .t = (tm), .q = (qi) }
#define DISARM(tm) { .op = T_DISARM, .t = (tm) }
#define FIRE(str) { .op = T_FIRE, .s = (str) }
#define QUEUE(qi, str) { .op = T_QUEUE, .q = (qi), .s = (str) }
#define NEXT(ms) { .op = T_NEXT, .v = (ms) }
/* When tm fires: re-arm itself in qi / disarm o / arm o in qi. */
#define ON_FIRE_REARM(tm, qi) { .op = T_ON_FIRE, .t = (tm), .act = A_REARM, .q = (qi) }
#define ON_FIRE_DISARM(tm, o) { .op = T_ON_FIRE, .t = (tm), .act = A_DISARM, .other = (o) }
#define ON_FIRE_ARM(tm, o, qi) { .op = T_ON_FIRE, .t = (tm), .act = A_ARM, .other = (o), .q = (qi) }

struct tscript {
	int line;
	const char *name;
	struct tstep steps[16];
};

static const struct tscript TSCRIPTS[] = {
	{ __LINE__, "nothing armed: wait forever", {
		NEXT(-1), QUEUE(0, ""), FIRE("") } },
	{ __LINE__, "arming appends in order", {
		NOW(1000), ARM('A', 0), NOW(1010), ARM('B', 0), NOW(1020), ARM('C', 0),
		QUEUE(0, "ABC"), NEXT(80) } },
	{ __LINE__, "arming at the same time keeps arm order", {
		NOW(5), ARM('C', 1), ARM('A', 1), ARM('B', 1), QUEUE(1, "CAB"), NEXT(250) } },
	{ __LINE__, "re-arm moves to the tail with a later deadline", {
		NOW(1000), ARM('A', 0), ARM('B', 0), NOW(1050), ARM('A', 0),
		QUEUE(0, "BA"), NEXT(50), NOW(1100), FIRE("B"), QUEUE(0, "A"), NEXT(50) } },
	{ __LINE__, "re-arm the only timer", {
		NOW(0), ARM('A', 0), NOW(60), ARM('A', 0), QUEUE(0, "A"), NEXT(100) } },
	{ __LINE__, "re-arm the tail stays at the tail", {
		NOW(0), ARM('A', 0), ARM('B', 0), NOW(1), ARM('B', 0), QUEUE(0, "AB"),
		NEXT(99) } },
	{ __LINE__, "disarm middle, head, tail; twice is a no-op", {
		NOW(0), ARM('A', 0), ARM('B', 0), ARM('C', 0), DISARM('B'), QUEUE(0, "AC"),
		DISARM('A'), QUEUE(0, "C"), DISARM('C'), QUEUE(0, ""), DISARM('C'),
		QUEUE(0, ""), NEXT(-1) } },
	{ __LINE__, "disarm a timer never armed", {
		DISARM('A'), QUEUE(0, ""), NEXT(-1) } },
	{ __LINE__, "arming in another queue moves it", {
		NOW(0), ARM('A', 0), ARM('B', 0), ARM('A', 1), QUEUE(0, "B"), QUEUE(1, "A"),
		DISARM('B'), QUEUE(0, ""), NEXT(250) } },
	{ __LINE__, "next timeout: the minimum of the queue heads", {
		NOW(0), ARM('A', 1), ARM('B', 4), NOW(100), ARM('C', 0), NEXT(100),
		DISARM('C'), NEXT(150), DISARM('A'), NEXT(60000) } },
	{ __LINE__, "next timeout: a later queue's head is sooner", {
		NOW(0), ARM('A', 2), ARM('B', 1), NEXT(250), DISARM('B'), NEXT(60000) } },
	{ __LINE__, "next timeout: exactly 60 s", {
		NOW(0), ARM('A', 2), NEXT(60000), NOW(1), NEXT(59999) } },
	{ __LINE__, "next timeout: capped at 60 s", {
		NOW(0), ARM('A', 3), NEXT(60000), NOW(1), NEXT(60000), NOW(2), NEXT(59999),
		DISARM('A'), ARM('B', 4), NEXT(60000) } },
	{ __LINE__, "next timeout: due now and overdue are 0", {
		NOW(0), ARM('A', 0), NOW(99), NEXT(1), NOW(100), NEXT(0), NOW(5000), NEXT(0) } },
	{ __LINE__, "fire: not yet due fires nothing", {
		NOW(0), ARM('A', 0), NOW(99), FIRE(""), QUEUE(0, "A") } },
	{ __LINE__, "fire: due timers in order, later ones stay", {
		NOW(0), ARM('A', 0), ARM('B', 0), NOW(50), ARM('C', 0), NOW(100),
		FIRE("AB"), QUEUE(0, "C"), NEXT(50), NOW(150), FIRE("C"), QUEUE(0, ""),
		NEXT(-1) } },
	{ __LINE__, "fire: every due queue", {
		NOW(0), ARM('A', 0), ARM('B', 1), ARM('C', 2), NOW(250), FIRE("AB"),
		QUEUE(0, ""), QUEUE(1, ""), QUEUE(2, "C") } },
	{ __LINE__, "fire: a fired timer may be armed again later", {
		NOW(0), ARM('A', 0), NOW(100), FIRE("A"), ARM('A', 0), QUEUE(0, "A"),
		NEXT(100), NOW(200), FIRE("A") } },
	{ __LINE__, "a callback that re-arms itself fires once per pass", {
		ON_FIRE_REARM('A', 0), NOW(0), ARM('A', 0), NOW(100), FIRE("A"),
		QUEUE(0, "A"), NEXT(100), NOW(200), FIRE("A"), QUEUE(0, "A") } },
	{ __LINE__, "a callback that re-arms itself long overdue still ends", {
		ON_FIRE_REARM('A', 0), NOW(0), ARM('A', 0), NOW(100000), FIRE("A"),
		QUEUE(0, "A"), NEXT(100) } },
	{ __LINE__, "callbacks re-arming themselves behind other due timers", {
		ON_FIRE_REARM('A', 0), ON_FIRE_REARM('B', 0), NOW(0), ARM('A', 0),
		ARM('B', 0), ARM('C', 0), NOW(100), FIRE("ABC"), QUEUE(0, "AB") } },
	{ __LINE__, "a callback re-arming itself in another queue", {
		ON_FIRE_REARM('A', 1), NOW(0), ARM('A', 0), NOW(100), FIRE("A"),
		QUEUE(0, ""), QUEUE(1, "A"), NEXT(250) } },
	{ __LINE__, "a callback re-arming itself in a queue not yet fired", {
		ON_FIRE_REARM('A', 1), NOW(0), ARM('A', 0), ARM('B', 1), NOW(250),
		FIRE("AB"), QUEUE(1, "A"), NEXT(250) } },
	{ __LINE__, "a callback disarms the next due timer", {
		ON_FIRE_DISARM('A', 'B'), NOW(0), ARM('A', 0), ARM('B', 0), ARM('C', 0),
		NOW(100), FIRE("AC"), QUEUE(0, "") } },
	{ __LINE__, "a callback arms another timer: not due in this pass", {
		ON_FIRE_ARM('A', 'B', 0), NOW(0), ARM('A', 0), NOW(100), FIRE("A"),
		QUEUE(0, "B"), NEXT(100) } },
	{ __LINE__, "a callback re-arms a due timer behind itself", {
		ON_FIRE_ARM('A', 'B', 0), NOW(0), ARM('A', 0), ARM('B', 0), NOW(100),
		FIRE("A"), QUEUE(0, "B"), NEXT(100) } },
};

struct tfix {
	struct loop *loop;
	struct timer_queue queues[NQ];
	struct timer timers[NT];
	uint64_t armed_at[NT];
	enum act act[NT];
	int act_q[NT];
	char act_other[NT];
	char fired[64];
	size_t nfired;
};

static struct tfix *tfix_of_timer; /* the callbacks' fixture */

static int timer_index(const struct tfix *f, const struct timer *t)
{
	return (int)(t - f->timers);
}

static void fix_arm(struct tfix *f, int i, int q)
{
	f->armed_at[i] = f->loop->now_ms;
	loop_timer_arm(f->loop, &f->timers[i], &f->queues[q]);
}

static void on_timer(struct loop *loop, struct timer *t)
{
	struct tfix *f = tfix_of_timer;
	int i = timer_index(f, t);
	assert_ptr_equal(loop, f->loop);
	assert_false(timer_armed(t)); /* disarmed before its callback */
	if (f->nfired + 1 < sizeof(f->fired))
		f->fired[f->nfired++] = (char)('A' + i);
	f->fired[f->nfired] = '\0';
	switch (f->act[i]) {
	case A_REARM: fix_arm(f, i, f->act_q[i]); break;
	case A_DISARM: timer_disarm(&f->timers[f->act_other[i] - 'A']); break;
	case A_ARM: fix_arm(f, f->act_other[i] - 'A', f->act_q[i]); break;
	case A_NONE: break;
	}
}

/* Check queue q holds exactly `want` (timer letters), sorted, linked. */
static int check_queue(const struct tfix *f, int q, const char *want, char *why, size_t cap)
{
	const struct timer_queue *tq = &f->queues[q];
	char got[NT + 2];
	size_t n = 0;
	uint64_t last = 0;
	const struct timer *prev = &tq->head;
	for (const struct timer *t = tq->head.next; t != &tq->head; t = t->next) {
		if (n > NT) {
			snprintf(why, cap, "queue %d: cycle", q);
			return -1;
		}
		int i = timer_index(f, t);
		got[n++] = (char)('A' + i);
		if (t->prev != prev) {
			snprintf(why, cap, "queue %d: %c has a wrong prev link", q, 'A' + i);
			return -1;
		}
		if (t->queue != tq || !timer_armed(t)) {
			snprintf(why, cap, "queue %d: %c does not say it is in this queue", q, 'A' + i);
			return -1;
		}
		if (t->deadline_ms != f->armed_at[i] + tq->duration_ms) {
			snprintf(why, cap, "queue %d: %c deadline %llu, want %llu", q, 'A' + i,
				 (unsigned long long)t->deadline_ms,
				 (unsigned long long)(f->armed_at[i] + tq->duration_ms));
			return -1;
		}
		if (t->deadline_ms < last) {
			snprintf(why, cap, "queue %d: not sorted at %c", q, 'A' + i);
			return -1;
		}
		last = t->deadline_ms;
		prev = t;
	}
	got[n] = '\0';
	if (tq->head.prev != prev) {
		snprintf(why, cap, "queue %d: tail link", q);
		return -1;
	}
	if (strcmp(got, want) != 0) {
		snprintf(why, cap, "queue %d holds \"%s\", want \"%s\"", q, got, want);
		return -1;
	}
	return 0;
}

/* Every timer is either in exactly one queue or fully disarmed. */
static int check_timers(const struct tfix *f, char *why, size_t cap)
{
	int seen[NT] = { 0 };
	for (int q = 0; q < (int)NQ; q++) {
		const struct timer_queue *tq = &f->queues[q];
		int n = 0;
		for (const struct timer *t = tq->head.next; t != &tq->head && n <= NT; t = t->next, n++)
			seen[timer_index(f, t)]++;
	}
	for (int i = 0; i < NT; i++) {
		const struct timer *t = &f->timers[i];
		if (seen[i] > 1 || (seen[i] == 1) != timer_armed(t) ||
		    (!timer_armed(t) && (t->prev || t->queue))) {
			snprintf(why, cap, "timer %c: in %d queues, armed %d", 'A' + i, seen[i],
				 timer_armed(t));
			return -1;
		}
	}
	return 0;
}

static void test_timer_scripts(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t r = 0; r < ARRAY_LEN(TSCRIPTS); r++) {
		const struct tscript *c = &TSCRIPTS[r];
		struct tfix f;
		memset(&f, 0, sizeof(f));
		f.loop = loop_new();
		assert_non_null(f.loop);
		tfix_of_timer = &f;
		for (int q = 0; q < (int)NQ; q++)
			assert_int_equal(loop_timer_queue_add(f.loop, &f.queues[q], DURATIONS[q]), 0);
		for (int i = 0; i < NT; i++)
			timer_init(&f.timers[i], on_timer);
		f.loop->now_ms = 0;
		for (size_t k = 0; k < ARRAY_LEN(c->steps) && c->steps[k].op != T_END; k++) {
			const struct tstep *s = &c->steps[k];
			char why[160] = "";
			int i = s->t ? s->t - 'A' : 0;
			switch (s->op) {
			case T_NOW: f.loop->now_ms = (uint64_t)s->v; break;
			case T_ARM: fix_arm(&f, i, s->q); break;
			case T_DISARM: timer_disarm(&f.timers[i]); break;
			case T_ON_FIRE:
				f.act[i] = s->act;
				f.act_q[i] = s->q;
				f.act_other[i] = s->other;
				break;
			case T_FIRE:
				f.nfired = 0;
				f.fired[0] = '\0';
				loop_fire_timers(f.loop);
				if (strcmp(f.fired, s->s) != 0)
					snprintf(why, sizeof(why), "fired \"%s\", want \"%s\"", f.fired, s->s);
				break;
			case T_QUEUE: check_queue(&f, s->q, s->s, why, sizeof(why)); break;
			case T_NEXT: {
				int got = loop_next_timeout_ms(f.loop);
				if (got != s->v)
					snprintf(why, sizeof(why), "next timeout %d, want %ld", got, s->v);
				break;
			}
			case T_END: break;
			}
			if (!why[0])
				check_timers(&f, why, sizeof(why));
			if (why[0]) {
				FAIL_ROW(c->line, c->name, "step %zu: %s", k, why);
				break;
			}
		}
		loop_free(f.loop);
		tfix_of_timer = NULL;
	}
	assert_int_equal(failures, 0);
}

static void test_timer_queue_limit(void **state)
{
	(void)state;
	struct loop *loop = loop_new();
	assert_non_null(loop);
	static struct timer_queue qs[LOOP_TIMER_QUEUES_MAX + 1];
	for (int i = 0; i < LOOP_TIMER_QUEUES_MAX; i++)
		assert_int_equal(loop_timer_queue_add(loop, &qs[i], (uint64_t)(i + 1) * 10), 0);
	errno = 0;
	assert_int_equal(loop_timer_queue_add(loop, &qs[LOOP_TIMER_QUEUES_MAX], 5), -1);
	assert_int_equal(errno, ENOSPC);
	/* The last queue that fit takes part in the next timeout. */
	struct timer t;
	timer_init(&t, NULL);
	assert_false(timer_armed(&t));
	loop->now_ms = 1000;
	loop_timer_arm(loop, &t, &qs[LOOP_TIMER_QUEUES_MAX - 1]);
	assert_true(timer_armed(&t));
	assert_int_equal(loop_next_timeout_ms(loop), LOOP_TIMER_QUEUES_MAX * 10);
	timer_disarm(&t);
	assert_false(timer_armed(&t));
	assert_int_equal(loop_next_timeout_ms(loop), -1);
	loop_free(loop);
}

/* Many timers: each arm and disarm is a constant number of pointer moves, so
 * this is quick; the queue stays sorted throughout. */
static void test_timer_many(void **state)
{
	(void)state;
	enum { N = 100000 };
	struct loop *loop = loop_new();
	assert_non_null(loop);
	struct timer_queue q;
	assert_int_equal(loop_timer_queue_add(loop, &q, 1000), 0);
	struct timer *ts = calloc(N, sizeof(*ts));
	assert_non_null(ts);
	for (int i = 0; i < N; i++) {
		timer_init(&ts[i], NULL);
		loop->now_ms = (uint64_t)i / 10;
		loop_timer_arm(loop, &ts[i], &q);
	}
	/* Re-arm every other timer later, disarm every third. */
	for (int i = 0; i < N; i += 2) {
		loop->now_ms = (uint64_t)(N / 10 + i);
		loop_timer_arm(loop, &ts[i], &q);
	}
	for (int i = 0; i < N; i += 3)
		timer_disarm(&ts[i]);
	size_t n = 0;
	uint64_t last = 0;
	for (const struct timer *t = q.head.next; t != &q.head; t = t->next, n++) {
		assert_true(t->deadline_ms >= last);
		last = t->deadline_ms;
	}
	size_t want = 0;
	for (int i = 0; i < N; i++)
		want += i % 3 != 0;
	assert_int_equal(n, want);
	free(ts);
	loop_free(loop);
}

/* ---- posted watches, driven by loop_run_posted -------------------------------- */

struct pfix {
	struct loop *loop;
	struct loop_watch w[4];      /* 'A'.. */
	int repost[4];               /* how many more times a watch posts itself */
	int post_other[4];           /* post this watch (index + 1) when run, once */
	uint32_t last_events[4];
	char log[128];
	size_t nlog;
	int iterations, stop_after;
	struct loop_watch efd;       /* an eventfd */
	bool efd_read;               /* read it when it fires */
	struct timer_queue safety_q; /* stops a loop that would hang */
	struct timer safety;
	bool safety_fired;
};

static struct pfix *pfix_of_watch;

static void log_char(struct pfix *f, char ch)
{
	if (f->nlog + 1 < sizeof(f->log))
		f->log[f->nlog++] = ch;
	f->log[f->nlog] = '\0';
}

static void on_posted(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct pfix *f = pfix_of_watch;
	int i = (int)(w - f->w);
	assert_ptr_equal(loop, f->loop);
	assert_false(w->posted); /* off the list while it runs */
	f->last_events[i] = events;
	log_char(f, (char)('A' + i));
	if (f->repost[i] > 0) {
		f->repost[i]--;
		loop_post(loop, w);
		loop_post(loop, w); /* twice: still once */
	}
	if (f->post_other[i]) {
		loop_post(loop, &f->w[f->post_other[i] - 1]);
		f->post_other[i] = 0;
	}
}

static void on_efd(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct pfix *f = pfix_of_watch;
	(void)loop;
	log_char(f, events ? 'E' : 'e'); /* 'e': called as posted */
	if (f->efd_read && events) {
		uint64_t v;
		assert_int_equal(read(w->fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	}
}

static void on_batch(void *arg)
{
	struct pfix *f = arg;
	log_char(f, '|');
	if (++f->iterations >= f->stop_after)
		loop_stop(f->loop);
}

static void on_safety(struct loop *loop, struct timer *t)
{
	(void)t;
	pfix_of_watch->safety_fired = true;
	loop_stop(loop);
}

static void pfix_init(struct pfix *f, uint64_t safety_ms)
{
	memset(f, 0, sizeof(*f));
	f->loop = loop_new();
	assert_non_null(f->loop);
	pfix_of_watch = f;
	for (int i = 0; i < 4; i++) {
		f->w[i].fd = -1;
		f->w[i].fn = on_posted;
	}
	f->efd.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(f->efd.fd >= 0);
	f->efd.fn = on_efd;
	assert_int_equal(loop_add(f->loop, &f->efd, EPOLLIN), 0);
	loop_set_batch_hook(f->loop, on_batch, f);
	f->stop_after = 1000;
	assert_int_equal(loop_timer_queue_add(f->loop, &f->safety_q, safety_ms), 0);
	timer_init(&f->safety, on_safety);
	loop_timer_arm(f->loop, &f->safety, &f->safety_q);
}

static void pfix_free(struct pfix *f)
{
	assert_int_equal(loop_del(f->loop, &f->efd), 0);
	close(f->efd.fd);
	loop_free(f->loop);
	pfix_of_watch = NULL;
}

static void efd_signal(const struct pfix *f)
{
	uint64_t one = 1;
	assert_int_equal(write(f->efd.fd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* loop_run_posted alone: one pass runs what was posted before it. */
static void test_run_posted_pass(void **state)
{
	(void)state;
	struct pfix f;
	pfix_init(&f, 1000);
	loop_run_posted(f.loop); /* nothing posted: nothing happens */
	assert_string_equal(f.log, "");
	loop_post(f.loop, &f.w[2]);
	loop_post(f.loop, &f.w[0]);
	loop_post(f.loop, &f.w[2]);
	loop_post(f.loop, &f.w[1]);
	assert_true(f.w[0].posted && f.w[1].posted && f.w[2].posted);
	assert_false(f.w[3].posted);
	f.post_other[0] = 4; /* A posts D */
	f.repost[1] = 1;     /* B posts itself once */
	loop_run_posted(f.loop);
	assert_string_equal(f.log, "CAB");
	assert_int_equal(f.last_events[0], 0);
	assert_false(f.w[0].posted || f.w[2].posted);
	assert_true(f.w[1].posted && f.w[3].posted);
	loop_run_posted(f.loop);
	assert_string_equal(f.log, "CABDB");
	loop_run_posted(f.loop);
	assert_string_equal(f.log, "CABDB");
	assert_null(f.loop->posted_head);
	assert_null(f.loop->posted_tail);
	pfix_free(&f);
}

/* ---- posted watches in a real loop (epoll, bounded iterations) ---------------- */

struct post_case {
	int line;
	const char *name;
	const char *post;      /* posted before loop_run, in this order ('E': the eventfd) */
	int repost[4];         /* A..D post themselves this many more times */
	int post_other[4];     /* A..D post this watch (1 = A) once */
	bool signal_efd;       /* the eventfd is readable at the start */
	int iterations;        /* the loop is stopped after this many */
	const char *log;       /* per iteration: what ran, then '|'; afterwards
				* nothing may be left posted */
};

static const struct post_case POST_CASES[] = {
	{ __LINE__, "FIFO order, each once", "CAB", { 0 }, { 0 }, false, 1, "CAB|" },
	{ __LINE__, "posting twice runs once", "AABA", { 0 }, { 0 }, false, 1, "AB|" },
	{ __LINE__, "a handler posting itself runs in the next iteration", "A",
	  { 3 }, { 0 }, false, 4, "A|A|A|A|" },
	{ __LINE__, "a handler posting another: next iteration, behind the rest", "AB",
	  { 0 }, { 3 }, false, 2, "AB|C|" },
	{ __LINE__, "a handler posting one already posted: it runs once", "AB",
	  { 0 }, { 2 }, false, 1, "AB|" },
	{ __LINE__, "two posters stay fair", "AB", { 2, 2 }, { 0 }, false, 3,
	  "AB|AB|AB|" },
	{ __LINE__, "the iteration's events run before what is posted", "A",
	  { 0 }, { 0 }, true, 1, "EA|" },
	{ __LINE__, "a posted descriptor's watch gets events 0", "E", { 0 }, { 0 }, false,
	  1, "e|" },
	{ __LINE__, "a readable and posted descriptor runs twice in one iteration", "E",
	  { 0 }, { 0 }, true, 1, "Ee|" },
};

static void test_post_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t r = 0; r < ARRAY_LEN(POST_CASES); r++) {
		const struct post_case *c = &POST_CASES[r];
		struct pfix f;
		pfix_init(&f, 500);
		f.efd_read = true;
		memcpy(f.repost, c->repost, sizeof(f.repost));
		memcpy(f.post_other, c->post_other, sizeof(f.post_other));
		f.stop_after = c->iterations;
		for (const char *p = c->post; *p; p++)
			loop_post(f.loop, *p == 'E' ? &f.efd : &f.w[*p - 'A']);
		if (c->signal_efd)
			efd_signal(&f);
		uint64_t t0 = mono_ms();
		int rc = loop_run(f.loop);
		uint64_t took = mono_ms() - t0;
		if (rc != 0)
			FAIL_ROW(c->line, c->name, "loop_run %d", rc);
		if (f.safety_fired)
			FAIL_ROW(c->line, c->name, "stopped by the safety timer after %llu ms, log \"%s\"",
				 (unsigned long long)took, f.log);
		else if (strcmp(f.log, c->log) != 0)
			FAIL_ROW(c->line, c->name, "log \"%s\", want \"%s\"", f.log, c->log);
		for (int i = 0; i < 4; i++)
			if (f.w[i].posted)
				FAIL_ROW(c->line, c->name, "%c still posted", 'A' + i);
		if (f.efd.posted || f.loop->posted_head || f.loop->posted_tail)
			FAIL_ROW(c->line, c->name, "something left posted");
		pfix_free(&f);
	}
	assert_int_equal(failures, 0);
}

/* While something is posted epoll_wait returns at once; with nothing posted
 * the same loop sleeps until its next timer (so the first half means
 * something). */
static void test_post_no_sleep(void **state)
{
	(void)state;
	enum { WAKEUPS = 50 };
	struct pfix f;
	/* The only timer is 1 s away: a loop that slept between posted calls
	 * would take 1 s and be stopped by it. */
	pfix_init(&f, 1000);
	f.repost[0] = WAKEUPS - 1;
	f.stop_after = WAKEUPS;
	loop_post(f.loop, &f.w[0]);
	uint64_t t0 = mono_ms();
	assert_int_equal(loop_run(f.loop), 0);
	uint64_t took = mono_ms() - t0;
	assert_false(f.safety_fired);
	assert_int_equal(f.iterations, WAKEUPS);
	assert_true(took < 500);
	pfix_free(&f);

	/* Nothing posted: the loop sleeps until the timer (60 ms). */
	pfix_init(&f, 60);
	t0 = mono_ms();
	assert_int_equal(loop_run(f.loop), 0);
	took = mono_ms() - t0;
	assert_true(f.safety_fired);
	assert_int_equal(f.iterations, 1);
	assert_true(took >= 59);
	assert_true(took < 1000);
	pfix_free(&f);
}

/* A real loop sleeps until the earliest timer and fires it; an edge seen by
 * epoll wakes it earlier. */
static void test_run_timers_and_events(void **state)
{
	(void)state;
	struct pfix f;
	pfix_init(&f, 1500);
	struct timer_queue q;
	assert_int_equal(loop_timer_queue_add(f.loop, &q, 40), 0);
	struct timer t;
	timer_init(&t, on_safety); /* stops the loop */
	loop_timer_arm(f.loop, &t, &q);
	efd_signal(&f);
	f.efd_read = true;
	uint64_t t0 = mono_ms();
	assert_int_equal(loop_run(f.loop), 0);
	uint64_t took = mono_ms() - t0;
	/* First iteration: the event; then a sleep until the 40 ms timer. */
	assert_string_equal(f.log, "E||");
	assert_true(took >= 39);
	assert_true(took < 1000);
	assert_false(timer_armed(&t));
	assert_true(timer_armed(&f.safety));
	pfix_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_scripts),
		cmocka_unit_test(test_timer_queue_limit),
		cmocka_unit_test(test_timer_many),
		cmocka_unit_test(test_run_posted_pass),
		cmocka_unit_test(test_post_table),
		cmocka_unit_test(test_post_no_sleep),
		cmocka_unit_test(test_run_timers_and_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
