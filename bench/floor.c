/* floor: the least a web server can do, as a benchmark baseline.
 * One epoll loop on 127.0.0.1:PORT; every "\r\n\r\n" seen on a connection is
 * answered with the same in-memory HTTP/1.1 200 response (1 KiB body).
 * Keep-alive always, except that an HTTP/1.0 request without "Keep-Alive" gets
 * the connection closed after its answer (so that ab without -k works).
 * No other parsing, no files, no timeouts; a short write closes the connection.
 * Build: cc -O2 -o floor floor.c       Run: floor PORT */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAXFD = 1 << 20, BODY = 1024 };
static unsigned char matched[MAXFD]; /* bytes of "\r\n\r\n" matched so far, per fd */
static char resp[512 + BODY];
static size_t resp_len;

static void drop(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	matched[fd] = 0;
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: floor PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nServer: floor\r\n"
			 "Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n", BODY);
	memset(resp + n, 'x', BODY);
	resp_len = (size_t)n + BODY;

	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4096) < 0) {
		perror("floor: bind/listen");
		return 1;
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls }, evs[256];
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	static char in[16384];
	for (;;) {
		int k = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < k; i++) {
			int fd = evs[i].data.fd;
			if (fd == ls) {
				int c;
				while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					if (c >= MAXFD) { close(c); continue; }
					struct epoll_event ce = { .events = EPOLLIN, .data.fd = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
				}
				continue;
			}
			ssize_t r = read(fd, in, sizeof(in));
			if (r <= 0) { drop(ep, fd); continue; }
			int reqs = 0;
			unsigned m = matched[fd];
			for (ssize_t j = 0; j < r; j++) { /* count "\r\n\r\n" across reads */
				char want = (m & 1) ? '\n' : '\r';
				m = in[j] == want ? m + 1 : (in[j] == '\r' ? 1 : 0);
				if (m == 4) { reqs++; m = 0; }
			}
			matched[fd] = (unsigned char)m;
			int close_after = memmem(in, (size_t)r, " HTTP/1.0\r\n", 11) &&
					  !memmem(in, (size_t)r, "eep-Alive", 9) &&
					  !memmem(in, (size_t)r, "eep-alive", 9);
			int ok = 1, answered = reqs > 0;
			for (; reqs > 0 && ok; reqs--)
				ok = write(fd, resp, resp_len) == (ssize_t)resp_len;
			if (!ok || (close_after && answered))
				drop(ep, fd);
		}
	}
}
