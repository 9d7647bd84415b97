#include "cgi.h"
#include "uri.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "static.h"

enum {
	CGI_ENV_MAX_BYTES = 256 * 1024,     /* pointer array + strings */
	CGI_HEAD_LINE_MAX_BYTES = 8192,     /* one output header line, EOL excluded */
	CGI_NAME_MAX_BYTES = 255,           /* a file name in the CGI directory */
};

/* ---- paths ----------------------------------------------------------------- */

bool cgi_is_cgi_path(const char *path, size_t len)
{
	return len >= 4 && memcmp(path, "/cgi", 4) == 0 && (len == 4 || path[4] == '/');
}

/* A plain file name: not empty, not made only of dots, no '/'. */
static bool name_ok(const char *name, size_t len)
{
	bool dots_only = true;

	if (len == 0 || memchr(name, '/', len) != NULL)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] != '.')
			dots_only = false;
	return !dots_only;
}

/* Without '%', empty segments and dot segments a path is its own normal
 * form: the common case needs no copy. ("/." also matches "/.hidden";
 * such a path is merely normalised for nothing.) */
static bool needs_normalising(const char *path, size_t len)
{
	/* One pass (this runs for every request). */
	for (size_t i = 0; i < len; i++) {
		if (path[i] == '%')
			return true;
		if (path[i] == '/' && i + 1 < len && (path[i + 1] == '/' || path[i + 1] == '.'))
			return true;
	}
	return false;
}

bool cgi_is_cgi_target(const char *path, size_t len)
{
	if (!needs_normalising(path, len))
		return cgi_is_cgi_path(path, len);
	char norm[STATIC_PATH_MAX];
	if (static_normalize_path(path, len, norm, sizeof(norm)) != 0)
		return false; /* the static path answers 400 / 414 */
	return cgi_is_cgi_path(norm, strlen(norm));
}

static int copy_out(const char *s, size_t n, char *out, size_t cap)
{
	if (n >= cap)
		return 414;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int cgi_resolve(const char *cgi_path, bool cgi_is_dir, const char *path, size_t len,
		char *program, size_t program_cap, char *path_info, size_t path_info_cap)
{
	char norm[STATIC_PATH_MAX];
	int status = static_normalize_path(path, len, norm, sizeof(norm));
	if (status)
		return status;
	size_t norm_len = strlen(norm);
	if (!cgi_is_cgi_path(norm, norm_len))
		return 404;
	const char *rest = norm + 4;
	size_t rest_len = norm_len - 4;
	size_t dir_len = strlen(cgi_path);
	if (!cgi_is_dir) {
		if (dir_len >= program_cap)
			return 414;
		memcpy(program, cgi_path, dir_len + 1);
		return copy_out(rest, rest_len, path_info, path_info_cap);
	}

	/* "/NAME/rest": the name is the first segment (normalised: never
	 * empty, "." or ".."). */
	if (rest_len <= 1)
		return 404;
	const char *name = rest + 1;
	const char *slash = memchr(name, '/', rest_len - 1);
	size_t name_len = slash ? (size_t)(slash - name) : rest_len - 1;
	if (name_len > CGI_NAME_MAX_BYTES || !name_ok(name, name_len))
		return 404;
	bool sep = dir_len == 0 || cgi_path[dir_len - 1] != '/';
	if (dir_len + sep + name_len >= program_cap)
		return 414;
	memcpy(program, cgi_path, dir_len);
	if (sep)
		program[dir_len] = '/';
	memcpy(program + dir_len + sep, name, name_len);
	program[dir_len + sep + name_len] = '\0';
	status = copy_out(name + name_len, rest_len - 1 - name_len, path_info, path_info_cap);
	if (status)
		return status;

	struct stat st;
	if (stat(program, &st) < 0 || !S_ISREG(st.st_mode))
		return 404;
	return 0;
}

/* ---- environment ----------------------------------------------------------- */

/*
 * The environment is built in two identical passes: the first (vec == NULL)
 * only counts entries and bytes, the second writes them into the block.
 */
struct env_out {
	char **vec;     /* NULL: counting pass */
	char *str;      /* start of the string area (second pass) */
	size_t count;   /* entries so far */
	size_t bytes;   /* string bytes so far, NULs included */
};

static void env_put(struct env_out *e, const char *s, size_t n)
{
	if (e->vec != NULL && n > 0)
		memcpy(e->str + e->bytes, s, n);
	e->bytes += n;
}

static void env_putc(struct env_out *e, char c)
{
	env_put(e, &c, 1);
}

static void env_begin(struct env_out *e, const char *name)
{
	if (e->vec != NULL)
		e->vec[e->count] = e->str + e->bytes;
	e->count++;
	env_put(e, name, strlen(name));
	env_putc(e, '=');
}

static void env_end(struct env_out *e)
{
	env_putc(e, '\0');
}

static void env_var(struct env_out *e, const char *name, const char *val, size_t len)
{
	env_begin(e, name);
	if (val != NULL)
		env_put(e, val, len);
	env_end(e);
}

static void env_str(struct env_out *e, const char *name, const char *val)
{
	env_var(e, name, val, val ? strlen(val) : 0);
}

static void env_slice(struct env_out *e, const char *name, struct http_slice s)
{
	env_var(e, name, s.p, s.len);
}

static void env_u64(struct env_out *e, const char *name, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);
	env_var(e, name, num, n > 0 ? (size_t)n : 0);
}

static bool slice_eq_ci(struct http_slice a, struct http_slice b)
{
	if (a.len != b.len)
		return false;
	for (uint32_t i = 0; i < a.len; i++) {
		unsigned char x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

/* Only letters, digits and '-': anything else could collide after mapping
 * ("X_Y" and "X-Y" would both become HTTP_X_Y). */
static bool env_name_ok(struct http_slice n)
{
	if (n.len == 0)
		return false;
	for (uint32_t i = 0; i < n.len; i++) {
		char c = n.p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

static bool env_name_excluded(struct http_slice n, bool http2)
{
	/* httpoxy, and the two that have their own variables, and credentials;
	 * over HTTP/2 the framing fields h2.c wrote for the inner connection
	 * (the client sent none: they are forbidden in HTTP/2) */
	return http_slice_eq_ci(n, "proxy") || http_slice_eq_ci(n, "content-length") ||
	       http_slice_eq_ci(n, "content-type") || http_slice_eq_ci(n, "authorization") ||
	       (http2 && (http_slice_eq_ci(n, "connection") ||
			  http_slice_eq_ci(n, "transfer-encoding")));
}

/* HTTP_<NAME>=v1, v2 ... for header i and every later one of that name. */
static void env_header(struct env_out *e, const struct http_request *req, uint32_t i)
{
	struct http_slice name = req->headers[i].name;
	const char *sep = http_slice_eq_ci(name, "cookie") ? "; " : ", ";

	if (e->vec != NULL)
		e->vec[e->count] = e->str + e->bytes;
	e->count++;
	env_put(e, "HTTP_", 5);
	for (uint32_t k = 0; k < name.len; k++) {
		char c = name.p[k];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 32);
		else if (c == '-')
			c = '_';
		env_putc(e, c);
	}
	env_putc(e, '=');
	env_put(e, req->headers[i].value.p, req->headers[i].value.len);
	for (uint32_t k = i + 1; k < req->header_count; k++) {
		if (!slice_eq_ci(req->headers[k].name, name))
			continue;
		env_put(e, sep, 2);
		env_put(e, req->headers[k].value.p, req->headers[k].value.len);
	}
	env_end(e);
}

/* Host without its port; "[::1]:8080" keeps the brackets (RFC 3875 §4.1.14). */
static struct http_slice host_name(struct http_slice h)
{
	const char *end;

	if (h.p == NULL || h.len == 0)
		return h;
	if (h.p[0] == '[') {
		end = memchr(h.p, ']', h.len);
		if (end != NULL)
			h.len = (uint32_t)(end - h.p + 1);
		return h;
	}
	end = memchr(h.p, ':', h.len);
	if (end != NULL)
		h.len = (uint32_t)(end - h.p);
	return h;
}

static void env_fill(const struct cgi_env_input *in, struct env_out *e)
{
	const struct http_request *req = in->req;

	if (in->content_length >= 0)
		env_u64(e, "CONTENT_LENGTH", (uint64_t)in->content_length);
	if (req->content_type.p != NULL)
		env_slice(e, "CONTENT_TYPE", req->content_type);
	env_str(e, "GATEWAY_INTERFACE", "CGI/1.1");
	env_str(e, "PATH_INFO", in->path_info);
	env_slice(e, "QUERY_STRING", req->query);
	env_str(e, "REMOTE_ADDR", in->remote_addr);
	env_u64(e, "REMOTE_PORT", in->remote_port);
	env_slice(e, "REQUEST_METHOD", req->method_name);
	env_slice(e, "REQUEST_URI", req->target);
	env_str(e, "SCRIPT_NAME", "/cgi");
	if (in->server_name != NULL) {
		env_str(e, "SERVER_NAME", in->server_name);
	} else {
		struct http_slice h = req->has_host ? host_name(req->host) : (struct http_slice){ 0 };
		if (h.p != NULL && h.len > 0)
			env_slice(e, "SERVER_NAME", h);
		else
			env_str(e, "SERVER_NAME", "localhost");
	}
	env_u64(e, "SERVER_PORT", in->server_port);
	env_str(e, "SERVER_PROTOCOL", in->http2 ? "HTTP/2.0" : "HTTP/1.1");
	env_str(e, "SERVER_SOFTWARE", LISOD_SERVER_HEADER);
	if (in->https)
		env_str(e, "HTTPS", "on");
	env_str(e, "PATH", "/usr/local/bin:/usr/bin:/bin");

	for (uint32_t i = 0; i < req->header_count; i++) {
		struct http_slice name = req->headers[i].name;
		if (!env_name_ok(name) || env_name_excluded(name, in->http2))
			continue;
		bool seen = false;
		for (uint32_t k = 0; k < i && !seen; k++)
			seen = slice_eq_ci(req->headers[k].name, name);
		if (!seen)
			env_header(e, req, i);
	}
}

char **cgi_env_build(const struct cgi_env_input *in)
{
	struct env_out e = { 0 };

	env_fill(in, &e);
	size_t vec_bytes = (e.count + 1) * sizeof(char *);
	size_t total = vec_bytes + e.bytes;
	if (total > CGI_ENV_MAX_BYTES) {
		errno = E2BIG;
		return NULL;
	}
	char **vec = malloc(total);
	if (vec == NULL)
		return NULL;
	struct env_out w = { .vec = vec, .str = (char *)vec + vec_bytes };
	env_fill(in, &w);
	vec[w.count] = NULL;
	return vec;
}

/* ---- spawning -------------------------------------------------------------- */

/* Move *fd above 0..2 so the dup2 onto 0/1/2 in the child cannot clobber
 * another pipe end (possible when the server runs with stdio closed). */
static int fd_above_stdio(int *fd)
{
	if (*fd > 2)
		return 0;
	int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

/* program as an absolute path in abs, and its directory in dir. */
static int absolute_path(const char *program, char *abs, size_t abs_cap, char *dir,
			 size_t dir_cap)
{
	size_t plen = strlen(program);

	if (plen == 0) {
		errno = ENOENT;
		return -1;
	}
	if (program[0] == '/') {
		if (plen >= abs_cap) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(abs, program, plen + 1);
	} else {
		if (getcwd(abs, abs_cap) == NULL)
			return -1;
		size_t clen = strlen(abs);
		bool sep = abs[clen - 1] != '/';
		if (clen + sep + plen >= abs_cap) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (sep)
			abs[clen++] = '/';
		memcpy(abs + clen, program, plen + 1);
	}
	const char *last = strrchr(abs, '/');
	size_t dlen = last == abs ? 1 : (size_t)(last - abs);
	if (dlen >= dir_cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, abs, dlen);
	dir[dlen] = '\0';
	return 0;
}

int cgi_spawn(const char *program, char *const envp[], struct cgi_child *child)
{
	char abs[PATH_MAX], dir[PATH_MAX];
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	bool fa_init = false, attr_init = false;
	sigset_t set;
	int rc, saved;
	pid_t pid;

	if (absolute_path(program, abs, sizeof(abs), dir, sizeof(dir)) < 0)
		return -1;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		goto fail;
	int *const ends[] = { &in[0], &in[1], &out[0], &out[1], &err[0], &err[1] };
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (fd_above_stdio(ends[i]) < 0)
			goto fail;
	if (set_nonblock(in[1]) < 0 || set_nonblock(out[0]) < 0 || set_nonblock(err[0]) < 0)
		goto fail;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		goto fail_rc;
	fa_init = true;
	if ((rc = posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO)) != 0 ||
	    (rc = posix_spawn_file_actions_addchdir_np(&fa, dir)) != 0)
		goto fail_rc;

	if ((rc = posix_spawnattr_init(&attr)) != 0)
		goto fail_rc;
	attr_init = true;
	sigemptyset(&set);
	if ((rc = posix_spawnattr_setsigmask(&attr, &set)) != 0)
		goto fail_rc;
	/* Every signal back to SIG_DFL (SIGPIPE above all). glibc's sigfillset
	 * leaves out its two internal signals (32, 33), and glibc 2.36 leaves
	 * them ignored in the child; glibc programs reinstall their handlers. */
	sigfillset(&set);
	if ((rc = posix_spawnattr_setsigdefault(&attr, &set)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						      POSIX_SPAWN_SETPGROUP)) != 0)
		goto fail_rc;

	char *argv[] = { abs, NULL };
	if ((rc = posix_spawn(&pid, abs, &fa, &attr, argv, envp)) != 0)
		goto fail_rc;

	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	child->pid = pid;
	child->stdin_fd = in[1];
	child->stdout_fd = out[0];
	child->stderr_fd = err[0];
	return 0;

fail_rc:
	errno = rc;
fail:
	saved = errno;
	if (attr_init)
		posix_spawnattr_destroy(&attr);
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	errno = saved;
	return -1;
}

/* ---- output header section ------------------------------------------------- */

long cgi_head_scan(const char *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *lf = memchr(buf + pos, '\n', len - pos);
		size_t end = lf ? (size_t)(lf - buf) : len;
		if (memchr(buf + pos, '\0', end - pos) != NULL)
			return -1;
		if (lf == NULL) {
			/* Incomplete line: room for 8192 bytes and the CR of a CRLF. */
			size_t have = len - pos;
			if (have > CGI_HEAD_LINE_MAX_BYTES + 1 ||
			    (have == CGI_HEAD_LINE_MAX_BYTES + 1 && buf[len - 1] != '\r'))
				return -1;
			return 0;
		}
		size_t content = end - pos;
		if (content > 0 && buf[end - 1] == '\r')
			content--;
		if (content > CGI_HEAD_LINE_MAX_BYTES)
			return -1;
		pos = end + 1;
		if (content == 0) {
			if (pos > LONG_MAX)
				return -1;
			return (long)pos;
		}
	}
	return 0;
}

/* "DDD" or "DDD reason"; 100..999. */
static int parse_status(struct http_slice v, struct cgi_head *head)
{
	if (v.len < 3)
		return -1;
	for (int i = 0; i < 3; i++)
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
	int code = (v.p[0] - '0') * 100 + (v.p[1] - '0') * 10 + (v.p[2] - '0');
	if (code < 100)
		return -1;
	if (v.len > 3 && !http_is_ows(v.p[3]))
		return -1;
	const char *r = v.p + 3, *end = v.p + v.len;
	while (r < end && http_is_ows(*r))
		r++;
	head->status = code;
	head->reason = (struct http_slice){ r < end ? r : NULL, (uint32_t)(end - r) };
	return 0;
}

static bool dropped_field(struct http_slice n)
{
	/* We frame the body and write our own; the hop-by-hop ones
	 * (RFC 9110 §7.6.1) mean nothing coming from the program. */
	static const char *const names[] = {
		"connection", "transfer-encoding", "keep-alive", "server", "date",
		"proxy-connection", "upgrade", "te", "trailer",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (http_slice_eq_ci(n, names[i]))
			return true;
	return false;
}

/* One field line [p, end) without its line ending. */
static int parse_field(const char *p, const char *end, struct cgi_head *head, bool *has_status)
{
	const char *n = p;

	while (n < end && http_is_tchar(*n))
		n++;
	if (n == p || n == end || *n != ':')
		return -1;
	struct http_slice name = { p, (uint32_t)(n - p) };
	const char *v = n + 1, *ve = end;
	while (v < ve && http_is_ows(*v))
		v++;
	while (ve > v && http_is_ows(ve[-1]))
		ve--;
	struct http_slice value = { v, (uint32_t)(ve - v) };
	if (!http_is_field_value(value))
		return -1;

	if (http_slice_eq_ci(name, "status")) {
		if (*has_status || parse_status(value, head) < 0)
			return -1;
		*has_status = true;
	} else if (http_slice_eq_ci(name, "content-type")) {
		if (head->content_type.p != NULL || value.len == 0)
			return -1;
		head->content_type = value;
	} else if (http_slice_eq_ci(name, "location")) {
		if (head->location.p != NULL || value.len == 0)
			return -1;
		head->location = value;
	} else if (http_slice_eq_ci(name, "content-length")) {
		int64_t length = http_parse_content_length(value);
		if (head->has_content_length || length < 0)
			return -1;
		head->content_length = (uint64_t)length;
		head->has_content_length = true;
	} else if (!dropped_field(name)) {
		if (head->header_count >= CGI_HEADERS_MAX)
			return -1;
		head->headers[head->header_count].name = name;
		head->headers[head->header_count].value = value;
		head->header_count++;
	}
	return 0;
}

int cgi_head_parse(const char *buf, size_t len, struct cgi_head *head)
{
	bool has_status = false, ended = false;
	size_t pos = 0;

	memset(head, 0, sizeof(*head));
	while (pos < len) {
		const char *lf = memchr(buf + pos, '\n', len - pos);
		if (lf == NULL)
			return -1;
		const char *p = buf + pos, *end = lf;
		if (end > p && end[-1] == '\r')
			end--;
		pos = (size_t)(lf - buf) + 1;
		if ((size_t)(end - p) > CGI_HEAD_LINE_MAX_BYTES)
			return -1;
		if (memchr(p, '\0', (size_t)(end - p)) != NULL ||
		    memchr(p, '\r', (size_t)(end - p)) != NULL)
			return -1;
		if (end == p) {
			ended = true;
			break;
		}
		if (parse_field(p, end, head, &has_status) < 0)
			return -1;
	}
	if (!ended || pos != len)
		return -1;
	if (!has_status && head->content_type.p == NULL && head->location.p == NULL)
		return -1;
	if (!has_status)
		head->status = head->location.p != NULL ? 302 : 200;
	return 0;
}

int cgi_head_write(struct buf *out, const struct cgi_head *head, bool keep_alive, bool chunked,
		   const struct http_date_cache *date)
{
	struct http_resp_head h = {
		.status = head->status,
		.reason = head->reason,
		.keep_alive = keep_alive,
		.chunked = chunked,
		.content_length = head->has_content_length && !chunked
					  ? (int64_t)head->content_length : -1,
		.extra = head->headers,
		.extra_count = head->header_count,
		.content_type = head->content_type,
		.location = head->location,
	};
	return http_resp_write_head(out, &h, date);
}
