/*
 * chan — the channel between the master and one worker.
 *
 * A SOCK_SEQPACKET socketpair per worker, made before the fork: each
 * message is one datagram of struct chan_msg, with descriptors attached
 * (SCM_RIGHTS) when it hands files over. Both ends are non-blocking and
 * close-on-exec; descriptors received are close-on-exec too.
 *
 *   worker -> master  CHAN_UP      set up (privileges dropped, loop ready)
 *                     CHAN_FAIL    could not start; text says why
 *                     CHAN_DONE    applied CHAN_HANDOVER number seq
 *   master -> worker  CHAN_HANDOVER  what the master (keeping root) opened
 *                     for it on SIGHUP/SIGUSR1, in this order when present:
 *                     CHAN_TLS (a sealed memfd with the key and certificate
 *                     as PEM, key_len + len: see tls_ctx_export), then
 *                     CHAN_ERROR_LOG and CHAN_ACCESS_LOG (the reopened log
 *                     files, see log_adopt)
 *                     CHAN_STOP    stop gracefully (as SIGTERM does; a master
 *                     without CAP_KILL cannot signal workers of another uid)
 *                     CHAN_RETIRE  a reload replaced us: stop accepting now
 *                     (no --drain-delay: the server is not going away), finish
 *                     the requests in flight, exit
 *
 * Errors: -1 with errno, like the syscalls underneath.
 */
#ifndef LISOD_CHAN_H
#define LISOD_CHAN_H

#include <stdint.h>

struct tls_pem;

enum chan_type { CHAN_UP = 1, CHAN_FAIL, CHAN_DONE, CHAN_HANDOVER, CHAN_STOP,
		CHAN_RETIRE };
enum { CHAN_TLS = 1, CHAN_ERROR_LOG = 2, CHAN_ACCESS_LOG = 4 };
enum { CHAN_TEXT_MAX = 400, CHAN_FDS_MAX = 3 };

struct chan_msg {
	uint32_t type;              /* enum chan_type */
	uint32_t seq;               /* CHAN_HANDOVER and the CHAN_DONE answering it */
	uint32_t what;              /* CHAN_HANDOVER: CHAN_TLS | CHAN_*_LOG */
	uint32_t pad;
	uint64_t key_len, len;      /* CHAN_TLS: the PEM's split and size */
	char text[CHAN_TEXT_MAX];   /* CHAN_FAIL: NUL-terminated reason */
};

/* sv[0] for the master, sv[1] for the worker. */
int chan_pair(int sv[2]);
/* Send one message with nfds (<= CHAN_FDS_MAX) descriptors (still ours). */
int chan_send(int fd, const struct chan_msg *m, const int *fds, unsigned nfds);
/* Receive one message: 1, 0 at EOF (the other side is gone), -1 with errno
 * (EAGAIN: nothing yet; EBADMSG: malformed, its descriptors closed).
 * fds gets up to CHAN_FDS_MAX descriptors, *nfds their number; they are
 * the caller's. */
int chan_recv(int fd, struct chan_msg *m, int *fds, unsigned *nfds);

/* A sealed memfd holding pem (close it after sending), or -1. */
int chan_pem_memfd(const struct tls_pem *pem);
/* Read back what chan_pem_memfd() wrote (len bytes, key first); 0 or -1.
 * Free with tls_pem_free(). */
int chan_pem_read(int fd, uint64_t key_len, uint64_t len, struct tls_pem *pem);

#endif
