/*
 * Unit tests for fcache.c: the per-worker open-file cache, against a
 * temporary document root (static_root_new on a mkdtemp() tree).
 *
 *   hits        the same entry again, without opening the file again (its
 *               deletion goes unnoticed within the second; no descriptor
 *               more); entry contents and header fields;
 *   references  an entry held by a user survives being dropped, replaced,
 *               evicted or the cache's end, and is freed at its last release
 *               (the asan variant checks use-after-free and leaks);
 *   inotify     a table of changes (write, truncate, append, delete, rename
 *               over, rename away, chmod; and changes that must not count):
 *               the entry is dropped once fcache_on_notify has read the event
 *               (polled with a bounded wait); shared inodes ("/" and
 *               "/index.html") keep their watch while one of them is cached;
 *   backstop    without notification, the entry is revalidated once `now`
 *               moves on by a second;
 *   LRU         a table of access sequences and which paths stay cached;
 *   limits      paths longer than FCACHE_KEY_MAX are served uncached;
 *   statuses    301 with the redirect filled, 403/404/400/414 passed through,
 *               nothing negative cached.
 *
 * fcache.c is included so its pread can be replaced to simulate a file that
 * shrinks while it is read. Every table row carries its __LINE__; a failing
 * row prints it and its name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* fcache.c's pread, so a test can make the file shrink under it. */
static ssize_t fcache_test_pread(int fd, void *buf, size_t n, off_t off);
#define pread fcache_test_pread
#include "fcache.c"
#undef pread

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_fcache.c:%d: %s: ", (line), (name));         \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { T0 = 1000000 };  /* the `now` of most calls */

/* When set, the next pread first truncates this file (a writer racing us). */
static const char *shrink_path;

static ssize_t fcache_test_pread(int fd, void *buf, size_t n, off_t off)
{
	if (shrink_path) {
		assert_int_equal(truncate(shrink_path, 0), 0);
		shrink_path = NULL;
	}
	return pread(fd, buf, n, off);
}

/* ---- the document root ------------------------------------------------------ */

struct fix {
	char base[64];
	char root[96];
	struct static_root *sr;
	struct fcache *fc;
};

static void path_of(const struct fix *f, const char *rel, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s", f->root, rel);
}

static void put(const struct fix *f, const char *rel, const char *body)
{
	char p[512];
	path_of(f, rel, p, sizeof(p));
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	size_t n = strlen(body);
	assert_int_equal(write(fd, body, n), (ssize_t)n);
	close(fd);
}

static void put_big(const struct fix *f, const char *rel, size_t size)
{
	char p[512];
	path_of(f, rel, p, sizeof(p));
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	char block[1024];
	for (size_t done = 0; done < size;) {
		size_t n = size - done < sizeof(block) ? size - done : sizeof(block);
		for (size_t i = 0; i < n; i++)
			block[i] = (char)('a' + (done + i) % 26);
		assert_int_equal(write(fd, block, n), (ssize_t)n);
		done += n;
	}
	close(fd);
}

static void mk(const struct fix *f, const char *rel)
{
	char p[512];
	path_of(f, rel, p, sizeof(p));
	assert_int_equal(mkdir(p, 0755), 0);
}

static void fix_open_cache(struct fix *f, unsigned max)
{
	fcache_free(f->fc);
	f->fc = fcache_new(f->sr, max);
	assert_non_null(f->fc);
	assert_true(fcache_notify_fd(f->fc) >= 0);
}

static int fix_setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->base, sizeof(f->base), "/tmp/lisod_fcache_XXXXXX");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->root, sizeof(f->root), "%s/root", f->base);
	assert_int_equal(mkdir(f->root, 0755), 0);
	char outside[128];
	snprintf(outside, sizeof(outside), "%s/outside.txt", f->base);
	int fd = open(outside, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	put(f, "/small.txt", "hello");
	put(f, "/other.txt", "other");
	put(f, "/index.html", "root index");
	put_big(f, "/big.bin", 3 * FCACHE_CONTENT_MAX);
	put_big(f, "/edge.bin", FCACHE_CONTENT_MAX);
	put_big(f, "/over.bin", FCACHE_CONTENT_MAX + 1);
	mk(f, "/sub");
	put(f, "/sub/index.html", "sub index");
	mk(f, "/d");
	put(f, "/d/f.txt", "in d");
	mk(f, "/lru");
	for (char c = 'A'; c <= 'F'; c++) {
		char rel[16], body[8];
		snprintf(rel, sizeof(rel), "/lru/%c", c);
		snprintf(body, sizeof(body), "%c", c);
		put(f, rel, body);
	}
	char link[512];
	path_of(f, "/link_out", link, sizeof(link));
	assert_int_equal(symlink(outside, link), 0);
	f->sr = static_root_new(f->root);
	assert_non_null(f->sr);
	fix_open_cache(f, 64);
	*state = f;
	return 0;
}

static void rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		assert_non_null(d);
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char p[1024];
			snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
			rm_tree(p);
		}
		closedir(d);
		rmdir(path);
		return;
	}
	unlink(path);
}

static int fix_teardown(void **state)
{
	struct fix *f = *state;
	fcache_free(f->fc);
	static_root_free(f->sr);
	rm_tree(f->base);
	free(f);
	return 0;
}

/* ---- helpers ----------------------------------------------------------------- */

static int get(struct fix *f, const char *raw, time_t now, struct fcache_entry **e)
{
	char redirect[64];
	return fcache_get(f->fc, raw, strlen(raw), now, e, redirect, sizeof(redirect));
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The entry's bytes: its cached content, or read from its descriptor. */
static char *entry_bytes(const struct fcache_entry *e)
{
	size_t n = (size_t)e->file.size;
	char *p = malloc(n + 1);
	assert_non_null(p);
	if (e->content) {
		memcpy(p, e->content, n);
	} else {
		assert_int_equal(pread(e->file.fd, p, n, 0), (ssize_t)n);
	}
	p[n] = '\0';
	return p;
}

static void assert_entry_is(const struct fcache_entry *e, const char *body)
{
	assert_non_null(e);
	char *got = entry_bytes(e);
	assert_string_equal(got, body);
	free(got);
}

/* Wait (at most wait_ms) for the inotify descriptor, then let the cache read
 * it. Returns whether anything was pending. */
static bool notify(struct fix *f, int wait_ms)
{
	struct pollfd p = { .fd = fcache_notify_fd(f->fc), .events = POLLIN };
	int n = poll(&p, 1, wait_ms);
	assert_true(n >= 0);
	fcache_on_notify(f->fc);
	return n > 0;
}

/* ---- hits ---------------------------------------------------------------------- */

static void test_hit_same_entry(void **state)
{
	struct fix *f = *state;
	struct fcache_entry *a, *b;
	assert_int_equal(get(f, "/small.txt", T0, &a), 0);
	assert_entry_is(a, "hello");
	int fds = count_fds();
	assert_int_equal(get(f, "/small.txt", T0, &b), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(a->users, 2);
	assert_int_equal(count_fds(), fds);
	fcache_release(f->fc, b);
	fcache_release(f->fc, a);
	/* Released, still cached: a hit again. */
	assert_int_equal(get(f, "/small.txt", T0, &b), 0);
	assert_ptr_equal(a, b);
	fcache_release(f->fc, b);
	/* Not opened again: a file deleted meanwhile is still served from the
	 * entry within the same second (no notification read yet). */
	char p[512];
	path_of(f, "/small.txt", p, sizeof(p));
	assert_int_equal(unlink(p), 0);
	assert_int_equal(get(f, "/small.txt", T0, &b), 0);
	assert_ptr_equal(a, b);
	assert_entry_is(b, "hello");
	fcache_release(f->fc, b);
	/* Another spelling of the path is another key. */
	struct fcache_entry *c;
	assert_int_equal(get(f, "/other.txt", T0, &b), 0);
	assert_int_equal(get(f, "//other.txt", T0, &c), 0);
	assert_true(b != c);
	assert_string_equal(b->file.etag, c->file.etag);
	fcache_release(f->fc, b);
	fcache_release(f->fc, c);
	fcache_release(f->fc, NULL); /* nothing */
}

struct content_case {
	int line;
	const char *name;
	const char *path;
	off_t size;
	bool cached_content;
	const char *mime;
	const char *body;   /* NULL: the put_big pattern */
};

static const struct content_case CONTENT_CASES[] = {
	{ __LINE__, "small file in memory", "/small.txt", 5, true, "text/plain", "hello" },
	{ __LINE__, "index of the root", "/", 10, true, "text/html", "root index" },
	{ __LINE__, "index of a directory", "/sub/", 9, true, "text/html", "sub index" },
	{ __LINE__, "exactly FCACHE_CONTENT_MAX in memory", "/edge.bin", FCACHE_CONTENT_MAX, true,
	  "application/octet-stream", NULL },
	{ __LINE__, "one byte more: not in memory", "/over.bin", FCACHE_CONTENT_MAX + 1, false,
	  "application/octet-stream", NULL },
	{ __LINE__, "large file: not in memory", "/big.bin", 3 * FCACHE_CONTENT_MAX, false,
	  "application/octet-stream", NULL },
};

static void test_entry_contents(void **state)
{
	struct fix *f = *state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(CONTENT_CASES); i++) {
		const struct content_case *c = &CONTENT_CASES[i];
		struct fcache_entry *e;
		int st = get(f, c->path, T0, &e);
		if (st != 0) {
			FAIL_ROW(c->line, c->name, "status %d", st);
			continue;
		}
		if (e->file.size != c->size)
			FAIL_ROW(c->line, c->name, "size %lld", (long long)e->file.size);
		if ((e->content != NULL) != c->cached_content)
			FAIL_ROW(c->line, c->name, "content %s", e->content ? "cached" : "not cached");
		if (e->file.fd < 0)
			FAIL_ROW(c->line, c->name, "no descriptor");
		if (strcmp(e->file.mime, c->mime) != 0)
			FAIL_ROW(c->line, c->name, "mime %s", e->file.mime);
		char *bytes = entry_bytes(e);
		for (off_t k = 0; k < c->size; k++) {
			char want = (char)('a' + k % 26);
			if (c->body)
				want = c->body[k];
			if (bytes[k] != want) {
				FAIL_ROW(c->line, c->name, "byte %lld", (long long)k);
				break;
			}
		}
		free(bytes);
		/* The pre-formatted fields are exactly these. */
		char lm[40], want[FCACHE_FIELDS_MAX];
		size_t n = http_date_format(e->file.mtime, lm, sizeof(lm));
		snprintf(want, sizeof(want),
			 "Content-Type: %s\r\nLast-Modified: %.*s\r\nETag: %s\r\nAccept-Ranges: bytes\r\n",
			 c->mime, (int)n, lm, e->file.etag);
		if (e->fields_len != strlen(want) || memcmp(e->fields, want, e->fields_len) != 0)
			FAIL_ROW(c->line, c->name, "fields \"%.*s\"", (int)e->fields_len, e->fields);
		if (e->file.etag[0] != '"' || n != 29)
			FAIL_ROW(c->line, c->name, "etag %s, date %zu", e->file.etag, n);
		fcache_release(f->fc, e);
	}
	assert_int_equal(failures, 0);
}

/* ---- counted references --------------------------------------------------------- */

static void test_held_entry_survives_drop(void **state)
{
	struct fix *f = *state;
	struct fcache_entry *old, *cur;
	assert_int_equal(get(f, "/small.txt", T0, &old), 0);
	put(f, "/small.txt", "changed!");
	assert_true(notify(f, 1000));
	/* Dropped from the cache, still usable by its holder. */
	assert_entry_is(old, "hello");
	assert_int_equal(get(f, "/small.txt", T0, &cur), 0);
	assert_true(cur != old);
	assert_entry_is(cur, "changed!");
	assert_entry_is(old, "hello"); /* a small file's bytes are in the entry */
	fcache_release(f->fc, old);    /* the last user: freed now */
	assert_entry_is(cur, "changed!");
	fcache_release(f->fc, cur);
}

static void test_held_entry_survives_eviction(void **state)
{
	struct fix *f = *state;
	fix_open_cache(f, 2);
	struct fcache_entry *a, *b, *c, *a2;
	assert_int_equal(get(f, "/lru/A", T0, &a), 0);
	assert_int_equal(get(f, "/lru/B", T0, &b), 0);
	assert_int_equal(get(f, "/lru/C", T0, &c), 0); /* evicts A, in use */
	assert_entry_is(a, "A");
	assert_int_equal(get(f, "/lru/A", T0, &a2), 0); /* a new entry; evicts B, in use */
	assert_true(a2 != a);
	assert_entry_is(a, "A");
	assert_entry_is(b, "B");
	assert_entry_is(a2, "A");
	fcache_release(f->fc, a);
	fcache_release(f->fc, b);
	fcache_release(f->fc, c);
	fcache_release(f->fc, a2);
	/* Held twice, evicted, released twice. */
	assert_int_equal(get(f, "/lru/D", T0, &a), 0);
	assert_int_equal(get(f, "/lru/D", T0, &b), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(get(f, "/lru/E", T0, &c), 0);
	fcache_release(f->fc, c);
	assert_int_equal(get(f, "/lru/F", T0, &c), 0); /* evicts D */
	fcache_release(f->fc, c);
	fcache_release(f->fc, a);
	assert_entry_is(b, "D");
	fcache_release(f->fc, b);
}

static void test_held_entry_survives_replacement(void **state)
{
	struct fix *f = *state;
	struct fcache_entry *old, *cur;
	assert_int_equal(get(f, "/other.txt", T0, &old), 0);
	put(f, "/other.txt", "replaced");
	/* No notification read: the next second's revalidation replaces it. */
	assert_int_equal(get(f, "/other.txt", T0 + 1, &cur), 0);
	assert_true(cur != old);
	assert_entry_is(cur, "replaced");
	assert_entry_is(old, "other");
	fcache_release(f->fc, cur);
	fcache_release(f->fc, old);
	notify(f, 0); /* events about a freed entry's inode: nothing to drop */
}

/* Not the order worker.c uses (it releases first), but an entry held when the
 * cache ends must stay usable until its release. */
static void test_held_entry_survives_cache_free(void **state)
{
	struct fix *f = *state;
	struct fcache_entry *e, *big;
	assert_int_equal(get(f, "/small.txt", T0, &e), 0);
	assert_int_equal(get(f, "/big.bin", T0, &big), 0);
	fcache_free(f->fc);
	f->fc = NULL;
	assert_entry_is(e, "hello");
	char *bytes = entry_bytes(big);
	assert_int_equal(bytes[0], 'a');
	free(bytes);
	fcache_release(NULL, e);
	fcache_release(NULL, big);
	fcache_free(NULL);
}

/* ---- inotify ------------------------------------------------------------------------- */

enum change {
	CH_WRITE, CH_TRUNCATE, CH_APPEND, CH_DELETE, CH_RENAME_OVER, CH_RENAME_AWAY, CH_CHMOD,
	CH_TOUCH_OTHER, CH_READ, CH_NOTHING,
};

struct notify_case {
	int line;
	const char *name;
	enum change change;
	bool dropped;     /* the entry is dropped once the event is read */
	int status;       /* of the next get */
	const char *body; /* of the next get (status 0) */
};

static const struct notify_case NOTIFY_CASES[] = {
	{ __LINE__, "written in place", CH_WRITE, true, 0, "HELLO" },
	{ __LINE__, "truncated", CH_TRUNCATE, true, 0, "" },
	{ __LINE__, "appended to", CH_APPEND, true, 0, "hello world" },
	{ __LINE__, "deleted", CH_DELETE, true, 404, NULL },
	{ __LINE__, "renamed over", CH_RENAME_OVER, true, 0, "new file" },
	{ __LINE__, "renamed away", CH_RENAME_AWAY, true, 404, NULL },
	{ __LINE__, "chmod (metadata)", CH_CHMOD, true, 0, "hello" },
	{ __LINE__, "another file changed", CH_TOUCH_OTHER, false, 0, "hello" },
	{ __LINE__, "read by someone", CH_READ, false, 0, "hello" },
	{ __LINE__, "nothing happened", CH_NOTHING, false, 0, "hello" },
};

static void apply_change(struct fix *f, enum change ch)
{
	char p[512], q[512];
	path_of(f, "/small.txt", p, sizeof(p));
	int fd;
	switch (ch) {
	case CH_WRITE:
		fd = open(p, O_WRONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, "HELLO", 5, 0), 5);
		close(fd);
		break;
	case CH_TRUNCATE: assert_int_equal(truncate(p, 0), 0); break;
	case CH_APPEND:
		fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, " world", 6), 6);
		close(fd);
		break;
	case CH_DELETE: assert_int_equal(unlink(p), 0); break;
	case CH_RENAME_OVER:
		put(f, "/new.tmp", "new file");
		path_of(f, "/new.tmp", q, sizeof(q));
		assert_int_equal(rename(q, p), 0);
		break;
	case CH_RENAME_AWAY:
		path_of(f, "/moved.txt", q, sizeof(q));
		assert_int_equal(rename(p, q), 0);
		break;
	case CH_CHMOD: assert_int_equal(chmod(p, 0600), 0); break;
	case CH_TOUCH_OTHER: put(f, "/other.txt", "other changed"); break;
	case CH_READ: {
		char buf[8];
		fd = open(p, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(read(fd, buf, sizeof(buf)), 5);
		close(fd);
		break;
	}
	case CH_NOTHING: break;
	}
}

static void test_notify_table(void **state)
{
	struct fix *f = *state;
	int failures = 0;
	for (size_t i = 0; i < ARRAY_LEN(NOTIFY_CASES); i++) {
		const struct notify_case *c = &NOTIFY_CASES[i];
		put(f, "/small.txt", "hello");
		char moved[512];
		path_of(f, "/moved.txt", moved, sizeof(moved));
		unlink(moved);
		fix_open_cache(f, 64);
		struct fcache_entry *old, *cur;
		assert_int_equal(get(f, "/small.txt", T0, &old), 0); /* held: its address stays */
		apply_change(f, c->change);
		/* A change to the file must be seen within the bounded wait; for
		 * the others, a short wait shows that nothing comes. */
		bool pending = notify(f, c->dropped ? 1000 : 50);
		if (c->dropped && !pending)
			FAIL_ROW(c->line, c->name, "no inotify event within 1 s");
		/* Same second: only a dropped entry is opened again. */
		int st = get(f, "/small.txt", T0, &cur);
		if (st != c->status)
			FAIL_ROW(c->line, c->name, "status %d, want %d", st, c->status);
		if (st == 0) {
			if ((cur != old) != c->dropped)
				FAIL_ROW(c->line, c->name, "%s", c->dropped ? "entry kept" : "entry dropped");
			char *bytes = entry_bytes(cur);
			if (c->body && strcmp(bytes, c->body) != 0)
				FAIL_ROW(c->line, c->name, "body \"%s\", want \"%s\"", bytes, c->body);
			free(bytes);
			fcache_release(f->fc, cur);
		}
		assert_entry_is(old, "hello"); /* its bytes were read when it was made */
		fcache_release(f->fc, old);
		notify(f, 0);
	}
	assert_int_equal(failures, 0);
}

/* "/" and "/index.html" are one inode, so one kernel watch: a change drops
 * both, and evicting one must not remove the other's watch. */
static void test_notify_shared_inode(void **state)
{
	struct fix *f = *state;
	struct fcache_entry *a, *b, *a2, *b2;
	assert_int_equal(get(f, "/", T0, &a), 0);
	assert_int_equal(get(f, "/index.html", T0, &b), 0);
	assert_true(a != b);
	assert_int_equal(a->wd, b->wd);
	put(f, "/index.html", "new index");
	assert_true(notify(f, 1000));
	assert_int_equal(get(f, "/", T0, &a2), 0);
	assert_int_equal(get(f, "/index.html", T0, &b2), 0);
	assert_true(a2 != a && b2 != b);
	assert_entry_is(a2, "new index");
	assert_entry_is(b2, "new index");
	fcache_release(f->fc, a);
	fcache_release(f->fc, b);
	fcache_release(f->fc, a2);
	fcache_release(f->fc, b2);

	/* With room for two: "/" and "/index.html" cached, then a third path
	 * evicts "/"; the watch must stay for "/index.html". */
	fix_open_cache(f, 2);
	assert_int_equal(get(f, "/", T0, &a), 0);
	fcache_release(f->fc, a);
	assert_int_equal(get(f, "/index.html", T0, &b), 0);
	assert_int_equal(get(f, "/other.txt", T0, &a), 0); /* evicts "/" */
	fcache_release(f->fc, a);
	put(f, "/index.html", "newer index");
	assert_true(notify(f, 1000));
	assert_int_equal(get(f, "/index.html", T0, &b2), 0);
	assert_true(b2 != b);
	assert_entry_is(b2, "newer index");
	fcache_release(f->fc, b);
	fcache_release(f->fc, b2);
}

/* ---- the one-second backstop ---------------------------------------------------------- */

static void test_revalidation(void **state)
{
	struct fix *f = *state;
	struct fcache_entry *e, *e2;
	/* Unchanged: the next second keeps the same entry. */
	assert_int_equal(get(f, "/small.txt", T0, &e), 0);
	assert_int_equal(get(f, "/small.txt", T0 + 1, &e2), 0);
	assert_ptr_equal(e, e2);
	fcache_release(f->fc, e2);
	/* Changed without a notification read: the same second still serves
	 * the entry, the next one sees the change. */
	put(f, "/small.txt", "hello, changed");
	assert_int_equal(get(f, "/small.txt", T0 + 1, &e2), 0);
	assert_ptr_equal(e, e2);
	fcache_release(f->fc, e2);
	assert_int_equal(get(f, "/small.txt", T0 + 2, &e2), 0);
	assert_true(e2 != e);
	assert_entry_is(e2, "hello, changed");
	fcache_release(f->fc, e);
	/* Revalidated at T0 + 3: not checked again within that second. */
	assert_int_equal(get(f, "/small.txt", T0 + 3, &e), 0);
	assert_ptr_equal(e, e2);
	fcache_release(f->fc, e);
	char p[512];
	path_of(f, "/small.txt", p, sizeof(p));
	assert_int_equal(unlink(p), 0);
	assert_int_equal(get(f, "/small.txt", T0 + 3, &e), 0);
	assert_ptr_equal(e, e2);
	fcache_release(f->fc, e);
	assert_int_equal(get(f, "/small.txt", T0 + 4, &e), 404);
	assert_null(e);
	fcache_release(f->fc, e2);
	/* A clock stepping back is another second too. */
	assert_int_equal(get(f, "/other.txt", T0, &e), 0);
	fcache_release(f->fc, e);
	put(f, "/other.txt", "other, changed");
	assert_int_equal(get(f, "/other.txt", T0 - 5, &e), 0);
	assert_entry_is(e, "other, changed");
	fcache_release(f->fc, e);
}

/* What a watch on the file cannot see: its directory renamed. */
static void test_revalidation_parent_renamed(void **state)
{
	struct fix *f = *state;
	struct fcache_entry *e;
	assert_int_equal(get(f, "/d/f.txt", T0, &e), 0);
	fcache_release(f->fc, e);
	char d[512], d2[512];
	path_of(f, "/d", d, sizeof(d));
	path_of(f, "/d2", d2, sizeof(d2));
	assert_int_equal(rename(d, d2), 0);
	notify(f, 50); /* nothing about the file itself */
	assert_int_equal(get(f, "/d/f.txt", T0, &e), 0); /* stale for the second */
	assert_entry_is(e, "in d");
	fcache_release(f->fc, e);
	assert_int_equal(get(f, "/d/f.txt", T0 + 1, &e), 404);
	assert_null(e);
	/* The same file under its new name. */
	assert_int_equal(get(f, "/d2/f.txt", T0 + 1, &e), 0);
	assert_entry_is(e, "in d");
	fcache_release(f->fc, e);
}

/* ---- LRU -------------------------------------------------------------------------------- */

struct lru_case {
	int line;
	const char *name;
	unsigned max;
	const char *gets;    /* files /lru/A.. in this order */
	const char *cached;  /* which are cached afterwards */
};

static const struct lru_case LRU_CASES[] = {
	{ __LINE__, "up to max: all kept", 3, "ABC", "ABC" },
	{ __LINE__, "one more evicts the oldest", 3, "ABCD", "BCD" },
	{ __LINE__, "a hit makes it the newest", 3, "ABCAD", "ACD" },
	{ __LINE__, "hits on the newest change nothing", 3, "ABCCCD", "BCD" },
	{ __LINE__, "max 1", 1, "AB", "B" },
	{ __LINE__, "repeats take one place", 2, "AAAB", "AB" },
	{ __LINE__, "a churn", 2, "ABCDBA", "AB" },
	{ __LINE__, "every file once, max 4", 4, "ABCDEF", "CDEF" },
	{ __LINE__, "oldest hit survives a churn", 3, "ABCADAEA", "ADE" },
	{ __LINE__, "max 0: nothing cached", 0, "ABA", "" },
};

static void test_lru_table(void **state)
{
	struct fix *f = *state;
	int failures = 0;
	char lru[512], gone[512];
	path_of(f, "/lru", lru, sizeof(lru));
	path_of(f, "/lru-gone", gone, sizeof(gone));
	for (size_t i = 0; i < ARRAY_LEN(LRU_CASES); i++) {
		const struct lru_case *c = &LRU_CASES[i];
		fix_open_cache(f, c->max);
		for (const char *p = c->gets; *p; p++) {
			char rel[16];
			snprintf(rel, sizeof(rel), "/lru/%c", *p);
			struct fcache_entry *e;
			int st = get(f, rel, T0, &e);
			if (st != 0)
				FAIL_ROW(c->line, c->name, "get %s: %d", rel, st);
			else
				fcache_release(f->fc, e);
		}
		/* With the files gone, a cached path still answers within the
		 * second; an evicted one is opened again and is missing. */
		assert_int_equal(rename(lru, gone), 0);
		char got[8] = "";
		size_t n = 0;
		for (char ch = 'A'; ch <= 'F'; ch++) {
			char rel[16];
			snprintf(rel, sizeof(rel), "/lru/%c", ch);
			struct fcache_entry *e;
			int st = get(f, rel, T0, &e);
			if (st == 0) {
				got[n++] = ch;
				fcache_release(f->fc, e);
			} else if (st != 404) {
				FAIL_ROW(c->line, c->name, "%s: status %d", rel, st);
			}
		}
		got[n] = '\0';
		if (strcmp(got, c->cached) != 0)
			FAIL_ROW(c->line, c->name, "cached \"%s\", want \"%s\"", got, c->cached);
		assert_int_equal(rename(gone, lru), 0);
	}
	assert_int_equal(failures, 0);
}

/* ---- long paths ---------------------------------------------------------------------------- */

/* A raw path of exactly len bytes naming /small.txt ("////...small.txt"). */
static char *long_path(size_t len)
{
	char *p = malloc(len + 1);
	assert_non_null(p);
	memset(p, '/', len - 9);
	memcpy(p + len - 9, "small.txt", 10);
	return p;
}

static void test_long_paths_uncached(void **state)
{
	struct fix *f = *state;
	fix_open_cache(f, 1);
	struct fcache_entry *keep, *a, *b;
	assert_int_equal(get(f, "/other.txt", T0, &keep), 0);
	fcache_release(f->fc, keep);
	/* FCACHE_KEY_MAX bytes: cached (one entry, evicting the other). */
	char *at_max = long_path(FCACHE_KEY_MAX);
	assert_int_equal(get(f, at_max, T0, &a), 0);
	assert_int_equal(get(f, at_max, T0, &b), 0);
	assert_ptr_equal(a, b);
	assert_entry_is(a, "hello");
	fcache_release(f->fc, a);
	fcache_release(f->fc, b);
	free(at_max);
	/* One more: opened every time, freed at its release, and it takes no
	 * place in the cache. */
	assert_int_equal(get(f, "/other.txt", T0, &keep), 0);
	fcache_release(f->fc, keep);
	for (size_t len = FCACHE_KEY_MAX + 1; len < FCACHE_KEY_MAX + 4000; len += 997) {
		char *over = long_path(len);
		int fds = count_fds();
		assert_int_equal(get(f, over, T0, &a), 0);
		assert_int_equal(get(f, over, T0, &b), 0);
		assert_true(a != b);
		assert_entry_is(a, "hello");
		assert_entry_is(b, "hello");
		assert_int_equal(count_fds(), fds + 2);
		fcache_release(f->fc, a);
		fcache_release(f->fc, b);
		assert_int_equal(count_fds(), fds);
		free(over);
	}
	/* The cached one is still the same entry. */
	struct fcache_entry *again;
	assert_int_equal(get(f, "/other.txt", T0, &keep), 0);
	assert_int_equal(get(f, "/other.txt", T0, &again), 0);
	assert_ptr_equal(keep, again);
	fcache_release(f->fc, keep);
	fcache_release(f->fc, again);
}

/* ---- statuses ------------------------------------------------------------------------------- */

struct status_case {
	int line;
	const char *name;
	const char *raw;
	size_t redirect_cap;  /* 0: 64 */
	int status;
	const char *redirect; /* 301 */
};

static const struct status_case STATUS_CASES[] = {
	{ __LINE__, "directory without slash", "/sub", 0, 301, "/sub/" },
	{ __LINE__, "redirect: exact fit", "/sub", 6, 301, "/sub/" },
	{ __LINE__, "redirect: one byte short", "/sub", 5, 414, NULL },
	{ __LINE__, "redirect re-encoded", "/s%20p", 0, 301, "/s%20p/" },
	{ __LINE__, "missing", "/missing.txt", 0, 404, NULL },
	{ __LINE__, "missing directory", "/nope/x", 0, 404, NULL },
	{ __LINE__, "symlink out of the root", "/link_out", 0, 403, NULL },
	{ __LINE__, "above the root", "/../small.txt", 0, 400, NULL },
	{ __LINE__, "%00", "/small.txt%00", 0, 400, NULL },
	{ __LINE__, "no leading slash", "small.txt", 0, 400, NULL },
};

static void test_status_table(void **state)
{
	struct fix *f = *state;
	int failures = 0;
	mk(f, "/s p");
	for (size_t i = 0; i < ARRAY_LEN(STATUS_CASES); i++) {
		const struct status_case *c = &STATUS_CASES[i];
		size_t cap = c->redirect_cap ? c->redirect_cap : 64;
		char redirect[80];
		memset(redirect, '#', sizeof(redirect));
		struct fcache_entry *e = (struct fcache_entry *)(uintptr_t)1; /* must be cleared */
		/* Twice: nothing about a failure is cached. */
		for (int k = 0; k < 2; k++) {
			int st = fcache_get(f->fc, c->raw, strlen(c->raw), T0, &e, redirect, cap);
			if (st != c->status)
				FAIL_ROW(c->line, c->name, "status %d, want %d", st, c->status);
			if (e != NULL)
				FAIL_ROW(c->line, c->name, "an entry for status %d", st);
			if (c->redirect && strcmp(redirect, c->redirect) != 0)
				FAIL_ROW(c->line, c->name, "redirect \"%.*s\"", (int)cap, redirect);
			for (size_t g = cap; g < sizeof(redirect); g++)
				if (redirect[g] != '#') {
					FAIL_ROW(c->line, c->name, "redirect written past its cap");
					break;
				}
		}
	}
	/* Nothing negative is cached: a file created within the same second is
	 * found at once. */
	struct fcache_entry *e;
	assert_int_equal(get(f, "/missing.txt", T0, &e), 404);
	put(f, "/missing.txt", "here now");
	assert_int_equal(get(f, "/missing.txt", T0, &e), 0);
	assert_entry_is(e, "here now");
	fcache_release(f->fc, e);
	assert_int_equal(failures, 0);
}

static void test_notify_idle(void **state)
{
	struct fix *f = *state;
	/* Nothing pending: returns at once (non-blocking descriptor). */
	fcache_on_notify(f->fc);
	assert_false(notify(f, 0));
}

/* ---- bugs these tests found (fixed; each test failed before its fix) ---- */

/*
 * Was a bug (found by this test): a small file that shrinks between static_open's fstat and
 * entry_fill's pread (a deploy that truncates and rewrites it, an editor's
 * save) makes fcache_get return 500, which the server sends and logs as
 * "cannot open ...: <unrelated errno>". entry_fill's comment says "changed
 * under us: serve it uncached this time", but entry_new turns its failure
 * into 500. Simulated here by truncating the file inside the first pread.
 * Expected: the request is served (status 0; the next request reopens).
 */
static void test_fixed_file_shrinks_while_read(void **state)
{
	struct fix *f = *state;
	struct fcache_entry *e = NULL;
	char p[512];
	path_of(f, "/small.txt", p, sizeof(p));
	shrink_path = p; /* truncated between fstat and pread */
	int st = get(f, "/small.txt", T0, &e);
	assert_null(shrink_path); /* the hook ran */
	if (e)
		fcache_release(f->fc, e);
	assert_int_equal(st, 0);
}

/* What an entry decides once for every request of its path: whether the
 * path is hidden (a dot segment, after decoding) and whether its type is
 * worth gzip; and the sidecars beside it (.gz, .br, .zst), not older. */
static void test_entry_flags_and_sidecars(void **state)
{
	struct fix *f = *state;
	mk(f, "/.git");
	put(f, "/.git/config", "[core]");
	put(f, "/.env", "SECRET");
	mk(f, "/.well-known");
	put(f, "/.well-known/x", "ok");
	put(f, "/t.txt", "text");
	put(f, "/t.txt.gz", "gz");
	put(f, "/t.txt.zst", "zst");
	static const struct {
		int line;
		const char *raw;
		bool hidden, compressible;
	} rows[] = {
		{ __LINE__, "/.git/config", true, false },
		{ __LINE__, "/.env", true, false },
		{ __LINE__, "/%2eenv", true, false },
		{ __LINE__, "/.well-known/x", false, false },
		{ __LINE__, "/t.txt", false, true },
		{ __LINE__, "/sub/index.html", false, true },
		{ __LINE__, "/sub/", false, true },
		{ __LINE__, "/big.bin", false, false },
	};
	int failures = 0;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fcache_entry *e = NULL;
		if (get(f, rows[i].raw, T0, &e) != 0 || e->hidden != rows[i].hidden ||
		    e->compressible != rows[i].compressible) {
			print_error("test_fcache.c:%d: %s: hidden %d compressible %d\n", rows[i].line,
				    rows[i].raw, e ? e->hidden : -1, e ? e->compressible : -1);
			failures++;
		}
		fcache_release(f->fc, e);
	}
	assert_int_equal(failures, 0);
	struct fcache_entry *e = NULL;
	assert_int_equal(get(f, "/t.txt", T0, &e), 0);
	assert_int_equal(fcache_variants(f->fc, e, T0), (1u << 1) | (1u << 3)); /* gzip, zstd */
	struct fcache_entry *v = fcache_variant_get(e, 1);
	assert_entry_is(v, "gz");
	fcache_release(f->fc, v);
	assert_null(fcache_variant_get(e, 2)); /* no .br */
	/* A sidecar older than the file is a leftover: not taken. */
	char path[512];
	path_of(f, "/t.txt.gz", path, sizeof(path));
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	notify(f, 1000);
	assert_int_equal(fcache_variants(f->fc, e, T0 + 1), 1u << 3);
	fcache_release(f->fc, e);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fix_setup, fix_teardown)
	const struct CMUnitTest tests[] = {
		T(test_hit_same_entry),
		T(test_entry_contents),
		T(test_held_entry_survives_drop),
		T(test_held_entry_survives_eviction),
		T(test_held_entry_survives_replacement),
		T(test_held_entry_survives_cache_free),
		T(test_notify_table),
		T(test_notify_shared_inode),
		T(test_revalidation),
		T(test_revalidation_parent_renamed),
		T(test_lru_table),
		T(test_long_paths_uncached),
		T(test_status_table),
		T(test_notify_idle),
		T(test_fixed_file_shrinks_while_read),
		T(test_entry_flags_and_sidecars),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
