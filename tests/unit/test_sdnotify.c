/*
 * Unit tests for sdnotify.c: which $NOTIFY_SOCKET values are used (absolute
 * paths and @abstract names up to the exact sun_path limit), which are
 * refused with a message, that the variable is always removed, and the
 * exact datagrams sent to a socket of ours (path and abstract).
 *
 * Every table row carries its __LINE__; a failing row prints it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sdnotify.h"

#define FAIL_ROW(line, ...)                                                    \
	do {                                                                   \
		print_error("test_sdnotify.c:%d: ", (line));                   \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

enum { SUN_PATH = sizeof(((struct sockaddr_un *)0)->sun_path) };

/* A value of n characters: first, then 'x's. */
static char *value(char first, size_t n)
{
	char *v = malloc(n + 1);
	assert_non_null(v);
	memset(v, 'x', n);
	v[0] = first;
	v[n] = '\0';
	return v;
}

struct init_case {
	int line;
	char first;     /* '/', '@' or another byte; 0: the variable is unset */
	size_t len;
	int rc;
	bool on;
};

static const struct init_case INIT_CASES[] = {
	{ __LINE__, 0, 0, 0, false },
	{ __LINE__, '/', 1, 0, true },                 /* "/" */
	{ __LINE__, '/', SUN_PATH - 1, 0, true },      /* its NUL is the last byte */
	{ __LINE__, '/', SUN_PATH, -1, false },        /* no room for the NUL */
	{ __LINE__, '@', 1, -1, false },               /* "@": no name */
	{ __LINE__, '@', 2, 0, true },
	{ __LINE__, '@', SUN_PATH, 0, true },          /* abstract: no NUL needed */
	{ __LINE__, '@', SUN_PATH + 1, -1, false },
	{ __LINE__, 'r', 10, -1, false },              /* relative */
	{ __LINE__, 'v', 12, -1, false },              /* "vsock:..." and the like */
};

static void test_init_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(INIT_CASES) / sizeof(INIT_CASES[0]); i++) {
		const struct init_case *c = &INIT_CASES[i];
		char *v = NULL;
		if (c->first) {
			v = value(c->first, c->len);
			setenv("NOTIFY_SOCKET", v, 1);
		} else {
			unsetenv("NOTIFY_SOCKET");
		}
		struct sdnotify n;
		char err[256] = "";
		int rc = sdnotify_init(&n, err, sizeof(err));
		if (rc != c->rc || n.on != c->on)
			FAIL_ROW(c->line, "rc %d on %d, want %d %d (%s)", rc, n.on, c->rc, c->on, err);
		if (rc < 0 && !strstr(err, "NOTIFY_SOCKET"))
			FAIL_ROW(c->line, "the message does not name NOTIFY_SOCKET: %s", err);
		if (getenv("NOTIFY_SOCKET"))
			FAIL_ROW(c->line, "NOTIFY_SOCKET still set");
		if (n.on) {
			size_t want = offsetof(struct sockaddr_un, sun_path) + c->len +
				      (c->first == '@' ? 0 : 1);
			if (n.addr_len != want)
				FAIL_ROW(c->line, "addr_len %u, want %zu", (unsigned)n.addr_len, want);
			if (c->first == '@' && n.addr.sun_path[0] != '\0')
				FAIL_ROW(c->line, "abstract name without its leading NUL");
			if (c->first == '/' && memcmp(n.addr.sun_path, v, c->len) != 0)
				FAIL_ROW(c->line, "path not copied");
		}
		free(v);
	}
	assert_int_equal(failures, 0);
}

/* A datagram socket of ours at a path or an abstract name; NOTIFY_SOCKET set. */
static int listener(bool abstract, char *name, size_t cap)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len;
	if (abstract) {
		snprintf(name, cap, "@lisod-unit-%ld-%ld", (long)getpid(), (long)time(NULL));
		memcpy(a.sun_path, name, strlen(name));
		a.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	} else {
		snprintf(name, cap, "/tmp/lisod-unit-notify-%ld", (long)getpid());
		unlink(name);
		memcpy(a.sun_path, name, strlen(name) + 1);
		len = sizeof(a);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	return fd;
}

static void expect(int fd, const char *want_prefix, const char *want_suffix)
{
	char buf[2048];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_memory_equal(buf, want_prefix, strlen(want_prefix));
	if (want_suffix) {
		assert_true(strlen(buf) >= strlen(want_suffix));
		assert_string_equal(buf + strlen(buf) - strlen(want_suffix), want_suffix);
	}
}

static void run_messages(bool abstract)
{
	char name[128];
	int fd = listener(abstract, name, sizeof(name));
	struct sdnotify n;
	char err[256];
	assert_int_equal(sdnotify_init(&n, err, sizeof(err)), 0);
	assert_true(n.on);
	assert_int_equal(sdnotify_ready(&n, "serving on 80; 1 worker"), 0);
	expect(fd, "READY=1\nSTATUS=serving on 80; 1 worker", "worker");
	n.main_pid = true;
	assert_int_equal(sdnotify_ready(&n, "s"), 0);
	char want[64];
	snprintf(want, sizeof(want), "READY=1\nSTATUS=s\nMAINPID=%ld", (long)getpid());
	expect(fd, want, want);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long long before = (unsigned long long)ts.tv_sec * 1000000u +
				    (unsigned long long)ts.tv_nsec / 1000u;
	assert_int_equal(sdnotify_reloading(&n), 0);
	char buf[256];
	ssize_t got = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(got > 0);
	buf[got] = '\0';
	unsigned long long usec = 0;
	assert_int_equal(sscanf(buf, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu", &usec), 1);
	assert_true(usec >= before && usec < before + 5000000u);
	assert_int_equal(sdnotify_stopping(&n), 0);
	expect(fd, "STOPPING=1\nSTATUS=stopping", "STOPPING=1\nSTATUS=stopping");
	/* Off or NULL: nothing sent, success. */
	assert_int_equal(sdnotify_ready(NULL, "x"), 0);
	n.on = false;
	assert_int_equal(sdnotify_stopping(&n), 0);
	assert_true(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0);
	close(fd);
	if (!abstract)
		unlink(name);
}

static void test_messages_path(void **state)
{
	(void)state;
	run_messages(false);
}

static void test_messages_abstract(void **state)
{
	(void)state;
	run_messages(true);
}

static void test_nobody_listening(void **state)
{
	(void)state;
	setenv("NOTIFY_SOCKET", "/nonexistent/lisod-notify", 1);
	struct sdnotify n;
	char err[256];
	assert_int_equal(sdnotify_init(&n, err, sizeof(err)), 0);
	assert_int_equal(sdnotify_ready(&n, "x"), -1); /* reported, for a log line */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_table),
		cmocka_unit_test(test_messages_path),
		cmocka_unit_test(test_messages_abstract),
		cmocka_unit_test(test_nobody_listening),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
