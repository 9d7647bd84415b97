/*
 * Unit tests for compress.c.
 *
 *   types       a table of Content-Type values and whether they compress
 *               (parameters, case, whitespace, suffixes, junk);
 *   gz_stream   round trip through zlib's inflate for a table of input
 *               sizes, step sizes and output room (down to one byte a call),
 *               with sync flushes: after each completed flush everything
 *               written so far inflates; every call stays within its input
 *               and output; memory never exceeds GZ_STREAM_MEM_BYTES plus
 *               zlib's state struct; init fails cleanly without memory;
 *   zcache      round trip; a hit reads nothing; an incompressible file is
 *               a negative entry (NULL, and not read again); a changed file
 *               (another key) is compressed again; over ZCACHE_FILE_MAX_BYTES
 *               and short files give NULL and remember nothing; a table of
 *               access sequences and which items stay (LRU by bytes, held
 *               items passed over); the bound holds at every step; an item
 *               that cannot fit beside the held ones is not kept and evicts
 *               nothing; held items survive the cache's end (and stay intact
 *               while others go); every allocation failing in turn gives NULL
 *               and leaks nothing (the asan variant checks).
 *
 * compress.c is included so its pread can be counted and malloc, calloc
 * and realloc made to fail on demand. Table rows carry their __LINE__.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

/* ---- hooks into compress.c -------------------------------------------------- */

static long alloc_budget = -1; /* allocations left before they fail; -1: no limit */
static unsigned pread_calls;

static bool alloc_allowed(void)
{
	if (alloc_budget < 0)
		return true;
	if (alloc_budget == 0)
		return false;
	alloc_budget--;
	return true;
}

static void *budget_malloc(size_t n) { return alloc_allowed() ? malloc(n) : NULL; }
static void *budget_calloc(size_t k, size_t n) { return alloc_allowed() ? calloc(k, n) : NULL; }
static void *budget_realloc(void *p, size_t n) { return alloc_allowed() ? realloc(p, n) : NULL; }
static ssize_t test_pread(int fd, void *buf, size_t n, off_t off)
{
	pread_calls++;
	return pread(fd, buf, n, off);
}

#define malloc budget_malloc
#define calloc budget_calloc
#define realloc budget_realloc
#define pread test_pread
#include "compress.c"
#undef malloc
#undef calloc
#undef realloc
#undef pread

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_compress.c:%d: %s: ", (line), (name));       \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

/* ---- data ------------------------------------------------------------------------ */

/* Text that compresses (words from a small list, deterministic). */
static char *make_text(size_t n, uint32_t seed)
{
	static const char *const words[] = { "lisod ", "serves ", "static ", "files ", "and ",
					     "runs ", "CGI ", "programs ", "<p>", "</p>\n" };
	char *p = malloc(n + 1);
	assert_non_null(p);
	size_t i = 0;
	while (i < n) {
		seed = seed * 1103515245u + 12345u;
		const char *w = words[(seed >> 16) % ARRAY_LEN(words)];
		for (size_t k = 0; w[k] && i < n; k++)
			p[i++] = w[k];
	}
	p[n] = '\0';
	return p;
}

/* Bytes that do not compress. */
static char *make_noise(size_t n, uint64_t seed)
{
	char *p = malloc(n ? n : 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		p[i] = (char)(seed >> 24);
	}
	return p;
}

static int memfile(const void *data, size_t n)
{
	int fd = memfd_create("zcache-test", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	return fd;
}

/* Inflate a gzip stream (or a sync-flushed prefix of one). -1: invalid. */
static long gunzip(const void *in, size_t in_len, char *out, size_t out_cap, bool *ended)
{
	z_stream zs = { 0 };
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)out_cap;
	int rc = inflate(&zs, Z_SYNC_FLUSH);
	long n = (long)(out_cap - zs.avail_out);
	*ended = rc == Z_STREAM_END;
	if (rc != Z_OK && rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && zs.avail_in == 0))
		n = -1;
	if (*ended && zs.avail_in != 0)
		n = -1; /* bytes after the trailer */
	inflateEnd(&zs);
	return n;
}

/* ---- media types ----------------------------------------------------------------- */

static void test_type_table(void **state)
{
	(void)state;
	static const struct {
		int line;
		const char *type;
		bool ok;
	} rows[] = {
		{ __LINE__, "text/html", true },
		{ __LINE__, "text/plain; charset=utf-8", true },
		{ __LINE__, "TEXT/CSS", true },
		{ __LINE__, "  text/html  ;charset=x", true },
		{ __LINE__, "text/event-stream", true },
		{ __LINE__, "application/json", true },
		{ __LINE__, "Application/JSON;charset=utf-8", true },
		{ __LINE__, "application/javascript", true },
		{ __LINE__, "application/xml", true },
		{ __LINE__, "application/xhtml+xml", true },
		{ __LINE__, "application/rss+xml", true },
		{ __LINE__, "application/atom+xml", true },
		{ __LINE__, "application/wasm", true },
		{ __LINE__, "application/manifest+json", true },
		{ __LINE__, "application/ld+json", true },
		{ __LINE__, "application/problem+json", true },
		{ __LINE__, "application/vnd.api+json", true },
		{ __LINE__, "image/svg+xml", true },
		{ __LINE__, "font/ttf", true },
		{ __LINE__, "font/otf", true },
		{ __LINE__, "image/x-icon", true },
		{ __LINE__, "image/png", false },
		{ __LINE__, "image/jpeg", false },
		{ __LINE__, "image/webp", false },
		{ __LINE__, "video/mp4", false },
		{ __LINE__, "audio/mpeg", false },
		{ __LINE__, "application/zip", false },
		{ __LINE__, "application/gzip", false },
		{ __LINE__, "font/woff2", false },
		{ __LINE__, "font/woff", false },
		{ __LINE__, "application/octet-stream", false },
		{ __LINE__, "application/jsonx", false },
		{ __LINE__, "application/+json", false }, /* no subtype name before the suffix */
		{ __LINE__, "application/json+", false },
		{ __LINE__, "text", false },
		{ __LINE__, "text/", false },
		{ __LINE__, "/html", false },
		{ __LINE__, "", false },
		{ __LINE__, ";charset=utf-8", false },
		{ __LINE__, "texts/html", false },
	};
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		bool got = compress_type_ok(rows[i].type, strlen(rows[i].type));
		if (got != rows[i].ok)
			FAIL_ROW(rows[i].line, rows[i].type, "got %d", got);
	}
	/* Not NUL-terminated: only len bytes count. */
	if (!compress_type_ok("text/htmlXXXX", 9) || compress_type_ok("image/pngtext", 9))
		FAIL_ROW(__LINE__, "length", "bytes past len were read");
	assert_int_equal(failures, 0);
}

/* ---- gz_stream ------------------------------------------------------------------- */

/* zlib's own state struct, besides the formula's buffers (generous). */
enum { ZLIB_STATE_SLACK_BYTES = 8 * 1024 };

static void test_stream_round_trip_table(void **state)
{
	(void)state;
	static const struct {
		int line;
		const char *name;
		size_t total, in_step, out_cap, flush_every; /* flush_every 0: never */
		bool noise;
	} rows[] = {
		{ __LINE__, "empty", 0, 1, 64, 0, false },
		{ __LINE__, "one byte", 1, 1, 64, 0, false },
		{ __LINE__, "text, big steps", 200000, 16384, 16384, 0, false },
		{ __LINE__, "text, output one byte a call", 20000, 4096, 1, 0, false },
		{ __LINE__, "text, odd sizes", 100000, 777, 33, 0, false },
		{ __LINE__, "text, flushes", 100000, 1000, 512, 3, false },
		{ __LINE__, "text, flush each write, tiny room", 30000, 500, 7, 1, false },
		{ __LINE__, "noise, small room", 70000, 5000, 100, 2, true },
		{ __LINE__, "noise, big", 300000, 16384, 16384, 0, true },
	};
	int failures = 0;
	for (size_t r = 0; r < ARRAY_LEN(rows); r++) {
		size_t total = rows[r].total;
		char *in = rows[r].noise ? make_noise(total, 0x1234 + r) : make_text(total, (uint32_t)r);
		size_t zcap = total + total / 2 + 4096, zlen = 0;
		char *z = malloc(zcap), *back = malloc(total + 1);
		assert_non_null(z);
		assert_non_null(back);
		struct gz_stream *gz = malloc(sizeof(*gz));
		assert_non_null(gz);
		assert_int_equal(gz_stream_init(gz), 0);
		size_t off = 0, writes = 0, calls = 0, peak = gz_stream_mem(gz);
		bool ok = true;
		/* Input, with a sync flush after every flush_every-th write. */
		while (off < total && ok) {
			size_t n = total - off < rows[r].in_step ? total - off : rows[r].in_step;
			size_t room = zcap - zlen < rows[r].out_cap ? zcap - zlen : rows[r].out_cap;
			size_t got = 0, used = gz_stream_write(gz, in + off, n, z + zlen, room, &got, false);
			if (used > n || got > room)
				ok = false;
			off += used;
			zlen += got;
			writes += used > 0;
			if (rows[r].flush_every && used > 0 && writes % rows[r].flush_every == 0) {
				bool done = false;
				for (size_t k = 0; !done && k < 100000; k++) {
					room = zcap - zlen < rows[r].out_cap ? zcap - zlen : rows[r].out_cap;
					done = gz_stream_flush(gz, z + zlen, room, &got);
					if (got > room)
						ok = false;
					zlen += got;
				}
				/* Everything so far is decodable now. */
				bool ended = true;
				long have = gunzip(z, zlen, back, total + 1, &ended);
				if (!done || have != (long)off || ended || memcmp(back, in, off) != 0) {
					FAIL_ROW(rows[r].line, rows[r].name,
						 "after a flush at %zu: inflated %ld", off, have);
					ok = false;
				}
			}
			if (gz_stream_mem(gz) > peak)
				peak = gz_stream_mem(gz);
			if (++calls > 10 * total + 1000)
				ok = false; /* no progress */
		}
		/* Finish: repeated calls until done, each within its room. */
		for (size_t k = 0; ok && !gz_stream_done(gz) && k < 1000000; k++) {
			size_t room = zcap - zlen < rows[r].out_cap ? zcap - zlen : rows[r].out_cap;
			size_t got = 0;
			(void)gz_stream_write(gz, NULL, 0, z + zlen, room, &got, true);
			if (got > room)
				ok = false;
			zlen += got;
		}
		if (!ok || !gz_stream_done(gz) || gz_stream_failed(gz)) {
			FAIL_ROW(rows[r].line, rows[r].name, "stream did not finish cleanly");
		} else {
			bool ended = false;
			long have = gunzip(z, zlen, back, total + 1, &ended);
			if (have != (long)total || !ended || memcmp(back, in, total) != 0)
				FAIL_ROW(rows[r].line, rows[r].name, "inflated %ld of %zu", have, total);
			size_t extra = 0;
			if (gz_stream_write(gz, "x", 1, z, 1, &extra, false) != 0 || extra != 0)
				FAIL_ROW(rows[r].line, rows[r].name, "a done stream took more");
		}
		if (peak > GZ_STREAM_MEM_BYTES + ZLIB_STATE_SLACK_BYTES)
			FAIL_ROW(rows[r].line, rows[r].name, "peak memory %zu", peak);
		gz_stream_end(gz);
		if (gz_stream_mem(gz) != 0)
			FAIL_ROW(rows[r].line, rows[r].name, "%zu bytes left after end", gz_stream_mem(gz));
		gz_stream_end(gz); /* twice: harmless */
		free(gz);
		free(in);
		free(z);
		free(back);
	}
	assert_int_equal(failures, 0);
}

/* Calls with no room or nothing to do are not errors. */
static void test_stream_no_room(void **state)
{
	(void)state;
	struct gz_stream gz;
	char out[64];
	size_t got = 99;
	assert_int_equal(gz_stream_init(&gz), 0);
	assert_int_equal(gz_stream_write(&gz, "abc", 3, out, 0, &got, false), 0);
	assert_int_equal(got, 0);
	/* Nothing written yet: a flush has nothing to do. */
	assert_true(gz_stream_flush(&gz, out, sizeof(out), &got));
	assert_int_equal(got, 0);
	assert_int_equal(gz_stream_write(&gz, "abc", 3, out, sizeof(out), &got, false), 3);
	assert_false(gz_stream_failed(&gz));
	/* A flush with no room is not complete. */
	assert_false(gz_stream_flush(&gz, out, 0, &got));
	assert_true(gz_stream_flush(&gz, out, sizeof(out), &got));
	assert_true(got > 0);
	/* A second flush right after: nothing to do. */
	assert_true(gz_stream_flush(&gz, out, sizeof(out), &got));
	assert_int_equal(got, 0);
	gz_stream_end(&gz);
}

static void test_stream_init_without_memory(void **state)
{
	(void)state;
	for (long budget = 0; budget < 8; budget++) {
		struct gz_stream gz;
		alloc_budget = budget;
		int rc = gz_stream_init(&gz);
		alloc_budget = -1;
		if (rc < 0) {
			assert_int_equal(errno, ENOMEM);
			assert_int_equal(gz_stream_mem(&gz), 0);
			gz_stream_end(&gz); /* allowed after a failed init */
			continue;
		}
		gz_stream_end(&gz);
		assert_int_equal(gz_stream_mem(&gz), 0);
		return; /* init needs `budget` allocations; every smaller one failed cleanly */
	}
	fail_msg("gz_stream_init never succeeded");
}

/* ---- zcache ------------------------------------------------------------------------ */

static struct zcache_key key_of(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return (struct zcache_key){ .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
				    .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
						st.st_mtim.tv_nsec,
				    .coding = ZCACHE_GZIP };
}

static void check_item(const struct zcache_item *it, const char *data, size_t n)
{
	assert_non_null(it);
	assert_true(it->len < n);
	char *back = malloc(n + 1);
	assert_non_null(back);
	bool ended = false;
	assert_int_equal(gunzip(it->data, it->len, back, n + 1, &ended), (long)n);
	assert_true(ended);
	assert_memory_equal(back, data, n);
	free(back);
}

static void test_zcache_round_trip_and_hit(void **state)
{
	(void)state;
	size_t n = 100000;
	char *text = make_text(n, 7);
	int fd = memfile(text, n);
	struct zcache *zc = zcache_new(0);
	assert_non_null(zc);
	struct zcache_key k = key_of(fd);
	pread_calls = 0;
	const struct zcache_item *a = zcache_get_or_make(zc, &k, fd, (off_t)n);
	check_item(a, text, n);
	unsigned reads = pread_calls;
	assert_true(reads >= n / ZCACHE_READ_BYTES);
	const struct zcache_item *b = zcache_get_or_make(zc, &k, fd, (off_t)n);
	assert_ptr_equal(a, b);
	assert_int_equal(pread_calls, reads); /* a hit reads nothing */
	struct zcache_stats st;
	zcache_stats(zc, &st);
	assert_int_equal(st.items, 1);
	assert_int_equal(st.made, 1);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.bytes, sizeof(struct zcache_item) + a->len);
	zcache_release(a);
	zcache_release(b);

	/* The file changes: another key, compressed again. */
	char *text2 = make_text(n, 8);
	assert_int_equal(pwrite(fd, text2, n, 0), (ssize_t)n);
	struct zcache_key k2 = k;
	k2.mtime_ns++;
	const struct zcache_item *c = zcache_get_or_make(zc, &k2, fd, (off_t)n);
	assert_true(pread_calls > reads);
	check_item(c, text2, n);
	assert_ptr_not_equal(c, a);
	zcache_release(c);
	/* A key for another size (or coding) than given is refused. */
	assert_null(zcache_get_or_make(zc, &k2, fd, (off_t)n - 1));
	assert_int_equal(errno, EINVAL);
	k2.coding = (enum zcache_coding)7;
	assert_null(zcache_get_or_make(zc, &k2, fd, (off_t)n));
	zcache_free(zc);
	zcache_release(NULL);
	zcache_free(NULL);
	close(fd);
	free(text);
	free(text2);
}

static void test_zcache_negative_entry(void **state)
{
	(void)state;
	static const struct {
		int line;
		const char *name;
		size_t n;
	} rows[] = {
		{ __LINE__, "noise", 50000 },
		{ __LINE__, "one byte", 1 },
		{ __LINE__, "ten bytes", 10 },
		{ __LINE__, "empty", 0 },
	};
	int failures = 0;
	struct zcache *zc = zcache_new(0);
	assert_non_null(zc);
	for (size_t r = 0; r < ARRAY_LEN(rows); r++) {
		char *noise = make_noise(rows[r].n, 99 + r);
		int fd = memfile(noise, rows[r].n);
		struct zcache_key k = key_of(fd);
		if (zcache_get_or_make(zc, &k, fd, (off_t)rows[r].n) != NULL)
			FAIL_ROW(rows[r].line, rows[r].name, "compressed anyway");
		unsigned reads = pread_calls;
		if (zcache_get_or_make(zc, &k, fd, (off_t)rows[r].n) != NULL ||
		    pread_calls != reads)
			FAIL_ROW(rows[r].line, rows[r].name, "negative entry not remembered");
		close(fd);
		free(noise);
	}
	struct zcache_stats st;
	zcache_stats(zc, &st);
	assert_int_equal(st.not_smaller, ARRAY_LEN(rows));
	assert_int_equal(st.made, 0);
	zcache_free(zc);
	assert_int_equal(failures, 0);
}

static void test_zcache_limits(void **state)
{
	(void)state;
	/* Over ZCACHE_FILE_MAX_BYTES: NULL without reading, nothing kept. */
	size_t big = ZCACHE_FILE_MAX_BYTES + 1;
	char *text = make_text(big, 3);
	int fd = memfile(text, big);
	struct zcache *zc = zcache_new(0);
	assert_non_null(zc);
	struct zcache_key k = key_of(fd);
	pread_calls = 0;
	assert_null(zcache_get_or_make(zc, &k, fd, (off_t)big));
	assert_int_equal(pread_calls, 0);
	/* Exactly the maximum is compressed. */
	assert_int_equal(ftruncate(fd, ZCACHE_FILE_MAX_BYTES), 0);
	k = key_of(fd);
	const struct zcache_item *it = zcache_get_or_make(zc, &k, fd, ZCACHE_FILE_MAX_BYTES);
	check_item(it, text, ZCACHE_FILE_MAX_BYTES);
	zcache_release(it);
	/* The file is shorter than its key says (changed since the stat):
	 * NULL, EIO, nothing remembered (the next call reads again). */
	assert_int_equal(ftruncate(fd, 1000), 0);
	k.mtime_ns += 1;
	k.size = 5000;
	assert_null(zcache_get_or_make(zc, &k, fd, 5000));
	assert_int_equal(errno, EIO);
	unsigned reads = pread_calls;
	assert_null(zcache_get_or_make(zc, &k, fd, 5000));
	assert_true(pread_calls > reads);
	struct zcache_stats st;
	zcache_stats(zc, &st);
	assert_int_equal(st.items, 1);
	zcache_free(zc);

	/* An item bigger than the whole cache is not kept. */
	zc = zcache_new(64);
	assert_non_null(zc);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, text, 50000, 0), 50000);
	k = key_of(fd);
	assert_null(zcache_get_or_make(zc, &k, fd, 50000));
	zcache_stats(zc, &st);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.items, 0);
	zcache_free(zc);
	close(fd);
	free(text);
}

/* Items A..E: the same content under five keys, so each costs the same. */
enum { LRU_ITEMS = 5, LRU_FILE_BYTES = 20000 };

struct lru_fix {
	int fd;
	char *text;
	size_t cost;
};

static struct zcache_key lru_key(const struct lru_fix *f, int letter)
{
	struct zcache_key k = key_of(f->fd);
	k.ino += (ino_t)(letter - 'A' + 1) * 1000;
	return k;
}

static bool lru_cached(struct zcache *zc, const struct zcache_key *k)
{
	for (struct zcache_item *it = zc->buckets[key_hash(k) & zc->bucket_mask]; it;
	     it = it->hash_next)
		if (key_eq(&it->key, k))
			return true;
	return false;
}

static void lru_setup(struct lru_fix *f)
{
	f->text = make_text(LRU_FILE_BYTES, 11);
	f->fd = memfile(f->text, LRU_FILE_BYTES);
	struct zcache *zc = zcache_new(0);
	assert_non_null(zc);
	struct zcache_key k = lru_key(f, 'A');
	const struct zcache_item *it = zcache_get_or_make(zc, &k, f->fd, LRU_FILE_BYTES);
	assert_non_null(it);
	f->cost = it->cost;
	zcache_release(it);
	zcache_free(zc);
}

static void test_zcache_lru_table(void **state)
{
	(void)state;
	/* Room for three items. Upper case: get and release; lower case: get
	 * and keep holding (released at the end of the row). */
	static const struct {
		int line;
		const char *name, *accesses, *cached;
	} rows[] = {
		{ __LINE__, "fill", "ABC", "ABC" },
		{ __LINE__, "oldest goes", "ABCD", "BCD" },
		{ __LINE__, "a hit refreshes", "ABCAD", "ACD" },
		{ __LINE__, "two evictions", "ABCDE", "CDE" },
		{ __LINE__, "refresh twice", "ABCBAD", "ABD" },
		{ __LINE__, "a held one is passed over", "aBCD", "ACD" },
		{ __LINE__, "two held, the unheld go", "abCDE", "ABE" },
		{ __LINE__, "held, then refreshed", "aBCDA", "ACD" },
	};
	struct lru_fix f;
	lru_setup(&f);
	int failures = 0;
	for (size_t r = 0; r < ARRAY_LEN(rows); r++) {
		struct zcache *zc = zcache_new(3 * f.cost + f.cost / 2);
		assert_non_null(zc);
		const struct zcache_item *held[16];
		size_t held_n = 0;
		for (const char *a = rows[r].accesses; *a; a++) {
			int letter = *a >= 'a' ? *a - 'a' + 'A' : *a;
			struct zcache_key k = lru_key(&f, letter);
			const struct zcache_item *it = zcache_get_or_make(zc, &k, f.fd, LRU_FILE_BYTES);
			if (!it) {
				FAIL_ROW(rows[r].line, rows[r].name, "no item for %c", *a);
				continue;
			}
			struct zcache_stats st;
			zcache_stats(zc, &st);
			if (st.bytes > 3 * f.cost + f.cost / 2)
				FAIL_ROW(rows[r].line, rows[r].name, "over the bound: %zu", st.bytes);
			if (*a >= 'a')
				held[held_n++] = it;
			else
				zcache_release(it);
		}
		for (int letter = 'A'; letter < 'A' + LRU_ITEMS; letter++) {
			struct zcache_key k = lru_key(&f, letter);
			bool want = strchr(rows[r].cached, letter) != NULL;
			if (lru_cached(zc, &k) != want)
				FAIL_ROW(rows[r].line, rows[r].name, "%c cached: %d", letter, !want);
		}
		/* Held items are intact, evicted or not. */
		for (size_t i = 0; i < held_n; i++) {
			check_item(held[i], f.text, LRU_FILE_BYTES);
			zcache_release(held[i]);
		}
		zcache_free(zc);
	}
	close(f.fd);
	free(f.text);
	assert_int_equal(failures, 0);
}

/* Held items are not evictable: a newcomer that cannot fit beside them is
 * not kept (NULL: identity), and nothing is evicted for it in vain. */
static void test_zcache_held_not_evicted(void **state)
{
	(void)state;
	struct lru_fix f;
	lru_setup(&f);
	struct zcache *zc = zcache_new(f.cost + f.cost / 2); /* room for one */
	assert_non_null(zc);
	struct zcache_key ka = lru_key(&f, 'A'), kb = lru_key(&f, 'B');
	const struct zcache_item *a = zcache_get_or_make(zc, &ka, f.fd, LRU_FILE_BYTES);
	assert_non_null(a);
	assert_null(zcache_get_or_make(zc, &kb, f.fd, LRU_FILE_BYTES));
	struct zcache_stats st;
	zcache_stats(zc, &st);
	assert_int_equal(st.items, 1);
	assert_int_equal(st.bytes, f.cost);
	assert_int_equal(st.evicted, 0);
	assert_true(lru_cached(zc, &ka));
	zcache_release(a); /* still cached, now evictable */
	check_item(a, f.text, LRU_FILE_BYTES);
	const struct zcache_item *b = zcache_get_or_make(zc, &kb, f.fd, LRU_FILE_BYTES);
	assert_non_null(b);
	zcache_stats(zc, &st);
	assert_int_equal(st.items, 1);
	assert_int_equal(st.evicted, 1);
	assert_false(lru_cached(zc, &ka));
	zcache_release(b);
	zcache_free(zc);
	close(f.fd);
	free(f.text);
}

/* Held items outlive the cache, and are freed at their release. */
static void test_zcache_held_survives_free(void **state)
{
	(void)state;
	struct lru_fix f;
	lru_setup(&f);
	struct zcache *zc = zcache_new(2 * f.cost + f.cost / 2);
	assert_non_null(zc);
	struct zcache_key ka = lru_key(&f, 'A'), kb = lru_key(&f, 'B'), kc = lru_key(&f, 'C');
	const struct zcache_item *a = zcache_get_or_make(zc, &ka, f.fd, LRU_FILE_BYTES);
	const struct zcache_item *b = zcache_get_or_make(zc, &kb, f.fd, LRU_FILE_BYTES);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(zcache_get_or_make(zc, &kc, f.fd, LRU_FILE_BYTES)); /* A, B held: no room */
	zcache_release(b);
	const struct zcache_item *c = zcache_get_or_make(zc, &kc, f.fd, LRU_FILE_BYTES);
	assert_non_null(c); /* B evicted, A passed over */
	assert_true(lru_cached(zc, &ka));
	assert_false(lru_cached(zc, &kb));
	const struct zcache_item *a2 = zcache_get_or_make(zc, &ka, f.fd, LRU_FILE_BYTES);
	assert_ptr_equal(a2, a); /* two holders */
	zcache_free(zc);
	check_item(a, f.text, LRU_FILE_BYTES);
	check_item(c, f.text, LRU_FILE_BYTES);
	zcache_release(c);
	zcache_release(a);
	check_item(a2, f.text, LRU_FILE_BYTES); /* one holder left */
	zcache_release(a2);
	close(f.fd);
	free(f.text);
}

/* Every allocation failing in turn: NULL, nothing kept, nothing leaked;
 * the next call (memory back) succeeds. */
static void test_zcache_allocation_failures(void **state)
{
	(void)state;
	size_t n = 40000;
	char *text = make_text(n, 5);
	int fd = memfile(text, n);
	struct zcache_key k = key_of(fd);
	bool succeeded = false;
	for (long budget = 0; budget < 64 && !succeeded; budget++) {
		alloc_budget = budget;
		struct zcache *zc = zcache_new(0);
		const struct zcache_item *it = zc ? zcache_get_or_make(zc, &k, fd, (off_t)n) : NULL;
		alloc_budget = -1;
		if (!zc)
			continue;
		if (it) {
			check_item(it, text, n);
			zcache_release(it);
			succeeded = true;
		} else {
			struct zcache_stats st;
			zcache_stats(zc, &st);
			assert_int_equal(st.items, 0);
			assert_int_equal(st.bytes, 0);
			it = zcache_get_or_make(zc, &k, fd, (off_t)n);
			check_item(it, text, n);
			zcache_release(it);
		}
		zcache_free(zc);
	}
	assert_true(succeeded);
	close(fd);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_table),
		cmocka_unit_test(test_stream_round_trip_table),
		cmocka_unit_test(test_stream_no_room),
		cmocka_unit_test(test_stream_init_without_memory),
		cmocka_unit_test(test_zcache_round_trip_and_hit),
		cmocka_unit_test(test_zcache_negative_entry),
		cmocka_unit_test(test_zcache_limits),
		cmocka_unit_test(test_zcache_lru_table),
		cmocka_unit_test(test_zcache_held_not_evicted),
		cmocka_unit_test(test_zcache_held_survives_free),
		cmocka_unit_test(test_zcache_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
