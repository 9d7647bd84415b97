/*
 * chan — master <-> worker messages over a socketpair. See chan.h.
 */
#include "chan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls.h"

enum { CHAN_PEM_MAX = 16 << 20 };

int chan_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
}

int chan_send(int fd, const struct chan_msg *m, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CHAN_FDS_MAX)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > CHAN_FDS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (nfds) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t n;
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n != (ssize_t)sizeof(*m)) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int chan_recv(int fd, struct chan_msg *m, int *fds, unsigned *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CHAN_FDS_MAX)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	*nfds = 0;
	ssize_t n;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < CHAN_FDS_MAX)
				fds[(*nfds)++] = got;
			else
				close(got);
		}
	}
	if (n != (ssize_t)sizeof(*m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (unsigned i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		errno = EBADMSG;
		return -1;
	}
	m->text[CHAN_TEXT_MAX - 1] = '\0';
	return 1;
}

int chan_pem_memfd(const struct tls_pem *pem)
{
	int fd = memfd_create("lisod-tls", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < pem->len) {
		ssize_t n = write(fd, pem->data + off, pem->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	/* Nobody can change it now, not even a worker that holds it. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		goto fail;
	return fd;
fail:;
	int saved = errno;
	close(fd);
	errno = saved ? saved : EIO;
	return -1;
}

int chan_pem_read(int fd, uint64_t key_len, uint64_t len, struct tls_pem *pem)
{
	memset(pem, 0, sizeof(*pem));
	struct stat st;
	if (len == 0 || len > CHAN_PEM_MAX || key_len >= len || fstat(fd, &st) < 0 ||
	    (uint64_t)st.st_size != len) {
		errno = EBADMSG;
		return -1;
	}
	pem->data = malloc((size_t)len);
	if (!pem->data)
		return -1;
	pem->len = (size_t)len;
	pem->key_len = (size_t)key_len;
	size_t off = 0;
	while (off < pem->len) {
		ssize_t n = pread(fd, pem->data + off, pem->len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			tls_pem_free(pem);
			errno = EIO;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}
