#include "fcache.h"
#include "accept_enc.h"
#include "compress.h"
#include "site_fields.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "http_date.h"

enum { FCACHE_BUCKETS = 4096 }; /* power of two */

struct fcache {
	const struct static_root *root;
	int notify_fd;
	struct fcache_entry *buckets[FCACHE_BUCKETS];
	struct fcache_entry *newest, *oldest; /* the LRU list (NULL-terminated) */
	unsigned count, max;
	const char *charset;            /* of text types, or NULL */
};

static uint32_t fcache_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a: short keys, no adversarial need (bounded chains) */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

struct fcache *fcache_new(const struct static_root *root, unsigned max_entries)
{
	struct fcache *fc = calloc(1, sizeof(*fc));
	if (!fc)
		return NULL;
	fc->root = root;
	fc->max = max_entries;
	/* Without inotify (EMFILE on watches, old kernels) the once-a-second
	 * revalidation still bounds staleness. */
	fc->notify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return fc;
}

void fcache_set_charset(struct fcache *fc, const char *name)
{
	fc->charset = name;
}

static void lru_remove(struct fcache *fc, struct fcache_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		fc->newest = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		fc->oldest = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void entry_unwatch(struct fcache *fc, struct fcache_entry *e)
{
	if (e->wd < 0)
		return;
	/* The kernel gives one watch per inode: keep it while another entry
	 * (say "/" and "/index.html") still uses it. */
	for (struct fcache_entry *o = fc->newest; o; o = o->lru_next)
		if (o != e && o->wd == e->wd)
			goto shared;
	inotify_rm_watch(fc->notify_fd, e->wd);
shared:
	e->wd = -1;
}

static void entry_destroy(struct fcache_entry *e);

static void variants_drop(struct fcache_entry *e)
{
	for (unsigned k = 0; k < FCACHE_VARIANTS; k++) {
		struct fcache_entry *v = e->variant[k];
		e->variant[k] = NULL;
		if (v && --v->users == 0 && v->stale)
			entry_destroy(v);
	}
}

static void entry_destroy(struct fcache_entry *e)
{
	variants_drop(e);
	static_file_close(&e->file);
	free(e);
}

/* Take e out of the table and the LRU list; free it unless in use. */
static void fcache_unlink(struct fcache *fc, struct fcache_entry *e)
{
	struct fcache_entry **pp = &fc->buckets[e->hash & (FCACHE_BUCKETS - 1)];
	while (*pp && *pp != e)
		pp = &(*pp)->hash_next;
	if (*pp)
		*pp = e->hash_next;
	lru_remove(fc, e);
	fc->count--;
	entry_unwatch(fc, e);
	if (e->users == 0)
		entry_destroy(e);
	else
		e->stale = 1;
}

void fcache_free(struct fcache *fc)
{
	if (!fc)
		return;
	while (fc->newest)
		fcache_unlink(fc, fc->newest);
	if (fc->notify_fd >= 0)
		close(fc->notify_fd);
	free(fc);
}

void fcache_release(struct fcache *fc, struct fcache_entry *e)
{
	(void)fc;
	if (!e)
		return;
	if (--e->users == 0 && e->stale)
		entry_destroy(e);
}

static void lru_push_front(struct fcache *fc, struct fcache_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = fc->newest;
	if (fc->newest)
		fc->newest->lru_prev = e;
	else
		fc->oldest = e;
	fc->newest = e;
}

static void lru_touch(struct fcache *fc, struct fcache_entry *e)
{
	if (fc->newest == e)
		return;
	lru_remove(fc, e);
	lru_push_front(fc, e);
}

/* The fields and, for a small file, its content. -1: the fields do not fit;
 * 1: the file changed while read (no content; serve it uncached). */
static int entry_fill(const struct fcache *fc, struct fcache_entry *e)
{
	char lm[40];
	size_t n = http_date_format(e->file.mtime, lm, sizeof(lm));
	bool charset = fc->charset && site_type_has_charset(e->file.mime);
	int len = snprintf(e->fields, sizeof(e->fields),
			   "Content-Type: %s%s%s\r\nLast-Modified: %.*s\r\nETag: %s\r\n"
			   "Accept-Ranges: bytes\r\n",
			   e->file.mime, charset ? "; charset=" : "", charset ? fc->charset : "",
			   (int)n, lm, e->file.etag);
	if (len < 0 || (size_t)len >= sizeof(e->fields))
		return -1;
	e->fields_len = (uint16_t)len;
	e->compressible = compress_type_ok(e->file.mime, strlen(e->file.mime));
	if (e->file.size > FCACHE_CONTENT_MAX)
		return 0;
	char *content = (char *)e->key + e->key_len + 1;
	size_t done = 0, size = (size_t)e->file.size;
	while (done < size) {
		ssize_t r = pread(e->file.fd, content + done, size - done, (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 1; /* changed under us: serve it uncached this time */
		done += (size_t)r;
	}
	e->content = content;
	return 0;
}

/* Open the file and build a new entry (not yet linked). */
static int entry_new(struct fcache *fc, const char *raw, size_t len, uint32_t hash, time_t now,
		     struct fcache_entry **out, char *redirect_out, size_t redirect_cap)
{
	struct static_file f = { .fd = -1 };
	int status = static_open(fc->root, raw, len, &f, redirect_out, redirect_cap);
	if (status)
		return status;
	size_t extra = f.size <= FCACHE_CONTENT_MAX ? (size_t)f.size : 0;
	struct fcache_entry *e = malloc(sizeof(*e) + len + 1 + extra);
	if (!e) {
		static_file_close(&f);
		return 500;
	}
	memset(e, 0, sizeof(*e));
	e->wd = -1;
	e->file = f;
	char norm[STATIC_PATH_MAX];
	e->hidden = static_normalize_path(raw, len, norm, sizeof(norm)) == 0 &&
		    static_path_hidden(norm);
	e->hash = hash;
	e->checked = now;
	e->key_len = (uint16_t)len;
	memcpy(e->key, raw, len);
	e->key[len] = '\0';
	int filled = entry_fill(fc, e);
	if (filled < 0) {
		entry_destroy(e);
		return 500;
	}
	if (filled > 0)
		e->stale = 1; /* the file is changing: this one request, uncached */
	*out = e;
	return 0;
}

/* Watch the very inode we opened (through its /proc/self/fd link, so no
 * path is resolved outside the root's confinement). */
static void entry_watch(struct fcache *fc, struct fcache_entry *e)
{
	if (fc->notify_fd < 0)
		return;
	char link[40];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", e->file.fd);
	e->wd = inotify_add_watch(fc->notify_fd, link,
				  IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF |
					  IN_MOVE_SELF);
}

int fcache_notify_fd(const struct fcache *fc)
{
	return fc->notify_fd;
}

void fcache_on_notify(struct fcache *fc)
{
	char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(fc->notify_fd, events, sizeof(events));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (char *p = events; p < events + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_IGNORED)
				continue;
			/* Drop every entry on that inode; the next request reopens. */
			struct fcache_entry *e = fc->newest;
			while (e) {
				struct fcache_entry *next = e->lru_next;
				if (e->wd == ev->wd)
					fcache_unlink(fc, e);
				e = next;
			}
		}
	}
}

/* Once a second: is the cached file still what the path names? */
static bool entry_still_valid(struct fcache *fc, struct fcache_entry *e, time_t now)
{
	if (e->checked == now)
		return true;
	struct static_file f = { .fd = -1 };
	char redirect[8];
	int status = static_open(fc->root, e->key, e->key_len, &f, redirect, sizeof(redirect));
	bool same = status == 0 && strcmp(f.etag, e->file.etag) == 0 &&
		    strcmp(f.mime, e->file.mime) == 0;
	static_file_close(&f);
	if (same)
		e->checked = now;
	return same;
}

int fcache_get(struct fcache *fc, const char *raw, size_t len, time_t now,
	       struct fcache_entry **out, char *redirect_out, size_t redirect_cap)
{
	*out = NULL;
	uint32_t hash = fcache_hash(raw, len);
	struct fcache_entry *e = NULL;
	if (len <= FCACHE_KEY_MAX) {
		for (e = fc->buckets[hash & (FCACHE_BUCKETS - 1)]; e; e = e->hash_next)
			if (e->hash == hash && e->key_len == len && memcmp(e->key, raw, len) == 0)
				break;
	}
	if (e && !entry_still_valid(fc, e, now)) {
		fcache_unlink(fc, e);
		e = NULL;
	}
	if (e) {
		lru_touch(fc, e);
		e->users++;
		*out = e;
		return 0;
	}
	int status = entry_new(fc, raw, len, hash, now, &e, redirect_out, redirect_cap);
	if (status)
		return status;
	e->users = 1;
	*out = e;
	if (len > FCACHE_KEY_MAX || fc->max == 0 || e->stale) {
		e->stale = 1; /* uncached: freed on release */
		return 0;
	}
	while (fc->count >= fc->max && fc->oldest)
		fcache_unlink(fc, fc->oldest);
	entry_watch(fc, e);
	struct fcache_entry **bucket = &fc->buckets[hash & (FCACHE_BUCKETS - 1)];
	e->hash_next = *bucket;
	*bucket = e;
	lru_push_front(fc, e);
	fc->count++;
	return 0;
}

/* ---- precompressed sidecars --------------------------------------------- */

_Static_assert(CODING_GZIP == 1 && (int)CODING_ZSTD == (int)FCACHE_VARIANTS,
	       "variant[k] is coding k + 1");

static bool variants_fresh(const struct fcache_entry *e, time_t now)
{
	if (e->variants_checked != now)
		return false;
	for (unsigned k = 0; k < FCACHE_VARIANTS; k++)
		if (e->variant[k] && e->variant[k]->stale)
			return false; /* changed since: look again */
	return true;
}

unsigned fcache_variants(struct fcache *fc, struct fcache_entry *e, time_t now)
{
	if (!variants_fresh(e, now)) {
		variants_drop(e);
		e->variants_checked = now;
		char key[FCACHE_KEY_MAX + 64];
		const char *index = e->file.index_name ? e->file.index_name : "";
		size_t base = (size_t)e->key_len + strlen(index);
		for (unsigned k = 0; k < FCACHE_VARIANTS && base + 5 <= sizeof(key); k++) {
			int n = snprintf(key, sizeof(key), "%.*s%s%s", (int)e->key_len, e->key, index,
					 content_coding_suffix(k + 1));
			struct fcache_entry *v = NULL;
			char redirect[8];
			if (n < 0 || (size_t)n >= sizeof(key) ||
			    fcache_get(fc, key, (size_t)n, now, &v, redirect, sizeof(redirect)) != 0)
				continue;
			/* Older than the file: a leftover of an earlier version. */
			if (v->file.mtime < e->file.mtime) {
				fcache_release(fc, v);
				continue;
			}
			e->variant[k] = v; /* the entry's own reference */
		}
	}
	unsigned set = 0;
	for (unsigned k = 0; k < FCACHE_VARIANTS; k++)
		if (e->variant[k])
			set |= 1u << (k + 1);
	return set;
}

struct fcache_entry *fcache_variant_get(struct fcache_entry *e, unsigned coding)
{
	if (coding < 1 || coding > FCACHE_VARIANTS || !e->variant[coding - 1])
		return NULL;
	struct fcache_entry *v = e->variant[coding - 1];
	v->users++;
	return v;
}
