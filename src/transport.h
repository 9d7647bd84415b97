/*
 * transport — byte I/O on a connection, over a plain socket or TLS.
 *
 * The HTTP layer calls only these functions and sees one vocabulary,
 * enum io_result: EINTR is retried here, EAGAIN and TLS's WANT_READ /
 * WANT_WRITE become IO_AGAIN (with t->want_write telling which direction
 * the transport waits for), orderly end of stream is IO_EOF, everything
 * else IO_ERROR (errno kept for the log). Writes never raise SIGPIPE.
 */
#ifndef LISOD_TRANSPORT_H
#define LISOD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

enum io_result { IO_OK, IO_AGAIN, IO_EOF, IO_ERROR };

struct transport;

struct transport_ops {
	bool secure;        /* TLS: starts with a handshake, reads one record at a time */
	enum io_result (*read)(struct transport *t, void *buf, size_t len, size_t *n);
	/* more: a file body follows at once (MSG_MORE: one packet for both). */
	enum io_result (*writev)(struct transport *t, const struct iovec *iov, int iovcnt,
				 bool more, size_t *n);
	/* Send up to len bytes of file fd from *off; advances *off. */
	enum io_result (*sendfile)(struct transport *t, int fd, off_t *off, size_t len,
				   size_t *n);
	/* Progress the handshake: IO_OK when done. */
	enum io_result (*handshake)(struct transport *t);
	/* Start an orderly close (close_notify / FIN). IO_OK when sent. */
	enum io_result (*shutdown)(struct transport *t);
	void (*free)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
	int fd;
	void *impl;         /* the implementation's state (TLS: the SSL), or NULL */
	bool want_write;    /* on IO_AGAIN: waiting for writability, not readability */
	bool handshake_done;
	/* TLS, after a read's IO_OK: nothing is left, neither decrypted nor
	 * in the socket (whose last read came back short), so the next read
	 * would be EAGAIN until the next edge. A plain read tells the same by
	 * returning fewer bytes than asked. */
	bool drained;
};

extern const struct transport_ops transport_plain_ops;

/* Set t up to use ops (with its state impl) on fd. */
static inline void transport_init(struct transport *t, const struct transport_ops *ops, int fd,
				  void *impl)
{
	t->ops = ops;
	t->fd = fd;
	t->impl = impl;
	t->want_write = false;
	t->handshake_done = !ops->secure;
	t->drained = false;
}

#endif
