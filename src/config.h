/*
 * config — every setting of lisod, its default, the command line and the
 * configuration file (config_file.c).
 *
 * One struct, filled from defaults, then the file given with -c (its main
 * section, then its [site NAME] sections), then argv — the command line
 * overrides the file — and validated once before any socket is opened.
 * Strings point into argv, static storage, or memory the config owns
 * (values read from the file): config_free() releases it.
 *
 * Sites: cfg->sites[0 .. site_count) is never empty. Without [site]
 * sections there is one, "default", made of the main settings (the
 * 8-argument Liso form and the options form describe exactly that). A
 * site inherits root, cgi, index, key and certificate, and access-log from
 * the main settings when it sets none of its own.
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

enum {
	CONFIG_SITES_MAX = 1024,  /* a site is a uint16_t index in a connection */
	CONFIG_HOSTS_MAX = 256,   /* host patterns of one site */
	CONFIG_INDEX_MAX = 8,     /* index names of one site */
	CONFIG_NAME_MAX = 253,    /* a DNS name (RFC 1035 §2.3.4, no final dot) */
	CONFIG_HTTP2_STREAMS_MAX = 1000, /* --http2-max-streams, per connection */
};

/* What a request for a Host no site claims gets (--unknown-host). */
enum unknown_host { UNKNOWN_HOST_DEFAULT, UNKNOWN_HOST_404, UNKNOWN_HOST_421 };

/* Where a setting was made, for messages: a line of the file, or nowhere
 * (file NULL: the command line or the default). */
struct config_origin {
	const char *file;
	unsigned line;
};

/* The per-site settings of how files are served (issue 14): each is a
 * key of a [site] section and, for the default site and every site that
 * does not set it, a main setting and command-line option of the same
 * name. config_serve.c parses them; lisod.conf(5) describes them. */
enum serve_key {
	SERVE_PRECOMPRESSED, SERVE_COMPRESS, SERVE_COMPRESS_MIN_SIZE, SERVE_LISTING,
	SERVE_DOTFILES, SERVE_CHARSET, SERVE_HSTS, SERVE_HTTPS_REDIRECT, SERVE_CORS_ORIGINS,
	SERVE_CORS_METHODS, SERVE_CORS_HEADERS, SERVE_CORS_MAX_AGE, SERVE_CACHE, SERVE_HEADER,
	SERVE_ERROR_PAGE, SERVE_TRY_HTML, SERVE_FALLBACK,
	SERVE_KEY_COUNT
};

enum {
	SERVE_LIST_MAX = 32,          /* entries of one list setting (cache, header, ...) */
	SERVE_CORS_ORIGINS_MAX = 64,
	/* The `header` lines of a site together, as written in an answer
	 * ("Name: value" CRLF each); site_fields.h keeps room for HSTS too. */
	SERVE_HEADER_BYTES_MAX = 4000,
};

/* "cache = PATTERN VALUE": requests whose path matches PATTERN get
 * Cache-Control: VALUE (and Expires when VALUE has max-age). A PATTERN
 * without a slash matches the last segment (an extension glob such as
 * *.css); one with a slash matches the whole path, where a final star
 * matches the rest of the path (the prefix /assets/ then a star).
 * "header = Name: value": a field added to every answer of the site. */
struct serve_rule {
	const char *pattern;   /* cache: the glob; header: the field name */
	const char *value;
};

struct serve_error_page {
	int status;            /* 400 ... 599 */
	const char *path;      /* beneath the site's root, starts with '/' */
};

struct site_serve {
	bool precompressed;          /* X.br / X.zst / X.gz beside X (default yes) */
	bool compress;               /* gzip on the fly (default yes) */
	unsigned compress_min_size;  /* bytes; smaller answers go as they are (default 1024) */
	bool listing;                /* directory listings (default no) */
	bool dotfiles;               /* serve /.name paths (default no: 404; /.well-known/ always) */
	const char *charset;         /* on text types; NULL: none (default "utf-8") */
	unsigned hsts_max_age;       /* seconds; 0: no Strict-Transport-Security */
	bool https_redirect;         /* plain-HTTP requests get 308 to https:// */
	const char *const *cors_origins; /* exact origins, or one "*"; 0 of them: CORS off */
	unsigned cors_origin_count;
	const char *cors_methods;    /* for preflights (default "GET, HEAD, POST") */
	const char *cors_headers;    /* request headers a preflight may name (NULL: any asked) */
	unsigned cors_max_age;       /* seconds a preflight may be cached (default 600) */
	const struct serve_rule *cache;  /* first matching pattern wins */
	unsigned cache_count;
	const struct serve_rule *headers;
	unsigned header_count;
	const struct serve_error_page *error_pages;
	unsigned error_page_count;
	bool try_html;               /* a missing /x is looked up as /x.html too */
	const char *fallback;        /* a missing file gets this one (200), e.g. /index.html */
};

enum site_key {
	SITE_KEY_SECTION,      /* the [site NAME] line itself */
	SITE_KEY_HOSTS, SITE_KEY_DEFAULT, SITE_KEY_ROOT, SITE_KEY_CGI, SITE_KEY_INDEX,
	SITE_KEY_KEY, SITE_KEY_CERT, SITE_KEY_ACCESS_LOG,
	SITE_KEY_COUNT
};

/* One site: what a request routed to it (by Host, or SNI for the
 * certificate) is served from. Every field is resolved (inherited values
 * filled in); at[] says where each was set. */
struct site {
	const char *name;
	const char *const *hosts;  /* lower case; exact names and "*.suffix" */
	unsigned host_count;
	bool is_default;           /* unknown hosts (and no SNI) get this one */
	const char *root;
	const char *cgi_path;      /* NULL: no CGI */
	const char *const *index;  /* names tried for a directory, in order */
	unsigned index_count;
	const char *key_path, *cert_path; /* NULL: the self-signed certificate */
	const char *access_log_path;      /* NULL: the main access log */
	struct config_origin at[SITE_KEY_COUNT];
	struct site_serve serve;
	struct config_origin serve_at[SERVE_KEY_COUNT];
};

struct config_mem;

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
	bool http2;                /* HTTP/2 (libnghttp2): ALPN "h2" on HTTPS listeners,
	                            * prior knowledge (h2c) on HTTP ones; default on,
	                            * off in the 8-argument Liso form unless given */
	unsigned http2_max_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS per HTTP/2
	                            * connection, 1 ... 1000 (default 100) */
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
	const char *config_path;   /* -c FILE; NULL: none */
	const char *const *index;  /* --index: names for a directory (index.html) */
	unsigned index_count;
	enum unknown_host unknown_host;
	struct site_serve serve;   /* the main settings: the default site's, inherited */

	struct site *sites;        /* at least one */
	unsigned site_count;
	unsigned default_site;     /* index of the default site */
	/* Where each main setting was made: by position in config.c's table
	 * of options (config_where() reads it). */
	struct config_origin main_at[96];
	struct config_mem *mem;    /* owned strings and lists */
};

enum config_result { CONFIG_OK, CONFIG_EXIT_OK, CONFIG_EXIT_USAGE, CONFIG_EXIT_FAIL };

/* Parse argv, and the file it names with -c, into *cfg (defaults first).
 * On CONFIG_EXIT_OK (--help, --version) the text was printed to out; on
 * CONFIG_EXIT_USAGE a one-line message and "Try 'lisod --help' ..." were
 * printed to err (the caller exits 2); on CONFIG_EXIT_FAIL the file had
 * problems: every one of them is on err, one line each, "lisod: FILE:LINE:
 * what" (the caller exits 1). Whatever the result, config_free() after. */
enum config_result config_parse(struct config *cfg, int argc, char **argv,
				FILE *out, FILE *err);
void config_free(struct config *cfg);
void config_usage(FILE *f);

/* "FILE:LINE: " where key (a long option name, or a site key such as
 * "hosts") was set — in site when it is a site's key — or "" when it came
 * from the command line or is the default. Into buf; returns buf. */
const char *config_where(const struct config *cfg, const struct site *site, const char *key,
			 char *buf, size_t cap);

/* The site an absent or unknown name gets. */
static inline const struct site *config_default_site(const struct config *cfg)
{
	return &cfg->sites[cfg->default_site];
}

#endif
