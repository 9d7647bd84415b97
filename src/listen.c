#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

enum { LISTEN_BACKLOG = 4096, ACCEPTS_PER_EVENT = 128 };

static int parse_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	if (!addr || strcmp(addr, "::") == 0 || strcmp(addr, "*") == 0) {
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	const char *a = addr;
	char tmp[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(addr);
	if (n > 2 && addr[0] == '[' && addr[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, addr + 1, n - 2);
		tmp[n - 2] = '\0';
		a = tmp;
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}

/* A socket bound to addr:port with our options, not yet listening. */
static int listen_bound(const char *addr, uint16_t port, bool reuseport, char *err,
			size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *shown = addr ? addr : "*";
	if (parse_addr(addr, port, &ss, &sslen) < 0) {
		snprintf(err, errlen, "invalid listen address '%s'", shown);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && ss.ss_family == AF_INET6 && !addr && errno == EAFNOSUPPORT) {
		/* No IPv6 on this host: fall back to IPv4 any. */
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		memset(&ss, 0, sizeof(ss));
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sslen = sizeof(*s4);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1, zero = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail_errno;
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail_errno;
	if (ss.ss_family == AF_INET6 && !addr &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail_errno;
	/* TCP_NODELAY, inherited by every accepted socket: every response
	 * leaves in as few writes as we can make it (a head followed by a file
	 * goes with MSG_MORE), so Nagle could only hold back the last small
	 * write of a sequence — a TLS handshake flight, the next pipelined
	 * answer — until the client's delayed ACK, 40 ms later (measured:
	 * 22 TLS 1.2 handshakes/s instead of ~1000). */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto fail_errno;
	/* TCP_DEFER_ACCEPT: a connection is handed to accept() only once its
	 * first bytes are in (or after about a second of silence), so accept,
	 * read and answer happen in one wakeup; every client of ours speaks
	 * first (a request, a ClientHello, a PROXY header, echo input). One
	 * HTTP/1.0 request per connection (bench (c)): 28 µs of server CPU
	 * without it, 20.5 with it. A connection that never sends is kept by
	 * the kernel, not by a worker, until the second is up. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one)) < 0)
		goto fail_errno;
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
		snprintf(err, errlen, "cannot bind %s port %u: %s", shown, port, strerror(errno));
		goto fail;
	}
	return fd;
fail_errno:
	snprintf(err, errlen, "listening socket on port %u: %s", port, strerror(errno));
fail:;
	int saved = errno; /* -t tells EADDRINUSE from the rest */
	close(fd);
	errno = saved;
	return -1;
}

int listen_open(const char *addr, uint16_t port, bool reuseport, char *err, size_t errlen)
{
	int fd = listen_bound(addr, port, reuseport, err, errlen);
	if (fd < 0)
		return -1;
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		snprintf(err, errlen, "listening socket on port %u: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int listen_check(const char *addr, uint16_t port, char *err, size_t errlen)
{
	int fd = listen_bound(addr, port, false, err, errlen);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int listen_watch(struct loop *loop, struct listener *l)
{
	return loop_add_level(loop, &l->watch, EPOLLIN | (l->shared ? EPOLLEXCLUSIVE : 0));
}

int listen_reserve_init(struct listen_reserve *r, struct log *log)
{
	r->log = log;
	r->shed = r->last_log_ms = 0;
	r->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return r->fd < 0 ? -1 : 0;
}

void listen_reserve_fini(struct listen_reserve *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/*
 * Out of descriptors: the pending connection would make the listener
 * readable forever (level-triggered) and spin the loop. Spend the reserve
 * descriptor to accept it and close it at once, so the client gets a clean
 * close instead of hanging, then take the reserve back.
 */
static void listen_shed(struct loop *loop, struct listen_reserve *r, int lfd)
{
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	r->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	r->shed++;
	if (loop_now_ms(loop) - r->last_log_ms >= 1000) {
		r->last_log_ms = loop_now_ms(loop);
		log_err(r->log, "out of file descriptors: shed %llu connection(s) so far",
			(unsigned long long)r->shed);
	}
}

/*
 * A socket shared by several workers is watched with EPOLLEXCLUSIVE: a new
 * connection wakes one worker waiting in epoll_wait, not all of them. But
 * the kernel tries the waiters in the order they were registered, so the
 * first worker that is idle takes every connection under light load. A
 * worker that has just accepted therefore registers again, which puts it
 * at the back of the socket's wait queue: idle workers take turns.
 */
static void listen_requeue(struct loop *loop, struct listener *l)
{
	if (loop_del(loop, &l->watch) == 0 && listen_watch(loop, l) == 0)
		return;
	log_err(l->reserve->log, "re-registering the listener on port %u: %s", l->port,
		strerror(errno));
	/* Never lose the listener: without EPOLLEXCLUSIVE it still works. */
	if (loop_add_level(loop, &l->watch, EPOLLIN) == 0)
		l->shared = false;
}

void listen_on_ready(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	(void)events;
	struct listener *l = container_of(watch, struct listener, watch);
	int accepted = 0;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(watch->fd, (struct sockaddr *)&peer, &plen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				listen_shed(loop, l->reserve, watch->fd);
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_err(l->reserve->log, "accept on port %u: %s", l->port,
					strerror(errno));
			break;
		}
		accepted++;
		l->on_accept(l, fd, &peer, plen);
	}
	if (l->shared && accepted > 0)
		listen_requeue(loop, l);
}
