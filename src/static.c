#include "static.h"
#include "http_date.h"
#include "uri.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
	MIME_EXT_MAX_BYTES = 16,              /* extension incl. NUL */
	MIME_TYPE_MAX_BYTES = 128,            /* type incl. NUL */
	MIME_FILE_MAX_BYTES = 1024 * 1024,    /* /etc/mime.types read at most */
	MIME_FILE_MAX_ENTRIES = 8192,         /* extensions kept from it */
};

static const char MIME_FILE_PATH[] = "/etc/mime.types";
static const char MIME_DEFAULT[] = "application/octet-stream";

struct mime_ent {
	char ext[MIME_EXT_MAX_BYTES];   /* lower case */
	const char *type;               /* into static_root.mime_text */
};

struct static_root {
	int dirfd;
	bool use_openat2;
	const char *const *index;       /* names tried for a directory, in order */
	unsigned index_count;
	struct mime_ent *mime;          /* sorted by ext, unique */
	size_t mime_count;
	char *mime_text;                /* /etc/mime.types, types NUL-split */
};

static const char *const DEFAULT_INDEX[] = { "index.html" };

/* The built-in table; it wins over /etc/mime.types. */
static const struct {
	const char *ext;
	const char *type;
} MIME_BUILTIN[] = {
	{ "html", "text/html" },
	{ "htm", "text/html" },
	{ "css", "text/css" },
	{ "js", "text/javascript" },
	{ "mjs", "text/javascript" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "svg", "image/svg+xml" },
	{ "json", "application/json" },
	{ "map", "application/json" },
	{ "txt", "text/plain" },
	{ "pdf", "application/pdf" },
	{ "ico", "image/x-icon" },
	{ "wasm", "application/wasm" },
	{ "xml", "application/xml" },
	{ "xhtml", "application/xhtml+xml" },
	{ "csv", "text/csv" },
	{ "md", "text/markdown" },
	{ "webp", "image/webp" },
	{ "avif", "image/avif" },
	{ "bmp", "image/bmp" },
	{ "mp4", "video/mp4" },
	{ "webm", "video/webm" },
	{ "mp3", "audio/mpeg" },
	{ "ogg", "audio/ogg" },
	{ "wav", "audio/wav" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "ttf", "font/ttf" },
	{ "otf", "font/otf" },
	{ "zip", "application/zip" },
	{ "gz", "application/gzip" },
};

/* ---- MIME ---------------------------------------------------------------- */

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* The lower-cased extension of the last path segment of name, into ext.
 * false when there is none (no dot, leading dot only, or too long). */
static bool mime_extension(const char *name, size_t len, char ext[MIME_EXT_MAX_BYTES])
{
	size_t base = len;
	while (base > 0 && name[base - 1] != '/')
		base--;
	size_t dot = len;
	while (dot > base && name[dot - 1] != '.')
		dot--;
	if (dot <= base + 1) /* no dot, or ".name" */
		return false;
	size_t n = len - dot;
	if (n == 0 || n >= MIME_EXT_MAX_BYTES)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (name[dot + i] == '\0')
			return false;
		ext[i] = lower(name[dot + i]);
	}
	ext[n] = '\0';
	return true;
}

static const char *mime_builtin(const char *ext)
{
	for (size_t i = 0; i < sizeof(MIME_BUILTIN) / sizeof(MIME_BUILTIN[0]); i++)
		if (strcmp(MIME_BUILTIN[i].ext, ext) == 0)
			return MIME_BUILTIN[i].type;
	return NULL;
}

const char *static_mime_type(const char *name, size_t len)
{
	char ext[MIME_EXT_MAX_BYTES];
	if (!mime_extension(name, len, ext))
		return MIME_DEFAULT;
	const char *t = mime_builtin(ext);
	return t ? t : MIME_DEFAULT;
}

static int mime_ent_cmp(const void *a, const void *b)
{
	const struct mime_ent *x = a, *y = b;
	int c = strcmp(x->ext, y->ext);
	if (c != 0)
		return c;
	/* Same extension: the earlier line (lower address in the text) first. */
	return (x->type > y->type) - (x->type < y->type);
}

const char *static_root_mime_type(const struct static_root *root,
				  const char *name, size_t len)
{
	char ext[MIME_EXT_MAX_BYTES];
	if (!mime_extension(name, len, ext))
		return MIME_DEFAULT;
	const char *t = mime_builtin(ext);
	if (t)
		return t;
	if (!root || root->mime_count == 0)
		return MIME_DEFAULT;
	size_t lo = 0, hi = root->mime_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ext, root->mime[mid].ext);
		if (c == 0)
			return root->mime[mid].type;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return MIME_DEFAULT;
}

static bool mime_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* A type goes into a response header: only token characters and one '/'. */
static bool mime_type_valid(const char *s, size_t n)
{
	size_t slashes = 0;
	if (n == 0 || n >= MIME_TYPE_MAX_BYTES)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '/') {
			slashes++;
			if (i == 0 || i == n - 1)
				return false;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("!#$&^_.+-", c)))
			return false;
	}
	return slashes == 1;
}

static bool mime_ext_valid(const char *s, size_t n)
{
	if (n == 0 || n >= MIME_EXT_MAX_BYTES)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '+' ||
		      c == '.'))
			return false;
	}
	return true;
}

/* Parse text (NUL-terminated, modified in place) into root->mime. */
static int mime_parse(struct static_root *root, char *text, size_t len)
{
	struct mime_ent *ents = calloc(MIME_FILE_MAX_ENTRIES, sizeof(*ents));
	if (!ents)
		return -1;
	size_t count = 0;
	size_t i = 0;
	while (i < len && count < MIME_FILE_MAX_ENTRIES) {
		size_t eol = i;
		while (eol < len && text[eol] != '\n')
			eol++;
		size_t p = i;
		while (p < eol && mime_is_space(text[p]))
			p++;
		size_t ts = p;
		while (p < eol && !mime_is_space(text[p]))
			p++;
		size_t te = p;
		if (te > ts && text[ts] != '#' && mime_type_valid(text + ts, te - ts)) {
			while (p < eol && count < MIME_FILE_MAX_ENTRIES) {
				while (p < eol && mime_is_space(text[p]))
					p++;
				size_t es = p;
				while (p < eol && !mime_is_space(text[p]))
					p++;
				if (p == es || text[es] == '#')
					break;
				if (!mime_ext_valid(text + es, p - es))
					continue;
				for (size_t k = 0; k < p - es; k++)
					ents[count].ext[k] = lower(text[es + k]);
				ents[count].ext[p - es] = '\0';
				ents[count].type = text + ts;
				count++;
			}
			text[te] = '\0'; /* te < len: text is NUL-terminated */
		}
		i = eol + 1;
	}
	qsort(ents, count, sizeof(*ents), mime_ent_cmp);
	size_t w = 0;
	for (size_t r = 0; r < count; r++)
		if (w == 0 || strcmp(ents[w - 1].ext, ents[r].ext) != 0)
			ents[w++] = ents[r];
	root->mime = ents;
	root->mime_count = w;
	return 0;
}

/* Load /etc/mime.types if present. Missing or unreadable is not an error. */
static void mime_load(struct static_root *root)
{
	int fd = open(MIME_FILE_PATH, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto fail_fd;
	size_t cap = st.st_size < MIME_FILE_MAX_BYTES ? (size_t)st.st_size
						      : (size_t)MIME_FILE_MAX_BYTES;
	char *text = malloc(cap + 1);
	if (!text)
		goto fail_fd;
	size_t len = 0;
	while (len < cap) {
		ssize_t n = read(fd, text + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	close(fd);
	if (mime_parse(root, text, len) != 0) {
		free(text);
		return;
	}
	root->mime_text = text;
	return;
fail_fd:
	close(fd);
}

/* ---- Root ---------------------------------------------------------------- */

static const uint64_t OPEN_FLAGS = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

static int sys_openat2(int dirfd, const char *path, uint64_t flags)
{
	struct open_how how;
	memset(&how, 0, sizeof(how));
	how.flags = flags;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	long r;
	do
		r = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (r < 0 && errno == EINTR);
	return (int)r;
}

struct static_root *static_root_new(const char *dir)
{
	struct static_root *root = calloc(1, sizeof(*root));
	if (!root)
		return NULL;
	static_root_set_index(root, NULL, 0);
	root->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root->dirfd < 0)
		goto fail;
	/* Decide once: a kernel without openat2 says ENOSYS, a seccomp filter
	 * may say EPERM, an old one may reject the resolve flags. */
	int fd = sys_openat2(root->dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		root->use_openat2 = true;
	} else {
		root->use_openat2 = !(errno == ENOSYS || errno == EPERM ||
				      errno == EINVAL || errno == E2BIG);
	}
	mime_load(root);
	return root;
fail:;
	int saved = errno;
	free(root);
	errno = saved;
	return NULL;
}

void static_root_free(struct static_root *root)
{
	if (!root)
		return;
	if (root->dirfd >= 0)
		close(root->dirfd);
	free(root->mime);
	free(root->mime_text);
	free(root);
}

void static_root_force_walk(struct static_root *root)
{
	root->use_openat2 = false;
}

/* ---- Paths --------------------------------------------------------------- */

int static_normalize_path(const char *raw, size_t len, char *out, size_t out_cap)
{
	if (out_cap < 2)
		return 414;
	if (len == 0 || raw[0] != '/')
		return 400;
	/* Invariant: out[0..w) is the normalised prefix and ends with '/'. */
	size_t w = 0;
	out[w++] = '/';
	size_t i = 1;
	while (i < len) {
		size_t seg = w;
		bool slash = false;
		while (i < len) {
			char c = raw[i++];
			if (c == '\0')
				return 400;
			if (c == '%') {
				if (len - i < 2)
					return 400;
				int hi = uri_hex_digit(raw[i]), lo = uri_hex_digit(raw[i + 1]);
				if (hi < 0 || lo < 0)
					return 400;
				i += 2;
				c = (char)(hi << 4 | lo);
				if (c == '\0')
					return 400;
			}
			if (c == '/') {
				slash = true;
				break;
			}
			if (w + 1 >= out_cap)
				return 414;
			out[w++] = c;
		}
		size_t n = w - seg;
		if (n == 0)
			continue;
		if (n == 1 && out[seg] == '.') {
			w = seg;
			continue;
		}
		if (n == 2 && out[seg] == '.' && out[seg + 1] == '.') {
			w = seg;
			if (w == 1)
				return 400; /* above the root */
			w--; /* the '/' ending the previous segment */
			while (out[w - 1] != '/')
				w--;
			continue;
		}
		if (!slash)
			break; /* the last segment, named without '/' */
		if (w + 1 >= out_cap)
			return 414;
		out[w++] = '/';
	}
	out[w] = '\0';
	return 0;
}


static int errno_status(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return 404;
	case EACCES:
	case EPERM:
	case EXDEV:
	case ELOOP:
		return 403;
	case ENAMETOOLONG:
		return 404; /* no such name can exist; the line limit already gave 414 */
	default:
		return 500;
	}
}

static int openat_retry(int dirfd, const char *name, int flags)
{
	int fd;
	do
		fd = openat(dirfd, name, flags);
	while (fd < 0 && errno == EINTR);
	return fd;
}

/* Is name in dirfd a symlink? (O_NOFOLLOW|O_DIRECTORY says ENOTDIR for one.) */
static bool is_symlink_at(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* The fallback: one component at a time, no symlink anywhere. rel is
 * normalised and relative: no "", "." or ".." component, no trailing '/'.
 * Returns the fd or -status. */
static int walk_open(int rootfd, const char *rel)
{
	char comp[STATIC_PATH_MAX];
	int cur = rootfd;
	const char *p = rel;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		memcpy(comp, p, n);
		comp[n] = '\0';
		int fd = slash ? openat_retry(cur, comp, O_PATH | O_DIRECTORY |
						      O_NOFOLLOW | O_CLOEXEC)
			       : openat_retry(cur, comp, (int)OPEN_FLAGS | O_NOFOLLOW);
		int e = errno;
		if (fd < 0 && e == ENOTDIR && slash && is_symlink_at(cur, comp))
			e = ELOOP;
		if (cur != rootfd)
			close(cur);
		if (fd < 0)
			return -errno_status(e);
		if (!slash)
			return fd;
		cur = fd;
		p = slash + 1;
	}
}

/* Open path (normalised, starting with '/', not ending with it) beneath the
 * root. Returns the fd or -status. */
static int root_open(const struct static_root *root, const char *path)
{
	const char *rel = path + 1; /* never empty: "/" gets index.html */
	if (!root->use_openat2)
		return walk_open(root->dirfd, rel);
	int fd = sys_openat2(root->dirfd, rel, OPEN_FLAGS);
	return fd >= 0 ? fd : -errno_status(errno);
}

static void file_fill(struct static_file *f, int fd, const struct stat *st,
		      const char *mime)
{
	f->fd = fd;
	f->size = st->st_size;
	f->mtime = st->st_mtim.tv_sec;
	f->mime = mime;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	uint64_t mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u +
			    (uint64_t)st->st_mtim.tv_nsec;
	snprintf(f->etag, sizeof(f->etag), "\"%llx-%llx-%llx\"",
		 (unsigned long long)st->st_ino, (unsigned long long)st->st_size,
		 (unsigned long long)mtime_ns);
}

void static_root_set_index(struct static_root *root, const char *const *names, unsigned count)
{
	root->index = count ? names : DEFAULT_INDEX;
	root->index_count = count ? count : 1;
}

/* A directory path (ending in '/', plen bytes of path): its first index
 * name that opens. The fd, or -status (404 when none does). */
static int open_index(const struct static_root *root, char *path, size_t plen,
		      const char **name)
{
	int fd = -404;
	for (unsigned i = 0; i < root->index_count; i++) {
		size_t n = strlen(root->index[i]);
		if (plen + n + 1 > STATIC_PATH_MAX)
			return -414;
		memcpy(path + plen, root->index[i], n + 1);
		fd = root_open(root, path);
		if (fd >= 0 || fd != -404) {
			*name = root->index[i];
			return fd; /* found, or an error that is not "missing" */
		}
	}
	return fd;
}

int static_open(const struct static_root *root, const char *raw, size_t len,
		struct static_file *f, char *redirect_out, size_t redirect_cap)
{
	char path[STATIC_PATH_MAX];
	struct stat st;
	f->fd = -1;
	f->size = 0;
	f->mtime = 0;
	f->mime = MIME_DEFAULT;
	f->etag[0] = '\0';
	f->index_name = NULL;
	if (redirect_cap > 0)
		redirect_out[0] = '\0';

	int status = static_normalize_path(raw, len, path, sizeof(path));
	if (status != 0)
		return status;
	size_t plen = strlen(path);
	const char *mime_name = path;
	int fd;
	if (path[plen - 1] == '/') {
		/* A directory: only an index file can be served. "/file/"
		 * gives ENOTDIR → 404, as it should. */
		fd = open_index(root, path, plen, &mime_name);
	} else {
		fd = root_open(root, path);
	}
	if (fd < 0)
		return -fd;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return 500;
	}
	if (S_ISDIR(st.st_mode) && mime_name == path) {
		close(fd);
		if (plen + 2 > sizeof(path))
			return 414;
		path[plen] = '/';
		path[plen + 1] = '\0';
		if (uri_encode_path(path, redirect_out, redirect_cap) != 0)
			return 414;
		return 301;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return 404;
	}
	file_fill(f, fd, &st, static_root_mime_type(root, mime_name, strlen(mime_name)));
	f->index_name = mime_name == path ? NULL : mime_name;
	return 0;
}

int static_open_dir(const struct static_root *root, const char *raw, size_t len, int *fd,
		    char *norm, size_t cap)
{
	*fd = -1;
	int status = static_normalize_path(raw, len, norm, cap);
	if (status != 0)
		return status;
	size_t n = strlen(norm);
	if (norm[n - 1] != '/')
		return 404;
	int d;
	if (n == 1) {
		d = openat_retry(root->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d < 0)
			return errno_status(errno);
	} else {
		/* Without the final slash: "/a/b" (root_open skips the first). */
		char rel[STATIC_PATH_MAX];
		memcpy(rel, norm, n - 1);
		rel[n - 1] = '\0';
		d = root_open(root, rel);
		if (d < 0)
			return -d;
	}
	struct stat st;
	if (fstat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
		close(d);
		return 404;
	}
	*fd = d;
	return 0;
}

void static_file_close(struct static_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* ---- Conditionals and ranges --------------------------------------------- */


/* An entity-tag list (If-None-Match, If-Match): does it contain "*" or a tag
 * equal to etag? strong: a W/ tag never matches (If-Match, RFC 9110
 * §8.8.3.2); otherwise W/ is ignored (If-None-Match's weak comparison).
 * A malformed element ends the scan (what came before still counts), so a
 * broken If-Match never matches and a broken If-None-Match never gives 304:
 * both fail towards sending the full, current representation. */
static bool etag_list_matches(const char *etag, const char *s, size_t len, bool strong)
{
	size_t elen = strlen(etag);
	size_t i = 0;
	for (;;) {
		while (i < len && (http_is_ows(s[i]) || s[i] == ','))
			i++;
		if (i >= len)
			return false;
		if (s[i] == '*')
			return true;
		bool weak = false;
		if (len - i >= 2 && s[i] == 'W' && s[i + 1] == '/') {
			weak = true;
			i += 2;
		}
		if (i >= len || s[i] != '"')
			return false;
		size_t start = i++;
		while (i < len && s[i] != '"')
			i++;
		if (i >= len)
			return false;
		i++; /* closing quote */
		if (!(strong && weak) && i - start == elen &&
		    memcmp(s + start, etag, elen) == 0)
			return true;
		while (i < len && http_is_ows(s[i]))
			i++;
		if (i < len && s[i] != ',')
			return false;
	}
}

static bool if_range_matches(const struct static_file *f, const char *s, size_t len)
{
	if (len >= 2 && s[0] == 'W' && s[1] == '/')
		return false; /* weak tags never match for ranges */
	if (len > 0 && s[0] == '"')
		return len == strlen(f->etag) && memcmp(s, f->etag, len) == 0;
	time_t t = http_date_parse(s, len);
	return t != -1 && t == f->mtime;
}

enum { RANGE_IGNORE = 0, RANGE_OK = 206, RANGE_UNSATISFIABLE = 416 };
enum { RANGE_SPECS_MAX = 16 }; /* more range-specs than this: Range ignored */

/* Decimal digits at s[*i]; saturates at UINT64_MAX. false when none. */
static bool parse_u64(const char *s, size_t len, size_t *i, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = *i;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		uint64_t dgt = (uint64_t)(s[*i] - '0');
		v = v > (UINT64_MAX - dgt) / 10 ? UINT64_MAX : v * 10 + dgt;
		(*i)++;
	}
	*out = v;
	return *i > start;
}

/* One range-spec (RFC 9110 §14.1.1) at s[*i]: "a-b", "a-" or "-n". On
 * RANGE_OK [*first, *last] is inside the file; RANGE_UNSATISFIABLE when it
 * is not (start past the end, "-0", an empty file); RANGE_IGNORE when it is
 * not a range-spec ("a-b" with b < a included: RFC 9110 calls it invalid). */
static int parse_range_spec(const char *s, size_t len, size_t *i, uint64_t size,
			    uint64_t *first, uint64_t *last)
{
	uint64_t a = 0, b = 0;
	bool has_a = parse_u64(s, len, i, &a);
	if (*i >= len || s[*i] != '-')
		return RANGE_IGNORE;
	(*i)++;
	bool has_b = parse_u64(s, len, i, &b);
	if (!has_a && !has_b)
		return RANGE_IGNORE;
	if (!has_a) { /* suffix "-n" */
		if (b == 0 || size == 0)
			return RANGE_UNSATISFIABLE;
		*first = size - (b < size ? b : size);
		*last = size - 1;
		return RANGE_OK;
	}
	if (has_b && b < a)
		return RANGE_IGNORE;
	if (a >= size)
		return RANGE_UNSATISFIABLE;
	*first = a;
	*last = (!has_b || b >= size) ? size - 1 : b;
	return RANGE_OK;
}

/* "bytes=" range-set: up to RANGE_SPECS_MAX specs, answered as one range
 * from the lowest first byte to the highest last byte of the satisfiable
 * ones (RFC 9110 §14.2 lets a server coalesce; one part needs no
 * multipart/byteranges body). Empty list elements are skipped (§5.6.1.2). */
static int parse_range(const char *s, size_t len, uint64_t size, uint64_t *start,
		       uint64_t *count)
{
	static const char unit[] = "bytes";
	size_t ul = sizeof(unit) - 1;
	if (len < ul + 1)
		return RANGE_IGNORE;
	for (size_t k = 0; k < ul; k++)
		if (lower(s[k]) != unit[k])
			return RANGE_IGNORE;
	size_t i = ul;
	if (s[i++] != '=')
		return RANGE_IGNORE;
	uint64_t lo = UINT64_MAX, hi = 0;
	unsigned specs = 0;
	bool satisfiable = false;
	for (;;) {
		while (i < len && (http_is_ows(s[i]) || s[i] == ','))
			i++;
		if (i >= len)
			break;
		if (++specs > RANGE_SPECS_MAX)
			return RANGE_IGNORE;
		uint64_t first = 0, last = 0;
		int r = parse_range_spec(s, len, &i, size, &first, &last);
		if (r == RANGE_IGNORE)
			return RANGE_IGNORE;
		while (i < len && http_is_ows(s[i]))
			i++;
		if (i < len && s[i] != ',') /* junk after a spec */
			return RANGE_IGNORE;
		if (r == RANGE_OK) {
			satisfiable = true;
			lo = first < lo ? first : lo;
			hi = last > hi ? last : hi;
		}
	}
	if (specs == 0)
		return RANGE_IGNORE;
	if (!satisfiable)
		return RANGE_UNSATISFIABLE;
	*start = lo;
	*count = hi - lo + 1;
	return RANGE_OK;
}

/* RFC 9110 §13.2.2 steps 1 and 2: false → 412. */
static bool preconditions_hold(const struct static_file *f, const struct http_request *req)
{
	if (req->if_match.len > 0)
		return etag_list_matches(f->etag, req->if_match.p, req->if_match.len, true);
	if (req->if_unmodified_since.len > 0) {
		time_t t = http_date_parse(req->if_unmodified_since.p,
					   req->if_unmodified_since.len);
		if (t != -1 && f->mtime > t)
			return false; /* an invalid date is ignored (§13.1.4) */
	}
	return true;
}

int static_evaluate(const struct static_file *f, const struct http_request *req,
		    off_t *range_start, off_t *range_len)
{
	*range_start = 0;
	*range_len = 0;
	if (!preconditions_hold(f, req))
		return 412;
	if (req->if_none_match.len > 0) {
		if (etag_list_matches(f->etag, req->if_none_match.p, req->if_none_match.len,
				      false))
			return 304;
	} else if (req->if_modified_since.len > 0) {
		time_t t = http_date_parse(req->if_modified_since.p,
						  req->if_modified_since.len);
		if (t != -1 && f->mtime <= t)
			return 304;
	}
	uint64_t size = f->size > 0 ? (uint64_t)f->size : 0;
	*range_len = (off_t)size;
	if (req->range.len == 0)
		return 200;
	if (req->if_range.len > 0 &&
	    !if_range_matches(f, req->if_range.p, req->if_range.len))
		return 200;
	uint64_t start = 0, count = 0;
	int r = parse_range(req->range.p, req->range.len, size, &start, &count);
	if (r == RANGE_IGNORE)
		return 200;
	if (r == RANGE_UNSATISFIABLE) {
		*range_len = 0;
		return 416;
	}
	*range_start = (off_t)start;
	*range_len = (off_t)count;
	return 206;
}

/* ---- Hidden paths -------------------------------------------------------- */

bool static_path_hidden(const char *path)
{
	static const char WELL_KNOWN[] = ".well-known";
	bool first = true;
	for (const char *p = path; (p = strchr(p, '/')) != NULL; first = false) {
		const char *seg = ++p;
		size_t n = strcspn(seg, "/");
		if (n == 0 || seg[0] != '.')
			continue;
		/* RFC 8615: only the top-level .well-known is public. */
		if (first && n == sizeof(WELL_KNOWN) - 1 && memcmp(seg, WELL_KNOWN, n) == 0)
			continue;
		return true;
	}
	return false;
}
