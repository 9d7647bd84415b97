#include "transport.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

static enum io_result plain_read(struct transport *t, void *buf, size_t len, size_t *n)
{
	*n = 0;
	for (;;) {
		ssize_t r = recv(t->fd, buf, len, 0);
		if (r > 0) {
			*n = (size_t)r;
			return IO_OK;
		}
		if (r == 0)
			return IO_EOF;
		if (errno == EINTR)
			continue;
		t->want_write = false;
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? IO_AGAIN : IO_ERROR;
	}
}

static enum io_result plain_writev(struct transport *t, const struct iovec *iov, int iovcnt,
				   bool more, size_t *n)
{
	*n = 0;
	/* sendmsg with MSG_NOSIGNAL: a reset peer is EPIPE, never SIGPIPE. */
	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	for (;;) {
		ssize_t r = sendmsg(t->fd, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if (r >= 0) {
			*n = (size_t)r;
			return IO_OK;
		}
		if (errno == EINTR)
			continue;
		t->want_write = true;
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? IO_AGAIN : IO_ERROR;
	}
}

static enum io_result plain_sendfile(struct transport *t, int fd, off_t *off, size_t len,
				     size_t *n)
{
	*n = 0;
	for (;;) {
		ssize_t r = sendfile(t->fd, fd, off, len);
		if (r > 0) {
			*n = (size_t)r;
			return IO_OK;
		}
		if (r == 0)
			return IO_ERROR; /* the file shrank under us */
		if (errno == EINTR)
			continue;
		t->want_write = true;
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? IO_AGAIN : IO_ERROR;
	}
}

static enum io_result plain_handshake(struct transport *t)
{
	(void)t;
	return IO_OK;
}

static enum io_result plain_shutdown(struct transport *t)
{
	return shutdown(t->fd, SHUT_WR) == 0 || errno == ENOTCONN ? IO_OK : IO_ERROR;
}

static void plain_free(struct transport *t)
{
	(void)t;
}

const struct transport_ops transport_plain_ops = {
	.secure = false,
	.read = plain_read,
	.writev = plain_writev,
	.sendfile = plain_sendfile,
	.handshake = plain_handshake,
	.shutdown = plain_shutdown,
	.free = plain_free,
};
