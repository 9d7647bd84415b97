/*
 * tls — TLS with OpenSSL 3 on the event loop.
 *
 * A tls_ctx is the server's key, certificate and settings: TLS 1.2 and 1.3
 * only, OpenSSL's default (modern) ciphers, ALPN "http/1.1", session
 * tickets for resumption. With no key/certificate given it makes a
 * throw-away self-signed certificate for "localhost" in memory.
 *
 * tls_transport_ops is the TLS implementation of the transport interface
 * (transport.h): non-blocking throughout, SSL_ERROR_WANT_*
 * mapped to IO_AGAIN with t->want_write saying which direction unblocks it.
 * Each SSL holds a reference to the ctx it was made from, so swapping the
 * ctx (SIGHUP reload) never disturbs live connections.
 */
#ifndef LISOD_TLS_H
#define LISOD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "transport.h"

struct tls_ctx;

/* key/cert NULL: self-signed in memory (*self_signed set). NULL on error
 * with a message (OpenSSL's reason included) in err. */
struct tls_ctx *tls_ctx_new(const char *key_path, const char *cert_path, bool *self_signed,
			    char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx);

/* A new context from the files (SIGHUP), keeping old's session-ticket keys:
 * every worker forked from one context shares them, so tickets keep
 * resuming on any worker across reloads. NULL with err set on failure. */
struct tls_ctx *tls_ctx_reload(const struct tls_ctx *old, const char *key_path,
			       const char *cert_path, bool *self_signed, char *err,
			       size_t errlen);

/* Give ctx old's session-ticket keys (a reload with -c: tickets issued
 * before it keep resuming; tickets are sealed with the keys of the context
 * a session starts on, the default site's, whatever SNI switches to).
 * 0, or -1 with err set. */
int tls_ctx_keep_tickets(struct tls_ctx *ctx, const struct tls_ctx *old, char *err,
			 size_t errlen);
/* A context's key (unencrypted) and certificate chain as PEM, one buffer:
 * data[0 .. key_len) is the key, data[key_len .. len) the leaf certificate
 * and its chain. It is how a privileged master hands what it read to
 * workers that cannot read the files (docs/design.md). */
struct tls_pem {
	char *data;
	size_t key_len, len;
};
/* 0, or -1 with err set. Free with tls_pem_free(), which wipes it. */
int tls_ctx_export(const struct tls_ctx *ctx, struct tls_pem *pem, char *err, size_t errlen);
void tls_pem_free(struct tls_pem *pem);
/* A new context from tls_ctx_export()'s PEM, with old's session-ticket keys
 * (old NULL: fresh ones). NULL with err set. */
struct tls_ctx *tls_ctx_from_pem(const struct tls_ctx *old, const struct tls_pem *pem,
				 char *err, size_t errlen);

/* Certificates by server name (SNI). In the client-hello's servername
 * callback of base, pick(arg, name) is asked which site the name belongs
 * to (name NULL: the client sent none); a site s >= 0 switches the session
 * to site_ctx(arg, s), -1 keeps base's certificate (the default site's).
 * Both run inside the handshake: they must not block or allocate. */
struct tls_sni {
	int (*pick)(void *arg, const char *name);
	struct tls_ctx *(*site_ctx)(void *arg, int site);
	void *arg;
};
void tls_ctx_set_sni(struct tls_ctx *base, const struct tls_sni *sni);
/* The site the handshake's server name chose, or -1 (none, or unknown). */
int tls_session_site(const void *impl);
/* The handshake agreed on "h2" by ALPN. */
bool tls_session_h2(const void *impl);

/* The TLS implementation of the transport interface; its state (impl) is
 * the SSL of tls_session_new(). */
extern const struct transport_ops tls_transport_ops;

/* A server-side TLS session on fd, for transport_init(&tls_transport_ops);
 * offer_h2: ALPN offers "h2" before "http/1.1". NULL: out of memory. */
void *tls_session_new(struct tls_ctx *ctx, int fd, bool offer_h2);
/* Give back the session's record buffers (about 34 KiB) while it is
 * quiet; OpenSSL allocates them again on its next read or write. Kept
 * when they still hold bytes. */
void tls_session_release_buffers(void *impl);


#endif
