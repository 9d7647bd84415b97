#include "compress.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	GZIP_WINDOW_WRAPPER = 16,      /* windowBits + 16: a gzip header and trailer */
	ZCACHE_READ_BYTES = 16 * 1024, /* one pread of a file being compressed */
	ZCACHE_BYTES_PER_BUCKET = 4096,
	ZCACHE_BUCKETS_MIN = 16,
};

/* ---- media types -------------------------------------------------------- */

static bool lower_eq(const char *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch != lit[i])
			return false;
	}
	return true;
}

static bool lower_ends_with(const char *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len > n && lower_eq(p + len - n, n, lit);
}

bool compress_type_ok(const char *content_type, size_t len)
{
	/* Whole types (lower case) that are not text/ and have no +json/+xml
	 * suffix. woff/woff2 are compressed already: not listed. */
	static const char *const exact[] = {
		"application/json", "application/javascript", "application/x-javascript",
		"application/ecmascript", "application/xml", "application/wasm",
		"font/ttf", "font/otf", "image/x-icon", "image/vnd.microsoft.icon",
	};
	const char *p = content_type, *end = content_type + len;
	const char *semi = memchr(p, ';', len);
	if (semi)
		end = semi;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t n = (size_t)(end - p);
	const char *slash = memchr(p, '/', n);
	if (!slash || slash == p || slash + 1 == end)
		return false;
	size_t type_len = (size_t)(slash - p);
	if (lower_eq(p, type_len, "text"))
		return true;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (lower_eq(p, n, exact[i]))
			return true;
	/* application/ld+json, image/svg+xml, application/rss+xml, ... */
	const char *sub = slash + 1;
	size_t sub_len = (size_t)(end - sub);
	return lower_ends_with(sub, sub_len, "+json") || lower_ends_with(sub, sub_len, "+xml");
}

/* ---- zlib allocations, counted --------------------------------------------- */

/* Each block carries its size in front, so frees can be counted and a
 * stream can say what it holds. max_align_t keeps zlib's blocks aligned. */
union zblock_head {
	size_t size;
	max_align_t align;
};

static voidpf zalloc_counted(voidpf opaque, uInt items, uInt size)
{
	size_t *counter = opaque;
	if (size != 0 && items > (SIZE_MAX - sizeof(union zblock_head)) / size)
		return Z_NULL;
	size_t bytes = (size_t)items * size;
	union zblock_head *h = malloc(sizeof(*h) + bytes);
	if (!h)
		return Z_NULL;
	h->size = bytes;
	*counter += bytes;
	return h + 1;
}

static void zfree_counted(voidpf opaque, voidpf ptr)
{
	size_t *counter = opaque;
	if (!ptr)
		return;
	union zblock_head *h = (union zblock_head *)ptr - 1;
	*counter -= h->size;
	free(h);
}

/* ---- streaming encoder ---------------------------------------------------- */

int gz_stream_init(struct gz_stream *gz)
{
	memset(gz, 0, sizeof(*gz));
	gz->zs.zalloc = zalloc_counted;
	gz->zs.zfree = zfree_counted;
	gz->zs.opaque = &gz->mem_bytes;
	int rc = deflateInit2(&gz->zs, GZ_STREAM_LEVEL, Z_DEFLATED,
			      GZ_STREAM_WINDOW_BITS + GZIP_WINDOW_WRAPPER, GZ_STREAM_MEM_LEVEL,
			      Z_DEFAULT_STRATEGY);
	if (rc != Z_OK) {
		/* deflateInit2 frees what it took on failure. */
		gz->failed = true;
		errno = rc == Z_MEM_ERROR ? ENOMEM : EINVAL;
		return -1;
	}
	return 0;
}

/* Exactly one deflate() call with mode; the bookkeeping of the flags. */
static size_t gz_step(struct gz_stream *gz, const void *in, size_t in_len, void *out,
		      size_t out_cap, size_t *out_len, int mode)
{
	*out_len = 0;
	if (gz->done || gz->failed || out_cap == 0)
		return 0;
	if (in_len > UINT_MAX)
		in_len = UINT_MAX;
	if (out_cap > UINT_MAX)
		out_cap = UINT_MAX;
	gz->zs.next_in = (Bytef *)(uintptr_t)in; /* zlib never writes through it */
	gz->zs.avail_in = (uInt)in_len;
	gz->zs.next_out = out;
	gz->zs.avail_out = (uInt)out_cap;
	int rc = deflate(&gz->zs, mode);
	size_t used = in_len - gz->zs.avail_in;
	*out_len = out_cap - gz->zs.avail_out;
	gz->zs.next_in = Z_NULL;
	gz->zs.avail_in = 0;
	switch (rc) {
	case Z_OK:
		break;
	case Z_STREAM_END:
		gz->done = true;
		break;
	case Z_BUF_ERROR: /* no progress was possible: not an error */
		break;
	default:
		gz->failed = true;
		return used;
	}
	if (used)
		gz->unflushed = true;
	if (mode == Z_SYNC_FLUSH) {
		/* Complete when zlib left room unused, or had nothing more
		 * (Z_BUF_ERROR on a repeated flush). */
		gz->syncing = rc != Z_BUF_ERROR && gz->zs.avail_out == 0;
		if (!gz->syncing)
			gz->unflushed = false;
	}
	return used;
}

size_t gz_stream_write(struct gz_stream *gz, const void *in, size_t in_len, void *out,
		       size_t out_cap, size_t *out_len, bool finish)
{
	if (gz->syncing) {
		(void)gz_step(gz, NULL, 0, out, out_cap, out_len, Z_SYNC_FLUSH);
		return 0;
	}
	if (finish)
		gz->finishing = true;
	if (gz->finishing)
		return gz_step(gz, in, in_len, out, out_cap, out_len, Z_FINISH);
	return gz_step(gz, in, in_len, out, out_cap, out_len, Z_NO_FLUSH);
}

bool gz_stream_flush(struct gz_stream *gz, void *out, size_t out_cap, size_t *out_len)
{
	*out_len = 0;
	if (gz->done || gz->failed || gz->finishing || (!gz->unflushed && !gz->syncing))
		return true;
	(void)gz_step(gz, NULL, 0, out, out_cap, out_len, Z_SYNC_FLUSH);
	return !gz->syncing && !gz->failed && out_cap > 0;
}

bool gz_stream_done(const struct gz_stream *gz) { return gz->done; }
bool gz_stream_failed(const struct gz_stream *gz) { return gz->failed; }
size_t gz_stream_mem(const struct gz_stream *gz) { return gz->mem_bytes; }

void gz_stream_end(struct gz_stream *gz)
{
	if (gz->zs.state)
		(void)deflateEnd(&gz->zs); /* Z_DATA_ERROR for an unfinished stream: expected */
	gz->zs.state = Z_NULL;
	gz->done = true;
}

/* ---- cache of compressed files --------------------------------------------- */

struct zcache {
	size_t max_bytes, bytes;
	struct zcache_item **buckets;
	size_t bucket_mask;            /* bucket count - 1 (a power of two) */
	struct zcache_item *lru_head, *lru_tail; /* cached; head: most recently used */
	size_t pinned;                 /* bytes of held items: not evictable */
	struct zcache_stats st;
};

struct zcache *zcache_new(size_t max_bytes)
{
	if (max_bytes == 0)
		max_bytes = ZCACHE_MAX_BYTES_DEFAULT;
	size_t want = max_bytes / ZCACHE_BYTES_PER_BUCKET, n = ZCACHE_BUCKETS_MIN;
	while (n < want && n < (SIZE_MAX / sizeof(struct zcache_item *)) / 2)
		n *= 2;
	struct zcache *zc = calloc(1, sizeof(*zc));
	if (!zc)
		return NULL;
	zc->buckets = calloc(n, sizeof(*zc->buckets));
	if (!zc->buckets) {
		free(zc);
		return NULL;
	}
	zc->max_bytes = max_bytes;
	zc->bucket_mask = n - 1;
	return zc;
}

static size_t key_hash(const struct zcache_key *k)
{
	uint64_t h = 0x9e3779b97f4a7c15u;
	const uint64_t parts[] = { (uint64_t)k->dev, (uint64_t)k->ino, (uint64_t)k->size,
				   (uint64_t)k->mtime_ns, (uint64_t)k->coding };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		h ^= parts[i] + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2);
		h *= 0xff51afd7ed558ccdu;
	}
	return (size_t)(h ^ (h >> 33));
}

static bool key_eq(const struct zcache_key *a, const struct zcache_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->coding == b->coding;
}

static void item_destroy(struct zcache_item *it)
{
	if (it->cache)
		it->cache->bytes -= it->cost;
	free((void *)(uintptr_t)it->data);
	free(it);
}

static void lru_unlink(struct zcache *zc, struct zcache_item *it)
{
	if (it->lru_prev)
		it->lru_prev->lru_next = it->lru_next;
	else
		zc->lru_head = it->lru_next;
	if (it->lru_next)
		it->lru_next->lru_prev = it->lru_prev;
	else
		zc->lru_tail = it->lru_prev;
	it->lru_prev = it->lru_next = NULL;
}

static void lru_push_front(struct zcache *zc, struct zcache_item *it)
{
	it->lru_prev = NULL;
	it->lru_next = zc->lru_head;
	if (zc->lru_head)
		zc->lru_head->lru_prev = it;
	zc->lru_head = it;
	if (!zc->lru_tail)
		zc->lru_tail = it;
}

/* Out of the table and the list, and freed: only unheld items are evicted
 * (a held one is in use, and evicting it would free nothing). */
static void item_evict(struct zcache *zc, struct zcache_item *it)
{
	struct zcache_item **pp = &zc->buckets[key_hash(&it->key) & zc->bucket_mask];
	while (*pp != it)
		pp = &(*pp)->hash_next;
	*pp = it->hash_next;
	lru_unlink(zc, it);
	zc->st.items--;
	zc->st.evicted++;
	item_destroy(it);
}

void zcache_free(struct zcache *zc)
{
	if (!zc)
		return;
	while (zc->lru_head) {
		struct zcache_item *it = zc->lru_head;
		lru_unlink(zc, it);
		it->cached = false;
		if (it->refs == 0) {
			item_destroy(it);
			continue;
		}
		it->cache = NULL; /* its last release frees it */
	}
	free(zc->buckets);
	free(zc);
}

void zcache_release(const struct zcache_item *citem)
{
	if (!citem)
		return;
	struct zcache_item *it = (struct zcache_item *)(uintptr_t)citem; /* ours, lent as const */
	if (--it->refs > 0)
		return;
	if (it->cache)
		it->cache->pinned -= it->cost;
	if (!it->cached)
		item_destroy(it); /* the cache is gone */
}

void zcache_stats(const struct zcache *zc, struct zcache_stats *out)
{
	*out = zc->st;
	out->bytes = zc->bytes;
}

/* Compress size bytes of fd into a buffer smaller than size. 1: *data,
 * *len; 0: not smaller; -1: failure (errno). One pread and one deflate()
 * per ZCACHE_READ_BYTES of the file, then one Z_FINISH call: bounded. */
static int compress_file(int fd, off_t size, char **data, size_t *len)
{
	size_t total = (size_t)size, cap = total > 0 ? total - 1 : 0;
	size_t zmem = 0;
	char *out = NULL;
	z_stream zs = { .zalloc = zalloc_counted, .zfree = zfree_counted, .opaque = &zmem };
	if (cap == 0)
		return 0; /* nothing is smaller than an empty file */
	if (!(out = malloc(cap)))
		return -1;
	if (deflateInit2(&zs, ZCACHE_LEVEL, Z_DEFLATED, 15 + GZIP_WINDOW_WRAPPER, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		errno = ENOMEM;
		return -1;
	}
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	int result = -1;
	char in[ZCACHE_READ_BYTES];
	for (size_t off = 0; off < total;) {
		size_t want = total - off < sizeof(in) ? total - off : sizeof(in);
		ssize_t n = pread(fd, in, want, (off_t)off);
		if (n < 0)
			goto done;
		if (n == 0) {
			errno = EIO; /* shorter than its size: changed under us */
			goto done;
		}
		off += (size_t)n;
		zs.next_in = (Bytef *)in;
		zs.avail_in = (uInt)n;
		/* With room left, Z_NO_FLUSH takes all the input; no room left
		 * means the result would not be smaller. */
		int rc = deflate(&zs, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			errno = EINVAL;
			goto done;
		}
		if (zs.avail_in > 0 || zs.avail_out == 0) {
			result = 0;
			goto done;
		}
	}
	int rc = deflate(&zs, Z_FINISH);
	if (rc != Z_STREAM_END) {
		result = rc == Z_OK || rc == Z_BUF_ERROR ? 0 : -1; /* out of room: not smaller */
		if (result < 0)
			errno = EINVAL;
		goto done;
	}
	*len = cap - zs.avail_out;
	char *shrunk = realloc(out, *len);
	*data = shrunk ? shrunk : out; /* a failed shrink keeps the larger block */
	out = NULL;
	result = 1;
done:
	(void)deflateEnd(&zs);
	free(out);
	return result;
}

/* Make room for cost bytes, evicting unheld items from the least recently
 * used end; nothing is evicted when even that could not make room. The
 * walk passes over held items only: at most one per connection. */
static bool make_room(struct zcache *zc, size_t cost)
{
	if (cost > zc->max_bytes || zc->pinned > zc->max_bytes - cost)
		return false;
	for (struct zcache_item *it = zc->lru_tail, *prev; it && zc->bytes + cost > zc->max_bytes;
	     it = prev) {
		prev = it->lru_prev;
		if (it->refs == 0)
			item_evict(zc, it);
	}
	return true; /* what is left is pinned, and pinned + cost fits */
}

const struct zcache_item *zcache_get_or_make(struct zcache *zc, const struct zcache_key *key,
					     int fd, off_t size)
{
	if (!zc || !key || key->coding != ZCACHE_GZIP || size < 0 || key->size != size) {
		errno = EINVAL;
		return NULL;
	}
	size_t b = key_hash(key) & zc->bucket_mask;
	for (struct zcache_item *it = zc->buckets[b]; it; it = it->hash_next) {
		if (!key_eq(&it->key, key))
			continue;
		zc->st.hits++;
		lru_unlink(zc, it);
		lru_push_front(zc, it);
		if (it->negative)
			return NULL;
		if (it->refs++ == 0)
			zc->pinned += it->cost;
		return it;
	}
	if (size > ZCACHE_FILE_MAX_BYTES)
		return NULL; /* not remembered: the size check is as cheap */
	char *data = NULL;
	size_t len = 0;
	int made = compress_file(fd, size, &data, &len);
	if (made < 0)
		return NULL;
	struct zcache_item *it = calloc(1, sizeof(*it));
	if (!it) {
		free(data);
		return NULL;
	}
	it->data = data;
	it->len = len;
	it->key = *key;
	it->negative = made == 0;
	it->cost = sizeof(*it) + len;
	if (!make_room(zc, it->cost)) {
		free(data);
		free(it);
		return NULL;
	}
	it->cache = zc;
	it->cached = true;
	it->hash_next = zc->buckets[b];
	zc->buckets[b] = it;
	lru_push_front(zc, it);
	zc->bytes += it->cost;
	zc->st.items++;
	if (it->negative) {
		zc->st.not_smaller++;
		return NULL;
	}
	zc->st.made++;
	it->refs = 1;
	zc->pinned += it->cost;
	return it;
}
