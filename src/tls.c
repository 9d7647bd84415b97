#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

enum { TLS_SENDFILE_CHUNK = 16 * 1024, TLS_SELF_SIGNED_DAYS = 365 };

struct tls_ctx {
	SSL_CTX *ssl;
};

static void tls_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char reason[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	else if (errno)
		snprintf(reason, sizeof(reason), "%s", strerror(errno));
	snprintf(err, errlen, "%s: %s", what, reason);
	ERR_clear_error();
}

/* SSL app data: bit 0 "offer h2" (tls_session_new), the rest the site
 * chosen by SNI + 1 (0: none chosen). */
static uintptr_t app_bits(const SSL *ssl)
{
	return (uintptr_t)SSL_get_app_data(ssl);
}

/* ALPN (RFC 7301): h2 first where HTTP/2 is on, http/1.1 always; a client
 * that offers neither goes on without ALPN (HTTP/1.1). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)arg;
	static const unsigned char with_h2[] = "\x02h2\x08http/1.1";
	static const unsigned char h1_only[] = "\x08http/1.1";
	bool h2 = app_bits(ssl) & 1;
	const unsigned char *ours = h2 ? with_h2 : h1_only;
	unsigned ours_len = h2 ? sizeof(with_h2) - 1 : sizeof(h1_only) - 1;
	/* Our preference, not the client's: SSL_select_next_proto walks its
	 * first argument's list in order. */
	for (unsigned i = 0; i < ours_len; i += 1u + ours[i]) {
		for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
			if (in[j] == ours[i] && j + 1u + in[j] <= inlen &&
			    memcmp(in + j + 1, ours + i + 1, ours[i]) == 0) {
				*out = in + j + 1;
				*outlen = in[j];
				return SSL_TLSEXT_ERR_OK;
			}
		}
	}
	return SSL_TLSEXT_ERR_NOACK; /* no overlap: go on without ALPN */
}

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* An ECDSA P-256 key and a certificate for localhost signed by itself. */
static int self_signed(SSL_CTX *ssl, char *err, size_t errlen)
{
	int rc = -1;
	X509 *cert = NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	if (!key)
		goto fail;
	cert = X509_new();
	if (!cert)
		goto fail;
	unsigned char serial[16];
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) {
		BN_free(bn);
		goto fail;
	}
	BN_free(bn);
	X509_NAME *name = X509_get_subject_name(cert);
	if (!X509_set_version(cert, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * TLS_SELF_SIGNED_DAYS) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"localhost", -1, -1, 0) ||
	    !X509_set_issuer_name(cert, name) || !X509_set_pubkey(cert, key) ||
	    add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") < 0 ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    !X509_sign(cert, key, EVP_sha256()))
		goto fail;
	if (SSL_CTX_use_certificate(ssl, cert) != 1 || SSL_CTX_use_PrivateKey(ssl, key) != 1)
		goto fail;
	rc = 0;
fail:
	if (rc < 0)
		tls_error(err, errlen, "self-signed certificate");
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

static int load_files(SSL_CTX *ssl, const char *key_path, const char *cert_path, char *err,
		      size_t errlen)
{
	char what[600];
	if (SSL_CTX_use_certificate_chain_file(ssl, cert_path) != 1) {
		snprintf(what, sizeof(what), "certificate %s", cert_path);
		tls_error(err, errlen, what);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ssl, key_path, SSL_FILETYPE_PEM) != 1) {
		snprintf(what, sizeof(what), "private key %s", key_path);
		tls_error(err, errlen, what);
		return -1;
	}
	if (SSL_CTX_check_private_key(ssl) != 1) {
		snprintf(what, sizeof(what), "private key %s does not match certificate %s",
			 key_path, cert_path);
		tls_error(err, errlen, what);
		return -1;
	}
	return 0;
}

/* Whether the kernel has TLS offload. Asking for the "tls" upper layer on
 * a fresh socket loads the module where it can be loaded, and fails with
 * ENOENT only where there is none (ENOTCONN: there is, but the socket is
 * not connected). */
static bool ktls_available(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true; /* cannot tell: let OpenSSL try */
	bool ok = setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) == 0 ||
		  errno != ENOENT;
	close(fd);
	return ok;
}

/* A context with our settings and no key yet. */
static struct tls_ctx *ctx_base(char *err, size_t errlen)
{
	struct tls_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctx->ssl = SSL_CTX_new(TLS_server_method());
	if (!ctx->ssl) {
		tls_error(err, errlen, "SSL_CTX_new");
		free(ctx);
		return NULL;
	}
	SSL_CTX *s = ctx->ssl;
	SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION);
	/* Partial writes and a moving buffer fit our non-blocking output buffer.
	 * Not SSL_MODE_RELEASE_BUFFERS: it frees the record buffers each time
	 * they empty, so a keep-alive connection allocates and frees 34 KiB
	 * per request (1,360 instructions of its 22,000); quiet connections
	 * give them back a second later instead (tls_session_release_buffers,
	 * conn_release_quiet_tls). NO_AUTO_CHAIN: the chain is the
	 * certificate file's, as given; else OpenSSL would try to build one
	 * from the (empty) trust store on every handshake. */
	SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				    SSL_MODE_NO_AUTO_CHAIN);
	/* SSL_OP_ENABLE_KTLS: where the kernel has TLS offload (the "tls"
	 * module) file bodies go out with SSL_sendfile, zero-copy. Only
	 * there: elsewhere OpenSSL tries it on every handshake anyway, two
	 * failing setsockopt calls, and stays in user space. */
	SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				       SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
	if (ktls_available())
		SSL_CTX_set_options(s, SSL_OP_ENABLE_KTLS);
	/* Read ahead: one read(2) takes what the socket holds, where OpenSSL
	 * would otherwise read each record's 5-byte header, then its body. */
	SSL_CTX_set_read_ahead(s, 1);
	/* One TLS 1.3 ticket per handshake, not OpenSSL's two: a ticket is
	 * used once (RFC 8446 C.4) and each resumption brings a new one, so
	 * the second is only for a client opening two connections at once;
	 * it costs a session copy, its sealing and a record on every full
	 * handshake. */
	SSL_CTX_set_num_tickets(s, 1);
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_SERVER);
	static const unsigned char sid_ctx[] = "lisod";
	SSL_CTX_set_session_id_context(s, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_alpn_select_cb(s, alpn_select, NULL);
	return ctx;
}

struct tls_ctx *tls_ctx_new(const char *key_path, const char *cert_path, bool *self_signed_out,
			    char *err, size_t errlen)
{
	struct tls_ctx *ctx = ctx_base(err, errlen);
	if (!ctx)
		return NULL;
	bool generated = !key_path;
	if (generated ? self_signed(ctx->ssl, err, errlen) < 0
		      : load_files(ctx->ssl, key_path, cert_path, err, errlen) < 0)
		goto fail;
	if (self_signed_out)
		*self_signed_out = generated;
	return ctx;
fail:
	tls_ctx_free(ctx);
	return NULL;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl);
	free(ctx);
}

/* Give ctx the session-ticket keys of old. 0, or -1 with err set. */
static int copy_ticket_keys(struct tls_ctx *ctx, const struct tls_ctx *old, char *err,
			    size_t errlen)
{
	unsigned char keys[80]; /* name, HMAC and AES keys, as OpenSSL stores them */
	int rc = 0;
	if (SSL_CTX_get_tlsext_ticket_keys(old->ssl, keys, sizeof(keys)) != 1 ||
	    SSL_CTX_set_tlsext_ticket_keys(ctx->ssl, keys, sizeof(keys)) != 1) {
		tls_error(err, errlen, "session ticket keys");
		rc = -1;
	}
	OPENSSL_cleanse(keys, sizeof(keys));
	return rc;
}

int tls_ctx_keep_tickets(struct tls_ctx *ctx, const struct tls_ctx *old, char *err,
			 size_t errlen)
{
	return copy_ticket_keys(ctx, old, err, errlen);
}

struct tls_ctx *tls_ctx_reload(const struct tls_ctx *old, const char *key_path,
			       const char *cert_path, bool *self_signed, char *err,
			       size_t errlen)
{
	struct tls_ctx *ctx = tls_ctx_new(key_path, cert_path, self_signed, err, errlen);
	if (!ctx)
		return NULL;
	if (copy_ticket_keys(ctx, old, err, errlen) < 0) {
		tls_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

int tls_ctx_export(const struct tls_ctx *ctx, struct tls_pem *pem, char *err, size_t errlen)
{
	memset(pem, 0, sizeof(*pem));
	EVP_PKEY *key = SSL_CTX_get0_privatekey(ctx->ssl);
	X509 *cert = SSL_CTX_get0_certificate(ctx->ssl);
	STACK_OF(X509) *chain = NULL;
	/* Secure memory BIO: its buffer is cleansed when freed. */
	BIO *b = BIO_new(BIO_s_secmem());
	int rc = -1;
	if (!key || !cert || !b || !SSL_CTX_get0_chain_certs(ctx->ssl, &chain) ||
	    !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
		goto out;
	size_t key_len = (size_t)BIO_pending(b);
	if (!PEM_write_bio_X509(b, cert))
		goto out;
	for (int i = 0; chain && i < sk_X509_num(chain); i++)
		if (!PEM_write_bio_X509(b, sk_X509_value(chain, i)))
			goto out;
	char *data;
	long len = BIO_get_mem_data(b, &data);
	if (len <= 0)
		goto out;
	pem->data = malloc((size_t)len);
	if (!pem->data)
		goto out;
	memcpy(pem->data, data, (size_t)len);
	pem->len = (size_t)len;
	pem->key_len = key_len;
	rc = 0;
out:
	if (rc < 0)
		tls_error(err, errlen, "exporting the key and certificate");
	BIO_free(b);
	return rc;
}

void tls_pem_free(struct tls_pem *pem)
{
	if (pem->data)
		OPENSSL_cleanse(pem->data, pem->len);
	free(pem->data);
	memset(pem, 0, sizeof(*pem));
}

/* Never prompt: what we read was written unencrypted by tls_ctx_export. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int load_pem(SSL_CTX *ssl, const struct tls_pem *pem)
{
	if (pem->key_len == 0 || pem->key_len >= pem->len || pem->len > INT_MAX)
		return -1;
	BIO *kb = BIO_new_mem_buf(pem->data, (int)pem->key_len);
	BIO *cb = BIO_new_mem_buf(pem->data + pem->key_len, (int)(pem->len - pem->key_len));
	EVP_PKEY *key = NULL;
	X509 *cert = NULL, *extra;
	int rc = -1;
	if (!kb || !cb)
		goto out;
	key = PEM_read_bio_PrivateKey(kb, NULL, no_password, NULL);
	cert = PEM_read_bio_X509(cb, NULL, no_password, NULL);
	if (!key || !cert || SSL_CTX_use_certificate(ssl, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ssl, key) != 1)
		goto out;
	while ((extra = PEM_read_bio_X509(cb, NULL, no_password, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ssl, extra) != 1) {
			X509_free(extra);
			goto out;
		}
	ERR_clear_error(); /* the end of the chain reads as an error */
	if (SSL_CTX_check_private_key(ssl) != 1)
		goto out;
	rc = 0;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}

struct tls_ctx *tls_ctx_from_pem(const struct tls_ctx *old, const struct tls_pem *pem,
				 char *err, size_t errlen)
{
	struct tls_ctx *ctx = ctx_base(err, errlen);
	if (!ctx)
		return NULL;
	if (load_pem(ctx->ssl, pem) < 0) {
		tls_error(err, errlen, "the key and certificate handed over");
		goto fail;
	}
	if (old && copy_ticket_keys(ctx, old, err, errlen) < 0)
		goto fail;
	return ctx;
fail:
	tls_ctx_free(ctx);
	return NULL;
}

/* Map an SSL_* result to our vocabulary; ret is the OpenSSL return value. */
static enum io_result tls_result(struct transport *t, int ret)
{
	int e = SSL_get_error(t->impl, ret);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		t->want_write = false;
		return IO_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		t->want_write = true;
		return IO_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return IO_EOF;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (errno == EINTR) /* caller retries on its next pass */
			return IO_AGAIN;
		return errno == 0 ? IO_EOF : IO_ERROR;
	default:
		ERR_clear_error();
		return IO_ERROR;
	}
}

/*
 * The socket BIO OpenSSL reads and writes through: its own socket method,
 * but for a read that notes in the transport (the BIO's app data) whether
 * it emptied the socket (a short count, or EAGAIN): transport.drained.
 * A BIO callback could note the same, but OpenSSL calls callbacks around
 * every BIO_ctrl too, a dozen a request. The method is made once per
 * process and never changes after; connections of every context (a
 * reload's too) share it, so it lives as long as the process.
 */
static int (*socket_read)(BIO *, char *, int);
static BIO_METHOD *tls_socket_method;

/* The socket method's own functions are the old-style ones (int counts):
 * its _ex entries are converters that call the old-style functions of the
 * BIO's method, ours, so ours are old-style too. */
static int tls_socket_read(BIO *b, char *buf, int len)
{
	int r = socket_read(b, buf, len);
	struct transport *t = BIO_get_app_data(b);
	if (t) {
		if (r > 0)
			t->drained = r < len;
		else if (BIO_should_retry(b))
			t->drained = true;
	}
	return r;
}

static BIO_METHOD *tls_socket_method_get(void)
{
	if (tls_socket_method)
		return tls_socket_method;
	const BIO_METHOD *sock = BIO_s_socket();
	/* The socket's type: OpenSSL tells sockets (kTLS) by it. */
	BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOCKET, "lisod socket");
	if (!m)
		return NULL;
	socket_read = BIO_meth_get_read(sock);
	if (!socket_read || !BIO_meth_set_read(m, tls_socket_read) ||
	    !BIO_meth_set_write(m, BIO_meth_get_write(sock)) ||
	    !BIO_meth_set_puts(m, BIO_meth_get_puts(sock)) ||
	    !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) ||
	    !BIO_meth_set_create(m, BIO_meth_get_create(sock)) ||
	    !BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock))) {
		BIO_meth_free(m);
		return NULL;
	}
	tls_socket_method = m;
	return m;
}

static enum io_result tls_read(struct transport *t, void *buf, size_t len, size_t *n)
{
	*n = 0;
	errno = 0;
	BIO *rbio = SSL_get_rbio(t->impl);
	if (BIO_get_app_data(rbio) != t)
		BIO_set_app_data(rbio, t);
	int ret = SSL_read_ex(t->impl, buf, len, n);
	if (ret != 1)
		return tls_result(t, ret);
	/* Records already read but not yet decrypted count as left. */
	if (SSL_has_pending(t->impl))
		t->drained = false;
	return IO_OK;
}

static enum io_result tls_writev(struct transport *t, const struct iovec *iov, int iovcnt,
				 bool more, size_t *n)
{
	(void)more; /* records are flushed as written */
	*n = 0;
	for (int i = 0; i < iovcnt; i++) {
		size_t done = 0;
		errno = 0;
		int ret = SSL_write_ex(t->impl, iov[i].iov_base, iov[i].iov_len, &done);
		if (ret != 1) {
			enum io_result r = tls_result(t, ret);
			return *n > 0 && r == IO_AGAIN ? IO_OK : r;
		}
		*n += done;
		if (done < iov[i].iov_len)
			break;
	}
	return IO_OK;
}

/* With kernel TLS active for sending, the kernel encrypts: zero-copy. */
static enum io_result tls_sendfile_ktls(struct transport *t, int fd, off_t *off, size_t len,
					size_t *n)
{
	errno = 0;
	ossl_ssize_t r = SSL_sendfile(t->impl, fd, *off, len, 0);
	if (r > 0) {
		*off += (off_t)r;
		*n = (size_t)r;
		return IO_OK;
	}
	return tls_result(t, (int)r);
}

/* Without kTLS: read a chunk and encrypt it, chunk after chunk until the
 * socket is full or len is sent, so that a short count means "blocked" as
 * it does for the plain transport. A retry after WANT_WRITE re-reads the
 * same offset, so OpenSSL is handed the same bytes again. */
static enum io_result tls_sendfile(struct transport *t, int fd, off_t *off, size_t len,
				   size_t *n)
{
	char chunk[TLS_SENDFILE_CHUNK];
	*n = 0;
	if (BIO_get_ktls_send(SSL_get_wbio(t->impl)))
		return tls_sendfile_ktls(t, fd, off, len, n);
	while (*n < len) {
		size_t want = len - *n < sizeof(chunk) ? len - *n : sizeof(chunk);
		ssize_t got;
		do
			got = pread(fd, chunk, want, *off);
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			return *n > 0 ? IO_OK : IO_ERROR;
		struct iovec iov = { chunk, (size_t)got };
		size_t sent = 0;
		enum io_result r = tls_writev(t, &iov, 1, false, &sent);
		*off += (off_t)sent;
		*n += sent;
		if (r != IO_OK)
			return *n > 0 && r == IO_AGAIN ? IO_OK : r;
		if (sent < (size_t)got)
			break;
	}
	return IO_OK;
}

static enum io_result tls_handshake(struct transport *t)
{
	errno = 0;
	int ret = SSL_do_handshake(t->impl);
	if (ret == 1) {
		t->handshake_done = true;
		return IO_OK;
	}
	return tls_result(t, ret);
}

static enum io_result tls_shutdown(struct transport *t)
{
	if (t->handshake_done) {
		errno = 0;
		int ret = SSL_shutdown(t->impl); /* 0: close_notify sent, peer's not yet seen */
		if (ret < 0) {
			enum io_result r = tls_result(t, ret);
			if (r == IO_AGAIN)
				return r;
		}
	}
	return shutdown(t->fd, SHUT_WR) == 0 || errno == ENOTCONN ? IO_OK : IO_ERROR;
}

static void tls_free(struct transport *t)
{
	SSL_free(t->impl);
	t->impl = NULL;
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
	(void)alert;
	const struct tls_sni *sni = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	int site = sni->pick(sni->arg, name);
	if (site < 0)
		return SSL_TLSEXT_ERR_OK; /* the default site's certificate */
	struct tls_ctx *ctx = sni->site_ctx(sni->arg, site);
	if (ctx && SSL_get_SSL_CTX(ssl) != ctx->ssl && !SSL_set_SSL_CTX(ssl, ctx->ssl))
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	SSL_set_app_data(ssl, (void *)(((uintptr_t)(site + 1) << 1) | (app_bits(ssl) & 1)));
	return SSL_TLSEXT_ERR_OK;
}

void tls_ctx_set_sni(struct tls_ctx *base, const struct tls_sni *sni)
{
	SSL_CTX_set_tlsext_servername_callback(base->ssl, on_servername);
	SSL_CTX_set_tlsext_servername_arg(base->ssl, (void *)sni);
}

int tls_session_site(const void *impl)
{
	return (int)(app_bits(impl) >> 1) - 1;
}

bool tls_session_h2(const void *impl)
{
	const unsigned char *proto;
	unsigned len;
	SSL_get0_alpn_selected(impl, &proto, &len);
	return len == 2 && memcmp(proto, "h2", 2) == 0;
}

const struct transport_ops tls_transport_ops = {
	.secure = true,
	.read = tls_read,
	.writev = tls_writev,
	.sendfile = tls_sendfile,
	.handshake = tls_handshake,
	.shutdown = tls_shutdown,
	.free = tls_free,
};

void *tls_session_new(struct tls_ctx *ctx, int fd, bool offer_h2)
{
	SSL *ssl = SSL_new(ctx->ssl);
	if (!ssl)
		return NULL;
	SSL_set_app_data(ssl, (void *)(uintptr_t)offer_h2);
	BIO_METHOD *m = tls_socket_method_get();
	BIO *bio = m ? BIO_new(m) : NULL;
	if (!bio) {
		SSL_free(ssl);
		return NULL;
	}
	BIO_set_fd(bio, fd, BIO_NOCLOSE);
	SSL_set_bio(ssl, bio, bio); /* the SSL owns it; its app data (the
	                             * transport) is set by tls_read */
	SSL_set_accept_state(ssl);
	return ssl;
}

void tls_session_release_buffers(void *impl)
{
	(void)SSL_free_buffers(impl); /* 0: bytes still buffered, kept */
}
