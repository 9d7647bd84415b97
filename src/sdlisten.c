/*
 * sdlisten — adopting the listeners systemd hands over. See sdlisten.h.
 */
#include "sdlisten.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_count(const char *s, unsigned long *out)
{
	if (!s || !*s || strlen(s) > 9)
		return -1;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	*out = strtoul(s, NULL, 10);
	return 0;
}

static void unset_all(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

/* The i-th name of "a:b:c" into out (empty if there are fewer). */
static void nth_name(const char *names, unsigned i, char *out, size_t cap)
{
	out[0] = '\0';
	if (!names)
		return;
	const char *p = names;
	for (unsigned k = 0; k < i; k++) {
		p = strchr(p, ':');
		if (!p)
			return;
		p++;
	}
	size_t len = strcspn(p, ":");
	if (len >= cap)
		len = cap - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

static int check_socket(int fd, uint16_t *port, char *why, size_t cap)
{
	struct stat st;
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);
	if (fstat(fd, &st) < 0) {
		snprintf(why, cap, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, cap, "not a socket");
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
		snprintf(why, cap, "not a stream socket");
		return -1;
	}
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
		snprintf(why, cap, "not a listening socket");
		return -1;
	}
	struct sockaddr_storage ss;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(why, cap, "getsockname: %s", strerror(errno));
		return -1;
	}
	if (ss.ss_family == AF_INET)
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else {
		snprintf(why, cap, "not a TCP socket (IPv4 or IPv6)");
		return -1;
	}
	return 0;
}

static int set_flags(int fd)
{
	/* As on our own listeners (listen.c): every accepted socket inherits
	 * TCP_NODELAY, and accept waits for the first bytes (TCP_DEFER_ACCEPT),
	 * whatever the .socket unit said (NoDelay=, DeferAcceptSec=). */
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one)) < 0)
		return -1;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	int fdfl = fcntl(fd, F_GETFD);
	if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

int sdlisten_adopt(struct sdlisten *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	unsigned long pid, n;
	int rc = 0;
	if (!fds_s)
		goto out;
	if (!pid_s || parse_count(pid_s, &pid) < 0 || pid != (unsigned long)getpid()) {
		s->ignored = true; /* meant for another process */
		goto out;
	}
	if (parse_count(fds_s, &n) < 0) {
		snprintf(err, errlen, "socket activation: invalid LISTEN_FDS '%.40s'", fds_s);
		rc = -1;
		goto out;
	}
	if (n > SDLISTEN_MAX) {
		snprintf(err, errlen, "socket activation: %lu sockets handed over, at most %d "
			 "supported", n, SDLISTEN_MAX);
		rc = -1;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		struct sdlisten_socket *sock = &s->sockets[i];
		char name[64], why[128];
		sock->fd = SDLISTEN_FD_START + (int)i;
		nth_name(names, i, name, sizeof(name));
		if (strcmp(name, "http") == 0) {
			s->http = true;
		} else if (strcmp(name, "https") == 0) {
			sock->tls = true;
			s->https = true;
		} else {
			if (name[0])
				snprintf(err, errlen, "socket activation: fd %d is named '%s'; "
					 "name each socket http or https (FileDescriptorName=)",
					 sock->fd, name);
			else
				snprintf(err, errlen, "socket activation: fd %d has no name; "
					 "name each socket http or https (FileDescriptorName=)",
					 sock->fd);
			rc = -1;
			goto out;
		}
		if (check_socket(sock->fd, &sock->port, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "socket activation: fd %d (%s): %s", sock->fd, name,
				 why);
			rc = -1;
			goto out;
		}
		if (set_flags(sock->fd) < 0) {
			snprintf(err, errlen, "socket activation: fd %d (%s): %s", sock->fd,
				 name, strerror(errno));
			rc = -1;
			goto out;
		}
		s->count++;
	}
out:
	unset_all();
	if (rc < 0)
		s->count = 0;
	return rc;
}
