/*
 * config — every setting of lisod, its default, and the command line.
 *
 * One struct, filled from defaults and then argv, validated once before any
 * socket is opened. Strings point into argv or static storage (never freed).
 */
#ifndef LISOD_CONFIG_H
#define LISOD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "proxy_proto.h"

#define LISOD_NAME "lisod"
#define LISOD_VERSION "1.0.0"
#define LISOD_SERVER_HEADER "Liso/1.0"

enum config_mode { CONFIG_MODE_HTTP, CONFIG_MODE_ECHO };

struct config {
	enum config_mode mode;
	bool daemonize;            /* the 8-argument Liso form, unless -f */
	uint16_t http_port;        /* 0: no HTTP listener */
	uint16_t https_port;       /* 0: no HTTPS listener */
	uint16_t echo_port;
	const char *listen_addr;   /* NULL: dual-stack any address */
	const char *log_path;      /* NULL: stderr */
	const char *access_log_path; /* NULL: same as log_path */
	const char *lock_path;     /* NULL: no lock file */
	const char *root;          /* document root */
	const char *cgi_path;      /* NULL: no CGI */
	const char *key_path, *cert_path; /* NULL: self-signed in memory */
	unsigned workers;          /* 0: one per online CPU */
	unsigned max_conns;        /* per worker */
	unsigned max_cgi;          /* concurrent CGI processes per worker */
	uint64_t max_body_bytes;
	unsigned header_timeout_ms, body_timeout_ms, idle_timeout_ms;
	unsigned tls_handshake_timeout_ms, cgi_timeout_ms, write_timeout_ms;
	unsigned shutdown_timeout_ms;
	unsigned cgi_max_time_ms;  /* total cap on a CGI program's run */
	unsigned min_body_rate;    /* bytes/s a request body must keep up; 0: off */
	unsigned min_send_rate;    /* bytes/s a client must read answers at; 0: off */
	bool require_host;         /* HTTP/1.1 without Host is 400 (RFC 9112 §3.2);
	                            * default on, off in the 8-argument Liso form */
	bool proxy_protocol;       /* connections start with a PROXY header ... */
	struct proxy_trust proxy_trust; /* ... and come from these networks only */
	const char *health_path;   /* NULL: none; 200, or 503 once stopping */
	const char *status_path;   /* NULL: none */
	struct proxy_trust status_allow; /* who may read the status */
	unsigned drain_delay_ms;   /* on SIGTERM: keep serving (health 503) this long */
	int log_level;             /* enum log_level */
	const char *user;          /* --user NAME[:GROUP]; NULL: keep our ids */
	bool cgi_as_root;          /* --cgi-as-root: allow CGI programs as uid 0 */
	bool test_config;          /* -t: check everything, report, exit */
};

enum config_result { CONFIG_OK, CONFIG_EXIT_OK, CONFIG_EXIT_USAGE };

/* Parse argv into *cfg (defaults first). On CONFIG_EXIT_OK (--help,
 * --version) the text was printed to out; on CONFIG_EXIT_USAGE a one-line
 * message and "Try 'lisod --help' ..." were printed to err; the caller
 * exits 0 or 2. */
enum config_result config_parse(struct config *cfg, int argc, char **argv,
				FILE *out, FILE *err);
void config_usage(FILE *f);

#endif
