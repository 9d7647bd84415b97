/*
 * cgi — RFC 3875 pieces that need no event loop: which program a request
 * runs and with which PATH_INFO, the environment, spawning the child with
 * its three pipes, and parsing the header section of its output.
 * The process on the loop is cgi_proc's; relaying a request through it
 * is the connection's CGI phase (conn_cgi.c).
 */
#ifndef LISOD_CGI_H
#define LISOD_CGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "http_parse.h"
#include "http_resp.h"

enum { CGI_HEADERS_MAX = 64, CGI_PROGRAM_MAX = 4096 };

/* Is this path (already normalised) "/cgi" or "/cgi/..."? */
bool cgi_is_cgi_path(const char *path, size_t len);

/* Is this request path (raw, query removed) for CGI? Decided on the
 * decoded, normalised path (static_normalize_path), as for static files:
 * "/%63gi/x", "//cgi/x" and "/./cgi/x" are CGI paths; "/cgi/../x" is not.
 * A path that does not normalise (400/414) is not CGI. */
bool cgi_is_cgi_target(const char *path, size_t len);

/*
 * Which program runs and what PATH_INFO it gets, from the raw request path
 * (query removed): it is decoded and normalised first (cgi_is_cgi_target).
 * cgi_path is a file: it runs for every CGI path; PATH_INFO is the
 * normalised path after "/cgi" ("/cgi/testfun/a/b" → "/testfun/a/b",
 * "/cgi" → "", a trailing slash is kept).
 * cgi_path is a directory: "/cgi/NAME/rest" runs DIR/NAME with PATH_INFO
 * "/rest"; "/cgi" or "/cgi/" alone → 404; DIR/NAME that is not a regular
 * file (stat) → 404.
 * path_info receives the decoded PATH_INFO (NUL-terminated). Returns 0, or
 * 400 (bad escape, %00, '..' above the root), 404 (not a CGI path, no such
 * program) or 414 (does not fit).
 */
int cgi_resolve(const char *cgi_path, bool cgi_is_dir, const char *path, size_t len,
		char *program, size_t program_cap, char *path_info, size_t path_info_cap);

/* Everything the environment is made of, besides the request's headers. */
struct cgi_env_input {
	const struct http_request *req;
	const char *path_info;      /* decoded */
	const char *remote_addr;
	uint16_t remote_port;
	uint16_t server_port;
	const char *server_name;    /* NULL: from Host (port stripped), else "localhost" */
	bool https;
	bool http2;                 /* SERVER_PROTOCOL=HTTP/2.0 (the request came as a stream) */
	int64_t content_length;     /* -1: none (e.g. a chunked body streams to EOF) */
};

/*
 * Build the environment: exactly CONTENT_LENGTH, CONTENT_TYPE (only when
 * the request has them), GATEWAY_INTERFACE=CGI/1.1, PATH_INFO,
 * QUERY_STRING (empty if none), REMOTE_ADDR, REMOTE_PORT, REQUEST_METHOD,
 * REQUEST_URI (the raw target), SCRIPT_NAME=/cgi, SERVER_NAME, SERVER_PORT,
 * SERVER_PROTOCOL=HTTP/1.1 (HTTP/2.0 for a stream), SERVER_SOFTWARE=Liso/1.0, HTTPS=on over TLS,
 * PATH (a fixed safe value), and HTTP_<NAME> for every request header
 * (upper case, '-' → '_'), except Proxy (httpoxy), Content-Length,
 * Content-Type and Authorization, and except names with bytes other than
 * letters, digits and '-' (they could collide after mapping). Repeated
 * headers are joined with ", " (Cookie with "; ", RFC 6265 §5.4).
 * Returns one malloc'd block (free() it) holding the NULL-terminated
 * array and its strings, or NULL (ENOMEM, or over 256 KiB total).
 */
char **cgi_env_build(const struct cgi_env_input *in);

struct cgi_child {
	pid_t pid;
	int stdin_fd;   /* our write end, non-blocking, close-on-exec */
	int stdout_fd;  /* our read end, likewise */
	int stderr_fd;  /* our read end, likewise */
};

/*
 * Start program with envp and argv = { program, NULL }, its working
 * directory the program's directory, its stdin/stdout/stderr the three
 * pipes, every other descriptor closed (all of ours are O_CLOEXEC), the
 * signal mask empty and every signal at its default disposition (we
 * ignore SIGPIPE; the child must not inherit that). posix_spawn, so the
 * loop never copies its page tables. A relative program path is made
 * absolute first (against the current directory). The child leads a new
 * process group; kill(-pid, SIGKILL) reaches its children too.
 * 0, or -1 with errno (nothing leaked). glibc reports a failed exec as an
 * error return (ENOENT, EACCES); should a libc return a pid instead, the
 * caller sees EOF on stdout and exit status 127.
 */
int cgi_spawn(const char *program, char *const envp[], struct cgi_child *child);

/* The parsed header section of CGI output (RFC 3875 §6). */
struct cgi_head {
	int status;                 /* from Status:, else 302 with Location, else 200 */
	struct http_slice reason;   /* Status: reason text; len 0: use http_reason() */
	bool has_content_length;
	uint64_t content_length;
	struct http_slice content_type, location;
	struct http_header headers[CGI_HEADERS_MAX]; /* others, passed through */
	uint32_t header_count;
};

/*
 * Find the end of the header section in buf[0..len): lines end in LF or
 * CRLF; the section ends with an empty line. Returns the section length
 * (terminator included), 0 if more output is needed, -1 if the output can
 * never be a valid header section (a NUL, a line over 8 KiB).
 * The caller checks for NPH output (it starts with "HTTP/": relayed
 * verbatim, never scanned) before calling this.
 */
long cgi_head_scan(const char *buf, size_t len);

/*
 * Parse a complete header section. -1 if malformed: a line without ':',
 * an invalid field name, a bad Status ("Status: 201 Created" and
 * "Status: 201" are valid; 3 digits 100..999 required), a bad
 * Content-Length, no Content-Type / Location / Status at all (RFC 3875
 * requires one of them), a repeated Status / Content-Type / Location /
 * Content-Length, a value with CR or another control byte. Connection,
 * Transfer-Encoding, Keep-Alive, Server/Date and the other hop-by-hop
 * fields (Proxy-Connection, Upgrade, TE, Trailer) from the program are
 * dropped (we frame the body and write our own). 0 on success.
 */
int cgi_head_parse(const char *buf, size_t len, struct cgi_head *head);

/*
 * Write our head for the program's (with http_resp_write_head, the one
 * head writer): status line (its reason, if it gave one), Server, Date, the
 * passed-through fields, Content-Type, Content-Length (when known) or
 * Transfer-Encoding: chunked (when `chunked`), Location, Connection.
 * 0, or -1 (nothing written) if it does not fit.
 */
int cgi_head_write(struct buf *out, const struct cgi_head *head, bool keep_alive, bool chunked,
		   const struct http_date_cache *date);

#endif
