/*
 * Unit tests for sdlisten.c: a table of LISTEN_PID / LISTEN_FDS /
 * LISTEN_FDNAMES settings over real sockets placed at descriptors 3 and 4
 * -> the sockets adopted (kind, port, flags) or the exact message; the
 * variables are gone afterwards whatever they held.
 *
 * Every table row carries its __LINE__; a failing row prints it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sdlisten.h"

#define FAIL_ROW(line, ...)                                                    \
	do {                                                                   \
		print_error("test_sdlisten.c:%d: ", (line));                   \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

enum sock_kind { S_NONE, S_TCP4, S_TCP6, S_BOUND, S_UDP };

struct act_case {
	int line;
	const char *pid;       /* "self", another value, or NULL: unset */
	const char *fds;       /* LISTEN_FDS, NULL: unset */
	const char *names;     /* LISTEN_FDNAMES, NULL: unset */
	enum sock_kind at3, at4;
	int rc;
	unsigned count;
	const char *kinds;     /* "h" http, "s" https, per adopted socket */
	bool ignored;
	const char *err;       /* the exact message when rc is -1 */
};

static const struct act_case CASES[] = {
	{ __LINE__, NULL, NULL, NULL, S_NONE, S_NONE, 0, 0, "", false, NULL },
	{ __LINE__, "self", "0", "", S_NONE, S_NONE, 0, 0, "", false, NULL },
	{ __LINE__, "1", "1", "http", S_TCP4, S_NONE, 0, 0, "", true, NULL },
	{ __LINE__, NULL, "1", "http", S_TCP4, S_NONE, 0, 0, "", true, NULL },
	{ __LINE__, "self", "1", "http", S_TCP4, S_NONE, 0, 1, "h", false, NULL },
	{ __LINE__, "self", "1", "https", S_TCP6, S_NONE, 0, 1, "s", false, NULL },
	{ __LINE__, "self", "2", "http:https", S_TCP4, S_TCP6, 0, 2, "hs", false, NULL },
	{ __LINE__, "self", "2", "https:http", S_TCP4, S_TCP4, 0, 2, "sh", false, NULL },
	{ __LINE__, "self", "2", "http:http", S_TCP4, S_TCP6, 0, 2, "hh", false, NULL },
	{ __LINE__, "self", "x", "http", S_TCP4, S_NONE, -1, 0, "", false,
	  "socket activation: invalid LISTEN_FDS 'x'" },
	{ __LINE__, "self", "-1", "http", S_TCP4, S_NONE, -1, 0, "", false,
	  "socket activation: invalid LISTEN_FDS '-1'" },
	{ __LINE__, "self", "5", "http", S_TCP4, S_NONE, -1, 0, "", false,
	  "socket activation: 5 sockets handed over, at most 4 supported" },
	{ __LINE__, "self", "1", NULL, S_TCP4, S_NONE, -1, 0, "", false,
	  "socket activation: fd 3 has no name; name each socket http or https "
	  "(FileDescriptorName=)" },
	{ __LINE__, "self", "2", "http", S_TCP4, S_TCP4, -1, 0, "", false,
	  "socket activation: fd 4 has no name; name each socket http or https "
	  "(FileDescriptorName=)" },
	{ __LINE__, "self", "2", "http::https", S_TCP4, S_TCP4, -1, 0, "", false,
	  "socket activation: fd 4 has no name; name each socket http or https "
	  "(FileDescriptorName=)" },
	{ __LINE__, "self", "1", "lisod.socket", S_TCP4, S_NONE, -1, 0, "", false,
	  "socket activation: fd 3 is named 'lisod.socket'; name each socket http or https "
	  "(FileDescriptorName=)" },
	{ __LINE__, "self", "1", "http", S_BOUND, S_NONE, -1, 0, "", false,
	  "socket activation: fd 3 (http): not a listening socket" },
	{ __LINE__, "self", "1", "https", S_UDP, S_NONE, -1, 0, "", false,
	  "socket activation: fd 3 (https): not a stream socket" },
	{ __LINE__, "self", "2", "http:https", S_TCP4, S_NONE, -1, 0, "", false,
	  "socket activation: fd 4 (https): Bad file descriptor" },
};

/* A socket of the kind at descriptor `at` (its port in *port), or `at`
 * closed. */
static void place(enum sock_kind kind, int at, uint16_t *port)
{
	close(at);
	*port = 0;
	if (kind == S_NONE)
		return;
	bool v6 = kind == S_TCP6;
	int fd = socket(v6 ? AF_INET6 : AF_INET, kind == S_UDP ? SOCK_DGRAM : SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	if (kind == S_TCP4 || kind == S_TCP6)
		assert_int_equal(listen(fd, 8), 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			 : ((struct sockaddr_in *)&ss)->sin_port);
	if (fd != at) {
		assert_int_equal(dup2(fd, at), at); /* no close-on-exec, as systemd passes it */
		close(fd);
	}
}

static void set_or_unset(const char *name, const char *v)
{
	if (v)
		setenv(name, v, 1);
	else
		unsetenv(name);
}

static void test_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
		const struct act_case *c = &CASES[i];
		uint16_t ports[2];
		place(c->at3, 3, &ports[0]);
		place(c->at4, 4, &ports[1]);
		char pid[32];
		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		set_or_unset("LISTEN_PID", c->pid && strcmp(c->pid, "self") == 0 ? pid : c->pid);
		set_or_unset("LISTEN_FDS", c->fds);
		set_or_unset("LISTEN_FDNAMES", c->names);
		struct sdlisten s;
		char err[256] = "";
		int rc = sdlisten_adopt(&s, err, sizeof(err));
		if (rc != c->rc || s.count != c->count || s.ignored != c->ignored)
			FAIL_ROW(c->line, "rc %d count %u ignored %d, want %d %u %d (%s)", rc, s.count,
				 s.ignored, c->rc, c->count, c->ignored, err);
		if (c->err && strcmp(err, c->err) != 0)
			FAIL_ROW(c->line, "message \"%s\", want \"%s\"", err, c->err);
		if (getenv("LISTEN_PID") || getenv("LISTEN_FDS") || getenv("LISTEN_FDNAMES"))
			FAIL_ROW(c->line, "LISTEN_* still set");
		for (unsigned k = 0; rc == 0 && k < s.count && k < 2; k++) {
			const struct sdlisten_socket *sk = &s.sockets[k];
			bool tls = c->kinds[k] == 's';
			int one = 0;
			socklen_t len = sizeof(one);
			if (sk->fd != 3 + (int)k || sk->tls != tls || sk->port != ports[k])
				FAIL_ROW(c->line, "socket %u: fd %d tls %d port %u", k, sk->fd, sk->tls,
					 sk->port);
			if (!(fcntl(sk->fd, F_GETFL) & O_NONBLOCK) ||
			    !(fcntl(sk->fd, F_GETFD) & FD_CLOEXEC))
				FAIL_ROW(c->line, "fd %d is not non-blocking and close-on-exec", sk->fd);
			if (getsockopt(sk->fd, IPPROTO_TCP, TCP_NODELAY, &one, &len) < 0 || !one)
				FAIL_ROW(c->line, "fd %d has no TCP_NODELAY", sk->fd);
		}
		if (rc == 0 && ((strchr(c->kinds, 'h') != NULL) != s.http ||
				(strchr(c->kinds, 's') != NULL) != s.https))
			FAIL_ROW(c->line, "http %d https %d", s.http, s.https);
	}
	close(3);
	close(4);
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
