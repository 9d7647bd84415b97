#include "listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- output buffer -------------------------------------------------------
 * A growing string with a sticky failure flag: every append after an
 * allocation failure does nothing, so the renderers read straight down and
 * check once at the end. Invariant: len < cap whenever p != NULL (room for
 * the NUL). */

struct sb {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_put(struct sb *b, const void *src, size_t n)
{
	if (b->failed)
		return;
	if (n >= b->cap - b->len || !b->p) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len <= n) {
			if (cap > SIZE_MAX / 2) {
				b->failed = true;
				return;
			}
			cap *= 2;
		}
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* ---- byte classes and escaping -------------------------------------------- */

/* The length of the valid UTF-8 sequence starting at s (n bytes available),
 * or 0 if none starts there: no overlong forms, no surrogates, nothing above
 * U+10FFFF (RFC 3629 §4). */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD in UTF-8 */

/* Text content or a double-quoted attribute value. C0 controls and DEL are
 * replaced too: HTML calls them parse errors, and a newline in a name would
 * otherwise read as a space. */
static void put_html_text(struct sb *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		const char *rep = NULL;
		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default:
			if (c < 0x20 || c == 0x7F)
				rep = REPLACEMENT;
		}
		if (rep) {
			sb_puts(b, rep);
			i++;
			continue;
		}
		size_t len = utf8_seq_len(u + i, n - i);
		if (len == 0) {
			sb_puts(b, REPLACEMENT);
			i++;
			continue;
		}
		sb_put(b, u + i, len);
		i += len;
	}
}

/* Bytes an href keeps as they are: unreserved plus the sub-delims that mean
 * nothing inside one path segment and nothing to HTML. Everything else,
 * including ':' (a scheme in a relative reference), '&', '\'', '%', '?',
 * '#', '"', '<', '>', controls and every non-ASCII byte, is %XX. */
static bool href_keeps(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("-._~!$()*+,;=@", c) != NULL);
}

static void put_href(struct sb *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (href_keeps(c)) {
			sb_put(b, &s[i], 1);
			continue;
		}
		char enc[3] = { '%', hex[c >> 4], hex[c & 15] };
		sb_put(b, enc, sizeof(enc));
	}
}

/* A JSON string, quotes included (RFC 8259 §7). */
static void put_json_str(struct sb *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	sb_put(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			sb_put(b, esc, sizeof(esc));
			i++;
			continue;
		}
		if (c < 0x20) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			sb_put(b, esc, sizeof(esc));
			i++;
			continue;
		}
		size_t len = utf8_seq_len(u + i, n - i);
		if (len == 0) {
			sb_puts(b, "\\ufffd");
			i++;
			continue;
		}
		sb_put(b, u + i, len);
		i += len;
	}
	sb_put(b, "\"", 1);
}

/* ---- reading the directory ------------------------------------------------ */

enum entry_type { ENTRY_FILE, ENTRY_DIR, ENTRY_LINK };

struct entry {
	char *name; /* NUL-terminated, len <= NAME_MAX */
	size_t len;
	enum entry_type type;
	off_t size;
	time_t mtime;
};

struct entries {
	struct entry *v;
	size_t n, cap;
	bool truncated;
};

static void entries_reset(struct entries *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].name);
	free(e->v);
	*e = (struct entries){ 0 };
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Append one entry (name copied). 0, or -1/ENOMEM. */
static int entries_add(struct entries *e, const char *name, size_t len, enum entry_type type,
		       const struct stat *st)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		struct entry *v = realloc(e->v, cap * sizeof(*v));
		if (!v)
			return -1;
		e->v = v;
		e->cap = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, name, len + 1);
	e->v[e->n++] = (struct entry){ .name = copy, .len = len, .type = type,
				       .size = type == ENTRY_FILE ? st->st_size : 0,
				       .mtime = st->st_mtim.tv_sec };
	return 0;
}

/* Read up to max listable entries of dirfd into e, sorted. The directory is
 * opened afresh with openat(".") rather than dup(): a dup shares the file
 * offset, so reading it would move the caller's descriptor. 0, or -1 with
 * errno; e is empty on failure. */
static int entries_read(int dirfd, size_t max, struct entries *e)
{
	*e = (struct entries){ 0 };
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno != 0)
				goto fail;
			break;
		}
		if (de->d_name[0] == '.')
			continue; /* ".", ".." and hidden names */
		size_t len = strlen(de->d_name);
		if (len > NAME_MAX)
			continue; /* not on Linux; keeps the bound in the header true */
		struct stat st;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOMEM)
				goto fail;
			continue; /* gone since readdir, or not ours to see */
		}
		enum entry_type type;
		if (S_ISREG(st.st_mode))
			type = ENTRY_FILE;
		else if (S_ISDIR(st.st_mode))
			type = ENTRY_DIR;
		else if (S_ISLNK(st.st_mode))
			type = ENTRY_LINK;
		else
			continue; /* sockets, fifos, devices */
		if (e->n == max) {
			e->truncated = true;
			break;
		}
		if (entries_add(e, de->d_name, len, type, &st) != 0)
			goto fail;
	}
	closedir(d);
	if (e->n > 1)
		qsort(e->v, e->n, sizeof(e->v[0]), entry_cmp);
	return 0;
fail:;
	int saved = errno ? errno : EIO;
	closedir(d);
	entries_reset(e);
	errno = saved;
	return -1;
}

/* ---- renderers ------------------------------------------------------------ */

static void put_html_row(struct sb *b, const struct entry *en)
{
	char size[32] = "-", when[64] = "-";
	struct tm tm;
	if (en->type == ENTRY_FILE)
		snprintf(size, sizeof(size), "%lld", (long long)en->size);
	if (gmtime_r(&en->mtime, &tm))
		snprintf(when, sizeof(when), "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
	const char *slash = en->type == ENTRY_DIR ? "/" : "";
	sb_puts(b, "<tr><td><a href=\"");
	put_href(b, en->name, en->len);
	sb_puts(b, slash);
	sb_puts(b, "\">");
	put_html_text(b, en->name, en->len);
	sb_puts(b, slash);
	sb_puts(b, "</a></td><td>");
	sb_puts(b, size);
	sb_puts(b, "</td><td>");
	sb_puts(b, when);
	sb_puts(b, "</td></tr>\n");
}

static void render_html(struct sb *b, const char *url_path, const struct entries *e)
{
	size_t plen = strlen(url_path);
	sb_puts(b, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
		   "<title>Index of ");
	put_html_text(b, url_path, plen);
	sb_puts(b, "</title>\n</head>\n<body>\n<h1>Index of ");
	put_html_text(b, url_path, plen);
	sb_puts(b, "</h1>\n<table>\n"
		   "<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n");
	if (strcmp(url_path, "/") != 0)
		sb_puts(b, "<tr><td><a href=\"../\">../</a></td><td>-</td><td>-</td></tr>\n");
	for (size_t i = 0; i < e->n; i++)
		put_html_row(b, &e->v[i]);
	sb_puts(b, "</table>\n");
	if (e->truncated) {
		char note[96];
		snprintf(note, sizeof(note), "<p>Listing truncated: only the first %zu entries read are shown.</p>\n",
			 e->n);
		sb_puts(b, note);
	}
	sb_puts(b, "</body>\n</html>\n");
}

static const char *const TYPE_NAMES[] = {
	[ENTRY_FILE] = "file", [ENTRY_DIR] = "dir", [ENTRY_LINK] = "link",
};

static void put_json_entry(struct sb *b, const struct entry *en)
{
	char num[96];
	struct tm tm;
	sb_puts(b, "{\"name\": ");
	put_json_str(b, en->name, en->len);
	sb_puts(b, ", \"type\": \"");
	sb_puts(b, TYPE_NAMES[en->type]);
	sb_puts(b, "\"");
	if (en->type == ENTRY_FILE) {
		snprintf(num, sizeof(num), ", \"size\": %lld", (long long)en->size);
		sb_puts(b, num);
	}
	snprintf(num, sizeof(num), ", \"mtime\": %lld, \"modified\": ", (long long)en->mtime);
	sb_puts(b, num);
	/* RFC 3339 needs a four-digit year. */
	if (gmtime_r(&en->mtime, &tm) && tm.tm_year >= -1900 && tm.tm_year <= 9999 - 1900) {
		snprintf(num, sizeof(num), "\"%04d-%02d-%02dT%02d:%02d:%02dZ\"", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		sb_puts(b, num);
	} else {
		sb_puts(b, "null");
	}
	sb_puts(b, "}");
}

static void render_json(struct sb *b, const char *url_path, const struct entries *e)
{
	sb_puts(b, "{\"path\": ");
	put_json_str(b, url_path, strlen(url_path));
	sb_puts(b, ", \"entries\": [");
	for (size_t i = 0; i < e->n; i++) {
		sb_puts(b, i ? ",\n  " : "\n  ");
		put_json_entry(b, &e->v[i]);
	}
	sb_puts(b, e->n ? "\n], \"truncated\": " : "], \"truncated\": ");
	sb_puts(b, e->truncated ? "true}\n" : "false}\n");
}

/* listing_render with the entry cap as a parameter (the tests use a small
 * one). */
static int listing_render_max(int dirfd, const char *url_path, enum listing_format fmt,
			      size_t max_entries, char **out, size_t *out_len)
{
	if (!url_path || !out || !out_len) {
		errno = EINVAL;
		return -1;
	}
	*out = NULL;
	*out_len = 0;
	struct entries e;
	if (entries_read(dirfd, max_entries, &e) != 0)
		return -1;
	struct sb b = { 0 };
	if (fmt == LISTING_JSON)
		render_json(&b, url_path, &e);
	else
		render_html(&b, url_path, &e);
	entries_reset(&e);
	if (b.failed) {
		free(b.p);
		errno = ENOMEM;
		return -1;
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}

int listing_render(int dirfd, const char *url_path, enum listing_format fmt, char **out,
		   size_t *out_len)
{
	return listing_render_max(dirfd, url_path, fmt, LISTING_MAX_ENTRIES, out, out_len);
}

/* ---- Accept --------------------------------------------------------------- */

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim optional whitespace from both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_ows(**s))
		(*s)++;
	while (*e > *s && is_ows((*e)[-1]))
		(*e)--;
}

static bool span_eq(const char *s, const char *e, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(e - s) == n && strncasecmp(s, lit, n) == 0;
}

/* The end of the list member or parameter starting at s: the next `sep`
 * outside a quoted-string, or end. */
static const char *next_sep(const char *s, const char *end, char sep)
{
	bool quoted = false;
	for (; s < end; s++) {
		if (quoted && *s == '\\' && s + 1 < end)
			s++;
		else if (*s == '"')
			quoted = !quoted;
		else if (!quoted && *s == sep)
			return s;
	}
	return end;
}

/* A qvalue (RFC 9110 §12.4.2) in thousandths, or -1: "0" ["." 0*3DIGIT]
 * or "1" ["." 0*3"0"]. */
static int parse_qvalue(const char *s, const char *e)
{
	if (s == e || (*s != '0' && *s != '1'))
		return -1;
	int q = (*s - '0') * 1000;
	s++;
	if (s == e)
		return q;
	if (*s != '.' || e - s > 4)
		return -1;
	int scale = 100;
	for (s++; s < e; s++, scale /= 10) {
		if (*s < '0' || *s > '9')
			return -1;
		q += (*s - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

/* The q of one media-range member [s, e) in thousandths (1000 without a q
 * parameter), or -1 if its q is malformed. */
static int member_q(const char *s, const char *e)
{
	int q = 1000;
	while (s < e) {
		const char *pe = next_sep(s, e, ';');
		const char *eq = memchr(s, '=', (size_t)(pe - s));
		if (eq) {
			const char *ns = s, *ne = eq, *vs = eq + 1, *ve = pe;
			trim(&ns, &ne);
			trim(&vs, &ve);
			if (span_eq(ns, ne, "q"))
				q = parse_qvalue(vs, ve);
		}
		s = pe < e ? pe + 1 : e;
	}
	return q;
}

bool listing_wants_json(const char *accept, size_t len)
{
	if (!accept)
		return false;
	/* -1: not seen yet; index is the member's position in the list. */
	int json_q = -1, html_q = -1;
	size_t json_at = 0, html_at = 0, index = 0;
	const char *end = accept + len;
	for (const char *s = accept; s < end; index++) {
		const char *me = next_sep(s, end, ',');
		const char *ts = s, *te = next_sep(s, me, ';');
		trim(&ts, &te);
		int *q = NULL;
		size_t *at = NULL;
		if (span_eq(ts, te, "application/json")) {
			q = &json_q;
			at = &json_at;
		} else if (span_eq(ts, te, "text/html")) {
			q = &html_q;
			at = &html_at;
		}
		if (q && *q < 0) {
			*q = member_q(te, me); /* a bad q stays "not seen" */
			*at = index;
		}
		s = me < end ? me + 1 : end;
	}
	if (json_q <= 0)
		return false;
	if (html_q <= 0)
		return true;
	return json_q > html_q || (json_q == html_q && json_at < html_at);
}
